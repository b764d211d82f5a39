//! `GET /api/v1/tenants/{tenant}/provisioning-logs`: a tenant's provisioning log for the host
//! application, cursor-paged like the event feed (oldest first after `after`), filtered by
//! outcome, action, user or group, and client.

use axum::Json;
use axum::extract::{Path, Query, State};
use roster_directory::Scope;
use roster_store::{LogQuery, Outcome};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_ref};
use crate::AppState;

/// The most entries a page holds.
const MAX_LIMIT: u32 = 200;

/// The query's parameters.
#[derive(Debug, Deserialize)]
pub(super) struct LogParams {
    after: Option<String>,
    limit: Option<String>,
    outcome: Option<String>,
    action: Option<String>,
    user: Option<String>,
    client: Option<String>,
}

fn query(p: &LogParams) -> Result<LogQuery, HostError> {
    let bad = |what: String| HostError::BadRequest(what);
    let after = match p.after.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad(format!("after: {c:?} is not a cursor")))?,
    };
    let limit = match p.limit.as_deref() {
        None => 100,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad(format!("limit must be a number from 1 to {MAX_LIMIT}")))?,
    };
    let outcome = p
        .outcome
        .as_deref()
        .map(|o| {
            Outcome::parse(o).ok_or_else(|| {
                bad(format!(
                    "outcome: {o:?} is not one of succeeded, refused, failed"
                ))
            })
        })
        .transpose()?;
    let short = |v: &Option<String>, name: &str| -> Result<Option<String>, HostError> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(s) if s.len() <= 512 => Ok(Some(s.to_owned())),
            Some(_) => Err(bad(format!("{name} is longer than 512 bytes"))),
        }
    };
    Ok(LogQuery {
        after: Some(after),
        limit,
        outcome,
        action: short(&p.action, "action")?,
        resource: short(&p.user, "user")?,
        client: short(&p.client, "client")?,
        ..LogQuery::default()
    })
}

/// `GET /api/v1/tenants/{tenant}/provisioning-logs?after=&limit=&outcome=&action=&user=&client=`.
pub(super) async fn provisioning_logs(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::DirectoryRead)?;
    let tenant = tenant_ref(&state, &tenant).await?.id;
    let q = query(&params)?;
    let page = state.directory.log_page(&tenant, &q).await?;
    let next = match page.last() {
        Some(last) => last.seq.to_string(),
        None => q.after.unwrap_or(0).to_string(),
    };
    Ok(Json(json!({
        "data": page.iter().map(roster_provlog::entry_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}
