//! `/api/v1/tenants/{id}/sso-connections`: a tenant's single sign-on connections, for a host
//! application that sets them up for its customers (`tenants:write`; reading also with
//! `directory:read`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use roster_directory::Scope;
use roster_directory::sso::{Matched, NewOidcConnection, NewSamlConnection, Preset, UserKey};
use roster_directory::sso_changes::ConnectionChange;
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
    /// SAML: the identity provider's metadata, or its URL (read now and every day).
    metadata: Option<String>,
    metadata_url: Option<String>,
    /// OpenID Connect: the issuer, Roster's client id and secret there, scopes.
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
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
    let preset = Preset::parse(&new.preset)?;
    let oidc = match new.protocol.as_deref() {
        None | Some("saml") => false,
        Some("oidc") => true,
        Some(other) => {
            return Err(HostError::BadRequest(format!(
                "protocol is saml or oidc, not {other:?}"
            )));
        }
    };
    let base = if oidc {
        preset.oidc_user_key()
    } else {
        preset.user_key()
    };
    let user_key = match (new.match_on, new.claim) {
        (None, None) => None,
        (m, c) => Some(UserKey {
            claim: c.unwrap_or(base.claim),
            attribute: m
                .as_deref()
                .map(Matched::parse)
                .transpose()?
                .unwrap_or(base.attribute),
        }),
    };
    let missing = |what: &str| HostError::BadRequest(format!("{what} is required"));
    let connection = if oidc {
        state
            .directory
            .add_oidc_connection(
                &tenant.id,
                NewOidcConnection {
                    name: new.name,
                    preset,
                    issuer: new.issuer.ok_or_else(|| missing("issuer"))?,
                    client_id: new.client_id.ok_or_else(|| missing("client_id"))?,
                    client_secret: new.client_secret.ok_or_else(|| missing("client_secret"))?,
                    scopes: new.scopes,
                    user_key,
                    is_default: new.default,
                },
            )
            .await?
    } else {
        state
            .directory
            .add_saml_connection(
                &tenant.id,
                NewSamlConnection {
                    name: new.name,
                    preset,
                    metadata: match (new.metadata, &new.metadata_url) {
                        (Some(xml), _) => xml,
                        (None, Some(url)) => match &state.signin {
                            Some(signin) => signin.fetch_metadata(url).await?,
                            None => return Err(missing("metadata")),
                        },
                        (None, None) => return Err(missing("metadata or metadata_url")),
                    },
                    user_key,
                    idp_initiated: new.idp_initiated,
                    is_default: new.default,
                    metadata_url: new.metadata_url,
                },
            )
            .await?
    };
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

/// The body that changes a connection: any of these.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Change {
    default: Option<bool>,
    idp_initiated: Option<bool>,
    #[serde(rename = "match")]
    match_on: Option<String>,
    claim: Option<String>,
    metadata: Option<String>,
    client_secret: Option<String>,
}

/// `PATCH /api/v1/tenants/{id}/sso-connections/{connection}`: 200 with the connection as it
/// now is.
pub(super) async fn change(
    app: HostApp,
    State(state): State<AppState>,
    Path((tenant, connection)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::TenantsWrite)?;
    let tenant = tenant_ref(&state, &tenant).await?;
    let change: Change = serde_json::from_slice(&body)
        .map_err(|e| HostError::BadRequest(format!("the change cannot be read: {e}")))?;
    let user_key = match (change.match_on, change.claim) {
        (None, None) => None,
        (m, c) => {
            let current = state
                .directory
                .sso_connection(&tenant.id, Some(&connection))
                .await?
                .user_key()
                .clone();
            Some(UserKey {
                claim: c.unwrap_or(current.claim),
                attribute: m
                    .as_deref()
                    .map(Matched::parse)
                    .transpose()?
                    .unwrap_or(current.attribute),
            })
        }
    };
    let changed = state
        .directory
        .change_sso_connection(
            &tenant.id,
            &connection,
            ConnectionChange {
                is_default: change.default,
                idp_initiated: change.idp_initiated,
                user_key,
                metadata: change.metadata,
                client_secret: change.client_secret,
            },
        )
        .await?;
    Ok(Json(roster_signin::connection_json(
        &state.config.public_url,
        &tenant.slug,
        &changed,
    )))
}
