//! Test support: a Roster served on a loopback port 0 over a fresh database, and a small SCIM
//! client.
//!
//! The database is a fresh SQLite file, or, when `ROSTER_TEST_BACKEND=postgres`, a fresh
//! database on the PostgreSQL server named by `ROSTER_TEST_POSTGRES_URL` (`scripts/test` runs
//! the suites both ways).

use std::sync::Arc;

pub mod browser;
pub mod fake_oidc;
pub mod faulty;
pub mod jwt;
pub mod oidc_idp;
pub mod process;
pub mod relying_party;
pub mod saml_idp;

use reqwest::{Method, StatusCode};
use roster::startup::{self, Application, StoreOptions, Workers};
use roster_directory::{Clock, Directory, SystemClock, SystemSecrets};
use roster_server::{AppState, Config};
use serde_json::{Value, json};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The directory behind it (to create tenants directly).
    pub directory: Directory,
    /// The SQLite database file's folder (unused on PostgreSQL), kept alive with the app.
    pub dir: tempfile::TempDir,
    /// The database URL.
    pub database_url: String,
    /// The HTTP client.
    pub http: reqwest::Client,
}

/// A tenant with its base URL and token.
#[derive(Debug, Clone)]
pub struct TestTenant {
    /// The tenant id.
    pub id: String,
    /// The tenant's SCIM base URL.
    pub base: String,
    /// Its bearer token.
    pub token: String,
}

/// A response: status, headers and JSON body (Null when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// An HTTP client for the tests, with the build's one TLS crypto provider installed (reqwest is
/// built without a provider of its own; `roster` installs `ring` at start, and so must a test).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        // The server closes a kept-alive connection idle for its header-read timeout (10 s);
        // the client lets go first, so that no request races a closing connection.
        .pool_idle_timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("an HTTP client")
}

/// Which database the tests run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A database of its own on the test PostgreSQL server.
    Postgres,
}

/// The backend chosen by `ROSTER_TEST_BACKEND` (`sqlite`, the default, or `postgres`).
pub fn backend() -> Backend {
    match std::env::var("ROSTER_TEST_BACKEND").as_deref() {
        Ok("postgres") => Backend::Postgres,
        Ok("sqlite") | Err(_) => Backend::Sqlite,
        Ok(other) => panic!("ROSTER_TEST_BACKEND={other}: use sqlite or postgres"),
    }
}

/// The PostgreSQL server the tests use; a test that needs one fails without it.
pub fn postgres_server() -> String {
    std::env::var("ROSTER_TEST_POSTGRES_URL").expect(
        "ROSTER_TEST_POSTGRES_URL names no PostgreSQL server: run scripts/test, which starts one",
    )
}

/// A fresh, empty PostgreSQL database on the test server, with Roster's schema.
pub async fn postgres_database() -> String {
    let server = postgres_server();
    roster_store_postgres::scratch_database(&server)
        .await
        .unwrap_or_else(|e| panic!("creating a database on {server}: {e}"))
}

/// How a test's server differs from the default one: built with [`TestApp::builder`],
/// started with [`TestAppBuilder::start`].
#[must_use]
pub struct TestAppBuilder {
    config: Box<dyn FnOnce(&mut Config)>,
    workers: Workers,
    clock: Arc<dyn Clock>,
    state: Box<dyn FnOnce(&mut AppState)>,
    dns: Option<Arc<dyn roster_directory::domains::TxtLookup>>,
}

impl TestAppBuilder {
    /// Changes the server's limits.
    pub fn config(mut self, f: impl FnOnce(&mut Config) + 'static) -> Self {
        self.config = Box::new(f);
        self
    }

    /// Webhook delivery settings.
    pub fn webhooks(mut self, webhooks: roster_delivery::WebhookConfig) -> Self {
        self.workers.webhooks = webhooks;
        self
    }

    /// The directory's clock (a `ShiftedClock` the test moves).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Where the directory looks TXT records up (a test's own zone).
    pub fn dns(mut self, dns: Arc<dyn roster_directory::domains::TxtLookup>) -> Self {
        self.dns = Some(dns);
        self
    }

    /// A last change to the server's state (a federated-token verifier of the test's own).
    pub fn state(mut self, f: impl FnOnce(&mut AppState) + 'static) -> Self {
        self.state = Box::new(f);
        self
    }

    /// Opens a fresh database and serves it on a loopback port 0, as `roster serve` does
    /// (`roster::startup`).
    pub async fn start(self) -> TestApp {
        // The process's TLS provider, as `roster` installs it at start.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match backend() {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("roster.db").display()),
            Backend::Postgres => postgres_database().await,
        };
        let options = StoreOptions {
            may_create: true,
            max_connections: 8,
        };
        let store = startup::open_store(&database_url, options)
            .await
            .expect("open store");
        // A server key, as `roster serve` always has one: tokens are sealed.
        let key = roster_directory::sealing::ServerKey::generate(&SystemSecrets);
        let mut directory = startup::directory(store, self.clock, Arc::new(SystemSecrets))
            .with_keyring(roster_directory::sealing::Keyring::new(key));
        if let Some(dns) = self.dns {
            directory = directory.with_dns(dns);
        }
        directory.check_keys().await.expect("the server key fits");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = Config::new(&address);
        (self.config)(&mut config);
        let mut state = startup::app_state(directory.clone(), config, true);
        (self.state)(&mut state);
        let app = Application::new(listener, state, self.workers);
        tokio::spawn(async move { app.run(std::future::pending()).await.expect("serve") });
        TestApp {
            address,
            directory,
            dir,
            database_url,
            http: http_client(),
        }
    }
}

/// A second directory on an app's database, as a `roster` command run beside the server
/// would open it.
pub async fn directory_on(database_url: &str) -> Directory {
    let options = StoreOptions {
        may_create: false,
        max_connections: 2,
    };
    let store = startup::open_store(database_url, options)
        .await
        .expect("open store");
    startup::directory(store, Arc::new(SystemClock), Arc::new(SystemSecrets))
}

/// Starts a server with the default limits.
pub async fn spawn_app() -> TestApp {
    TestApp::builder().start().await
}

impl TestApp {
    /// A server to start, the default one unless the builder is told otherwise.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            config: Box::new(|_| {}),
            workers: Workers::default(),
            clock: Arc::new(SystemClock),
            state: Box::new(|_| {}),
            dns: None,
        }
    }

    /// Everything the database holds, as text: the SQLite files' bytes, or a PostgreSQL dump.
    pub fn stored_text(&self) -> String {
        match backend() {
            Backend::Sqlite => {
                let mut text = String::new();
                for entry in std::fs::read_dir(self.dir.path()).expect("reading the database dir") {
                    let bytes = std::fs::read(entry.expect("a directory entry").path())
                        .expect("reading a database file");
                    text.push_str(&String::from_utf8_lossy(&bytes));
                }
                text
            }
            Backend::Postgres => {
                let out = std::process::Command::new("pg_dump")
                    .args(["--data-only", "--dbname", &self.database_url])
                    .output()
                    .expect("running pg_dump");
                assert!(
                    out.status.success(),
                    "pg_dump: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                String::from_utf8_lossy(&out.stdout).into_owned()
            }
        }
    }

    /// Creates a tenant and returns its base URL and token.
    pub async fn tenant(&self, name: &str) -> TestTenant {
        let issued = self.directory.create_tenant(name).await.expect("tenant");
        TestTenant {
            id: issued.tenant.id.to_string(),
            base: format!("{}/scim/v2/{}", self.address, issued.tenant.id),
            token: issued.token,
        }
    }

    /// Sends a request with the tenant's token.
    pub async fn call(
        &self,
        t: &TestTenant,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        self.call_with(t, method, path, body, &[]).await
    }

    /// Sends a request with extra headers.
    pub async fn call_with(
        &self,
        t: &TestTenant,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{}", t.base, path))
            .bearer_auth(&t.token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/scim+json")
                .body(b.to_string());
        }
        reply(req.send().await.expect("request")).await
    }

    pub async fn get(&self, t: &TestTenant, path: &str) -> Reply {
        self.call(t, Method::GET, path, None).await
    }

    pub async fn post(&self, t: &TestTenant, path: &str, body: Value) -> Reply {
        self.call(t, Method::POST, path, Some(body)).await
    }

    pub async fn put(&self, t: &TestTenant, path: &str, body: Value) -> Reply {
        self.call(t, Method::PUT, path, Some(body)).await
    }

    pub async fn patch(&self, t: &TestTenant, path: &str, body: Value) -> Reply {
        self.call(t, Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, t: &TestTenant, path: &str) -> Reply {
        self.call(t, Method::DELETE, path, None).await
    }

    /// Creates a user and returns its id.
    pub async fn create_user(&self, t: &TestTenant, user_name: &str) -> String {
        let r = self.post(t, "/Users", user(user_name)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }

    /// Creates a group with members and returns its id.
    pub async fn create_group(&self, t: &TestTenant, name: &str, members: &[&str]) -> String {
        let r = self.post(t, "/Groups", group(name, members)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body["id"].as_str().expect("id").to_owned()
    }
}

/// Reads a response.
pub async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status();
    let headers = resp.headers().clone();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Reply {
        status,
        headers,
        body,
    }
}

/// A typical user as identity providers send it.
pub fn user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": format!("ext-{user_name}"),
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": user_name, "type": "work", "primary": true}],
        "active": true
    })
}

/// A group with members.
pub fn group(name: &str, members: &[&str]) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": name,
        "members": members.iter().map(|m| json!({"value": m})).collect::<Vec<_>>()
    })
}

/// A PatchOp message.
pub fn patch_op(ops: Value) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops
    })
}

/// Asserts a SCIM error body.
pub fn assert_scim_error(r: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(r.status.as_u16(), status, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{}",
        r.body
    );
    assert_eq!(r.body["status"], status.to_string(), "{}", r.body);
    if let Some(t) = scim_type {
        assert_eq!(r.body["scimType"], t, "{}", r.body);
    }
    assert!(
        r.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{}",
        r.body
    );
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/scim+json"),
        "error content type"
    );
}

/// Asks `ask` again until its answer is `wanted`, for what another process sees only once its
/// one-second caches expire (there is no signal to wait for across processes, and a child
/// process's clock cannot be moved). How long that takes exactly is tested where the clock can
/// be moved (`crates/directory/tests/use_cases`); here a minute only guards against a hang.
pub async fn eventually<T: PartialEq + std::fmt::Debug>(
    what: &str,
    wanted: T,
    ask: impl AsyncFnMut() -> T,
) {
    eventually_explained(what, wanted, ask, async || String::new()).await;
}

/// Waits until every committed event has its position. (On PostgreSQL, `sequence_events`
/// does nothing while the server's own sequencer holds the lock, so it is asked again until
/// no event waits.)
pub async fn events_positioned(app: &TestApp) {
    eventually("every event positioned", 0, async || {
        app.directory.sequence_events().await.expect("sequenced");
        app.directory
            .store()
            .event_backlog()
            .await
            .expect("backlog")
    })
    .await;
}

/// [`eventually`], and when it gives up, what `explain` tells of the state it was in.
pub async fn eventually_explained<T: PartialEq + std::fmt::Debug>(
    what: &str,
    wanted: T,
    mut ask: impl AsyncFnMut() -> T,
    mut explain: impl AsyncFnMut() -> String,
) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let got = ask().await;
        if got == wanted {
            return;
        }
        if std::time::Instant::now() >= deadline {
            panic!("{what}: still {got:?} after a minute{}", explain().await);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
