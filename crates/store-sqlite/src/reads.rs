//! The hot reads (a resource by id, a page of a list, a group's members, users' groups) run on
//! connections of their own, on the calling thread.
//!
//! (Before, sqlx ran each SQLite connection on a thread of its own and every statement was a round
//! trip to it: two thread wakeups, and a channel message per row. A lookup by id costs SQLite a
//! few microseconds; the round trip cost more than the lookup, and the kernel's share of the
//! server's time was half.) Here a read waits for one of four permits, takes an idle connection (or opens
//! one), runs its statement where it is called, and gives the connection back.
//!
//! Reads that are bounded (a user by id, a page under `LIMIT` near the start) run on the
//! request's own task;
//! reads that may walk a large part of a tenant (a group's members, a filter the SQL only
//! narrows) run on tokio's blocking threads, so that they never hold up the runtime's workers.
//!
//! Each connection maps the database file, or not, as its reads find it changing (`mapping`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use roster_store::sql::{Bind, groups_from_json};
use roster_store::{Kind, Member, StoreError, StoredResource};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, Row};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::connect::{Role, connect};
use crate::mapping::{Commits, MAPPED, Mapping, UNMAPPED};

/// The most connections open at once: each holds up to 8 MB of page cache, and two workers
/// and a few blocking reads keep four busy.
const MAX_CONNECTIONS: usize = 4;

/// Read-only connections to the database file, shared by the store's clones.
#[derive(Debug, Clone)]
pub struct Readers {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    idle: Mutex<Vec<Reader>>,
    commits: Commits,
    /// How many connections are open (none is ever closed: each is given back).
    open: AtomicUsize,
    /// One permit per connection that may be open; a read holds one while it runs.
    permits: Semaphore,
}

impl Readers {
    /// Readers of the database at `path`, which exists and is in WAL mode; one connection is
    /// opened now, so that a path that cannot be read fails at start.
    pub fn open(path: &Path, commits: Commits) -> Result<Readers, StoreError> {
        let readers = Readers {
            inner: Arc::new(Inner {
                path: path.to_owned(),
                idle: Mutex::new(Vec::new()),
                commits,
                open: AtomicUsize::new(0),
                permits: Semaphore::new(MAX_CONNECTIONS),
            }),
        };
        let first = readers.connect()?;
        readers.give_back(first);
        Ok(readers)
    }

    fn connect(&self) -> Result<Reader, StoreError> {
        let conn = connect(&self.inner.path, Role::Reader)?;
        self.inner.open.fetch_add(1, Ordering::Relaxed);
        Ok(Reader {
            conn,
            seen: self.inner.commits.now(),
            mapping: Mapping::default(),
        })
    }

    /// The pool's figures: the most connections, those open, those idle.
    pub fn stats(&self) -> (u32, u32, usize) {
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len();
        let open = u32::try_from(self.inner.open.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        (MAX_CONNECTIONS as u32, open, idle)
    }

    fn take(&self) -> Result<Reader, StoreError> {
        let idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .pop();
        match idle {
            Some(reader) => Ok(reader),
            None => self.connect(),
        }
    }

    fn give_back(&self, reader: Reader) {
        let mut idle = self
            .inner
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.push(reader);
    }

    /// Runs `f` on a connection; the caller holds a permit.
    fn run<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut reader = self.take()?;
        reader.follow(self.inner.commits.now());
        let result = f(&reader.conn);
        self.give_back(reader);
        result
    }

    async fn permit(&self) -> Result<SemaphorePermit<'_>, StoreError> {
        self.inner
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Unavailable("the database readers have stopped".into()))
    }

    /// Runs `f` on a connection, on the calling task: for bounded reads. Waiting for a free
    /// connection is the only await.
    pub async fn now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _permit = self.permit().await?;
        self.run(f)
    }

    /// Runs `f` on a connection on a blocking thread: for reads that may be long.
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let permit = self.permit().await?;
        let readers = self.clone();
        let result = tokio::task::spawn_blocking(move || readers.run(f))
            .await
            .map_err(|e| StoreError::Internal(format!("a read stopped: {e}")))?;
        drop(permit);
        result
    }
}

/// A reader's connection, the writer's commits it last saw, and its mapping.
#[derive(Debug)]
struct Reader {
    conn: Connection,
    seen: u64,
    mapping: Mapping,
}

impl Reader {
    /// Before a read, with the writer's `commits` so far: maps or unmaps the connection's
    /// files as its reads find the database changing. A refused switch (the statement only
    /// sets a limit, so none is expected) leaves the connection as it was, and the read goes
    /// on.
    fn follow(&mut self, commits: u64) {
        let changed = std::mem::replace(&mut self.seen, commits) != commits;
        if let Some(mapped) = self.mapping.observe(changed) {
            let statement = if mapped { MAPPED } else { UNMAPPED };
            if let Err(e) = self.conn.execute_batch(statement) {
                tracing::warn!(error = %e, statement, "a reader could not change its mapping");
                self.mapping.refused();
            }
        }
    }
}

/// A translated filter's parameter as this backend stores it: times as fixed-width text,
/// booleans as 0/1.
pub fn value(b: &Bind) -> SqlValue {
    match b {
        Bind::Text(s) => SqlValue::Text(s.clone()),
        Bind::Bool(v) => SqlValue::Integer(i64::from(*v)),
        Bind::Time(t) => SqlValue::Text(crate::ts(*t)),
        Bind::Int(n) => SqlValue::Integer(*n),
    }
}

/// Reads a row of [`crate::RESOURCE_COLUMNS`] (or [`crate::RESOURCE_COLUMNS_WITH_GROUPS`]).
pub fn resource(row: &Row<'_>) -> rusqlite::Result<Result<(i64, StoredResource), StoreError>> {
    let seq: i64 = row.get(0)?;
    let id: String = row.get(1)?;
    let kind: String = row.get(2)?;
    let version: i64 = row.get(3)?;
    let created: String = row.get(4)?;
    let last_modified: String = row.get(5)?;
    let data: String = row.get(6)?;
    let groups: Option<String> = if row.as_ref().column_count() > 7 {
        row.get(7)?
    } else {
        None
    };
    Ok(build(
        seq,
        id,
        &kind,
        version,
        &created,
        &last_modified,
        &data,
        groups,
    ))
}

/// A resource from its columns as stored.
#[allow(clippy::too_many_arguments)]
pub fn build(
    seq: i64,
    id: String,
    kind: &str,
    version: i64,
    created: &str,
    last_modified: &str,
    data: &str,
    groups: Option<String>,
) -> Result<(i64, StoredResource), StoreError> {
    let groups = groups.as_deref().map(groups_from_json).transpose()?;
    Ok((
        seq,
        StoredResource {
            id,
            kind: Kind::parse(kind)
                .ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?,
            version,
            created: crate::parse_ts(created)?,
            last_modified: crate::parse_ts(last_modified)?,
            data: serde_json::from_str(data).map_err(|e| StoreError::Internal(e.to_string()))?,
            members: None,
            groups,
        },
    ))
}

/// Runs `stmt` with `params` and reads its resource rows.
pub fn resources(
    conn: &Connection,
    stmt: &str,
    params: &[SqlValue],
) -> Result<Vec<(i64, StoredResource)>, StoreError> {
    let mut budget = roster_store::PageBudget::of_bytes(usize::MAX);
    resources_within(conn, stmt, params, &mut budget, |_, _| Ok(()))
}

/// Hands each resource a statement selects to `each`, as it is read, without collecting them.
pub fn each_resource(
    conn: &Connection,
    stmt: &str,
    params: &[SqlValue],
    mut each: impl FnMut(i64, StoredResource) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(stmt).map_err(crate::lite_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(crate::lite_err)?;
    while let Some(row) = rows.next().map_err(crate::lite_err)? {
        let (seq, r) = resource(row).map_err(crate::lite_err)??;
        each(seq, r)?;
    }
    Ok(())
}

/// The resources a statement selects, until `budget` is spent (at least one): each row's
/// stored JSON counts, and what `then` adds (a group's members, read as the row is taken).
pub fn resources_within(
    conn: &Connection,
    stmt: &str,
    params: &[SqlValue],
    budget: &mut roster_store::PageBudget,
    mut then: impl FnMut(i64, &mut StoredResource) -> Result<(), StoreError>,
) -> Result<Vec<(i64, StoredResource)>, StoreError> {
    let mut stmt = conn.prepare_cached(stmt).map_err(crate::lite_err)?;
    let mut rows = stmt
        .query(rusqlite::params_from_iter(params))
        .map_err(crate::lite_err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(crate::lite_err)? {
        if !budget.admits(out.len()) {
            break;
        }
        let bytes = row
            .get_ref(6)
            .map_err(crate::lite_err)?
            .as_bytes()
            .map_or(0, <[u8]>::len);
        budget.spend(bytes);
        let (seq, mut r) = resource(row).map_err(crate::lite_err)??;
        then(seq, &mut r)?;
        budget.spend_relations(&r);
        out.push((seq, r));
    }
    Ok(out)
}

/// A group's members, in member creation order.
pub fn members_of(conn: &Connection, group_seq: i64) -> Result<Vec<Member>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT m.id, m.kind, coalesce(x.display, m.display)
             FROM members x JOIN resources m ON m.seq = x.member_seq
             WHERE x.group_seq = ? ORDER BY m.seq",
        )
        .map_err(crate::lite_err)?;
    let rows = stmt
        .query_map([group_seq], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, Option<String>>(2)?,
            ))
        })
        .map_err(crate::lite_err)?;
    let mut out = Vec::new();
    for row in rows {
        let (id, kind, display) = row.map_err(crate::lite_err)?;
        out.push(Member {
            id,
            kind: Kind::parse(&kind)
                .ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?,
            display,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod mapping_tests {
    use super::*;

    fn mmap_size(readers: &Readers) -> i64 {
        readers
            .run(|conn| {
                conn.query_row("PRAGMA mmap_size", [], |r| r.get(0))
                    .map_err(crate::lite_err)
            })
            .expect("a read")
    }

    #[test]
    fn a_reader_unmaps_while_the_database_keeps_changing_and_maps_again_when_it_stops() {
        let dir = tempfile::tempdir().expect("a directory");
        let path = dir.path().join("r.db");
        connect(&path, Role::Writer).expect("the file");
        let commits = Commits::default();
        let readers = Readers::open(&path, commits.clone()).expect("readers");
        assert_eq!(mmap_size(&readers), 1 << 30);
        for _ in 0..40 {
            commits.note();
            mmap_size(&readers);
        }
        assert_eq!(mmap_size(&readers), 0, "unmapped under writes");
        for _ in 0..60 {
            mmap_size(&readers);
        }
        assert_eq!(mmap_size(&readers), 1 << 30, "mapped again");
    }
}
