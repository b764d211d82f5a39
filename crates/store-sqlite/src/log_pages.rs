//! Reading the provisioning log's blocks (see `log_blocks`) on a reader: a page under its
//! filters, one entry, the health summary's counts.
//!
//! A page without a resource walks the tenant's blocks in `seq` order from its cursor (the index
//! on `(tenant_id, first_seq, kinds)`: a block whose `kinds` lack what the page's outcome,
//! action or client filter asks is passed over there, its heads not read), reads each block's
//! heads and keeps the entries that pass, until it has its page; a time window ends the walk
//! at the first block the window can hold (the index on `(tenant_id, max_at)`), and a window
//! that ends in the past passes over the blocks that start after it (their `min_at`, read from
//! the block's row without its heads). A page about a resource walks, for each number the
//! resource's entries may carry (`log_names::rids`), its `seq`s in `provisioning_log_rids` era
//! by era, each walk at most a page long and within the `seq`s of the blocks the window can
//! hold, and keeps the best page of them; each `seq` is looked up in its block's heads. Only
//! the entries a page shows have their part of a body read, and only that part (SQLite's
//! incremental blob reads).

use roster_store::sql::provisioning_log::{MAX_PAGE, resource_key};
use roster_store::{LogCounts, LogEntry, LogQuery, StoreError, TenantId};
use rusqlite::{Connection, DatabaseName, OptionalExtension, params};

use crate::lite_err;
use crate::log_blocks::{Head, Stored, head_of, heads, micros, needed};
use crate::log_frames::LastFrame;
use crate::log_names::{ERA_SHIFT, rids};

/// The schema the readers attach the log's file as (see `connect`).
const SCHEMA: &str = "provlog";

/// A block's heads as stored, with its id and the range of its `seq`s.
struct Block {
    id: i64,
    first_seq: i64,
    last_seq: i64,
    heads: Vec<u8>,
}

/// An entry a page shows: its block and its head.
type Found = (i64, Head);

/// A page of `tenant`'s log as `query` asks.
pub(crate) fn page(
    conn: &Connection,
    tenant: &TenantId,
    query: &LogQuery,
) -> Result<Vec<LogEntry>, StoreError> {
    let limit = query.limit.min(MAX_PAGE) as usize;
    if limit == 0 {
        return Ok(Vec::new());
    }
    // The first `seq` a block in the window starts with: no block before it holds an entry
    // at or after `since`.
    const FLOOR: &str = "SELECT min(first_seq) FROM provisioning_log_blocks
                         WHERE tenant_id = ? AND max_at >= ?";
    let Some(floor) = bound(conn, tenant, FLOOR, query.since, i64::MIN)? else {
        return Ok(Vec::new());
    };
    let found = match &query.resource {
        None => walk_blocks(conn, tenant, query, floor, limit)?,
        Some(resource) => by_resource(conn, tenant, query, resource, floor, limit)?,
    };
    entries(conn, tenant, found)
}

/// A `seq` that bounds a window's walk at one end, from the blocks' rows: `sql` (binds: the
/// tenant, the time) of `at`, or `unbounded` when the window is open at that end; `None` when
/// no block can hold an entry of the window.
fn bound(
    conn: &Connection,
    tenant: &TenantId,
    sql: &str,
    at: Option<time::OffsetDateTime>,
    unbounded: i64,
) -> Result<Option<i64>, StoreError> {
    let Some(at) = at else {
        return Ok(Some(unbounded));
    };
    conn.prepare_cached(sql)
        .and_then(|mut s| s.query_row(params![tenant.as_str(), micros(at)], |r| r.get(0)))
        .map_err(lite_err)
}

/// The first `limit` entries of the tenant's blocks that pass `query`, in its order.
fn walk_blocks(
    conn: &Connection,
    tenant: &TenantId,
    query: &LogQuery,
    floor: i64,
    limit: usize,
) -> Result<Vec<Found>, StoreError> {
    let ascending = query.after.is_some();
    // A block whose first entry arrived at or after `until` holds nothing the page shows.
    let until = query.until.map_or(i64::MAX, micros);
    let mut statement = if let Some(after) = query.after {
        // From the block that holds `after` (or the first after it), oldest first.
        let start: Option<i64> = conn
            .prepare_cached(
                "SELECT max(first_seq) FROM provisioning_log_blocks
                 WHERE tenant_id = ? AND first_seq <= ?",
            )
            .and_then(|mut s| s.query_row(params![tenant.as_str(), after], |r| r.get(0)))
            .map_err(lite_err)?;
        let mut s = conn
            .prepare_cached(
                "SELECT id, heads FROM provisioning_log_blocks
                 WHERE tenant_id = ? AND first_seq >= ? AND kinds & ?3 = ?3 AND min_at < ?4
                 ORDER BY first_seq ASC",
            )
            .map_err(lite_err)?;
        s.raw_bind_parameter(1, tenant.as_str()).map_err(lite_err)?;
        s.raw_bind_parameter(2, start.unwrap_or(i64::MIN).max(floor))
            .map_err(lite_err)?;
        s.raw_bind_parameter(3, needed(query)).map_err(lite_err)?;
        s.raw_bind_parameter(4, until).map_err(lite_err)?;
        s
    } else {
        let mut s = conn
            .prepare_cached(
                "SELECT id, heads FROM provisioning_log_blocks
                 WHERE tenant_id = ? AND first_seq < ? AND first_seq >= ? AND kinds & ?4 = ?4
                   AND min_at < ?5
                 ORDER BY first_seq DESC",
            )
            .map_err(lite_err)?;
        s.raw_bind_parameter(1, tenant.as_str()).map_err(lite_err)?;
        s.raw_bind_parameter(2, query.before.unwrap_or(i64::MAX))
            .map_err(lite_err)?;
        s.raw_bind_parameter(3, floor).map_err(lite_err)?;
        s.raw_bind_parameter(4, needed(query)).map_err(lite_err)?;
        s.raw_bind_parameter(5, until).map_err(lite_err)?;
        s
    };
    let mut rows = statement.raw_query();
    let mut found = Vec::new();
    while let Some(row) = rows.next().map_err(lite_err)? {
        let id: i64 = row.get(0).map_err(lite_err)?;
        let bytes = row.get_ref(1).map_err(lite_err)?;
        let bytes = bytes
            .as_blob()
            .map_err(|e| StoreError::Internal(format!("a provisioning log block's heads: {e}")))?;
        let heads = heads(bytes)?;
        let mut keep = |head: Head| {
            if head.passes(query) {
                found.push((id, head));
            }
            found.len() >= limit
        };
        let full = if ascending {
            heads.into_iter().any(&mut keep)
        } else {
            heads.into_iter().rev().any(&mut keep)
        };
        if full {
            break;
        }
    }
    Ok(found)
}

/// The first `limit` entries about `resource` that pass `query`, in its order: the best of
/// one walk per resource number.
fn by_resource(
    conn: &Connection,
    tenant: &TenantId,
    query: &LogQuery,
    resource: &str,
    floor: i64,
    limit: usize,
) -> Result<Vec<Found>, StoreError> {
    let key = resource_key(resource);
    // Two statements: SQLite seeks one end of a key for a lone `min` or `max`, and reads the
    // whole table for both in one.
    let end = |sql: &str| -> Result<Option<i64>, StoreError> {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.query_row([], |r| r.get(0)))
            .map_err(lite_err)
    };
    let eras = end("SELECT min(era) FROM provisioning_log_rids")?
        .zip(end("SELECT max(era) FROM provisioning_log_rids")?);
    let Some((oldest, newest)) = eras else {
        return Ok(Vec::new());
    };
    // The last `seq` of a block that can hold an entry before `until`: later entries about the
    // resource are not looked up.
    const CEILING: &str = "SELECT max(last_seq) FROM provisioning_log_blocks
                           WHERE tenant_id = ? AND min_at < ?";
    let Some(ceiling) = bound(conn, tenant, CEILING, query.until, i64::MAX)? else {
        return Ok(Vec::new());
    };
    let ascending = query.after.is_some();
    let (low, high) = match (query.after, query.before) {
        (Some(after), _) => ((after >> ERA_SHIFT).max(oldest), newest),
        (None, Some(before)) => (oldest, (before >> ERA_SHIFT).min(newest)),
        (None, None) => (oldest, newest),
    };
    let low = low.max(floor >> ERA_SHIFT);
    let high = high.min(ceiling >> ERA_SHIFT);
    let eras: Vec<i64> = if ascending {
        (low..=high).collect()
    } else {
        (low..=high).rev().collect()
    };
    let sql = if ascending {
        "SELECT seq FROM provisioning_log_rids
         WHERE era = ? AND rid = ? AND seq BETWEEN ? AND ? ORDER BY seq ASC"
    } else {
        "SELECT seq FROM provisioning_log_rids
         WHERE era = ? AND rid = ? AND seq BETWEEN ? AND ? ORDER BY seq DESC"
    };
    let mut blocks = Blocks::new(conn, tenant);
    let mut found: Vec<Found> = Vec::new();
    for rid in rids(conn, tenant, resource)? {
        let mut walk = 0;
        'eras: for &era in &eras {
            let mut seqs = conn.prepare_cached(sql).map_err(lite_err)?;
            let seqs: Vec<i64> = seqs
                .query_map(params![era, rid, floor, ceiling], |r| r.get(0))
                .map_err(lite_err)?
                .collect::<Result<_, _>>()
                .map_err(lite_err)?;
            for seq in seqs {
                let Some((id, head)) = blocks.head(seq)? else {
                    continue;
                };
                if head.rid == Some(rid) && head.about(resource, &key) && head.passes(query) {
                    found.push((id, head));
                    walk += 1;
                    if walk >= limit {
                        break 'eras;
                    }
                }
            }
        }
    }
    if ascending {
        found.sort_by_key(|(_, h)| h.seq);
    } else {
        found.sort_by_key(|(_, h)| std::cmp::Reverse(h.seq));
    }
    found.dedup_by_key(|(_, h)| h.seq);
    found.truncate(limit);
    Ok(found)
}

/// The most blocks [`Blocks`] keeps (a walk goes in `seq` order: a block it has left is seldom
/// needed again).
const BLOCKS_KEPT: usize = 16;

/// The blocks one page has read last, and the head of a `seq` in them.
struct Blocks<'a> {
    conn: &'a Connection,
    tenant: &'a TenantId,
    read: Vec<Block>,
}

impl<'a> Blocks<'a> {
    fn new(conn: &'a Connection, tenant: &'a TenantId) -> Self {
        Blocks {
            conn,
            tenant,
            read: Vec::new(),
        }
    }

    /// The block and head of the tenant's entry `seq`, if it is in the log.
    fn head(&mut self, seq: i64) -> Result<Option<(i64, Head)>, StoreError> {
        let known = self
            .read
            .iter()
            .position(|b| (b.first_seq..=b.last_seq).contains(&seq));
        let at = match known {
            Some(at) => at,
            None => match block_of(self.conn, self.tenant, seq)? {
                Some(block) => {
                    // A walk goes in `seq` order: the blocks it left behind are not read
                    // again, and a long walk (a resource with many entries, few of them
                    // passing) keeps no more than these.
                    if self.read.len() == BLOCKS_KEPT {
                        self.read.remove(0);
                    }
                    self.read.push(block);
                    self.read.len() - 1
                }
                None => return Ok(None),
            },
        };
        let block = &self.read[at];
        Ok(head_of(&block.heads, seq)?.map(|head| (block.id, head)))
    }
}

/// The tenant's block whose range holds `seq`, if any.
fn block_of(conn: &Connection, tenant: &TenantId, seq: i64) -> Result<Option<Block>, StoreError> {
    let mut statement = conn
        .prepare_cached(
            "SELECT id, first_seq, last_seq, heads FROM provisioning_log_blocks
             WHERE tenant_id = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
        )
        .map_err(lite_err)?;
    let row = statement
        .query_row(params![tenant.as_str(), seq], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Vec<u8>>(3)?))
        })
        .optional()
        .map_err(lite_err)?;
    match row {
        Some((id, first_seq, last_seq, heads)) if seq <= last_seq => Ok(Some(Block {
            id,
            first_seq,
            last_seq,
            heads,
        })),
        _ => Ok(None),
    }
}

/// The whole entries of `found`, in its order: each one's part of its block's body read.
fn entries(
    conn: &Connection,
    tenant: &TenantId,
    found: Vec<Found>,
) -> Result<Vec<LogEntry>, StoreError> {
    // The body last read: its block, how it is stored, the frame last decompressed.
    let mut body: Option<(i64, Stored, LastFrame)> = None;
    found
        .into_iter()
        .map(|(id, head)| {
            let blob = conn
                .blob_open(
                    DatabaseName::Attached(SCHEMA),
                    "provisioning_log_blocks",
                    "body",
                    id,
                    true,
                )
                .map_err(lite_err)?;
            let read = |out: &mut [u8], at: usize| blob.read_at_exact(out, at).map_err(lite_err);
            if body.as_ref().is_none_or(|(block, ..)| *block != id) {
                body = Some((id, Stored::read(read)?, None));
            }
            let Some((_, stored, last)) = body.as_mut() else {
                unreachable!("a body was just read")
            };
            head.entry(tenant, &stored.part(&head, last, read)?)
        })
        .collect()
}

/// The tenant's entry `seq`, if it is in the log.
pub(crate) fn entry(
    conn: &Connection,
    tenant: &TenantId,
    seq: i64,
) -> Result<Option<LogEntry>, StoreError> {
    let mut blocks = Blocks::new(conn, tenant);
    let Some((id, head)) = blocks.head(seq)? else {
        return Ok(None);
    };
    Ok(entries(conn, tenant, vec![(id, head)])?.pop())
}

/// The tenant's requests since a time, and how many were refused or failed: whole blocks by
/// their counts, a block the window cuts by its heads.
pub(crate) fn counts(
    conn: &Connection,
    tenant: &TenantId,
    since: time::OffsetDateTime,
) -> Result<LogCounts, StoreError> {
    let since = micros(since);
    let mut statement = conn
        .prepare_cached(
            "SELECT id, min_at, total, refused, failed FROM provisioning_log_blocks
             WHERE tenant_id = ? AND max_at >= ?",
        )
        .map_err(lite_err)?;
    let mut rows = statement
        .query(params![tenant.as_str(), since])
        .map_err(lite_err)?;
    let mut counts = LogCounts::default();
    let mut add = |total: i64, refused: i64, failed: i64| {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        counts.total += n(total);
        counts.refused += n(refused);
        counts.failed += n(failed);
    };
    while let Some(row) = rows.next().map_err(lite_err)? {
        let block = |n: usize| row.get::<_, i64>(n).map_err(lite_err);
        let (id, min_at) = (block(0)?, block(1)?);
        if min_at >= since {
            add(block(2)?, block(3)?, block(4)?);
            continue;
        }
        let bytes: Vec<u8> = conn
            .prepare_cached("SELECT heads FROM provisioning_log_blocks WHERE id = ?")
            .and_then(|mut s| s.query_row([id], |r| r.get(0)))
            .map_err(lite_err)?;
        for head in heads(&bytes)?.iter().filter(|h| h.at >= since) {
            use roster_store::Outcome::*;
            match head.outcome {
                Succeeded => add(1, 0, 0),
                Refused => add(1, 1, 0),
                Failed => add(1, 0, 1),
            }
        }
    }
    Ok(counts)
}
