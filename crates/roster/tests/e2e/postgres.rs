//! Roster on PostgreSQL as operators run it: two `roster serve` processes on one database with
//! requests alternating between them, and a database that goes away and comes back.
//!
//! The shared server comes from `ROSTER_TEST_POSTGRES_URL` (started by `scripts/test`); the
//! outage test starts and stops a PostgreSQL server of its own with `scripts/pg`. Without
//! PostgreSQL these tests fail, saying why.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::process::{Server, cli_json};
use crate::support::{eventually, postgres_database};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A tenant as the CLI printed it.
struct CliTenant {
    id: String,
    token: String,
}

fn create_tenant(db: &str, name: &str) -> CliTenant {
    let t = cli_json(db, &["tenant", "create", name, "--json"]);
    CliTenant {
        id: t["id"].as_str().expect("id").to_owned(),
        token: t["token"].as_str().expect("token").to_owned(),
    }
}

fn client() -> reqwest::Client {
    crate::support::http_client()
}

/// Sends a SCIM request to one server (its address, the tenant id, the token); returns status, ETag and JSON body (Null when empty).
async fn call(
    http: &reqwest::Client,
    (server, tenant, token): (&str, &str, &str),
    method: Method,
    path: &str,
    body: Option<Value>,
    if_match: Option<&str>,
) -> (StatusCode, Option<String>, Value) {
    let url = format!("{server}/scim/v2/{tenant}{path}");
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(body) = body {
        req = req
            .header("content-type", "application/scim+json")
            .body(body.to_string());
    }
    if let Some(v) = if_match {
        req = req.header("if-match", v);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let etag = res
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = res.bytes().await.expect("body");
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).expect("JSON body")
    };
    (status, etag, body)
}

fn user(name: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": true})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::test]
async fn two_processes_on_one_database_keep_every_guarantee() {
    let db = postgres_database().await;
    // Two processes meeting an empty database at once: one migrates it, the other waits for
    // the migration and finds it done.
    let starts: Vec<_> = (0..2)
        .map(|_| {
            crate::support::process::roster(&db)
                .args(["tenant", "list", "--json"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("spawn roster")
        })
        .collect();
    for child in starts {
        let out = child.wait_with_output().expect("roster ran");
        assert!(
            out.status.success(),
            "a process starting beside another on an empty database: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let acme = create_tenant(&db, "Acme");
    let a = Server::start(&db);
    let b = Server::start(&db);
    let servers = [a.address.clone(), b.address.clone()];
    let http = client();
    let (t, k) = (acme.id.as_str(), acme.token.as_str());

    // Eight concurrent creates of one userName, alternating between the processes (and
    // differing in case): exactly one 201, seven 409 uniqueness.
    let creates = (0..8).map(|i| {
        let http = http.clone();
        let server = servers[i % 2].clone();
        let (t, k) = (t.to_owned(), k.to_owned());
        let name = if i % 2 == 0 {
            "Race@Example.com"
        } else {
            "race@example.com"
        };
        async move {
            call(
                &http,
                (&server, &t, &k),
                Method::POST,
                "/Users",
                Some(user(name)),
                None,
            )
            .await
        }
    });
    let results = futures_join_all(creates).await;
    let created: Vec<_> = results
        .iter()
        .filter(|r| r.0 == StatusCode::CREATED)
        .collect();
    let conflicts: Vec<_> = results
        .iter()
        .filter(|r| r.0 == StatusCode::CONFLICT && r.2["scimType"] == "uniqueness")
        .collect();
    assert_eq!(
        (created.len(), conflicts.len()),
        (1, 7),
        "one 201 and seven 409 across two processes: {:?}",
        results.iter().map(|r| r.0).collect::<Vec<_>>()
    );
    let user_id = created[0].2["id"].as_str().expect("id").to_owned();

    // If-Match with a version the other process just replaced is 412.
    let (status, etag, _) = call(
        &http,
        (&a.address, t, k),
        Method::GET,
        &format!("/Users/{user_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let v1 = etag.expect("ETag");
    let (status, etag, body) = call(
        &http,
        (&b.address, t, k),
        Method::PATCH,
        &format!("/Users/{user_id}"),
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "Changed by B"}]),
        )),
        Some(&v1),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_ne!(etag.as_deref(), Some(v1.as_str()));
    let (status, _, body) = call(
        &http,
        (&a.address, t, k),
        Method::PATCH,
        &format!("/Users/{user_id}"),
        Some(patch(
            json!([{"op": "replace", "path": "displayName", "value": "Stale write by A"}]),
        )),
        Some(&v1),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED, "{body}");
    let (_, _, body) = call(
        &http,
        (&a.address, t, k),
        Method::GET,
        &format!("/Users/{user_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(body["displayName"], "Changed by B");

    // A member added through one process is seen by the other at once.
    let (status, _, group) = call(&http, (&a.address, t, k),
        Method::POST,
        "/Groups",
        Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"})),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id = group["id"].as_str().expect("id").to_owned();
    let (status, _, body) = call(
        &http,
        (&b.address, t, k),
        Method::PATCH,
        &format!("/Groups/{group_id}"),
        Some(patch(
            json!([{"op": "add", "path": "members", "value": [{"value": user_id}]}]),
        )),
        None,
    )
    .await;
    assert!(status.is_success(), "{status} {body}");
    let (_, _, seen) = call(
        &http,
        (&a.address, t, k),
        Method::GET,
        &format!("/Groups/{group_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(seen["members"][0]["value"], user_id.as_str(), "{seen}");
    let (_, _, member) = call(
        &http,
        (&a.address, t, k),
        Method::GET,
        &format!("/Users/{user_id}"),
        None,
        None,
    )
    .await;
    assert_eq!(member["groups"][0]["value"], group_id.as_str(), "{member}");

    // A tenant created by the CLI works on both processes at once.
    let beta = create_tenant(&db, "Beta");
    for server in &servers {
        let (status, _, body) = call(
            &http,
            (server, &beta.id, &beta.token),
            Method::GET,
            "/Users",
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["totalResults"], 0, "tenants are isolated: {body}");
    }

    // A revoked token stops working on both within a second.
    let rotated = cli_json(&db, &["tenant", "token", t, "--json"]);
    let new_token = rotated["token"].as_str().expect("token").to_owned();
    for server in &servers {
        let (status, _, _) = call(
            &http,
            (server, t, &new_token),
            Method::GET,
            "/Users",
            None,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "the new token works at once");
    }
    for server in &servers {
        eventually(
            &format!("the revoked token on {server}"),
            StatusCode::UNAUTHORIZED,
            async || {
                call(&http, (server, t, k), Method::GET, "/Users", None, None)
                    .await
                    .0
            },
        )
        .await;
    }

    // An access token issued by one process works on the other; revoking its client (from the
    // CLI, a third process) ends it on both within a second.
    let client = cli_json(&db, &["tenant", "client", "create", t, "--json"]);
    let issued: Value = http
        .post(format!("{}/oauth/token", servers[0]))
        .basic_auth(
            client["client_id"].as_str().expect("client id"),
            client["client_secret"].as_str(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token response");
    let access = issued["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    for server in &servers {
        let (status, _, body) = call(
            &http,
            (server, t, &access),
            Method::GET,
            "/Users",
            None,
            None,
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the access token works on {server}: {body}"
        );
    }
    let out = crate::support::process::roster(&db)
        .args([
            "tenant",
            "client",
            "revoke",
            t,
            client["client_id"].as_str().expect("id"),
        ])
        .output()
        .expect("roster ran");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for server in &servers {
        eventually(
            &format!("the revoked client's token on {server}"),
            StatusCode::UNAUTHORIZED,
            async || {
                let who = (server.as_str(), t, access.as_str());
                call(&http, who, Method::GET, "/Users", None, None).await.0
            },
        )
        .await;
    }
}

/// Runs futures concurrently and collects their outputs in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// A PostgreSQL server of this test's own, started with `scripts/pg` and deleted afterwards.
struct OwnServer {
    dir: tempfile::TempDir,
    port: u16,
}

fn pg_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg")
}

fn pg(args: &[&str]) {
    let out = Command::new(pg_script())
        .args(args)
        .output()
        .expect("running scripts/pg");
    assert!(
        out.status.success(),
        "scripts/pg {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl OwnServer {
    fn start() -> OwnServer {
        let dir = tempfile::Builder::new()
            .prefix("roster-outage-pg")
            .tempdir()
            .expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let server = OwnServer { dir, port };
        server.up();
        server
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().expect("UTF-8 path")
    }

    fn up(&self) {
        pg(&["start", self.path(), &self.port.to_string(), "fast"]);
    }

    fn down(&self) {
        pg(&["stop", self.path()]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = Command::new(pg_script())
            .args(["stop", self.path()])
            .output();
    }
}

#[tokio::test]
async fn a_database_outage_answers_503_and_service_resumes_by_itself() {
    let pg_server = OwnServer::start();
    let db = roster_store_postgres::scratch_database(&pg_server.url())
        .await
        .expect("a database on the test's own server");
    let acme = create_tenant(&db, "Acme");
    let server = Server::start(&db);
    let http = client();
    let (t, k) = (acme.id.as_str(), acme.token.as_str());
    let (status, _, body) = call(
        &http,
        (&server.address, t, k),
        Method::POST,
        "/Users",
        Some(user("before@example.com")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    pg_server.down();
    // Once the one second a token lookup is trusted has passed, authentication needs the
    // database.
    eventually(
        "a request while the database is down",
        StatusCode::SERVICE_UNAVAILABLE,
        async || {
            let who = (server.address.as_str(), t, k);
            call(&http, who, Method::GET, "/Users", None, None).await.0
        },
    )
    .await;
    for (method, path, body) in [
        (Method::GET, "/Users", None),
        (Method::POST, "/Users", Some(user("during@example.com"))),
    ] {
        let asked = Instant::now();
        let (status, _, body) =
            call(&http, (&server.address, t, k), method, path, body, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["status"], "503", "a SCIM error body: {body}");
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
            "{body}"
        );
        assert!(
            asked.elapsed() < Duration::from_secs(10),
            "answered in {:?}",
            asked.elapsed()
        );
    }
    let ready = http
        .get(format!("{}/readyz", server.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    let health = http
        .get(format!("{}/healthz", server.address))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK, "the process itself is up");

    pg_server.up();
    let back = Instant::now();
    loop {
        let (status, _, body) = call(
            &http,
            (&server.address, t, k),
            Method::GET,
            "/Users",
            None,
            None,
        )
        .await;
        if status == StatusCode::OK {
            assert_eq!(
                body["totalResults"], 1,
                "nothing lost, nothing half-written: {body}"
            );
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "still {status} 30 s after the database returned: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _, body) = call(
        &http,
        (&server.address, t, k),
        Method::POST,
        "/Users",
        Some(user("after@example.com")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let ready = http
        .get(format!("{}/readyz", server.address))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
}

#[tokio::test]
async fn metrics_can_be_served_on_a_listener_of_their_own() {
    let db = postgres_database().await;
    create_tenant(&db, "Acme");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let server = Server::start_with(
        &db,
        &[("ROSTER_METRICS_LISTEN", &format!("127.0.0.1:{port}"))],
    );
    let http = client();
    let main = http
        .get(format!("{}/metrics", server.address))
        .send()
        .await
        .expect("main port");
    assert_eq!(
        main.status(),
        StatusCode::NOT_FOUND,
        "metrics leave the main port"
    );
    let mut text = String::new();
    for _ in 0..50 {
        match http
            .get(format!("http://127.0.0.1:{port}/metrics"))
            .send()
            .await
        {
            Ok(r) => {
                text = r.text().await.expect("text");
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(text.contains("roster_db_pool_max_connections"), "{text}");
}

#[tokio::test]
async fn metrics_count_requests_by_route_without_tenant_ids() {
    let db = postgres_database().await;
    let acme = create_tenant(&db, "Acme");
    let server = Server::start(&db);
    let http = client();
    let (status, _, _) = call(
        &http,
        (&server.address, &acme.id, &acme.token),
        Method::POST,
        "/Users",
        Some(user("counted@example.com")),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let text = http
        .get(format!("{}/metrics", server.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(
            r#"roster_http_requests_total{method="POST",route="/scim/v2/{tenant}/Users",status="201"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains("roster_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains("roster_db_pool_connections{state=\"in_use\"}"),
        "{text}"
    );
    assert!(text.contains("roster_db_pool_waiting"), "{text}");
    assert!(
        !text.contains(&acme.id),
        "a tenant id in the metrics: {text}"
    );
}

/// A receiver that records every body it is sent.
async fn recording_receiver() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let state = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let state = state.clone();
            async move {
                if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                    state.lock().unwrap().push(v);
                }
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, seen)
}

#[tokio::test]
async fn two_processes_deliver_each_webhook_event_once_and_in_order() {
    let db = postgres_database().await;
    let acme = create_tenant(&db, "Acme");
    let (url, seen) = recording_receiver().await;
    let hook = cli_json(&db, &["webhook", "add", &url, "--json"]);
    let hook = hook["id"].as_str().unwrap();
    let a = Server::start(&db);
    let b = Server::start(&db);
    let http = client();
    let names: Vec<String> = (0..200).map(|i| format!("w{i}@example.com")).collect();
    for (i, name) in names.iter().enumerate() {
        let server = if i % 2 == 0 { &a.address } else { &b.address };
        let (status, _, body) = call(
            &http,
            (server, &acme.id, &acme.token),
            Method::POST,
            "/Users",
            Some(user(name)),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let started = Instant::now();
    while seen.lock().unwrap().len() < names.len() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {} events arrived",
            seen.lock().unwrap().len(),
            names.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Each process records its attempts when it releases the stream: wait for all 200 to be
    // recorded (both processes done with it) rather than for a fixed time. A second delivery
    // of any event would show as one attempt or arrival too many.
    let directory = crate::support::directory_on(&db).await;
    let attempts = loop {
        let attempts = directory.delivery_attempts(hook, 1000).await.unwrap();
        if attempts.len() >= names.len() {
            break attempts;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{} of {} attempts recorded",
            attempts.len(),
            names.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(attempts.len(), names.len(), "one attempt per event");
    assert!(
        attempts.iter().all(|a| a.status == Some(204)),
        "{attempts:?}"
    );
    let got: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|e| {
            e["data"]["resource"]["userName"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        got, names,
        "each event delivered once, in order, whichever process recorded it"
    );
}

/// Processes on one PostgreSQL database must share a server key: `roster serve` without one
/// refuses to start and says how to make it; with it, it starts.
#[tokio::test]
async fn serve_on_postgres_without_a_server_key_says_how_to_make_one() {
    let db = postgres_database().await;
    let out = crate::support::process::roster(&db)
        .env_remove("ROSTER_SECRET_KEY")
        .env("ROSTER_LOG", "off")
        .arg("serve")
        .output()
        .expect("run roster");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("roster key generate") && err.contains("ROSTER_SECRET_KEY"),
        "{err}"
    );
}
