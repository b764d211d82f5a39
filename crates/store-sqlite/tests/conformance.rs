//! The storage conformance suite (`roster_store::conformance`) run against SQLite: every suite
//! function on a database file of its own, and random filters checked against the evaluator.

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_store::conformance::{self, FilterFixture, strategy};
use roster_store::{Kind, Store};
use std::str::FromStr;

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

#[tokio::test]
async fn ping() {
    conformance::ping(&fresh().await.store).await;
}

#[tokio::test]
async fn tenants() {
    conformance::tenants(&fresh().await.store).await;
}

#[tokio::test]
async fn first_tenant() {
    conformance::first_tenant(&fresh().await.store).await;
}

/// Processes starting at once on an empty database (the CLI beside a server): eight offers
/// through two handles, each with a writer of its own, exactly one tenant.
#[tokio::test]
async fn first_tenant_race() {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = SqliteStore::open(&url)
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        stores.push(std::sync::Arc::new(store));
    }
    let offers: Vec<_> = (0..8)
        .map(|i| {
            let store = stores[i % 2].clone();
            tokio::spawn(async move {
                let tenant = conformance::tenant_record(
                    &format!("t-{i}"),
                    "default",
                    time::macros::datetime!(2026-01-01 00:00 UTC),
                );
                store.create_first_tenant(&tenant).await
            })
        })
        .collect();
    let mut created = 0;
    for offer in offers {
        if offer.await.expect("an offer's task").expect("an offer") {
            created += 1;
        }
    }
    assert_eq!(
        created, 1,
        "exactly one of eight racing offers creates the tenant"
    );
    assert_eq!(stores[0].tenants().await.expect("listing tenants").len(), 1);
}

#[tokio::test]
async fn tokens() {
    conformance::tokens(&fresh().await.store).await;
}

#[tokio::test]
async fn used_assertions() {
    conformance::used_assertions(&fresh().await.store).await;
}

#[tokio::test]
async fn token_lifecycle() {
    conformance::token_lifecycle(&fresh().await.store).await;
}

#[tokio::test]
async fn update_from_previous() {
    conformance::update_from_previous(&fresh().await.store).await;
}

#[tokio::test]
async fn change_log() {
    conformance::change_log(&fresh().await.store).await;
}

#[tokio::test]
async fn api_keys() {
    conformance::api_keys(&fresh().await.store).await;
}

#[tokio::test]
async fn pages_after_a_key() {
    conformance::pages_after_a_key(&fresh().await.store).await;
}

#[tokio::test]
async fn emails_follow_updates() {
    conformance::emails_follow_updates(&fresh().await.store).await;
}

#[tokio::test]
async fn user_lifecycle() {
    conformance::user_lifecycle(&fresh().await.store).await;
}

#[tokio::test]
async fn group_lifecycle() {
    conformance::group_lifecycle(&fresh().await.store).await;
}

#[tokio::test]
async fn name_uniqueness() {
    conformance::name_uniqueness(&fresh().await.store).await;
}

#[tokio::test]
async fn tenant_isolation() {
    conformance::tenant_isolation(&fresh().await.store).await;
}

#[tokio::test]
async fn membership() {
    conformance::membership(&fresh().await.store).await;
}

#[tokio::test]
async fn listing() {
    conformance::listing(&fresh().await.store).await;
}

#[tokio::test]
async fn filters_agree_with_evaluator() {
    conformance::filters_agree_with_evaluator(&fresh().await.store).await;
}

/// Seeds one database, then lists it with random filters and shapes, each filter and each of
/// its parts compared with the evaluator. The runtime is built here because proptest's runner is synchronous.
fn random_filters_agree(
    kind: Kind,
    filters: impl proptest::strategy::Strategy<Value = strategy::RandomFilter>,
    shapes: impl proptest::strategy::Strategy<Value = conformance::QueryShape>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime");
    let db = rt.block_on(fresh());
    let fixture = rt.block_on(FilterFixture::seed(&db.store));
    let config = Config {
        cases: 64,
        // The runner has no source file to keep regressions next to; a failure prints the
        // shrunk filter instead, to be added to the suite's table.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(
        &(filters, shapes),
        |(strategy::RandomFilter(filter), shape)| {
            rt.block_on(fixture.check_with_parts(&db.store, kind, &filter, &shape))
                .map(drop)
                .map_err(|e| TestCaseError::fail(format!("{filter} ({shape}): {e}")))
        },
    );
    if let Err(e) = outcome {
        panic!("a random {kind:?} filter disagrees with the evaluator: {e}");
    }
}

#[test]
fn random_user_filters_agree_with_evaluator() {
    random_filters_agree(Kind::User, strategy::user_filter(), strategy::user_shape());
}

#[test]
fn random_group_filters_agree_with_evaluator() {
    random_filters_agree(
        Kind::Group,
        strategy::group_filter(),
        strategy::group_shape(),
    );
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
