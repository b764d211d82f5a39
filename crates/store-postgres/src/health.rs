//! [`Health`] on PostgreSQL: whether the database answers at this build's schema, and the
//! pool's statistics.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use roster_store::sql::{APPLIED_MIGRATION, schema_serves};
use roster_store::{Health, PoolStats, StoreError};

use crate::{MIGRATOR, PostgresStore, db_err};

#[async_trait]
impl Health for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let applied: i64 = sqlx::query_scalar(APPLIED_MIGRATION)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        schema_serves(applied, latest)
    }

    fn pool_stats(&self) -> PoolStats {
        let waiting = self.waiting.load(Ordering::Relaxed);
        let max = self.pool.options().get_max_connections();
        PoolStats::of(max, self.pool.size(), self.pool.num_idle(), waiting)
    }
}
