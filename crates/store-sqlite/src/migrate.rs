//! The schema's migrations (`../migrations`), applied when the store opens, in the history
//! table sqlx's migrator kept (`_sqlx_migrations`: version, description, checksum = SHA-384
//! of the file), so that a database created by an earlier Roster upgrades in place.
//!
//! Every pending migration runs in one `IMMEDIATE` transaction with the history's check: two
//! processes opening one file at once apply each migration once (the second waits for the
//! first's commit, then finds nothing to do), and a migration that fails leaves the database
//! as it was. A database whose history disagrees with this build (a migration file changed
//! after it was applied, or a migration this build does not know) is refused, never guessed at.

use std::time::Instant;

use roster_store::StoreError;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha384};

use crate::lite_err;

/// One migration: its version and file name (`0002_tenant_settings.sql`), and its SQL.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The number the file name starts with.
    pub version: i64,
    /// The file name, which says what the migration does.
    pub file: &'static str,
    /// The statements.
    pub sql: &'static str,
}

macro_rules! migrations {
    ($($version:literal => $file:literal),* $(,)?) => {
        &[$(Migration {
            version: $version,
            file: $file,
            sql: include_str!(concat!("../migrations/", $file)),
        }),*]
    };
}

/// Every migration of this build, in order (a test checks the list against the directory).
pub const MIGRATIONS: &[Migration] = migrations![
    1 => "0001_init.sql",
    2 => "0002_tenant_settings.sql",
    3 => "0003_count_triggers.sql",
    4 => "0004_member_display.sql",
    5 => "0005_events.sql",
    6 => "0006_webhooks.sql",
    7 => "0007_events_without_time_index.sql",
    8 => "0008_token_lifecycle.sql",
    9 => "0009_webhook_link_local.sql",
    10 => "0010_used_assertions.sql",
    11 => "0011_key_fold.sql",
    12 => "0012_tenant_api.sql",
    13 => "0013_console.sql",
    14 => "0014_operator_totp.sql",
    15 => "0015_provisioning_log.sql",
    16 => "0016_provisioning_log_file.sql",
    17 => "0017_sso.sql",
    18 => "0018_tenant_domains.sql",
    19 => "0019_outbound.sql",
    20 => "0020_target_cycle_start.sql",
    21 => "0021_holds.sql",
    22 => "0022_approvals.sql",
    23 => "0023_approvals_purge_index.sql",
];

/// The latest migration of this build.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

impl Migration {
    /// What the history records as its description: the file name without its number and
    /// extension, underscores as spaces (as sqlx wrote it).
    fn description(&self) -> String {
        let stem = self.file.strip_suffix(".sql").unwrap_or(self.file);
        let name = stem.split_once('_').map_or(stem, |(_, name)| name);
        name.replace('_', " ")
    }

    fn checksum(&self) -> Vec<u8> {
        Sha384::digest(self.sql.as_bytes()).to_vec()
    }
}

/// The history table, as sqlx created it.
const HISTORY: &str = "CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)";

/// Brings the database on `conn` up to the last of `migrations`; the versions it applied.
pub fn run(conn: &Connection, migrations: &[Migration]) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(lite_err)?;
    match apply(conn, migrations) {
        Ok(applied) => {
            conn.execute_batch("COMMIT").map_err(lite_err)?;
            Ok(applied)
        }
        Err(e) => {
            // The error is what matters; a failed rollback leaves the transaction to end
            // with the connection.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply(conn: &Connection, migrations: &[Migration]) -> Result<Vec<i64>, StoreError> {
    let refused = |why: String| StoreError::Unavailable(format!("migrating the database: {why}"));
    conn.execute_batch(HISTORY).map_err(lite_err)?;
    let mut history = conn
        .prepare("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
        .map_err(lite_err)?;
    let recorded = history
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, bool>(1)?,
                r.get::<_, Vec<u8>>(2)?,
            ))
        })
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(lite_err)?;
    for (version, success, checksum) in &recorded {
        if !success {
            return Err(refused(format!(
                "migration {version} stopped part-way in an earlier run; restore the database \
                 from a backup"
            )));
        }
        match migrations.iter().find(|m| m.version == *version) {
            None => {
                return Err(refused(format!(
                    "the database has migration {version}, which this Roster does not know \
                     (a newer Roster wrote it)"
                )));
            }
            Some(m) if m.checksum() != *checksum => {
                return Err(refused(format!(
                    "migration {} ({}) differs from the one the database applied",
                    m.version, m.file
                )));
            }
            Some(_) => {}
        }
    }
    let mut applied = Vec::new();
    for m in migrations {
        if recorded.iter().any(|(v, ..)| *v == m.version) {
            continue;
        }
        let started = Instant::now();
        conn.execute_batch(m.sql)
            .map_err(|e| refused(format!("migration {} ({}): {e}", m.version, m.file)))?;
        let nanos = i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX);
        conn.execute(
            "INSERT INTO _sqlx_migrations (version, description, success, checksum,
               execution_time) VALUES (?, ?, TRUE, ?, ?)",
            params![m.version, m.description(), m.checksum(), nanos],
        )
        .map_err(lite_err)?;
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, Migration, run};
    use crate::connect::{Role, connect};

    #[test]
    fn every_file_of_the_directory_is_listed_in_order() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(dir)
            .expect("reading the migrations")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        let listed: Vec<&str> = MIGRATIONS.iter().map(|m| m.file).collect();
        assert_eq!(files, listed);
        for m in MIGRATIONS {
            let number: i64 = m.file[..4].parse().expect("a numbered file");
            assert_eq!(number, m.version, "{}", m.file);
        }
        assert_eq!(MIGRATIONS[1].description(), "tenant settings");
    }

    fn history(conn: &rusqlite::Connection) -> Vec<(i64, String)> {
        let mut q = conn
            .prepare("SELECT version, description FROM _sqlx_migrations ORDER BY version")
            .unwrap();
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// A database of an earlier build gets the later migrations, once; one with a changed or
    /// unknown migration is refused and left as it was.
    #[test]
    fn an_older_database_gets_the_later_migrations_once() {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&dir.path().join("t.db"), Role::Writer).unwrap();
        assert_eq!(
            run(&conn, &MIGRATIONS[..8]).unwrap(),
            (1..=8).collect::<Vec<_>>()
        );
        let later: Vec<i64> = MIGRATIONS[8..].iter().map(|m| m.version).collect();
        assert_eq!(run(&conn, MIGRATIONS).unwrap(), later);
        assert_eq!(run(&conn, MIGRATIONS).unwrap(), Vec::<i64>::new());
        assert_eq!(history(&conn).len(), MIGRATIONS.len());
        assert_eq!(history(&conn)[1], (2, "tenant settings".to_owned()));

        let changed = [
            MIGRATIONS,
            &[Migration {
                version: 99,
                file: "0099_x.sql",
                sql: "CREATE TABLE x (a INTEGER); CREATE TABLE x (a INTEGER);",
            }],
        ]
        .concat();
        let e = run(&conn, &changed).unwrap_err().to_string();
        assert!(e.contains("migration 99 (0099_x.sql)"), "{e}");
        assert_eq!(
            history(&conn).len(),
            MIGRATIONS.len(),
            "the failed migration left no trace"
        );

        let mut edited = MIGRATIONS.to_vec();
        edited[2].sql = "SELECT 1;";
        let e = run(&conn, &edited).unwrap_err().to_string();
        assert!(e.contains("differs"), "{e}");
        let e = run(&conn, &MIGRATIONS[..10]).unwrap_err().to_string();
        assert!(e.contains("does not know"), "{e}");
    }

    /// The log written before it had a file of its own moves there with its `seq`s, and the
    /// main file keeps no table of it.
    #[test]
    fn the_provisioning_log_moves_to_its_own_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = connect(&path, Role::Writer).unwrap();
        run(&conn, &MIGRATIONS[..15]).unwrap();
        conn.execute_batch(
            "INSERT INTO tenants (id, name, created_at) VALUES ('t1', 'Contoso', '2026-12-01T00:00:00.000000Z');
             INSERT INTO main.provisioning_log (seq, tenant_id, at, outcome, action, client,
               resource_key, resource_id, request_id, duration_ms, method, path, query, status,
               user_agent, credential, resource_type, resource_name, summary, explanation, hint,
               normalizations, request_body, response_body)
             VALUES (41, 't1', '2026-12-01T00:00:00.000000Z', 'succeeded', 'create', 'entra',
               'ada@contoso.com', 'u1', 'r1', 3, 'POST', '/Users', '', 201, 'ua', 'token',
               'User', 'ada@contoso.com', 'Created user ada@contoso.com', '', '', '', '{}', '{}');",
        )
        .unwrap();
        assert_eq!(run(&conn, &MIGRATIONS[..16]).unwrap(), vec![16]);
        let moved: (i64, String) = conn
            .query_row(
                "SELECT seq, summary FROM provlog.provisioning_log",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(moved, (41, "Created user ada@contoso.com".to_owned()));
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM main.sqlite_master WHERE name LIKE 'provisioning_log%'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(left, 0, "the main file keeps no table or index of the log");
        // The next entry follows the moved ones.
        conn.execute_batch(
            "INSERT INTO provisioning_log (tenant_id, at, outcome, action, client, resource_key,
               resource_id, request_id, duration_ms, method, path, query, status, user_agent,
               credential, resource_type, resource_name, summary, explanation, hint,
               normalizations, request_body, response_body)
             SELECT tenant_id, at, outcome, action, client, resource_key, resource_id,
               request_id, duration_ms, method, path, query, status, user_agent, credential,
               resource_type, resource_name, summary, explanation, hint, normalizations,
               request_body, response_body FROM provisioning_log;",
        )
        .unwrap();
        let last: i64 = conn
            .query_row("SELECT max(seq) FROM provisioning_log", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last, 42);
        assert!(crate::connect::log_file(&path).exists());
    }
}
