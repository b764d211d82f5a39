//! Webhook deliveries to real HTTP receivers on loopback: retried after refusals, kept in
//! order, signed (checked here with an HMAC of the test's own), resumed after the receiver
//! comes back, and not lost when the server is killed with `kill -9` mid-delivery.
//!
//! Retries are not waited for: the server's directory runs on a `ShiftedClock` that a test
//! moves past the backoff, and a test waits for the receiver's requests (a `Notify`), not for
//! time to pass.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::support::process::{Server, cli_json};
use crate::support::*;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use roster_directory::ShiftedClock;
use serde_json::Value;
use sha2::Sha256;

/// A delivery as the receiver saw it.
#[derive(Debug, Clone)]
struct Received {
    id: String,
    timestamp: String,
    signature: String,
    body: Bytes,
}

/// How the receiver behaves: it refuses the first `refuse` deliveries with a 503, and waits
/// `delay` before answering each.
#[derive(Default)]
struct Receiver {
    refuse: usize,
    delay: Duration,
    seen: usize,
    accepted: Vec<Received>,
}

/// The receiver's state, and a signal raised after each request it answers.
#[derive(Default)]
struct Hub {
    receiver: Mutex<Receiver>,
    answered: tokio::sync::Notify,
}

impl Hub {
    fn with(receiver: Receiver) -> Shared {
        Arc::new(Hub {
            receiver: Mutex::new(receiver),
            answered: tokio::sync::Notify::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Receiver> {
        self.receiver.lock().unwrap()
    }
}

type Shared = Arc<Hub>;

async fn receive(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delay = {
        let mut r = state.lock();
        r.seen += 1;
        if r.seen <= r.refuse {
            drop(r);
            state.answered.notify_waiters();
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        r.delay
    };
    // A slow receiver (the kill -9 test), not a wait for the server.
    tokio::time::sleep(delay).await;
    state.lock().accepted.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
    state.answered.notify_waiters();
    StatusCode::NO_CONTENT
}

/// Serves a receiver on `listener`.
fn serve_receiver(listener: tokio::net::TcpListener, state: Shared) {
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

async fn receiver(state: Shared) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    serve_receiver(listener, state);
    url
}

/// Checks a Standard Webhooks signature with an HMAC computed here.
fn verify(secret: &str, r: &Received) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.", r.id, r.timestamp).as_bytes());
    mac.update(&r.body);
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

/// Waits until `done` holds of the receiver, checked after each request it answers; fails
/// after `limit`.
async fn wait_for(state: &Shared, limit: Duration, done: impl Fn(&Receiver) -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let answered = state.answered.notified();
        tokio::pin!(answered);
        answered.as_mut().enable();
        if done(&state.lock()) {
            return;
        }
        if tokio::time::timeout_at(deadline, answered).await.is_err() {
            let r = state.lock();
            panic!(
                "the receiver still waits after {limit:?}: {} requests, {} accepted",
                r.seen,
                r.accepted.len()
            );
        }
    }
}

/// Waits until the server has recorded `n` attempts of `hook`: it records a stream's attempts
/// when it releases the stream, a moment after the receiver's answer. (A redelivery asked
/// for while a stream is still leased is overwritten when the lease holder records.)
async fn wait_recorded(app: &TestApp, hook: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let recorded = app.directory.delivery_attempts(hook, 1000).await.unwrap();
        if recorded.len() >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {n} attempts recorded",
            recorded.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A server whose directory runs on a clock the test moves, with these delivery settings.
async fn spawn_app_on_shifted_clock(
    config: roster_delivery::WebhookConfig,
) -> (TestApp, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder()
        .webhooks(config)
        .clock(clock.clone())
        .start()
        .await;
    (app, clock)
}

/// The distinct event ids in their first order of arrival.
fn distinct(accepted: &[Received]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    accepted
        .iter()
        .filter(|r| seen.insert(r.id.clone()))
        .map(|r| r.id.clone())
        .collect()
}

/// The event ids of the log, oldest first.
async fn log_ids(app: &TestApp) -> Vec<String> {
    app.directory
        .events(None, 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect()
}

#[tokio::test]
async fn refused_deliveries_are_retried_and_arrive_signed_and_in_order() {
    let (app, clock) = spawn_app_on_shifted_clock(Default::default()).await;
    let t = app.tenant("acme").await;
    let state: Shared = Hub::with(Receiver {
        refuse: 2,
        ..Default::default()
    });
    let url = receiver(state.clone()).await;
    let hook = app.directory.add_webhook(&url, None, false).await.unwrap();
    for i in 0..5 {
        app.create_user(&t, &format!("u{i}@example.com")).await;
    }
    // Two refusals: retried after about one (0.8 to 1.2) and about five (4 to 6) seconds of
    // the server's clock. The attempt's time is read before its request is sent, so moving
    // the clock once the receiver has answered puts the retry in the past.
    wait_for(&state, Duration::from_secs(10), |r| r.seen >= 1).await;
    clock.advance(time::Duration::seconds(2));
    wait_for(&state, Duration::from_secs(10), |r| r.seen >= 2).await;
    clock.advance(time::Duration::seconds(7));
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 5).await;
    let accepted = state.lock().accepted.clone();
    let expected = log_ids(&app).await;
    assert_eq!(expected.len(), 5);
    assert_eq!(
        distinct(&accepted),
        expected,
        "every event, in the log's order"
    );
    for r in &accepted {
        assert!(verify(&hook.secret, r), "a valid signature on {}", r.id);
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"], r.id.as_str(), "webhook-id is the event id");
        assert_eq!(body["type"], "user.created");
        assert_eq!(body["tenant_id"], t.id.as_str());
    }
    let attempts = app
        .directory
        .delivery_attempts(&hook.id, 100)
        .await
        .unwrap();
    assert_eq!(
        attempts.iter().filter(|a| a.status == Some(503)).count(),
        2,
        "refused attempts are recorded: {attempts:?}"
    );

    // After a rotation both secrets sign during the overlap.
    let new_secret = app
        .directory
        .rotate_webhook_secret(&hook.id, time::Duration::hours(1))
        .await
        .unwrap();
    app.create_user(&t, "after-rotation@example.com").await;
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 6).await;
    let last = state.lock().accepted.last().cloned().unwrap();
    assert!(verify(&new_secret, &last) && verify(&hook.secret, &last));

    // Redelivery from an event sends it and the ones after it again.
    wait_recorded(&app, &hook.id, 8).await;
    app.directory
        .redeliver(&hook.id, &expected[3])
        .await
        .unwrap();
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 9).await;
    let again: Vec<String> = state.lock().accepted[6..9]
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(again[..2], expected[3..5]);
}

#[tokio::test]
async fn a_thousand_changes_made_while_the_receiver_is_down_all_arrive_in_order() {
    let (app, clock) = spawn_app_on_shifted_clock(Default::default()).await;
    let t = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    // The port is the receiver's, but nothing listens on it yet.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("http://{address}/hook");
    app.directory
        .add_webhook(&url, Some(&roster_store::TenantId::new(&t.id)), false)
        .await
        .unwrap();
    for i in 0..1000 {
        app.create_user(&t, &format!("user{i}@example.com")).await;
        if i % 100 == 0 {
            // Another tenant's changes: not this endpoint's.
            app.create_user(&other, &format!("other{i}@example.com"))
                .await;
        }
    }
    let state: Shared = Hub::with(Receiver::default());
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    serve_receiver(listener, state.clone());
    // Whatever the backoff reached while the receiver was down (at most 8 h × 1.2), the
    // next attempt is now due; three days have not passed, so nothing is dead-lettered.
    // Delivery is at least once: an attempt in flight when the clock moves outlives its
    // lease, and the event can arrive twice. All distinct events arrive, in order.
    clock.advance(time::Duration::hours(10));
    wait_for(&state, Duration::from_secs(60), |r| {
        distinct(&r.accepted).len() >= 1000
    })
    .await;
    let expected: Vec<String> = app
        .directory
        .events(Some(&roster_store::TenantId::new(&t.id)), 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(expected.len(), 1000);
    let accepted = state.lock().accepted.clone();
    assert_eq!(
        distinct(&accepted),
        expected,
        "all of this tenant's events, in order"
    );
}

#[tokio::test]
async fn nothing_is_lost_when_the_server_is_killed_mid_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("roster.db").display());
    let tenant = cli_json(&db, &["tenant", "create", "Acme", "--json"]);
    let (tid, token) = (
        tenant["id"].as_str().unwrap().to_owned(),
        tenant["token"].as_str().unwrap().to_owned(),
    );
    // A slow receiver, so that the kill comes while deliveries are under way.
    let state: Shared = Hub::with(Receiver {
        delay: Duration::from_millis(10),
        ..Default::default()
    });
    let url = receiver(state.clone()).await;
    cli_json(&db, &["webhook", "add", &url, "--json"]);
    let env = [
        ("ROSTER_WEBHOOK_LEASE_SECONDS", "3"),
        ("ROSTER_WEBHOOK_TIMEOUT_SECONDS", "1"),
    ];
    let server = Server::start_with(&db, &env);
    let http = crate::support::http_client();
    let mut acknowledged = 0;
    for i in 0..300 {
        let r = http
            .post(format!("{}/scim/v2/{tid}/Users", server.address))
            .bearer_auth(&token)
            .header("content-type", "application/scim+json")
            .body(user(&format!("k{i}@example.com")).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), reqwest::StatusCode::CREATED);
        acknowledged += 1;
    }
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 20).await;
    server.kill9();
    let before_restart = state.lock().accepted.len();
    assert!(before_restart < acknowledged, "the kill came mid-delivery");
    let _server = Server::start_with(&db, &env);
    wait_for(&state, Duration::from_secs(60), |r| {
        distinct(&r.accepted).len() >= acknowledged
    })
    .await;
    let accepted = state.lock().accepted.clone();
    let ids = distinct(&accepted);
    assert_eq!(ids.len(), acknowledged, "every acknowledged change arrives");
    // In order: the first arrival of each event follows the log.
    let bodies: Vec<Value> = accepted
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let mut first_seen = std::collections::HashSet::new();
    let names: Vec<String> = bodies
        .iter()
        .filter(|b| first_seen.insert(b["id"].as_str().unwrap().to_owned()))
        .map(|b| {
            b["data"]["resource"]["userName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let expected: Vec<String> = (0..300).map(|i| format!("k{i}@example.com")).collect();
    assert_eq!(names, expected, "delivered in the order of the changes");
}

#[tokio::test]
async fn an_event_refused_until_the_last_attempt_is_dead_lettered_and_redeliverable() {
    let config = roster_delivery::WebhookConfig {
        give_up_after: Duration::from_millis(500),
        ..Default::default()
    };
    let (app, clock) = spawn_app_on_shifted_clock(config).await;
    let t = app.tenant("acme").await;
    let state: Shared = Hub::with(Receiver {
        refuse: usize::MAX,
        ..Default::default()
    });
    let url = receiver(state.clone()).await;
    let hook = app.directory.add_webhook(&url, None, false).await.unwrap();
    app.create_user(&t, "first@example.com").await;
    app.create_user(&t, "second@example.com").await;
    // Refused at once and, two seconds of the server's clock later, past the last attempt:
    // the first is given up on, and the second, which waited behind it, is tried at once;
    // two seconds later it is given up on too.
    wait_for(&state, Duration::from_secs(10), |r| r.seen >= 1).await;
    clock.advance(time::Duration::seconds(2));
    wait_for(&state, Duration::from_secs(10), |r| r.seen >= 3).await;
    clock.advance(time::Duration::seconds(2));
    wait_for(&state, Duration::from_secs(10), |r| r.seen >= 4).await;
    wait_recorded(&app, &hook.id, 4).await;
    let dead = app.directory.dead_letters(Some(&hook.id)).await.unwrap();
    assert_eq!(state.lock().seen, 4, "two attempts at each event");
    // Read once both are dead-lettered, so positioned on every backend.
    let log = log_ids(&app).await;
    let dead_ids: Vec<&str> = dead.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(dead_ids, log.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(dead.iter().all(|d| d.error.contains("503")), "{dead:?}");

    // The receiver is fixed: a redelivery from the first dead letter delivers both.
    state.lock().refuse = 0;
    app.directory.redeliver(&hook.id, &log[0]).await.unwrap();
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 2).await;
    assert_eq!(distinct(&state.lock().accepted), log);
    assert!(
        app.directory
            .dead_letters(Some(&hook.id))
            .await
            .unwrap()
            .is_empty(),
        "redelivered events leave the dead letters"
    );
}
