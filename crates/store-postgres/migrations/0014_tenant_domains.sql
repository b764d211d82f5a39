-- The e-mail domains a tenant's users sign in with (issue 18's SSO redirect): a domain belongs
-- to one tenant; `verified_by` says how it was verified (`operator`).
CREATE TABLE tenant_domains (
    domain      TEXT COLLATE "C" PRIMARY KEY,
    tenant_id   TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    verified_by TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX tenant_domains_tenant ON tenant_domains (tenant_id);
