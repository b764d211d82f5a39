//! [`ChangeLog`] on SQLite: the change log, written with each change by the writer.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::epoch_millis;
use roster_store::{ChangeLog, Event, StoreError, TenantId};
use rusqlite::params;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use crate::{SqliteStore, db_err, exec, ts};

#[async_trait]
impl ChangeLog for SqliteStore {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = match tenant {
            Some(t) => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE tenant_id = ? AND position > ? ORDER BY position LIMIT ?",
            )
            .bind(t.as_str())
            .bind(after)
            .bind(limit),
            None => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE position > ? ORDER BY position LIMIT ?",
            )
            .bind(after)
            .bind(limit),
        }
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
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
                // Delivery attempts are kept as long as events.
                exec(
                    tx,
                    "DELETE FROM webhook_attempts WHERE at < ?",
                    params![epoch_millis(before)],
                )?;
                Ok(purged)
            })
            .await
    }
}

fn event_from_row(row: &SqliteRow) -> Result<Event, StoreError> {
    decode::event(&Cols(row))
}
