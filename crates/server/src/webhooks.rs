//! Webhook delivery: a background worker of `roster serve` that POSTs each event of the change
//! log to the endpoints the host application registered, signed as the Standard Webhooks
//! specification says, at least once and in order per endpoint and tenant.
//!
//! Work is leased from the database (see `Store::claim_streams`): with several processes on
//! one database each stream is delivered by one of them at a time, and a process that dies
//! mid-delivery leaves its lease to expire and its stream to another. A stream's head event is
//! retried with exponential backoff and jitter (the first retry after about a second), later
//! events of that tenant waiting behind it, until three days after its first failure; then it
//! is dead-lettered (listed by `roster webhook dead-letters`, redeliverable) and the stream
//! moves on. Deliveries never run inside a SCIM request.

use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::Rng;
use roster_directory::{Directory, epoch_millis};
use roster_store::{DeadLetter, DeliveryAttempt, Event, Stream, StreamUpdate, WebhookRecord};
use sha2::Sha256;
use tokio::task::JoinSet;

/// How deliveries behave.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Streams delivered at once by this process.
    pub concurrency: usize,
    /// How long a claimed stream stays this process's without news.
    pub lease: Duration,
    /// How long a failing event is retried before it is dead-lettered.
    pub give_up_after: Duration,
    /// Events delivered per claim of a stream.
    pub batch: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(10),
            concurrency: 16,
            lease: Duration::from_secs(30),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            batch: 200,
        }
    }
}

/// Seconds to wait after the n-th failure (1-based), before jitter: about one second, then
/// growing to eight hours.
const BACKOFF: [u64; 11] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200, 14400, 28800];

/// The wait after `failures` failures, with ±20 % jitter, in milliseconds.
pub fn backoff_ms(failures: i64) -> i64 {
    let i = usize::try_from(failures.max(1) - 1).unwrap_or(usize::MAX);
    let base = BACKOFF[i.min(BACKOFF.len() - 1)] as f64 * 1000.0;
    let jitter = rand::rng().random_range(0.8..1.2);
    (base * jitter) as i64
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
/// secret that signs now (the current one, and the previous one during a rotation's overlap),
/// separated by spaces.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts the worker.
pub fn spawn_webhook_worker(directory: Directory, config: WebhookConfig) {
    tokio::spawn(run(directory, config));
}

async fn run(directory: Directory, config: WebhookConfig) {
    // The one TLS crypto provider of the build (a no-op when the program installed it).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Two clients: one that resolves through the outbound address policy, for every
    // endpoint, and one that does not, for endpoints the operator added with
    // --allow-link-local.
    let client = |allow_link_local| {
        crate::outbound::client_builder(allow_link_local)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
    };
    let http = match (client(false), client(true)) {
        (Ok(strict), Ok(allowing)) => Clients { strict, allowing },
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "webhook deliveries cannot start");
            return;
        }
    };
    let owner = format!("worker-{:016x}", rand::rng().random::<u64>());
    let changes = directory.changes();
    let mut running: JoinSet<()> = JoinSet::new();
    let mut failing = false;
    // Whether any endpoint exists, looked up once a second: without one, changes wake nobody.
    let mut endpoints: Option<(Instant, bool)> = None;
    loop {
        let any = match endpoints {
            Some((at, any)) if at.elapsed() < Duration::from_secs(1) => any,
            _ => {
                let any = directory
                    .store()
                    .webhooks()
                    .await
                    .map(|w| !w.is_empty())
                    .unwrap_or(true);
                endpoints = Some((Instant::now(), any));
                any
            }
        };
        if !any && running.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let free = config.concurrency.saturating_sub(running.len());
        let mut claimed = 0;
        if free > 0 {
            let now = epoch_millis(time::OffsetDateTime::now_utc());
            let lease_until = now + config.lease.as_millis() as i64;
            match directory
                .store()
                .claim_streams(&owner, now, lease_until, free as u64)
                .await
            {
                Ok(streams) => {
                    failing = false;
                    claimed = streams.len();
                    for stream in streams {
                        let (directory, http, config, owner) = (
                            directory.clone(),
                            http.clone(),
                            config.clone(),
                            owner.clone(),
                        );
                        running.spawn(async move {
                            deliver_stream(&directory, &http, &config, &owner, stream).await;
                        });
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
        if claimed > 0 && running.len() < config.concurrency {
            // More may be due at once.
            continue;
        }
        // Wait for a change recorded by this process, a stream to finish, or a short while
        // (changes recorded by other processes, retries coming due).
        tokio::select! {
            () = changes.notified() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
            () = tokio::time::sleep(Duration::from_millis(if failing { 1000 } else { 100 })) => {}
        }
    }
}

/// The worker's HTTP clients.
#[derive(Clone)]
struct Clients {
    /// Resolves through the outbound address policy.
    strict: reqwest::Client,
    /// For endpoints added with `--allow-link-local`.
    allowing: reqwest::Client,
}

/// An error's innermost causes, which say why (refused, a certificate not trusted, …).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    if out.is_empty() {
        e.to_string()
    } else {
        out.join(": ")
    }
}

/// The event as a webhook body: the same JSON as the events API.
fn body(event: &Event) -> Vec<u8> {
    serde_json::to_vec(&crate::host::event_json(event)).unwrap_or_default()
}

/// The secrets that sign at `now`.
fn signing_secrets(webhook: &WebhookRecord, now: i64) -> Vec<&str> {
    let mut secrets = vec![webhook.secret.as_str()];
    if let (Some(previous), Some(until)) = (&webhook.previous_secret, webhook.previous_until)
        && now < until
    {
        secrets.push(previous);
    }
    secrets
}

/// Delivers a leased stream's events in order until one fails or the batch ends, then
/// records the outcome and releases the lease.
async fn deliver_stream(
    directory: &Directory,
    http: &Clients,
    config: &WebhookConfig,
    owner: &str,
    stream: Stream,
) {
    let (http, refused) = if stream.webhook.allow_link_local {
        (&http.allowing, None)
    } else {
        (
            &http.strict,
            crate::outbound::refusal(&stream.webhook.url).map(|e| e.to_string()),
        )
    };
    let store = directory.store();
    let events = match store
        .events(Some(&stream.tenant_id), stream.delivered, config.batch)
        .await
    {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "reading events to deliver failed");
            return;
        }
    };
    let started = Instant::now();
    let mut update = StreamUpdate {
        delivered: stream.delivered,
        attempts: stream.attempts,
        first_failed_at: stream.first_failed_at,
        next_attempt_at: epoch_millis(time::OffsetDateTime::now_utc()),
        dead_letter: None,
    };
    let mut attempts = Vec::new();
    for event in &events {
        // Leave time for one more request (at most `timeout`) and the outcome's record well
        // inside the lease, so that no other worker takes the stream while this one delivers.
        if started.elapsed() + config.timeout > config.lease / 2 {
            break;
        }
        let now = epoch_millis(time::OffsetDateTime::now_utc());
        let payload = body(event);
        let timestamp = now / 1000;
        let sent = Instant::now();
        let result = match &refused {
            // A literal address never reaches the resolver: refused here, without a request.
            Some(refusal) => Err(refusal.clone()),
            None => Ok(http
                .post(&stream.webhook.url)
                .header("content-type", "application/json")
                .header("webhook-id", &event.id)
                .header("webhook-timestamp", timestamp.to_string())
                .header(
                    "webhook-signature",
                    signature(
                        &signing_secrets(&stream.webhook, now),
                        &event.id,
                        timestamp,
                        &payload,
                    ),
                )
                .body(payload)
                .send()
                .await),
        };
        let latency_ms = sent.elapsed().as_millis() as i64;
        let (status, error) = match &result {
            Err(refusal) => (None, Some(format!("not sent: {refusal}"))),
            Ok(Ok(r)) if r.status().is_success() => (Some(i64::from(r.status().as_u16())), None),
            Ok(Ok(r)) => (
                Some(i64::from(r.status().as_u16())),
                Some(format!("the receiver answered {}", r.status())),
            ),
            Ok(Err(e)) if e.is_timeout() => (None, Some("timed out".to_owned())),
            Ok(Err(e)) if e.is_connect() => {
                (None, Some(format!("could not connect: {}", causes(e))))
            }
            Ok(Err(e)) => (None, Some(format!("request failed: {}", causes(e)))),
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
            latency_ms,
        });
        match error {
            None => {
                update.delivered = event.position;
                update.attempts = 0;
                update.first_failed_at = None;
                update.next_attempt_at = now;
            }
            Some(error) => {
                let first = update.first_failed_at.unwrap_or(now);
                update.attempts += 1;
                if now - first >= config.give_up_after.as_millis() as i64 {
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
                    update.next_attempt_at = now + backoff_ms(update.attempts);
                }
                break;
            }
        }
    }
    if let Err(e) = store
        .finish_stream(
            owner,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signatures_match_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn both_secrets_sign_during_an_overlap() {
        let s = signature(&["whsec_AAAA", "whsec_BBBB"], "id", 1, b"{}");
        assert_eq!(s.split(' ').count(), 2);
        assert!(s.split(' ').all(|p| p.starts_with("v1,")));
    }

    #[test]
    fn the_first_retry_comes_within_five_seconds_and_later_ones_grow_to_hours() {
        for _ in 0..100 {
            assert!((800..=1200).contains(&backoff_ms(1)));
        }
        assert!(backoff_ms(4) > backoff_ms(2));
        assert!(backoff_ms(50) >= 8 * 3600 * 800);
    }
}
