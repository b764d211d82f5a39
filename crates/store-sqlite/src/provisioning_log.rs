//! [`ProvisioningLog`] on SQLite: each batch appended on the log's writer as blocks, one per
//! tenant and [`BLOCK_MAX`] entries (see `log_blocks`), with one narrow row per entry about a
//! resource in `provisioning_log_rids` (see `log_names`); pages, entries and counts read on
//! the readers (see `log_pages`); the purge run through the writer in chunks of blocks.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::provisioning_log::{self as log, PURGE_CHUNK};
use roster_store::{LogCounts, LogEntry, LogQuery, ProvisioningLog, StoreError, TenantId};
use rusqlite::{OptionalExtension, params};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use time::OffsetDateTime;

use crate::cold::Cols;
use crate::log_blocks::{BLOCK_MAX, Block, Head, Pending, encode, heads, micros, parts};
use crate::log_names::{
    ERA_SHIFT, Names, NoteKey, Noted, PURGE_TENANT_NAMES, purge_names_after, rid,
};
use crate::{SqliteStore, exec, lite_err, log_pages};

/// How many resource rows one statement stores: one statement per row paid SQLite's
/// per-statement work for each.
const RIDS_PER_INSERT: usize = 32;

/// Stores `rows` resource rows.
fn insert_rids_sql(rows: usize) -> String {
    let rows: Vec<String> = (0..rows)
        .map(|r| format!("(?{}, ?{}, ?{})", r * 3 + 1, r * 3 + 2, r * 3 + 3))
        .collect();
    format!(
        "INSERT OR FAIL INTO provisioning_log_rids (era, rid, seq) VALUES {}",
        rows.join(", ")
    )
}

/// Stores one resource row.
static INSERT_RID: LazyLock<String> = LazyLock::new(|| insert_rids_sql(1));
/// Stores [`RIDS_PER_INSERT`] resource rows.
static INSERT_RIDS: LazyLock<String> = LazyLock::new(|| insert_rids_sql(RIDS_PER_INSERT));

/// Stores a block. `OR FAIL`: a failure rolls the log writer's whole transaction back.
const INSERT_BLOCK: &str = "INSERT OR FAIL INTO provisioning_log_blocks
    (tenant_id, first_seq, last_seq, min_at, max_at, total, refused, failed, kinds, heads, body)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/// The last `seq` given.
fn last_seq(tx: &rusqlite::Connection) -> Result<i64, StoreError> {
    tx.prepare_cached("SELECT seq FROM provisioning_log_next WHERE id = 0")
        .and_then(|mut s| s.query_row([], |r| r.get(0)).optional())
        .map_err(lite_err)?
        .ok_or_else(|| StoreError::Internal("the provisioning log has no last seq".into()))
}

/// A block's values after its tenant, in the order [`INSERT_BLOCK`] and the purge's rewrite
/// name them.
fn block_values(b: &Block) -> [&dyn rusqlite::ToSql; 10] {
    [
        &b.first_seq,
        &b.last_seq,
        &b.min_at,
        &b.max_at,
        &b.total,
        &b.refused,
        &b.failed,
        &b.kinds,
        &b.heads,
        &b.body,
    ]
}

/// Stores `entries` (of one tenant, in order, with their `seq`s, keys and numbers) as blocks.
fn write_blocks(
    tx: &rusqlite::Connection,
    tenant: &str,
    entries: &[Pending<'_>],
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(INSERT_BLOCK).map_err(lite_err)?;
    for chunk in entries.chunks(BLOCK_MAX) {
        let b = encode(chunk)?;
        let tenant: &dyn rusqlite::ToSql = &tenant;
        insert
            .execute(rusqlite::params_from_iter(
                std::iter::once(tenant).chain(block_values(&b)),
            ))
            .map_err(lite_err)?;
    }
    let rows: Vec<(i64, i64)> = entries
        .iter()
        .filter_map(|p| p.rid.map(|rid| (rid, p.seq)))
        .collect();
    let chunks = rows.chunks_exact(RIDS_PER_INSERT);
    let rest = chunks.remainder();
    let mut many = tx.prepare_cached(&INSERT_RIDS).map_err(lite_err)?;
    for chunk in chunks {
        for (n, (rid, seq)) in chunk.iter().enumerate() {
            for (i, value) in [seq >> ERA_SHIFT, *rid, *seq].into_iter().enumerate() {
                many.raw_bind_parameter(n * 3 + i + 1, value)
                    .map_err(lite_err)?;
            }
        }
        many.raw_execute().map_err(lite_err)?;
    }
    let mut one = tx.prepare_cached(&INSERT_RID).map_err(lite_err)?;
    for (rid, seq) in rest {
        one.execute(params![seq >> ERA_SHIFT, rid, seq])
            .map_err(lite_err)?;
    }
    Ok(())
}

/// Stores `entries` as blocks, tenant by tenant, each tenant's in their order: `seq_of` gives
/// each entry its `seq`, seeing its resource's key and number first.
fn write_by_tenant(
    tx: &rusqlite::Connection,
    entries: &[LogEntry],
    mut seq_of: impl FnMut(&LogEntry, &str, Option<i64>) -> Result<i64, StoreError>,
) -> Result<(), StoreError> {
    let keys: Vec<String> = entries
        .iter()
        .map(|e| log::resource_key(&e.resource_name))
        .collect();
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| {
        entries[a]
            .tenant_id
            .as_str()
            .cmp(entries[b].tenant_id.as_str())
    });
    for group in order.chunk_by(|&a, &b| entries[a].tenant_id == entries[b].tenant_id) {
        let tenant = entries[group[0]].tenant_id.as_str();
        let mut pending = Vec::with_capacity(group.len());
        for &n in group {
            let (entry, key) = (&entries[n], keys[n].as_str());
            let rid = rid(tenant, &entry.resource_id, key);
            let seq = seq_of(entry, key, rid)?;
            pending.push(Pending {
                entry,
                seq,
                key,
                rid,
            });
        }
        write_blocks(tx, tenant, &pending)?;
    }
    Ok(())
}

/// Appends `entries` on the log writer's connection, inside its transaction: each tenant's
/// entries of the batch, in order, get the next `seq`s and are stored as blocks; the names
/// their resources carried are noted (see `log_names`): the names to remember once committed.
fn append(
    tx: &rusqlite::Connection,
    entries: &[LogEntry],
    noted: &Noted,
) -> Result<Vec<u64>, StoreError> {
    let mut names = Names::new(tx, noted)?;
    let mut seq = last_seq(tx)?;
    write_by_tenant(tx, entries, |entry, key, rid| {
        names.note(entry.tenant_id.as_str(), &entry.resource_id, key, rid)?;
        seq += 1;
        Ok(seq)
    })?;
    tx.prepare_cached("UPDATE provisioning_log_next SET seq = ? WHERE id = 0")
        .and_then(|mut s| s.execute([seq]))
        .map_err(lite_err)?;
    Ok(names.learnt())
}

/// Which writer of the log's file claimed a batch (see `append_entries`).
const UNCLAIMED: u8 = 0;
const BACKGROUND: u8 = 1;
const NORMAL: u8 = 2;

/// How many entries of an earlier version's table one transaction moves into blocks.
const MOVE_CHUNK: i64 = 4096;

/// On the log writer's connection when it starts: sets the last `seq` given when the file has
/// none, or has one below the earlier version's table's (its `AUTOINCREMENT` counter, its
/// entries), then moves the entries of that table (a log file of an earlier version, or
/// entries moved from the main file) into blocks with their `seq`s, a chunk per transaction,
/// and empties it.
pub(crate) fn move_rows_to_blocks(conn: &rusqlite::Connection) -> Result<(), StoreError> {
    conn.execute_batch(
        "INSERT OR IGNORE INTO provisioning_log_next (id, seq) VALUES (0, max(
            coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'provisioning_log'), 0),
            coalesce((SELECT max(seq) FROM provisioning_log), 0),
            coalesce((SELECT max(last_seq) FROM provisioning_log_blocks), 0)))
         ON CONFLICT (id) DO UPDATE SET seq = max(seq, excluded.seq)",
    )
    .map_err(lite_err)?;
    let select = format!(
        "SELECT {} FROM provisioning_log ORDER BY seq LIMIT ?",
        decode::LOG_COLUMNS
    );
    let mut moved = 0usize;
    loop {
        let tx = conn.unchecked_transaction().map_err(lite_err)?;
        let rows: Vec<LogEntry> = {
            let mut statement = tx.prepare(&select).map_err(lite_err)?;
            let mut rows = statement.query([MOVE_CHUNK]).map_err(lite_err)?;
            let mut entries = Vec::new();
            while let Some(row) = rows.next().map_err(lite_err)? {
                entries.push(decode::log_entry(&Cols(row))?);
            }
            entries
        };
        let Some(last) = rows.last().map(|e| e.seq) else {
            break;
        };
        write_by_tenant(&tx, &rows, |entry, _, _| Ok(entry.seq))?;
        tx.execute("DELETE FROM provisioning_log WHERE seq <= ?", [last])
            .map_err(lite_err)?;
        tx.commit().map_err(lite_err)?;
        moved += rows.len();
    }
    if moved > 0 {
        tracing::info!(
            entries = moved,
            "moved the provisioning log's entries into blocks"
        );
    }
    Ok(())
}

#[async_trait]
impl ProvisioningLog for SqliteStore {
    async fn append_log(&self, entries: Vec<LogEntry>) -> Result<(), StoreError> {
        self.append_entries(entries, None).await
    }

    async fn append_log_in_background(
        &self,
        entries: Vec<LogEntry>,
        patience: Duration,
    ) -> Result<(), StoreError> {
        self.append_entries(entries, Some(patience)).await
    }

    async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (tenant, query) = (tenant.clone(), query.clone());
        // A page walks blocks until it has its entries: with a filter few entries match, that
        // can be long, so it runs off the runtime's workers.
        self.readers
            .blocking(move |conn| log_pages::page(conn, &tenant, &query))
            .await
    }

    async fn log_entry(&self, tenant: &TenantId, seq: i64) -> Result<Option<LogEntry>, StoreError> {
        self.readers
            .now(|conn| log_pages::entry(conn, tenant, seq))
            .await
    }

    async fn log_counts(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<LogCounts, StoreError> {
        let tenant = tenant.clone();
        self.readers
            .blocking(move |conn| log_pages::counts(conn, &tenant, since))
            .await
    }

    async fn purge_log(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        // Tenant by tenant, each a range of `(tenant_id, max_at)`: the blocks whose newest
        // entry arrived before `before`, then the few that hold entries on both sides of it,
        // written again without the older ones.
        let mut deleted = 0;
        let before = micros(before);
        for (tenant, exists) in self.logged_tenants().await? {
            deleted += if exists {
                let whole = self.delete_blocks(&tenant, Some(before)).await?;
                let id = tenant.as_str().to_owned();
                let cut = self
                    .log_writer
                    .write(move |tx| trim_blocks(tx, &id, before))
                    .await?;
                whole + cut
            } else {
                self.delete_tenant_log(&tenant).await?
            };
        }
        // A name can only lose its last entry when entries were deleted: a pass that deleted
        // none (every pass of a log younger than its retention, and the first, at start-up)
        // looks at no name. Names left by a process that stopped between the two are looked at
        // by the next pass that deletes entries (they only cost room: a page about such a name
        // finds no entry).
        if deleted > 0 {
            self.purge_names().await?;
        }
        Ok(deleted)
    }
}

/// How many blocks one purge statement deletes: up to 2,048 entries (see
/// `roster_store::sql::provisioning_log::PURGE_CHUNK`).
const PURGE_BLOCKS: i64 = 8;

/// The next tenant id in the log after one (an index seek per tenant, not a walk of the log).
const NEXT_LOGGED_TENANT: &str = "SELECT tenant_id FROM provisioning_log_blocks
    WHERE tenant_id > ? ORDER BY tenant_id LIMIT 1";

/// Deletes the resource rows of the entries `heads`, so that every such row is of an entry
/// the log holds (the purge of names relies on it).
fn delete_rids<'a>(
    tx: &rusqlite::Connection,
    heads: impl IntoIterator<Item = &'a Head>,
) -> Result<(), StoreError> {
    let mut delete = tx
        .prepare_cached("DELETE FROM provisioning_log_rids WHERE era = ? AND rid = ? AND seq = ?")
        .map_err(lite_err)?;
    for head in heads {
        if let Some(rid) = head.rid {
            delete
                .execute(params![head.seq >> ERA_SHIFT, rid, head.seq])
                .map_err(lite_err)?;
        }
    }
    Ok(())
}

/// Deletes up to [`PURGE_BLOCKS`] of a tenant's blocks, those whose newest entry arrived
/// before `before` when given, and their resource rows: how many blocks and how many entries.
fn delete_some_blocks(
    tx: &rusqlite::Connection,
    tenant: &str,
    before: Option<i64>,
) -> Result<(i64, u64), StoreError> {
    let blocks: Vec<(i64, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT id, heads FROM provisioning_log_blocks
             WHERE tenant_id = ?1 AND (?2 IS NULL OR max_at < ?2) LIMIT ?3",
        )
        .and_then(|mut s| {
            s.query_map(params![tenant, before, PURGE_BLOCKS], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?
            .collect()
        })
        .map_err(lite_err)?;
    let mut delete = tx
        .prepare_cached("DELETE FROM provisioning_log_blocks WHERE id = ?")
        .map_err(lite_err)?;
    let mut entries = 0;
    for (id, bytes) in &blocks {
        let heads = heads(bytes)?;
        delete_rids(tx, &heads)?;
        delete.execute([id]).map_err(lite_err)?;
        entries += heads.len() as u64;
    }
    Ok((blocks.len() as i64, entries))
}

/// Writes again, without the entries that arrived before `before`, the tenant's blocks that
/// hold entries on both sides of it: how many entries went.
fn trim_blocks(tx: &rusqlite::Connection, tenant: &str, before: i64) -> Result<u64, StoreError> {
    let blocks: Vec<(i64, Vec<u8>, Vec<u8>)> = tx
        .prepare_cached(
            "SELECT id, heads, body FROM provisioning_log_blocks
             WHERE tenant_id = ?1 AND max_at >= ?2 AND min_at < ?2",
        )
        .and_then(|mut s| {
            s.query_map(params![tenant, before], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect()
        })
        .map_err(lite_err)?;
    let id = TenantId::new(tenant);
    let mut cut = 0;
    for (block, head_bytes, body) in blocks {
        let (older, kept): (Vec<Head>, Vec<Head>) =
            heads(&head_bytes)?.into_iter().partition(|h| h.at < before);
        delete_rids(tx, &older)?;
        cut += older.len() as u64;
        let entries: Vec<LogEntry> = kept
            .iter()
            .zip(parts(&body, &kept)?)
            .map(|(h, part)| h.entry(&id, &part))
            .collect::<Result<_, _>>()?;
        let pending: Vec<Pending<'_>> = kept
            .iter()
            .zip(&entries)
            .map(|(h, entry)| Pending {
                entry,
                seq: h.seq,
                key: &h.key,
                rid: h.rid,
            })
            .collect();
        let b = encode(&pending)?;
        tx.prepare_cached(
            "UPDATE provisioning_log_blocks SET first_seq = ?, last_seq = ?, min_at = ?,
               max_at = ?, total = ?, refused = ?, failed = ?, kinds = ?, heads = ?, body = ?
             WHERE id = ?",
        )
        .and_then(|mut s| {
            let block: &dyn rusqlite::ToSql = &block;
            s.execute(rusqlite::params_from_iter(
                block_values(&b).into_iter().chain([block]),
            ))
        })
        .map_err(lite_err)?;
    }
    Ok(cut)
}

impl SqliteStore {
    /// Deletes a tenant's log, chunk by chunk, once the tenant is gone (see `delete_tenant`).
    pub(crate) async fn delete_tenant_log(&self, tenant: &TenantId) -> Result<u64, StoreError> {
        let deleted = self.delete_blocks(tenant, None).await?;
        self.noted.forget();
        self.delete_in_chunks(PURGE_TENANT_NAMES, vec![tenant.as_str().to_owned()])
            .await?;
        Ok(deleted)
    }

    /// Deletes a tenant's blocks (those before a time, when given), [`PURGE_BLOCKS`] per
    /// write: how many entries they held.
    async fn delete_blocks(
        &self,
        tenant: &TenantId,
        before: Option<i64>,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let tenant = tenant.as_str().to_owned();
            let (blocks, entries) = self
                .log_writer
                .write(move |tx| delete_some_blocks(tx, &tenant, before))
                .await?;
            deleted += entries;
            if blocks < PURGE_BLOCKS {
                return Ok(deleted);
            }
        }
    }

    /// Deletes the names noted of resource numbers no entry carries any more (their entries
    /// purged), a chunk of [`PURGE_CHUNK`] names looked at per write, in key order.
    async fn purge_names(&self) -> Result<(), StoreError> {
        let mut after: Option<NoteKey> = None;
        loop {
            let (from, noted) = (after.clone(), self.noted.clone());
            let (last, _) = self
                .log_writer
                .write(move |tx| purge_names_after(tx, from.as_ref(), &noted))
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

impl SqliteStore {
    /// Appends `entries`: with `patience`, on the log's background writer (it runs only when a
    /// core would be idle, which on a machine kept busy may be seconds away), taken over by the
    /// normal one when it has not started the write by then; without, on the normal one.
    async fn append_entries(
        &self,
        mut entries: Vec<LogEntry>,
        patience: Option<Duration>,
    ) -> Result<(), StoreError> {
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
        let claim = Arc::new(AtomicU8::new(UNCLAIMED));
        let job = |me: u8| {
            let (entries, noted, claim) = (entries.clone(), self.noted.clone(), claim.clone());
            move |tx: &rusqlite::Connection| {
                // The first writer to start the batch claims it (a writer running its job
                // again, after another write of its group failed, holds the claim already).
                match claim.compare_exchange(UNCLAIMED, me, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {}
                    Err(holder) if holder == me => {}
                    Err(_) => return Ok(None),
                }
                append(tx, &entries, &noted).map(Some)
            }
        };
        let learnt = if let Some(patience) = patience.filter(|p| !p.is_zero()) {
            let started = self.log_background.write(job(BACKGROUND));
            tokio::pin!(started);
            match tokio::time::timeout(patience, &mut started).await {
                Ok(done) => done?,
                Err(_) if claim.load(Ordering::Acquire) == UNCLAIMED => {
                    // Taken over, unless the background writer starts it meanwhile: then the
                    // normal one waits for its lock and leaves the batch to it.
                    let rescued = self.log_writer.write(job(NORMAL)).await;
                    match rescued {
                        Ok(Some(learnt)) => Some(learnt),
                        Err(e) if claim.load(Ordering::Acquire) == NORMAL => return Err(e),
                        Ok(None) | Err(_) => started.await?,
                    }
                }
                Err(_) => started.await?,
            }
        } else {
            self.log_writer.write(job(NORMAL)).await?
        };
        if let Some(learnt) = learnt {
            self.noted.learn(learnt);
        }
        Ok(())
    }
}
