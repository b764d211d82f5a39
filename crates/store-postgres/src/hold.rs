//! [`HoldStore`] on PostgreSQL. The holding itself is the `events_hold` trigger (migration
//! 0017): every write's events pass through it.

use async_trait::async_trait;
use roster_store::sql::decode::{self, HOLD_COLUMNS};
use roster_store::{Event, Hold, HoldEnd, HoldStore, NewEvent, StoreError, TenantId};
use sqlx::Row;
use time::OffsetDateTime;

use crate::change_log::insert_events;
use crate::{Cols, PostgresStore, db_err};

#[async_trait]
impl HoldStore for PostgresStore {
    async fn hold(&self, tenant: &TenantId) -> Result<Option<Hold>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {HOLD_COLUMNS} FROM tenant_holds WHERE tenant_id = $1"
        ))
        .bind(tenant.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.map(|r| decode::hold(&Cols(&r))).transpose()
    }

    async fn held_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT type, count(*) AS n FROM held_events WHERE tenant_id = $1
             GROUP BY type ORDER BY n DESC, type",
        )
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let n: i64 = r.try_get("n").map_err(db_err)?;
                Ok((
                    r.try_get("type").map_err(db_err)?,
                    u64::try_from(n).unwrap_or(0),
                ))
            })
            .collect()
    }

    async fn held_events(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT seq AS position, id, tenant_id, type, occurred_at, data FROM held_events
             WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(tenant.as_str())
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::event(&Cols(r))).collect()
    }

    async fn recent_removals(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE tenant_id = $1 AND occurred_at >= $2
               AND type IN ('user.deactivated', 'user.deleted')",
        )
        .bind(tenant.as_str())
        .bind(since)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn count_active_holds(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM tenant_holds WHERE ended_at IS NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn start_hold(
        &self,
        tenant: &TenantId,
        hold: &Hold,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let started = sqlx::query(
            "INSERT INTO tenant_holds (tenant_id, id, started_at, threshold, removals)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id) DO UPDATE SET id = excluded.id,
               started_at = excluded.started_at, threshold = excluded.threshold,
               removals = excluded.removals, ended_at = NULL, outcome = NULL, ended_by = NULL
             WHERE tenant_holds.ended_at IS NOT NULL",
        )
        .bind(tenant.as_str())
        .bind(&hold.id)
        .bind(hold.started_at)
        .bind(&hold.threshold)
        .bind(i64::try_from(hold.removals).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if started {
            insert_events(&mut tx, tenant, std::slice::from_ref(event)).await?;
        }
        tx.commit().await.map_err(db_err)?;
        Ok(started)
    }

    async fn end_hold(
        &self,
        tenant: &TenantId,
        hold_id: &str,
        end: HoldEnd,
        by: &str,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        // Writes in flight hold the row FOR SHARE (the trigger): this waits for them, so
        // what they held is moved below, and later writes see the hold ended.
        let ended = sqlx::query(
            "UPDATE tenant_holds SET ended_at = $1, outcome = $2, ended_by = $3
             WHERE tenant_id = $4 AND id = $5 AND ended_at IS NULL",
        )
        .bind(at)
        .bind(end.as_str())
        .bind(by)
        .bind(tenant.as_str())
        .bind(hold_id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?
        .rows_affected();
        if ended == 0 {
            return Err(StoreError::NotFound);
        }
        if end == HoldEnd::Release {
            sqlx::query(
                "INSERT INTO events (id, tenant_id, type, occurred_at, data)
                 SELECT id, tenant_id, type, occurred_at, data FROM held_events
                 WHERE tenant_id = $1 ORDER BY seq",
            )
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let n = sqlx::query("DELETE FROM held_events WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        insert_events(&mut tx, tenant, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(n)
    }
}
