//! [`ProvisioningLog`] on PostgreSQL: a batch appended by one statement over arrays (one round
//! trip, whatever its size), pages and entries read by the statements shared with SQLite
//! (`roster_store::sql::provisioning_log`), the purge in chunks.

use std::sync::LazyLock;

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::numbered;
use roster_store::sql::provisioning_log::{self as log, INSERT_COLUMNS, PURGE_CHUNK};
use roster_store::{LogCounts, LogEntry, LogQuery, ProvisioningLog, StoreError, TenantId};
use time::OffsetDateTime;

use crate::{Cols, PostgresStore, bind_values, db_err};

mod hours;

/// The advisory lock key under which a batch is appended (see [`ProvisioningLog::append_log`]).
pub const APPEND_LOCK: i64 = 0x524f_5354_4552_0002;

/// The advisory lock key under which a chunk of old entries is purged.
const PURGE_LOCK: i64 = 0x524f_5354_4552_0003;

/// The array type a batch binds for a column of [`INSERT_COLUMNS`].
fn array_type(column: &str) -> &'static str {
    match column {
        "at" => "timestamptz[]",
        "duration_ms" | "status" => "int8[]",
        _ => "text[]",
    }
}

/// Stores a batch, one array per column, in the batch's order; the entries of a tenant that is
/// gone are dropped as its deletion would have dropped them, rather than failing the batch
/// (and every other tenant's entries in it) on the foreign key. The same statement counts the
/// entries into their hours ([`hours`]). It takes its tenants' rows (`FOR KEY SHARE`) before
/// anything else: a tenant's deletion, which holds its row while it deletes the tenant's hours,
/// then either waits for the batch or has the batch drop the tenant's entries, and the two never
/// wait on each other in a circle.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let arrays: Vec<String> = INSERT_COLUMNS
        .split(',')
        .enumerate()
        .map(|(i, column)| format!("${}::{}", i + 1, array_type(column.trim())))
        .collect();
    format!(
        "WITH live AS (SELECT id FROM tenants WHERE id = ANY($1::text[]) FOR KEY SHARE),
         added AS (
             INSERT INTO provisioning_log ({INSERT_COLUMNS})
             SELECT {INSERT_COLUMNS} FROM unnest({}) WITH ORDINALITY AS v ({INSERT_COLUMNS}, n)
             WHERE v.tenant_id IN (SELECT id FROM live)
             ORDER BY n
             RETURNING tenant_id, at, outcome)
         {}",
        arrays.join(", "),
        hours::ADD
    )
});

/// Takes the rows of `tenants` (`FOR KEY SHARE`, in key order) for the transaction: a
/// tenant's deletion under way is waited for, and none starts until it ends.
async fn hold_tenants<'a>(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    tenants: impl Iterator<Item = &'a str>,
) -> Result<(), StoreError> {
    let mut ids: Vec<&str> = tenants.collect();
    ids.sort_unstable();
    ids.dedup();
    sqlx::query("SELECT 1 FROM tenants WHERE id = ANY($1) ORDER BY id FOR KEY SHARE")
        .bind(&ids)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// Waits for the advisory lock `key` for the transaction: one holder at a time across processes.
async fn take_turn(
    tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
    key: i64,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await
        .map_err(db_err)?;
    Ok(())
}

/// One text column of a batch.
fn texts<'a>(entries: &'a [LogEntry], f: impl Fn(&'a LogEntry) -> &'a str) -> Vec<&'a str> {
    entries.iter().map(f).collect()
}

#[async_trait]
impl ProvisioningLog for PostgresStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let e = &entries[..];
        let q = sqlx::query(&INSERT)
            .bind(texts(e, |e| e.tenant_id.as_str()))
            .bind(e.iter().map(|e| e.at).collect::<Vec<_>>())
            .bind(texts(e, |e| &e.request_id))
            .bind(e.iter().map(|e| e.duration_ms).collect::<Vec<_>>())
            .bind(texts(e, |e| &e.method))
            .bind(texts(e, |e| &e.path))
            .bind(texts(e, |e| &e.query))
            .bind(e.iter().map(|e| i64::from(e.status)).collect::<Vec<_>>())
            .bind(e.iter().map(|e| e.scim_type.as_deref()).collect::<Vec<_>>())
            .bind(texts(e, |e| e.outcome.as_str()))
            .bind(texts(e, |e| &e.client))
            .bind(texts(e, |e| &e.user_agent))
            .bind(texts(e, |e| &e.credential))
            .bind(texts(e, |e| &e.action))
            .bind(texts(e, |e| &e.resource_type))
            .bind(texts(e, |e| &e.resource_id))
            .bind(texts(e, |e| &e.resource_name))
            .bind(
                e.iter()
                    .map(|e| log::resource_key(&e.resource_name))
                    .collect::<Vec<_>>(),
            )
            .bind(texts(e, |e| &e.summary))
            .bind(texts(e, |e| &e.explanation))
            .bind(texts(e, |e| &e.hint))
            .bind(e.iter().map(log::normalizations).collect::<Vec<_>>())
            .bind(texts(e, |e| &e.request_body))
            .bind(texts(e, |e| &e.response_body));
        // One batch at a time across every process on the database, so that a batch's `seq`s
        // are all above those of every batch committed before it: a host application that
        // follows the log with `after` (the API's cursor) never passes over an entry that
        // another process's slower batch commits later below its cursor. The batch's tenants
        // are taken first, outside that lock: a batch with an entry of a tenant being deleted
        // waits for the deletion (seconds for a large log) alone, not every process's batches
        // behind it (a sign-in writes its trace through here). Under the lock a batch waits for
        // nothing but the batch before it.
        let mut tx = self.begin().await?;
        hold_tenants(&mut tx, e.iter().map(|e| e.tenant_id.as_str())).await?;
        take_turn(&mut tx, APPEND_LOCK).await?;
        q.execute(&mut *tx).await.map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (sql, binds) = log::page(tenant, query);
        let sql = numbered(&sql);
        let mut conn = self.conn().await?;
        let rows = bind_values(sqlx::query(&sql), &binds)
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| decode::log_entry(&Cols(r))).collect()
    }

    async fn log_entry(&self, tenant: &TenantId, seq: i64) -> Result<Option<LogEntry>, StoreError> {
        let sql = numbered(&log::entry());
        let mut conn = self.conn().await?;
        let row = sqlx::query(&sql)
            .bind(tenant.as_str())
            .bind(seq)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(|r| decode::log_entry(&Cols(r)))
            .transpose()
    }

    async fn log_counts(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<LogCounts, StoreError> {
        let hour = hours::first_whole_hour(since);
        let mut conn = self.conn().await?;
        let row = sqlx::query(hours::COUNTS)
            .bind(tenant.as_str())
            .bind(since)
            .bind(hours::start(hour)?)
            .bind(hour)
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        decode::log_counts(&Cols(&row))
    }

    async fn purge_log(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        // Chunk by chunk, each its own short transaction, as on SQLite: no purge holds a
        // million rows' locks and WAL in one commit. A chunk deletes entries of any tenant in
        // any order, and a tenant's deletion deletes its entries in another: so one purge at a
        // time across processes (`PURGE_LOCK`), and a chunk takes its tenants' rows (`FOR KEY
        // SHARE`) before it deletes a row, so that it waits for a deletion under way (whose
        // entries are then gone) rather than the two waiting on each other's rows.
        let mut purged = 0;
        loop {
            let mut tx = self.begin().await?;
            take_turn(&mut tx, PURGE_LOCK).await?;
            let chunk: Vec<(i64, String)> = sqlx::query_as(
                "SELECT seq, tenant_id FROM provisioning_log WHERE at < $1 LIMIT $2",
            )
            .bind(before)
            .bind(PURGE_CHUNK)
            .fetch_all(&mut *tx)
            .await
            .map_err(db_err)?;
            hold_tenants(&mut tx, chunk.iter().map(|(_, t)| t.as_str())).await?;
            let seqs: Vec<i64> = chunk.iter().map(|(seq, _)| *seq).collect();
            purged += sqlx::query("DELETE FROM provisioning_log WHERE seq = ANY($1)")
                .bind(&seqs)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?
                .rows_affected();
            tx.commit().await.map_err(db_err)?;
            if (chunk.len() as i64) < PURGE_CHUNK {
                self.recount_hours(before).await?;
                return Ok(purged);
            }
        }
    }
}
