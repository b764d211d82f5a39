//! [`ApprovalStore`] on PostgreSQL.

use async_trait::async_trait;
use roster_store::approvals::LIVE;
use roster_store::sql::decode::{self, APPROVAL_COLUMNS};
use roster_store::{Approval, ApprovalStore, StoreError, TenantId};

use crate::{Cols, PostgresStore, db_err};

#[async_trait]
impl ApprovalStore for PostgresStore {
    async fn propose_approval(&self, a: &Approval) -> Result<Approval, StoreError> {
        let mut tx = self.begin().await?;
        // One proposal of an object at a time: the live index is unique, and this waits for
        // another transaction proposing for the same object.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(format!(
                "{}/{}/{}",
                a.target_id,
                a.kind.as_str(),
                a.source_id
            ))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let same = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM target_approvals
             WHERE target_id = $1 AND kind = $2 AND source_id = $3 AND digest = $4
               AND state IN ('waiting', 'pending', 'approved', 'rejected')
             ORDER BY created_at DESC LIMIT 1"
        ))
        .bind(&a.target_id)
        .bind(a.kind.as_str())
        .bind(&a.source_id)
        .bind(&a.digest)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(row) = same {
            let found = decode::approval(&Cols(&row))?;
            tx.commit().await.map_err(db_err)?;
            return Ok(found);
        }
        sqlx::query(
            "UPDATE target_approvals SET state = 'superseded'
             WHERE target_id = $1 AND kind = $2 AND source_id = $3 AND state = ANY($4)",
        )
        .bind(&a.target_id)
        .bind(a.kind.as_str())
        .bind(&a.source_id)
        .bind(&LIVE[..])
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO target_approvals (id, tenant_id, target_id, kind, source_id, name,
               action, request, digest, reason, state, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(&a.id)
        .bind(a.tenant_id.as_str())
        .bind(&a.target_id)
        .bind(a.kind.as_str())
        .bind(&a.source_id)
        .bind(&a.name)
        .bind(&a.action)
        .bind(a.request.to_string())
        .bind(&a.digest)
        .bind(&a.reason)
        .bind(&a.state)
        .bind(a.created_at)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(a.clone())
    }

    async fn approvals(
        &self,
        tenant: &TenantId,
        target: Option<&str>,
        states: &[&str],
        limit: u64,
    ) -> Result<Vec<Approval>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {APPROVAL_COLUMNS} FROM target_approvals
             WHERE tenant_id = $1 AND ($2::text IS NULL OR target_id = $2)
               AND (cardinality($3::text[]) = 0 OR state = ANY($3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(tenant.as_str())
        .bind(target)
        .bind(states)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::approval(&Cols(r))).collect()
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
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE target_approvals SET state = $1, decided_at = $2,
               decided_by = coalesce($3, decided_by)
             WHERE tenant_id = $4 AND target_id = $5 AND state = $6
               AND (cardinality($7::text[]) = 0 OR id = ANY($7))",
        )
        .bind(to)
        .bind(at)
        .bind(by)
        .bind(tenant.as_str())
        .bind(target)
        .bind(from)
        .bind(ids)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn count_pending_approvals(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 =
            sqlx::query_scalar("SELECT count(*) FROM target_approvals WHERE state = 'pending'")
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn count_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM target_approvals
             WHERE tenant_id = $1 AND target_id = $2 AND state = $3",
        )
        .bind(tenant.as_str())
        .bind(target)
        .bind(state)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn count_approvals_since(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
        by: &str,
        since: i64,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM target_approvals
             WHERE target_id = $1 AND state = $2 AND created_at >= $3
               AND tenant_id = $4 AND decided_by = $5",
        )
        .bind(target)
        .bind(state)
        .bind(since)
        .bind(tenant.as_str())
        .bind(by)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn purge_approvals(&self, before: i64) -> Result<u64, StoreError> {
        // A slice a statement, so that no transaction holds many rows for long.
        let mut conn = self.conn().await?;
        let mut purged = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM target_approvals WHERE id IN (SELECT id FROM target_approvals
                     WHERE state IN ('sent', 'superseded') AND created_at < $1 LIMIT 10000)",
            )
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected();
            purged += done;
            if done < 10_000 {
                return Ok(purged);
            }
        }
    }
}
