//! The log's two writers (see `append_entries` in `provisioning_log`): a batch goes to the
//! background writer, and the normal one takes it over when the background one has not started
//! it in time; either way it is written once.

use std::sync::mpsc;

use roster_store::conformance;
use roster_store::prelude::*;
use roster_store::{LogEntry, LogQuery, Outcome, TenantId};
use time::macros::datetime;

use crate::SqliteStore;

const PATIENCE: std::time::Duration = std::time::Duration::from_millis(250);

async fn store_with_tenant(dir: &tempfile::TempDir) -> (SqliteStore, TenantId) {
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("opening");
    let tenant = TenantId::new("t-a");
    let record = conformance::tenant_record("t-a", "t-a", datetime!(2024-01-01 0:00 UTC));
    store.create_tenant(&record).await.expect("a tenant");
    (store, tenant)
}

fn batch(tenant: &TenantId, from: i64, n: i64) -> Vec<LogEntry> {
    (from..from + n)
        .map(|m| {
            conformance::log_entry(
                tenant,
                m,
                "get",
                Outcome::Succeeded,
                ("u-1", "ada"),
                "entra",
            )
        })
        .collect()
}

async fn logged(store: &SqliteStore, tenant: &TenantId) -> usize {
    let query = LogQuery {
        limit: 1000,
        ..LogQuery::default()
    };
    store.log_page(tenant, &query).await.expect("a page").len()
}

#[tokio::test]
async fn the_background_writer_writes_a_batch_when_it_is_free() {
    let dir = tempfile::tempdir().expect("a directory");
    let (store, tenant) = store_with_tenant(&dir).await;
    store
        .append_log_in_background(batch(&tenant, 0, 40), PATIENCE)
        .await
        .expect("appended");
    assert_eq!(logged(&store, &tenant).await, 40);
}

#[tokio::test]
async fn the_normal_writer_takes_over_a_batch_the_background_one_has_not_started() {
    let dir = tempfile::tempdir().expect("a directory");
    let (store, tenant) = store_with_tenant(&dir).await;
    // The background writer's thread is held, as a thread the kernel does not schedule would
    // be, by a write that ends its own transaction first (so that it holds no lock) and waits.
    let (release, held) = mpsc::channel::<()>();
    let held = std::sync::Mutex::new(held);
    let (started, is_started) = tokio::sync::oneshot::channel();
    let started = std::sync::Mutex::new(Some(started));
    let holding = {
        let background = store.log_background.clone();
        tokio::spawn(async move {
            background
                .write(move |conn| {
                    let _ = conn.execute_batch("COMMIT");
                    if let Some(s) = started.lock().expect("a lock").take() {
                        let _ = s.send(());
                    }
                    let _ = held.lock().expect("a lock").recv();
                    Ok(())
                })
                .await
        })
    };
    is_started.await.expect("the background writer is held");
    // Within a minute, or the test fails (without the normal writer, it never ends).
    let appended = store.append_log_in_background(batch(&tenant, 0, 40), PATIENCE);
    tokio::time::timeout(std::time::Duration::from_secs(60), appended)
        .await
        .expect("taken over")
        .expect("appended by the normal writer");
    assert_eq!(logged(&store, &tenant).await, 40);
    // Released, the background writer finds the batch claimed and leaves it; a batch after it
    // is its own again.
    release.send(()).expect("released");
    // (Its own COMMIT then finds no transaction: an error for that write alone.)
    let _ = holding.await.expect("joined");
    store
        .append_log_in_background(batch(&tenant, 40, 10), PATIENCE)
        .await
        .expect("appended");
    assert_eq!(logged(&store, &tenant).await, 50);
}
