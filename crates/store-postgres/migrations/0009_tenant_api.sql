-- The host application's tenant API and the Provisioning & SSO page (issue 16): a tenant's
-- slug (URLs a person reads), the host application's own id for it, and its plan; plans; API
-- key scopes; tokens that can be shown again (sealed with the server key); setup links.

ALTER TABLE tenants ADD COLUMN slug TEXT COLLATE "C";
ALTER TABLE tenants ADD COLUMN external_id TEXT COLLATE "C";
-- Tenants that exist keep everything they had: provisioning and SSO (enterprise).
ALTER TABLE tenants ADD COLUMN plan TEXT NOT NULL DEFAULT 'enterprise';
UPDATE tenants SET slug = id;
CREATE UNIQUE INDEX tenants_slug ON tenants (slug);
CREATE UNIQUE INDEX tenants_external_id ON tenants (external_id) WHERE external_id IS NOT NULL;

CREATE TABLE plans (
    name         TEXT PRIMARY KEY,
    provisioning BOOLEAN NOT NULL,
    sso          BOOLEAN NOT NULL
);
INSERT INTO plans (name, provisioning, sso) VALUES ('enterprise', TRUE, TRUE),
    ('professional', FALSE, FALSE);

-- Keys that exist keep what they could do.
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'events:read directory:read';

-- The token sealed with the server key, so that the page can show it again; NULL for tokens
-- issued before (only their hash was kept) and for OAuth access tokens.
ALTER TABLE tokens ADD COLUMN sealed BYTEA;

CREATE TABLE portal_links (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hash       BYTEA NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    opened_at  TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
CREATE INDEX portal_links_tenant ON portal_links (tenant_id, created_at);

-- Which server keys sealed the values stored here: a start with a key ring that lacks one of
-- them is refused (the values it sealed could not be opened).
CREATE TABLE sealing_keys (
    key_id     TEXT PRIMARY KEY,
    first_used TIMESTAMPTZ NOT NULL
);
