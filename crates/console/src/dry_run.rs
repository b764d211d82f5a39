//! A dry run of a whole cycle of an application, on its own page: the counts of what the cycle
//! would do, and each request it would send (see `roster_engine::dry`), with the whole list as
//! JSON Lines to download. Nothing is sent, so both are plain GETs.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_engine::Engine;
use roster_engine::dry::{DryRun, Planned};

use crate::ConsoleState;
use crate::pages::{Chrome, render};
use crate::portal::failed;

/// How many requests the page lists (the download has them all).
const SHOWN: usize = 200;

#[derive(Template)]
#[template(path = "dry_run.html")]
struct DryRunPage {
    chrome: Chrome,
    tenant_name: String,
    slug: String,
    id: String,
    name: String,
    counts: Vec<(String, u64)>,
    requests: Vec<(Planned, String)>,
    more: usize,
    truncated: bool,
    errors: Vec<(String, String)>,
}

async fn run(
    state: &ConsoleState,
    headers: &HeaderMap,
    slug: &str,
    id: &str,
) -> Result<(roster_store::Tenant, crate::session::Viewer, String, DryRun), Response> {
    let (tenant, viewer, target) = crate::targets::open(state, headers, slug, id, None).await?;
    let run = Engine::one_off(&state.directory, "console")
        .dry_run(&tenant.id, &target.id)
        .await
        .map_err(|e| failed(&e))?;
    Ok((tenant, viewer, target.name, run))
}

/// `GET /portal/{slug}/targets/{id}/dry-run`.
pub async fn page(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer, name, run) = match run(&state, &headers, &slug, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let more = run.requests.len().saturating_sub(SHOWN);
    let page = DryRunPage {
        chrome: Chrome::of(Some(&viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        id,
        name,
        counts: run.counts.into_iter().collect(),
        requests: run
            .requests
            .into_iter()
            .take(SHOWN)
            .map(|r| {
                let body = r
                    .body
                    .as_ref()
                    .and_then(|b| serde_json::to_string_pretty(b).ok())
                    .unwrap_or_default();
                (r, body)
            })
            .collect(),
        more,
        truncated: run.truncated,
        errors: run.errors,
    };
    render(StatusCode::OK, &page)
}

/// `GET /portal/{slug}/targets/{id}/dry-run.jsonl`: a line of counts, then one line per
/// request.
pub async fn download(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, _, name, run) = match run(&state, &headers, &slug, &id).await {
        Ok(r) => r,
        Err(r) => return r,
    };
    let mut out = serde_json::json!({"counts": run.counts, "truncated": run.truncated,
        "errors": run.errors})
    .to_string();
    out.push('\n');
    for r in &run.requests {
        out.push_str(&serde_json::to_string(r).unwrap_or_default());
        out.push('\n');
    }
    let mut response = out.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl; charset=utf-8"),
    );
    let file: String = format!("dry-run-{}-{name}.jsonl", tenant.slug)
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{file}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}
