//! [`Health`] on SQLite: whether the file answers at this build's schema, and the writer's
//! queue as pool statistics.

use async_trait::async_trait;
use roster_store::sql::{APPLIED_MIGRATION, schema_serves};
use roster_store::{Health, PoolStats, StoreError};

use crate::{MIGRATOR, SqliteStore, db_err};

#[async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let applied: i64 = sqlx::query_scalar(APPLIED_MIGRATION)
            .fetch_one(&self.reader)
            .await
            .map_err(db_err)?;
        schema_serves(
            applied,
            MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0),
        )
    }

    /// The cold reads' pool, and the writes waiting for the writer.
    fn pool_stats(&self) -> PoolStats {
        let pool = &self.reader;
        let max = pool.options().get_max_connections();
        PoolStats::of(max, pool.size(), pool.num_idle(), self.writer.queued())
    }
}
