//! The approval queue on an application's page: the actions that wait for an administrator,
//! each with the exact request it sends, and the decisions (one, or all at once).

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_directory::DirectoryError;
use roster_store::Approval;
use serde::Deserialize;

use crate::ConsoleState;
use crate::portal::failed;
use crate::targets::{Shown, open, target_page};
use crate::view::when;

/// How many pending actions the page lists.
const SHOWN: u64 = 50;

/// A pending action as the page shows it.
pub struct PendingRow {
    pub id: String,
    pub what: String,
    pub name: String,
    pub request: String,
    pub body: String,
    pub why: &'static str,
    pub since: String,
}

/// The queue: up to [`SHOWN`] pending actions, and how many there are.
pub async fn queue(
    state: &ConsoleState,
    tenant: &roster_store::TenantId,
    target: &str,
) -> Result<(Vec<PendingRow>, u64), DirectoryError> {
    let d = &state.directory;
    let total = d.store().count_approvals(tenant, target, "pending").await?;
    let list = d
        .approvals(tenant, Some(target), &["pending"], SHOWN)
        .await?;
    Ok((list.iter().map(row).collect(), total))
}

fn row(a: &Approval) -> PendingRow {
    let r = &a.request;
    PendingRow {
        id: a.id.clone(),
        what: format!("{} {}", a.action, a.kind.as_str().to_lowercase()),
        name: a.name.clone(),
        request: format!(
            "{} {}",
            r["method"].as_str().unwrap_or(""),
            r["path"].as_str().unwrap_or("")
        ),
        body: r
            .get("body")
            .filter(|b| !b.is_null())
            .and_then(|b| serde_json::to_string_pretty(b).ok())
            .unwrap_or_default(),
        why: if a.reason == "threshold" {
            "past the accidental-deletions threshold"
        } else {
            "this action needs approval"
        },
        since: time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(a.created_at) * 1_000_000,
        )
        .map(when)
        .unwrap_or_default(),
    }
}

/// The decision form.
#[derive(Debug, Deserialize)]
pub struct DecisionForm {
    csrf: String,
    /// `approve` or `reject`.
    decision: String,
    /// One action's id; all pending when absent.
    #[serde(default)]
    id: Option<String>,
}

/// `POST /portal/{slug}/targets/{id}/approvals`.
pub async fn decide(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<DecisionForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let approve = match form.decision.as_str() {
        "approve" => true,
        "reject" => false,
        _ => return crate::pages::not_found(),
    };
    let by = viewer.who();
    let ids: Vec<String> = form.id.into_iter().collect();
    let n = match state
        .directory
        .decide_approvals(&tenant.id, &t.id, &ids, approve, &by)
        .await
    {
        Ok(n) => n,
        Err(e) => return failed(&e),
    };
    let notice = match (approve, n) {
        (_, 0) => "Nothing was pending any more.".to_owned(),
        (true, n) => format!("Approved {n}: the application receives them now."),
        (false, n) => format!("Rejected {n}: not sent while the change stays the same."),
    };
    let shown = Shown {
        notice: Some(notice),
        ..Shown::default()
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}
