//! Test support: a Roster served on a loopback port 0 over a fresh SQLite file, and a small
//! SCIM client.

#![allow(dead_code)]

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use roster_directory::{Directory, SystemClock, SystemSecrets};
use roster_scim::Registry;
use roster_server::{AppState, Config};
use roster_store_sqlite::SqliteStore;
use serde_json::{Value, json};

/// A running server and what a test needs to talk to it.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`
    pub address: String,
    /// The directory behind it (to create tenants directly).
    pub directory: Directory,
    /// The database file's folder, kept alive with the app.
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

/// Starts a server with the given limits tweak.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let store = SqliteStore::open(&database_url).await.expect("open store");
    let directory = Directory::new(
        Arc::new(store),
        Arc::new(Registry::core()),
        Arc::new(SystemClock),
        Arc::new(SystemSecrets),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("addr"));
    let mut config = Config::new(&address);
    tweak(&mut config);
    let app = roster_server::app(AppState {
        directory: directory.clone(),
        config: Arc::new(config),
    });
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    TestApp {
        address,
        directory,
        dir,
        database_url,
        http: reqwest::Client::new(),
    }
}

/// Starts a server with the default limits.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
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
