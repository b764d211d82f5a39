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
use rusqlite::params;
use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;

use crate::cold::{Cols, first};
use crate::{SqliteStore, exec, lite_err, reads, ts};

/// Stores one entry, unless its tenant is gone: an entry of a tenant deleted while its batch
/// waited is dropped as the tenant's deletion would have dropped it, rather than failing the
/// batch (and every other tenant's entries in it) on the foreign key.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=INSERT_ARITY).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO provisioning_log ({INSERT_COLUMNS}) SELECT {}
         WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?1)",
        values.join(", ")
    )
});

/// Appends `entries` on the writer's connection, inside its transaction.
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
        if entries.is_empty() {
            return Ok(());
        }
        // The writer may run its job again (when another write of its group fails), so the
        // entries are shared, not moved.
        let entries: Arc<[LogEntry]> = entries.into();
        self.writer.write(move |tx| append(tx, &entries)).await
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
        self.delete_in_chunks(PURGE, ts(before)).await
    }
}

impl SqliteStore {
    /// Deletes a tenant's log, chunk by chunk, before the tenant goes (see `delete_tenant`).
    pub(crate) async fn delete_tenant_log(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        self.delete_in_chunks(PURGE_TENANT, tenant.as_str().to_owned())
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
                .writer
                .write(move |tx| exec(tx, sql, params![&*value, PURGE_CHUNK]))
                .await?;
            deleted += chunk as u64;
            if (chunk as i64) < PURGE_CHUNK {
                return Ok(deleted);
            }
        }
    }
}
