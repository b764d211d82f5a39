//! The log's writer: requests seen at the edge wait in a bounded queue, are turned into entries
//! off the runtime's workers, and are written in large batches by one task, off every
//! request's path. When the queue is full a request is not logged (counted in `/metrics`), and
//! SCIM never waits for the log.
//!
//! The log's CPU work (describing, writing) runs at the lowest scheduling priority, in the
//! time the cores would otherwise be idle (see `describers`, and `roster_store::background`),
//! with threads at normal priority that take a batch over when it has waited: the queue is long
//! enough (by count and by bytes) for a burst of requests to wait for idle time, and a batch
//! is taken over as soon as its oldest request has waited [`PATIENCE`].
//!
//! Requests are held for up to [`FLUSH_AFTER`] (the issue allows losing the last second of the
//! log in a crash) so that one transaction carries many of them: what a commit costs (the
//! last leaf page of the table and of each index, their WAL frames) is paid once per batch,
//! not once per handful of requests. Under light traffic that cost is most of what the log
//! writes: a second instead of 250 ms wrote 2.3 times less to the log's files (on 64 KiB
//! pages, 7.4 against 16.9 MB in 10 s of 16 lookups a second).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use roster_directory::{Directory, TenantContext, TokenRefusal};
use roster_provlog::{Holder, Refusal, Seen};
use roster_store::{Kind, ListQuery, LogEntry, TenantId};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::describers::Describers;

/// How many requests may wait to be turned into entries: about a second and a half of this
/// machine's busiest (filter lookups, 16 clients), for the log's threads to wait for idle time.
pub const QUEUE: usize = 32_768;
/// How many bytes of requests (their bodies, mostly) may wait, queued or held, until they are
/// described: a request may carry two bodies of 16 KiB.
pub const QUEUE_BYTES: usize = 64 << 20;
/// How long a request may wait for idle time to be described and written: past it, its batch
/// is described and written at normal priority.
pub const PATIENCE: Duration = Duration::from_secs(1);
/// How long requests gather in the queue between two takes.
const PACE: Duration = Duration::from_millis(10);
/// The most requests held before they are written, whatever their age: each flush is one
/// write (the log has a writer of its own, so a long one holds up no SCIM write).
const HOLD: usize = 2048;
/// How long an entry may wait to be written.
pub const FLUSH_AFTER: Duration = Duration::from_secs(1);

/// A request seen, with what only the writer resolves (a refused token's reason).
#[derive(Debug)]
pub struct Pending {
    /// What the edge saw.
    pub seen: Seen,
    /// The SHA-256 of a bearer token the edge refused, to tell why.
    pub refused_token: Option<[u8; 32]>,
}

impl Pending {
    /// About how many bytes it holds.
    fn size(&self) -> usize {
        512 + self.seen.request_body.len() + self.seen.response_body.len() + self.seen.query.len()
    }
}

/// A request in the queue, with when it arrived there.
#[derive(Debug)]
struct Queued {
    pending: Pending,
    arrived: Instant,
}

/// The queue's sending end, and what it counts.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Queued>,
    /// The bytes of the requests queued or held, not yet described.
    bytes: Arc<AtomicUsize>,
    dropped: Counter,
}

impl Recorder {
    /// Starts the writer over `directory`; `written` and `dropped` count entries.
    pub fn start(directory: Directory, written: Counter, dropped: Counter) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        let bytes = Arc::new(AtomicUsize::new(0));
        let log = Log {
            directory,
            describers: Arc::new(Describers::start()),
            bytes: bytes.clone(),
            written,
            dropped: dropped.clone(),
        };
        tokio::spawn(write(log, rx));
        Recorder { tx, bytes, dropped }
    }

    /// Queues a request for the log, or counts it dropped when the queue is full.
    pub fn submit(&self, pending: Pending) {
        let size = pending.size();
        if self.bytes.fetch_add(size, Ordering::Relaxed) + size > QUEUE_BYTES {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.dropped.inc();
            return;
        }
        let queued = Queued {
            pending,
            arrived: Instant::now(),
        };
        if self.tx.try_send(queued).is_err() {
            self.bytes.fetch_sub(size, Ordering::Relaxed);
            self.dropped.inc();
        }
    }
}

/// What the writer task and its flushes work with.
#[derive(Clone)]
struct Log {
    directory: Directory,
    describers: Arc<Describers>,
    bytes: Arc<AtomicUsize>,
    written: Counter,
    dropped: Counter,
}

/// The writer task: takes what the edge queued and writes it when the oldest request has
/// waited [`FLUSH_AFTER`], when [`HOLD`] are held, or when the queue closes. Between two takes
/// it lets requests gather for [`PACE`] (one wake-up then, not one per request). A flush
/// (describing the requests, then writing them) runs beside the next takes; one at a time.
async fn write(log: Log, mut rx: mpsc::Receiver<Queued>) {
    let mut held: Vec<Queued> = Vec::with_capacity(HOLD);
    let mut due: Option<Instant> = None;
    let mut flushing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let room = HOLD - held.len();
        let open = tokio::select! {
            n = rx.recv_many(&mut held, room) => n > 0,
            () = sleep_until(due) => true,
        };
        let now = Instant::now();
        if !held.is_empty() {
            due.get_or_insert(now + FLUSH_AFTER);
        }
        if !open || due.is_some_and(|d| d <= now) || held.len() >= HOLD {
            if let Some(previous) = flushing.take() {
                let _ = previous.await;
            }
            let batch = std::mem::replace(&mut held, Vec::with_capacity(HOLD));
            due = None;
            let job = flush(log.clone(), batch);
            if !open {
                job.await;
                return;
            }
            flushing = Some(tokio::spawn(job));
        } else if let Some(d) = due {
            tokio::time::sleep_until(d.min(now + PACE)).await;
        }
    }
}

/// Describes `batch` and writes its entries, in one write: in idle time, until its oldest
/// request has waited [`PATIENCE`].
async fn flush(log: Log, batch: Vec<Queued>) {
    let Log {
        directory,
        describers,
        bytes,
        written,
        dropped,
    } = log;
    let oldest = batch.first().map_or_else(Instant::now, |q| q.arrived);
    let patience = || PATIENCE.saturating_sub(oldest.elapsed());
    let size: usize = batch.iter().map(|q| q.pending.size()).sum();
    let described = entries(
        &directory,
        &describers,
        batch.into_iter().map(|q| q.pending).collect(),
        patience(),
    )
    .await;
    bytes.fetch_sub(size, Ordering::Relaxed);
    let entries = match described {
        Ok(entries) => entries,
        Err(lost) => {
            dropped.inc_by(lost);
            tracing::warn!(
                entries = lost,
                "the provisioning log's describer has stopped"
            );
            return;
        }
    };
    let n = entries.len() as u64;
    if n == 0 {
        return;
    }
    let appended = directory
        .append_log_in_background(entries, patience())
        .await;
    match appended {
        Ok(()) => {
            written.inc_by(n);
        }
        Err(e) => {
            dropped.inc_by(n);
            tracing::warn!(error = %e, entries = n, "writing the provisioning log failed");
        }
    }
}

/// Sleeps until `due`, or for ever when nothing is held.
async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The entries of a batch: only those of tenants that exist (a URL may name any), with each
/// refused token's reason and each taken name's holder looked up; `Err` with how many were
/// lost when the describer thread is gone (it never started, or a bug stopped it). The entries themselves are worked out by the describer
/// thread, so that the runtime's workers serve requests meanwhile.
async fn entries(
    directory: &Directory,
    describers: &Describers,
    batch: Vec<Pending>,
    patience: Duration,
) -> Result<Vec<LogEntry>, u64> {
    let mut known: HashMap<TenantId, Option<Arc<TenantContext>>> = HashMap::new();
    let mut seen = Vec::with_capacity(batch.len());
    for mut p in batch {
        let tenant = p.seen.tenant.clone();
        let ctx = match known.get(&tenant) {
            Some(c) => c.clone(),
            None => {
                let c = directory.tenant_context(&tenant).await.ok().flatten();
                known.insert(tenant.clone(), c.clone());
                c
            }
        };
        let Some(ctx) = ctx else {
            continue;
        };
        if let Some(hash) = p.refused_token
            && p.seen.refusal.is_none()
        {
            p.seen.refusal = Some(match directory.token_refusal(&tenant, &hash).await {
                Ok(TokenRefusal::Expired(at)) => Refusal::ExpiredToken(at),
                Ok(TokenRefusal::Revoked(at)) => Refusal::RevokedToken(at),
                Ok(TokenRefusal::AccessTokenExpired(at)) => Refusal::ExpiredAccessToken(at),
                Ok(TokenRefusal::OtherTenant) => Refusal::OtherTenant,
                Ok(TokenRefusal::Unknown) | Err(_) => Refusal::UnknownToken,
            });
        }
        if let Some((user, name)) = roster_provlog::taken_name(&p.seen) {
            p.seen.holder = holder(directory, &ctx, user, &name).await;
        }
        seen.push(p.seen);
    }
    if seen.is_empty() {
        return Ok(Vec::new());
    }
    describers.describe(seen, patience).await
}

/// The user (or group) whose `userName` (or `displayName`) is `name`, as it is now.
async fn holder(
    directory: &Directory,
    ctx: &TenantContext,
    user: bool,
    name: &str,
) -> Option<Holder> {
    let kind = if user { Kind::User } else { Kind::Group };
    let attr = kind.name_attribute();
    let text = format!("{attr} eq {}", serde_json::Value::from(name));
    let filter = ctx.dialect().filter(&text, &mut Vec::new()).ok()?;
    let query = ListQuery {
        filter: Some(filter),
        sort: None,
        offset: 0,
        limit: 1,
        with_relations: false,
        max_bytes: 1 << 20,
        count_at_most: Some(1),
    };
    let page = directory.list(ctx, kind, &query).await.ok()?;
    let found = page.resources.first()?;
    let text = |key: &str| found.data.get(key).and_then(serde_json::Value::as_str);
    Some(Holder {
        id: found.id.clone(),
        name: text(attr).unwrap_or(name).to_owned(),
        external_id: text("externalId").map(str::to_owned),
        inactive: found.data.get("active") == Some(&serde_json::Value::Bool(false)),
    })
}
