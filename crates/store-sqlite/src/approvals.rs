//! [`ApprovalStore`] on SQLite.

use async_trait::async_trait;
use roster_store::approvals::LIVE;
use roster_store::sql::decode::{self, APPROVAL_COLUMNS};
use roster_store::{Approval, ApprovalStore, StoreError, TenantId};
use rusqlite::params;
use rusqlite::types::Value as Sql;

use crate::cold::{all, first, scalar};
use crate::{SqliteStore, exec};

fn text(v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// Deletes a slice of the sent and superseded approvals created before `?` (by the index
/// `target_approvals_done`, migration 0023).
const PURGE: &str = "DELETE FROM target_approvals WHERE rowid IN (SELECT rowid FROM
    target_approvals WHERE state IN ('sent', 'superseded') AND created_at < ? LIMIT 10000)";

/// `?, ?, …` for `n` values.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

#[async_trait]
impl ApprovalStore for SqliteStore {
    async fn propose_approval(&self, approval: &Approval) -> Result<Approval, StoreError> {
        let a = approval.clone();
        let request = text(&a.request)?;
        self.writer
            .write(move |tx| {
                let same = format!(
                    "SELECT {APPROVAL_COLUMNS} FROM target_approvals
                     WHERE target_id = ? AND kind = ? AND source_id = ? AND digest = ?
                       AND state IN ('waiting', 'pending', 'approved', 'rejected')
                     ORDER BY created_at DESC, rowid DESC LIMIT 1"
                );
                let keys = params![a.target_id, a.kind.as_str(), a.source_id, a.digest];
                if let Some(found) = first(tx, &same, keys, |r| decode::approval(r))? {
                    return Ok(found);
                }
                exec(
                    tx,
                    &format!(
                        "UPDATE target_approvals SET state = 'superseded'
                         WHERE target_id = ? AND kind = ? AND source_id = ?
                           AND state IN ({})",
                        marks(LIVE.len())
                    ),
                    params![
                        a.target_id,
                        a.kind.as_str(),
                        a.source_id,
                        LIVE[0],
                        LIVE[1],
                        LIVE[2]
                    ],
                )?;
                exec(
                    tx,
                    "INSERT INTO target_approvals (id, tenant_id, target_id, kind, source_id, name,
                       action, request, digest, reason, state, created_at)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        a.id,
                        a.tenant_id.as_str(),
                        a.target_id,
                        a.kind.as_str(),
                        a.source_id,
                        a.name,
                        a.action,
                        request,
                        a.digest,
                        a.reason,
                        a.state,
                        a.created_at
                    ],
                )?;
                Ok(a.clone())
            })
            .await
    }

    async fn approvals(
        &self,
        tenant: &TenantId,
        target: Option<&str>,
        states: &[&str],
        limit: u64,
    ) -> Result<Vec<Approval>, StoreError> {
        let mut sql =
            format!("SELECT {APPROVAL_COLUMNS} FROM target_approvals WHERE tenant_id = ?");
        let mut values: Vec<Sql> = vec![Sql::Text(tenant.as_str().to_owned())];
        if let Some(t) = target {
            sql.push_str(" AND target_id = ?");
            values.push(Sql::Text(t.to_owned()));
        }
        if !states.is_empty() {
            sql.push_str(&format!(" AND state IN ({})", marks(states.len())));
            values.extend(states.iter().map(|s| Sql::Text((*s).to_owned())));
        }
        sql.push_str(" ORDER BY created_at DESC, rowid DESC LIMIT ?");
        values.push(Sql::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        self.readers
            .now(move |conn| {
                all(conn, &sql, rusqlite::params_from_iter(values), |r| {
                    decode::approval(r)
                })
            })
            .await
    }

    async fn decide_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        ids: &[String],
        from: &str,
        to: &str,
        by: Option<&str>,
        at: i64,
    ) -> Result<u64, StoreError> {
        let mut sql = "UPDATE target_approvals SET state = ?, decided_at = ?,
                 decided_by = coalesce(?, decided_by)
             WHERE tenant_id = ? AND target_id = ? AND state = ?"
            .to_owned();
        let mut values: Vec<Sql> = vec![
            Sql::Text(to.to_owned()),
            Sql::Integer(at),
            by.map_or(Sql::Null, |b| Sql::Text(b.to_owned())),
            Sql::Text(tenant.as_str().to_owned()),
            Sql::Text(target.to_owned()),
            Sql::Text(from.to_owned()),
        ];
        if !ids.is_empty() {
            sql.push_str(&format!(" AND id IN ({})", marks(ids.len())));
            values.extend(ids.iter().map(|i| Sql::Text(i.clone())));
        }
        self.writer
            .write(move |tx| {
                tx.prepare_cached(&sql)
                    .and_then(|mut q| q.execute(rusqlite::params_from_iter(values.iter())))
                    .map(|n| n as u64)
                    .map_err(crate::lite_err)
            })
            .await
    }

    async fn count_pending_approvals(&self) -> Result<u64, StoreError> {
        self.readers
            .now(|conn| {
                let n: i64 = scalar(
                    conn,
                    "SELECT count(*) FROM target_approvals WHERE state = 'pending'",
                    [],
                )?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn count_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
    ) -> Result<u64, StoreError> {
        let (t, target, state) = (tenant.clone(), target.to_owned(), state.to_owned());
        self.readers
            .now(move |conn| {
                let n: i64 = scalar(
                    conn,
                    "SELECT count(*) FROM target_approvals
                     WHERE tenant_id = ? AND target_id = ? AND state = ?",
                    params![t.as_str(), target, state],
                )?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn count_approvals_since(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
        by: &str,
        since: i64,
    ) -> Result<u64, StoreError> {
        let (t, target, state, by) = (
            tenant.clone(),
            target.to_owned(),
            state.to_owned(),
            by.to_owned(),
        );
        self.readers
            .now(move |conn| {
                let n: i64 = scalar(
                    conn,
                    "SELECT count(*) FROM target_approvals
                     WHERE target_id = ? AND state = ? AND created_at >= ?
                       AND tenant_id = ? AND decided_by = ?",
                    params![target, state, since, t.as_str(), by],
                )?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn purge_approvals(&self, before: i64) -> Result<u64, StoreError> {
        // A slice a transaction, so that the writes of requests pass between them.
        let mut purged = 0;
        loop {
            let done = self
                .writer
                .write(move |tx| exec(tx, PURGE, params![before]))
                .await? as u64;
            purged += done;
            if done < 10_000 {
                return Ok(purged);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PURGE;
    use crate::connect::{Role, connect};
    use crate::migrate::{MIGRATIONS, run};

    /// The purge seeks the decided approvals past the retention by its index, never a scan of
    /// every approval.
    #[test]
    fn the_purge_seeks_by_its_index() {
        let dir = tempfile::tempdir().expect("a directory");
        let conn = connect(&dir.path().join("t.db"), Role::Writer).expect("a database");
        run(&conn, MIGRATIONS).expect("migrated");
        let mut explain = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {PURGE}"))
            .expect("a plan");
        let plan: Vec<String> = explain
            .query_map([0], |r| r.get::<_, String>(3))
            .expect("planning")
            .map(|r| r.expect("a line"))
            .collect();
        let plan = plan.join("\n");
        assert!(
            plan.contains(
                "SEARCH target_approvals USING INDEX target_approvals_done (created_at<?)"
            ),
            "{plan}"
        );
        assert!(!plan.contains("SCAN target_approvals"), "{plan}");
    }
}
