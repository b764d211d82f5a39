-- Single sign-on (issue 18): each tenant's connections to its identity providers, the host
-- applications that receive signed-in users, and the keys their ID tokens are signed with.

CREATE TABLE sso_connections (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    protocol   TEXT NOT NULL CHECK (protocol IN ('saml', 'oidc')),
    settings   TEXT NOT NULL,
    sealed     BYTEA NOT NULL,
    is_default BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE host_apps (
    id            TEXT COLLATE "C" PRIMARY KEY,
    name          TEXT NOT NULL,
    secret_hash   BYTEA NOT NULL UNIQUE,
    redirect_uris TEXT NOT NULL,
    login_uri     TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ
);

CREATE TABLE signing_keys (
    kid        TEXT COLLATE "C" PRIMARY KEY,
    sealed     BYTEA NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    signs_from TIMESTAMPTZ NOT NULL,
    retired_at TIMESTAMPTZ
);
