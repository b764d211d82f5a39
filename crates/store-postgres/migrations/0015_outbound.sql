-- Outbound provisioning (issue 19): each tenant's targets, what is assigned to each, what each
-- target holds of each object, and each target's run (its cycle, under a lease). Run times are
-- milliseconds since the Unix epoch.

CREATE TABLE targets (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    paused     BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE target_assignments (
    target_id TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind      TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    source_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (target_id, kind, source_id)
);

CREATE TABLE target_objects (
    target_id   TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    source_id   TEXT COLLATE "C" NOT NULL,
    remote_id   TEXT NOT NULL,
    digest      TEXT NOT NULL,
    sent        TEXT NOT NULL,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (target_id, kind, source_id)
);

CREATE TABLE target_runs (
    target_id      TEXT COLLATE "C" PRIMARY KEY REFERENCES targets (id) ON DELETE CASCADE,
    phase          TEXT NOT NULL CHECK (phase IN ('initial', 'incremental')),
    cursor         TEXT NOT NULL DEFAULT '',
    position       BIGINT NOT NULL,
    processed      BIGINT NOT NULL DEFAULT 0,
    total          BIGINT NOT NULL DEFAULT 0,
    failures       BIGINT NOT NULL DEFAULT 0,
    error          TEXT,
    quarantined    BOOLEAN NOT NULL DEFAULT FALSE,
    next_at        BIGINT NOT NULL,
    cycle_ended_at BIGINT NOT NULL DEFAULT 0,
    lease_owner    TEXT,
    lease_until    BIGINT
);
