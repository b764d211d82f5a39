-- The console (issue 16): operators, one-time links that create an operator, and sessions of
-- operators and of tenants' administrators (kept here, so that any process serves any request).

CREATE TABLE operators (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TEXT NOT NULL
);

CREATE TABLE operator_invites (
    hash       BLOB PRIMARY KEY,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at    TEXT
);

CREATE TABLE console_sessions (
    hash        BLOB PRIMARY KEY,
    operator_id TEXT REFERENCES operators (id) ON DELETE CASCADE,
    tenant_id   TEXT REFERENCES tenants (id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
