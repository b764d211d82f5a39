//! Hardening of authentication (issue 14): the token endpoint's failure limits never refuse
//! the correct secret, and limit wrong ones per client id and per source address.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use roster_directory::{Clock, Directory, ShiftedClock, SystemSecrets};
use roster_scim::Registry;
use roster_server::{AppState, Config};
use roster_store::{Store, TenantId};
use roster_store_sqlite::SqliteStore;
use serde_json::Value;
use support::{Backend, TestApp, spawn_app_custom};

/// A server whose clock the test moves, served the way `roster serve` serves it: with each
/// request's peer address in its extensions (`ConnectInfo`), so that limits per address
/// apply.
async fn spawn_app_with_peer_addresses(clock: Arc<dyn Clock>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let (database_url, store): (String, Arc<dyn Store>) = match support::backend() {
        Backend::Sqlite => {
            let url = format!("sqlite://{}", dir.path().join("roster.db").display());
            let store = SqliteStore::open(&url).await.expect("open store");
            (url, Arc::new(store))
        }
        Backend::Postgres => {
            let url = support::postgres_database().await;
            let store = roster_store_postgres::PostgresStore::open(
                &url,
                roster_store_postgres::PoolConfig {
                    max_connections: 4,
                    ..Default::default()
                },
            )
            .await
            .expect("open store");
            (url, Arc::new(store))
        }
    };
    let directory = Directory::new(
        store,
        Arc::new(Registry::core()),
        clock,
        Arc::new(SystemSecrets),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let state = AppState::new(directory.clone(), Config::new(&address));
    let mut make = roster_server::app(state);
    let service = tower::Service::call(&mut make, ()).await.expect("service");
    let with_peers =
        axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<SocketAddr>(
            service,
        );
    tokio::spawn(async move {
        axum::serve(listener, with_peers).await.expect("serve");
    });
    TestApp {
        address,
        directory,
        dir,
        database_url,
        http: support::http_client(),
    }
}

/// Asks for an access token with HTTP Basic client authentication: the status, the
/// `Retry-After` header and the body.
async fn token(app: &TestApp, id: &str, secret: &str) -> (u16, Option<String>, Value) {
    let r = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn client_of(app: &TestApp, tenant: &str) -> (String, String) {
    let t = app.tenant(tenant).await;
    let (client, secret) = app
        .directory
        .create_client(&TenantId::new(t.id), "")
        .await
        .expect("client");
    (client.id, secret)
}

#[tokio::test]
async fn wrong_secrets_for_a_client_id_no_longer_lock_out_its_correct_secret() {
    for app in [
        spawn_app_with_peer_addresses(Arc::new(ShiftedClock::default())).await,
        spawn_app_custom(
            |_| {},
            roster_server::webhooks::WebhookConfig::default(),
            Arc::new(ShiftedClock::default()),
            |_| {},
        )
        .await,
    ] {
        let (id, secret) = client_of(&app, "acme").await;
        for _ in 0..12 {
            let (status, _, _) = token(&app, &id, "rcs_wrong").await;
            assert!(status == 401 || status == 429, "{status}");
        }
        let (status, _, body) = token(&app, &id, &secret).await;
        assert_eq!(status, 200, "the correct secret is always accepted: {body}");
        assert!(body["access_token"].as_str().is_some(), "{body}");
    }
}

#[tokio::test]
async fn wrong_secrets_are_limited_per_client_id_until_the_window_passes() {
    // Served without peer addresses: the limit per client id still applies.
    let clock = Arc::new(ShiftedClock::default());
    let app = spawn_app_custom(
        |_| {},
        roster_server::webhooks::WebhookConfig::default(),
        clock.clone(),
        |_| {},
    )
    .await;
    let (id, secret) = client_of(&app, "acme").await;
    for n in 1..=10 {
        let (status, _, body) = token(&app, &id, "rcs_wrong").await;
        assert_eq!(status, 401, "failure {n} is answered 401: {body}");
    }
    let (status, retry, body) = token(&app, &id, "rcs_wrong").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=61).contains(&retry), "{retry}");
    let (status, _, _) = token(&app, &id, &secret).await;
    assert_eq!(status, 200);

    clock.advance(time::Duration::seconds(61));
    let (status, _, body) = token(&app, &id, "rcs_wrong").await;
    assert_eq!(
        status, 401,
        "after the window a wrong secret is 401 again: {body}"
    );
}

#[tokio::test]
async fn wrong_secrets_from_one_address_are_limited_across_client_ids() {
    let clock = Arc::new(ShiftedClock::default());
    let app = spawn_app_with_peer_addresses(clock.clone()).await;
    let (id, secret) = client_of(&app, "acme").await;
    // Ten client ids, one failure each: no client id reaches its limit, the address does.
    for n in 0..10 {
        let (status, _, body) = token(&app, &format!("rci_guess{n}"), "rcs_wrong").await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, retry, body) = token(&app, "rci_another", "rcs_wrong").await;
    assert_eq!(
        status, 429,
        "the 11th failure from one address waits: {body}"
    );
    assert!(retry.is_some(), "429 without Retry-After");
    let (status, _, body) = token(&app, &id, &secret).await;
    assert_eq!(
        status, 200,
        "the correct secret from that address is accepted: {body}"
    );

    clock.advance(time::Duration::seconds(61));
    let (status, _, body) = token(&app, "rci_another", "rcs_wrong").await;
    assert_eq!(
        status, 401,
        "after the window a wrong secret is 401 again: {body}"
    );
}
