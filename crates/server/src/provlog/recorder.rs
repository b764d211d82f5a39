//! The log's writer: requests seen at the edge wait in a bounded queue and are written in
//! batches by one task, off every request's path. When the queue is full a request is not
//! logged (counted in `/metrics`), and SCIM never waits for the log.

use std::collections::HashMap;

use prometheus_client::metrics::counter::Counter;
use roster_directory::{Directory, TokenRefusal};
use roster_provlog::{Refusal, Seen};
use roster_store::{LogEntry, TenantId};
use tokio::sync::mpsc;

/// How many requests may wait to be written.
pub const QUEUE: usize = 1024;
/// The most entries one write holds.
pub const BATCH: usize = 256;

/// A request seen, with what only the writer resolves (a refused token's reason).
#[derive(Debug)]
pub struct Pending {
    /// What the edge saw.
    pub seen: Seen,
    /// The SHA-256 of a bearer token the edge refused, to tell why.
    pub refused_token: Option<[u8; 32]>,
}

/// The queue's sending end, and what it counts.
#[derive(Debug, Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Pending>,
    dropped: Counter,
}

impl Recorder {
    /// Starts the writer over `directory`; `written` and `dropped` count entries.
    pub fn start(directory: Directory, written: Counter, dropped: Counter) -> Recorder {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(write(directory, rx, written, dropped.clone()));
        Recorder { tx, dropped }
    }

    /// Queues a request for the log, or counts it dropped when the queue is full.
    pub fn submit(&self, pending: Pending) {
        if self.tx.try_send(pending).is_err() {
            self.dropped.inc();
        }
    }
}

async fn write(
    directory: Directory,
    mut rx: mpsc::Receiver<Pending>,
    written: Counter,
    dropped: Counter,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        let entries = entries(&directory, batch.drain(..)).await;
        if entries.is_empty() {
            continue;
        }
        let n = entries.len() as u64;
        match directory.append_log(&entries).await {
            Ok(()) => {
                written.inc_by(n);
            }
            Err(e) => {
                dropped.inc_by(n);
                tracing::warn!(error = %e, entries = n, "writing the provisioning log failed");
            }
        }
    }
}

/// The entries of a batch: only those of tenants that exist (a URL may name any), with each
/// refused token's reason looked up.
async fn entries(directory: &Directory, batch: impl Iterator<Item = Pending>) -> Vec<LogEntry> {
    let mut known: HashMap<TenantId, bool> = HashMap::new();
    let mut out = Vec::new();
    for mut p in batch {
        let tenant = p.seen.tenant.clone();
        let exists = match known.get(&tenant) {
            Some(e) => *e,
            None => {
                let e = matches!(directory.tenant_context(&tenant).await, Ok(Some(_)));
                known.insert(tenant.clone(), e);
                e
            }
        };
        if !exists {
            continue;
        }
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
        out.push(roster_provlog::entry(p.seen));
    }
    out
}
