//! The claim, deliver and record loop.

use std::collections::HashMap;
use std::sync::Arc;

use roster_directory::{Clock, Directory, Secrets, epoch_millis};
use roster_store::{DeadLetter, DeliveryAttempt, StoreError, Stream, StreamUpdate, TenantId};
use time::OffsetDateTime;
use tokio::task::{self, JoinSet};

use crate::sender::{Request, Sender};
use crate::{HttpSender, WebhookConfig, backoff, signing};

/// A webhook worker: claims due streams, delivers their events through its [`Sender`] and
/// records the outcome. Time comes from the directory's `Clock` and random numbers from its
/// `Secrets`, the same ones the directory stamps events with.
#[derive(Clone)]
pub struct Worker {
    directory: Directory,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn Secrets>,
    sender: Arc<dyn Sender>,
    config: WebhookConfig,
    /// The name its leases are taken under, random per worker.
    owner: Arc<str>,
}

/// Starts the worker of `roster serve`, sending over HTTP.
pub fn spawn_webhook_worker(directory: Directory, config: WebhookConfig) {
    match HttpSender::new() {
        Ok(sender) => {
            Worker::new(directory, Arc::new(sender), config).spawn();
        }
        Err(e) => tracing::error!(error = %e, "webhook deliveries cannot start"),
    }
}

impl Worker {
    /// A worker over `directory`'s store, clock and secrets, sending through `sender`.
    pub fn new(directory: Directory, sender: Arc<dyn Sender>, config: WebhookConfig) -> Self {
        let (clock, secrets) = (directory.clock(), directory.secrets());
        let owner = format!("worker-{:016x}", secrets.random_u64()).into();
        Worker {
            directory,
            clock,
            secrets,
            sender,
            config,
            owner,
        }
    }

    /// One round: claims the streams due now (by the clock), at most `concurrency`, delivers
    /// each and records the outcomes; returns how many streams it claimed. Tests drive the
    /// worker with it, moving the clock between rounds.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let streams = self.claim(self.config.concurrency).await?;
        let claimed = streams.len();
        let mut running = JoinSet::new();
        for stream in streams {
            let worker = self.clone();
            running.spawn(async move { worker.deliver_stream(stream).await });
        }
        while running.join_next().await.is_some() {}
        Ok(claimed)
    }

    /// Runs the worker until the runtime stops: claims as streams come due and deliveries
    /// finish, woken by the changes this process records and otherwise every `poll`.
    pub fn spawn(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(self.run())
    }

    async fn run(self) {
        let changes = self.directory.changes();
        let mut running: JoinSet<()> = JoinSet::new();
        // The stream each task delivers, so that a stream this worker still delivers is not
        // started twice: a lease it outlived (the clock stepped forward) lets the claim hand
        // the stream back to this same worker.
        let mut delivering: HashMap<task::Id, StreamKey> = HashMap::new();
        // Streams claimed again while a task of this worker still delivered them, by that
        // task's id: the claim renewed the lease under this worker's name. The task's record
        // releases it, unless the task had recorded its outcome before the claim; so once the
        // task ends, the claimed copy is released too (see `release`).
        let mut reclaimed: HashMap<task::Id, Stream> = HashMap::new();
        let mut failing = false;
        // Whether any endpoint exists, looked up once a second: without one, changes wake
        // nobody.
        let mut endpoints: Option<(OffsetDateTime, bool)> = None;
        loop {
            let now = self.clock.now();
            let any = match endpoints {
                Some((at, any)) if at <= now && now - at < time::Duration::SECOND => any,
                _ => {
                    let any = self
                        .directory
                        .store()
                        .webhooks()
                        .await
                        .map(|w| !w.is_empty())
                        .unwrap_or(true);
                    endpoints = Some((now, any));
                    any
                }
            };
            if !any && running.is_empty() {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            let free = self.config.concurrency.saturating_sub(running.len());
            let mut claimed = 0;
            if free > 0 {
                match self.claim(free).await {
                    Ok(streams) => {
                        failing = false;
                        for stream in streams {
                            let key = (stream.webhook.id.clone(), stream.tenant_id.clone());
                            if let Some((id, _)) = delivering.iter().find(|(_, k)| **k == key) {
                                reclaimed.insert(*id, stream);
                                continue;
                            }
                            claimed += 1;
                            let worker = self.clone();
                            let task =
                                running.spawn(async move { worker.deliver_stream(stream).await });
                            delivering.insert(task.id(), key);
                        }
                    }
                    Err(e) => {
                        if !failing {
                            tracing::warn!(error = %e, "claiming webhook deliveries failed; retrying");
                        }
                        failing = true;
                    }
                }
            }
            if claimed > 0 && running.len() < self.config.concurrency {
                // More may be due at once.
                continue;
            }
            // Wait for a change recorded by this process, a stream to finish, or a short
            // while (changes recorded by other processes, retries coming due).
            let poll = if failing {
                std::time::Duration::from_secs(1)
            } else {
                self.config.poll
            };
            tokio::select! {
                () = changes.notified() => {}
                Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                    let id = match done {
                        Ok((id, ())) => id,
                        Err(e) => e.id(),
                    };
                    delivering.remove(&id);
                    if let Some(stream) = reclaimed.remove(&id) {
                        self.release(&stream).await;
                    }
                }
                () = tokio::time::sleep(poll) => {}
            }
        }
    }

    /// Leases up to `limit` streams due now.
    async fn claim(&self, limit: usize) -> Result<Vec<Stream>, StoreError> {
        let now = epoch_millis(self.clock.now());
        let lease_until = now + millis(self.config.lease);
        self.directory
            .store()
            .claim_streams(&self.owner, now, lease_until, limit as u64)
            .await
    }

    /// Releases a stream claimed again while its task still ran, changing nothing else. If
    /// the task recorded its outcome after that claim, the lease is already released and this
    /// does nothing; if before, the claim found the stream due with the task's outcome, and
    /// this leaves it due now.
    async fn release(&self, stream: &Stream) {
        let update = StreamUpdate {
            leased_delivered: stream.delivered,
            delivered: stream.delivered,
            attempts: stream.attempts,
            first_failed_at: stream.first_failed_at,
            next_attempt_at: epoch_millis(self.clock.now()),
            dead_letter: None,
        };
        if let Err(e) = self
            .directory
            .store()
            .finish_stream(
                &self.owner,
                &stream.webhook.id,
                &stream.tenant_id,
                &update,
                &[],
            )
            .await
        {
            tracing::warn!(error = %e, "releasing a webhook stream failed; its lease expires");
        }
    }

    /// Delivers a leased stream's events in order until one fails or the batch ends, then
    /// records the outcome and releases the lease.
    async fn deliver_stream(&self, stream: Stream) {
        let store = self.directory.store();
        let events = match store
            .events(Some(&stream.tenant_id), stream.delivered, self.config.batch)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(error = %e, "reading events to deliver failed");
                return;
            }
        };
        let started = epoch_millis(self.clock.now());
        let mut update = StreamUpdate {
            leased_delivered: stream.delivered,
            delivered: stream.delivered,
            attempts: stream.attempts,
            first_failed_at: stream.first_failed_at,
            next_attempt_at: started,
            dead_letter: None,
        };
        let mut attempts = Vec::new();
        for event in &events {
            let now = epoch_millis(self.clock.now());
            // Leave time for one more request (at most `timeout`) and the outcome's record
            // well inside the lease, so that no other worker takes the stream while this one
            // delivers.
            if now - started + millis(self.config.timeout) > millis(self.config.lease) / 2 {
                break;
            }
            let body = serde_json::to_vec(&roster_directory::render::event_json(event))
                .unwrap_or_default();
            let timestamp = now.div_euclid(1000);
            let request = Request {
                url: stream.webhook.url.clone(),
                allow_link_local: stream.webhook.allow_link_local,
                id: event.id.clone(),
                timestamp,
                signature: signing::signature(
                    &signing::signing_secrets(&stream.webhook, now),
                    &event.id,
                    timestamp,
                    &body,
                ),
                body,
                timeout: self.config.timeout,
            };
            let sent = self.sender.send(request).await;
            let (status, error) = match sent.outcome {
                Ok(status) if (200..300).contains(&status) => (Some(i64::from(status)), None),
                Ok(status) => (
                    Some(i64::from(status)),
                    Some(format!("the receiver answered {}", status_text(status))),
                ),
                Err(e) => (None, Some(e.to_string())),
            };
            attempts.push(DeliveryAttempt {
                webhook_id: stream.webhook.id.clone(),
                tenant_id: stream.tenant_id.clone(),
                event_id: event.id.clone(),
                position: event.position,
                attempt: update.attempts + 1,
                at: now,
                status,
                error: error.clone(),
                latency_ms: i64::try_from(sent.latency.as_millis()).unwrap_or(i64::MAX),
            });
            let Some(error) = error else {
                update.delivered = event.position;
                update.attempts = 0;
                update.first_failed_at = None;
                update.next_attempt_at = now;
                continue;
            };
            let first = update.first_failed_at.unwrap_or(now);
            update.attempts += 1;
            if now - first >= millis(self.config.give_up_after) {
                tracing::warn!(webhook = %stream.webhook.id, event = %event.id, %error,
                    "webhook event dead-lettered after its last attempt");
                update.dead_letter = Some(DeadLetter {
                    webhook_id: stream.webhook.id.clone(),
                    tenant_id: stream.tenant_id.clone(),
                    event_id: event.id.clone(),
                    position: event.position,
                    at: now,
                    error,
                });
                update.delivered = event.position;
                update.attempts = 0;
                update.first_failed_at = None;
                update.next_attempt_at = now;
            } else {
                update.first_failed_at = Some(first);
                update.next_attempt_at =
                    now + backoff::backoff_ms(update.attempts, self.secrets.random_u64());
            }
            break;
        }
        if let Err(e) = store
            .finish_stream(
                &self.owner,
                &stream.webhook.id,
                &stream.tenant_id,
                &update,
                &attempts,
            )
            .await
        {
            // The lease expires and another round delivers again (at least once).
            tracing::warn!(error = %e, "recording webhook deliveries failed");
        }
    }
}

/// A stream's identity: its endpoint and its tenant.
type StreamKey = (String, TenantId);

/// A duration in whole milliseconds, as the store keeps times.
fn millis(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `503 Service Unavailable`: the code with its reason, as an operator reads it.
fn status_text(status: u16) -> String {
    reqwest::StatusCode::from_u16(status).map_or_else(|_| status.to_string(), |s| s.to_string())
}
