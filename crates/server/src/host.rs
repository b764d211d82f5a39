//! The host application's API under `/api/v1`: the change log as an event feed, and plain-JSON
//! reads of tenants, users, groups and members for reconciliation jobs. Authenticated by API
//! keys (`roster apikey create`), never by a tenant's SCIM token.
//!
//! Every list is `{"data": [...], "next_cursor": ...}`. For `/events` the cursor is always
//! given (poll again with it; it does not move while nothing happens); for the other lists it
//! is `null` after the last page.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use roster_directory::{DirectoryError, event_resource_json};
use roster_store::{Kind, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;

/// The most items a page holds.
const MAX_LIMIT: u64 = 1000;
/// Items per page when the request does not say.
const DEFAULT_LIMIT: u64 = 100;

/// What a host-application request can fail with; plain JSON, not SCIM.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No API key, or not a live one.
    #[error("a live API key is required (Authorization: Bearer rsk_...)")]
    Unauthorized,
    /// A query parameter that cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// No such tenant or group.
    #[error("{0}")]
    NotFound(String),
    /// A directory failure.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl IntoResponse for HostError {
    fn into_response(self) -> Response {
        let (status, code, message) = match &self {
            HostError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", self.to_string()),
            HostError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m.clone()),
            HostError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            HostError::Directory(DirectoryError::NotFound { .. }) => {
                (StatusCode::NOT_FOUND, "not_found", self.to_string())
            }
            HostError::Directory(DirectoryError::Unavailable(cause)) => {
                tracing::error!(%cause, "storage unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    "The service is temporarily unavailable; retry later.".to_owned(),
                )
            }
            HostError::Directory(e) => {
                tracing::error!(cause = %e, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "An internal error occurred.".to_owned(),
                )
            }
        };
        let mut response = (
            status,
            Json(json!({"error": {"code": code, "message": message}})),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        response
    }
}

/// A request authenticated with a live API key.
pub struct HostApp;

impl FromRequestParts<AppState> for HostApp {
    type Rejection = HostError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HostError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or(HostError::Unauthorized)?;
        if state.directory.authenticate_api_key(key).await? {
            Ok(HostApp)
        } else {
            Err(HostError::Unauthorized)
        }
    }
}

/// `after`, `limit` and, for events, `tenant_id`.
#[derive(Debug, Deserialize)]
pub struct PageParams {
    after: Option<String>,
    limit: Option<String>,
    tenant_id: Option<String>,
}

impl PageParams {
    fn limit(&self) -> Result<u64, HostError> {
        match &self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(l) => match l.parse::<u64>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
                _ => Err(HostError::BadRequest(format!(
                    "limit must be a number from 1 to {MAX_LIMIT}"
                ))),
            },
        }
    }

    /// A numeric cursor (0 when absent).
    fn after(&self) -> Result<i64, HostError> {
        match self.after.as_deref() {
            None | Some("") => Ok(0),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| HostError::BadRequest(format!("after: {c:?} is not a cursor"))),
        }
    }
}

/// The routes, to nest under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(events))
        .route("/tenants", get(tenants))
        .route("/tenants/{tenant}/users", get(users))
        .route("/tenants/{tenant}/groups", get(groups))
        .route("/tenants/{tenant}/groups/{group}/members", get(members))
}

/// `GET /api/v1/events?after=CURSOR&limit=N[&tenant_id=T]`: the change log, oldest first.
async fn events(
    _: HostApp,
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    let after = params.after()?;
    let limit = params.limit()?;
    let tenant = params.tenant_id.as_deref().map(TenantId::new);
    let events = state
        .directory
        .events(tenant.as_ref(), after, limit)
        .await?;
    let next = events.last().map_or(after, |e| e.position);
    Ok(Json(json!({
        "data": events.iter().map(roster_directory::render::event_json).collect::<Vec<_>>(),
        "next_cursor": next.to_string(),
    })))
}

/// `GET /api/v1/tenants`: every tenant, oldest first; the cursor is the last tenant's id.
async fn tenants(
    _: HostApp,
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    let limit = params.limit()? as usize;
    let all = state.directory.tenants().await?;
    let start = match params.after.as_deref() {
        None | Some("") => 0,
        Some(after) => {
            all.iter()
                .position(|t| t.id.as_str() == after)
                .ok_or_else(|| HostError::BadRequest(format!("after: {after:?} is not a cursor")))?
                + 1
        }
    };
    let page: Vec<_> = all.iter().skip(start).take(limit).collect();
    let next = (start + page.len() < all.len())
        .then(|| page.last().map(|t| t.id.to_string()))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(|t| json!({
            "id": t.id.as_str(),
            "name": t.name,
            "created_at": roster_scim::value::format_datetime(t.created_at),
        })).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn known_tenant(state: &AppState, tenant: &str) -> Result<TenantId, HostError> {
    let id = TenantId::new(tenant);
    match state.directory.store().tenant(&id).await {
        Ok(Some(_)) => Ok(id),
        Ok(None) => Err(HostError::NotFound(format!("no tenant {tenant}"))),
        Err(e) => Err(HostError::Directory(e.into())),
    }
}

async fn resources(
    state: &AppState,
    tenant: &str,
    kind: Kind,
    params: &PageParams,
) -> Result<Json<Value>, HostError> {
    let tenant = known_tenant(state, tenant).await?;
    let limit = params.limit()?;
    let page = state
        .directory
        .resources_after(&tenant, kind, params.after()?, limit)
        .await?;
    let next = (page.len() as u64 == limit)
        .then(|| page.last().map(|(k, _)| k.to_string()))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(|(_, r)| event_resource_json(r)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

/// `GET /api/v1/tenants/{tenant}/users`: a tenant's users in creation order, with their groups.
async fn users(
    _: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    resources(&state, &tenant, Kind::User, &params).await
}

/// `GET /api/v1/tenants/{tenant}/groups`: a tenant's groups, without their members.
async fn groups(
    _: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    resources(&state, &tenant, Kind::Group, &params).await
}

/// `GET /api/v1/tenants/{tenant}/groups/{group}/members`: a group's members.
async fn members(
    _: HostApp,
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    let tenant = known_tenant(&state, &tenant).await?;
    let limit = params.limit()?;
    let page = state
        .directory
        .members_after(&tenant, &group, params.after()?, limit)
        .await?;
    let next = (page.len() as u64 == limit)
        .then(|| page.last().map(|(k, _)| k.to_string()))
        .flatten();
    Ok(Json(json!({
        "data": page.iter().map(|(_, m)| json!({
            "value": m.id,
            "type": m.kind.as_str(),
            "display": m.display,
        })).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
