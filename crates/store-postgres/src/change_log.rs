//! [`ChangeLog`] on PostgreSQL: events appended with their changes and positioned by one
//! sequencer at a time.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::epoch_millis;
use roster_store::{ChangeLog, Event, NewEvent, StoreError, TenantId};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::{PostgresStore, db_err};

#[async_trait]
impl ChangeLog for PostgresStore {
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut conn = self.conn().await?;
        let rows = match tenant {
            Some(t) => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE tenant_id = $1 AND position > $2 ORDER BY position LIMIT $3",
            )
            .bind(t.as_str())
            .bind(after)
            .bind(limit),
            None => sqlx::query(
                "SELECT position, id, tenant_id, type, occurred_at, data FROM events
                 WHERE position > $1 ORDER BY position LIMIT $2",
            )
            .bind(after)
            .bind(limit),
        }
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(event_from_row).collect()
    }

    async fn sequence_events(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let pending: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE position IS NULL)")
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
        if !pending {
            return Ok(0);
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await.map_err(db_err)?;
        // One sequencer at a time, in any process; the others find the work done.
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(SEQUENCER_LOCK)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        if !locked {
            return Ok(0);
        }
        let done = sqlx::query(
            "WITH pending AS (
                 SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM
                     (SELECT seq FROM events WHERE position IS NULL ORDER BY seq LIMIT 10000) p
             ), bump AS (
                 UPDATE event_sequencer SET last = last + (SELECT count(*) FROM pending)
                 RETURNING last - (SELECT count(*) FROM pending) AS base
             )
             UPDATE events e SET position = (SELECT base FROM bump) + p.n
             FROM pending p WHERE e.seq = p.seq",
        )
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn last_position(&self) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query_scalar("SELECT last FROM event_sequencer")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)
    }

    async fn tenant_head(&self, tenant: &TenantId) -> Result<i64, StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events WHERE tenant_id = $1")
            .bind(tenant.as_str())
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)
    }

    async fn event_backlog(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE position IS NULL")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        // The oldest events by position, a slice at a time: the log is in time order, so the
        // slices stop where the events are young enough.
        let mut purged = 0;
        loop {
            let done = sqlx::query(
                "DELETE FROM events WHERE position IN (SELECT position FROM
                     (SELECT position, occurred_at FROM events WHERE position IS NOT NULL
                      ORDER BY position LIMIT 10000) oldest WHERE occurred_at < $1)",
            )
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?
            .rows_affected();
            purged += done;
            if done < 10_000 {
                break;
            }
        }
        // Delivery attempts and dead letters are kept as long as events (a dead letter's
        // event is gone by then: it cannot be delivered again).
        for table in ["webhook_attempts", "webhook_dead_letters"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE at < $1"))
                .bind(epoch_millis(before))
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        }
        Ok(purged)
    }
}

/// The columns of a list of events, as arrays for `unnest`.
pub(crate) struct EventArrays {
    pub(crate) ids: Vec<String>,
    pub(crate) types: Vec<String>,
    pub(crate) at: Vec<OffsetDateTime>,
    pub(crate) data: Vec<String>,
}

pub(crate) fn event_arrays(events: &[NewEvent]) -> EventArrays {
    EventArrays {
        ids: events.iter().map(|e| e.id.clone()).collect(),
        types: events.iter().map(|e| e.event_type.clone()).collect(),
        at: events.iter().map(|e| e.occurred_at).collect(),
        data: events.iter().map(|e| e.data.to_string()).collect(),
    }
}

/// Appends events to the change log inside a transaction.
pub(crate) async fn insert_events(
    tx: &mut PgConnection,
    tenant: &TenantId,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let a = event_arrays(events);
    sqlx::query(
        "INSERT INTO events (id, tenant_id, type, occurred_at, data)
         SELECT x.id, $1, x.type, x.at, x.data
         FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::text[]) AS x (id, type, at, data)",
    )
    .bind(tenant.as_str())
    .bind(&a.ids)
    .bind(&a.types)
    .bind(&a.at)
    .bind(&a.data)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// The advisory lock key of the event sequencer.
const SEQUENCER_LOCK: i64 = 0x524f_5354_4552; // "ROSTER"

fn event_from_row(row: &PgRow) -> Result<Event, StoreError> {
    decode::event(&Cols(row))
}
