//! [`Health`] on SQLite: whether the file answers at this build's schema, and the readers'
//! connections and the writer's queue as pool statistics.

use async_trait::async_trait;
use roster_store::sql::{APPLIED_MIGRATION, schema_serves};
use roster_store::{Health, PoolStats, StoreError};

use crate::cold::scalar;
use crate::{SqliteStore, migrate};

#[async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let applied: i64 = self
            .readers
            .now(|conn| scalar(conn, APPLIED_MIGRATION, []))
            .await?;
        schema_serves(applied, migrate::latest())
    }

    /// The readers' connections, and the writes waiting for the writer.
    fn pool_stats(&self) -> PoolStats {
        let (max, open, idle) = self.readers.stats();
        PoolStats::of(max, open, idle, self.writer.queued())
    }
}
