-- The provisioning log: one row per request an identity provider sent to a tenant, with what
-- Roster did and, for a refusal, why. Deleting a tenant deletes its log.
CREATE TABLE provisioning_log (
    seq            BIGSERIAL PRIMARY KEY,
    tenant_id      TEXT COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at             TIMESTAMPTZ NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'failed')),
    action         TEXT NOT NULL,
    client         TEXT NOT NULL,
    resource_key   TEXT COLLATE "C" NOT NULL,
    resource_id    TEXT COLLATE "C" NOT NULL,
    request_id     TEXT NOT NULL,
    duration_ms    BIGINT NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    query          TEXT NOT NULL,
    status         BIGINT NOT NULL,
    scim_type      TEXT,
    user_agent     TEXT NOT NULL,
    credential     TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_name  TEXT NOT NULL,
    summary        TEXT NOT NULL,
    explanation    TEXT NOT NULL,
    hint           TEXT NOT NULL,
    normalizations TEXT NOT NULL,
    request_body   TEXT NOT NULL,
    response_body  TEXT NOT NULL
);
-- A tenant's log newest first, page by page; and the tenant's rows when it is deleted.
CREATE INDEX provisioning_log_tenant ON provisioning_log (tenant_id, seq);
-- The entries about one resource, by its (lower-cased) name or its id, in order.
CREATE INDEX provisioning_log_resource_key ON provisioning_log (tenant_id, resource_key, seq);
CREATE INDEX provisioning_log_resource_id ON provisioning_log (tenant_id, resource_id, seq);
-- The health summary's counts since a time, and the first `seq` of a time window (where a
-- page's walk ends), from the index alone.
CREATE INDEX provisioning_log_tenant_at ON provisioning_log (tenant_id, at) INCLUDE (outcome, seq);
-- The purge of every tenant's old entries.
CREATE INDEX provisioning_log_at ON provisioning_log (at);
