//! Group commit: every write goes to one task that owns the writer connection. It takes the
//! writes waiting in its queue, runs them in one transaction, commits once, and only then
//! answers each caller: an acknowledged write is a committed write.
//!
//! When a write of the batch fails (a taken userName, an unknown member), the transaction is
//! rolled back, that write gets its error, and the others run again in a new transaction; a
//! failed commit fails every write of the batch. Failures are rare, so the common path carries
//! no per-write savepoint.
//!
//! SQLite serialises writers anyway; what batching saves is the per-transaction cost (the
//! lock, the WAL frames of the pages every insert touches) and, in sqlx, the round trips to the
//! connection's thread that each statement costs.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use roster_store::{NewEvent, StoreError, TenantId};
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

/// A future borrowing the writer connection.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// A write's result, its type erased until it reaches its caller.
type Erased = Result<Box<dyn Any + Send>, StoreError>;

/// Runs a write's statements; may run more than once (see the module comment).
type Run = Box<dyn for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, Erased> + Send + Sync>;

/// A queued write and how to answer its caller.
struct Job {
    run: Run,
    /// The change-log events of the write, appended with the batch's others in one statement
    /// just before the commit (and only if the write succeeded).
    events: Vec<EventRow>,
    reply: Box<dyn FnOnce(Erased) + Send + Sync>,
}

/// How long the writer waits without a write before it empties the WAL.
const IDLE: std::time::Duration = std::time::Duration::from_millis(200);

/// The most writes one transaction holds.
const MAX_BATCH: usize = 64;

/// The sending side of the write queue.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

fn gone() -> StoreError {
    StoreError::Unavailable("the database writer has stopped".into())
}

impl Writer {
    /// Starts the writer task over `conn`. When `restart_wanted` is set, the task lets the WAL
    /// start over between two batches (see `checkpoints` in the crate root).
    pub fn start(conn: SqliteConnection, restart_wanted: Arc<AtomicBool>) -> Writer {
        let (queue, jobs) = mpsc::channel(1024);
        tokio::spawn(run(conn, jobs, restart_wanted));
        Writer { queue }
    }

    /// How many writes wait in the queue now.
    pub fn queued(&self) -> u64 {
        (self.queue.max_capacity() - self.queue.capacity()) as u64
    }

    /// Runs `f` inside a batch's transaction and returns its result once committed. `f` may
    /// be called again if another write of its batch fails.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + Sync
            + 'static,
    {
        self.write_recorded(f, Vec::new()).await
    }

    /// [`Writer::write`], appending `events` to the change log in the same transaction if `f`
    /// succeeds.
    pub async fn write_recorded<T, F>(&self, f: F, events: Vec<EventRow>) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + Sync
            + 'static,
    {
        let (tx, rx) = oneshot::channel::<Erased>();
        let run: Run = Box::new(move |conn| {
            let fut = f(conn);
            Box::pin(async move { fut.await.map(|t| Box::new(t) as Box<dyn Any + Send>) })
        });
        let reply = Box::new(move |r: Erased| {
            let _ = tx.send(r);
        });
        self.queue
            .send(Job { run, events, reply })
            .await
            .map_err(|_| gone())?;
        let erased = rx.await.map_err(|_| gone())??;
        erased
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Internal("a write's result changed type".into()))
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(crate::db_err)
}

/// An event ready to append: rendered to text by the request that made it, so that the writer,
/// which every write waits for, does no JSON work.
#[derive(Debug, Clone)]
pub struct EventRow {
    id: String,
    tenant: String,
    event_type: String,
    occurred_at: String,
    data: String,
}

/// Renders a write's events for the writer.
pub fn event_rows(tenant: &TenantId, events: &[NewEvent]) -> Vec<EventRow> {
    events
        .iter()
        .map(|e| EventRow {
            id: e.id.clone(),
            tenant: tenant.as_str().to_owned(),
            event_type: e.event_type.clone(),
            occurred_at: crate::ts(e.occurred_at),
            data: e.data.to_string(),
        })
        .collect()
}

/// Appends a batch's events to the change log, many rows per statement, in the order of the
/// batch's writes: with one writer, that is the commit order.
async fn append_events(
    conn: &mut SqliteConnection,
    events: &[&EventRow],
) -> Result<(), StoreError> {
    for chunk in events.chunks(500) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let stmt =
            format!("INSERT INTO events (id, tenant_id, type, occurred_at, data) VALUES {rows}");
        let mut q = sqlx::query(&stmt);
        for e in chunk {
            q = q
                .bind(&e.id)
                .bind(&e.tenant)
                .bind(&e.event_type)
                .bind(&e.occurred_at)
                .bind(&e.data);
        }
        q.execute(&mut *conn).await.map_err(crate::db_err)?;
    }
    Ok(())
}

async fn run(
    mut conn: SqliteConnection,
    mut jobs: mpsc::Receiver<Job>,
    restart_wanted: Arc<AtomicBool>,
) {
    // Whether anything was written since the WAL last started over.
    let mut dirty = false;
    loop {
        let first = if dirty {
            match tokio::time::timeout(IDLE, jobs.recv()).await {
                Ok(job) => job,
                Err(_) => {
                    // Idle: empty the WAL, so that reads look in the database file alone.
                    if exec(&mut conn, "PRAGMA wal_checkpoint(TRUNCATE)")
                        .await
                        .is_ok()
                    {
                        dirty = false;
                    }
                    continue;
                }
            }
        } else {
            jobs.recv().await
        };
        let Some(first) = first else { return };
        dirty = true;
        if restart_wanted.swap(false, Ordering::Relaxed) {
            // No write is in progress: the checkpoint can copy the last pages, and the WAL
            // starts over. A failure (readers kept it busy) is retried when asked again.
            if let Err(e) = exec(&mut conn, "PRAGMA wal_checkpoint(RESTART)").await {
                tracing::debug!(error = %e, "the WAL could not start over yet");
            }
        }
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run_batch(&mut conn, batch).await;
    }
}

/// Runs a batch until every write has its answer.
async fn run_batch(conn: &mut SqliteConnection, mut batch: Vec<Job>) {
    while !batch.is_empty() {
        // IMMEDIATE takes the write lock at once, so that another process writing at the same
        // time (the CLI) makes this wait (busy timeout) rather than fail to upgrade a lock.
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE").await {
            batch
                .into_iter()
                .for_each(|job| (job.reply)(Err(e.clone())));
            return;
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut failed = None;
        for (i, job) in batch.iter().enumerate() {
            match (job.run)(conn).await {
                Ok(r) => results.push(r),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        let events: Vec<&EventRow> = batch.iter().flat_map(|job| job.events.iter()).collect();
        let appended = match failed {
            None => append_events(conn, &events).await,
            Some(_) => Ok(()),
        };
        if let Err(e) = appended {
            let _ = exec(conn, "ROLLBACK").await;
            batch
                .into_iter()
                .for_each(|job| (job.reply)(Err(e.clone())));
            return;
        }
        match failed {
            None => match exec(conn, "COMMIT").await {
                Ok(()) => {
                    for (job, r) in batch.into_iter().zip(results) {
                        (job.reply)(Ok(r));
                    }
                    return;
                }
                Err(e) => {
                    let _ = exec(conn, "ROLLBACK").await;
                    batch
                        .into_iter()
                        .for_each(|job| (job.reply)(Err(e.clone())));
                    return;
                }
            },
            Some((i, e)) => {
                // Undo the batch; the failed write gets its error, the others run again.
                if let Err(rollback) = exec(conn, "ROLLBACK").await {
                    batch
                        .into_iter()
                        .for_each(|job| (job.reply)(Err(rollback.clone())));
                    return;
                }
                let job = batch.remove(i);
                (job.reply)(Err(e));
            }
        }
    }
}
