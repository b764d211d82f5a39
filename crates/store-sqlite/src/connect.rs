//! The one place a connection to the database file is opened, and the settings each kind of
//! connection runs with.

use std::path::Path;
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
    let flags = match role {
        Role::Writer => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Role::Reader => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Role::Checkpointer => OpenFlags::SQLITE_OPEN_READ_WRITE,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| {
        StoreError::Unavailable(format!("opening the database {}: {e}", path.display()))
    })?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(crate::lite_err)?;
    let settings = match role {
        Role::Writer => {
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
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA cache_size = -8000;
             PRAGMA temp_store = memory; PRAGMA case_sensitive_like = ON;
             PRAGMA wal_autocheckpoint = 0;"
        }
        Role::Reader => {
            "PRAGMA case_sensitive_like = ON; PRAGMA cache_size = -2000;
             PRAGMA temp_store = memory;"
        }
        Role::Checkpointer => "PRAGMA synchronous = NORMAL; PRAGMA cache_size = -500;",
    };
    conn.execute_batch(settings).map_err(crate::lite_err)?;
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
