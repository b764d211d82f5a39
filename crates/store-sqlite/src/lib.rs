//! The SQLite storage backend: one file, WAL mode, one writer thread and a few readers. The
//! writer (`writer`) and the hot reads (`reads`) run through rusqlite where they are called; sqlx
//! runs the migrations, the background checkpoints and the cold reads.
//!
//! Each storage trait is implemented in a file of its own (`tenants`, `credentials`,
//! `resources`, `change_log`, `webhooks`, `health`). SCIM filters become SQL in exactly one
//! function, `roster_store::sql::translate`; what it cannot express is evaluated in memory by
//! the protocol crate over the rows the SQL narrowed down.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use roster_store::StoreError;
use roster_store::sql::decode::Columns;
use rusqlite::{Connection, OptionalExtension};
use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, SqliteConnection};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::key_fold::refold_keys;

mod change_log;
mod credentials;
mod health;
mod key_fold;
mod reads;
mod resources;
mod tenants;
mod webhooks;
mod writer;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
    reader: SqlitePool,
    /// The hot reads' connections (see `reads`).
    readers: reads::Readers,
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

/// A row of the cold reads (sqlx), read column by column for the shared decoders
/// (`roster_store::sql::decode`). Timestamps are fixed-width UTC text (see [`ts`]).
pub(crate) struct Cols<'r>(&'r SqliteRow);

impl Columns for Cols<'_> {
    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        let text: Option<String> = self.0.try_get(column).map_err(db_err)?;
        text.as_deref().map(parse_ts).transpose()
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
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
        let options = SqliteConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL in WAL mode keeps every committed transaction across a crash of the
            // process (the WAL is written before COMMIT returns); only a power loss can lose
            // the last transactions, which FULL would guard against at a large cost.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("cache_size", "-8000")
            .pragma("temp_store", "memory")
            // Checkpoints copy the WAL back into the database and sync it, in a task of their
            // own, off the writer's path (see `checkpoints`); the WAL file is cut back to 64 MB
            // whenever it starts over.
            .pragma("journal_size_limit", "67108864")
            // LIKE must honour case: caseExact columns (id, externalId) are compared as they
            // are, and case-insensitive ones are stored and queried lower-cased.
            .pragma("case_sensitive_like", "ON");
        let mut conn = options.connect().await.map_err(db_err)?;
        MIGRATOR
            .run(&mut conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating the database: {e}")))?;
        refold_keys(&mut conn).await?;
        let restart_wanted = Arc::new(AtomicBool::new(false));
        let writer = writer::Writer::start(
            writer::connect(options.get_filename())?,
            restart_wanted.clone(),
        )?;
        // The migrating connection stays on as the checkpointer.
        tokio::spawn(checkpoints(conn, restart_wanted));
        // The cold reads (tokens, tenants, the change log, webhooks): two connections with a
        // small page cache; the hot ones have connections of their own (`reads`).
        let reader = SqlitePoolOptions::new()
            .max_connections(2)
            // A SQLite connection is a file handle that does not go stale: pinging it before
            // each use would cost a round trip to its worker thread on every read.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(30))
            .connect_with(
                options
                    .clone()
                    .read_only(true)
                    .pragma("cache_size", "-2000"),
            )
            .await
            .map_err(db_err)?;
        let readers = reads::Readers::open(options.get_filename())?;
        Ok(SqliteStore {
            writer,
            reader,
            readers,
        })
    }
}

/// WAL frames (pages) past which the log should start over: 64 MB of 4 KiB pages, the size
/// `journal_size_limit` cuts the file back to.
const WAL_FRAMES_LIMIT: i64 = 16_384;

/// Copies the WAL's committed pages into the database every two seconds, without blocking
/// writers or readers (`PASSIVE`), so that the writer seldom pays for a checkpoint inside a
/// request (its own automatic checkpoint is off). Each pass ends in an fsync of the database
/// file, which delays the writer's next WAL append: every half second, that put a group
/// member add's p99 at 11–22 ms; every two seconds, at 9.5–10.8 ms.
///
/// The WAL starts over only once everything in it has been copied, at the start of a write.
/// Under a write load that never pauses, this task never catches up with the last commit, so
/// past [`WAL_FRAMES_LIMIT`] frames it copies what it can once more and asks the writer to run
/// a `RESTART` checkpoint between two batches: with no write in progress that checkpoint
/// copies the few pages left and the log starts over, bounded. Ends when the checkpoint
/// connection fails (the process is going away).
async fn checkpoints(mut conn: SqliteConnection, restart_wanted: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // (busy, frames in the WAL, frames copied into the database)
        let passive = || sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)");
        let frames = match passive().fetch_one(&mut conn).await {
            Ok((_, frames, _)) => frames,
            Err(e) => {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
        };
        if frames > WAL_FRAMES_LIMIT {
            if let Err(e) = passive().fetch_one(&mut conn).await {
                tracing::warn!(error = %e, "checkpoints stopped");
                return;
            }
            restart_wanted.store(true, Ordering::Relaxed);
        }
    }
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
