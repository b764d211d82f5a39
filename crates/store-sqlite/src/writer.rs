//! Group commit: every write goes to one task that owns the writer connection. It takes the
//! writes waiting in its queue, runs each inside a savepoint of one transaction, commits once,
//! and only then answers each caller. A failed write rolls back to its savepoint alone; a failed
//! commit fails every write of the batch. An acknowledged write is a committed write.
//!
//! SQLite serialises writers anyway; what batching saves is the per-transaction cost (the
//! lock, the WAL frames of the pages every insert touches, checkpoints), which dominates small
//! writes.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use roster_store::StoreError;
use sqlx::SqliteConnection;
use tokio::sync::{mpsc, oneshot};

/// A future borrowing the writer connection.
pub type BoxFuture<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Answers a caller: with its own result when `None` (the batch committed), else the error.
type Deliver = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// Runs a write's statements; says whether they succeeded and how to answer the caller.
type Run =
    Box<dyn for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, (bool, Deliver)> + Send>;

/// A queued write, and how to answer its caller if it never runs.
struct Job {
    run: Run,
    abort: Deliver,
}

/// The most writes one transaction holds.
const MAX_BATCH: usize = 64;

/// The sending side of the write queue.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Job")
    }
}

fn gone() -> StoreError {
    StoreError::Unavailable("the database writer has stopped".into())
}

impl Writer {
    /// Starts the writer task over `conn`.
    pub fn start(conn: SqliteConnection) -> Writer {
        let (queue, jobs) = mpsc::channel(1024);
        tokio::spawn(run(conn, jobs));
        Writer { queue }
    }

    /// Runs `f` inside the next batch's transaction and returns its result once committed.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFuture<'c, Result<T, StoreError>>
            + Send
            + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, StoreError>>();
        let slot = Arc::new(Mutex::new(Some(tx)));
        let take = |slot: &Mutex<Option<oneshot::Sender<Result<T, StoreError>>>>| {
            slot.lock().unwrap_or_else(PoisonError::into_inner).take()
        };
        let abort_slot = slot.clone();
        let abort: Deliver = Box::new(move |e| {
            if let Some(tx) = take(&abort_slot) {
                let _ = tx.send(Err(e.cloned().unwrap_or_else(gone)));
            }
        });
        let run: Run = Box::new(move |conn| {
            Box::pin(async move {
                let result = f(conn).await;
                let ok = result.is_ok();
                let deliver: Deliver = Box::new(move |commit| {
                    if let Some(tx) = take(&slot) {
                        let _ = tx.send(match commit {
                            Some(e) => Err(e.clone()),
                            None => result,
                        });
                    }
                });
                (ok, deliver)
            })
        });
        self.queue
            .send(Job { run, abort })
            .await
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

async fn exec(conn: &mut SqliteConnection, sql: &str) -> Result<(), StoreError> {
    sqlx::query(sql)
        .execute(&mut *conn)
        .await
        .map(|_| ())
        .map_err(crate::db_err)
}

async fn run(mut conn: SqliteConnection, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // IMMEDIATE takes the write lock at once, so that another process writing at the same
        // time (the CLI) makes this wait (busy timeout) rather than fail to upgrade a lock.
        if let Err(e) = exec(&mut conn, "BEGIN IMMEDIATE").await {
            batch.into_iter().for_each(|job| (job.abort)(Some(&e)));
            continue;
        }
        let mut delivers: Vec<Deliver> = Vec::with_capacity(batch.len());
        let mut broken: Option<StoreError> = None;
        for job in batch {
            if let Some(e) = &broken {
                // The transaction is unusable; the rest of the batch fails with it.
                (job.abort)(Some(e));
                continue;
            }
            if let Err(e) = exec(&mut conn, "SAVEPOINT w").await {
                (job.abort)(Some(&e));
                broken = Some(e);
                continue;
            }
            let (ok, deliver) = (job.run)(&mut conn).await;
            let end = if ok {
                exec(&mut conn, "RELEASE w").await
            } else {
                match exec(&mut conn, "ROLLBACK TO w").await {
                    Ok(()) => exec(&mut conn, "RELEASE w").await,
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = end {
                broken = Some(e);
            }
            delivers.push(deliver);
        }
        let commit = match broken {
            Some(e) => Err(e),
            None => exec(&mut conn, "COMMIT").await,
        };
        match commit {
            Ok(()) => delivers.into_iter().for_each(|d| d(None)),
            Err(e) => {
                let _ = exec(&mut conn, "ROLLBACK").await;
                delivers.into_iter().for_each(|d| d(Some(&e)));
            }
        }
    }
}
