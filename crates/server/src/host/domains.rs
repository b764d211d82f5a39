//! `/api/v1/tenants/{id}/domains`: the e-mail domains that lead a sign-in to a tenant
//! (`/auth/login?email=`). A host application adds one verified through DNS (the tenant
//! publishes the TXT record `GET …/domains/{domain}/dns-record` names) or, when it has
//! verified the domain itself, as `"verification": "manual"`, as the operator's
//! `roster sso add-domain` does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_directory::Scope;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_ref};
use crate::AppState;

/// `GET /api/v1/tenants/{id}/domains`.
pub(super) async fn list(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let domains = state.directory.domains(&tenant.id).await?;
    Ok(Json(json!({
        "data": domains.iter().map(|d| json!({"domain": d})).collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

/// `GET /api/v1/tenants/{id}/domains/{domain}/dns-record`: the TXT record that verifies it.
pub(super) async fn record(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let challenge = state.directory.domain_challenge(&tenant.id, &domain)?;
    Ok(Json(json!({
        "domain": challenge.domain,
        "type": "TXT",
        "name": challenge.name,
        "value": challenge.value,
    })))
}

/// The body that adds a domain.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewDomain {
    domain: String,
    /// `dns` (the default: the TXT record is looked up now) or `manual`.
    #[serde(default = "dns")]
    verification: String,
}

fn dns() -> String {
    "dns".to_owned()
}

/// `POST /api/v1/tenants/{id}/domains`: 201 with the domain once verified; 400 with what to
/// publish when its TXT record is not there.
pub(super) async fn create(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let new: NewDomain = serde_json::from_slice(&body)
        .map_err(|e| HostError::BadRequest(format!("the domain cannot be read: {e}")))?;
    let domain = match new.verification.as_str() {
        "dns" => {
            state
                .directory
                .verify_domain(&tenant.id, &new.domain)
                .await?
        }
        "manual" => state.directory.add_domain(&tenant.id, &new.domain).await?,
        other => {
            return Err(HostError::BadRequest(format!(
                "verification is dns or manual, not {other:?}"
            )));
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": domain, "verification": new.verification})),
    ))
}

/// `DELETE /api/v1/tenants/{id}/domains/{domain}`: 204.
pub(super) async fn remove(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, domain)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    state.directory.remove_domain(&tenant.id, &domain).await?;
    Ok(StatusCode::NO_CONTENT)
}
