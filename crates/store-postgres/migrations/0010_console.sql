-- The console (issue 16): operators, one-time links that create an operator, and sessions of
-- operators and of tenants' administrators (kept here, so that any process serves any request).

CREATE TABLE operators (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE operator_invites (
    hash       BYTEA PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE TABLE console_sessions (
    hash        BYTEA PRIMARY KEY,
    operator_id TEXT COLLATE "C" REFERENCES operators (id) ON DELETE CASCADE,
    tenant_id   TEXT COLLATE "C" REFERENCES tenants (id) ON DELETE CASCADE,
    csrf        TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
