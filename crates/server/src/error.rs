//! The HTTP edge's error type: every failure becomes a SCIM error body (RFC 7644 §3.12) with an
//! exhaustive mapping; a 5xx says nothing of its cause, which is logged with the request id.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_directory::DirectoryError;
use roster_scim::ScimType;
use serde_json::json;

/// Everything a SCIM request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A directory error (including protocol errors from the SCIM crate).
    #[error(transparent)]
    Directory(#[from] DirectoryError),
    /// No bearer token at all.
    #[error("unauthorized")]
    Unauthorized,
    /// A bearer token that does not open this tenant: unknown, expired, revoked, another
    /// tenant's, or a federated token that does not verify (RFC 6750 `invalid_token`).
    #[error("{0}")]
    InvalidToken(String),
    /// An unknown endpoint or resource.
    #[error("{0}")]
    NotFound(String),
    /// A method the endpoint does not allow.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A request the endpoint refuses outright (a filter on a discovery endpoint).
    #[error("{0}")]
    Forbidden(String),
    /// A body over the configured limit.
    #[error("the request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// A Bulk request with more operations than advertised.
    #[error("more than {0} bulk operations")]
    TooManyOperations(usize),
    /// A body that is not JSON, or a query parameter that cannot be read.
    #[error("{0}")]
    InvalidSyntax(String),
    /// A media type the service does not speak.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A request that took longer than the server's limit (its body, or its work).
    #[error("the request took longer than {0:?}")]
    Timeout(std::time::Duration),
}

impl From<roster_scim::Error> for ApiError {
    fn from(e: roster_scim::Error) -> Self {
        ApiError::Directory(DirectoryError::Scim(e))
    }
}

/// Builds an RFC 7644 error response.
pub fn scim_error(status: StatusCode, scim_type: Option<ScimType>, detail: &str) -> Response {
    let mut body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t.as_str());
    }
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(crate::SCIM_CONTENT_TYPE),
    );
    response
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Directory(e) => directory_error(e),
            ApiError::Unauthorized => {
                let mut r = scim_error(
                    StatusCode::UNAUTHORIZED,
                    None,
                    "Authentication failed: send the tenant's Secret Token as \
                     'Authorization: Bearer <token>' on the tenant's Provisioning URL.",
                );
                r.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"roster\""),
                );
                r
            }
            ApiError::InvalidToken(detail) => {
                let mut r = scim_error(StatusCode::UNAUTHORIZED, None, &detail);
                // RFC 6750 §3: the description is a quoted string without quotes or
                // backslashes.
                let description: String = detail
                    .chars()
                    .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
                    .collect();
                let challenge = format!(
                    "Bearer realm=\"roster\", error=\"invalid_token\", error_description=\"{description}\""
                );
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
                r
            }
            ApiError::NotFound(d) => scim_error(StatusCode::NOT_FOUND, None, &d),
            ApiError::MethodNotAllowed(d) => scim_error(StatusCode::METHOD_NOT_ALLOWED, None, &d),
            ApiError::Forbidden(d) => scim_error(StatusCode::FORBIDDEN, None, &d),
            ApiError::PayloadTooLarge(n) => scim_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                &format!("The request body exceeds the limit of {n} bytes."),
            ),
            ApiError::TooManyOperations(n) => scim_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                None,
                &format!("A Bulk request may hold at most {n} operations (maxOperations)."),
            ),
            ApiError::InvalidSyntax(d) => {
                scim_error(StatusCode::BAD_REQUEST, Some(ScimType::InvalidSyntax), &d)
            }
            ApiError::Timeout(limit) => {
                let mut r = scim_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    &format!(
                        "The request took longer than {} seconds and was abandoned; a write it \
                         held may or may not have been made. Try again.",
                        limit.as_secs()
                    ),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            ApiError::UnsupportedMediaType(d) => {
                scim_error(StatusCode::UNSUPPORTED_MEDIA_TYPE, None, &d)
            }
        }
    }
}

fn directory_error(e: DirectoryError) -> Response {
    match e {
        DirectoryError::Scim(e) => {
            let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
            scim_error(status, Some(e.scim_type()), &e.to_string())
        }
        DirectoryError::NotFound { kind, id } => scim_error(
            StatusCode::NOT_FOUND,
            None,
            &format!("{kind} {id} not found"),
        ),
        DirectoryError::TenantNotFound(_) => {
            scim_error(StatusCode::NOT_FOUND, None, "Tenant not found")
        }
        e @ DirectoryError::AmbiguousTenant { .. } => {
            scim_error(StatusCode::BAD_REQUEST, None, &e.to_string())
        }
        DirectoryError::Conflict(attr) => scim_error(
            StatusCode::CONFLICT,
            Some(ScimType::Uniqueness),
            &format!("{attr} is already in use in this tenant."),
        ),
        DirectoryError::PreconditionFailed(_) => scim_error(
            StatusCode::PRECONDITION_FAILED,
            None,
            "The resource has changed since the version given in If-Match; read it again.",
        ),
        DirectoryError::Setting(d) => {
            scim_error(StatusCode::BAD_REQUEST, Some(ScimType::InvalidValue), &d)
        }
        // Neither arises from a SCIM request; mapped for completeness.
        taken @ DirectoryError::TenantTaken { .. } => scim_error(
            StatusCode::CONFLICT,
            Some(ScimType::Uniqueness),
            &taken.to_string(),
        ),
        DirectoryError::Sealing(cause) => {
            tracing::error!(%cause, "a sealed value cannot be opened");
            scim_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "An internal error occurred.",
            )
        }
        DirectoryError::UnknownMember(id) => scim_error(
            StatusCode::BAD_REQUEST,
            Some(ScimType::InvalidValue),
            &format!("members: {id} is not a user or group of this tenant"),
        ),
        DirectoryError::Unavailable(cause) => {
            tracing::error!(%cause, "storage unavailable");
            scim_error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "The service is temporarily unavailable; retry later.",
            )
        }
        DirectoryError::UnreadableSetting { tenant, error } => {
            tracing::error!(%tenant, %error, "a tenant's settings cannot be read");
            scim_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "This organisation's settings cannot be read; the operator has been told.",
            )
        }
        DirectoryError::Internal(cause) => {
            tracing::error!(%cause, "internal error");
            scim_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "An internal error occurred.",
            )
        }
    }
}
