-- Outbound actions that wait for an administrator (issue 20): see roster_store::approvals.
-- Times are milliseconds since the Unix epoch.
CREATE TABLE target_approvals (
    id         TEXT COLLATE "C" PRIMARY KEY,
    tenant_id  TEXT COLLATE "C" NOT NULL,
    target_id  TEXT COLLATE "C" NOT NULL REFERENCES targets (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL CHECK (kind IN ('User', 'Group')),
    source_id  TEXT COLLATE "C" NOT NULL,
    name       TEXT NOT NULL,
    action     TEXT NOT NULL,
    request    TEXT NOT NULL,
    digest     TEXT NOT NULL,
    reason     TEXT NOT NULL CHECK (reason IN ('policy', 'threshold')),
    state      TEXT NOT NULL CHECK (state IN ('waiting', 'pending', 'approved', 'rejected',
                                             'sent', 'superseded')),
    created_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT
);
CREATE UNIQUE INDEX target_approvals_live ON target_approvals (target_id, kind, source_id)
    WHERE state IN ('waiting', 'pending', 'approved');
CREATE INDEX target_approvals_object ON target_approvals (target_id, kind, source_id, digest);
CREATE INDEX target_approvals_state ON target_approvals (target_id, state, created_at);
CREATE INDEX target_approvals_tenant ON target_approvals (tenant_id, created_at);

-- What needs approval, the accidental-deletions threshold (Entra's default, 500), what is
-- written back, the roles attached and the entitlement rules, for targets added before them:
-- nothing needs approval, the threshold is on, nothing is written back, no role, no rule.
UPDATE targets
SET settings = (settings::jsonb
                || '{"approvals": [], "deletion_threshold": "500", "write_back": [],
                    "roles": [], "rules": []}')::text
WHERE settings::jsonb -> 'approvals' IS NULL;
