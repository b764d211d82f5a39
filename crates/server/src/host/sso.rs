//! `/api/v1/tenants/{id}/sso-connections`: a tenant's single sign-on connections, for a host
//! application that sets them up for its customers (`tenants:write`; reading also with
//! `directory:read`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_directory::Scope;
use roster_directory::sso::{Matched, NewSamlConnection, Preset, UserKey};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_ref};
use crate::AppState;

/// `GET /api/v1/tenants/{id}/sso-connections`.
pub(super) async fn list(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
) -> Result<Json<Value>, HostError> {
    app.require_any(&[Scope::DirectoryRead, Scope::TenantsWrite])?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let connections = state.directory.sso_connections(&tenant.id).await?;
    Ok(Json(json!({
        "data": connections
            .iter()
            .map(|c| roster_signin::connection_json(&state.config.public_url, &tenant.slug, c))
            .collect::<Vec<_>>(),
        "next_cursor": null,
    })))
}

/// The body that adds a SAML connection.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NewConnection {
    name: String,
    #[serde(default = "generic")]
    preset: String,
    protocol: Option<String>,
    metadata: String,
    #[serde(rename = "match")]
    match_on: Option<String>,
    claim: Option<String>,
    idp_initiated: Option<bool>,
    #[serde(default)]
    default: bool,
}

fn generic() -> String {
    "generic".to_owned()
}

/// `POST /api/v1/tenants/{id}/sso-connections`: 201 with the connection and the values to
/// paste into the identity provider.
pub(super) async fn create(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let new: NewConnection = serde_json::from_slice(&body)
        .map_err(|e| HostError::BadRequest(format!("the connection cannot be read: {e}")))?;
    if new.protocol.as_deref().is_some_and(|p| p != "saml") {
        return Err(HostError::BadRequest(
            "protocol must be saml (OpenID Connect connections are not served yet)".into(),
        ));
    }
    let preset = Preset::parse(&new.preset)?;
    let user_key = match (new.match_on, new.claim) {
        (None, None) => None,
        (m, c) => {
            let base = preset.user_key();
            Some(UserKey {
                claim: c.unwrap_or(base.claim),
                attribute: m
                    .as_deref()
                    .map(Matched::parse)
                    .transpose()?
                    .unwrap_or(base.attribute),
            })
        }
    };
    let connection = state
        .directory
        .add_saml_connection(
            &tenant.id,
            NewSamlConnection {
                name: new.name,
                preset,
                metadata: new.metadata,
                user_key,
                idp_initiated: new.idp_initiated,
                is_default: new.default,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(roster_signin::connection_json(
            &state.config.public_url,
            &tenant.slug,
            &connection,
        )),
    ))
}

/// `DELETE /api/v1/tenants/{id}/sso-connections/{connection}`: 204.
pub(super) async fn remove(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, connection)): Path<(String, String)>,
) -> Result<StatusCode, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    state
        .directory
        .remove_sso_connection(&tenant.id, &connection)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
