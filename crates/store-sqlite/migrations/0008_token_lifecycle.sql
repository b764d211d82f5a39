-- Token lifecycle: several named static tokens per tenant, each with an optional expiry and a
-- last-used time; access tokens issued to OAuth clients (client credentials grant) share the
-- table and carry their client's id.
ALTER TABLE tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last4 TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN expires_at TEXT;
ALTER TABLE tokens ADD COLUMN last_used_at TEXT;
ALTER TABLE tokens ADD COLUMN client_id TEXT;
CREATE INDEX tokens_client ON tokens (client_id) WHERE client_id IS NOT NULL;

-- OAuth 2.0 clients: only the SHA-256 of each secret is stored.
CREATE TABLE oauth_clients (
    id          TEXT PRIMARY KEY NOT NULL,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id);
