//! The provisioning log at scale on PostgreSQL: in a new database on the server at `URL`,
//! appends `ROWS` entries (default 1,000,000) of one tenant through `append_log` in batches of
//! 1,000, times pages of it as the console asks for them, prints the bytes per entry (the
//! table, its TOAST and its indexes), then times the purge and the tenant's deletion while
//! another tenant writes. The entries and the pages are `roster_store::conformance::log_bench`'s,
//! the same as on SQLite. The database is left behind, to look at.
//!
//! ```text
//! scripts/pg start /tmp/roster-pg 55432
//! cargo run --release -p roster-store-postgres --example provisioning_log_bench \
//!     postgres://postgres@127.0.0.1:55432/postgres [ROWS]
//! ```

use roster_store::conformance::log_bench;
use roster_store::prelude::*;
use roster_store_postgres::{PoolConfig, PostgresStore, scratch_database};
use sqlx::Connection;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let server = args.next().expect("the URL of a PostgreSQL server");
    let rows: u64 = args.next().map_or(1_000_000, |n| n.parse().expect("ROWS"));
    let url = scratch_database(&server).await.expect("a new database");
    println!("database: {url}");
    let store = PostgresStore::open(&url, PoolConfig::default())
        .await
        .expect("opening the database");
    let record = log_bench::tenant();
    store.create_tenant(&record).await.expect("a tenant");
    log_bench::fill(&store, &record.id, rows).await;

    let mut conn = sqlx::PgConnection::connect(&url).await.expect("connecting");
    // What autovacuum would have done by the time anyone reads a log this large.
    sqlx::query("VACUUM ANALYZE provisioning_log")
        .execute(&mut conn)
        .await
        .expect("vacuuming");
    log_bench::pages(&store, &record.id, rows).await;
    let (table, indexes): (i64, i64) = sqlx::query_as(
        "SELECT pg_table_size('provisioning_log'), pg_indexes_size('provisioning_log')",
    )
    .fetch_one(&mut conn)
    .await
    .expect("the table's size");
    println!(
        "table: {:.0} bytes an entry, indexes {:.0} ({} and {} bytes)",
        table as f64 / rows as f64,
        indexes as f64 / rows as f64,
        table,
        indexes
    );
    log_bench::upkeep(&store, record, rows).await;
}
