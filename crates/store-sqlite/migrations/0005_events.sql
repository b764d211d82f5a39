-- The change log: every change a SCIM request makes, written in the same transaction as the
-- change. AUTOINCREMENT: a position is never reused, even after the oldest events are purged,
-- and with one writer the position order is the commit order.
CREATE TABLE events (
    position    INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    tenant_id   TEXT NOT NULL,
    type        TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    data        TEXT NOT NULL
);
CREATE INDEX events_tenant ON events (tenant_id, position);
CREATE INDEX events_occurred ON events (occurred_at);

-- The host application's API keys (only SHA-256 hashes are stored).
CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    hash       BLOB NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
