//! The one place a connection to the database file is opened, and the settings each kind of
//! connection runs with.
//!
//! The provisioning log lives in a second file beside the database (`roster.db-log` for
//! `roster.db`), attached to every connection as the schema `provlog`. Its writes then never
//! touch the main file: a commit there would make every reader drop its page cache and would
//! fill the main WAL, and the log is written all the time (a store that only serves reads
//! still writes its log). Unqualified names resolve to it, so the log's SQL names no schema.

use std::path::{Path, PathBuf};
use std::time::Duration;

use roster_store::StoreError;
use rusqlite::{Connection, OpenFlags};

/// What a connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The one connection that writes (and, first, migrates): it creates the file if missing.
    Writer,
    /// A read-only connection of the hot or cold reads.
    Reader,
    /// The connection that copies the WAL into the database in the background.
    Checkpointer,
    /// The one connection that writes the provisioning log: its file is this connection's
    /// main database, and the main file is not attached (a transaction would lock both).
    LogWriter,
}

/// How long a statement waits for a lock another process holds before the database is
/// reported unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Prepared statements kept per connection (list statements vary with the filter).
const STATEMENT_CACHE: usize = 64;

/// Opens a connection to the database at `path` for `role`.
///
/// Every connection honours case in LIKE: caseExact columns (id, externalId) are compared as
/// they are, and case-insensitive ones are stored and queried lower-cased.
///
/// The writer runs in WAL mode with `synchronous = NORMAL`, which keeps every committed
/// transaction across a crash of the process (the WAL is written before COMMIT returns); only
/// a power loss can lose the last transactions, which FULL would guard against at a large cost.
/// The writer never checkpoints inside a commit: the checkpointer does (see `checkpoints` in
/// the crate root), and the WAL file is cut back to 64 MB whenever it starts over. Readers have
/// a 2 MB page cache (the OS holds the file), the writer 8 MB.
pub fn connect(path: &Path, role: Role) -> Result<Connection, StoreError> {
    if role == Role::LogWriter {
        let file = log_file(path);
        let conn = open(&file, role)?;
        create_log_schema(&conn, "")?;
        crate::log_names::number_entries(&conn)?;
        crate::provisioning_log::move_rows_to_blocks(&conn)?;
        return Ok(conn);
    }
    let conn = open(path, role)?;
    attach_log(&conn, path, role)?;
    Ok(conn)
}

/// The provisioning log's file for the database at `path`: its name with `-log` appended.
pub fn log_file(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push("-log");
    PathBuf::from(name)
}

/// The provisioning log's schema, created in its file when missing (a new database, or a log
/// file an operator removed: the log starts over). `seq` is AUTOINCREMENT so that it never
/// goes back, even when the newest rows are deleted (a purge that empties the log, a tenant
/// deleted): readers keep it as their cursor. The columns the filters read come before the
/// bodies, so that checking a row's outcome or action never reads the overflow pages a long
/// body takes. There is no foreign key to `tenants` (another file): an entry is only appended
/// while its tenant exists, and a tenant's deletion deletes its entries.
const LOG_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS {schema}provisioning_log (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id      TEXT NOT NULL,
    at             TEXT NOT NULL,
    outcome        TEXT NOT NULL CHECK (outcome IN ('succeeded', 'refused', 'failed')),
    action         TEXT NOT NULL,
    client         TEXT NOT NULL,
    resource_key   TEXT NOT NULL,
    resource_id    TEXT NOT NULL,
    request_id     TEXT NOT NULL,
    duration_ms    INTEGER NOT NULL,
    method         TEXT NOT NULL,
    path           TEXT NOT NULL,
    query          TEXT NOT NULL,
    status         INTEGER NOT NULL,
    scim_type      TEXT,
    user_agent     TEXT NOT NULL,
    credential     TEXT NOT NULL,
    resource_type  TEXT NOT NULL,
    resource_name  TEXT NOT NULL,
    summary        TEXT NOT NULL,
    explanation    TEXT NOT NULL,
    hint           TEXT NOT NULL,
    normalizations TEXT NOT NULL,
    request_body   TEXT NOT NULL,
    response_body  TEXT NOT NULL,
    rid            INTEGER
);
-- A tenant's log newest first, page by page; and the tenant's rows when it is deleted.
CREATE INDEX IF NOT EXISTS {schema}provisioning_log_tenant ON provisioning_log (tenant_id, seq);
-- The (lower-cased) names each resource had, by its number: how a page about a name finds
-- the entries that carry the resource's id.
CREATE TABLE IF NOT EXISTS {schema}provisioning_log_names (
    tenant_id TEXT NOT NULL,
    key       TEXT NOT NULL,
    rid       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key, rid)
) WITHOUT ROWID;
-- The health summary's counts since a time, the first `seq` of a time window (where a
-- page's walk ends), from the index alone (its rowid is `seq`); and the purge, tenant by
-- tenant.
CREATE INDEX IF NOT EXISTS {schema}provisioning_log_tenant_at
    ON provisioning_log (tenant_id, at, outcome);
-- The log as it is written now (`provisioning_log` above only holds entries of earlier
-- versions until the log's writer moves them here when it starts): a block of one tenant's
-- entries per row (see `log_blocks`), found by `seq` and by time.
CREATE TABLE IF NOT EXISTS {schema}provisioning_log_blocks (
    id        INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq  INTEGER NOT NULL,
    min_at    INTEGER NOT NULL,
    max_at    INTEGER NOT NULL,
    total     INTEGER NOT NULL,
    refused   INTEGER NOT NULL,
    failed    INTEGER NOT NULL,
    kinds     INTEGER NOT NULL DEFAULT -1,
    heads     BLOB NOT NULL,
    body      BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS {schema}provisioning_log_blocks_at
    ON provisioning_log_blocks (tenant_id, max_at);
-- Each entry about a resource, by era (`seq >> 13`) and the resource's number: how a page
-- about a resource finds its entries (see `log_names`).
CREATE TABLE IF NOT EXISTS {schema}provisioning_log_rids (
    era INTEGER NOT NULL,
    rid INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (era, rid, seq)
) WITHOUT ROWID;
-- The last `seq` given, so that `seq` never goes back, even when the newest entries are
-- deleted (a purge that empties the log, a tenant deleted): readers keep it as their cursor.
CREATE TABLE IF NOT EXISTS {schema}provisioning_log_next (
    id  INTEGER PRIMARY KEY CHECK (id = 0),
    seq INTEGER NOT NULL
);
";

/// What [`LOG_SCHEMA`] needs once its tables have their later columns (`kinds`, `rid`): the
/// tenant's blocks by `seq` with their `kinds`, and the entries about one resource, in order,
/// by era and the resource's number (see `log_names`). One small integer index instead of one
/// on names and one on ids; and by era first, so that a batch inserts
/// into the few pages of the current era's part rather than at random places across the whole
/// index, each such place a page written to the WAL and copied back (the index on `rid` alone
/// it replaces cost each entry about a page: a third of the log writer's time).
const LOG_INDEXES: &str = "
-- A tenant's blocks in `seq` order, with what their entries are (`kinds`, see
-- `log_blocks::needed`): a page filtered by outcome, action or client passes over the blocks
-- that cannot hold what it asks from the index alone, without reading their heads.
CREATE INDEX IF NOT EXISTS {schema}provisioning_log_blocks_kinds
    ON provisioning_log_blocks (tenant_id, first_seq, kinds);
DROP INDEX IF EXISTS {schema}provisioning_log_blocks_seq;
CREATE INDEX IF NOT EXISTS {schema}provisioning_log_era_rid
    ON provisioning_log (seq >> 13, rid) WHERE rid IS NOT NULL;
DROP INDEX IF EXISTS {schema}provisioning_log_rid;
DROP INDEX IF EXISTS {schema}provisioning_log_resource_key;
DROP INDEX IF EXISTS {schema}provisioning_log_resource_id;
DROP INDEX IF EXISTS {schema}provisioning_log_at;
";

/// Creates [`LOG_SCHEMA`] in `schema` (`provlog.`, or empty where the log's file is the main
/// one) when missing, and brings a log file of an earlier version up to it: the blocks'
/// `kinds` added (-1, every bit, for the blocks already written: they are always read), the
/// `rid` column added (its values are filled by the log's writer, see `log_names::number_entries`),
/// the index on it, and the two indexes it replaces dropped (and the one on `at` alone: the
/// purge goes tenant by tenant).
pub(crate) fn create_log_schema(conn: &Connection, schema: &str) -> Result<(), StoreError> {
    conn.execute_batch(&LOG_SCHEMA.replace("{schema}", schema))
        .map_err(crate::lite_err)?;
    if !has_column(conn, schema, "provisioning_log", "rid")? {
        conn.execute_batch(&format!(
            "ALTER TABLE {schema}provisioning_log ADD COLUMN rid INTEGER"
        ))
        .map_err(crate::lite_err)?;
    }
    if !has_column(conn, schema, "provisioning_log_blocks", "kinds")? {
        conn.execute_batch(&format!(
            "ALTER TABLE {schema}provisioning_log_blocks
               ADD COLUMN kinds INTEGER NOT NULL DEFAULT -1"
        ))
        .map_err(crate::lite_err)?;
    }
    conn.execute_batch(&LOG_INDEXES.replace("{schema}", schema))
        .map_err(crate::lite_err)
}

/// Whether `table` in `schema` (`provlog.`, or empty for the main file) has `column`.
fn has_column(
    conn: &Connection,
    schema: &str,
    table: &str,
    column: &str,
) -> Result<bool, StoreError> {
    conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info(?1, ?2) WHERE name = ?3",
        rusqlite::params![
            table,
            match schema.trim_end_matches('.') {
                "" => "main",
                name => name,
            },
            column
        ],
        |r| r.get(0),
    )
    .map_err(crate::lite_err)
}

/// The page size of a new log file (an existing file keeps its own). An entry is about 2 KB
/// (both bodies): on the default 4 KiB pages, every other entry started a page, one more for
/// the log's writer to find, balance, checksum into the WAL and copy back (its CPU time per
/// entry 10.0–11.9 µs for a filter and 22.1 µs for a create, against 7.2–9.1 and 10.7–12.5
/// with 64 KiB pages, when entries were rows). But every commit writes each page it changed
/// whole into the WAL, and a write of a few entries changes about six (the table's last leaf,
/// each index's, the numbers', the next `seq`): under light traffic, 64 KiB pages wrote some
/// 100 KB to the log's files per request. With 16 KiB pages: 3.3 times less under light
/// traffic, and under load the writer's CPU per entry is no higher (3.0 against 3.5 µs for a
/// filter, 4.2 against 7.1 µs for a create, whose new names land at random places), and a page
/// of a million entries filtered by user takes the same time (p99 2.4 ms).
const LOG_PAGE_SIZE: u32 = 16384;

/// Attaches the provisioning log's file as `provlog`: the writer creates it (in WAL mode, with
/// the main file's durability) and its schema, for the migrations, and detaches it once they
/// ran (see `SqliteStore::open`); readers open it read-only, as they open the main file.
fn attach_log(conn: &Connection, path: &Path, role: Role) -> Result<(), StoreError> {
    let file = log_file(path);
    let name = file.to_str().ok_or_else(|| {
        StoreError::Unavailable(format!("the path {} is not UTF-8", file.display()))
    })?;
    conn.execute("ATTACH DATABASE ?1 AS provlog", [name])
        .map_err(|e| {
            StoreError::Unavailable(format!("opening the provisioning log {name}: {e}"))
        })?;
    match role {
        Role::Writer => {
            conn.execute_batch(&format!("PRAGMA provlog.page_size = {LOG_PAGE_SIZE}"))
                .map_err(crate::lite_err)?;
            let mode: String = conn
                .query_row("PRAGMA provlog.journal_mode = WAL", [], |r| r.get(0))
                .map_err(crate::lite_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Unavailable(format!(
                    "the provisioning log {name} cannot be put in WAL mode (it stays {mode})"
                )));
            }
            conn.query_row("PRAGMA provlog.journal_size_limit = 67108864", [], |_| {
                Ok(())
            })
            .map_err(crate::lite_err)?;
            conn.execute_batch(
                "PRAGMA provlog.synchronous = NORMAL; PRAGMA provlog.cache_size = -16000;",
            )
            .map_err(crate::lite_err)?;
            create_log_schema(conn, "provlog.")
        }
        Role::Reader | Role::LogWriter => Ok(()),
        Role::Checkpointer => conn
            .execute_batch("PRAGMA provlog.synchronous = NORMAL;")
            .map_err(crate::lite_err),
    }
}

/// Opens the main file for `role`, with its settings.
fn open(path: &Path, role: Role) -> Result<Connection, StoreError> {
    let flags = match role {
        Role::Writer | Role::LogWriter => {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE
        }
        Role::Reader => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Role::Checkpointer => OpenFlags::SQLITE_OPEN_READ_WRITE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Unavailable(format!("opening the database {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(crate::lite_err)?;
    let settings = match role {
        Role::Writer | Role::LogWriter => {
            // Answers with the mode as a row; kept in the file from then on.
            let mode: String = conn
                .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
                .map_err(crate::lite_err)?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(StoreError::Unavailable(format!(
                    "the database {} cannot be put in WAL mode (it stays {mode})",
                    path.display()
                )));
            }
            conn.query_row("PRAGMA journal_size_limit = 67108864", [], |_| Ok(()))
                .map_err(crate::lite_err)?;
            if role == Role::LogWriter {
                "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -16000;
                 PRAGMA temp_store = memory; PRAGMA case_sensitive_like = ON;
                 PRAGMA wal_autocheckpoint = 0;"
            } else {
                "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8000;
                 PRAGMA temp_store = memory; PRAGMA case_sensitive_like = ON;
                 PRAGMA wal_autocheckpoint = 0;"
            }
        }
        Role::Reader => {
            // Mapped as well, below: the reader's own mapping then follows how often the
            // database changes under it (`crate::mapping`).
            "PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -2000;
             PRAGMA temp_store = memory;"
        }
        Role::Checkpointer => "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -500;",
    };
    conn.execute_batch(settings).map_err(crate::lite_err)?;
    if role == Role::Reader {
        conn.execute_batch(crate::mapping::MAPPED)
            .map_err(crate::lite_err)?;
    }
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The file a `sqlite:` URL names: `sqlite://roster.db`, `sqlite:///var/lib/roster.db`,
/// `sqlite:roster.db`, with `?mode=rwc` (which every file is opened with) allowed. Anything
/// else in the query, and an in-memory database (which a writer and readers on connections of
/// their own cannot share), are refused.
pub fn file_of(url: &str) -> Result<&Path, StoreError> {
    let bad = |why: &str| StoreError::Unavailable(format!("bad database URL {url:?}: {why}"));
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| bad("it does not start with sqlite://"))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        if pair != "mode=rwc" {
            return Err(bad(&format!("the option {pair:?} is not supported")));
        }
    }
    if path.is_empty() || path == ":memory:" || path.starts_with("file::memory:") {
        return Err(bad("name a file; an in-memory database cannot be shared"));
    }
    Ok(Path::new(path))
}

#[cfg(test)]
mod tests {
    use super::file_of;
    use std::path::Path;

    #[test]
    fn the_file_of_a_url() {
        assert_eq!(
            file_of("sqlite://roster.db").unwrap(),
            Path::new("roster.db")
        );
        assert_eq!(file_of("sqlite:roster.db").unwrap(), Path::new("roster.db"));
        assert_eq!(
            file_of("sqlite:///var/lib/roster.db?mode=rwc").unwrap(),
            Path::new("/var/lib/roster.db")
        );
        for bad in [
            "sqlite::memory:",
            "sqlite://",
            "sqlite://x.db?mode=ro",
            "postgres://db/x",
        ] {
            assert!(file_of(bad).is_err(), "{bad}");
        }
    }
}
