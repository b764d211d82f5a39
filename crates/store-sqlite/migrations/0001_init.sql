-- Tenants and their SCIM bearer tokens (only SHA-256 hashes are stored).
CREATE TABLE tenants (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE tokens (
    id         TEXT PRIMARY KEY NOT NULL,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX tokens_tenant ON tokens (tenant_id);

-- Users and groups. `seq` gives a stable creation order and compact keys for memberships.
-- `name_key` is the lower-cased userName (users) or displayName (groups): unique per tenant
-- and kind, so the database itself refuses a second "Ada@x" beside "ada@x".
CREATE TABLE resources (
    seq           INTEGER PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id            TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    name_key      TEXT NOT NULL,
    display       TEXT,
    external_id   TEXT,
    active        INTEGER,
    created       TEXT NOT NULL,
    last_modified TEXT NOT NULL,
    version       INTEGER NOT NULL,
    data          TEXT NOT NULL,
    UNIQUE (tenant_id, id),
    UNIQUE (tenant_id, kind, name_key)
);
CREATE INDEX resources_external_id ON resources (tenant_id, kind, external_id);
CREATE INDEX resources_created ON resources (tenant_id, kind, created);
CREATE INDEX resources_last_modified ON resources (tenant_id, kind, last_modified);

-- Lower-cased e-mail values, so that `emails.value eq "x"` is an index lookup.
CREATE TABLE emails (
    resource_seq INTEGER NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    tenant_id    TEXT NOT NULL,
    value_key    TEXT NOT NULL
);
CREATE INDEX emails_value ON emails (tenant_id, value_key);
CREATE INDEX emails_resource ON emails (resource_seq);

-- Group membership as rows: adding one member to a group of 100,000 is one insert.
CREATE TABLE members (
    group_seq  INTEGER NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    member_seq INTEGER NOT NULL REFERENCES resources (seq) ON DELETE CASCADE,
    PRIMARY KEY (group_seq, member_seq)
) WITHOUT ROWID;
CREATE INDEX members_member ON members (member_seq);

-- Lists page in creation order within a tenant and kind without sorting the tenant.
CREATE INDEX resources_order ON resources (tenant_id, kind, seq);

-- How many users and groups each tenant has: an unfiltered list's totalResults without
-- counting the tenant's rows. Kept in step by the same transactions that insert and delete.
CREATE TABLE resource_counts (
    tenant_id TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, kind)
) WITHOUT ROWID;
