//! [`ProvisioningLog`] on SQLite: batches appended on the writer with one cached statement,
//! pages and entries read on the readers, the purge run through the writer in chunks.
//!
//! The statements are `roster_store::sql::provisioning_log`'s, shared with PostgreSQL.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::provisioning_log::{
    self as log, INSERT_ARITY, INSERT_COLUMNS, PURGE_CHUNK, PURGE_TENANT, TimeFilters,
};
use roster_store::{LogCounts, LogEntry, LogQuery, ProvisioningLog, StoreError, TenantId};
use rusqlite::{OptionalExtension, params};
use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;

use crate::cold::{Cols, first};
use crate::log_names::{Names, NoteKey, Noted, PURGE_TENANT_NAMES, purge_names_after, rid, walks};
use crate::{SqliteStore, exec, lite_err, reads, ts};

/// How many entries one statement stores: one statement per entry paid SQLite's per-statement
/// work (running the program, the `AUTOINCREMENT` counter read and written back) for each.
const ROWS_PER_INSERT: usize = 32;

/// Values bound per entry: [`INSERT_COLUMNS`] and the resource's number.
const BOUND_PER_ROW: usize = INSERT_ARITY + 1;

/// Stores `rows` entries, each with its resource's number last. `OR FAIL`, which spares the
/// statement journal a multi-row `OR ABORT` insert keeps (see `writer::append_events`): a
/// failure rolls the log writer's whole transaction back.
fn insert_sql(rows: usize) -> String {
    let row = |r: usize| {
        let values: Vec<String> = (1..=BOUND_PER_ROW)
            .map(|n| format!("?{}", r * BOUND_PER_ROW + n))
            .collect();
        format!("({})", values.join(", "))
    };
    let rows: Vec<String> = (0..rows).map(row).collect();
    format!(
        "INSERT OR FAIL INTO provisioning_log ({INSERT_COLUMNS}, rid) VALUES {}",
        rows.join(", ")
    )
}

/// Stores one entry.
static INSERT_ONE: LazyLock<String> = LazyLock::new(|| insert_sql(1));
/// Stores [`ROWS_PER_INSERT`] entries.
static INSERT_MANY: LazyLock<String> = LazyLock::new(|| insert_sql(ROWS_PER_INSERT));

/// An entry to store, with its resource's key and number.
struct Row<'a> {
    entry: &'a LogEntry,
    key: String,
    rid: Option<i64>,
}

/// Binds `row` as the `nth` (from 0) row of an insert statement.
fn bind(
    statement: &mut rusqlite::Statement<'_>,
    nth: usize,
    row: &Row<'_>,
) -> rusqlite::Result<()> {
    let e = row.entry;
    let values: [&dyn rusqlite::ToSql; BOUND_PER_ROW] = [
        &e.tenant_id.as_str(),
        &ts(e.at),
        &e.request_id,
        &e.duration_ms,
        &e.method,
        &e.path,
        &e.query,
        &e.status,
        &e.scim_type,
        &e.outcome.as_str(),
        &e.client,
        &e.user_agent,
        &e.credential,
        &e.action,
        &e.resource_type,
        &e.resource_id,
        &e.resource_name,
        &row.key,
        &e.summary,
        &e.explanation,
        &e.hint,
        &log::normalizations(e),
        &e.request_body,
        &e.response_body,
        &row.rid,
    ];
    for (i, value) in values.into_iter().enumerate() {
        statement.raw_bind_parameter(nth * BOUND_PER_ROW + i + 1, value)?;
    }
    Ok(())
}

/// Appends `entries` on the log writer's connection, inside its transaction, and notes the
/// names their resources carried (see `log_names`): the names to remember once committed.
fn append(
    tx: &rusqlite::Connection,
    entries: &[LogEntry],
    noted: &Noted,
) -> Result<Vec<u64>, StoreError> {
    let mut names = Names::new(tx, noted)?;
    let mut rows = Vec::with_capacity(entries.len());
    for entry in entries {
        let key = log::resource_key(&entry.resource_name);
        let rid = rid(entry.tenant_id.as_str(), &entry.resource_id, &key);
        names.note(entry.tenant_id.as_str(), &entry.resource_id, &key, rid)?;
        rows.push(Row { entry, key, rid });
    }
    let mut many = tx.prepare_cached(&INSERT_MANY).map_err(lite_err)?;
    let chunks = rows.chunks_exact(ROWS_PER_INSERT);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (nth, row) in chunk.iter().enumerate() {
            bind(&mut many, nth, row).map_err(lite_err)?;
        }
        many.raw_execute().map_err(lite_err)?;
    }
    let mut one = tx.prepare_cached(&INSERT_ONE).map_err(lite_err)?;
    for row in rest {
        bind(&mut one, 0, row).map_err(lite_err)?;
        one.raw_execute().map_err(lite_err)?;
    }
    Ok(names.learnt())
}

#[async_trait]
impl ProvisioningLog for SqliteStore {
    async fn append_log(&self, mut entries: Vec<LogEntry>) -> Result<(), StoreError> {
        // Only the entries of tenants that exist: a tenant deleted while its entries waited
        // loses them, as its deletion would have (a deletion between this look and the write
        // leaves a few, which the hourly purge deletes: see `logged_tenants`).
        let mut tenants: Vec<String> = entries
            .iter()
            .map(|e| e.tenant_id.as_str().to_owned())
            .collect();
        tenants.sort_unstable();
        tenants.dedup();
        let gone: Vec<String> = self
            .readers
            .blocking(move |conn| {
                let mut exists = conn
                    .prepare_cached("SELECT 1 FROM tenants WHERE id = ?")
                    .map_err(lite_err)?;
                let mut gone = Vec::new();
                for t in tenants {
                    if !exists.exists([&t]).map_err(lite_err)? {
                        gone.push(t);
                    }
                }
                Ok(gone)
            })
            .await?;
        // The log writer may run its job again (when another write of its group fails), so
        // the entries are shared, not moved into it.
        entries.retain(|e| !gone.iter().any(|g| g == e.tenant_id.as_str()));
        let entries = Arc::new(entries);
        if entries.is_empty() {
            return Ok(());
        }
        let noted = self.noted.clone();
        let learnt = self
            .log_writer
            .write(move |tx| append(tx, &entries, &noted))
            .await?;
        self.noted.learn(learnt);
        Ok(())
    }

    async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (tenant, query) = (tenant.clone(), query.clone());
        // A page walks its index until it has its rows: with a filter few entries match, that
        // can be long, so it runs off the runtime's workers.
        self.readers
            .blocking(move |conn| {
                let (sql, binds) = match &query.resource {
                    None => log::page(&tenant, &query, TimeFilters::Walked),
                    Some(resource) => {
                        let walks = walks(conn, &tenant, resource)?;
                        if walks.is_empty() {
                            // Nothing can carry an empty name and id.
                            return Ok(Vec::new());
                        }
                        log::page_by_walks(&tenant, &query, TimeFilters::Walked, &walks)
                    }
                };
                let mut statement = conn.prepare_cached(&sql).map_err(lite_err)?;
                let values = binds.iter().map(reads::value);
                let mut rows = statement
                    .query(rusqlite::params_from_iter(values))
                    .map_err(lite_err)?;
                let mut page = Vec::new();
                while let Some(row) = rows.next().map_err(lite_err)? {
                    page.push(decode::log_entry(&Cols(row))?);
                }
                Ok(page)
            })
            .await
    }

    async fn log_entry(&self, tenant: &TenantId, seq: i64) -> Result<Option<LogEntry>, StoreError> {
        let sql = log::entry();
        self.readers
            .now(|conn| {
                first(conn, &sql, params![tenant.as_str(), seq], |r| {
                    decode::log_entry(r)
                })
            })
            .await
    }

    async fn log_counts(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<LogCounts, StoreError> {
        let tenant = tenant.clone();
        self.readers
            .blocking(move |conn| {
                first(
                    conn,
                    log::COUNTS,
                    params![tenant.as_str(), ts(since)],
                    |r| decode::log_counts(r),
                )
            })
            .await?
            .ok_or_else(|| StoreError::Internal("a count answered no row".into()))
    }

    async fn purge_log(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        // Tenant by tenant, each a range of `(tenant_id, at)`: no index on `at` alone, which
        // every entry would pay for.
        let mut deleted = 0;
        let before = ts(before);
        for (tenant, exists) in self.logged_tenants().await? {
            deleted += if exists {
                let values = vec![tenant.as_str().to_owned(), before.clone()];
                self.delete_in_chunks(PURGE_TENANT_BEFORE, values).await?
            } else {
                self.delete_tenant_log(&tenant).await?
            };
        }
        self.purge_names().await?;
        Ok(deleted)
    }
}

/// Deletes a chunk of one tenant's entries that arrived before a time. Binds: tenant, before,
/// [`PURGE_CHUNK`].
const PURGE_TENANT_BEFORE: &str = "DELETE FROM provisioning_log WHERE seq IN
    (SELECT seq FROM provisioning_log WHERE tenant_id = ? AND at < ? LIMIT ?)";

/// The next tenant id in the log after one (an index seek per tenant, not a walk of the log).
const NEXT_LOGGED_TENANT: &str =
    "SELECT tenant_id FROM provisioning_log WHERE tenant_id > ? ORDER BY tenant_id LIMIT 1";

impl SqliteStore {
    /// Deletes a tenant's log, chunk by chunk, once the tenant is gone (see `delete_tenant`).
    pub(crate) async fn delete_tenant_log(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let deleted = self
            .delete_in_chunks(PURGE_TENANT, vec![tenant.as_str().to_owned()])
            .await?;
        self.noted.forget();
        self.delete_in_chunks(PURGE_TENANT_NAMES, vec![tenant.as_str().to_owned()])
            .await?;
        Ok(deleted)
    }

    /// Deletes the names noted of resource numbers no entry carries any more (their entries
    /// purged), a chunk of [`PURGE_CHUNK`] names looked at per write, in key order.
    async fn purge_names(&self) -> Result<(), StoreError> {
        self.noted.forget();
        let mut after: Option<NoteKey> = None;
        loop {
            let from = after.clone();
            let (last, _) = self
                .log_writer
                .write(move |tx| purge_names_after(tx, from.as_ref()))
                .await?;
            match last {
                Some(last) => after = Some(last),
                None => return Ok(()),
            }
        }
    }

    /// The tenants whose entries are in the log, and whether each still exists (a deletion
    /// that stopped before its log was leaves entries of a tenant gone: the log is in a file
    /// of its own, see `connect`).
    async fn logged_tenants(&self) -> Result<Vec<(TenantId, bool)>, StoreError> {
        self.readers
            .blocking(|conn| {
                let mut next = conn.prepare_cached(NEXT_LOGGED_TENANT).map_err(lite_err)?;
                let mut exists = conn
                    .prepare_cached("SELECT 1 FROM tenants WHERE id = ?")
                    .map_err(lite_err)?;
                let mut tenants = Vec::new();
                let mut after = String::new();
                while let Some(id) = next
                    .query_row([&after], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(lite_err)?
                {
                    let present = exists.exists([&id]).map_err(lite_err)?;
                    tenants.push((TenantId::new(&id), present));
                    after = id;
                }
                Ok(tenants)
            })
            .await
    }

    /// Runs `sql`, a `DELETE` of at most [`PURGE_CHUNK`] entries whose parameters are `values`
    /// and the chunk's size, until it deletes fewer: each chunk a write of its own, so that
    /// other writes run between them. How many it deleted.
    async fn delete_in_chunks(
        &self,
        sql: &'static str,
        values: Vec<String>,
    ) -> Result<u64, StoreError> {
        let mut bound: Vec<rusqlite::types::Value> = values
            .into_iter()
            .map(rusqlite::types::Value::Text)
            .collect();
        bound.push(rusqlite::types::Value::Integer(PURGE_CHUNK));
        let bound: Arc<[rusqlite::types::Value]> = bound.into();
        let mut deleted = 0;
        loop {
            let bound = bound.clone();
            let chunk = self
                .log_writer
                .write(move |tx| exec(tx, sql, rusqlite::params_from_iter(bound.iter())))
                .await?;
            deleted += chunk as u64;
            if (chunk as i64) < PURGE_CHUNK {
                return Ok(deleted);
            }
        }
    }
}
