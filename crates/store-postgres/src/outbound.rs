//! [`OutboundStore`] on PostgreSQL: targets, assignments, what targets hold, and their runs
//! (leased with `FOR UPDATE SKIP LOCKED`, so that one process at a time works a target).

use async_trait::async_trait;
use roster_store::sql::decode::{
    self, Columns as _, TARGET_COLUMNS, TARGET_OBJECT_COLUMNS, TARGET_RUN_COLUMNS,
};
use roster_store::sql::found;
use roster_store::{
    Kind, OutboundStore, StoreError, TargetObject, TargetRecord, TargetRun, TenantId,
};
use sqlx::PgConnection;

use crate::{Cols, PostgresStore, db_err, is_unique_violation};

/// The target of that tenant, or `NotFound` (every write names the tenant).
async fn owned(conn: &mut PgConnection, tenant: &TenantId, target: &str) -> Result<(), StoreError> {
    let n: i64 =
        sqlx::query_scalar("SELECT count(*) FROM targets WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(target)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
    found(u64::try_from(n).unwrap_or(0))
}

#[async_trait]
impl OutboundStore for PostgresStore {
    async fn add_target(&self, t: &TargetRecord, position: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "INSERT INTO targets (id, tenant_id, name, settings, sealed, paused, created_at,
               updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&t.id)
        .bind(t.tenant_id.as_str())
        .bind(&t.name)
        .bind(t.settings.to_string())
        .bind(&t.sealed)
        .bind(t.paused)
        .bind(t.created_at)
        .bind(t.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("name")
            } else {
                db_err(e)
            }
        })?;
        sqlx::query(
            "INSERT INTO target_runs (target_id, phase, position, next_at)
             VALUES ($1, 'initial', $2, 0)",
        )
        .bind(&t.id)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_target(&self, t: &TargetRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE targets SET settings = $1, sealed = $2, paused = $3, updated_at = $4
             WHERE tenant_id = $5 AND id = $6",
        )
        .bind(t.settings.to_string())
        .bind(&t.sealed)
        .bind(t.paused)
        .bind(t.updated_at)
        .bind(t.tenant_id.as_str())
        .bind(&t.id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn targets(&self, tenant: &TenantId) -> Result<Vec<TargetRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM targets WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::target(&Cols(r))).collect()
    }

    async fn target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<TargetRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TARGET_COLUMNS} FROM targets
             WHERE tenant_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(id_or_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|r| decode::target(&Cols(r))).transpose()
    }

    async fn remove_target(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM targets WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn assign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, tenant, target).await?;
        sqlx::query(
            "INSERT INTO target_assignments (target_id, kind, source_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(source_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn unassign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, tenant, target).await?;
        let done = sqlx::query(
            "DELETE FROM target_assignments WHERE target_id = $1 AND kind = $2 AND source_id = $3",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(source_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn assignments(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Vec<(Kind, String)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT a.kind, a.source_id FROM target_assignments a
             JOIN targets t ON t.id = a.target_id
             WHERE t.tenant_id = $1 AND a.target_id = $2 ORDER BY a.kind, a.source_id",
        )
        .bind(tenant.as_str())
        .bind(target)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let c = Cols(r);
                Ok((decode::kind(&c.text("kind")?)?, c.text("source_id")?))
            })
            .collect()
    }

    async fn target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<Option<TargetObject>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TARGET_OBJECT_COLUMNS} FROM target_objects o
             JOIN targets t ON t.id = o.target_id
             WHERE t.tenant_id = $1 AND o.target_id = $2 AND o.kind = $3 AND o.source_id = $4"
        ))
        .bind(tenant.as_str())
        .bind(target)
        .bind(kind.as_str())
        .bind(source_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| decode::target_object(&Cols(r)))
            .transpose()
    }

    async fn put_target_object(&self, o: &TargetObject) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, &o.tenant_id, &o.target_id).await?;
        sqlx::query(
            "INSERT INTO target_objects (target_id, kind, source_id, remote_id, digest, sent,
               deactivated, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (target_id, kind, source_id) DO UPDATE SET
               remote_id = excluded.remote_id, digest = excluded.digest, sent = excluded.sent,
               deactivated = excluded.deactivated, updated_at = excluded.updated_at",
        )
        .bind(&o.target_id)
        .bind(o.kind.as_str())
        .bind(&o.source_id)
        .bind(&o.remote_id)
        .bind(&o.digest)
        .bind(o.sent.to_string())
        .bind(o.deactivated)
        .bind(o.updated_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn remove_target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, tenant, target).await?;
        sqlx::query(
            "DELETE FROM target_objects WHERE target_id = $1 AND kind = $2 AND source_id = $3",
        )
        .bind(target)
        .bind(kind.as_str())
        .bind(source_id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clear_target_objects(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, tenant, target).await?;
        sqlx::query("DELETE FROM target_objects WHERE target_id = $1")
            .bind(target)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn count_target_objects(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(u64, u64), StoreError> {
        let mut conn = self.conn().await?;
        let (users, groups): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE o.kind = 'User'), count(*) FILTER (WHERE o.kind = 'Group')
             FROM target_objects o JOIN targets t ON t.id = o.target_id
             WHERE t.tenant_id = $1 AND o.target_id = $2",
        )
        .bind(tenant.as_str())
        .bind(target)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok((
            u64::try_from(users).unwrap_or(0),
            u64::try_from(groups).unwrap_or(0),
        ))
    }

    async fn target_run(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Option<TargetRun>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TARGET_RUN_COLUMNS} FROM target_runs r JOIN targets t ON t.id = r.target_id
             WHERE t.tenant_id = $1 AND r.target_id = $2"
        ))
        .bind(tenant.as_str())
        .bind(target)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| decode::target_run(&Cols(r)))
            .transpose()
    }

    async fn wake_target_run(
        &self,
        tenant: &TenantId,
        target: &str,
        restart_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        owned(&mut conn, tenant, target).await?;
        sqlx::query(
            "UPDATE target_runs SET quarantined = FALSE, failures = 0, error = NULL, next_at = 0,
               phase = CASE WHEN $1 IS NOT NULL THEN 'initial' ELSE phase END,
               cursor = CASE WHEN $1 IS NOT NULL THEN '' ELSE cursor END,
               processed = CASE WHEN $1 IS NOT NULL THEN 0 ELSE processed END,
               position = COALESCE($1, position)
             WHERE target_id = $2",
        )
        .bind(restart_at)
        .bind(target)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn claim_target_runs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<TargetRun>, StoreError> {
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TARGET_RUN_COLUMNS} FROM target_runs r JOIN targets t ON t.id = r.target_id
             WHERE NOT t.paused AND (r.lease_until IS NULL OR r.lease_until <= $1)
               AND NOT EXISTS (SELECT 1 FROM tenant_holds h WHERE h.tenant_id = t.tenant_id
                 AND h.ended_at IS NULL)
               AND (r.next_at <= $1 OR (NOT r.quarantined AND r.phase = 'incremental' AND r.failures = 0
                 AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = t.tenant_id
                   AND e.position > r.position)))
             ORDER BY r.next_at LIMIT $2
             FOR UPDATE OF r SKIP LOCKED"
        ))
        .bind(now)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *tx)
        .await
        .map_err(db_err)?;
        let due: Vec<TargetRun> = rows
            .iter()
            .map(|r| decode::target_run(&Cols(r)))
            .collect::<Result<_, _>>()?;
        for run in &due {
            sqlx::query(
                "UPDATE target_runs SET lease_owner = $1, lease_until = $2,
                   next_at = GREATEST(next_at, 1) WHERE target_id = $3",
            )
            .bind(owner)
            .bind(lease_until)
            .bind(&run.target_id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(due)
    }

    async fn save_target_run(
        &self,
        owner: &str,
        r: &TargetRun,
        release: bool,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE target_runs SET phase = $1, cursor = $2, position = $3, processed = $4,
               total = $5, failures = $6, error = $7, quarantined = $8, next_at = $9,
               cycle_ended_at = $10, cycle_started_at = $14,
               lease_owner = CASE WHEN $11 THEN NULL ELSE lease_owner END,
               lease_until = CASE WHEN $11 THEN NULL ELSE lease_until END
             WHERE target_id = $12 AND lease_owner = $13 AND next_at <> 0",
        )
        .bind(&r.phase)
        .bind(&r.cursor)
        .bind(r.position)
        .bind(r.processed)
        .bind(r.total)
        .bind(r.failures)
        .bind(&r.error)
        .bind(r.quarantined)
        .bind(r.next_at)
        .bind(r.cycle_ended_at)
        .bind(release)
        .bind(&r.target_id)
        .bind(owner)
        .bind(r.cycle_started_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 1 {
            return Ok(true);
        }
        // Woken while leased (a restart, an assignment, a quarantine ended): the wake stands,
        // and only the lease is given back.
        let done = sqlx::query(
            "UPDATE target_runs SET
               lease_owner = CASE WHEN $1 THEN NULL ELSE lease_owner END,
               lease_until = CASE WHEN $1 THEN NULL ELSE lease_until END
             WHERE target_id = $2 AND lease_owner = $3",
        )
        .bind(release)
        .bind(&r.target_id)
        .bind(owner)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }
}
