//! [`HoldStore`] on SQLite. The holding itself is the `events_hold` trigger (migration 0021):
//! every write's events pass through it.

use async_trait::async_trait;
use roster_store::sql::decode::{self, HOLD_COLUMNS};
use roster_store::{Event, Hold, HoldEnd, HoldStore, NewEvent, StoreError, TenantId};
use rusqlite::params;
use time::OffsetDateTime;

use crate::cold::{all, first, scalar};
use crate::writer::event_rows;
use crate::{SqliteStore, exec, ts};

#[async_trait]
impl HoldStore for SqliteStore {
    async fn hold(&self, tenant: &TenantId) -> Result<Option<Hold>, StoreError> {
        let sql = format!("SELECT {HOLD_COLUMNS} FROM tenant_holds WHERE tenant_id = ?");
        let t = tenant.clone();
        self.readers
            .now(move |conn| first(conn, &sql, params![t.as_str()], |r| decode::hold(r)))
            .await
    }

    async fn held_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, StoreError> {
        let t = tenant.clone();
        self.readers
            .now(move |conn| {
                all(
                    conn,
                    "SELECT type, count(*) AS n FROM held_events WHERE tenant_id = ?
                     GROUP BY type ORDER BY n DESC, type",
                    params![t.as_str()],
                    |r| {
                        let n: i64 = r.0.get(1).map_err(crate::lite_err)?;
                        Ok((
                            r.0.get(0).map_err(crate::lite_err)?,
                            u64::try_from(n).unwrap_or(0),
                        ))
                    },
                )
            })
            .await
    }

    async fn held_events(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let t = tenant.clone();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .now(move |conn| {
                all(
                    conn,
                    "SELECT seq AS position, id, tenant_id, type, occurred_at, data
                     FROM held_events WHERE tenant_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                    params![t.as_str(), after, limit],
                    |r| decode::event(r),
                )
            })
            .await
    }

    async fn recent_removals(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let t = tenant.clone();
        self.readers
            .now(move |conn| {
                let n: i64 = scalar(
                    conn,
                    "SELECT count(*) FROM events WHERE tenant_id = ? AND occurred_at >= ?
                       AND type IN ('user.deactivated', 'user.deleted')",
                    params![t.as_str(), ts(since)],
                )?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn count_active_holds(&self) -> Result<u64, StoreError> {
        self.readers
            .now(|conn| {
                let n: i64 = scalar(
                    conn,
                    "SELECT count(*) FROM tenant_holds WHERE ended_at IS NULL",
                    [],
                )?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn start_hold(
        &self,
        tenant: &TenantId,
        hold: &Hold,
        event: &NewEvent,
    ) -> Result<bool, StoreError> {
        let (t, h) = (tenant.clone(), hold.clone());
        let started = self
            .writer
            .write_recorded(
                move |tx| {
                    let started = exec(
                        tx,
                        "INSERT INTO tenant_holds (tenant_id, id, started_at, threshold, removals)
                         VALUES (?, ?, ?, ?, ?)
                         ON CONFLICT (tenant_id) DO UPDATE SET id = excluded.id,
                           started_at = excluded.started_at, threshold = excluded.threshold,
                           removals = excluded.removals, ended_at = NULL, outcome = NULL,
                           ended_by = NULL
                         WHERE tenant_holds.ended_at IS NOT NULL",
                        params![
                            t.as_str(),
                            h.id,
                            ts(h.started_at),
                            h.threshold,
                            i64::try_from(h.removals).unwrap_or(i64::MAX)
                        ],
                    )?;
                    // Already active: nothing written, and no event.
                    if started == 0 {
                        return Err(StoreError::Conflict("hold"));
                    }
                    Ok(())
                },
                event_rows(tenant, std::slice::from_ref(event)),
            )
            .await;
        match started {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict("hold")) => Ok(false),
            Err(e) => Err(e),
        }
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
        let (t, id, by) = (tenant.clone(), hold_id.to_owned(), by.to_owned());
        self.writer
            .write_recorded(
                move |tx| {
                    let ended = exec(
                        tx,
                        "UPDATE tenant_holds SET ended_at = ?, outcome = ?, ended_by = ?
                         WHERE tenant_id = ? AND id = ? AND ended_at IS NULL",
                        params![ts(at), end.as_str(), by, t.as_str(), id],
                    )?;
                    if ended == 0 {
                        return Err(StoreError::NotFound);
                    }
                    if end == HoldEnd::Release {
                        // The hold has ended, so the trigger lets them in; in their order.
                        exec(
                            tx,
                            "INSERT INTO events (id, tenant_id, type, occurred_at, data)
                             SELECT id, tenant_id, type, occurred_at, data FROM held_events
                             WHERE tenant_id = ? ORDER BY seq",
                            params![t.as_str()],
                        )?;
                    }
                    let n = exec(
                        tx,
                        "DELETE FROM held_events WHERE tenant_id = ?",
                        params![t.as_str()],
                    )?;
                    Ok(n as u64)
                },
                event_rows(tenant, events),
            )
            .await
    }
}
