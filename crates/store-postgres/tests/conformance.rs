//! The storage conformance suite (`roster_store::conformance`) run against PostgreSQL: every
//! suite function on a database of its own, and random filters checked against the evaluator;
//! then what is PostgreSQL's own: two pools on one database, and keys of an older fold.
//!
//! The server comes from `ROSTER_TEST_POSTGRES_URL`, which `scripts/test` sets after starting
//! a throwaway PostgreSQL; without it these tests fail, saying so.

use std::sync::Arc;

use roster_store::conformance;
use roster_store::prelude::*;
use roster_store_postgres::{PoolConfig, PostgresStore, scratch_database};

/// A new database on the test server.
async fn scratch() -> String {
    let server = std::env::var("ROSTER_TEST_POSTGRES_URL").expect(
        "ROSTER_TEST_POSTGRES_URL names no PostgreSQL server: run scripts/test, which starts one",
    );
    scratch_database(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a database on {server}: {e}"))
}

async fn fresh() -> PostgresStore {
    let url = scratch().await;
    let pool = PoolConfig {
        max_connections: 4,
        ..PoolConfig::default()
    };
    PostgresStore::open(&url, pool)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"))
}

roster_store::conformance_tests!(fresh, |db| &db);

/// Processes starting at once on an empty database: eight offers through two handles (two
/// pools, as two processes have), exactly one tenant.
#[tokio::test]
async fn first_tenant_race() {
    let url = scratch().await;
    let mut stores: Vec<Arc<dyn Store>> = Vec::new();
    for _ in 0..2 {
        let store = PostgresStore::open(&url, PoolConfig::default())
            .await
            .unwrap_or_else(|e| panic!("opening {url}: {e}"));
        stores.push(Arc::new(store));
    }
    conformance::first_tenant_race(stores).await;
}

/// Keys written by the first fold (simple lowercase) are folded again when the store opens,
/// so look-alike spellings find rows created before the compatibility fold (issue 14.7). Two
/// processes open the old database at once: one folds, the other finds it done.
#[tokio::test]
async fn keys_of_an_older_fold_are_folded_again_when_the_store_opens() {
    use sqlx::{Connection, PgConnection};
    let url = scratch().await;
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
