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
//! lock, the WAL frames of the pages every insert touches).
//!
//! The writer is a thread of its own with a rusqlite connection, and runs a batch's statements
//! one after the other where it is: no statement waits on another thread (with sqlx, each one
//! was a round trip to the connection's thread, two wakeups per statement). Requests wait for
//! their answer on a oneshot channel, so the runtime's workers never block on the writer.

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use roster_store::background::Priority;
use roster_store::{NewEvent, StoreError, TenantId};
use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::mapping::Commits;

/// A write's result, its type erased until it reaches its caller.
type Erased = Result<Box<dyn Any + Send>, StoreError>;

/// Runs a write's statements; may run more than once (see the module comment).
type Run = Box<dyn Fn(&Connection) -> Erased + Send + Sync>;

/// A queued write and how to answer its caller.
struct Job {
    run: Run,
    /// The change-log events of the write, appended with the batch's others in one statement
    /// just before the commit (and only if the write succeeded).
    events: Vec<EventRow>,
    reply: Box<dyn FnOnce(Erased) + Send + Sync>,
}

/// How long the main file's writer waits without a write before it empties the WAL (so that
/// reads look in the database file alone).
const IDLE: Duration = Duration::from_millis(200);

/// The same for the provisioning log's writer, whose file is read a page at a time: longer than
/// the log's own pace (it writes every second while requests come), so that a lightly used log
/// is not checkpointed, synced twice and truncated after every write of a few entries (3.3
/// times a second under 16 lookups a second, when it waited 200 ms and the log wrote every
/// 250 ms; the checkpoint task's passes every 2 s suffice).
pub const LOG_IDLE: Duration = Duration::from_secs(4);

/// The most writes one transaction holds.
const MAX_BATCH: usize = 64;

/// The sending side of the write queue.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: flume::Sender<Job>,
}

fn gone() -> StoreError {
    StoreError::Unavailable("the database writer has stopped".into())
}

impl Writer {
    /// Starts the writer thread over `conn`; it ends when the last `Writer` is dropped. When
    /// `restart_wanted` is set, the thread lets the WAL start over between two batches (see
    /// `checkpoints` in the crate root).
    ///
    /// Each commit is counted in `commits` (what the readers' mapping follows).
    pub fn start(
        conn: Connection,
        restart_wanted: Arc<AtomicBool>,
        commits: Commits,
    ) -> Result<Writer, StoreError> {
        Writer::start_named(
            conn,
            restart_wanted,
            commits,
            ("roster-sqlite-writer", Priority::Normal),
            IDLE,
        )
    }

    /// [`Writer::start`], with the thread named and scheduled as `thread` says, emptying the
    /// WAL after `idle` without a write.
    pub fn start_named(
        conn: Connection,
        restart_wanted: Arc<AtomicBool>,
        commits: Commits,
        (name, priority): (&str, Priority),
        idle: Duration,
    ) -> Result<Writer, StoreError> {
        let (queue, jobs) = flume::bounded(1024);
        priority
            .spawn(name, move || run(conn, jobs, restart_wanted, commits, idle))
            .map_err(|e| StoreError::Unavailable(format!("starting the database writer: {e}")))?;
        Ok(Writer { queue })
    }

    /// How many writes wait in the queue now.
    pub fn queued(&self) -> u64 {
        self.queue.len() as u64
    }

    /// Runs `f` inside a batch's transaction and returns its result once committed. `f` may
    /// be called again if another write of its batch fails.
    pub async fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        self.write_recorded(f, Vec::new()).await
    }

    /// [`Writer::write`], appending `events` to the change log in the same transaction if `f`
    /// succeeds.
    pub async fn write_recorded<T, F>(&self, f: F, events: Vec<EventRow>) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&Connection) -> Result<T, StoreError> + Send + Sync + 'static,
    {
        let (tx, rx) = oneshot::channel::<Erased>();
        let run: Run = Box::new(move |conn| f(conn).map(|t| Box::new(t) as Box<dyn Any + Send>));
        let reply = Box::new(move |r: Erased| {
            let _ = tx.send(r);
        });
        self.queue
            .send_async(Job { run, events, reply })
            .await
            .map_err(|_| gone())?;
        let erased = rx.await.map_err(|_| gone())??;
        erased
            .downcast::<T>()
            .map(|b| *b)
            .map_err(|_| StoreError::Internal("a write's result changed type".into()))
    }
}

fn exec(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.execute_batch(sql).map_err(crate::lite_err)
}

/// Runs a checkpoint (a statement that answers with a row).
fn checkpoint(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    conn.query_row(sql, [], |_| Ok(())).map_err(crate::lite_err)
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
///
/// The statement is `INSERT OR FAIL`, not the default `OR ABORT`: inside a transaction, a
/// statement that writes several rows and may abort makes SQLite copy every page it touches
/// into a statement journal first, so that it can undo that statement alone. Nothing here
/// needs that: a failed statement fails its write, and the writer rolls the whole transaction
/// back (see [`run_batch`]), so the rows `OR FAIL` leaves never outlive the error. The
/// provisioning log's inserts are written the same way, for the same reason.
fn append_events(conn: &Connection, events: &[&EventRow]) -> Result<(), StoreError> {
    for chunk in events.chunks(500) {
        let rows = vec!["(?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let stmt = format!(
            "INSERT OR FAIL INTO events (id, tenant_id, type, occurred_at, data) VALUES {rows}"
        );
        let params = chunk
            .iter()
            .flat_map(|e| [&e.id, &e.tenant, &e.event_type, &e.occurred_at, &e.data]);
        conn.prepare_cached(&stmt)
            .and_then(|mut q| q.execute(rusqlite::params_from_iter(params)))
            .map_err(crate::lite_err)?;
    }
    Ok(())
}

fn run(
    conn: Connection,
    jobs: flume::Receiver<Job>,
    restart_wanted: Arc<AtomicBool>,
    commits: Commits,
    idle: Duration,
) {
    // Whether anything was written since the WAL last started over.
    let mut dirty = false;
    loop {
        let first = if dirty {
            match jobs.recv_timeout(idle) {
                Ok(job) => job,
                Err(flume::RecvTimeoutError::Timeout) => {
                    // Idle: empty the WAL, so that reads look in the database file alone.
                    if checkpoint(&conn, "PRAGMA wal_checkpoint(TRUNCATE)").is_ok() {
                        dirty = false;
                    }
                    continue;
                }
                Err(flume::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        dirty = true;
        if restart_wanted.swap(false, Ordering::Relaxed) {
            // No write is in progress: the checkpoint can copy the last pages, and the WAL
            // starts over. A failure (readers kept it busy) is retried when asked again.
            if let Err(e) = checkpoint(&conn, "PRAGMA wal_checkpoint(RESTART)") {
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
        // A write that panics (a bug) costs its batch's callers their answer (they see the
        // writer as unavailable), not the writer: the transaction is undone and the thread goes
        // on with the next batch.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            run_batch(&conn, batch, &commits)
        }));
        if ran.is_err() {
            tracing::error!("a write panicked; its batch was rolled back");
            let _ = exec(&conn, "ROLLBACK");
        }
    }
}

/// Runs a batch until every write has its answer.
fn run_batch(conn: &Connection, mut batch: Vec<Job>, commits: &Commits) {
    while !batch.is_empty() {
        // IMMEDIATE takes the write lock at once, so that another process writing at the same
        // time (the CLI) makes this wait (busy timeout) rather than fail to upgrade a lock.
        if let Err(e) = exec(conn, "BEGIN IMMEDIATE") {
            batch
                .into_iter()
                .for_each(|job| (job.reply)(Err(e.clone())));
            return;
        }
        let mut results = Vec::with_capacity(batch.len());
        let mut failed = None;
        for (i, job) in batch.iter().enumerate() {
            match (job.run)(conn) {
                Ok(r) => results.push(r),
                Err(e) => {
                    failed = Some((i, e));
                    break;
                }
            }
        }
        let events: Vec<&EventRow> = batch.iter().flat_map(|job| job.events.iter()).collect();
        let appended = match failed {
            None => append_events(conn, &events),
            Some(_) => Ok(()),
        };
        if let Err(e) = appended {
            let _ = exec(conn, "ROLLBACK");
            batch
                .into_iter()
                .for_each(|job| (job.reply)(Err(e.clone())));
            return;
        }
        match failed {
            None => match exec(conn, "COMMIT") {
                Ok(()) => {
                    commits.note();
                    for (job, r) in batch.into_iter().zip(results) {
                        (job.reply)(Ok(r));
                    }
                    return;
                }
                Err(e) => {
                    let _ = exec(conn, "ROLLBACK");
                    batch
                        .into_iter()
                        .for_each(|job| (job.reply)(Err(e.clone())));
                    return;
                }
            },
            Some((i, e)) => {
                // Undo the batch; the failed write gets its error, the others run again.
                if let Err(rollback) = exec(conn, "ROLLBACK") {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{Role, connect};
    use std::future::Future;

    fn writer(dir: &tempfile::TempDir) -> Writer {
        let path = dir.path().join("w.db");
        let conn = connect(&path, Role::Writer).expect("connect");
        conn.execute_batch("CREATE TABLE t (v INTEGER UNIQUE);")
            .expect("schema");
        Writer::start(conn, Arc::default(), Commits::default()).expect("start")
    }

    fn insert(v: i64) -> impl Fn(&Connection) -> Result<(), StoreError> + Send + Sync + 'static {
        move |conn| {
            conn.execute("INSERT INTO t (v) VALUES (?)", [v])
                .map_err(crate::lite_err)?;
            Ok(())
        }
    }

    fn count(writer_dir: &tempfile::TempDir) -> i64 {
        Connection::open(writer_dir.path().join("w.db"))
            .expect("open")
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .expect("count")
    }

    #[tokio::test]
    async fn a_failed_write_leaves_the_others_of_its_batch_committed() {
        let dir = tempfile::tempdir().expect("temp dir");
        let w = writer(&dir);
        let writes = (0..20).map(|i| {
            let w = w.clone();
            // Every fifth write takes a value already taken.
            async move { w.write(insert(if i % 5 == 4 { 0 } else { i })).await }
        });
        let results = futures_join(writes).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        assert_eq!(failed, 4, "{results:?}");
        assert_eq!(count(&dir), 16);
    }

    #[tokio::test]
    async fn a_panicking_write_costs_its_caller_an_error_not_the_writer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let w = writer(&dir);
        w.write(insert(1)).await.expect("a first write");
        let panicked = w
            .write(|conn: &Connection| -> Result<(), StoreError> {
                insert(2)(conn)?;
                panic!("a bug in a write")
            })
            .await;
        assert!(
            matches!(panicked, Err(StoreError::Unavailable(_))),
            "{panicked:?}"
        );
        w.write(insert(3)).await.expect("the writer goes on");
        // The panicking write's insert was rolled back with its batch.
        assert_eq!(count(&dir), 2);
    }

    /// Runs the futures at once and collects their results in order.
    async fn futures_join<F: Future + Send + 'static>(
        futures: impl Iterator<Item = F>,
    ) -> Vec<F::Output>
    where
        F::Output: Send + 'static,
    {
        let handles: Vec<_> = futures.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.expect("task"));
        }
        out
    }
}
