//! The host application's API under `/api/v1`, authenticated by API keys (`roster apikey
//! create`), never by a tenant's SCIM token: the event feed and reads (`reads`), and the
//! tenant API that onboards customers (`tenants`). Each key has scopes: `events:read`,
//! `directory:read`, `tenants:write`; a route names the one it needs.
//!
//! Errors are problem details (RFC 9457, `application/problem+json`): `type`, `title`,
//! `status`, `detail`, and `code`, a stable word to branch on.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use roster_directory::{DirectoryError, Scope, TenantRef};
use roster_store::Tenant;
use serde_json::{Value, json};

use crate::AppState;

mod domains;
mod logs;
mod reads;
mod sso;
mod targets;
mod tenants;

/// What a host-application request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// No API key, or not a live one.
    #[error("a live API key is required (Authorization: Bearer rsk_...)")]
    Unauthorized,
    /// A key without the scope the route needs.
    #[error("this API key lacks the scope {0}; create a key with --scope {0}")]
    Forbidden(&'static str),
    /// A request that cannot be read.
    #[error("{0}")]
    BadRequest(String),
    /// No such tenant, group or link.
    #[error("{0}")]
    NotFound(String),
    /// A method the endpoint does not take.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A directory failure.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

impl HostError {
    /// The status, the code and the detail shown.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        let shown = self.to_string();
        match self {
            HostError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized", shown),
            HostError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", shown),
            HostError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", shown),
            HostError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found", shown),
            HostError::MethodNotAllowed(_) => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", shown)
            }
            HostError::Directory(e) => match e {
                DirectoryError::NotFound { .. } | DirectoryError::TenantNotFound(_) => {
                    (StatusCode::NOT_FOUND, "not_found", shown)
                }
                DirectoryError::TenantTaken { .. } | DirectoryError::Conflict(_) => {
                    (StatusCode::CONFLICT, "conflict", shown)
                }
                DirectoryError::Setting(_)
                | DirectoryError::Scim(_)
                | DirectoryError::UnknownMember(_)
                | DirectoryError::AmbiguousTenant { .. } => {
                    (StatusCode::BAD_REQUEST, "bad_request", shown)
                }
                DirectoryError::PreconditionFailed(_) => (
                    StatusCode::PRECONDITION_FAILED,
                    "precondition_failed",
                    shown,
                ),
                DirectoryError::Sealing(_) => (StatusCode::CONFLICT, "sealing", shown),
                DirectoryError::Unavailable(cause) => {
                    tracing::error!(%cause, "storage unavailable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        "unavailable",
                        "The service is temporarily unavailable; retry later.".to_owned(),
                    )
                }
                DirectoryError::UnreadableSetting { .. } | DirectoryError::Internal(_) => {
                    tracing::error!(cause = %e, "internal error");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "internal",
                        "An internal error occurred.".to_owned(),
                    )
                }
            },
        }
    }
}

impl IntoResponse for HostError {
    fn into_response(self) -> Response {
        let (status, code, detail) = self.parts();
        let body = json!({
            "type": format!("urn:roster:problem:{code}"),
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": detail,
            "code": code,
        });
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"roster\""),
            );
        }
        response
    }
}

/// A request authenticated with a live API key, and what the key may do.
pub struct HostApp {
    scopes: Vec<String>,
    name: String,
}

impl HostApp {
    /// The key's name (what decisions record).
    fn name(&self) -> &str {
        &self.name
    }

    /// Refuses unless the key has `scope`.
    fn require(&self, scope: Scope) -> Result<(), HostError> {
        self.require_any(&[scope])
    }

    /// Refuses unless the key has one of `scopes` (the first is named in the refusal).
    fn require_any(&self, scopes: &[Scope]) -> Result<(), HostError> {
        if scopes
            .iter()
            .any(|s| self.scopes.iter().any(|k| k == s.as_str()))
        {
            Ok(())
        } else {
            Err(HostError::Forbidden(scopes[0].as_str()))
        }
    }
}

impl FromRequestParts<AppState> for HostApp {
    type Rejection = HostError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, HostError> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, rest) = v.trim().split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .ok_or(HostError::Unauthorized)?;
        match state.directory.authenticate_api_key(key).await? {
            Some(record) => Ok(HostApp {
                scopes: record.scopes,
                name: record.name,
            }),
            None => Err(HostError::Unauthorized),
        }
    }
}

/// The tenant a path names: its id, or `external_id:VALUE`.
async fn tenant_ref(state: &AppState, text: &str) -> Result<Tenant, HostError> {
    state
        .directory
        .tenant_by(&TenantRef::parse(text))
        .await
        .map_err(|e| match e {
            DirectoryError::TenantNotFound(t) => HostError::NotFound(format!("no tenant {t}")),
            e => e.into(),
        })
}

/// A tenant as the API shows it.
fn tenant_json(state: &AppState, t: &Tenant) -> Value {
    json!({
        "id": t.id.as_str(),
        "slug": t.slug,
        "name": t.name,
        "external_id": t.external_id,
        "plan": t.plan.name,
        "includes": {"provisioning": t.plan.provisioning, "sso": t.plan.sso},
        "provisioning_url": state.config.tenant_base(&t.id),
        "portal_url": format!("{}/portal/{}", state.config.public_url, t.slug),
        "created_at": roster_scim::value::format_datetime(t.created_at),
    })
}

/// The routes, to nest under `/api/v1`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/events", get(reads::events))
        .route("/tenants", get(reads::tenants).post(tenants::create))
        .route(
            "/tenants/{tenant}",
            get(tenants::show)
                .patch(tenants::change)
                .delete(tenants::remove),
        )
        .route("/tenants/{tenant}/hold", get(tenants::hold))
        .route("/tenants/{tenant}/hold/{decision}", post(tenants::end_hold))
        .route(
            "/tenants/{tenant}/portal-links",
            post(tenants::create_link).get(tenants::links),
        )
        .route(
            "/tenants/{tenant}/portal-links/{link}",
            delete(tenants::revoke_link),
        )
        .route("/tenants/{tenant}/users", get(reads::users))
        .route("/tenants/{tenant}/groups", get(reads::groups))
        .route(
            "/tenants/{tenant}/groups/{group}/members",
            get(reads::members),
        )
        .route(
            "/tenants/{tenant}/provisioning-logs",
            get(logs::provisioning_logs),
        )
        .route(
            "/tenants/{tenant}/sso-connections",
            get(sso::list).post(sso::create),
        )
        .route(
            "/tenants/{tenant}/sso-connections/{connection}",
            delete(sso::remove).patch(sso::change),
        )
        .route(
            "/tenants/{tenant}/domains",
            get(domains::list).post(domains::create),
        )
        .route(
            "/tenants/{tenant}/domains/{domain}",
            delete(domains::remove),
        )
        .route(
            "/tenants/{tenant}/domains/{domain}/dns-record",
            get(domains::record),
        )
        .route(
            "/tenants/{tenant}/targets",
            get(targets::list).post(targets::create),
        )
        .route(
            "/tenants/{tenant}/targets/{target}",
            get(targets::show)
                .patch(targets::change)
                .delete(targets::remove),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/test",
            post(targets::test),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/restart",
            post(targets::restart),
        )
        .route("/tenants/{tenant}/approvals", get(targets::approvals))
        .route(
            "/tenants/{tenant}/roles",
            get(targets::roles).put(targets::set_roles),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/check",
            post(targets::check),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/entitlements",
            get(targets::entitlements),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/reapply",
            post(targets::reapply),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/approvals/{decision}",
            post(targets::decide),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/dry-run",
            post(targets::dry_run),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/provision",
            post(targets::provision),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/assignments",
            get(targets::assignments).post(targets::assign),
        )
        .route(
            "/tenants/{tenant}/targets/{target}/assignments/{kind}/{id}",
            delete(targets::unassign),
        )
        .route("/plans", get(tenants::plans))
        // The API answers in its own error shape (problem details) for what it lacks too.
        .method_not_allowed_fallback(|method: axum::http::Method| async move {
            HostError::MethodNotAllowed(format!("{method} is not allowed on this endpoint"))
        })
        .fallback(|| async { HostError::NotFound("no such endpoint of the API".into()) })
}
