//! [`ProvisioningLog`] on SQLite: batches appended on the writer with one cached statement,
//! pages and entries read on the readers, the purge run through the writer in chunks.
//!
//! The statements are `roster_store::sql::provisioning_log`'s, shared with PostgreSQL.

use async_trait::async_trait;
use roster_store::sql::Bind;
use roster_store::sql::decode;
use roster_store::sql::provisioning_log::{
    self as log, INSERT_ARITY, INSERT_COLUMNS, PURGE, PURGE_CHUNK, PURGE_TENANT, TimeFilters, Walk,
};
use roster_store::{LogCounts, LogEntry, LogQuery, ProvisioningLog, StoreError, TenantId};
use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use time::OffsetDateTime;

use crate::cold::{Cols, first};
use crate::{SqliteStore, exec, lite_err, reads, ts};

/// Stores one entry, with its resource's number last.
static INSERT: LazyLock<String> = LazyLock::new(|| {
    let values: Vec<String> = (1..=INSERT_ARITY + 1).map(|n| format!("?{n}")).collect();
    format!(
        "INSERT INTO provisioning_log ({INSERT_COLUMNS}, rid) VALUES ({})",
        values.join(", ")
    )
});

/// Notes that a resource number carried a name (ignored when already noted).
const NOTE_NAME: &str =
    "INSERT OR IGNORE INTO provisioning_log_names (tenant_id, key, rid) VALUES (?, ?, ?)";

/// The number of the resource an entry is about, which the index of a page about one resource
/// ranges over: a hash of the tenant and the resource's id, or of its (lower-cased) name when
/// the entry has no id (a refused creation); none when the entry is about no resource.
/// Entries of several resources may share a number (the hash collides, or one name is given
/// to another resource later): a page checks each entry's own id and name.
fn rid(tenant: &str, id: &str, key: &str) -> Option<i64> {
    let (kind, value) = match (id, key) {
        ("", "") => return None,
        ("", key) => (b'n', key),
        (id, _) => (b'i', id),
    };
    let mut hash = Sha256::new();
    hash.update(tenant.as_bytes());
    hash.update([0, kind, 0]);
    hash.update(value.as_bytes());
    let digest = hash.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    Some(i64::from_be_bytes(first))
}

/// Appends `entries` on the log writer's connection, inside its transaction, and notes the
/// names their resources carried.
fn append(tx: &rusqlite::Connection, entries: &[LogEntry]) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(&INSERT).map_err(lite_err)?;
    let mut note = tx.prepare_cached(NOTE_NAME).map_err(lite_err)?;
    let mut noted = HashSet::new();
    for e in entries {
        let key = log::resource_key(&e.resource_name);
        let rid = rid(e.tenant_id.as_str(), &e.resource_id, &key);
        if let Some(rid) = rid
            && !e.resource_id.is_empty()
            && !key.is_empty()
            && noted.insert((e.tenant_id.as_str(), key.clone(), rid))
        {
            note.execute(params![e.tenant_id.as_str(), key, rid])
                .map_err(lite_err)?;
        }
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
                key,
                e.summary,
                e.explanation,
                e.hint,
                log::normalizations(e),
                e.request_body,
                e.response_body,
                rid,
            ])
            .map_err(lite_err)?;
    }
    Ok(())
}

/// The log file's version once every entry has its resource number.
const NUMBERED: i64 = 1;

/// Gives their resource numbers to the entries written before the log had them (a log file of
/// an earlier version, or entries moved from the main file), once, on the log writer's
/// connection at start.
pub(crate) fn number_entries(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(lite_err)?;
    if version >= NUMBERED {
        return Ok(());
    }
    let tx = conn.unchecked_transaction().map_err(lite_err)?;
    let unnumbered: Vec<(i64, String, String, String)> = {
        let mut select = tx
            .prepare(
                "SELECT seq, tenant_id, resource_id, resource_key FROM provisioning_log
                 WHERE rid IS NULL AND (resource_id <> '' OR resource_key <> '')",
            )
            .map_err(lite_err)?;
        let rows = select
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .map_err(lite_err)?;
        rows.collect::<Result<_, _>>().map_err(lite_err)?
    };
    {
        let mut update = tx
            .prepare("UPDATE provisioning_log SET rid = ? WHERE seq = ?")
            .map_err(lite_err)?;
        let mut note = tx.prepare(NOTE_NAME).map_err(lite_err)?;
        for (seq, tenant, id, key) in &unnumbered {
            let rid = rid(tenant, id, key);
            update.execute(params![rid, seq]).map_err(lite_err)?;
            if let Some(rid) = rid
                && !id.is_empty()
                && !key.is_empty()
            {
                note.execute(params![tenant, key, rid]).map_err(lite_err)?;
            }
        }
    }
    tx.execute_batch(&format!("PRAGMA user_version = {NUMBERED}"))
        .map_err(lite_err)?;
    tx.commit().map_err(lite_err)?;
    if !unnumbered.is_empty() {
        tracing::info!(
            entries = unnumbered.len(),
            "numbered the provisioning log's entries by resource"
        );
    }
    Ok(())
}

/// The walks of a page about `resource` (a name or an id): one per resource number its
/// entries may carry (its id's, its name's, and the ids that name was seen with), each
/// checking the entry's own id and name.
fn walks(
    conn: &rusqlite::Connection,
    tenant: &TenantId,
    resource: &str,
) -> Result<Vec<Walk>, StoreError> {
    let key = log::resource_key(resource);
    let mut rids: Vec<i64> = [
        rid(tenant.as_str(), resource, ""),
        rid(tenant.as_str(), "", &key),
    ]
    .into_iter()
    .flatten()
    .collect();
    let mut named = conn
        .prepare_cached("SELECT rid FROM provisioning_log_names WHERE tenant_id = ? AND key = ?")
        .map_err(lite_err)?;
    let seen = named
        .query_map(params![tenant.as_str(), key], |r| r.get::<_, i64>(0))
        .map_err(lite_err)?;
    for rid in seen {
        rids.push(rid.map_err(lite_err)?);
    }
    rids.sort_unstable();
    rids.dedup();
    Ok(rids
        .into_iter()
        .map(|rid| Walk {
            condition: "rid = ? AND (resource_key = ? OR resource_id = ?)".into(),
            binds: vec![
                Bind::Int(rid),
                Bind::Text(key.clone()),
                Bind::Text(resource.to_owned()),
            ],
        })
        .collect())
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
        let (tenant, query) = (tenant.clone(), query.clone());
        // A page walks its index until it has its rows: with a filter few entries match, that
        // can be long, so it runs off the runtime's workers.
        self.readers
            .blocking(move |conn| {
                let (sql, binds) = match &query.resource {
                    None => log::page(&tenant, &query, TimeFilters::Walked),
                    Some(resource) => {
                        let walks = walks(conn, &tenant, resource)?;
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
        let mut deleted = self.delete_in_chunks(PURGE, ts(before)).await?;
        for gone in self.log_orphans().await? {
            deleted += self.delete_tenant_log(&gone).await?;
        }
        self.purge_names().await?;
        Ok(deleted)
    }
}

/// A noted name's key: tenant, name, resource number.
type NoteKey = (String, String, i64);

/// Deletes one tenant's noted names, a chunk at a time. Binds: tenant, [`PURGE_CHUNK`].
const PURGE_TENANT_NAMES: &str = "DELETE FROM provisioning_log_names
    WHERE (tenant_id, key, rid) IN
        (SELECT tenant_id, key, rid FROM provisioning_log_names WHERE tenant_id = ? LIMIT ?)";

/// Looks at the next [`PURGE_CHUNK`] noted names after `after` and deletes those whose number
/// no entry carries: the last name looked at (none when there were no more), and how many
/// were deleted.
fn purge_names_after(
    tx: &rusqlite::Connection,
    after: Option<&NoteKey>,
) -> Result<(Option<NoteKey>, usize), StoreError> {
    let (tenant, key, rid) = after
        .cloned()
        .unwrap_or((String::new(), String::new(), i64::MIN));
    let names: Vec<NoteKey> = {
        let mut next = tx
            .prepare_cached(
                "SELECT tenant_id, key, rid FROM provisioning_log_names
                 WHERE (tenant_id, key, rid) > (?, ?, ?)
                 ORDER BY tenant_id, key, rid LIMIT ?",
            )
            .map_err(lite_err)?;
        let rows = next
            .query_map(params![tenant, key, rid, PURGE_CHUNK], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .map_err(lite_err)?;
        rows.collect::<Result<_, _>>().map_err(lite_err)?
    };
    let mut carried = tx
        .prepare_cached("SELECT 1 FROM provisioning_log WHERE rid = ?")
        .map_err(lite_err)?;
    let mut delete = tx
        .prepare_cached(
            "DELETE FROM provisioning_log_names WHERE tenant_id = ? AND key = ? AND rid = ?",
        )
        .map_err(lite_err)?;
    let mut deleted = 0;
    for (tenant, key, rid) in &names {
        if !carried.exists([rid]).map_err(lite_err)? {
            deleted += delete
                .execute(params![tenant, key, rid])
                .map_err(lite_err)?;
        }
    }
    Ok((names.last().cloned(), deleted))
}

/// The next tenant id in the log after one (an index seek per tenant, not a walk of the log).
const NEXT_LOGGED_TENANT: &str =
    "SELECT tenant_id FROM provisioning_log WHERE tenant_id > ? ORDER BY tenant_id LIMIT 1";

impl SqliteStore {
    /// Deletes a tenant's log, chunk by chunk, once the tenant is gone (see `delete_tenant`).
    pub(crate) async fn delete_tenant_log(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let deleted = self
            .delete_in_chunks(PURGE_TENANT, tenant.as_str().to_owned())
            .await?;
        self.delete_in_chunks(PURGE_TENANT_NAMES, tenant.as_str().to_owned())
            .await?;
        Ok(deleted)
    }

    /// Deletes the names noted of resource numbers no entry carries any more (their entries
    /// purged), a chunk of [`PURGE_CHUNK`] names looked at per write, in key order.
    async fn purge_names(&self) -> Result<(), StoreError> {
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
