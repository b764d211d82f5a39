//! The PostgreSQL storage backend: one database shared by any number of Roster processes.
//!
//! Nothing here is cached: every guarantee (a unique userName, optimistic versions, members
//! that exist) is enforced by the database in the statement or transaction that writes, so
//! two processes on one database behave as one. Single-statement writes (a user's create,
//! update and delete) run without an explicit transaction, as one round trip: PostgreSQL runs
//! a statement and its data-modifying CTEs atomically. Writes with member rows use a
//! transaction.
//!
//! SCIM filters become SQL through the same translation as the SQLite backend's
//! ([`roster_store::sql`]); what it cannot express is evaluated in memory by the protocol
//! crate over the rows the SQL narrowed down.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use roster_store::sql::Bind;
use roster_store::sql::decode::Columns;
use roster_store::{Kind, StoreError, TenantId};
use sqlx::Postgres;
use sqlx::Row;
use sqlx::pool::PoolConnection;
use sqlx::postgres::PgRow;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use time::OffsetDateTime;

use crate::key_fold::refold_keys;

mod approvals;
mod change_log;
mod console;
mod credentials;
mod health;
mod hold;
mod key_fold;
mod members;
mod outbound;
mod provisioning_log;
mod resources;
mod sso;
mod tenants;
mod webhooks;

pub use provisioning_log::APPEND_LOCK;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How a process uses the database's connections.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// The most connections this process holds open.
    pub max_connections: u32,
    /// How long a request waits for a connection before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// A store in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// Requests waiting for a connection now.
    waiting: Arc<AtomicU64>,
}

/// Counts a request as waiting for a connection while it lives.
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicU64) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Waiting(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// SQLSTATE classes and codes that mean the database is away or shedding load, not that the
/// request is wrong: the client may retry.
fn transient(code: &str) -> bool {
    code.starts_with("08") // connection exception
        || code.starts_with("57P") // admin shutdown, crash shutdown, cannot connect now
        || code == "53300" // too many connections
        || code == "40001" // serialization failure
        || code == "40P01" // deadlock detected
}

fn db_err(e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e.to_string()),
        sqlx::Error::Database(d) if d.code().is_some_and(|c| transient(&c)) => {
            StoreError::Unavailable(e.to_string())
        }
        _ => StoreError::Internal(e.to_string()),
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

impl PostgresStore {
    /// Connects to the database at `url` (`postgres://user:password@host:port/db`) and brings
    /// its schema up to date. Two processes starting at once are safe: the migrations run
    /// under a PostgreSQL advisory lock, so one applies them and the other finds them done.
    pub async fn open(url: &str, pool: PoolConfig) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
            .application_name("roster");
        // One connection first, so that a database that cannot be reached says why (refused,
        // unknown host, bad password) rather than the pool's "timed out".
        {
            use sqlx::ConnectOptions;
            let first = tokio::time::timeout(pool.acquire_timeout, options.connect()).await;
            match first {
                Ok(Ok(conn)) => drop(conn),
                Ok(Err(e)) => {
                    return Err(StoreError::Unavailable(format!(
                        "connecting to the database: {e}"
                    )));
                }
                Err(_) => {
                    return Err(StoreError::Unavailable(format!(
                        "connecting to the database: no answer within {} s",
                        pool.acquire_timeout.as_secs()
                    )));
                }
            }
        }
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .min_connections(0)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(Duration::from_secs(300))
            // No ping before every use: it would double each request's round trips. A
            // connection that died (the database restarted) fails its statement, that request
            // is answered 503, and the pool drops the connection and opens a new one.
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(db_err)?;
        let mut conn = pool.acquire().await.map_err(db_err)?;
        MIGRATOR
            .run(&mut *conn)
            .await
            .map_err(|e| StoreError::Unavailable(format!("migrating the database: {e}")))?;
        drop(conn);
        refold_keys(&pool).await?;
        Ok(PostgresStore {
            pool,
            waiting: Arc::new(AtomicU64::new(0)),
        })
    }

    /// A connection from the pool, counted as waiting until it comes.
    async fn conn(&self) -> Result<PoolConnection<Postgres>, StoreError> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.acquire().await.map_err(db_err)
    }

    /// A transaction on a pooled connection.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, Postgres>, StoreError> {
        let _waiting = Waiting::new(&self.waiting);
        self.pool.begin().await.map_err(db_err)
    }
}

/// A row, read column by column for the shared decoders (`roster_store::sql::decode`).
pub(crate) struct Cols<'r>(&'r PgRow);

impl Columns for Cols<'_> {
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn opt_time(&self, column: &str) -> Result<Option<OffsetDateTime>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
    fn opt_flag(&self, column: &str) -> Result<Option<bool>, StoreError> {
        self.0.try_get(column).map_err(db_err)
    }
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;
type PgScalar<'q, O> = sqlx::query::QueryScalar<'q, Postgres, O, sqlx::postgres::PgArguments>;

/// Binds the tenant, the kind and a translated filter's parameters, in placeholder order.
fn bind_query<'q>(
    q: PgQuery<'q>,
    tenant: &'q TenantId,
    kind: Kind,
    binds: &'q [Bind],
) -> PgQuery<'q> {
    bind_values(q.bind(tenant.as_str()).bind(kind.as_str()), binds)
}

/// Binds parameters, in placeholder order.
fn bind_values<'q>(mut q: PgQuery<'q>, binds: &'q [Bind]) -> PgQuery<'q> {
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::Time(t) => q.bind(*t),
            Bind::Int(n) => q.bind(*n),
        };
    }
    q
}

fn bind_scalar<'q, O>(
    mut q: PgScalar<'q, O>,
    tenant: &'q TenantId,
    kind: Kind,
    binds: &'q [Bind],
) -> PgScalar<'q, O> {
    q = q.bind(tenant.as_str()).bind(kind.as_str());
    for b in binds {
        q = match b {
            Bind::Text(s) => q.bind(s.as_str()),
            Bind::Bool(v) => q.bind(*v),
            Bind::Time(t) => q.bind(*t),
            Bind::Int(n) => q.bind(*n),
        };
    }
    q
}

/// A fresh, empty database on the server at `server_url` (any database URL of it; the
/// database name is replaced), with Roster's schema: what tests and benchmarks start from.
/// Returns its URL.
#[cfg(feature = "testing")]
// A name that no other test run takes: test support, outside the directory's `Secrets`.
#[allow(clippy::disallowed_methods)]
pub async fn scratch_database(server_url: &str) -> Result<String, StoreError> {
    use rand::Rng;
    use sqlx::ConnectOptions;
    let admin = PgConnectOptions::from_str(server_url)
        .map_err(|e| StoreError::Unavailable(format!("bad database URL: {e}")))?
        .database("postgres");
    let mut conn = admin.connect().await.map_err(db_err)?;
    let name = format!("roster_test_{:016x}", rand::rng().random::<u64>());
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .map_err(db_err)?;
    // The server's URL with the new database's name as its path.
    let base = server_url.split('?').next().unwrap_or(server_url);
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    Ok(format!("{server}/{name}"))
}
