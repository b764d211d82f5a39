//! The worker driven one round at a time over SQLite, with a clock the test sets and a sender
//! that answers as the test says: retries come exactly when the backoff says (the jitter
//! fixed through `Secrets`), later events wait behind a failing one, an event is dead-lettered
//! after its last attempt, and what was sent is signed with the endpoint's secret. No test
//! here waits in real time, but the last: it runs the worker's loop, with a delivery held in
//! flight, and looks at the database until the loop has claimed the stream again.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use roster_delivery::signing::signature;
use roster_delivery::{Request, SendError, Sender, Sent, WebhookConfig, Worker};
use roster_directory::{Clock, Directory, Secrets, SystemSecrets, TenantContext};
use roster_scim::Registry;
use roster_store::{Kind, Store};
use roster_store_sqlite::SqliteStore;
use serde_json::json;
use time::OffsetDateTime;
use time::macros::datetime;

/// A clock that moves only when the test moves it.
struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    fn advance(&self, by: time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The system's secrets, with every jitter at its low end (a factor of 0.8).
struct LowJitter;

impl Secrets for LowJitter {
    fn token(&self) -> String {
        SystemSecrets.token()
    }
    fn access_token(&self) -> String {
        SystemSecrets.access_token()
    }
    fn client_id(&self) -> String {
        SystemSecrets.client_id()
    }
    fn client_secret(&self) -> String {
        SystemSecrets.client_secret()
    }
    fn api_key(&self) -> String {
        SystemSecrets.api_key()
    }
    fn webhook_secret(&self) -> String {
        SystemSecrets.webhook_secret()
    }
    fn tenant_id(&self) -> String {
        SystemSecrets.tenant_id()
    }
    fn resource_id(&self) -> String {
        SystemSecrets.resource_id()
    }
    fn salt(&self) -> [u8; 16] {
        SystemSecrets.salt()
    }
    fn random_u64(&self) -> u64 {
        0
    }
    fn key(&self) -> [u8; 32] {
        SystemSecrets.key()
    }
    fn nonce(&self) -> [u8; 24] {
        SystemSecrets.nonce()
    }
}

/// Answers each request with the next scripted outcome (204 when the script is spent) and
/// keeps what it was sent.
#[derive(Default)]
struct Scripted {
    script: Mutex<VecDeque<Result<u16, SendError>>>,
    sent: Mutex<Vec<Request>>,
}

#[async_trait]
impl Sender for Scripted {
    async fn send(&self, request: Request) -> Sent {
        self.sent.lock().unwrap().push(request);
        Sent {
            outcome: self.script.lock().unwrap().pop_front().unwrap_or(Ok(204)),
            latency: std::time::Duration::from_millis(7),
        }
    }
}

struct Setup {
    directory: Directory,
    clock: Arc<ManualClock>,
    sender: Arc<Scripted>,
    worker: Worker,
    tenant: TenantContext,
    _dir: tempfile::TempDir,
}

async fn setup(config: WebhookConfig, script: Vec<Result<u16, SendError>>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&url).await.unwrap());
    let clock = Arc::new(ManualClock(Mutex::new(datetime!(2026-01-01 0:00 UTC))));
    let directory = Directory::new(
        store,
        Arc::new(Registry::core()),
        clock.clone(),
        Arc::new(LowJitter),
    );
    let issued = directory.create_tenant("Acme").await.unwrap();
    let tenant = directory.context(issued.tenant).expect("readable settings");
    let sender = Arc::new(Scripted {
        script: Mutex::new(script.into()),
        ..Default::default()
    });
    let worker = Worker::new(directory.clone(), sender.clone(), config);
    Setup {
        directory,
        clock,
        sender,
        worker,
        tenant,
        _dir: dir,
    }
}

impl Setup {
    async fn create_user(&self, name: &str) {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name,
        });
        self.directory
            .create(&self.tenant, Kind::User, &body, false, &mut Vec::new())
            .await
            .unwrap();
    }

    /// The event ids of what was sent, in order.
    fn sent_ids(&self) -> Vec<String> {
        self.sender
            .sent
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.id.clone())
            .collect()
    }

    async fn log_ids(&self) -> Vec<String> {
        self.directory
            .events(None, 0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.id)
            .collect()
    }
}

#[tokio::test]
async fn a_refused_event_is_retried_exactly_when_its_backoff_ends_and_the_next_waits_behind_it() {
    let s = setup(WebhookConfig::default(), vec![Ok(503), Ok(503)]).await;
    let hook = s
        .directory
        .add_webhook("http://127.0.0.1:9/hook", None, false)
        .await
        .unwrap();
    s.create_user("first@example.com").await;
    s.create_user("second@example.com").await;
    let log = s.log_ids().await;

    assert_eq!(s.worker.run_once().await.unwrap(), 1, "the stream is due");
    assert_eq!(s.sent_ids(), log[..1], "refused: the second event waits");

    // The first retry after 1 s × 0.8 (the jitter at its low end), not a millisecond before.
    s.clock.advance(time::Duration::milliseconds(799));
    assert_eq!(s.worker.run_once().await.unwrap(), 0, "not due yet");
    s.clock.advance(time::Duration::milliseconds(1));
    assert_eq!(s.worker.run_once().await.unwrap(), 1);
    assert_eq!(s.sent_ids(), [log[0].clone(), log[0].clone()]);

    // Refused again: the second retry after 5 s × 0.8; then both events go, in order.
    s.clock.advance(time::Duration::milliseconds(3_999));
    assert_eq!(s.worker.run_once().await.unwrap(), 0, "not due yet");
    s.clock.advance(time::Duration::milliseconds(1));
    assert_eq!(s.worker.run_once().await.unwrap(), 1);
    assert_eq!(
        s.sent_ids(),
        [&log[0], &log[0], &log[0], &log[1]].map(String::clone)
    );
    assert_eq!(s.worker.run_once().await.unwrap(), 0, "nothing is left");

    let mut attempts = s.directory.delivery_attempts(&hook.id, 10).await.unwrap();
    attempts.reverse();
    let seen: Vec<(i64, Option<i64>, Option<&str>, i64)> = attempts
        .iter()
        .map(|a| (a.attempt, a.status, a.error.as_deref(), a.latency_ms))
        .collect();
    assert_eq!(
        seen,
        [
            (
                1,
                Some(503),
                Some("the receiver answered 503 Service Unavailable"),
                7
            ),
            (
                2,
                Some(503),
                Some("the receiver answered 503 Service Unavailable"),
                7
            ),
            (3, Some(204), None, 7),
            (1, Some(204), None, 7),
        ]
    );
    assert!(s.directory.dead_letters(None).await.unwrap().is_empty());
}

#[tokio::test]
async fn deliveries_are_signed_with_the_endpoint_secret_and_stamped_by_the_clock() {
    let s = setup(WebhookConfig::default(), vec![]).await;
    let hook = s
        .directory
        .add_webhook("http://127.0.0.1:9/hook", None, false)
        .await
        .unwrap();
    s.clock.advance(time::Duration::milliseconds(1_500));
    s.create_user("first@example.com").await;
    s.worker.run_once().await.unwrap();
    let sent = s.sender.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    // 2026-01-01T00:00:01.5Z, in whole seconds.
    assert_eq!(r.timestamp, 1_767_225_601);
    assert_eq!(r.url, "http://127.0.0.1:9/hook");
    assert_eq!(r.timeout, WebhookConfig::default().timeout);
    assert_eq!(
        r.signature,
        signature(&[&hook.secret], &r.id, r.timestamp, &r.body)
    );
    let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["id"], r.id.as_str());
    assert_eq!(body["type"], "user.created");
    assert_eq!(body["occurred_at"], "2026-01-01T00:00:01.5Z");
}

#[tokio::test]
async fn an_event_refused_past_the_last_attempt_is_dead_lettered_and_the_stream_moves_on() {
    let config = WebhookConfig {
        give_up_after: std::time::Duration::from_secs(3 * 24 * 3600),
        ..Default::default()
    };
    let refusals = vec![Err(SendError::Connect("connection refused".into())); 1000];
    let s = setup(config, refusals).await;
    let hook = s
        .directory
        .add_webhook("http://127.0.0.1:9/hook", None, false)
        .await
        .unwrap();
    s.create_user("first@example.com").await;
    s.create_user("second@example.com").await;
    let log = s.log_ids().await;

    // Retried on the schedule for three days (1 s, 5 s, … 8 h, each × 0.8), then given up.
    let mut rounds = 0;
    while s.directory.dead_letters(None).await.unwrap().is_empty() {
        assert_eq!(s.worker.run_once().await.unwrap(), 1, "due on schedule");
        s.clock.advance(time::Duration::hours(8));
        rounds += 1;
        assert!(
            rounds < 20,
            "still not dead-lettered after {rounds} attempts"
        );
    }
    let dead = s.directory.dead_letters(Some(&hook.id)).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].event_id, log[0]);
    assert_eq!(dead[0].error, "could not connect: connection refused");
    // Eight-hour steps from the first failure: the attempt at 72 h is the last.
    assert_eq!(rounds, 10);
    assert!(s.sent_ids().iter().all(|id| *id == log[0]));

    // The stream moves on to the second event at once.
    s.sender.script.lock().unwrap().clear();
    assert_eq!(s.worker.run_once().await.unwrap(), 1);
    assert_eq!(s.sent_ids().last(), Some(&log[1]));
    assert_eq!(s.worker.run_once().await.unwrap(), 0);

    // Once its event is past the events' retention, the dead letter goes with it.
    s.clock.advance(time::Duration::days(90));
    s.directory
        .purge_events(time::Duration::days(90) - time::Duration::hours(1))
        .await
        .unwrap();
    assert!(s.directory.dead_letters(None).await.unwrap().is_empty());
}

/// Holds its first request until the test opens the gate; answers the others at once. Keeps
/// what it was sent, and tells the test of each request.
#[derive(Default)]
struct Gated {
    gate: tokio::sync::Notify,
    arrived: tokio::sync::Notify,
    sent: Mutex<Vec<String>>,
}

#[async_trait]
impl Sender for Gated {
    async fn send(&self, request: Request) -> Sent {
        let first = {
            let mut sent = self.sent.lock().unwrap();
            sent.push(request.id);
            sent.len() == 1
        };
        self.arrived.notify_one();
        if first {
            self.gate.notified().await;
        }
        Sent {
            outcome: Ok(204),
            latency: std::time::Duration::from_millis(7),
        }
    }
}

impl Gated {
    /// Waits until `n` requests have come.
    async fn wait_for(&self, n: usize) {
        tokio::time::timeout(std::time::Duration::from_secs(10), async {
            while self.sent.lock().unwrap().len() < n {
                self.arrived.notified().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("{n} requests did not come"));
    }
}

/// The running worker, with a delivery in flight when the clock steps past its lease (an
/// operator's clock correction, a suspended host): the claim hands the stream back to this
/// same worker, which must not deliver it a second time beside the first; once the first
/// delivery ends, the stream goes on.
#[tokio::test]
async fn a_stream_claimed_again_while_it_is_delivered_is_not_delivered_twice() {
    let s = setup(WebhookConfig::default(), vec![]).await;
    let gated = Arc::new(Gated::default());
    let config = WebhookConfig {
        poll: std::time::Duration::from_millis(10),
        ..Default::default()
    };
    s.directory
        .add_webhook("http://127.0.0.1:9/hook", None, false)
        .await
        .unwrap();
    let running = Worker::new(s.directory.clone(), gated.clone(), config).spawn();
    s.create_user("first@example.com").await;
    gated.wait_for(1).await;

    // The lease (30 s) runs out by the clock while the first event is held.
    s.clock.advance(time::Duration::hours(1));
    s.create_user("second@example.com").await;
    // Until the worker has claimed the stream again, a claim of another owner gets it (and
    // gives it back at once, changing nothing).
    let store = s.directory.store();
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            let now = roster_directory::epoch_millis(s.clock.now());
            let probed = store
                .claim_streams("probe", now, now + 1, 10)
                .await
                .unwrap();
            if probed.is_empty() {
                break;
            }
            for p in probed {
                let unchanged = roster_store::StreamUpdate {
                    leased_delivered: p.delivered,
                    delivered: p.delivered,
                    attempts: p.attempts,
                    first_failed_at: p.first_failed_at,
                    next_attempt_at: now,
                    dead_letter: None,
                };
                store
                    .finish_stream("probe", &p.webhook.id, &p.tenant_id, &unchanged, &[])
                    .await
                    .unwrap();
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the worker claims the stream again");

    gated.gate.notify_one();
    gated.wait_for(2).await;
    let log = s.log_ids().await;
    assert_eq!(
        *gated.sent.lock().unwrap(),
        log,
        "each event once, in order"
    );
    running.abort();
}
