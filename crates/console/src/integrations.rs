//! The operator's API keys (for the host application's `/api/v1`), webhook endpoints (with
//! their recent attempts and dead letters) and plans.

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_directory::{DirectoryError, Scope};
use roster_store::Plan;
use serde::Deserialize;

use crate::ConsoleState;
use crate::operators::{Plain, operator};
use crate::pages::{
    AttemptRow, Chrome, KeyRow, Keys, Plans, WebhookPage, WebhookRow, Webhooks, not_found, render,
};
use crate::portal::failed;
use crate::session::Viewer;
use crate::view::when;

fn millis(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(when)
        .unwrap_or_default()
}

async fn keys_page(
    state: &ConsoleState,
    v: &Viewer,
    new_key: Option<String>,
    error: Option<String>,
) -> Response {
    let keys = match state.directory.api_keys().await {
        Ok(k) => k,
        Err(e) => return failed(&e),
    };
    let page = Keys {
        chrome: Chrome::of(Some(v)),
        rows: keys
            .into_iter()
            .rev()
            .map(|k| KeyRow {
                id: k.id,
                name: k.name,
                scopes: k.scopes.join(" "),
                created: when(k.created_at),
                revoked: k.revoked_at.map(when),
            })
            .collect(),
        new_key,
        error,
        csrf: v.session.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /console/keys`.
pub async fn keys(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match operator(&state, &headers).await {
        Ok(v) => keys_page(&state, &v, None, None).await,
        Err(r) => r,
    }
}

/// The new-key form: one checkbox per scope.
#[derive(Debug, Deserialize)]
pub struct NewKey {
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    events: Option<String>,
    #[serde(default)]
    directory: Option<String>,
    #[serde(default)]
    tenants: Option<String>,
}

/// `POST /console/keys`: the key shown once.
pub async fn create_key(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<NewKey>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/keys");
    }
    let name = form.name.trim();
    if name.is_empty() {
        return keys_page(&state, &v, None, Some("A key needs a name.".into())).await;
    }
    let scopes: Vec<Scope> = [
        (form.events.is_some(), Scope::EventsRead),
        (form.directory.is_some(), Scope::DirectoryRead),
        (form.tenants.is_some(), Scope::TenantsWrite),
    ]
    .into_iter()
    .filter_map(|(on, s)| on.then_some(s))
    .collect();
    if scopes.is_empty() {
        return keys_page(&state, &v, None, Some("Choose at least one scope.".into())).await;
    }
    match state.directory.create_api_key(name, &scopes).await {
        Ok((_, key)) => keys_page(&state, &v, Some(key), None).await,
        Err(e) => failed(&e),
    }
}

/// `POST /console/keys/{id}/revoke`.
pub async fn revoke_key(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/keys");
    }
    match state.directory.revoke_api_key(&id).await {
        Ok(()) | Err(DirectoryError::NotFound { .. }) => crate::see_other("/console/keys"),
        Err(e) => failed(&e),
    }
}

async fn webhooks_page(
    state: &ConsoleState,
    v: &Viewer,
    secret: Option<(String, String)>,
    error: Option<String>,
) -> Response {
    let hooks = match state.directory.webhooks().await {
        Ok(h) => h,
        Err(e) => return failed(&e),
    };
    let page = Webhooks {
        chrome: Chrome::of(Some(v)),
        rows: hooks
            .into_iter()
            .map(|w| WebhookRow {
                id: w.id,
                url: w.url,
                tenant: w.tenant_id.map(|t| t.to_string()),
                created: millis(w.created_at),
            })
            .collect(),
        secret,
        error,
        csrf: v.session.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /console/webhooks`.
pub async fn webhooks(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match operator(&state, &headers).await {
        Ok(v) => webhooks_page(&state, &v, None, None).await,
        Err(r) => r,
    }
}

/// The new-webhook form.
#[derive(Debug, Deserialize)]
pub struct NewWebhook {
    csrf: String,
    url: String,
    #[serde(default)]
    tenant: String,
}

/// `POST /console/webhooks`: the signing secret shown once.
pub async fn create_webhook(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<NewWebhook>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/webhooks");
    }
    let tenant = match form.tenant.trim() {
        "" => None,
        slug => match state.directory.tenant_by_slug(slug).await {
            Ok(Some(t)) => Some(t.id),
            Ok(None) => {
                let why = format!("There is no tenant with the slug {slug:?}.");
                return webhooks_page(&state, &v, None, Some(why)).await;
            }
            Err(e) => return failed(&e),
        },
    };
    match state
        .directory
        .add_webhook(form.url.trim(), tenant.as_ref(), false)
        .await
    {
        Ok(w) => webhooks_page(&state, &v, Some((w.id, w.secret)), None).await,
        Err(DirectoryError::Setting(why)) => {
            webhooks_page(&state, &v, None, Some(format!("Not added: {why}."))).await
        }
        Err(e) => failed(&e),
    }
}

/// `POST /console/webhooks/{id}/rotate`: a new secret; the old one signs for 24 more hours.
pub async fn rotate_webhook(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/webhooks");
    }
    match state
        .directory
        .rotate_webhook_secret(&id, time::Duration::hours(24))
        .await
    {
        Ok(secret) => webhooks_page(&state, &v, Some((id, secret)), None).await,
        Err(DirectoryError::NotFound { .. }) => not_found(),
        Err(e) => failed(&e),
    }
}

/// `POST /console/webhooks/{id}/remove`.
pub async fn remove_webhook(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/webhooks");
    }
    match state.directory.remove_webhook(&id).await {
        Ok(()) | Err(DirectoryError::NotFound { .. }) => crate::see_other("/console/webhooks"),
        Err(e) => failed(&e),
    }
}

/// `GET /console/webhooks/{id}`: its last 50 attempts and its dead letters.
pub async fn webhook(
    State(state): State<ConsoleState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let hook = match state.directory.webhooks().await {
        Ok(h) => h.into_iter().find(|w| w.id == id),
        Err(e) => return failed(&e),
    };
    let Some(hook) = hook else {
        return not_found();
    };
    let (attempts, dead) = match (
        state.directory.delivery_attempts(&id, 50).await,
        state.directory.dead_letters(Some(&id)).await,
    ) {
        (Ok(a), Ok(d)) => (a, d),
        (Err(e), _) | (_, Err(e)) => return failed(&e),
    };
    let page = WebhookPage {
        chrome: Chrome::of(Some(&v)),
        id: hook.id,
        url: hook.url,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptRow {
                at: millis(a.at),
                event: a.event_id,
                attempt: a.attempt,
                outcome: match (a.status, a.error) {
                    (Some(s), None) => format!("HTTP {s}"),
                    (Some(s), Some(e)) => format!("HTTP {s}: {e}"),
                    (None, Some(e)) => e,
                    (None, None) => "-".to_owned(),
                },
            })
            .collect(),
        dead: dead
            .into_iter()
            .map(|d| AttemptRow {
                at: millis(d.at),
                event: d.event_id,
                attempt: 0,
                outcome: d.error,
            })
            .collect(),
    };
    render(StatusCode::OK, &page)
}

async fn plans_page(state: &ConsoleState, v: &Viewer, error: Option<String>) -> Response {
    let plans = match state.directory.plans().await {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let page = Plans {
        chrome: Chrome::of(Some(v)),
        plans,
        error,
        csrf: v.session.csrf.clone(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /console/plans`.
pub async fn plans(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    match operator(&state, &headers).await {
        Ok(v) => plans_page(&state, &v, None).await,
        Err(r) => r,
    }
}

/// The plan form.
#[derive(Debug, Deserialize)]
pub struct PlanForm {
    csrf: String,
    name: String,
    #[serde(default)]
    provisioning: Option<String>,
    #[serde(default)]
    sso: Option<String>,
}

/// `POST /console/plans`: creates or changes a plan.
pub async fn set_plan(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    PageForm(form): PageForm<PlanForm>,
) -> Response {
    let v = match operator(&state, &headers).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    if !v.csrf_ok(&form.csrf) {
        return crate::see_other("/console/plans");
    }
    let plan = Plan {
        name: form.name.trim().to_owned(),
        provisioning: form.provisioning.is_some(),
        sso: form.sso.is_some(),
    };
    match state.directory.set_plan(&plan).await {
        Ok(()) => crate::see_other("/console/plans"),
        Err(DirectoryError::Setting(why)) => plans_page(&state, &v, Some(format!("{why}."))).await,
        Err(e) => failed(&e),
    }
}
