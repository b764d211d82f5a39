//! The threads that turn what the edge saw into entries (parsing, describing, explaining,
//! redacting: the log's CPU work). Two share each batch, a chunk at a time: one at the lowest
//! scheduling priority (see `roster_store::background`), which starts every batch, so that the
//! work takes the CPU time SCIM leaves idle; and one at normal priority, which joins a batch
//! that is not done when the recorder's patience with it runs out (its oldest request has
//! waited as long as the log lets one wait). On a machine kept busy, the first may not run
//! for seconds; the second bounds how long the log waits for it.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use roster_provlog::Seen;
use roster_store::LogEntry;
use roster_store::background::Priority;
use tokio::sync::oneshot;

/// How many requests a describer takes at a time: a batch's chunks are shared out, and a
/// chunk that a descheduled thread holds is the most that waits for it.
const CHUNK: usize = 32;

/// A batch being described.
struct Work {
    /// The chunks not taken yet, each with its place in the batch (taken from the end).
    chunks: Mutex<Vec<(usize, Vec<Seen>)>>,
    /// The chunks' entries, and who is told when the last is done.
    done: Mutex<Done>,
}

struct Done {
    entries: Vec<Option<Vec<LogEntry>>>,
    left: usize,
    tell: Option<oneshot::Sender<Vec<LogEntry>>>,
}

impl Work {
    fn new(seen: Vec<Seen>, tell: oneshot::Sender<Vec<LogEntry>>) -> Work {
        let mut chunks = Vec::with_capacity(seen.len().div_ceil(CHUNK));
        let mut rest = seen.into_iter().peekable();
        while rest.peek().is_some() {
            chunks.push((chunks.len(), rest.by_ref().take(CHUNK).collect::<Vec<_>>()));
        }
        chunks.reverse();
        let n = chunks.len();
        Work {
            chunks: Mutex::new(chunks),
            done: Mutex::new(Done {
                entries: (0..n).map(|_| None).collect(),
                left: n,
                tell: Some(tell),
            }),
        }
    }

    fn take(&self) -> Option<(usize, Vec<Seen>)> {
        self.chunks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn finish(&self, i: usize, entries: Vec<LogEntry>) {
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        done.entries[i] = Some(entries);
        done.left -= 1;
        if done.left == 0
            && let Some(tell) = done.tell.take()
        {
            let all = done.entries.iter_mut().flat_map(|e| e.take()).flatten();
            let _ = tell.send(all.collect());
        }
    }
}

/// The two describers' queues.
pub struct Describers {
    background: std::sync::mpsc::Sender<Arc<Work>>,
    normal: std::sync::mpsc::Sender<Arc<Work>>,
}

impl Describers {
    /// Starts both threads. One that cannot start leaves its queue closed: the batches go to
    /// the other (and with neither, every request is counted dropped).
    pub fn start() -> Describers {
        Describers {
            background: spawn("roster-provlog", Priority::Background),
            normal: spawn("roster-provlog2", Priority::Normal),
        }
    }

    /// The entries of `seen`, in its order; `Err` with how many were lost when neither thread
    /// is there (they never started, or a bug stopped them). The background describer has
    /// `patience` to finish alone; with none, both start at once.
    pub async fn describe(
        &self,
        seen: Vec<Seen>,
        patience: Duration,
    ) -> Result<Vec<LogEntry>, u64> {
        if seen.is_empty() {
            return Ok(Vec::new());
        }
        let n = seen.len() as u64;
        let (tell, mut told) = oneshot::channel();
        let work = Arc::new(Work::new(seen, tell));
        let background = self.background.send(work.clone()).is_ok();
        if patience.is_zero() || !background {
            let _ = self.normal.send(work);
            return told.await.map_err(|_| n);
        }
        if let Ok(done) = tokio::time::timeout(patience, &mut told).await {
            return done.map_err(|_| n);
        }
        let _ = self.normal.send(work);
        told.await.map_err(|_| n)
    }
}

/// Starts a describer thread at `priority`; its queue is closed if it could not start.
fn spawn(name: &str, priority: Priority) -> std::sync::mpsc::Sender<Arc<Work>> {
    let (tx, rx) = std::sync::mpsc::channel::<Arc<Work>>();
    let started = priority.spawn(name, move || {
        for work in rx {
            while let Some((i, chunk)) = work.take() {
                work.finish(i, chunk.into_iter().filter_map(entry).collect());
            }
        }
    });
    if let Err(e) = started {
        tracing::error!(thread = name, error = %e, "starting a provisioning log describer failed");
    }
    tx
}

/// The entry of one request. A request that makes the description panic (a bug) loses its
/// own entry, not the thread and every entry after it.
fn entry(seen: Seen) -> Option<LogEntry> {
    let id = seen.request_id.clone();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| roster_provlog::entry(seen)))
        .map_err(|_| tracing::error!(request_id = %id, "describing a request for the provisioning log panicked"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::TenantId;

    const PATIENCE: Duration = Duration::from_secs(2);

    fn seen(n: usize) -> Seen {
        Seen {
            tenant: TenantId::new("t"),
            at: time::OffsetDateTime::UNIX_EPOCH,
            request_id: format!("r-{n}"),
            duration_ms: 1,
            method: "GET".into(),
            path: format!("/Users/u-{n}"),
            query: String::new(),
            status: 404,
            user_agent: String::new(),
            credential: String::new(),
            refusal: None,
            normalizations: Vec::new(),
            request_body: Vec::new(),
            response_body: Vec::new(),
            subject: None,
            holder: None,
        }
    }

    fn ids(entries: &[LogEntry]) -> Vec<String> {
        entries.iter().map(|e| e.request_id.clone()).collect()
    }

    /// Describers whose background thread never takes its work (a thread the kernel does not
    /// schedule); the receiver is returned to keep its queue open.
    fn starved() -> (Describers, std::sync::mpsc::Receiver<Arc<Work>>) {
        let (background, never_read) = std::sync::mpsc::channel();
        let d = Describers {
            background,
            normal: spawn("test-normal", Priority::Normal),
        };
        (d, never_read)
    }

    #[tokio::test]
    async fn a_batch_is_described_in_its_order_across_chunks_and_threads() {
        let d = Describers::start();
        let n = CHUNK * 5 + 3;
        let entries = d
            .describe((0..n).map(seen).collect(), PATIENCE)
            .await
            .expect("described");
        assert_eq!(
            ids(&entries),
            (0..n).map(|i| format!("r-{i}")).collect::<Vec<_>>()
        );
        assert_eq!(entries[7].path, "/Users/u-7");
        // A batch out of patience, which both threads share at once, too.
        let entries = d
            .describe((0..n).map(seen).collect(), Duration::ZERO)
            .await
            .expect("described");
        assert_eq!(entries.len(), n);
        assert!(
            d.describe(Vec::new(), PATIENCE)
                .await
                .expect("nothing")
                .is_empty()
        );
    }

    /// Within a minute, or the test fails (without the normal describer, it never ends).
    async fn soon<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(60), f)
            .await
            .expect("described by the normal describer")
    }

    #[tokio::test]
    async fn the_normal_describer_takes_over_when_the_background_one_does_not_run() {
        let (d, _queue) = starved();
        let described = d.describe((0..40).map(seen).collect(), Duration::from_millis(50));
        assert_eq!(soon(described).await.expect("described").len(), 40);
    }

    #[tokio::test]
    async fn a_batch_out_of_patience_does_not_wait_for_the_background_describer() {
        let (d, _queue) = starved();
        let described = d.describe((0..40).map(seen).collect(), Duration::ZERO);
        assert_eq!(soon(described).await.expect("described").len(), 40);
    }

    #[tokio::test]
    async fn without_either_thread_a_batch_is_counted_lost() {
        let (background, _) = std::sync::mpsc::channel();
        let (normal, _) = std::sync::mpsc::channel();
        let d = Describers { background, normal };
        assert_eq!(
            d.describe((0..3).map(seen).collect(), PATIENCE).await,
            Err(3)
        );
    }
}
