-- Single sign-on (issue 18): each tenant's connections to its identity providers, the host
-- applications that receive signed-in users, and the keys their ID tokens are signed with.

CREATE TABLE sso_connections (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    protocol   TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    settings   TEXT NOT NULL,
    sealed     BLOB NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE host_apps (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   BLOB NOT NULL UNIQUE,
    redirect_uris TEXT NOT NULL,
    login_uri     TEXT,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT
);

CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TEXT NOT NULL,
    signs_from TEXT NOT NULL,
    retired_at TEXT
);
