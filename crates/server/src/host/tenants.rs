//! The tenant API: a host application creates a tenant when a customer upgrades, changes or
//! deletes it, and makes a one-time setup link for the customer's administrator. Every write
//! needs an API key with `tenants:write`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_directory::{NewTenant, Scope, TenantChange, holdings_json};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_json, tenant_ref};
use crate::AppState;

/// A JSON body read into `T`; anything else is a 400 that says what is wrong.
fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, HostError> {
    if bytes.is_empty() {
        return Err(HostError::BadRequest(
            "the request needs a JSON body".into(),
        ));
    }
    // An object first: serde would also read a struct from a list (`[]` changing nothing),
    // and would name its own type for a string.
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| HostError::BadRequest(format!("the body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(HostError::BadRequest(
            "the body must be a JSON object".into(),
        ));
    }
    serde_json::from_value(value).map_err(|e| HostError::BadRequest(format!("the body: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateBody {
    name: String,
    #[serde(default)]
    external_id: Option<String>,
    #[serde(default)]
    plan: Option<String>,
}

/// `POST /api/v1/tenants` `{"name", "external_id"?, "plan"?}`: 201 with the tenant.
pub(super) async fn create(
    app: HostApp,
    State(state): State<AppState>,
    bytes: Bytes,
) -> Result<Response, HostError> {
    app.require(Scope::TenantsWrite)?;
    let b: CreateBody = body(&bytes)?;
    let new = NewTenant {
        name: b.name,
        external_id: b.external_id,
        plan: b.plan,
    };
    let tenant = state.directory.create_tenant_with(&new).await?;
    let location = format!("{}/api/v1/tenants/{}", state.config.public_url, tenant.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(tenant_json(&state, &tenant)),
    )
        .into_response())
}

/// `GET /api/v1/tenants/{id}`: the tenant, its settings and what it holds.
pub(super) async fn show(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    Ok(Json(detail(&state, &tenant).await?))
}

async fn detail(state: &AppState, tenant: &roster_store::Tenant) -> Result<Value, HostError> {
    let settings = roster_directory::TenantSettings::of(tenant).map_err(|error| {
        roster_directory::DirectoryError::UnreadableSetting {
            tenant: tenant.id.to_string(),
            error,
        }
    })?;
    let held = state.directory.tenant_holdings(&tenant.id).await?;
    let mut out = tenant_json(state, tenant);
    out["settings"] = serde_json::to_value(&settings)
        .map_err(|e| roster_directory::DirectoryError::Internal(e.to_string()))?;
    out["holds"] = holdings_json(&held);
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeBody {
    #[serde(default)]
    name: Option<String>,
    /// Absent: unchanged; `null`: removed.
    #[serde(default, deserialize_with = "present")]
    external_id: Option<Option<String>>,
    #[serde(default)]
    plan: Option<String>,
    #[serde(default)]
    settings: Option<serde_json::Map<String, Value>>,
}

/// A field that is present, `null` included.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A setting's value as `roster tenant set` reads it: `true`/`false` as on/off, numbers as
/// digits, a list as comma-separated names.
fn setting_text(key: &str, value: &Value) -> Result<String, HostError> {
    match value {
        // As `GET` shows a setting that is not set (`"hold_threshold": null`): not set.
        Value::Null => Ok(String::new()),
        Value::Bool(b) => Ok(if *b { "on" } else { "off" }.to_owned()),
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    HostError::BadRequest(format!("settings.{key}: a list of strings"))
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.join(",")),
        Value::Object(_) => Err(HostError::BadRequest(format!(
            "settings.{key}: an object is not a value it takes (a string, a number, \
             true/false, a list of strings, or null)"
        ))),
    }
}

/// `PATCH /api/v1/tenants/{id}` `{"name"?, "external_id"?, "plan"?, "settings"?}`: the tenant
/// as it is now. Settings change all or none.
pub(super) async fn change(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    bytes: Bytes,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let b: ChangeBody = body(&bytes)?;
    let settings: Vec<(String, String)> = b
        .settings
        .iter()
        .flatten()
        .map(|(k, v)| Ok((k.clone(), setting_text(k, v)?)))
        .collect::<Result<_, HostError>>()?;
    let change = TenantChange {
        name: b.name,
        external_id: b.external_id,
        plan: b.plan,
    };
    // Settings are checked before anything is written.
    if !settings.is_empty() {
        let mut check = roster_directory::TenantSettings::of(&tenant).map_err(|error| {
            roster_directory::DirectoryError::UnreadableSetting {
                tenant: tenant.id.to_string(),
                error,
            }
        })?;
        for (k, v) in &settings {
            check
                .set(k, v)
                .map_err(|e| HostError::BadRequest(format!("settings.{k}: {}", e.0)))?;
        }
    }
    let mut now = state.directory.change_tenant(&tenant.id, &change).await?;
    if !settings.is_empty() {
        state.directory.set_settings(&tenant.id, &settings).await?;
        now = tenant_ref(&state, tenant.id.as_str()).await?;
    }
    Ok(Json(detail(&state, &now).await?))
}

/// `DELETE /api/v1/tenants/{id}`: deletes the tenant and everything it holds; says what.
pub(super) async fn remove(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let removed = state.directory.delete_tenant(&tenant.id).await?;
    Ok(Json(json!({
        "id": tenant.id.as_str(),
        "deleted": true,
        "removed": holdings_json(&removed),
    })))
}

/// `GET /api/v1/tenants/{id}/hold`: `{"hold": …}`, the tenant's mass-change hold, active
/// or the last one, or `null`.
pub(super) async fn hold(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let status = state.directory.hold_status(&tenant.id).await?;
    Ok(Json(json!({"hold": status.map(|s| s.to_json())})))
}

/// `POST /api/v1/tenants/{id}/hold/release` (the held events are delivered in order) or
/// `…/hold/discard` (dropped): `{"hold": …}` as it ended; 404 when no hold is active.
pub(super) async fn end_hold(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, decision)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let end = match decision.as_str() {
        "release" => roster_store::HoldEnd::Release,
        "discard" => roster_store::HoldEnd::Discard,
        other => {
            return Err(HostError::NotFound(format!(
                "no hold decision {other:?}: release or discard"
            )));
        }
    };
    let tenant = tenant_ref(&state, &tenant).await?;
    let by = format!("API key {}", app.name);
    let status = state.directory.end_hold(&tenant.id, end, &by).await?;
    Ok(Json(json!({"hold": status.to_json()})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    #[serde(default)]
    expires_in_minutes: Option<i64>,
}

/// `POST /api/v1/tenants/{id}/portal-links` `{"expires_in_minutes"?}`: 201 with
/// `{"id", "url", "expires_at"}`; the URL opens the tenant's page once.
pub(super) async fn create_link(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    bytes: Bytes,
) -> Result<Response, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let b: LinkBody = if bytes.is_empty() {
        LinkBody::default()
    } else {
        body(&bytes)?
    };
    let issued = state
        .directory
        .create_portal_link(
            &tenant.id,
            b.expires_in_minutes.map(time::Duration::minutes),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": issued.link.id,
            "url": format!("{}/portal/open/{}", state.config.public_url, issued.secret),
            "expires_at": roster_scim::value::format_datetime(issued.link.expires_at),
        })),
    )
        .into_response())
}

/// `GET /api/v1/tenants/{id}/portal-links`: the setup links not yet opened (never their URLs).
pub(super) async fn links(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let links = state.directory.portal_links(&tenant.id).await?;
    Ok(Json(json!({
        "data": links.iter().map(|l| json!({
            "id": l.id,
            "created_at": roster_scim::value::format_datetime(l.created_at),
            "expires_at": roster_scim::value::format_datetime(l.expires_at),
        })).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

/// `DELETE /api/v1/tenants/{id}/portal-links/{link}`: 204; the link no longer opens.
pub(super) async fn revoke_link(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, link)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    state
        .directory
        .revoke_portal_link(&tenant.id, &link)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/plans`: every plan and what it includes.
pub(super) async fn plans(
    app: HostApp,
    State(state): State<AppState>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let plans = state.directory.plans().await?;
    Ok(Json(json!({
        "data": plans.iter().map(|p| json!({
            "name": p.name,
            "provisioning": p.provisioning,
            "sso": p.sso,
        })).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}
