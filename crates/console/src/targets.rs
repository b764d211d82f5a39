//! A tenant's applications on its page (outbound provisioning): the list with the form that
//! adds one, and one application's page, with its status and progress, test connection,
//! provision on demand with each step, pause, restart, assignments and settings. The same
//! directory and engine calls as `roster target …` and `/api/v1/tenants/{id}/targets`.

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_directory::DirectoryError;
use roster_directory::targets::{ApprovalAction, Auth, NewTarget, ScopeMode, Target, TargetChange};
use roster_engine::{Engine, view};
use roster_outbound::plan::Leaving;
use roster_store::{Kind, ListQuery, Tenant};
use serde::Deserialize;

use crate::pages::{Chrome, TargetPage, TargetRow, Targets, not_found, render};
use crate::portal::{access, failed, forbidden};
use crate::session::Viewer;
use crate::view::when;
use crate::{ConsoleState, see_other};

fn engine(state: &ConsoleState) -> Engine {
    Engine::one_off(&state.directory, "console")
}

fn phase_words(phase: &str) -> String {
    match phase {
        "initial" => "A cycle is running".into(),
        "incremental" => "In step: changes are sent as they happen".into(),
        _ => "Starting".into(),
    }
}

async fn list_page(
    state: &ConsoleState,
    tenant: &Tenant,
    viewer: &Viewer,
    error: Option<String>,
    form: (String, String),
) -> Response {
    let targets = match state.directory.targets(&tenant.id).await {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    let mut rows = Vec::new();
    for t in &targets {
        let (run, (users, groups)) = match state.directory.target_status(&tenant.id, t).await {
            Ok(s) => s,
            Err(e) => return failed(&e),
        };
        rows.push(TargetRow {
            id: t.id.clone(),
            name: t.name.clone(),
            url: t.settings.url.clone(),
            state: phase_words(run.as_ref().map_or("", |r| r.phase.as_str())),
            quarantined: run.as_ref().is_some_and(|r| r.quarantined),
            paused: t.paused,
            users,
            groups,
        });
    }
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &Targets {
            chrome: Chrome::of(Some(viewer)),
            tenant_name: tenant.name.clone(),
            slug: tenant.slug.clone(),
            rows,
            error,
            form_name: form.0,
            form_url: form.1,
        },
    )
}

/// `GET /portal/{slug}/targets`.
pub async fn list(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    list_page(&state, &tenant, &viewer, None, Default::default()).await
}

/// The form that adds an application.
#[derive(Debug, Deserialize)]
pub struct AddForm {
    csrf: String,
    name: String,
    url: String,
    token: String,
    scope: String,
}

/// `POST /portal/{slug}/targets`.
pub async fn add(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    PageForm(form): PageForm<AddForm>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let refused = |why: String| {
        (
            Some(format!("The application was not added: {why}")),
            (form.name.clone(), form.url.clone()),
        )
    };
    let scope = match ScopeMode::parse(&form.scope) {
        Ok(s) => s,
        Err(e) => {
            let (error, kept) = refused(e.to_string());
            return list_page(&state, &tenant, &viewer, error, kept).await;
        }
    };
    let new = NewTarget {
        name: form.name.clone(),
        url: form.url.clone(),
        auth: Auth::Bearer,
        secret: form.token.clone(),
        scope,
    };
    match state.directory.add_target(&tenant.id, new).await {
        Ok(t) => see_other(&format!("/portal/{}/targets/{}", tenant.slug, t.id)),
        Err(DirectoryError::Setting(why)) => {
            let (error, kept) = refused(why);
            list_page(&state, &tenant, &viewer, error, kept).await
        }
        Err(e) => failed(&e),
    }
}

/// What one application's page shows besides its state.
#[derive(Default)]
pub(crate) struct Shown {
    pub(crate) notice: Option<String>,
    pub(crate) error: Option<String>,
    pub(crate) steps: Vec<String>,
    pub(crate) who: String,
    /// A check of the rules with a user.
    pub(crate) check: Option<crate::rules::CheckView>,
    /// What the target offers, just read.
    pub(crate) offered: Option<roster_engine::entitlements::Entitlements>,
    /// Drafts kept when a save was refused.
    pub(crate) rules_draft: Option<String>,
    pub(crate) attached_draft: Option<String>,
    pub(crate) roles_draft: Option<String>,
}

pub(crate) async fn target_page(
    state: &ConsoleState,
    tenant: &Tenant,
    viewer: &Viewer,
    target: &Target,
    mut shown: Shown,
) -> Response {
    let roles = match roster_directory::TenantSettings::of(tenant) {
        Ok(s) => s.roles,
        Err(e) => {
            return failed(&DirectoryError::UnreadableSetting {
                tenant: tenant.id.to_string(),
                error: e,
            });
        }
    };
    let editor = crate::rules::Editor::of(target, &roles, &mut shown);
    let (run, (users, groups)) = match state.directory.target_status(&tenant.id, target).await {
        Ok(s) => s,
        Err(e) => return failed(&e),
    };
    let assigned = match state.directory.target_assignments(&tenant.id, target).await {
        Ok(a) => a,
        Err(e) => return failed(&e),
    };
    let (pending, pending_total) =
        match crate::approvals::queue(state, &tenant.id, &target.id).await {
            Ok(q) => q,
            Err(e) => return failed(&e),
        };
    let now = view::now_ms(&state.directory);
    let status = view::status(target, run.as_ref(), (users, groups), now);
    let mut rows = Vec::new();
    if let Ok(Some(ctx)) = state.directory.tenant_context(&tenant.id).await {
        for (kind, id) in &assigned {
            let name = match state.directory.get(&ctx, *kind, id, false).await {
                Ok(o) => o
                    .data
                    .get(kind.name_attribute())
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or(id)
                    .to_owned(),
                Err(_) => id.clone(),
            };
            let (label, path) = match kind {
                Kind::User => ("User", format!("users/{id}")),
                Kind::Group => ("Group", format!("groups/{id}")),
            };
            rows.push((label.to_owned(), path, name));
        }
    }
    let pace = match (
        status["per_second"].as_f64(),
        status["seconds_left"].as_f64(),
    ) {
        (Some(rate), Some(left)) => Some(format!(
            "{rate:.0} objects a second, about {left:.0} s left"
        )),
        _ => None,
    };
    let policy = target.settings.policy;
    let has_error = shown.error.is_some();
    let page = TargetPage {
        chrome: Chrome::of(Some(viewer)),
        csrf: viewer.session.csrf.clone(),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        id: target.id.clone(),
        name: target.name.clone(),
        url: target.settings.url.clone(),
        scope_all: target.settings.scope == ScopeMode::All,
        state: phase_words(run.as_ref().map_or("", |r| r.phase.as_str())),
        paused: target.paused,
        quarantined: run.as_ref().is_some_and(|r| r.quarantined),
        last_error: run.as_ref().and_then(|r| r.error.clone()),
        cycling: run.as_ref().is_some_and(|r| r.phase == "initial"),
        processed: run.as_ref().map_or(0, |r| r.processed),
        total: run.as_ref().map_or(0, |r| r.total),
        percent: status["percent"].as_i64().unwrap_or(0),
        pace,
        users,
        groups,
        last_cycle: run
            .as_ref()
            .filter(|r| r.cycle_ended_at > 0)
            .and_then(|r| {
                time::OffsetDateTime::from_unix_timestamp_nanos(
                    i128::from(r.cycle_ended_at) * 1_000_000,
                )
                .ok()
            })
            .map(when),
        assigned: rows,
        policy,
        leaving: leaving_word(policy.leaving_scope).into(),
        on_delete: leaving_word(policy.on_source_delete).into(),
        pending,
        pending_total,
        needs_approval: target
            .settings
            .approvals
            .iter()
            .map(|a| a.as_str())
            .collect(),
        deletion_threshold: target
            .settings
            .deletion_threshold
            .map(|t| t.to_string())
            .unwrap_or_default(),
        roles_attached: target.settings.roles.clone(),
        rules: crate::rules::rows(target),
        check: shown.check,
        editor,
        notice: shown.notice,
        error: shown.error,
        steps: shown.steps,
        demand_who: shown.who,
    };
    render(
        if has_error {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        },
        &page,
    )
}

fn leaving_word(l: Leaving) -> &'static str {
    match l {
        Leaving::Deactivate => "deactivate",
        Leaving::Delete => "delete",
        Leaving::Nothing => "nothing",
    }
}

/// The tenant, the viewer and the target of an application's page, or the answer.
pub(crate) async fn open(
    state: &ConsoleState,
    headers: &HeaderMap,
    slug: &str,
    id: &str,
    csrf: Option<&str>,
) -> Result<(Tenant, Viewer, Target), Response> {
    let (tenant, viewer) = access(state, headers, slug).await?;
    if let Some(given) = csrf
        && !viewer.csrf_ok(given)
    {
        return Err(forbidden());
    }
    match state.directory.target(&tenant.id, id).await {
        Ok(t) if t.id == id => Ok((tenant, viewer, t)),
        Ok(_) | Err(DirectoryError::NotFound { .. }) => Err(not_found()),
        Err(e) => Err(failed(&e)),
    }
}

/// `GET /portal/{slug}/targets/{id}`.
pub async fn show(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    match open(&state, &headers, &slug, &id, None).await {
        Ok((tenant, viewer, t)) => {
            target_page(&state, &tenant, &viewer, &t, Shown::default()).await
        }
        Err(r) => r,
    }
}

/// A form with only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct Plain {
    csrf: String,
}

impl Plain {
    /// The form's CSRF token.
    pub(crate) fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// `POST /portal/{slug}/targets/{id}/test`.
pub async fn test(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let shown = match engine(&state).test_connection(&tenant.id, &t.id).await {
        Ok(Ok(c)) => Shown {
            notice: Some(format!(
                "The application answers as a SCIM service (PATCH {}, filter {}, Bulk {}, ETag {}).",
                yes(c.patch),
                yes(c.filter),
                yes(c.bulk),
                yes(c.etag)
            )),
            ..Shown::default()
        },
        Ok(Err(e)) => Shown {
            error: Some(format!("The test failed: {e}")),
            ..Shown::default()
        },
        Err(e) => return failed(&e),
    };
    let t = state.directory.target(&tenant.id, &t.id).await.unwrap_or(t);
    target_page(&state, &tenant, &viewer, &t, shown).await
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// The form that pauses or resumes.
#[derive(Debug, Deserialize)]
pub struct PauseForm {
    csrf: String,
    paused: String,
}

/// `POST /portal/{slug}/targets/{id}/pause`.
pub async fn pause(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<PauseForm>,
) -> Response {
    let (tenant, _, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let change = TargetChange {
        paused: Some(form.paused == "on"),
        ..TargetChange::default()
    };
    match state
        .directory
        .change_target(&tenant.id, &t.id, change)
        .await
    {
        Ok(_) => see_other(&format!("/portal/{}/targets/{}", tenant.slug, t.id)),
        Err(e) => failed(&e),
    }
}

/// `POST /portal/{slug}/targets/{id}/restart`.
pub async fn restart(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, _, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match state.directory.restart_target(&tenant.id, &t).await {
        Ok(()) => see_other(&format!("/portal/{}/targets/{}", tenant.slug, t.id)),
        Err(e) => failed(&e),
    }
}

/// A form naming a user or a group.
#[derive(Debug, Deserialize)]
pub struct WhoForm {
    csrf: String,
    who: String,
}

/// The user whose userName, or the group whose displayName, is `who` (or whose id it is).
pub(crate) async fn find(
    state: &ConsoleState,
    tenant: &Tenant,
    who: &str,
) -> Result<Option<(Kind, String)>, DirectoryError> {
    let Some(ctx) = state.directory.tenant_context(&tenant.id).await? else {
        return Ok(None);
    };
    let quoted = who.trim().replace('\\', "\\\\").replace('"', "\\\"");
    for (kind, attribute) in [(Kind::User, "userName"), (Kind::Group, "displayName")] {
        let Ok(filter) = ctx
            .dialect()
            .filter(&format!("{attribute} eq \"{quoted}\""), &mut Vec::new())
        else {
            continue;
        };
        let query = ListQuery {
            filter: Some(filter),
            sort: None,
            offset: 0,
            limit: 1,
            with_relations: false,
            max_bytes: 1024 * 1024,
            count_at_most: Some(2),
        };
        if let Some(found) = state
            .directory
            .list(&ctx, kind, &query)
            .await?
            .resources
            .first()
        {
            return Ok(Some((kind, found.id.clone())));
        }
        match state.directory.get(&ctx, kind, who.trim(), false).await {
            Ok(found) => return Ok(Some((kind, found.id))),
            Err(DirectoryError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// `POST /portal/{slug}/targets/{id}/provision`: provision on demand, with each step.
pub async fn provision(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<WhoForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let who = form.who.trim().to_owned();
    let shown = match find(&state, &tenant, &who).await {
        Ok(None) => Shown {
            error: Some(format!(
                "No user has the userName {who:?}, and no group that displayName."
            )),
            who,
            ..Shown::default()
        },
        Ok(Some((kind, object))) => match engine(&state)
            .provision_now(&tenant.id, &t.id, kind, &object)
            .await
        {
            Ok(Ok(done)) => Shown {
                notice: Some(format!("{}: {}.", done.name, done.action)),
                steps: done.steps,
                who,
                ..Shown::default()
            },
            Ok(Err(e)) => Shown {
                error: Some(format!("Provisioning {who} failed: {e}")),
                who,
                ..Shown::default()
            },
            Err(e) => return failed(&e),
        },
        Err(e) => return failed(&e),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}

/// `POST /portal/{slug}/targets/{id}/assign`.
pub async fn assign(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<WhoForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let who = form.who.trim().to_owned();
    let shown = match find(&state, &tenant, &who).await {
        Ok(None) => Shown {
            error: Some(format!(
                "No user has the userName {who:?}, and no group that displayName."
            )),
            ..Shown::default()
        },
        Ok(Some((kind, object))) => {
            match state
                .directory
                .assign_to_target(&tenant.id, &t.id, kind, &object)
                .await
            {
                Ok(()) => Shown {
                    notice: Some(format!(
                        "{who} is assigned; it is provisioned within seconds."
                    )),
                    ..Shown::default()
                },
                Err(e) => return failed(&e),
            }
        }
        Err(e) => return failed(&e),
    };
    target_page(&state, &tenant, &viewer, &t, shown).await
}

/// The settings form.
#[derive(Debug, Deserialize)]
pub struct SettingsForm {
    csrf: String,
    create: Option<String>,
    update: Option<String>,
    deactivate: Option<String>,
    delete: Option<String>,
    sync_password: Option<String>,
    leaving_scope: String,
    #[serde(default)]
    on_source_delete: String,
    #[serde(default)]
    approve_create: Option<String>,
    #[serde(default)]
    approve_update: Option<String>,
    #[serde(default)]
    approve_deactivate: Option<String>,
    #[serde(default)]
    approve_delete: Option<String>,
    /// Absent (an older form): unchanged.
    #[serde(default)]
    deletion_threshold: Option<String>,
    #[serde(default)]
    token: String,
}

/// `POST /portal/{slug}/targets/{id}/settings`.
pub async fn settings(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<SettingsForm>,
) -> Response {
    let (tenant, viewer, t) = match open(&state, &headers, &slug, &id, Some(&form.csrf)).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let leaving = match form.leaving_scope.as_str() {
        "deactivate" => Leaving::Deactivate,
        "delete" => Leaving::Delete,
        "nothing" => Leaving::Nothing,
        _ => {
            let shown = Shown {
                error: Some("Choose what leaving the scope does.".into()),
                ..Shown::default()
            };
            return target_page(&state, &tenant, &viewer, &t, shown).await;
        }
    };
    let mut policy = t.settings.policy;
    policy.on_source_delete = match form.on_source_delete.as_str() {
        "deactivate" => Leaving::Deactivate,
        "delete" => Leaving::Delete,
        "nothing" => Leaving::Nothing,
        _ => policy.on_source_delete,
    };
    policy.create = form.create.is_some();
    policy.update = form.update.is_some();
    policy.deactivate = form.deactivate.is_some();
    policy.delete = form.delete.is_some();
    policy.sync_password = form.sync_password.is_some();
    policy.leaving_scope = leaving;
    let approvals = [
        (&form.approve_create, ApprovalAction::Create),
        (&form.approve_update, ApprovalAction::Update),
        (&form.approve_deactivate, ApprovalAction::Deactivate),
        (&form.approve_delete, ApprovalAction::Delete),
    ]
    .into_iter()
    .filter(|(on, _)| on.is_some())
    .map(|(_, a)| a)
    .collect();
    let change = TargetChange {
        approvals: Some(approvals),
        deletion_threshold: form.deletion_threshold.as_deref().map(|t| {
            let t = t.trim();
            if t.is_empty() { "off" } else { t }.to_owned()
        }),
        policy: Some(policy),
        token: Some(form.token.trim().to_owned()).filter(|s| !s.is_empty()),
        ..TargetChange::default()
    };
    let shown = match state
        .directory
        .change_target(&tenant.id, &t.id, change)
        .await
    {
        Ok(_) => Shown {
            notice: Some("Saved. The next cycle applies the settings to everything.".into()),
            ..Shown::default()
        },
        Err(DirectoryError::Setting(why)) => Shown {
            error: Some(format!("Not saved: {why}")),
            ..Shown::default()
        },
        Err(e) => return failed(&e),
    };
    let t = state.directory.target(&tenant.id, &t.id).await.unwrap_or(t);
    target_page(&state, &tenant, &viewer, &t, shown).await
}
