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
    let pool = PoolConfig {
        max_connections: 4,
        ..PoolConfig::default()
    };
    opened(pool).await.1
}

/// A new database's URL, and a store on it with `pool`.
async fn opened(pool: PoolConfig) -> (String, PostgresStore) {
    let url = scratch().await;
    let store = PostgresStore::open(&url, pool)
        .await
        .unwrap_or_else(|e| panic!("opening {url}: {e}"));
    (url, store)
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
    let (url, store) = opened(PoolConfig::default()).await;
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

/// A page of the log filtered by client, action or outcome walks the range of that filter's
/// index, not the tenant's entries until it has a page: over 3,000 entries that match none of
/// the filters, each page reads its own entries and passes over none (the plan PostgreSQL runs
/// says how many rows each step read and discarded). A time window, in the past or up to now,
/// is walked from near its end to near its start: entries an hour apart, a page passes over at
/// most the one that arrived within the hour after the window.
#[tokio::test]
async fn a_filtered_log_page_passes_over_no_entry() {
    use roster_store::sql::{Bind, numbered, provisioning_log::page};
    use roster_store::{LogQuery, Outcome};
    use sqlx::{Connection, PgConnection, Row};
    let (url, store) = opened(PoolConfig::default()).await;
    let tenant = conformance::tenant_record("t-plans", "Plans", time::OffsetDateTime::UNIX_EPOCH);
    store
        .create_tenant(&tenant)
        .await
        .expect("creating a tenant");
    let t = &tenant.id;
    let rare = [
        conformance::log_entry(t, 0, "delete", Outcome::Failed, ("u-1", "a"), "okta"),
        conformance::log_entry(t, 1, "delete", Outcome::Refused, ("u-2", "b"), "okta"),
    ];
    store.append_log(rare.to_vec()).await.expect("appending");
    for batch in 0..3 {
        let common = (0..1000)
            .map(|n| {
                // An hour apart.
                let at = 60 * (2 + batch * 1000 + n);
                conformance::log_entry(t, at, "get", Outcome::Succeeded, ("u-3", "c"), "entra")
            })
            .collect();
        store.append_log(common).await.expect("appending");
    }
    let mut conn = PgConnection::connect(&url).await.expect("connecting");
    sqlx::query("ANALYZE provisioning_log")
        .execute(&mut conn)
        .await
        .expect("analyzing");
    fn filtered(f: impl FnOnce(&mut LogQuery)) -> LogQuery {
        let mut query = LogQuery {
            limit: 50,
            ..LogQuery::default()
        };
        f(&mut query);
        query
    }
    let hours =
        |h: i64| Some(conformance::log_entry(t, 60 * h, "", Outcome::Failed, ("", ""), "").at);
    // Each page, and how many entries it shows.
    let pages = [
        (2, filtered(|q| q.client = Some("okta".into()))),
        (0, filtered(|q| q.client = Some("onelogin".into()))),
        (2, filtered(|q| q.action = Some("delete".into()))),
        (1, filtered(|q| q.outcome = Some(Outcome::Failed))),
        (1, filtered(|q| q.outcome = Some(Outcome::Refused))),
        (
            1,
            filtered(|q| {
                q.outcome = Some(Outcome::Failed);
                q.since = Some(time::OffsetDateTime::UNIX_EPOCH);
            }),
        ),
        (50, filtered(|q| q.until = hours(1500))),
        (
            50,
            filtered(|q| {
                q.since = hours(1000);
                q.until = hours(1500);
            }),
        ),
        (3, filtered(|q| q.since = hours(2999))),
        (
            50,
            filtered(|q| {
                q.resource = Some("u-3".into());
                q.until = hours(1500);
            }),
        ),
    ];
    for (shown, query) in pages {
        let (sql, binds) = page(t, &query);
        // Several times each: after five runs of a prepared statement, PostgreSQL may plan it
        // once for any parameters.
        for _ in 0..7 {
            let explain = format!("EXPLAIN (ANALYZE, FORMAT JSON) {}", numbered(&sql));
            let mut q = sqlx::query(&explain);
            for b in &binds {
                q = match b {
                    Bind::Text(s) => q.bind(s.as_str()),
                    Bind::Bool(v) => q.bind(*v),
                    Bind::Time(at) => q.bind(*at),
                    Bind::Int(n) => q.bind(*n),
                };
            }
            let row = q.fetch_one(&mut conn).await.expect("explaining a page");
            let plan: serde_json::Value = row.get(0);
            let mut passed = 0;
            let mut read = 0;
            count_rows(&plan, &mut passed, &mut read);
            // A page about a resource is two walks (its name, its id), each at most a page
            // long, then its entries read by `seq`.
            let walks = if query.resource.is_some() { 2 } else { 1 };
            assert!(passed <= walks, "{query:?} passed over entries: {plan:#}");
            // The page's entries, and one probe of the time index at each end of each walk.
            let most = (shown + 2) * (walks + 1);
            assert!(read <= most, "{query:?} read {read} rows: {plan:#}");
        }
        let entries = store.log_page(t, &query).await.expect("reading a page");
        assert_eq!(entries.len() as u64, shown, "{query:?}");
    }
}

/// The rows a plan's steps discarded (`Rows Removed by Filter`) and read (`Actual Rows` of
/// the index scans of the log; on a table this small, PostgreSQL may read a page about a
/// resource's entries by `seq` from a scan of the whole table, which discards nothing).
fn count_rows(plan: &serde_json::Value, passed: &mut u64, read: &mut u64) {
    match plan {
        serde_json::Value::Object(node) => {
            for (key, value) in node {
                match key.as_str() {
                    "Rows Removed by Filter" | "Rows Removed by Index Recheck" => {
                        *passed += value.as_u64().unwrap_or(0);
                    }
                    "Actual Rows"
                        if node.get("Relation Name")
                            == Some(&serde_json::Value::from("provisioning_log"))
                            && node
                                .get("Node Type")
                                .and_then(serde_json::Value::as_str)
                                .is_some_and(|t| t.starts_with("Index")) =>
                    {
                        *read += value.as_u64().unwrap_or(0);
                    }
                    _ => count_rows(value, passed, read),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for item in items {
                count_rows(item, passed, read);
            }
        }
        _ => {}
    }
}

/// A database whose log was written before the counts per hour (migration 0020) has its
/// entries counted when it is upgraded: the migration counts what is already there.
#[tokio::test]
async fn an_upgrade_counts_the_entries_logged_before_it() {
    use roster_store::{LogCounts, Outcome};
    use sqlx::{Connection, PgConnection};
    let (url, store) = opened(PoolConfig::default()).await;
    let tenant =
        conformance::tenant_record("t-upgrade", "Upgrade", time::OffsetDateTime::UNIX_EPOCH);
    store
        .create_tenant(&tenant)
        .await
        .expect("creating a tenant");
    let t = &tenant.id;
    let outcome = |m: i64| match m % 5 {
        0 => Outcome::Refused,
        1 => Outcome::Failed,
        _ => Outcome::Succeeded,
    };
    // Five hours of entries, a minute apart.
    let entries: Vec<_> = (0..300)
        .map(|m| conformance::log_entry(t, m, "get", outcome(m), ("u-1", "a"), "entra"))
        .collect();
    store.append_log(entries.clone()).await.expect("appending");
    drop(store);
    // The database as the version before this migration left it.
    let mut conn = PgConnection::connect(&url).await.expect("connecting");
    for sql in [
        "DROP TABLE provisioning_log_hours",
        "DELETE FROM _sqlx_migrations WHERE version = 20",
    ] {
        sqlx::query(sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let store = PostgresStore::open(&url, PoolConfig::default())
        .await
        .expect("upgrading");
    for since in [0, 45, 60, 299] {
        let since = entries[since].at;
        let mut expected = LogCounts::default();
        for e in entries.iter().filter(|e| e.at >= since) {
            expected.total += 1;
            expected.refused += u64::from(e.outcome == Outcome::Refused);
            expected.failed += u64::from(e.outcome == Outcome::Failed);
        }
        assert_eq!(
            store.log_counts(t, since).await.expect("counting"),
            expected,
            "since {since}"
        );
    }
    let hours: i64 = sqlx::query_scalar("SELECT count(*) FROM provisioning_log_hours")
        .fetch_one(&mut conn)
        .await
        .expect("counting the hours");
    assert_eq!(hours, 5, "the five hours counted, from the entries");
}

/// A connection in a transaction that holds `tenant`'s row, as the tenant's deletion does.
async fn holding_the_row_of(url: &str, tenant: &roster_store::TenantId) -> sqlx::PgConnection {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.expect("connecting");
    run(&mut conn, "BEGIN").await;
    sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
        .bind(tenant.as_str())
        .execute(&mut conn)
        .await
        .expect("holding the tenant's row, as its deletion does");
    conn
}

/// Runs `sql` on `conn`.
async fn run(conn: &mut sqlx::PgConnection, sql: &str) {
    sqlx::query(sql)
        .execute(conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Whether a session on `url` comes to wait for a lock (`wait_event_type = 'Lock' AND
/// {condition}`) before `task` finishes, looking until one or the other.
async fn waits_for_a_lock<T>(
    url: &str,
    condition: &str,
    task: &tokio::task::JoinHandle<T>,
) -> bool {
    use sqlx::Connection;
    let mut watching = sqlx::PgConnection::connect(url).await.expect("connecting");
    let sql = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND {condition}"
    );
    let started = std::time::Instant::now();
    while !task.is_finished() {
        let waiting: i64 = sqlx::query_scalar(&sql)
            .fetch_one(&mut watching)
            .await
            .expect("watching");
        if waiting > 0 {
            return true;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "neither waited nor finished: {condition}"
        );
        tokio::task::yield_now().await;
    }
    false
}

/// A tenant deleted while a batch with its entries is being appended: the deletion holds the
/// tenant's row while it deletes the tenant's counts per hour, and the batch adds to those
/// counts. Neither waits on the other in a circle: the batch waits, then stores the other
/// tenant's entries and drops the deleted one's, and the deletion completes.
#[tokio::test]
async fn a_batch_and_its_tenants_deletion_do_not_deadlock() {
    use roster_store::Outcome;
    use sqlx::{Connection, PgConnection};
    let (url, store) = opened(PoolConfig::default()).await;
    let [gone, kept] = ["t-gone", "t-kept"]
        .map(|id| conformance::tenant_record(id, id, time::OffsetDateTime::UNIX_EPOCH));
    for t in [&gone, &kept] {
        store.create_tenant(t).await.expect("creating a tenant");
    }
    let entry = |t: &roster_store::TenantId, minute| {
        conformance::log_entry(t, minute, "get", Outcome::Succeeded, ("u-1", "a"), "entra")
    };
    // The hour already has a row for the tenant that goes.
    store
        .append_log(vec![entry(&gone.id, 1)])
        .await
        .expect("appending");

    let mut deleting = holding_the_row_of(&url, &gone.id).await;
    let batch = vec![entry(&gone.id, 2), entry(&kept.id, 3)];
    let appending = {
        let store = store.clone();
        tokio::spawn(async move { store.append_log(batch).await })
    };
    assert!(
        waits_for_a_lock(&url, "query LIKE '%FOR KEY SHARE%'", &appending).await,
        "the batch never waited for the tenant's row"
    );
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(gone.id.as_str())
        .execute(&mut deleting)
        .await
        .expect("deleting the tenant while the batch waits");
    run(&mut deleting, "COMMIT").await;
    appending
        .await
        .expect("the append's task")
        .expect("the batch is appended");
    let kept_page = store
        .log_page(
            &kept.id,
            &roster_store::LogQuery {
                limit: 10,
                ..Default::default()
            },
        )
        .await
        .expect("a page");
    assert_eq!(kept_page.len(), 1, "the other tenant's entry is stored");
    let mut conn = PgConnection::connect(&url).await.expect("connecting");
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM provisioning_log WHERE tenant_id = $1)
              + (SELECT count(*) FROM provisioning_log_hours WHERE tenant_id = $1)",
    )
    .bind(gone.id.as_str())
    .fetch_one(&mut conn)
    .await
    .expect("counting");
    assert_eq!(rows, 0, "nothing of the deleted tenant is left");
}

/// Batches of several processes are numbered in the order they commit: one that starts while
/// another process's batch is numbered but not yet committed waits for it. Otherwise a host
/// application following the log with `after` could read the later batch, move its cursor past
/// it, and never see the earlier one, committed below the cursor a moment later.
#[tokio::test]
async fn batches_of_several_processes_are_numbered_in_the_order_they_commit() {
    use roster_store::{LogQuery, Outcome};
    use sqlx::{Connection, PgConnection};
    let (url, store) = opened(PoolConfig::default()).await;
    let tenant = conformance::tenant_record("t-order", "Order", time::OffsetDateTime::UNIX_EPOCH);
    store
        .create_tenant(&tenant)
        .await
        .expect("creating a tenant");
    let t = tenant.id.clone();
    // Another process's batch: numbered, not committed.
    let mut other = PgConnection::connect(&url).await.expect("connecting");
    run(&mut other, "BEGIN").await;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(roster_store_postgres::APPEND_LOCK)
        .execute(&mut other)
        .await
        .expect("taking the append's lock, as a batch does");
    let first: i64 = sqlx::query_scalar(
        "INSERT INTO provisioning_log (tenant_id, at, outcome, action, client, resource_key,
             resource_id, request_id, duration_ms, method, path, query, status, user_agent,
             credential, resource_type, resource_name, summary, explanation, hint,
             normalizations, request_body, response_body)
         VALUES ($1, now(), 'succeeded', 'get', 'entra', '', '', 'req-first', 1, 'GET', '/Users',
             '', 200, '', '', 'User', '', 'Looked up', '', '', '', '', '')
         RETURNING seq",
    )
    .bind(t.as_str())
    .fetch_one(&mut other)
    .await
    .expect("the other process's entry");
    let batch = (0..3)
        .map(|m| conformance::log_entry(&t, m, "get", Outcome::Succeeded, ("u-1", "a"), "entra"))
        .collect();
    let appending = {
        let store = store.clone();
        tokio::spawn(async move { store.append_log(batch).await })
    };
    // Until the batch waits for the other (or, were it not to, has been appended).
    waits_for_a_lock(&url, "wait_event = 'advisory'", &appending).await;
    let following = LogQuery {
        after: Some(0),
        limit: 100,
        ..LogQuery::default()
    };
    let seen = store.log_page(&t, &following).await.expect("a page");
    assert_eq!(
        seen.len(),
        0,
        "nothing is readable above an entry not yet committed"
    );
    run(&mut other, "COMMIT").await;
    appending
        .await
        .expect("the append's task")
        .expect("the batch is appended");
    let seen = store.log_page(&t, &following).await.expect("a page");
    let seqs: Vec<i64> = seen.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4);
    assert_eq!(seqs[0], first, "the other process's entry first");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
}

/// A batch that waits for its tenant's deletion (seconds, for a large log) holds up no other
/// tenant's batch: it waits before it takes its turn among the appends, not in it.
#[tokio::test]
async fn a_batch_waiting_for_a_deletion_holds_up_no_other_batch() {
    use roster_store::Outcome;
    let (url, store) = opened(PoolConfig::default()).await;
    let [going, other] = ["t-going", "t-other"]
        .map(|id| conformance::tenant_record(id, id, time::OffsetDateTime::UNIX_EPOCH));
    for t in [&going, &other] {
        store.create_tenant(t).await.expect("creating a tenant");
    }
    let entry = |t: &roster_store::TenantId| {
        conformance::log_entry(t, 1, "get", Outcome::Succeeded, ("u-1", "a"), "entra")
    };
    let mut deleting = holding_the_row_of(&url, &going.id).await;
    let waiting_batch = {
        let (store, e) = (store.clone(), entry(&going.id));
        tokio::spawn(async move { store.append_log(vec![e]).await })
    };
    assert!(
        waits_for_a_lock(&url, "wait_event <> 'advisory'", &waiting_batch).await,
        "the batch never waited for the tenant's row"
    );
    // Another tenant's batch now: appended, or waiting for the append's turn?
    let next = {
        let (store, e) = (store.clone(), entry(&other.id));
        tokio::spawn(async move { store.append_log(vec![e]).await })
    };
    assert!(
        !waits_for_a_lock(&url, "wait_event = 'advisory'", &next).await,
        "the other tenant's batch waits behind the waiting one"
    );
    next.await.expect("the task").expect("the other batch");
    assert!(!waiting_batch.is_finished(), "the first batch still waits");
    run(&mut deleting, "ROLLBACK").await;
    waiting_batch
        .await
        .expect("the task")
        .expect("the first batch, once the tenant's row is free");
}

/// The purge and a tenant's deletion both delete the tenant's old entries, in different
/// orders. A purge's chunk takes its tenants' rows before it deletes anything, so it waits
/// for a deletion under way (whose entries are then gone) rather than the two locking each
/// other's entries; and the purge still takes every other tenant's old entries.
#[tokio::test]
async fn the_purge_waits_for_a_tenants_deletion_under_way() {
    use roster_store::{LogQuery, Outcome};
    let (url, store) = opened(PoolConfig::default()).await;
    let [going, other] = ["t-going", "t-other"]
        .map(|id| conformance::tenant_record(id, id, time::OffsetDateTime::UNIX_EPOCH));
    for t in [&going, &other] {
        store.create_tenant(t).await.expect("creating a tenant");
    }
    let entries = |t: &roster_store::TenantId| -> Vec<roster_store::LogEntry> {
        (0..10)
            .map(|m| conformance::log_entry(t, m, "get", Outcome::Succeeded, ("u-1", "a"), "entra"))
            .collect()
    };
    for t in [&going, &other] {
        store.append_log(entries(&t.id)).await.expect("appending");
    }
    let before = entries(&other.id)[5].at;

    let mut deleting = holding_the_row_of(&url, &going.id).await;
    let purging = {
        let store = store.clone();
        tokio::spawn(async move { store.purge_log(before).await })
    };
    assert!(
        waits_for_a_lock(&url, "wait_event <> 'advisory'", &purging).await,
        "the purge deleted the tenant's entries under its deletion"
    );
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(going.id.as_str())
        .execute(&mut deleting)
        .await
        .expect("deleting the tenant while the purge waits");
    run(&mut deleting, "COMMIT").await;
    let purged = purging.await.expect("the purge's task").expect("the purge");
    assert_eq!(purged, 5, "the other tenant's five old entries");
    let left = store
        .log_page(
            &other.id,
            &LogQuery {
                limit: 100,
                ..LogQuery::default()
            },
        )
        .await
        .expect("a page");
    assert_eq!(left.len(), 5);
    assert!(left.iter().all(|e| e.at >= before));
}
