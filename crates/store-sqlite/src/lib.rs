//! The SQLite storage backend: one file (and the provisioning log's beside it), WAL mode, one writer thread and a few readers, all on
//! rusqlite: the writer (`writer`) runs every write, the migrations (`migrate`) and the key fold
//! (`key_fold`); the readers (`reads`) run the hot reads and the cold ones (`cold`) where they
//! are called; a background task copies the WAL back into the file (`checkpoints`). Every
//! connection is opened by `connect`, with the settings of its role.
//!
//! Each storage trait is implemented in a file of its own (`tenants`, `credentials`,
//! `resources`, `change_log`, `webhooks`, `console`, `provisioning_log`, `health`). SCIM
//! filters become SQL in exactly one function, `roster_store::sql::translate`; what it cannot
//! express is evaluated in memory by the protocol crate over the rows the SQL narrowed down.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use roster_store::StoreError;
use roster_store::background::Priority;
use rusqlite::{Connection, OptionalExtension};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::connect::{Role, connect};
use crate::key_fold::refold_keys;

mod approvals;
mod change_log;
mod cold;
mod connect;
mod console;
mod credentials;
mod health;
mod hold;
mod key_fold;
mod log_blocks;
mod log_frames;
mod log_names;
mod log_pages;
mod mapping;
mod migrate;
mod outbound;
mod provisioning_log;
mod reads;
mod resources;
mod sso;
mod tenants;
mod webhooks;
mod writer;

#[cfg(test)]
mod log_format_tests;
#[cfg(test)]
mod log_rescue_tests;

pub use writer::LOG_IDLE;

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    /// The provisioning log's writer, on its own file (see `connect`): the log's batches
    /// never wait for, nor hold up, the directory's writes.
    log_writer: writer::Writer,
    /// A second writer of the log's file, on its own connection and thread, at the lowest
    /// scheduling priority: the recorder's batches go to it first, so that writing them takes
    /// the CPU time SCIM leaves idle; `log_writer` takes a batch over when this one has not
    /// started it in time (see `provisioning_log`).
    log_background: writer::Writer,
    /// The reads' connections (see `reads`).
    readers: reads::Readers,
    /// The names of resources the log has noted (see `log_names`).
    noted: log_names::Noted,
}

/// A rusqlite error as the store reports it: a database another process holds past the busy
/// timeout is unavailable, anything else internal.
fn lite_err(e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _)
        if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
            || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY)
}

/// Timestamps are stored as fixed-width UTC text, so that text order is time order and a
/// `meta.lastModified gt` filter is an index range scan.
fn ts(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

fn parse_ts(s: &str) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| StoreError::Internal(format!("bad timestamp {s:?}: {e}")))
}

impl SqliteStore {
    /// Opens (creating if missing) the database at `url` (`sqlite://roster.db`) and brings its
    /// schema up to date.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let path = connect::file_of(url)?.to_owned();
        let migrating = path.clone();
        let (conn, log_conn, background_conn, noted) = tokio::task::spawn_blocking(move || {
            let conn = connect(&migrating, Role::Writer)?;
            migrate::run(&conn, migrate::MIGRATIONS)?;
            // The migrations may move entries into the log's file; from now on only its own
            // writer writes there (one transaction on both files would lock both).
            conn.execute_batch("DETACH DATABASE provlog")
                .map_err(lite_err)?;
            let log_conn = connect(&migrating, Role::LogWriter)?;
            let background_conn = connect(&migrating, Role::LogWriter)?;
            let noted = log_names::Noted::default();
            noted.load(&log_conn)?;
            Ok::<_, StoreError>((conn, log_conn, background_conn, noted))
        })
        .await
        .map_err(|e| StoreError::Internal(format!("migrating the database stopped: {e}")))??;
        let conn = refold_keys(conn).await?;
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let log_restart_wanted = Arc::new(AtomicBool::new(false));
        let commits = mapping::Commits::default();
        let writer = writer::Writer::start(conn, restart_wanted.clone(), commits.clone())?;
        let log_writer = writer::Writer::start_named(
            log_conn,
            log_restart_wanted.clone(),
            mapping::Commits::default(),
            ("roster-sqlite-log", Priority::Normal),
            writer::LOG_IDLE,
        )?;
        // When the checkpointer asks for the log's WAL to start over, whichever of the two
        // writers of its file is next between two writes does it.
        let log_background = writer::Writer::start_named(
            background_conn,
            log_restart_wanted.clone(),
            mapping::Commits::default(),
            ("roster-logwrite", Priority::Background),
            writer::LOG_IDLE,
        )?;
        let checkpointer = connect(&path, Role::Checkpointer)?;
        tokio::spawn(checkpoints(
            checkpointer,
            [("main", restart_wanted), ("provlog", log_restart_wanted)],
        ));
        let readers = reads::Readers::open(&path, commits)?;
        Ok(SqliteStore {
            writer,
            log_writer,
            log_background,
            readers,
            noted,
        })
    }
}

/// The WAL's size past which it should start over: the size `journal_size_limit` cuts the
/// file back to, so that a WAL that starts over writes into the file's own blocks again. In
/// frames, this depends on the file's page size: 16,384 of the main file's 4 KiB pages, 4,096
/// of a log file's 16 KiB pages, 1,024 of an older log file's 64 KiB pages (a limit of 16,384
/// frames let such a log's WAL grow to 1 GiB, every append past its end allocating blocks and
/// filling the page cache).
const WAL_BYTES_LIMIT: i64 = 64 << 20;

/// Copies the WAL's committed pages into the database every two seconds, without blocking
/// writers or readers (`PASSIVE`), so that the writer seldom pays for a checkpoint inside a
/// request (its own automatic checkpoint is off). Each pass ends in an fsync of the database
/// file, which delays the writer's next WAL append: every half second, that put a group
/// member add's p99 at 11–22 ms; every two seconds, at 9.5–10.8 ms.
///
/// The WAL starts over only once everything in it has been copied, at the start of a write.
/// Under a write load that never pauses, this task never catches up with the last commit, so
/// past [`WAL_BYTES_LIMIT`] it copies what it can once more and asks the writer to run
/// a `RESTART` checkpoint between two batches: with no write in progress that checkpoint
/// copies the few pages left and the log starts over, bounded. Ends when the checkpoint
/// connection fails (the process is going away).
async fn checkpoints(conn: Connection, files: [(&'static str, Arc<AtomicBool>); 2]) {
    let conn = Arc::new(Mutex::new(conn));
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let (conn, files) = (conn.clone(), files.clone());
        let pass = tokio::task::spawn_blocking(move || {
            let conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            files.iter().try_for_each(|(schema, restart_wanted)| {
                checkpoint_pass(&conn, schema, restart_wanted)
            })
        })
        .await;
        match pass {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
        }
    }
}

/// One pass of [`checkpoints`] over the file attached as `schema`, on a blocking thread (it
/// syncs the file); past the limit, that file's writer is asked to start its WAL over.
fn checkpoint_pass(
    conn: &Connection,
    schema: &str,
    restart_wanted: &AtomicBool,
) -> rusqlite::Result<()> {
    // Answers (busy, frames in the WAL, frames copied into the database).
    let sql = format!("PRAGMA {schema}.wal_checkpoint(PASSIVE)");
    let passive = || conn.query_row(&sql, [], |r| r.get::<_, i64>(1));
    let page_size: i64 = conn.query_row(&format!("PRAGMA {schema}.page_size"), [], |r| r.get(0))?;
    if passive()? > WAL_BYTES_LIMIT / page_size.max(512) {
        passive()?;
        restart_wanted.store(true, Ordering::Relaxed);
    }
    Ok(())
}

const RESOURCE_COLUMNS: &str = "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data";

/// The resource columns plus a user's groups, gathered by one correlated subquery per row
/// (an index range on `members_member`), so a user and its groups are read in one statement.
const RESOURCE_COLUMNS_WITH_GROUPS: &str = "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data,
    (SELECT json_group_array(json_array(id, display)) FROM
        (SELECT g.id AS id, g.display AS display FROM members x JOIN resources g ON g.seq = x.group_seq
         WHERE x.member_seq = r.seq ORDER BY g.seq)) AS groups_json";

/// Runs one statement on `conn` (the writer's, inside its transaction); the rows it changed.
fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.execute(params))
        .map_err(lite_err)
}

/// Runs a statement that answers with at most one row of interest, and reads it.
fn query_opt<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.query_row(params, f).optional())
        .map_err(lite_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Appends rows of about a page each to `t` until the WAL holds at least `frames` pages.
    fn fill(conn: &Connection, page_size: i64, frames: i64) {
        let chunk = vec![0u8; usize::try_from(page_size).unwrap() - 200];
        loop {
            let in_wal: i64 = conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))
                .unwrap();
            if in_wal >= frames {
                return;
            }
            let n = ((frames - in_wal) / 2).clamp(1, 256);
            let tx = conn.unchecked_transaction().unwrap();
            for _ in 0..n {
                tx.execute("INSERT INTO t (b) VALUES (?)", [&chunk])
                    .unwrap();
            }
            tx.commit().unwrap();
        }
    }

    #[test]
    fn a_wal_starts_over_past_64_mib_whatever_its_page_size() {
        for (page_size, limit) in [(4096, 16_384), (16_384, 4_096), (65_536, 1_024)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("x.db");
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(&format!(
                "PRAGMA page_size = {page_size}; PRAGMA journal_mode = WAL;
                 PRAGMA wal_autocheckpoint = 0; CREATE TABLE t (b BLOB);"
            ))
            .unwrap();
            // A reader's snapshot keeps the WAL from starting over by itself, as a busy
            // server's readers and writes do.
            let reader = Connection::open(&path).unwrap();
            reader.execute_batch("BEGIN").unwrap();
            let _: i64 = reader
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            let wanted = AtomicBool::new(false);
            fill(&conn, page_size, limit - 64);
            checkpoint_pass(&conn, "main", &wanted).unwrap();
            assert!(
                !wanted.load(Ordering::Relaxed),
                "{page_size}: below the limit"
            );
            fill(&conn, page_size, limit + 1);
            checkpoint_pass(&conn, "main", &wanted).unwrap();
            assert!(
                wanted.load(Ordering::Relaxed),
                "{page_size}: past the limit"
            );
        }
    }
}
