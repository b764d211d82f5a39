//! Webhook deliveries to real HTTP receivers on loopback: retried after refusals, kept in
//! order, signed (checked here with an HMAC of the test's own), resumed after the receiver
//! comes back, and not lost when the server is killed with `kill -9` mid-delivery.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use support::process::{Server, cli_json};
use support::*;

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

type Shared = Arc<Mutex<Receiver>>;

async fn receive(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let delay = {
        let mut r = state.lock().unwrap();
        r.seen += 1;
        if r.seen <= r.refuse {
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        r.delay
    };
    tokio::time::sleep(delay).await;
    state.lock().unwrap().accepted.push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body,
    });
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

/// Waits until `done` holds of the receiver, for at most `limit`.
async fn wait_for(state: &Shared, limit: Duration, done: impl Fn(&Receiver) -> bool) {
    let started = Instant::now();
    while !done(&state.lock().unwrap()) {
        assert!(
            started.elapsed() < limit,
            "the receiver still waits after {limit:?}: {} accepted",
            state.lock().unwrap().accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
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
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let state: Shared = Arc::new(Mutex::new(Receiver {
        refuse: 2,
        ..Default::default()
    }));
    let url = receiver(state.clone()).await;
    let hook = app.directory.add_webhook(&url, None, false).await.unwrap();
    for i in 0..5 {
        app.create_user(&t, &format!("u{i}@example.com")).await;
    }
    // Two refusals: retried after about one and about five seconds.
    wait_for(&state, Duration::from_secs(20), |r| r.accepted.len() >= 5).await;
    let accepted = state.lock().unwrap().accepted.clone();
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
    assert!(
        attempts.iter().filter(|a| a.status == Some(503)).count() >= 2,
        "refused attempts are recorded: {attempts:?}"
    );
    assert!(attempts.iter().all(|a| a.latency_ms >= 0));

    // After a rotation both secrets sign during the overlap.
    let new_secret = app
        .directory
        .rotate_webhook_secret(&hook.id, time::Duration::hours(1))
        .await
        .unwrap();
    app.create_user(&t, "after-rotation@example.com").await;
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 6).await;
    let last = state.lock().unwrap().accepted.last().cloned().unwrap();
    assert!(verify(&new_secret, &last) && verify(&hook.secret, &last));

    // Redelivery from an event sends it and the ones after it again.
    app.directory
        .redeliver(&hook.id, &expected[3])
        .await
        .unwrap();
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 9).await;
    let again: Vec<String> = state.lock().unwrap().accepted[6..9]
        .iter()
        .map(|r| r.id.clone())
        .collect();
    assert_eq!(again[..2], expected[3..5]);
}

#[tokio::test]
async fn a_thousand_changes_made_while_the_receiver_is_down_all_arrive_in_order() {
    let app = spawn_app().await;
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
    let state: Shared = Arc::new(Mutex::new(Receiver::default()));
    let listener = tokio::net::TcpListener::bind(address).await.unwrap();
    serve_receiver(listener, state.clone());
    let back = Instant::now();
    wait_for(&state, Duration::from_secs(60), |r| {
        r.accepted.len() >= 1000
    })
    .await;
    eprintln!(
        "1,000 events arrived {:?} after the receiver came back",
        back.elapsed()
    );
    let expected: Vec<String> = app
        .directory
        .events(Some(&roster_store::TenantId::new(&t.id)), 0, 100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(expected.len(), 1000);
    let accepted = state.lock().unwrap().accepted.clone();
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
    let state: Shared = Arc::new(Mutex::new(Receiver {
        delay: Duration::from_millis(10),
        ..Default::default()
    }));
    let url = receiver(state.clone()).await;
    cli_json(&db, &["webhook", "add", &url, "--json"]);
    let env = [
        ("ROSTER_WEBHOOK_LEASE_SECONDS", "3"),
        ("ROSTER_WEBHOOK_TIMEOUT_SECONDS", "1"),
    ];
    let server = Server::start_with(&db, &env);
    let http = support::http_client();
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
    let before_restart = state.lock().unwrap().accepted.len();
    assert!(before_restart < acknowledged, "the kill came mid-delivery");
    let _server = Server::start_with(&db, &env);
    wait_for(&state, Duration::from_secs(60), |r| {
        distinct(&r.accepted).len() >= acknowledged
    })
    .await;
    let accepted = state.lock().unwrap().accepted.clone();
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
    let config = roster_server::webhooks::WebhookConfig {
        give_up_after: Duration::from_millis(500),
        ..Default::default()
    };
    let app = spawn_app_full(|_| {}, config).await;
    let t = app.tenant("acme").await;
    let state: Shared = Arc::new(Mutex::new(Receiver {
        refuse: usize::MAX,
        ..Default::default()
    }));
    let url = receiver(state.clone()).await;
    let hook = app.directory.add_webhook(&url, None, false).await.unwrap();
    app.create_user(&t, "first@example.com").await;
    app.create_user(&t, "second@example.com").await;
    // Refused at once and after about a second: past the last attempt, both are given up on,
    // one after the other (the second waits behind the first).
    let started = Instant::now();
    let dead = loop {
        let dead = app.directory.dead_letters(Some(&hook.id)).await.unwrap();
        if dead.len() >= 2 {
            break dead;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not dead-lettered: {dead:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Read once both are dead-lettered, so positioned on every backend.
    let log = log_ids(&app).await;
    let dead_ids: Vec<&str> = dead.iter().map(|d| d.event_id.as_str()).collect();
    assert_eq!(dead_ids, log.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(dead.iter().all(|d| d.error.contains("503")), "{dead:?}");

    // The receiver is fixed: a redelivery from the first dead letter delivers both.
    state.lock().unwrap().refuse = 0;
    app.directory.redeliver(&hook.id, &log[0]).await.unwrap();
    wait_for(&state, Duration::from_secs(10), |r| r.accepted.len() >= 2).await;
    assert_eq!(distinct(&state.lock().unwrap().accepted), log);
    assert!(
        app.directory
            .dead_letters(Some(&hook.id))
            .await
            .unwrap()
            .is_empty(),
        "redelivered events leave the dead letters"
    );
}
