//! The storage conformance suite (`roster_store::conformance`) run against PostgreSQL: every
//! suite function on a database of its own, and random filters checked against the evaluator.
//!
//! The server comes from `ROSTER_TEST_POSTGRES_URL`, which `scripts/test` sets after starting
//! a throwaway PostgreSQL; without it these tests fail, saying so.

use proptest::test_runner::{Config, TestCaseError, TestRunner};
use roster_store::conformance::{self, FilterFixture, strategy};
use roster_store::{Kind, Store};
use roster_store_postgres::{PoolConfig, PostgresStore, scratch_database};

async fn fresh() -> PostgresStore {
    let server = std::env::var("ROSTER_TEST_POSTGRES_URL").expect(
        "ROSTER_TEST_POSTGRES_URL names no PostgreSQL server: run scripts/test, which starts one",
    );
    let url = scratch_database(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a database on {server}: {e}"));
    let pool = PoolConfig {
        max_connections: 4,
        ..PoolConfig::default()
    };
    PostgresStore::open(&url, pool)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"))
}
#[tokio::test]
async fn ping() {
    conformance::ping(&fresh().await).await;
}

#[tokio::test]
async fn tenants() {
    conformance::tenants(&fresh().await).await;
}

#[tokio::test]
async fn first_tenant() {
    conformance::first_tenant(&fresh().await).await;
}

/// Processes starting at once on an empty database: eight offers through two handles (two
/// pools, as two processes have), exactly one tenant.
#[tokio::test]
async fn first_tenant_race() {
    let server = std::env::var("ROSTER_TEST_POSTGRES_URL").expect(
        "ROSTER_TEST_POSTGRES_URL names no PostgreSQL server: run scripts/test, which starts one",
    );
    let url = scratch_database(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a database on {server}: {e}"));
    let mut stores = Vec::new();
    for _ in 0..2 {
        let store = PostgresStore::open(&url, PoolConfig::default())
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
    conformance::tokens(&fresh().await).await;
}

#[tokio::test]
async fn used_assertions() {
    conformance::used_assertions(&fresh().await).await;
}

#[tokio::test]
async fn token_lifecycle() {
    conformance::token_lifecycle(&fresh().await).await;
}

#[tokio::test]
async fn update_from_previous() {
    conformance::update_from_previous(&fresh().await).await;
}

#[tokio::test]
async fn change_log() {
    conformance::change_log(&fresh().await).await;
}

#[tokio::test]
async fn api_keys() {
    conformance::api_keys(&fresh().await).await;
}

#[tokio::test]
async fn pages_after_a_key() {
    conformance::pages_after_a_key(&fresh().await).await;
}

#[tokio::test]
async fn emails_follow_updates() {
    conformance::emails_follow_updates(&fresh().await).await;
}

#[tokio::test]
async fn user_lifecycle() {
    conformance::user_lifecycle(&fresh().await).await;
}

#[tokio::test]
async fn group_lifecycle() {
    conformance::group_lifecycle(&fresh().await).await;
}

#[tokio::test]
async fn name_uniqueness() {
    conformance::name_uniqueness(&fresh().await).await;
}

#[tokio::test]
async fn tenant_isolation() {
    conformance::tenant_isolation(&fresh().await).await;
}

#[tokio::test]
async fn membership() {
    conformance::membership(&fresh().await).await;
}

#[tokio::test]
async fn listing() {
    conformance::listing(&fresh().await).await;
}

#[tokio::test]
async fn filters_agree_with_evaluator() {
    conformance::filters_agree_with_evaluator(&fresh().await).await;
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
    let fixture = rt.block_on(FilterFixture::seed(&db));
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
            rt.block_on(fixture.check_with_parts(&db, kind, &filter, &shape))
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
/// so look-alike spellings find rows created before the compatibility fold (issue 14.7). Two
/// processes open the old database at once: one folds, the other finds it done.
#[tokio::test]
async fn keys_of_an_older_fold_are_folded_again_when_the_store_opens() {
    use sqlx::{Connection, PgConnection};
    let server = std::env::var("ROSTER_TEST_POSTGRES_URL").expect(
        "ROSTER_TEST_POSTGRES_URL names no PostgreSQL server: run scripts/test, which starts one",
    );
    let url = scratch_database(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a database on {server}: {e}"));
    let store = PostgresStore::open(&url, PoolConfig::default())
        .await
        .expect("opening the store");
    let rows = conformance::refold_seed(&store).await;
    drop(store);
    let mut conn = PgConnection::connect(&url).await.expect("connecting");
    for r in &rows {
        sqlx::query(
            "UPDATE resources SET data = $1, name_key = $2 WHERE tenant_id = $3 AND id = $4",
        )
        .bind(&r.data)
        .bind(&r.name_key)
        .bind(r.tenant.as_str())
        .bind(&r.id)
        .execute(&mut conn)
        .await
        .expect("writing the first fold's name key");
        if let Some(key) = &r.email_key {
            sqlx::query(
                "UPDATE emails SET value_key = $1 WHERE resource_seq =
                   (SELECT seq FROM resources WHERE tenant_id = $2 AND id = $3)",
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
    let (a, b) = tokio::join!(
        PostgresStore::open(&url, PoolConfig::default()),
        PostgresStore::open(&url, PoolConfig::default()),
    );
    let (a, _b) = (a.expect("reopening"), b.expect("reopening beside it"));
    conformance::refold_check(&a, &rows).await;
}
