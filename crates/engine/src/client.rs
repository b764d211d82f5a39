//! A SCIM 2.0 client for one target: bearer token or OAuth 2.0 client credentials (the token
//! fetched and kept until a minute before it expires), a rate limit, a timeout, retries of
//! 429 (after its `Retry-After`) and 5xx with backoff, bounded answers, no redirects, and the
//! outbound address policy. Each failure is a [`ClientError`] that says what an administrator
//! does about it.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use roster_directory::targets::{Auth, Capabilities};
use serde_json::{Value as Json, json};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The most bytes read from a target's answer.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// How many times a request is tried when the target answers 429 or 5xx.
const TRIES: u32 = 4;
/// The longest wait a `Retry-After` is obeyed for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Why a request to the target failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// No connection (refused, DNS, timeout).
    #[error("the target cannot be reached: {0}")]
    Unreachable(String),
    /// The TLS handshake failed (certificate, protocol).
    #[error("the target's TLS does not verify: {0}")]
    Tls(String),
    /// 401: the token (or client secret) is wrong, expired or revoked.
    #[error("the target refused the credentials (401): {0}")]
    Unauthorized(String),
    /// 403: the credentials lack a permission.
    #[error("the target forbids this (403): {0}")]
    Forbidden(String),
    /// The answer is not SCIM (not JSON, or HTML, or an unexpected shape).
    #[error("the target's answer is not SCIM: {0}")]
    NotScim(String),
    /// Any other refusal, with its status, `scimType` and detail.
    #[error("the target answered {status}{}: {detail}", scim_type.as_deref().map(|t| format!(" ({t})")).unwrap_or_default())]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The SCIM error type.
        scim_type: Option<String>,
        /// The detail.
        detail: String,
    },
    /// The OAuth token endpoint refused.
    #[error("the token endpoint refused: {0}")]
    Token(String),
}

impl ClientError {
    /// Whether it is the credentials (quarantine until a test connection succeeds).
    pub fn is_credentials(&self) -> bool {
        matches!(
            self,
            ClientError::Unauthorized(_) | ClientError::Forbidden(_) | ClientError::Token(_)
        )
    }
}

/// One target's client.
pub struct ScimClient {
    http: reqwest::Client,
    base: String,
    auth: Auth,
    secret: String,
    /// The OAuth access token and when it stops being used.
    token: Mutex<Option<(String, Instant)>>,
    /// When the next request may leave.
    next_slot: Mutex<Instant>,
    interval: Duration,
    /// Each exchange in words, when traced (provision on demand shows them).
    trace: Option<std::sync::Mutex<Vec<String>>>,
}

/// A body as a trace shows it: at most 2 KB.
fn shown(text: &str) -> String {
    const MAX: usize = 2048;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… (cut at 2 KB)", &text[..end])
}

/// A request body with its password (or a PATCH operation's) replaced.
fn hide_password(body: &Json) -> Json {
    let mut shown = body.clone();
    if let Some(o) = shown.as_object_mut()
        && o.contains_key("password")
    {
        o.insert("password".into(), json!("(hidden)"));
    }
    if let Some(ops) = shown.get_mut("Operations").and_then(Json::as_array_mut) {
        for op in ops {
            if op.get("path").and_then(Json::as_str) == Some("password") {
                op["value"] = json!("(hidden)");
            }
        }
    }
    shown
}

/// What an answer carried.
pub struct Answer {
    /// The status.
    pub status: StatusCode,
    /// The JSON body (null when there is none).
    pub body: Json,
}

fn detail(body: &Json, text: &str) -> (Option<String>, String) {
    let scim_type = body
        .get("scimType")
        .and_then(Json::as_str)
        .map(str::to_owned);
    let detail = body
        .get("detail")
        .and_then(Json::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| text.chars().take(300).collect());
    (scim_type, detail)
}

impl ScimClient {
    /// A client for the target at `base` (its SCIM base URL).
    pub fn new(
        base: &str,
        auth: Auth,
        secret: String,
        rate_limit: u32,
        timeout: Duration,
        allow_link_local: bool,
    ) -> Result<ScimClient, ClientError> {
        let http = roster_delivery::outbound::client_builder(allow_link_local)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ClientError::Unreachable(e.to_string()))?;
        Ok(ScimClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            auth,
            secret,
            token: Mutex::new(None),
            next_slot: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / rate_limit.max(1),
            trace: None,
        })
    }

    /// The same client, recording each request and its answer (bodies with passwords hidden,
    /// each cut at 2 KB) for [`ScimClient::exchanges`].
    #[must_use]
    pub fn traced(mut self) -> ScimClient {
        self.trace = Some(std::sync::Mutex::default());
        self
    }

    /// The exchanges recorded so far (none unless [`ScimClient::traced`]).
    pub fn exchanges(&self) -> Vec<String> {
        self.trace
            .as_ref()
            .map(|t| t.lock().unwrap_or_else(|e| e.into_inner()).clone())
            .unwrap_or_default()
    }

    fn record(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Json>,
        status: StatusCode,
        answer: &str,
    ) {
        let Some(trace) = &self.trace else {
            return;
        };
        let request = body
            .map(|b| shown(&hide_password(b).to_string()))
            .unwrap_or_default();
        // The query as a person reads it: `?filter=userName eq "ada@contoso.com"`.
        let path = match path.split_once('?') {
            Some((p, q)) => format!(
                "{p}?{}",
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("&")
            ),
            None => path.to_owned(),
        };
        let line = format!(
            "request: {method} {path} {request}\nresponse: {} {}",
            status.as_u16(),
            shown(answer)
        );
        trace.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    /// Waits for the rate limit's next slot.
    async fn pace(&self) {
        let wait = {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let at = (*next).max(now);
            *next = at + self.interval;
            at - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    async fn bearer(&self) -> Result<String, ClientError> {
        let Auth::ClientCredentials {
            token_url,
            client_id,
            scope,
        } = &self.auth
        else {
            return Ok(self.secret.clone());
        };
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let mut form = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", self.secret.as_str()),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope.as_str()));
        }
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let response = self
            .http
            .post(token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded)
            .send()
            .await
            .map_err(|e| ClientError::Token(e.to_string()))?;
        let status = response.status();
        let (body, text) = read(response).await?;
        if !status.is_success() {
            let said = body
                .get("error_description")
                .or_else(|| body.get("error"))
                .and_then(Json::as_str)
                .map_or_else(|| text.chars().take(200).collect(), str::to_owned);
            return Err(ClientError::Token(format!("{status}: {said}")));
        }
        let token = body
            .get("access_token")
            .and_then(Json::as_str)
            .ok_or_else(|| ClientError::Token("the answer has no access_token".into()))?
            .to_owned();
        let lifetime = body
            .get("expires_in")
            .and_then(Json::as_u64)
            .unwrap_or(3600);
        let until = Instant::now() + Duration::from_secs(lifetime.saturating_sub(60).max(1));
        *cached = Some((token.clone(), until));
        Ok(token)
    }

    /// Sends a request to `path` (below the base URL), retrying 429 and 5xx.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Json>,
    ) -> Result<Answer, ClientError> {
        let url = format!("{}{path}", self.base);
        if let Some(refused) = roster_delivery::outbound::refusal(&url) {
            return Err(ClientError::Unreachable(refused.to_string()));
        }
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=TRIES {
            self.pace().await;
            let token = self.bearer().await?;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(token)
                .header("accept", "application/scim+json");
            if let Some(body) = body {
                request = request
                    .header("content-type", "application/scim+json")
                    .body(body.to_string());
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) => {
                    let text = format!("{e:?}");
                    if text.contains("certificate") || text.contains("Tls") || text.contains("tls")
                    {
                        return Err(ClientError::Tls(e.to_string()));
                    }
                    if attempt < TRIES && (e.is_timeout() || e.is_connect()) {
                        tokio::time::sleep(backoff).await;
                        backoff *= 2;
                        continue;
                    }
                    return Err(ClientError::Unreachable(e.to_string()));
                }
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let (json, text) = read(response).await?;
            self.record(&method, path, body, status, &text);
            if (status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error())
                && attempt < TRIES
            {
                let wait = retry_after.unwrap_or(backoff).min(MAX_RETRY_AFTER);
                tokio::time::sleep(wait).await;
                backoff *= 2;
                continue;
            }
            if status == StatusCode::UNAUTHORIZED {
                *self.token.lock().await = None;
                return Err(ClientError::Unauthorized(detail(&json, &text).1));
            }
            if status == StatusCode::FORBIDDEN {
                return Err(ClientError::Forbidden(detail(&json, &text).1));
            }
            if !status.is_success() {
                let (scim_type, detail) = detail(&json, &text);
                return Err(ClientError::Refused {
                    status: status.as_u16(),
                    scim_type,
                    detail,
                });
            }
            return Ok(Answer { status, body: json });
        }
        Err(ClientError::Unreachable("no answer after retries".into()))
    }

    /// The object of `endpoint` (`/Users`, `/Groups`) whose `attribute` equals `value`: its id
    /// and body; `None` when none does; an error when several do.
    pub async fn find(
        &self,
        endpoint: &str,
        attribute: &str,
        value: &str,
    ) -> Result<Option<(String, Json)>, ClientError> {
        let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
        let filter = format!("{attribute} eq \"{escaped}\"");
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &filter)
            .finish();
        let answer = self
            .send(Method::GET, &format!("{endpoint}?{query}"), None)
            .await?;
        let resources = answer
            .body
            .get("Resources")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let total = answer
            .body
            .get("totalResults")
            .and_then(Json::as_u64)
            .ok_or_else(|| ClientError::NotScim("a list without totalResults".into()))?;
        match (total, resources.as_slice()) {
            (0, _) => Ok(None),
            (1, [one]) => {
                let id = one
                    .get("id")
                    .and_then(Json::as_str)
                    .ok_or_else(|| ClientError::NotScim("a resource without id".into()))?;
                Ok(Some((id.to_owned(), one.clone())))
            }
            (n, _) => Err(ClientError::Refused {
                status: 409,
                scim_type: Some("uniqueness".into()),
                detail: format!("{n} objects have {attribute} \"{value}\": Roster matches one"),
            }),
        }
    }

    /// Creates an object; its id in the target, and the object as the target answered it.
    pub async fn create(&self, endpoint: &str, body: &Json) -> Result<(String, Json), ClientError> {
        let answer = self.send(Method::POST, endpoint, Some(body)).await?;
        let id = answer
            .body
            .get("id")
            .and_then(Json::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::NotScim("the created object has no id".into()))?;
        Ok((id, answer.body))
    }

    /// Changes an object with PATCH operations; the answer's body (`null` for a 204).
    pub async fn patch(
        &self,
        endpoint: &str,
        id: &str,
        operations: Vec<Json>,
    ) -> Result<Json, ClientError> {
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        });
        self.send(Method::PATCH, &format!("{endpoint}/{id}"), Some(&body))
            .await
            .map(|answer| answer.body)
    }

    /// Replaces an object (targets without PATCH).
    pub async fn put(&self, endpoint: &str, id: &str, body: &Json) -> Result<(), ClientError> {
        self.send(Method::PUT, &format!("{endpoint}/{id}"), Some(body))
            .await
            .map(drop)
    }

    /// Deletes an object; one already gone is no error.
    pub async fn delete(&self, endpoint: &str, id: &str) -> Result<(), ClientError> {
        match self
            .send(Method::DELETE, &format!("{endpoint}/{id}"), None)
            .await
        {
            Ok(_) | Err(ClientError::Refused { status: 404, .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Entra's test connection: a `userName eq` lookup of a random value answers with no
    /// object, then `/ServiceProviderConfig` says what the target supports.
    pub async fn test(&self, random: &str) -> Result<Capabilities, ClientError> {
        if self.find("/Users", "userName", random).await?.is_some() {
            return Err(ClientError::NotScim(format!(
                "a lookup of the random userName {random} found a user: the target does not filter"
            )));
        }
        let config = self
            .send(Method::GET, "/ServiceProviderConfig", None)
            .await?
            .body;
        let supported = |name: &str| {
            config
                .get(name)
                .and_then(|v| v.get("supported"))
                .and_then(Json::as_bool)
                .unwrap_or(false)
        };
        if config.get("schemas").is_none() {
            return Err(ClientError::NotScim(
                "/ServiceProviderConfig has no schemas".into(),
            ));
        }
        Ok(Capabilities {
            patch: supported("patch"),
            filter: supported("filter"),
            bulk: supported("bulk"),
            etag: supported("etag"),
        })
    }
}

/// A bounded answer: its JSON (null when empty or not JSON) and its text.
async fn read(mut response: reqwest::Response) -> Result<(Json, String), ClientError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::Unreachable(e.to_string()))?
    {
        if bytes.len() + chunk.len() > MAX_BODY {
            return Err(ClientError::NotScim(format!(
                "the answer is larger than {MAX_BODY} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let json = if bytes.is_empty() {
        Json::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Json::Null)
    };
    Ok((json, text))
}
