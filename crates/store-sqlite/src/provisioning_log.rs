//! [`ProvisioningLog`] on SQLite: batches appended on the writer with one cached statement,
//! pages and entries read on the readers, the purge run through the writer in chunks.
//!
//! The statements are `roster_store::sql::provisioning_log`'s, shared with PostgreSQL.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::provisioning_log::{
    self as log, INSERT_ARITY, INSERT_COLUMNS, PURGE, PURGE_CHUNK, PURGE_TENANT, TimeFilters,
};
use roster_store::{LogCounts, LogEntry, LogQuery, ProvisioningLog, StoreError, TenantId};
use rusqlite::{OptionalExtension, params};
use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;

use crate::cold::{Cols, first};
use crate::{SqliteStore, exec, lite_err, reads, ts};

/// Stores one entry.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=INSERT_ARITY).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO provisioning_log ({INSERT_COLUMNS}) VALUES ({})",
        values.join(", ")
    )
});

/// Appends `entries` on the log writer's connection, inside its transaction.
fn append(tx: &rusqlite::Connection, entries: &[LogEntry]) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(&INSERT).map_err(lite_err)?;
    for e in entries {
        insert
            .execute(params![
                e.tenant_id.as_str(),
                ts(e.at),
                e.request_id,
                e.duration_ms,
                e.method,
                e.path,
                e.query,
                e.status,
                e.scim_type,
                e.outcome.as_str(),
                e.client,
                e.user_agent,
                e.credential,
                e.action,
                e.resource_type,
                e.resource_id,
                e.resource_name,
                log::resource_key(&e.resource_name),
                e.summary,
                e.explanation,
                e.hint,
                log::normalizations(e),
                e.request_body,
                e.response_body,
            ])
            .map_err(lite_err)?;
    }
    Ok(())
}

#[async_trait]
impl ProvisioningLog for SqliteStore {
    async fn append_log(&self, entries: &[LogEntry]) -> Result<(), StoreError> {
        // Only the entries of tenants that exist: a tenant deleted while its entries waited
        // loses them, as its deletion would have (a deletion between this look and the write
        // leaves a few, which the hourly purge deletes: see `log_orphans`).
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
        // the entries are shared, not moved.
        let entries: Arc<[LogEntry]> = entries
            .iter()
            .filter(|e| !gone.iter().any(|g| g == e.tenant_id.as_str()))
            .cloned()
            .collect();
        if entries.is_empty() {
            return Ok(());
        }
        self.log_writer.write(move |tx| append(tx, &entries)).await
    }

    async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (sql, binds) = log::page(tenant, query, TimeFilters::Walked);
        // A page walks its index until it has its rows: with a filter few entries match, that
        // can be long, so it runs off the runtime's workers.
        self.readers
            .blocking(move |conn| {
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
        let mut deleted = self.delete_in_chunks(PURGE, ts(before)).await?;
        for gone in self.log_orphans().await? {
            deleted += self.delete_tenant_log(&gone).await?;
        }
        Ok(deleted)
    }
}

/// The next tenant id in the log after one (an index seek per tenant, not a walk of the log).
const NEXT_LOGGED_TENANT: &str =
    "SELECT tenant_id FROM provisioning_log WHERE tenant_id > ? ORDER BY tenant_id LIMIT 1";

impl SqliteStore {
    /// Deletes a tenant's log, chunk by chunk, once the tenant is gone (see `delete_tenant`).
    pub(crate) async fn delete_tenant_log(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.delete_in_chunks(PURGE_TENANT, tenant.as_str().to_owned())
            .await
    }

    /// The tenants whose entries are in the log but who are gone: a deletion that stopped
    /// before its log was (the log is in a file of its own, see `connect`).
    async fn log_orphans(&self) -> Result<Vec<TenantId>, StoreError> {
        self.readers
            .blocking(|conn| {
                let mut next = conn.prepare_cached(NEXT_LOGGED_TENANT).map_err(lite_err)?;
                let mut exists = conn
                    .prepare_cached("SELECT 1 FROM tenants WHERE id = ?")
                    .map_err(lite_err)?;
                let mut gone = Vec::new();
                let mut after = String::new();
                while let Some(id) = next
                    .query_row([&after], |r| r.get::<_, String>(0))
                    .optional()
                    .map_err(lite_err)?
                {
                    if !exists.exists([&id]).map_err(lite_err)? {
                        gone.push(TenantId::new(&id));
                    }
                    after = id;
                }
                Ok(gone)
            })
            .await
    }

    /// Runs `sql`, a `DELETE` of at most [`PURGE_CHUNK`] entries whose parameters are `value`
    /// and the chunk's size, until it deletes fewer: each chunk a write of its own, so that
    /// other writes run between them. How many it deleted.
    async fn delete_in_chunks(&self, sql: &'static str, value: String) -> Result<u64, StoreError> {
        let value: Arc<str> = value.into();
        let mut deleted = 0;
        loop {
            let value = value.clone();
            let chunk = self
                .log_writer
                .write(move |tx| exec(tx, sql, params![&*value, PURGE_CHUNK]))
                .await?;
            deleted += chunk as u64;
            if (chunk as i64) < PURGE_CHUNK {
                return Ok(deleted);
            }
        }
    }
}
