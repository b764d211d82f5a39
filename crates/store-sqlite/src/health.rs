//! [`Health`] on SQLite: whether the file answers at this build's schema, and the writer's
//! queue as pool statistics.

use async_trait::async_trait;
use roster_store::{Health, PoolStats, StoreError};

use crate::{MIGRATOR, SqliteStore, db_err};

#[async_trait]
impl Health for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let applied: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&self.reader)
        .await
        .map_err(db_err)?;
        let latest = MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
        if applied < latest {
            return Err(StoreError::Unavailable(format!(
                "the database schema is at migration {applied}, this Roster needs {latest}"
            )));
        }
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        let size = self.reader.size();
        let idle = u32::try_from(self.reader.num_idle()).unwrap_or(u32::MAX);
        PoolStats {
            max: self.reader.options().get_max_connections(),
            in_use: size.saturating_sub(idle),
            idle,
            waiting: self.writer.queued(),
        }
    }
}
