-- The inbound mass-change hold (issue 20). A tenant's hold, active while ended_at is NULL;
-- the row stays after it ends, so the next window counts from its end.
CREATE TABLE tenant_holds (
    tenant_id  TEXT PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    started_at TEXT NOT NULL,
    threshold  TEXT NOT NULL,
    removals   INTEGER NOT NULL,
    ended_at   TEXT,
    outcome    TEXT,
    ended_by   TEXT
);

-- Events kept out of the change log while their tenant's hold is active, in the order they
-- were written; resource_id is the user or group they are about.
CREATE TABLE held_events (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    resource_id TEXT,
    id          TEXT NOT NULL UNIQUE,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX held_events_resource ON held_events (tenant_id, resource_id);

-- The removals of the last minutes, counted against the threshold: an index of removals
-- alone, so that other events cost nothing more to write.
CREATE INDEX events_removals ON events (tenant_id, occurred_at)
    WHERE type IN ('user.deactivated', 'user.deleted');

-- Every write's events pass here, whatever the write: while the tenant's hold is active, a
-- removal, or an event about a resource with an event held, is kept aside instead.
CREATE TRIGGER events_hold BEFORE INSERT ON events
WHEN EXISTS (SELECT 1 FROM tenant_holds h WHERE h.tenant_id = NEW.tenant_id
                                          AND h.ended_at IS NULL)
 AND (NEW.type IN ('user.deactivated', 'user.deleted')
      OR EXISTS (SELECT 1 FROM held_events x WHERE x.tenant_id = NEW.tenant_id
                 AND x.resource_id = coalesce(json_extract(NEW.data, '$.resource.id'),
                                              json_extract(NEW.data, '$.member.value'))))
BEGIN
    INSERT INTO held_events (tenant_id, resource_id, id, type, occurred_at, data)
    VALUES (NEW.tenant_id,
            coalesce(json_extract(NEW.data, '$.resource.id'),
                     json_extract(NEW.data, '$.member.value')),
            NEW.id, NEW.type, NEW.occurred_at, NEW.data);
    SELECT RAISE(IGNORE);
END;

-- The deprovision policy's second half (issue 20): what deletion at the source does. Targets
-- added before it deleted, which is kept.
UPDATE targets SET settings = json_set(settings, '$.policy.on_source_delete', 'delete')
WHERE json_extract(settings, '$.policy.on_source_delete') IS NULL;
