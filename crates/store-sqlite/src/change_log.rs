//! [`ChangeLog`] on SQLite: the change log, written with each change by the writer.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::epoch_millis;
use roster_store::{ChangeLog, Event, StoreError, TenantId};
use rusqlite::params;
use time::OffsetDateTime;

use crate::cold::all;
use crate::{SqliteStore, exec, ts};

#[async_trait]
impl ChangeLog for SqliteStore {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .now(|conn| match tenant {
                Some(t) => all(
                    conn,
                    "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                     WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?",
                    params![t.as_str(), after, limit],
                    |r| decode::event(r),
                ),
                None => all(
                    conn,
                    "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                     WHERE position > ? ORDER BY position LIMIT ?",
                    params![after, limit],
                    |r| decode::event(r),
                ),
            })
            .await
    }

    async fn last_position(&self) -> Result<i64, StoreError> {
        // `AUTOINCREMENT` keeps the highest position given in `sqlite_sequence`, purged or not.
        self.readers
            .now(|conn| {
                crate::cold::scalar(
                    conn,
                    "SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0)",
                    [],
                )
            })
            .await
    }

    async fn tenant_head(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        let t = tenant.clone();
        self.readers
            .now(move |conn| {
                crate::cold::scalar(
                    conn,
                    "SELECT coalesce(max(position), 0) FROM events WHERE tenant_id = ?",
                    params![t.as_str()],
                )
            })
            .await
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                // The oldest events by position, a slice at a time: the log is in time order,
                // so the slices stop where the events are young enough.
                let mut purged = 0;
                loop {
                    let done = exec(
                        tx,
                        "DELETE FROM events WHERE position IN (SELECT position FROM
                             (SELECT position, occurred_at FROM events ORDER BY position
                              LIMIT 10000) WHERE occurred_at < ?)",
                        params![ts(before)],
                    )? as u64;
                    purged += done;
                    if done < 10_000 {
                        break;
                    }
                }
                // Delivery attempts and dead letters are kept as long as events (a dead
                // letter's event is gone by then: it cannot be delivered again).
                exec(
                    tx,
                    "DELETE FROM webhook_attempts WHERE at < ?",
                    params![epoch_millis(before)],
                )?;
                exec(
                    tx,
                    "DELETE FROM webhook_dead_letters WHERE at < ?",
                    params![epoch_millis(before)],
                )?;
                Ok(purged)
            })
            .await
    }
}
