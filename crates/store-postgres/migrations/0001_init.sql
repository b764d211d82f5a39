-- The PostgreSQL schema: the same tables as the SQLite backend's, with native types.
--
-- Keys that SCIM compares by code point (ids, the lower-cased names and e-mail values) use
-- the "C" collation: byte order, the protocol crate's order, and B-tree indexes that also
-- serve LIKE 'prefix%'.

CREATE TABLE tenants (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}'
);

-- SCIM bearer tokens: only SHA-256 hashes are stored.
CREATE TABLE tokens (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX tokens_tenant ON tokens (tenant_id);

-- Users and groups. `seq` gives a stable creation order and compact keys for memberships.
-- `name_key` is the lower-cased userName (users) or displayName (groups), folded by Roster
-- exactly as filters fold it: unique per tenant and kind, so the database itself refuses a
-- second "Ada@x" beside "ada@x", from whichever process the second create comes.
-- `data` is the canonical JSON as text: attribute order is kept as written.
CREATE TABLE resources (
    seq           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id     TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT COLLATE "C" NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    name_key      TEXT COLLATE "C" NOT NULL,
    display       TEXT,
    external_id   TEXT COLLATE "C",
    active        BOOLEAN,
    created       TIMESTAMPTZ NOT NULL,
    last_modified TIMESTAMPTZ NOT NULL,
    version       BIGINT NOT NULL,
    data          TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, kind, name_key)
);
CREATE INDEX resources_order ON resources (tenant_id, kind, seq);
CREATE INDEX resources_external_id ON resources (tenant_id, kind, external_id);
CREATE INDEX resources_created ON resources (tenant_id, kind, created);
CREATE INDEX resources_last_modified ON resources (tenant_id, kind, last_modified);

-- Lower-cased e-mail values, so that `emails.value eq "x"` is an index lookup.
CREATE TABLE emails (
    resource_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    tenant_id    TEXT COLLATE "C" NOT NULL,
    value_key    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX emails_value ON emails (tenant_id, value_key);
CREATE INDEX emails_resource ON emails (resource_seq);

-- Group membership as rows: adding one member to a group of 100,000 is one insert.
-- `display` is the display name a client sent with the member, echoed back instead of the
-- member's own name.
CREATE TABLE members (
    group_seq  BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    member_seq BIGINT NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    display    TEXT,
    PRIMARY KEY (group_seq, member_seq)
);
CREATE INDEX members_member ON members (member_seq);

-- How many users and groups each tenant has: an unfiltered list's totalResults without
-- counting the tenant's rows. One counter per tenant and kind would make every create of a
-- tenant wait for the previous one's commit; the count is spread over 16 shards, each
-- connection adding to the one its backend process id picks, and summed when read.
CREATE TABLE resource_counts (
    tenant_id TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    shard     INTEGER NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, kind, shard)
);

CREATE FUNCTION roster_count_resources() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO resource_counts (tenant_id, kind, shard, n)
        VALUES (NEW.tenant_id, NEW.kind, pg_backend_pid() % 16, 1)
        ON CONFLICT (tenant_id, kind, shard) DO UPDATE SET n = resource_counts.n + 1;
        RETURN NEW;
    END IF;
    INSERT INTO resource_counts (tenant_id, kind, shard, n)
    VALUES (OLD.tenant_id, OLD.kind, pg_backend_pid() % 16, -1)
    ON CONFLICT (tenant_id, kind, shard) DO UPDATE SET n = resource_counts.n - 1;
    RETURN OLD;
END
$$;

CREATE TRIGGER resources_count AFTER INSERT OR DELETE ON resources
    FOR EACH ROW EXECUTE FUNCTION roster_count_resources();
