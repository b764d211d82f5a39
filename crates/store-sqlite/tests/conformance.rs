//! The storage conformance suite (`roster_store::conformance`) run against SQLite: every suite
//! function on a database file of its own, and random filters checked against the evaluator;
//! then what is SQLite's own: two handles on one file, and keys of an older fold.

use std::sync::Arc;

use roster_store::Kind;
use roster_store::conformance;
use roster_store::prelude::*;
use roster_store_sqlite::SqliteStore;
use tempfile::TempDir;

/// A fresh database in a directory of its own, removed when the test ends.
struct Fresh {
    store: SqliteStore,
    // Declared after the store so that the connections close before the file goes.
    _dir: TempDir,
}

async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url)
        .await
        .unwrap_or_else(|e| panic!("opening a fresh SQLite database at {url}: {e}"));
    Fresh { store, _dir: dir }
}

roster_store::conformance_tests!(fresh, |db| &db.store);

/// Runs `sql` on the log file in `dir` (its store closed), to make it as an earlier version
/// wrote it; the file's path.
fn as_before(dir: &TempDir, sql: &str) -> std::path::PathBuf {
    let log = dir.path().join("t.db-log");
    rusqlite::Connection::open(&log)
        .expect("opening the log file")
        .execute_batch(sql)
        .expect("making the log file as the version before wrote it");
    log
}

/// Creates the tenant `id` (on January 1, 2024), for a test of its log.
async fn add_tenant(store: &SqliteStore, id: &str) -> roster_store::TenantId {
    let at = time::macros::datetime!(2024-01-01 0:00 UTC);
    let record = conformance::tenant_record(id, id, at);
    store.create_tenant(&record).await.expect("a tenant");
    roster_store::TenantId::new(id)
}

/// Processes starting at once on an empty database (the CLI beside a server): eight offers
/// through two handles, each with a writer of its own, exactly one tenant.
#[tokio::test]
async fn first_tenant_race() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..2 {
        let store = SqliteStore::open(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        stores.push(Arc::new(store));
    }
    conformance::first_tenant_race(stores).await;
}

/// Keys written by the first fold (simple lowercase) are folded again when the store opens,
/// so look-alike spellings find rows created before the compatibility fold (issue 14.7).
#[tokio::test]
async fn keys_of_an_older_fold_are_folded_again_when_the_store_opens() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let file = dir.path().join("t.db");
    let url = format!("sqlite://{}", file.display());
    let store = SqliteStore::open(&url).await.expect("opening the store");
    let rows = conformance::refold_seed(&store).await;
    drop(store);
    let conn = rusqlite::Connection::open(&file).expect("connecting");
    for r in &rows {
        conn.execute(
            "UPDATE resources SET data = ?, name_key = ? WHERE tenant_id = ? AND id = ?",
            rusqlite::params![r.data, r.name_key, r.tenant.as_str(), r.id],
        )
        .expect("writing the first fold's name key");
        if let Some(key) = &r.email_key {
            conn.execute(
                "UPDATE emails SET value_key = ? WHERE resource_seq =
                   (SELECT seq FROM resources WHERE tenant_id = ? AND id = ?)",
                rusqlite::params![key, r.tenant.as_str(), r.id],
            )
            .expect("writing the first fold's e-mail key");
        }
    }
    conn.execute("UPDATE key_fold SET version = 1", [])
        .expect("resetting the fold version");
    drop(conn);
    let store = SqliteStore::open(&url).await.expect("reopening the store");
    conformance::refold_check(&store, &rows).await;
    // Folded once: a second start finds nothing to do and changes nothing.
    drop(store);
    let store = SqliteStore::open(&url)
        .await
        .expect("reopening the store again");
    let tenant = &rows[0].tenant;
    let jose = store
        .get(tenant, Kind::User, "u-jose", false)
        .await
        .expect("reading")
        .expect("u-jose is there");
    assert_eq!(jose.version, 1);
}

/// A database that sqlx's migrator created and migrated (Roster before the SQLite backend ran
/// on one driver: a tenant, a token, a user in a group) opens in place: its history is adopted
/// as it is, and what it holds reads back.
#[tokio::test]
async fn a_database_sqlx_migrated_opens_in_place() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let file = dir.path().join("old.db");
    let dump = include_str!("fixtures/sqlx-migrated-11.sql");
    rusqlite::Connection::open(&file)
        .expect("creating the old database")
        .execute_batch(dump)
        .expect("loading the fixture");
    let history = |file: &std::path::Path| -> Vec<(i64, String, Vec<u8>)> {
        let conn = rusqlite::Connection::open(file).expect("connecting");
        let mut q = conn
            .prepare("SELECT version, description, checksum FROM _sqlx_migrations ORDER BY 1")
            .expect("the history");
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("reading the history")
            .collect::<Result<_, _>>()
            .expect("reading the history")
    };
    let before = history(&file);
    assert_eq!(before.len(), 11);

    let store = SqliteStore::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("opening the database sqlx migrated");
    store.ping().await.expect("the schema serves this build");
    let tenants = store.tenants().await.expect("the tenants");
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0].name, "Contoso Ltd");
    let tenant = &tenants[0].id;
    assert_eq!(store.tokens(tenant).await.expect("the tokens").len(), 1);
    let users = store
        .resources_after(tenant, Kind::User, 0, 10)
        .await
        .expect("the users");
    assert_eq!(users.len(), 1);
    let (_, ada) = &users[0];
    assert_eq!(ada.data["userName"], "Ada@Contoso.com");
    let groups = store
        .resources_after(tenant, Kind::Group, 0, 10)
        .await
        .expect("the groups");
    let members = store
        .members_after(tenant, &groups[0].1.id, 0, 10)
        .await
        .expect("the members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].1.id, ada.id);
    drop(store);
    let after = history(&file);
    assert_eq!(after[..11], before, "the history is adopted, not rewritten");
    assert!(after.len() > 11, "and the later migrations are applied");
}

/// The log is in a file of its own, so a tenant's deletion that stopped between the tenant and
/// its log leaves entries behind: the next purge deletes them, and no other tenant's.
#[tokio::test]
async fn the_purge_deletes_the_log_of_a_tenant_deleted_part_way() {
    use roster_store::{LogEntry, LogQuery, Outcome, TenantId};
    let db = fresh().await;
    let at = time::macros::datetime!(2024-01-01 0:00 UTC);
    let entry = |tenant: &str, minute: i64| {
        let tenant = TenantId::new(tenant);
        conformance::log_entry(
            &tenant,
            minute,
            "get",
            Outcome::Succeeded,
            ("u1", "ada"),
            "entra",
        )
    };
    for id in ["t-kept", "t-gone"] {
        let record = conformance::tenant_record(id, id, at);
        db.store.create_tenant(&record).await.expect("a tenant");
    }
    let entries: Vec<LogEntry> = (0..3)
        .flat_map(|m| [entry("t-kept", m), entry("t-gone", m)])
        .collect();
    db.store.append_log(entries).await.expect("appending");
    // The tenant goes, its log stays (as when the process stops in between).
    let file = db._dir.path().join("t.db");
    rusqlite::Connection::open(&file)
        .expect("connecting")
        .execute_batch("PRAGMA foreign_keys = ON; DELETE FROM tenants WHERE id = 't-gone';")
        .expect("deleting the tenant alone");

    let purged = db.store.purge_log(at - time::Duration::days(1)).await;
    assert_eq!(
        purged.expect("purging"),
        3,
        "the gone tenant's three entries"
    );
    let page = |t: &str| {
        let t = TenantId::new(t);
        let store = &db.store;
        async move {
            let query = LogQuery {
                limit: 50,
                ..LogQuery::default()
            };
            store.log_page(&t, &query).await.expect("a page").len()
        }
    };
    assert_eq!(page("t-kept").await, 3);
    assert_eq!(page("t-gone").await, 0);
}

/// A log file of an earlier version (a row per entry; before resource numbers: no `rid`, an
/// index on names, one on ids and one on `at`) is brought up to date when the store opens: its
/// entries are numbered, the names they carried noted, and they are moved into blocks with
/// their `seq`s; a page about a resource finds them by id and by name, and the next entry
/// follows them.
#[tokio::test]
async fn an_earlier_log_file_is_moved_into_blocks_when_the_store_opens() {
    use roster_store::{LogQuery, Outcome};
    let db = fresh().await;
    let tenant = add_tenant(&db.store, "t-old").await;
    let dir = db._dir;
    drop(db.store);
    // What the version before resource numbers wrote: rows, no numbers, no names, version 0.
    let log = as_before(
        &dir,
        "DROP INDEX provisioning_log_era_rid;
             DROP TABLE provisioning_log_blocks;
             DROP TABLE provisioning_log_rids;
             DROP TABLE provisioning_log_next;
             ALTER TABLE provisioning_log DROP COLUMN rid;
             CREATE INDEX provisioning_log_resource_key
                 ON provisioning_log (tenant_id, resource_key, seq);
             CREATE INDEX provisioning_log_resource_id
                 ON provisioning_log (tenant_id, resource_id, seq);
             CREATE INDEX provisioning_log_at ON provisioning_log (at);
             INSERT INTO provisioning_log (seq, tenant_id, at, outcome, action, client,
               resource_key, resource_id, request_id, duration_ms, method, path, query, status,
               user_agent, credential, resource_type, resource_name, summary, explanation,
               hint, normalizations, request_body, response_body)
             VALUES
               (7, 't-old', '2024-01-01T00:00:00.000001Z', 'succeeded', 'create', 'entra',
                'ada@contoso.com', 'u-ada', 'r1', 3, 'POST', '/Users', '', 201, 'ua', '',
                'User', 'Ada@Contoso.com', 'Created user Ada@Contoso.com', '', '', '', '{}', '{}'),
               (9, 't-old', '2024-01-01T00:01:00.000000Z', 'refused', 'create', 'okta',
                'bob@contoso.com', '', 'r2', 3, 'POST', '/Users', '', 409, 'ua', '',
                'User', 'bob@contoso.com', 'Refused', 'Taken', 'Rename', 'a b', '{}', '{}');
             UPDATE sqlite_sequence SET seq = 12 WHERE name = 'provisioning_log';
             PRAGMA user_version = 0;",
    );

    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("reopening");
    let by = |resource: &str| LogQuery {
        resource: Some(resource.to_owned()),
        limit: 10,
        ..LogQuery::default()
    };
    for (resource, expected) in [("u-ada", 7), ("ada@contoso.com", 7), ("BOB@contoso.com", 9)] {
        let page = store
            .log_page(&tenant, &by(resource))
            .await
            .expect("a page");
        let seqs: Vec<i64> = page.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, [expected], "{resource}");
    }
    let bob = store.log_entry(&tenant, 9).await.expect("reading");
    let bob = bob.expect("the entry moved with its seq");
    assert_eq!(
        (bob.status, bob.normalizations.len(), bob.hint.as_str()),
        (409, 2, "Rename")
    );
    let next = conformance::log_entry(
        &tenant,
        5,
        "get",
        Outcome::Succeeded,
        ("u-ada", "ada@contoso.com"),
        "entra",
    );
    store.append_log(vec![next]).await.expect("appending");
    let newest = store.log_page(&tenant, &by("u-ada")).await.expect("a page");
    assert_eq!(newest[0].seq, 13, "after the earlier version's last seq");
    let conn = rusqlite::Connection::open(&log).expect("opening the log file");
    let (rows, blocks, version): (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM provisioning_log),
                    (SELECT count(*) FROM provisioning_log_blocks),
                    (SELECT user_version FROM pragma_user_version)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("reading the log file");
    assert_eq!((rows, blocks, version), (0, 2, 1));
}

/// A log file whose blocks have no `kinds` (the version before) gets them when the store opens,
/// every bit set for the blocks already written, so that every page reads them. A new block has
/// the bits of what its entries are, and a page filtered by outcome, action or client passes
/// over a block that cannot hold what it asks without reading it: even a block this build could
/// not read is then no error. So does a page of a window that ends before the block's first
/// entry.
#[tokio::test]
async fn a_filtered_page_passes_over_the_blocks_that_cannot_hold_what_it_asks() {
    use roster_store::{LogQuery, Outcome};
    let db = fresh().await;
    let tenant = add_tenant(&db.store, "t-kinds").await;
    let okta = |minute| {
        conformance::log_entry(
            &tenant,
            minute,
            "create",
            Outcome::Refused,
            ("u-1", "ada@contoso.com"),
            "okta",
        )
    };
    db.store.append_log(vec![okta(1)]).await.expect("appending");
    let dir = db._dir;
    drop(db.store);
    let log = as_before(
        &dir,
        "DROP INDEX provisioning_log_blocks_kinds;
             ALTER TABLE provisioning_log_blocks DROP COLUMN kinds;
             CREATE INDEX provisioning_log_blocks_seq
                 ON provisioning_log_blocks (tenant_id, first_seq);",
    );

    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("reopening");
    let seqs = async |query: LogQuery| {
        store
            .log_page(&tenant, &query)
            .await
            .map(|p| p.iter().map(|e| e.seq).collect::<Vec<_>>())
    };
    let page = async |outcome: Option<Outcome>, action: Option<&str>, client: Option<&str>| {
        seqs(LogQuery {
            outcome,
            action: action.map(str::to_owned),
            client: client.map(str::to_owned),
            limit: 10,
            ..LogQuery::default()
        })
        .await
    };
    assert_eq!(page(None, None, Some("okta")).await.expect("a page"), [1]);
    assert!(
        page(None, None, Some("entra"))
            .await
            .expect("a page")
            .is_empty()
    );
    let conn = rusqlite::Connection::open(&log).expect("opening the log file");
    let indexes: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE tbl_name = 'provisioning_log_blocks'
             AND type = 'index' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("the blocks' indexes");
    assert_eq!(
        indexes,
        [
            "provisioning_log_blocks_at",
            "provisioning_log_blocks_kinds"
        ]
    );

    let entra = conformance::log_entry(
        &tenant,
        2,
        "get",
        Outcome::Succeeded,
        ("u-1", "ada@contoso.com"),
        "entra",
    );
    let entra_at = entra.at;
    store.append_log(vec![entra]).await.expect("appending");
    store.append_log(vec![okta(3)]).await.expect("appending");
    let kinds: Vec<i64> = conn
        .prepare("SELECT kinds FROM provisioning_log_blocks ORDER BY first_seq")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("the blocks' kinds");
    assert_eq!(kinds.len(), 3);
    assert_eq!(kinds[0], -1, "a block written before has every bit");
    assert!(kinds[1] > 0 && kinds[1] != kinds[2], "{kinds:?}");
    // The new entra block made unreadable: only a page that must read it sees the damage.
    conn.execute(
        "UPDATE provisioning_log_blocks SET heads = x'07' WHERE first_seq = 2",
        [],
    )
    .expect("damaging a block");
    assert_eq!(
        page(None, None, Some("okta")).await.expect("a page"),
        [3, 1]
    );
    let refused = page(Some(Outcome::Refused), Some("create"), None).await;
    assert_eq!(refused.expect("a page"), [3, 1]);
    assert!(
        page(None, None, Some("onelogin"))
            .await
            .expect("a page")
            .is_empty()
    );
    assert!(page(None, None, Some("entra")).await.is_err());
    assert!(page(None, Some("get"), None).await.is_err());
    assert!(page(None, None, None).await.is_err());
    // A window that ends before the damaged block's first entry passes over it, and over the
    // block after it, from their rows alone; so does a page about the entries' user.
    let until = async |until, resource: Option<&str>| {
        seqs(LogQuery {
            until: Some(until),
            resource: resource.map(str::to_owned),
            limit: 10,
            ..LogQuery::default()
        })
        .await
    };
    let just_after = entra_at + time::Duration::microseconds(1);
    for resource in [None, Some("u-1"), Some("ADA@contoso.com")] {
        assert_eq!(until(entra_at, resource).await.expect("a page"), [1]);
        assert!(until(just_after, resource).await.is_err());
    }
}

/// The page size of a log file: SQLite's largest for a new file; a file written with SQLite's
/// default keeps its pages, and entries are appended to it and read from it as before.
#[tokio::test]
async fn a_new_log_file_has_large_pages_and_an_older_one_keeps_its_own() {
    use roster_store::{LogQuery, Outcome};
    let page_size = |dir: &std::path::Path| -> i64 {
        rusqlite::Connection::open(dir.join("t.db-log"))
            .expect("opening the log file")
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("reading the page size")
    };
    let db = fresh().await;
    assert_eq!(page_size(db._dir.path()), 16384);

    let dir = tempfile::tempdir().expect("creating a temporary directory");
    rusqlite::Connection::open(dir.path().join("t.db-log"))
        .expect("creating a log file")
        .execute_batch(
            "PRAGMA page_size = 4096; PRAGMA journal_mode = WAL; CREATE TABLE earlier (x);",
        )
        .expect("writing a log file with SQLite's default pages");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("opening");
    let tenant = add_tenant(&store, "t-small").await;
    let entries = (0..100)
        .map(|n| {
            conformance::log_entry(
                &tenant,
                n,
                "create",
                Outcome::Succeeded,
                ("u-ada", "ada@contoso.com"),
                "entra",
            )
        })
        .collect();
    store.append_log(entries).await.expect("appending");
    let page = store
        .log_page(
            &tenant,
            &LogQuery {
                resource: Some("ada@contoso.com".into()),
                limit: 500,
                ..LogQuery::default()
            },
        )
        .await
        .expect("a page");
    assert_eq!(page.len(), 100);
    assert_eq!(page_size(dir.path()), 4096);
}

/// The names noted of a resource go with its last entry: the purge deletes them once no entry
/// carries the resource's number, and a page about the name is then empty.
#[tokio::test]
async fn the_purge_deletes_the_names_of_purged_entries() {
    use roster_store::{LogQuery, Outcome};
    let db = fresh().await;
    let at = time::macros::datetime!(2024-01-01 0:00 UTC);
    let tenant = add_tenant(&db.store, "t-names").await;
    let old = conformance::log_entry(
        &tenant,
        0,
        "create",
        Outcome::Succeeded,
        ("u-1", "Old@x"),
        "entra",
    );
    let kept = conformance::log_entry(
        &tenant,
        600,
        "update",
        Outcome::Succeeded,
        ("u-2", "Kept@x"),
        "entra",
    );
    db.store
        .append_log(vec![old, kept])
        .await
        .expect("appending");
    let names = || {
        rusqlite::Connection::open(db._dir.path().join("t.db-log"))
            .expect("opening the log file")
            .query_row(
                "SELECT group_concat(key) FROM provisioning_log_names",
                [],
                |r| r.get::<_, String>(0),
            )
            .expect("the names")
    };
    assert_eq!(names(), "kept@x,old@x");
    let purged = db.store.purge_log(at + time::Duration::hours(1)).await;
    assert_eq!(purged.expect("purging"), 1);
    assert_eq!(names(), "kept@x", "the purged entry's name goes with it");
    let by = |resource: &str| LogQuery {
        resource: Some(resource.to_owned()),
        limit: 10,
        ..LogQuery::default()
    };
    assert_eq!(store_page(&db.store, &tenant, by("old@x")).await, 0);
    assert_eq!(store_page(&db.store, &tenant, by("kept@x")).await, 1);
    assert_eq!(
        store_page(&db.store, &tenant, by("")).await,
        0,
        "no name, no id"
    );
    // The store forgot what it had noted: the name is noted again with its next entry.
    let again = conformance::log_entry(
        &tenant,
        700,
        "update",
        Outcome::Succeeded,
        ("u-1", "Old@x"),
        "entra",
    );
    db.store.append_log(vec![again]).await.expect("appending");
    assert_eq!(names(), "kept@x,old@x");
    assert_eq!(store_page(&db.store, &tenant, by("old@x")).await, 1);
    // It forgot only the name it deleted: the kept one is still known, so its next entry
    // runs no insert (seen by deleting it behind the store's back).
    rusqlite::Connection::open(db._dir.path().join("t.db-log"))
        .expect("opening the log file")
        .execute(
            "DELETE FROM provisioning_log_names WHERE key = 'kept@x'",
            [],
        )
        .expect("deleting the kept name");
    let kept_again = conformance::log_entry(
        &tenant,
        800,
        "update",
        Outcome::Succeeded,
        ("u-2", "Kept@x"),
        "entra",
    );
    db.store
        .append_log(vec![kept_again])
        .await
        .expect("appending");
    assert_eq!(names(), "old@x", "the kept name was still known: no insert");
}

/// A store that opens remembers the names its log file has noted, so that a restarted process
/// does not note again every name its first requests carry: the first entry about a known name
/// runs no insert for it (seen here by deleting the name behind the store's back: it is not
/// written again, where a store that had forgotten it writes it, see the test above).
#[tokio::test]
async fn a_reopened_store_remembers_the_names_noted() {
    use roster_store::Outcome;
    let Fresh { store, _dir: dir } = fresh().await;
    let at = time::macros::datetime!(2024-01-01 0:00 UTC);
    let tenant = add_tenant(&store, "t-known").await;
    let entry = |seconds| {
        conformance::log_entry(
            &tenant,
            seconds,
            "update",
            Outcome::Succeeded,
            ("u-1", "Ada@x"),
            "entra",
        )
    };
    store.append_log(vec![entry(0)]).await.expect("appending");
    drop(store);
    let log = rusqlite::Connection::open(dir.path().join("t.db-log")).expect("the log file");
    let names = || {
        log.query_row("SELECT count(*) FROM provisioning_log_names", [], |r| {
            r.get::<_, i64>(0)
        })
        .expect("the names")
    };
    assert_eq!(names(), 1);
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("reopening the store");
    // The server's first purge runs as it starts; one that deletes no entry looks at no name
    // and forgets none.
    let purged = store.purge_log(at - time::Duration::days(1)).await;
    assert_eq!(purged.expect("purging"), 0);
    log.execute("DELETE FROM provisioning_log_names", [])
        .expect("deleting the name");
    store.append_log(vec![entry(60)]).await.expect("appending");
    assert_eq!(names(), 0, "the reopened store knew the name: no insert");
}

async fn store_page(
    store: &SqliteStore,
    tenant: &roster_store::TenantId,
    query: roster_store::LogQuery,
) -> usize {
    store.log_page(tenant, &query).await.expect("a page").len()
}
