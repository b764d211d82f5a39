//! The host application's reads: the change log as an event feed, and plain-JSON reads of
//! tenants, users, groups and members for reconciliation jobs.
//!
//! Every list is `{"data": [...], "next_cursor": ...}`. For `/events` the cursor is always
//! given (poll again with it; it does not move while nothing happens); for the other lists it
//! is `null` after the last page.

use axum::Json;
use axum::extract::{Path, Query, State};
use roster_directory::{Scope, event_resource_json};
use roster_store::{Kind, TenantId};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_json, tenant_ref};
use crate::AppState;

/// The most items a page holds.
const MAX_LIMIT: u64 = 1000;
/// Items per page when the request does not say.
const DEFAULT_LIMIT: u64 = 100;

/// `after`, `limit` and, for events, `tenant_id`.
#[derive(Debug, Deserialize)]
pub(super) struct PageParams {
    after: Option<String>,
    limit: Option<String>,
    tenant_id: Option<String>,
}

impl PageParams {
    pub(super) fn limit(&self) -> Result<u64, HostError> {
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

/// `GET /api/v1/events?after=CURSOR&limit=N[&tenant_id=T]`: the change log, oldest first.
pub(super) async fn events(
    app: HostApp,
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::EventsRead)?;
    let after = params.after()?;
    let limit = params.limit()?;
    let tenant = params.tenant_id.as_deref().map(TenantId::new);
    let events = state
        .directory
        .events(tenant.as_ref(), after, limit)
        .await?;
    // A cursor past every position ever given cannot be one this feed gave: polling with it
    // would pass over the events that take those positions. It happens when the database was
    // restored from a backup older than the cursor, or the cursor is another deployment's.
    if events.is_empty() && after > 0 {
        let last = state.directory.last_event_position().await?;
        if after > last {
            return Err(HostError::BadRequest(format!(
                "after: {after} is past the end of the feed (its last position is {last}): \
                 the cursor is from another deployment, or the database was restored from a \
                 backup older than it. Poll again with a cursor of at most {last}; after=0 \
                 reads the feed from its start"
            )));
        }
    }
    let next = events.last().map_or(after, |e| e.position);
    Ok(Json(json!({
        "data": events.iter().map(roster_directory::render::event_json).collect::<Vec<_>>(),
        "next_cursor": next.to_string(),
    })))
}

/// `GET /api/v1/tenants`: every tenant, oldest first; the cursor is the last tenant's id.
pub(super) async fn tenants(
    app: HostApp,
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
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
        "data": page.iter().map(|t| tenant_json(&state, t)).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

async fn known_tenant(state: &AppState, tenant: &str) -> Result<TenantId, HostError> {
    Ok(tenant_ref(state, tenant).await?.id)
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
pub(super) async fn users(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::DirectoryRead)?;
    resources(&state, &tenant, Kind::User, &params).await
}

/// `GET /api/v1/tenants/{tenant}/groups`: a tenant's groups, without their members.
pub(super) async fn groups(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::DirectoryRead)?;
    resources(&state, &tenant, Kind::Group, &params).await
}

/// `GET /api/v1/tenants/{tenant}/groups/{group}/members`: a group's members.
pub(super) async fn members(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, group)): Path<(String, String)>,
    Query(params): Query<PageParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::DirectoryRead)?;
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
