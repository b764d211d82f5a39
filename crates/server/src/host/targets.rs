//! `/api/v1/tenants/{id}/targets/…`: a tenant's outbound provisioning targets, as `roster
//! target …` manages them: add, list, show (with progress), change, remove, test the
//! connection, restart, assign users and groups, and provision one object on demand with its
//! steps. Reads need `directory:read` (or `tenants:write`); changes need `tenants:write`.
//! Secrets are write-only: no answer ever carries a token or a client secret.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use roster_directory::Scope;
use roster_directory::targets::{Auth, NewTarget, ScopeMode, TargetChange};
use roster_engine::{Engine, view};
use roster_store::Kind;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_ref};
use crate::AppState;

fn read<T: DeserializeOwned>(body: &Bytes, what: &str) -> Result<T, HostError> {
    serde_json::from_slice(body)
        .map_err(|e| HostError::BadRequest(format!("the {what} cannot be read: {e}")))
}

fn engine(state: &AppState) -> Engine {
    Engine::one_off(&state.directory, "api")
}

/// `GET /api/v1/tenants/{id}/targets`.
pub(super) async fn list(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let mut data = Vec::new();
    for t in state.directory.targets(&tenant.id).await? {
        let (run, counts) = state.directory.target_status(&tenant.id, &t).await?;
        let mut shown = view::target(&t);
        shown["status"] = view::status(&t, run.as_ref(), counts, view::now_ms(&state.directory));
        data.push(shown);
    }
    Ok(Json(json!({"data": data, "next_cursor": null})))
}

/// The body that adds a target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewTargetBody {
    name: String,
    url: String,
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    token_url: Option<String>,
    #[serde(default = "assigned")]
    scope: ScopeMode,
}

fn assigned() -> ScopeMode {
    ScopeMode::Assigned
}

/// `POST /api/v1/tenants/{id}/targets`: 201 with the target.
pub(super) async fn create(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let new: NewTargetBody = read(&body, "target")?;
    let (auth, secret) =
        Auth::from_given(new.token, new.client_id, new.client_secret, new.token_url).ok_or_else(
            || {
                HostError::BadRequest(
                    "give token, or client_id, client_secret and token_url".into(),
                )
            },
        )?;
    let added = state
        .directory
        .add_target(
            &tenant.id,
            NewTarget {
                name: new.name,
                url: new.url,
                auth,
                secret,
                scope: new.scope,
            },
        )
        .await?;
    Ok((StatusCode::CREATED, Json(view::target(&added))))
}

/// `GET /api/v1/tenants/{id}/targets/{target}`: settings, status, mappings, assignments.
pub(super) async fn show(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let t = state.directory.target(&tenant.id, &target).await?;
    Ok(Json(view::detail(&state.directory, &t).await?))
}

/// `PATCH /api/v1/tenants/{id}/targets/{target}`: any of `url`, `token`, `scope`,
/// `scoping`, `user_mappings`, `group_mappings`, `provision_groups`, `rate_limit`,
/// `timeout_seconds`, `interval_minutes`, `policy`, `paused`.
pub(super) async fn change(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let change: TargetChange = read(&body, "change")?;
    let t = state
        .directory
        .change_target(&tenant.id, &target, change)
        .await?;
    Ok(Json(view::target(&t)))
}

/// `DELETE /api/v1/tenants/{id}/targets/{target}`: 204 (what the target holds stays there).
pub(super) async fn remove(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    state.directory.remove_target(&tenant.id, &target).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/targets/{target}/test`: the test connection, as Entra does it. 200 with what the
/// target supports, or 200 with `"ok": false` and why (the test ran; the target failed it).
pub(super) async fn test(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    Ok(Json(
        match engine(&state).test_connection(&tenant.id, &target).await? {
            Ok(c) => json!({"ok": true, "capabilities": {
                "patch": c.patch, "filter": c.filter, "bulk": c.bulk, "etag": c.etag}}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        },
    ))
}

/// `POST …/targets/{target}/restart`: forgets what the target holds; a new initial cycle.
pub(super) async fn restart(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let t = state.directory.target(&tenant.id, &target).await?;
    state.directory.restart_target(&tenant.id, &t).await?;
    Ok(StatusCode::ACCEPTED)
}

/// A user or a group, named in a body as `{"user": ID}` or `{"group": ID}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Object {
    user: Option<String>,
    group: Option<String>,
}

impl Object {
    fn parts(self) -> Result<(Kind, String), HostError> {
        match (self.user, self.group) {
            (Some(u), None) => Ok((Kind::User, u)),
            (None, Some(g)) => Ok((Kind::Group, g)),
            _ => Err(HostError::BadRequest(
                "name one object: {\"user\": ID} or {\"group\": ID}".into(),
            )),
        }
    }
}

/// `GET …/targets/{target}/assignments`.
pub(super) async fn assignments(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let t = state.directory.target(&tenant.id, &target).await?;
    let list = state.directory.target_assignments(&tenant.id, &t).await?;
    let data: Vec<Value> = list
        .iter()
        .map(|(k, id)| json!({"type": k.as_str(), "id": id}))
        .collect();
    Ok(Json(json!({"data": data, "next_cursor": null})))
}

/// `POST …/targets/{target}/assignments` `{"user": ID}` or `{"group": ID}`: 201.
pub(super) async fn assign(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let (kind, id) = read::<Object>(&body, "assignment")?.parts()?;
    state
        .directory
        .assign_to_target(&tenant.id, &target, kind, &id)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"type": kind.as_str(), "id": id})),
    ))
}

/// `DELETE …/targets/{target}/assignments/{type}/{id}` (`type`: `User` or `Group`): 204.
pub(super) async fn unassign(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target, kind, id)): Path<(String, String, String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let kind = match kind.as_str() {
        "User" | "user" | "users" => Kind::User,
        "Group" | "group" | "groups" => Kind::Group,
        other => {
            return Err(HostError::BadRequest(format!(
                "an assignment is of a User or a Group, not {other:?}"
            )));
        }
    };
    state
        .directory
        .unassign_from_target(&tenant.id, &target, kind, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST …/targets/{target}/provision` `{"user": ID}` or `{"group": ID}`: provision on
/// demand; 200 with the action and each step, or 502 with the steps and why the target
/// refused.
#[derive(Debug, Deserialize)]
pub(super) struct ApprovalQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    target: Option<String>,
    #[serde(default)]
    limit: Option<u64>,
}

/// `GET /api/v1/tenants/{id}/approvals?state=pending&target=NAME&limit=N`: newest first.
pub(super) async fn approvals(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(q): Query<ApprovalQuery>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let states: Vec<&str> = q
        .state
        .as_deref()
        .map(|s| s.split(',').collect())
        .unwrap_or_default();
    let list = state
        .directory
        .approvals(
            &tenant.id,
            q.target.as_deref(),
            &states,
            q.limit.unwrap_or(100),
        )
        .await?;
    let data: Vec<Value> = list.iter().map(roster_engine::view::approval).collect();
    Ok(Json(json!({"data": data})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Decision {
    #[serde(default)]
    ids: Vec<String>,
}

/// `POST /api/v1/tenants/{id}/targets/{target}/approvals/{approve|reject}` `{"ids"?}`: the
/// pending actions of `ids`, or all; `{"decided": N}`.
pub(super) async fn decide(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target, decision)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let approve = match decision.as_str() {
        "approve" => true,
        "reject" => false,
        other => {
            return Err(HostError::NotFound(format!(
                "no decision {other:?}: approve or reject"
            )));
        }
    };
    let tenant = tenant_ref(&state, &tenant).await?;
    let d: Decision = if body.is_empty() {
        Decision::default()
    } else {
        read(&body, "decision")?
    };
    let n = state
        .directory
        .decide_approvals(
            &tenant.id,
            &target,
            &d.ids,
            approve,
            &format!("API key {}", app.name()),
        )
        .await?;
    Ok(Json(json!({"decided": n})))
}

/// `GET /api/v1/tenants/{id}/roles`: the tenant's roles and role mappings.
pub(super) async fn roles(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let settings = roster_directory::TenantSettings::of(&tenant).map_err(|error| {
        roster_directory::DirectoryError::UnreadableSetting {
            tenant: tenant.id.to_string(),
            error,
        }
    })?;
    Ok(Json(json!(settings.roles)))
}

/// `PUT /api/v1/tenants/{id}/roles` `{"roles": [...], "mappings": [...]}`: replaces them,
/// checked first; targets attached to roles are brought in step.
pub(super) async fn set_roles(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let roles: roster_outbound::rules::Roles = read(&body, "roles")?;
    state.directory.set_roles(&tenant.id, &roles).await?;
    Ok(Json(json!(roles)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CheckBody {
    users: Vec<String>,
}

/// `POST /api/v1/tenants/{id}/targets/{target}/check` `{"users": [ID, ...]}`: for each user,
/// its roles, the rules that matched and what they set, and the request a cycle would send;
/// nothing is sent.
pub(super) async fn check(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let b: CheckBody = read(&body, "check")?;
    let checks = engine(&state)
        .check_rules(&tenant.id, &target, &b.users)
        .await?;
    Ok(Json(json!({"data": checks})))
}

/// `GET /api/v1/tenants/{id}/targets/{target}/entitlements`: the target's groups and the
/// values its schemas advertise, read now (502 when the target cannot be read).
pub(super) async fn entitlements(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    Ok(
        match engine(&state).entitlements(&tenant.id, &target).await? {
            Ok(found) => (StatusCode::OK, Json(json!(found))),
            Err(e) => (
                StatusCode::BAD_GATEWAY,
                Json(json!({"ok": false, "error": e.to_string()})),
            ),
        },
    )
}

/// `POST /api/v1/tenants/{id}/targets/{target}/reapply`: every user evaluated again (roles,
/// rules, mappings) in a reconciling cycle; only the differences are sent.
pub(super) async fn reapply(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let t = state.directory.target(&tenant.id, &target).await?;
    state.directory.reconcile_target(&tenant.id, &t).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST /api/v1/tenants/{id}/targets/{target}/dry-run`: every request a whole cycle would
/// send, nothing sent: `{"counts", "requests", "truncated", "errors"}`.
pub(super) async fn dry_run(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let run = engine(&state).dry_run(&tenant.id, &target).await?;
    Ok(Json(json!(run)))
}

pub(super) async fn provision(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, target)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let (kind, id) = read::<Object>(&body, "object")?.parts()?;
    let done = engine(&state)
        .provision_now(&tenant.id, &target, kind, &id)
        .await?;
    Ok(match done {
        Ok(done) => (
            StatusCode::OK,
            Json(json!({"ok": true, "action": done.action, "name": done.name,
                "steps": done.steps})),
        ),
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            Json(json!({"ok": false, "error": e.to_string()})),
        ),
    })
}
