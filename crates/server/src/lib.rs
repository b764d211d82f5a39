//! The HTTP edge: axum routes for each tenant's SCIM 2.0 endpoints, the extractors that turn
//! requests into typed values (the authenticated tenant, SCIM JSON bodies), and the mapping of
//! every error to a SCIM error body.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use roster_directory::{Directory, TenantContext};
use roster_store::{Kind, TenantId};
use serde_json::Value;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

mod bulk;
mod discovery;
mod error;
pub mod federation;
mod host;
mod metrics;
mod oauth;
pub mod provlog;
mod scim;
mod serve;

/// The outbound address policy at request time; it lives with webhook delivery, its first
/// user, and the federator here uses it too.
pub use roster_delivery::outbound;

/// Webhook delivery moved to `roster_delivery`; these names stay for callers that still use
/// the old path.
pub mod webhooks {
    pub use roster_delivery::{WebhookConfig, spawn_webhook_worker};
}

pub use error::ApiError;
pub use metrics::Metrics;
pub use serve::{AppService, RESERVED_DESCRIPTORS, ServeLimits, connection_cap, serve};

/// The media type of every SCIM response.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// Limits and addresses the server needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The externally visible base URL, without a trailing slash (`https://roster.example.com`).
    pub public_url: String,
    /// The largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Where a sign-in by e-mail whose domain no tenant has goes (the host application's own
    /// login page); `None` shows a page that says so.
    pub sso_fallback_url: Option<String>,
    /// The shared Microsoft 365 connection (one multi-tenant Entra application).
    pub ms365: Option<roster_signin::Ms365>,
    /// The largest page a list returns.
    pub max_page_size: u64,
    /// The most bytes of resources one page holds: a page is cut there (at least one
    /// resource), and `itemsPerPage` says how many it holds.
    pub max_page_bytes: usize,
    /// The most operations one Bulk request may hold.
    pub bulk_max_operations: usize,
    /// Whether `/metrics` is served on the main listener (else on a listener of its own, see
    /// [`metrics_app`]).
    pub metrics_on_main: bool,
    /// The longest a request may take, from its head to its response's head (reading its
    /// body included); past it the client gets 503.
    pub request_timeout: Duration,
    /// The listener's connection cap and timeouts.
    pub serve: ServeLimits,
}

impl Config {
    /// Defaults for a public URL: 1 MiB bodies, pages of up to 1,000 resources and 4 MiB,
    /// Bulk of up to 1,000, 60 s per request, and the listener's defaults.
    pub fn new(public_url: &str) -> Self {
        Config {
            public_url: public_url.trim_end_matches('/').to_owned(),
            max_body_bytes: 1024 * 1024,
            sso_fallback_url: None,
            ms365: None,
            max_page_size: 1000,
            max_page_bytes: 4 * 1024 * 1024,
            bulk_max_operations: 1000,
            metrics_on_main: true,
            request_timeout: Duration::from_secs(60),
            serve: ServeLimits::default(),
        }
    }

    /// The OAuth 2.0 token endpoint (client credentials grant).
    pub fn token_endpoint(&self) -> String {
        format!("{}/oauth/token", self.public_url)
    }

    /// The SCIM base URL of a tenant: its Provisioning URL.
    pub fn tenant_base(&self, tenant: &TenantId) -> String {
        format!("{}/scim/v2/{}", self.public_url, tenant)
    }
}

/// What every handler shares, behind one `Arc`: the router clones it for every request (and
/// each middleware's `State` again), and a clone of the fields one by one, a dozen reference
/// counts, cost about 5 % of a SCIM read's CPU. Fields are read through `Deref`; setting one
/// while the server is built (`DerefMut`) copies them only if the state is already shared.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

/// What [`AppState`] holds.
#[derive(Clone)]
pub struct Shared {
    /// The use cases.
    pub directory: Directory,
    /// The limits.
    pub config: Arc<Config>,
    /// Request and pool metrics.
    pub metrics: Arc<Metrics>,
    /// Verifies federated tokens, with a cache of issuers' keys.
    pub federator: Arc<federation::Federator>,
    /// Failed client authentications at the token endpoint.
    pub oauth_failures: Arc<oauth::FailureLimiter>,
    /// The pages (the console and tenants' Provisioning & SSO pages, `crates/console`),
    /// served under `/console` and `/portal` when given.
    pub pages: Option<Router>,
    /// The provisioning log's queue, when the log is on.
    pub recorder: Option<provlog::recorder::Recorder>,
    /// Sign-in (`crates/signin`): the sign-on URLs, SAML, and the OpenID provider for the host
    /// application, when given.
    pub signin: Option<roster_signin::SignIn>,
}

impl AppState {
    /// The state of a server over a directory, with fresh metrics.
    pub fn new(directory: Directory, config: Config) -> Self {
        AppState(Arc::new(Shared {
            directory,
            config: Arc::new(config),
            metrics: Arc::new(Metrics::new()),
            federator: Arc::new(federation::Federator::new()),
            oauth_failures: Arc::default(),
            pages: None,
            recorder: None,
            signin: None,
        }))
    }

    /// Turns the provisioning log on: starts its writer over the directory.
    pub fn with_provisioning_log(mut self) -> Self {
        let (written, dropped) = self.metrics.provisioning_log_counters();
        self.recorder = Some(provlog::recorder::Recorder::start(
            self.directory.clone(),
            written,
            dropped,
        ));
        self
    }
}

/// The change log's upkeep, for `roster serve`: gives positions to newly committed events as
/// soon as this process records one and every 20 ms for other processes' (a no-op on SQLite),
/// and deletes events older than `retention` every hour. Failures (the database away) are
/// logged and retried on the next round. The provisioning log's entries older than
/// `log_retention` go in the same hourly round.
pub fn spawn_change_log_tasks(
    directory: Directory,
    retention: time::Duration,
    log_retention: time::Duration,
) {
    let sequencer = directory.clone();
    tokio::spawn(async move {
        let recorded = sequencer.recorded();
        let mut failing = false;
        loop {
            // At once after a change of this process; every 20 ms for other processes'.
            tokio::select! {
                () = recorded.notified() => {}
                () = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
            match sequencer.sequence_events().await {
                Ok(_) => failing = false,
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "positioning events failed; retrying");
                }
                Err(_) => {}
            }
        }
    });
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match directory.purge_events(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "events past their retention deleted"),
                Err(e) => tracing::warn!(error = %e, "purging old events failed; retrying"),
            }
            match directory.purge_access_tokens().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired access tokens deleted"),
                Err(e) => tracing::warn!(error = %e, "purging access tokens failed; retrying"),
            }
            if let Err(e) = directory.purge_sessions().await {
                tracing::warn!(error = %e, "purging ended console sessions failed; retrying");
            }
            // Decided approvals are kept as long as the events of the changes they sent.
            match directory.purge_approvals(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "sent and superseded approvals deleted"),
                Err(e) => tracing::warn!(error = %e, "purging old approvals failed; retrying"),
            }
            if let Err(e) = directory.purge_portal_links().await {
                tracing::warn!(error = %e, "purging expired setup links failed; retrying");
            }
            if let Err(e) = directory.purge_used_assertions().await {
                tracing::warn!(error = %e, "purging used client assertions failed; retrying");
            }
            match directory.purge_log(log_retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    purged = n,
                    "provisioning log entries past their retention deleted"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "purging the provisioning log failed; retrying")
                }
            }
        }
    });
}

/// `/metrics` alone, for a listener of its own (`ROSTER_METRICS_LISTEN`).
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::metrics))
        .with_state(state)
}

/// The application: every route, with request ids, tracing, the body limit, the request
/// timeout, the headers every response carries, and lenient endpoint spelling.
pub fn app(state: AppState) -> App {
    let limit = state.config.max_body_bytes;
    let request_timeout = state.config.request_timeout;
    let scim = Router::new()
        .route("/Users", get(scim::list_users).post(scim::create_user))
        .route("/Users/.search", post(scim::search_users))
        .route(
            "/Users/{id}",
            get(scim::get_user)
                .put(scim::replace_user)
                .patch(scim::patch_user)
                .delete(scim::delete_user),
        )
        .route("/Groups", get(scim::list_groups).post(scim::create_group))
        .route("/Groups/.search", post(scim::search_groups))
        .route(
            "/Groups/{id}",
            get(scim::get_group)
                .put(scim::replace_group)
                .patch(scim::patch_group)
                .delete(scim::delete_group),
        )
        .route("/.search", post(scim::search_all))
        .route("/Bulk", post(bulk::bulk))
        .route("/ServiceProviderConfig", get(scim::service_provider_config))
        // The name Microsoft's SCIM test collection asks for.
        .route("/serviceConfiguration", get(scim::service_provider_config))
        .route("/ResourceTypes", get(scim::resource_types))
        .route("/ResourceTypes/{id}", get(scim::resource_type))
        .route("/Schemas", get(scim::schemas))
        .route("/Schemas/{id}", get(scim::schema))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found);
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/oauth/token", post(oauth::token));
    if state.config.metrics_on_main {
        router = router.route("/metrics", get(metrics::metrics));
    }
    // The pages have routes of their own; they are reached through the fallback, so that their
    // path parameters are theirs alone.
    let pages = state.pages.clone();
    let signin = state.signin.as_ref().map(|s| s.router());
    let router = router
        .nest("/scim/v2/{tenant}", scim)
        .nest("/api/v1", host::routes())
        .fallback(move |req: Request| pages_or_not_found(pages.clone(), signin.clone(), req))
        .layer(axum::middleware::from_fn(
            move |req: Request, next: axum::middleware::Next| {
                timed(request_timeout, req, next)
            },
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            provlog::record,
        ))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
        .layer(axum::middleware::from_fn(one_authorization))
        .layer(axum::middleware::map_response(protective_headers))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(tower::util::MapRequestLayer::new(
            drop_unsafe_request_id as fn(Request) -> Request,
        ));
    // Rewriting the path must happen before routing, so it wraps the whole router.
    tower::Layer::layer(
        &tower::util::MapRequestLayer::new(canonical_path as fn(Request) -> Request),
        router,
    )
}

/// The application as [`serve`] takes it: a service of requests.
pub type App = tower::util::MapRequest<Router, fn(Request) -> Request>;

/// The longest `x-request-id` a client may choose.
const MAX_REQUEST_ID: usize = 64;

/// A client's `x-request-id` is kept (echoed and logged) only when it is a short token of
/// letters, digits, `-`, `_`, `.` and `:`; anything else is dropped so that a fresh id is
/// made, and nothing a client chose reaches a log line unchecked.
fn drop_unsafe_request_id(mut req: Request) -> Request {
    let safe = |v: &HeaderValue| {
        let b = v.as_bytes();
        !b.is_empty()
            && b.len() <= MAX_REQUEST_ID
            && b.iter()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':'))
    };
    let headers = req.headers_mut();
    let values: Vec<&HeaderValue> = headers.get_all("x-request-id").iter().collect();
    if values.len() > 1 || values.first().is_some_and(|v| !safe(v)) {
        headers.remove("x-request-id");
    }
    req
}

/// Every response: `nosniff`, and `no-store` unless it says otherwise (responses carry
/// personal data and credentials; no shared or browser cache may keep them).
async fn protective_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Refuses a request with more than one `Authorization` header, on every route (SCIM, the
/// token endpoint, `/api/v1`): which one would count is a guess that a proxy in front and
/// Roster might make differently.
async fn one_authorization(req: Request, next: axum::middleware::Next) -> Response {
    if req
        .headers()
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        return ApiError::InvalidSyntax(
            "The request has more than one Authorization header; send exactly one.".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// Answers 503 when a request takes longer than `limit` (a slow body included).
async fn timed(limit: Duration, req: Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(seconds = limit.as_secs(), "request timed out");
            ApiError::Timeout(limit).into_response()
        }
    }
}

/// The endpoint names of a tenant's SCIM base URL, as routed.
const ENDPOINTS: [&str; 8] = [
    "Users",
    "Groups",
    "Bulk",
    "Schemas",
    "ResourceTypes",
    "ServiceProviderConfig",
    "serviceConfiguration",
    ".search",
];

/// Clients are lenient about the spelling of endpoints (`/users`, `/Users/`): the endpoint
/// segment after `/scim/v2/{tenant}` is matched without regard to case and a trailing slash is
/// dropped, before routing.
fn canonical_path(mut req: Request) -> Request {
    let path = req.uri().path();
    let Some(rest) = path.strip_prefix("/scim/v2/") else {
        return req;
    };
    let mut segments: Vec<&str> = rest.split('/').collect();
    if segments.len() > 2 && segments.last() == Some(&"") {
        segments.pop();
    }
    let mut changed = segments.len() != rest.split('/').count();
    if let Some(endpoint) = segments.get_mut(1)
        && let Some(canonical) = ENDPOINTS
            .iter()
            .find(|e| e.eq_ignore_ascii_case(endpoint) && *e != endpoint)
    {
        *endpoint = canonical;
        changed = true;
    }
    if !changed {
        return req;
    }
    let mut new_path = format!("/scim/v2/{}", segments.join("/"));
    if let Some(q) = req.uri().query() {
        new_path.push('?');
        new_path.push_str(q);
    }
    if let Ok(pq) = new_path.parse::<axum::http::uri::PathAndQuery>() {
        let mut parts = req.uri().clone().into_parts();
        parts.path_and_query = Some(pq);
        if let Ok(uri) = axum::http::Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// A page under `/console` or `/portal` when there are pages, a sign-in route when sign-in is
/// on; else 404.
async fn pages_or_not_found(
    pages: Option<Router>,
    signin: Option<Router>,
    req: Request,
) -> Response {
    let path = req.uri().path();
    if let Some(signin) = signin.filter(|_| roster_signin::SignIn::serves(path)) {
        return match tower::ServiceExt::oneshot(signin, req).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    let is_page =
        path == "/console" || path.starts_with("/console/") || path.starts_with("/portal/");
    match pages {
        Some(pages) if is_page => match tower::ServiceExt::oneshot(pages, req).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        _ => not_found().await.into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("No such endpoint.".into())
}

async fn method_not_allowed(method: Method) -> ApiError {
    ApiError::MethodNotAllowed(format!("{method} is not allowed on this endpoint."))
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.directory.store().ping()).await;
    match ping {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        _ => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

/// The tenant whose URL was called, once the bearer token has been checked against it and
/// provisioning is known to be on.
#[derive(Debug, Clone)]
pub struct Tenant(pub Arc<TenantContext>);

impl FromRequestParts<AppState> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound("No such endpoint.".into()))?;
        let tenant = params
            .iter()
            .find(|(k, _)| *k == "tenant")
            .map(|(_, v)| v.to_owned())
            .ok_or_else(|| ApiError::NotFound("No such endpoint.".into()))?;
        let slot = parts.extensions.get::<provlog::LogSlot>().cloned();
        let note = |f: &dyn Fn(&mut provlog::Noted)| {
            if let Some(slot) = &slot {
                slot.note(|n| f(n));
            }
        };
        // `one_authorization` has refused a request with several.
        let Some(token) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .filter(|t| !t.is_empty())
        else {
            note(&|n| n.refusal = Some(roster_provlog::Refusal::NoCredential));
            return Err(ApiError::Unauthorized);
        };
        // A refusal is logged with the tenant of the URL, the reason and the peer's address,
        // never with the token.
        let refused = |reason: &str| {
            let address = oauth::peer_address(&parts.extensions);
            tracing::info!(
                tenant = ?tenant.chars().take(200).collect::<String>(),
                address = %address.map_or_else(|| "-".to_owned(), |a| a.to_string()),
                reason,
                "SCIM authentication refused"
            );
        };
        let ctx = if federation::looks_like_jwt(token) {
            match federated(state, &tenant, token).await {
                Ok(ctx) => ctx,
                Err(e) => {
                    if let ApiError::InvalidToken(detail) = &e {
                        refused(detail);
                        note(&|n| {
                            n.refusal = Some(roster_provlog::Refusal::Federated(detail.clone()));
                        });
                    }
                    return Err(e);
                }
            }
        } else {
            // A token of another tenant is refused exactly like a wrong one, so that a token
            // reveals nothing about which other tenants exist.
            match state.directory.authenticate(token).await? {
                Some(ctx) if ctx.id().as_str() == tenant => ctx,
                found => {
                    refused(if found.is_some() {
                        "a token of another tenant"
                    } else {
                        "an unknown, expired or revoked token"
                    });
                    let hash = roster_directory::hash_token(token);
                    note(&|n| n.refused_token = Some(hash));
                    return Err(ApiError::InvalidToken(
                        "The bearer token is not valid here: it is unknown, expired or revoked, \
                         or belongs to another organisation."
                            .into(),
                    ));
                }
            }
        };
        let credential = credential_label(token);
        note(&|n| n.credential.clone_from(&credential));
        if !ctx.tenant.plan.provisioning {
            return Err(ApiError::Forbidden(format!(
                "Provisioning is not part of this organisation's plan ({}). The organisation's \
                 owner can ask for a plan that includes it.",
                ctx.tenant.plan.name
            )));
        }
        if !ctx.settings.provisioning {
            return Err(ApiError::Forbidden(
                "Provisioning is turned off for this organisation. Its administrator can turn \
                 it on again on its Provisioning & SSO page in Roster (Settings, \"Provisioning is on\")."
                    .into(),
            ));
        }
        Ok(Tenant(ctx))
    }
}

/// How the log names the credential a request carried, never the secret: its kind and its
/// last four characters.
fn credential_label(token: &str) -> String {
    let kind = if federation::looks_like_jwt(token) {
        return "a token from the trusted issuer".to_owned();
    } else if token.starts_with("rst_") {
        "Secret Token"
    } else if token.starts_with("rat_") {
        "access token"
    } else {
        "token"
    };
    let chars: Vec<char> = token.chars().collect();
    let last4: String = chars[chars.len().saturating_sub(4)..].iter().collect();
    format!("{kind} …{last4}")
}

/// The tenant of the URL, when `token` is a JWT its trusted issuer signed.
async fn federated(
    state: &AppState,
    tenant: &str,
    token: &str,
) -> Result<Arc<TenantContext>, ApiError> {
    let refused = || {
        ApiError::InvalidToken(
            "This organisation trusts no token issuer; send its Secret Token or an access token."
                .into(),
        )
    };
    if tenant.len() > 200 {
        return Err(refused());
    }
    let ctx = state
        .directory
        .tenant_context(&TenantId::new(tenant))
        .await?
        .ok_or_else(refused)?;
    let trust = ctx.settings.federation.as_ref().ok_or_else(refused)?;
    let claims = match state.federator.verify(token, trust).await {
        Ok(claims) => claims,
        Err(e) => {
            return Err(ApiError::InvalidToken(format!(
                "Federated token refused: {e}."
            )));
        }
    };
    // A JWT already traded at the token endpoint as a client assertion does not open the
    // SCIM endpoint either: its replay is refused everywhere.
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if let Some(id) = ["jti", "uti"]
        .iter()
        .find_map(|k| claims.get(*k).and_then(Value::as_str))
        && state.directory.assertion_used(issuer, id).await?
    {
        return Err(ApiError::InvalidToken(
            "Federated token refused: it was already used as a client assertion.".into(),
        ));
    }
    Ok(ctx)
}

impl Tenant {
    /// Refuses requests on groups when the tenant does not provision groups.
    pub fn ensure(&self, kind: Kind) -> Result<(), ApiError> {
        if kind == Kind::Group && !self.0.settings.groups {
            return Err(ApiError::Forbidden(
                "Groups are turned off for this organisation: turn off group provisioning in \
                 your identity provider (for example, provision users only), or ask the \
                 administrator to turn groups on in Roster."
                    .into(),
            ));
        }
        Ok(())
    }
}

/// A JSON request body: accepted as `application/scim+json`, `application/json` or without a
/// content type; malformed JSON is a SCIM `invalidSyntax`, an oversized body a 413.
#[derive(Debug, Clone)]
pub struct ScimJson(pub Value);

impl FromRequest<AppState> for ScimJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
            let essence = ct.split(';').next().unwrap_or("").trim();
            if !(essence.is_empty()
                || essence == "application/scim+json"
                || essence == "application/json"
                || essence == "text/json"
                || essence.ends_with("+json"))
            {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Send the body as application/scim+json or application/json, not {essence}."
                )));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(state.config.max_body_bytes)
            } else {
                ApiError::InvalidSyntax("The request body could not be read.".into())
            }
        })?;
        serde_json::from_slice(&bytes).map(ScimJson).map_err(|e| {
            ApiError::InvalidSyntax(format!("The request body is not valid JSON: {e}"))
        })
    }
}

/// A SCIM response: a status, a JSON body, and the `ETag` and `Location` headers when known.
#[derive(Debug)]
pub struct ScimResponse {
    status: StatusCode,
    body: Option<Value>,
    etag: Option<String>,
    location: Option<String>,
    normalizations: Vec<roster_directory::Normalization>,
}

impl ScimResponse {
    /// A 200 with a body.
    pub fn ok(body: Value) -> Self {
        ScimResponse {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
            normalizations: Vec::new(),
        }
    }

    /// Records the rewrites the tenant's dialect applied to the request: logged with the
    /// request and returned in the `x-roster-normalizations` header, so an administrator can
    /// see what their identity provider sent.
    pub fn noting(mut self, applied: Vec<roster_directory::Normalization>) -> Self {
        if !applied.is_empty() {
            let names: Vec<&str> = applied.iter().map(|n| n.as_str()).collect();
            tracing::info!(normalizations = %names.join(","), "request normalised");
        }
        self.normalizations = applied;
        self
    }
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let mut response = match self.body {
            Some(b) => (self.status, b.to_string()).into_response(),
            None => self.status.into_response(),
        };
        let headers: &mut HeaderMap = response.headers_mut();
        if self.status != StatusCode::NO_CONTENT && self.status != StatusCode::NOT_MODIFIED {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(SCIM_CONTENT_TYPE),
            );
        }
        if let Some(e) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            headers.insert(header::ETAG, e);
        }
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            headers.insert(header::LOCATION, l);
        }
        if !self.normalizations.is_empty() {
            let names: Vec<&str> = self.normalizations.iter().map(|n| n.as_str()).collect();
            if let Ok(v) = HeaderValue::from_str(&names.join(", ")) {
                headers.insert("x-roster-normalizations", v);
            }
        }
        response
    }
}
