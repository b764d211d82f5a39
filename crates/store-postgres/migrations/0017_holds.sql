-- The inbound mass-change hold (issue 20). A tenant's hold, active while ended_at is NULL;
-- the row stays after it ends, so the next window counts from its end.
CREATE TABLE tenant_holds (
    tenant_id  TEXT COLLATE "C" PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    threshold  TEXT NOT NULL,
    removals   BIGINT NOT NULL,
    ended_at   TIMESTAMPTZ,
    outcome    TEXT,
    ended_by   TEXT
);

-- Events kept out of the change log while their tenant's hold is active, in the order they
-- were written; resource_id is the user or group they are about.
CREATE TABLE held_events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    resource_id TEXT COLLATE "C",
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX held_events_resource ON held_events (tenant_id, resource_id);

-- The removals of the last minutes, counted against the threshold: an index of removals
-- alone, so that other events cost nothing more to write.
CREATE INDEX events_removals ON events (tenant_id, occurred_at)
    WHERE type IN ('user.deactivated', 'user.deleted');

-- Every write's events pass here, whatever the write: while the tenant's hold is active, a
-- removal, or an event about a resource with an event held, is kept aside instead. The hold
-- row is read FOR SHARE, so a release (which updates it) waits for writes in flight and then
-- moves what they held, and a write after the release sees the hold ended.
CREATE FUNCTION events_hold() RETURNS trigger LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    rid TEXT;
BEGIN
    PERFORM 1 FROM tenant_holds WHERE tenant_id = NEW.tenant_id AND ended_at IS NULL
        FOR SHARE;
    IF NOT FOUND THEN
        RETURN NEW;
    END IF;
    rid := coalesce(NEW.data::jsonb #>> '{resource,id}', NEW.data::jsonb #>> '{member,value}');
    IF NEW.type IN ('user.deactivated', 'user.deleted')
       OR EXISTS (SELECT 1 FROM held_events WHERE tenant_id = NEW.tenant_id
                  AND resource_id = rid) THEN
        INSERT INTO held_events (tenant_id, resource_id, id, type, occurred_at, data)
        VALUES (NEW.tenant_id, rid, NEW.id, NEW.type, NEW.occurred_at, NEW.data);
        RETURN NULL;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER events_hold BEFORE INSERT ON events
    FOR EACH ROW EXECUTE FUNCTION events_hold();

-- The deprovision policy's second half (issue 20): what deletion at the source does. Targets
-- added before it deleted, which is kept.
UPDATE targets
SET settings = jsonb_set(settings::jsonb, '{policy,on_source_delete}', '"delete"')::text
WHERE settings::jsonb #> '{policy,on_source_delete}' IS NULL;
