-- The change log: every change a SCIM request makes, written in the same transaction as the
-- change. Transactions of several processes commit in any order, so `seq` (taken at insert)
-- is not a safe cursor: a reader could pass a gap that a slower transaction fills later.
-- `position` is given after commit by one sequencer at a time (under an advisory lock), in
-- `seq` order, to the events committed so far; readers only see positioned events, so a
-- position, once read, is never preceded by a new one.
CREATE TABLE events (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    position    BIGINT UNIQUE,
    id          TEXT COLLATE "C" NOT NULL UNIQUE,
    tenant_id   TEXT COLLATE "C" NOT NULL,
    type        TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX events_unsequenced ON events (seq) WHERE position IS NULL;
CREATE INDEX events_tenant ON events (tenant_id, position);
CREATE INDEX events_occurred ON events (occurred_at);

-- The host application's API keys (only SHA-256 hashes are stored).
CREATE TABLE api_keys (
    id         TEXT COLLATE "C" PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

-- The last position given; positions are never reused, even after every event is purged.
CREATE TABLE event_sequencer (last BIGINT NOT NULL);
INSERT INTO event_sequencer (last) VALUES (0);
