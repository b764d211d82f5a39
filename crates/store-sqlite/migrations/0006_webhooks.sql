-- Webhook endpoints of the host application. Times are milliseconds since the Unix epoch.
-- The signing secrets are kept as they are (HMAC needs them); `previous_secret` keeps signing
-- until `previous_until` after a rotation.
CREATE TABLE webhooks (
    id               TEXT PRIMARY KEY NOT NULL,
    url              TEXT NOT NULL,
    tenant_id        TEXT,
    secret           TEXT NOT NULL,
    previous_secret  TEXT,
    previous_until   INTEGER,
    created_at       INTEGER NOT NULL,
    start_position   INTEGER NOT NULL,
    scanned_position INTEGER NOT NULL
);

-- One delivery stream per endpoint and tenant: events are delivered in order, the head event
-- retried until delivered or dead-lettered, under a lease so that one process delivers it.
CREATE TABLE webhook_streams (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id       TEXT NOT NULL,
    delivered       INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    first_failed_at INTEGER,
    next_attempt_at INTEGER NOT NULL,
    lease_owner     TEXT,
    lease_until     INTEGER,
    PRIMARY KEY (webhook_id, tenant_id)
);

CREATE TABLE webhook_attempts (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    attempt    INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    status     INTEGER,
    error      TEXT,
    latency_ms INTEGER NOT NULL
);
CREATE INDEX webhook_attempts_webhook ON webhook_attempts (webhook_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);

CREATE TABLE webhook_dead_letters (
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    position   INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    error      TEXT NOT NULL,
    PRIMARY KEY (webhook_id, position)
);
