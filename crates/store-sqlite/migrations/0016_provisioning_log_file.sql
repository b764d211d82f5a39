-- The provisioning log moves to a file of its own, attached as `provlog` (see connect.rs): its
-- writes, which never stop, no longer make readers of the main file drop their page caches.
-- The entries are copied with their `seq` (readers' cursors stay valid); OR IGNORE makes the
-- copy safe to run again should a crash separate the two files' commits.
INSERT OR IGNORE INTO provlog.provisioning_log (
    seq, tenant_id, at, outcome, action, client, resource_key, resource_id, request_id,
    duration_ms, method, path, query, status, scim_type, user_agent, credential, resource_type,
    resource_name, summary, explanation, hint, normalizations, request_body, response_body
)
SELECT
    seq, tenant_id, at, outcome, action, client, resource_key, resource_id, request_id,
    duration_ms, method, path, query, status, scim_type, user_agent, credential, resource_type,
    resource_name, summary, explanation, hint, normalizations, request_body, response_body
FROM main.provisioning_log;
DROP TABLE main.provisioning_log;
