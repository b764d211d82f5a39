//! The provisioning log at scale on SQLite: appends `ROWS` entries (default 1,000,000) of one
//! tenant through `append_log` in batches of 1,000, then times pages of it as the console asks
//! for them, and prints the figures and the bytes on disk per entry; last, the purge and the
//! tenant's deletion while another tenant writes. The entries and the pages are
//! `roster_store::conformance::log_bench`'s, the same as on PostgreSQL.
//!
//! ```text
//! cargo run --release -p roster-store-sqlite --example provisioning_log_bench [ROWS] [DIR]
//! ```

use std::time::Duration;

use roster_store::conformance::log_bench;
use roster_store::prelude::*;
use roster_store_sqlite::SqliteStore;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let rows: u64 = args.next().map_or(1_000_000, |n| n.parse().expect("ROWS"));
    let dir = args.next().map_or_else(std::env::temp_dir, Into::into);
    let file = dir.join("provisioning_log_bench.db");
    for suffix in ["", "-wal", "-shm", "-log", "-log-wal", "-log-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let store = SqliteStore::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("opening the database");
    let record = log_bench::tenant();
    store.create_tenant(&record).await.expect("a tenant");
    log_bench::fill(&store, &record.id, rows).await;
    // Let the writer go idle and empty the WAL into the file.
    tokio::time::sleep(Duration::from_secs(3)).await;
    log_bench::pages(&store, &record.id, rows).await;

    drop(store);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The log is in its own file beside the database (`-log`).
    let log_file = std::path::PathBuf::from(format!("{}-log", file.display()));
    let conn = rusqlite::Connection::open(&log_file).expect("opening the log's file");
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .expect("a checkpoint");
    let bytes = std::fs::metadata(&log_file).expect("the log's file").len();
    println!(
        "file: {bytes} bytes, {:.0} bytes an entry",
        bytes as f64 / rows as f64
    );
    drop(conn);

    let store = SqliteStore::open(&format!("sqlite://{}", file.display()))
        .await
        .expect("reopening");
    log_bench::upkeep(&store, record, rows).await;
}
