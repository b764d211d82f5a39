//! The storage conformance suite (`roster_store::conformance`) run against SQLite: every suite
//! function on a database file of its own, and random filters checked against the evaluator;
//! then what is SQLite's own: two handles on one file, and keys of an older fold.

use std::str::FromStr;
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
    use sqlx::{ConnectOptions, Connection};
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("opening the store");
    let rows = conformance::refold_seed(&store).await;
    drop(store);
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(&url)
        .expect("the URL")
        .connect()
        .await
        .expect("connecting");
    for r in &rows {
        sqlx::query("UPDATE resources SET data = ?, name_key = ? WHERE tenant_id = ? AND id = ?")
            .bind(&r.data)
            .bind(&r.name_key)
            .bind(r.tenant.as_str())
            .bind(&r.id)
            .execute(&mut conn)
            .await
            .expect("writing the first fold's name key");
        if let Some(key) = &r.email_key {
            sqlx::query(
                "UPDATE emails SET value_key = ? WHERE resource_seq =
                   (SELECT seq FROM resources WHERE tenant_id = ? AND id = ?)",
            )
            .bind(key)
            .bind(r.tenant.as_str())
            .bind(&r.id)
            .execute(&mut conn)
            .await
            .expect("writing the first fold's e-mail key");
        }
    }
    sqlx::query("UPDATE key_fold SET version = 1")
        .execute(&mut conn)
        .await
        .expect("resetting the fold version");
    conn.close().await.expect("closing");
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
