-- Outbound provisioning (issue 19): each tenant's targets, what is assigned to each, what each
-- target holds of each object, and each target's run (its cycle, under a lease). Run times are
-- milliseconds since the Unix epoch.

CREATE TABLE targets (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    paused     INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE target_assignments (
    target_id TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    source_id TEXT NOT NULL,
    PRIMARY KEY (target_id, kind, source_id)
);

CREATE TABLE target_objects (
    target_id   TEXT NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    source_id   TEXT NOT NULL,
    remote_id   TEXT NOT NULL,
    digest      TEXT NOT NULL,
    sent        TEXT NOT NULL,
    deactivated INTEGER NOT NULL DEFAULT 0,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (target_id, kind, source_id)
);

CREATE TABLE target_runs (
    target_id      TEXT PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
    phase          TEXT NOT NULL CHECK (phase IN ('initial', 'incremental')),
    cursor         TEXT NOT NULL DEFAULT '',
    position       INTEGER NOT NULL,
    processed      INTEGER NOT NULL DEFAULT 0,
    total          INTEGER NOT NULL DEFAULT 0,
    failures       INTEGER NOT NULL DEFAULT 0,
    error          TEXT,
    quarantined    INTEGER NOT NULL DEFAULT 0,
    next_at        INTEGER NOT NULL,
    cycle_ended_at INTEGER NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    INTEGER
);
