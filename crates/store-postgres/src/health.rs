//! [`Health`] on PostgreSQL: whether the database answers at this build's schema, and the
//! pool's statistics.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use roster_store::{Health, PoolStats, StoreError};

use crate::{MIGRATOR, PostgresStore, db_err};

#[async_trait]
impl Health for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let applied: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success",
        )
        .fetch_one(&mut *conn)
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
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        PoolStats {
            max: self.pool.options().get_max_connections(),
            in_use: size.saturating_sub(idle),
            idle,
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}
