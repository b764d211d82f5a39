//! A proxy in front of a SCIM target that answers with the faults a test queues (429 with
//! `Retry-After`, 500) before passing requests on, and counts what it passed. It has a token of
//! its own, which the test can revoke (a new one is issued): requests with another answer 401,
//! as a target whose token was revoked does; it passes requests on with the upstream's token.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

#[derive(Clone)]
struct Shared {
    upstream: String,
    upstream_token: String,
    token: Arc<Mutex<String>>,
    faults: Arc<Mutex<VecDeque<u16>>>,
    seen: Arc<Mutex<Vec<(String, u16)>>>,
    http: reqwest::Client,
}

/// The proxy: its base URL, and the faults still to answer.
pub struct Faulty {
    /// `http://127.0.0.1:PORT`, standing for the upstream base URL.
    pub base: String,
    shared: Shared,
}

impl Faulty {
    /// A proxy to `upstream` (a SCIM base URL) and its token.
    pub async fn start(upstream: &str, upstream_token: &str) -> Faulty {
        let shared = Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            upstream_token: upstream_token.to_owned(),
            token: Arc::new(Mutex::new("proxy-token-1".to_owned())),
            faults: Arc::default(),
            seen: Arc::default(),
            http: reqwest::Client::new(),
        };
        let app = Router::new().fallback(forward).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move { axum::serve(listener, app).await.expect("proxy") });
        Faulty { base, shared }
    }

    /// Queues faults: each answers one request, in order, before requests pass again.
    pub fn fail_with(&self, statuses: &[u16]) {
        self.shared
            .faults
            .lock()
            .expect("faults")
            .extend(statuses.iter().copied());
    }

    /// The token the proxy takes now.
    pub fn token(&self) -> String {
        self.shared.token.lock().expect("token").clone()
    }

    /// Revokes the proxy's token and issues a new one, which it returns.
    pub fn rotate_token(&self) -> String {
        let mut token = self.shared.token.lock().expect("token");
        *token = format!("{}x", *token);
        token.clone()
    }

    /// How many faults are still queued.
    pub fn faults_left(&self) -> usize {
        self.shared.faults.lock().expect("faults").len()
    }

    /// The requests seen: `METHOD path` and the status answered.
    pub fn seen(&self) -> Vec<(String, u16)> {
        self.shared.seen.lock().expect("seen").clone()
    }
}

async fn forward(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let line = format!("{method} {}", uri.path());
    let fault = s.faults.lock().expect("faults").pop_front();
    if let Some(status) = fault {
        s.seen.lock().expect("seen").push((line, status));
        let status = StatusCode::from_u16(status).expect("a status");
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
            "status": status.as_u16().to_string(),
            "detail": "a fault the test queued"
        });
        return (status, [("retry-after", "1")], body.to_string()).into_response();
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    if bearer != *s.token.lock().expect("token") {
        s.seen.lock().expect("seen").push((line, 401));
        return (StatusCode::UNAUTHORIZED, "the token was revoked").into_response();
    }
    let url = format!(
        "{}{}{}",
        s.upstream,
        uri.path(),
        uri.query().map(|q| format!("?{q}")).unwrap_or_default()
    );
    let mut request = s
        .http
        .request(method.as_str().parse().expect("method"), url)
        .body(body.to_vec());
    request = request.bearer_auth(&s.upstream_token);
    for name in ["content-type", "accept", "if-match"] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            request = request.header(name, v);
        }
    }
    let answer = request.send().await.expect("upstream");
    let status = answer.status().as_u16();
    s.seen.lock().expect("seen").push((line, status));
    let content_type = answer
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/scim+json")
        .to_owned();
    let bytes = answer.bytes().await.expect("upstream body");
    (
        StatusCode::from_u16(status).expect("status"),
        [("content-type", content_type)],
        bytes,
    )
        .into_response()
}
