//! A block's body on disk (see `log_frames`): compressed when written, and a log file whose
//! blocks were written raw, before bodies were compressed, reads the same.

use roster_store::conformance;
use roster_store::prelude::*;
use roster_store::{LogEntry, LogQuery, Outcome, TenantId};
use rusqlite::params;
use time::macros::datetime;

use crate::SqliteStore;
use crate::log_blocks::{heads, parts};

/// Entries whose bodies together span several frames, some cut by a frame's end.
fn entries(tenant: &TenantId) -> Vec<LogEntry> {
    (0..40)
        .map(|m| {
            let mut e = conformance::log_entry(
                tenant,
                m,
                "get",
                Outcome::Succeeded,
                (&format!("u-{m}"), &format!("user{m}")),
                "entra",
            );
            let size = 1000 + (m as usize * 997) % 4000;
            e.response_body = format!("{{\"n\":{m},\"pad\":\"{}\"}}", "ab".repeat(size / 2));
            e
        })
        .collect()
}

async fn page(store: &SqliteStore, tenant: &TenantId) -> Vec<LogEntry> {
    let query = LogQuery {
        limit: 1000,
        ..LogQuery::default()
    };
    store.log_page(tenant, &query).await.expect("a page")
}

#[tokio::test]
async fn bodies_are_compressed_and_raw_ones_written_before_read_the_same() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("opening");
    let tenant = TenantId::new("t-a");
    let record = conformance::tenant_record("t-a", "t-a", datetime!(2024-01-01 0:00 UTC));
    store.create_tenant(&record).await.expect("a tenant");
    let written = entries(&tenant);
    let raw_bytes: usize = written.iter().map(|e| e.response_body.len()).sum();
    store.append_log(written.clone()).await.expect("appended");
    let compressed = page(&store, &tenant).await;
    assert_eq!(compressed.len(), written.len());
    for (got, sent) in compressed.iter().rev().zip(&written) {
        assert_eq!(
            (&got.response_body, &got.request_id),
            (&sent.response_body, &sent.request_id)
        );
    }

    // On disk: one block, its body compressed (its first byte 2) and much smaller.
    let conn = rusqlite::Connection::open(dir.path().join("t.db-log")).expect("the log file");
    let blocks: Vec<(i64, Vec<u8>, Vec<u8>)> = conn
        .prepare("SELECT id, heads, body FROM provisioning_log_blocks")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .expect("the blocks");
    assert_eq!(blocks.len(), 1);
    let (id, head_bytes, body) = &blocks[0];
    assert_eq!(body[0], crate::log_frames::COMPRESSED);
    assert!(
        body.len() * 5 < raw_bytes,
        "{} of {raw_bytes} bytes",
        body.len()
    );

    // The same block as the build before wrote it: its format's version, then each entry's
    // part where its head says.
    let heads = heads(head_bytes).expect("heads");
    let mut raw = vec![1u8];
    for (head, part) in heads.iter().zip(parts(body, &heads).expect("parts")) {
        assert_eq!(head.body_range().0, raw.len());
        raw.extend_from_slice(&part);
    }
    conn.execute(
        "UPDATE provisioning_log_blocks SET body = ? WHERE id = ?",
        params![raw, id],
    )
    .expect("writing the block raw");
    drop(conn);

    assert_eq!(page(&store, &tenant).await, compressed);
    let one = store
        .log_entry(&tenant, compressed[7].seq)
        .await
        .expect("an entry");
    assert_eq!(one.as_ref(), Some(&compressed[7]));
}
