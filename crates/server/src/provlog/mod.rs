//! The provisioning log at the edge: every request to a tenant's SCIM URL (and to the token
//! endpoint, once the client names its tenant) is seen here, with the first bytes of both
//! bodies, and queued for the [`recorder::Recorder`]. What the request did, and why it was
//! refused, is worked out by `roster-provlog` in the writer, off the request's path.

mod describers;
pub mod recorder;
mod tee;

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use roster_provlog::{BODY_LIMIT, Refusal, Seen};
use roster_store::TenantId;

use crate::AppState;
use recorder::Pending;
use tee::{Captured, Tee};

/// What the handlers tell the log of a request: its tenant (the token endpoint's, once the
/// client is known), the credential accepted, a refused token.
#[derive(Debug, Clone, Default)]
pub struct LogSlot(Arc<Mutex<Noted>>);

/// What a [`LogSlot`] holds.
#[derive(Debug, Default)]
pub struct Noted {
    /// The tenant, when the URL does not say it.
    pub tenant: Option<TenantId>,
    /// The credential accepted, never the secret.
    pub credential: String,
    /// The SHA-256 of a bearer token that was refused.
    pub refused_token: Option<[u8; 32]>,
    /// Why a credential was refused, when the handler knows.
    pub refusal: Option<Refusal>,
    /// The name of the resource the request changed, when the answer does not say it.
    pub subject: Option<String>,
}

impl LogSlot {
    /// Notes something of the request.
    pub fn note(&self, f: impl FnOnce(&mut Noted)) {
        f(&mut self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    fn take(&self) -> Noted {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// The tenant and the path below its base URL, for `/scim/v2/{tenant}/…`.
fn scim_path(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/scim/v2/")?;
    let (tenant, below) = rest.split_once('/').unwrap_or((rest, ""));
    (!tenant.is_empty() && tenant.len() <= 200).then_some((tenant, below))
}

/// The first `max` bytes of `text` at most, cut on a character boundary.
fn clipped(text: &str, max: usize) -> String {
    text[..text.floor_char_boundary(max)].to_owned()
}

fn header_text(req: &Request, name: header::HeaderName, max: usize) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| clipped(v, max))
        .unwrap_or_default()
}

/// The middleware: sees a tenant's SCIM requests and the token endpoint's, and queues them.
pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(recorder) = state.recorder.clone() else {
        return next.run(req).await;
    };
    let path = req.uri().path().to_owned();
    let (tenant, below) = match scim_path(&path) {
        Some((t, below)) => (Some(TenantId::new(t)), format!("/{below}")),
        None if path == "/oauth/token" => (None, path.clone()),
        None => return next.run(req).await,
    };
    let started = Instant::now();
    let at = state.directory.clock().now();
    let slot = LogSlot::default();
    let request_id = header_text(&req, header::HeaderName::from_static("x-request-id"), 64);
    let user_agent = header_text(&req, header::USER_AGENT, 256);
    let method = clipped(req.method().as_str(), 16);
    let query = req
        .uri()
        .query()
        .map(|q| clipped(q, 2048))
        .unwrap_or_default();
    let asked = Captured::default();
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(slot.clone());
    let body = Body::new(Tee::new(body, asked.clone(), BODY_LIMIT + 1));
    let response = next.run(Request::from_parts(parts, body)).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let status = response.status().as_u16();
    let normalizations = response
        .headers()
        .get("x-roster-normalizations")
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(',')
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let answered = Captured::default();
    let (parts, body) = response.into_parts();
    let kept = answered.clone();
    let body = Tee::new(body, answered, BODY_LIMIT + 1).then(move || {
        let noted = slot.take();
        let Some(tenant) = tenant.or(noted.tenant) else {
            return;
        };
        let seen = Seen {
            tenant,
            at,
            request_id,
            duration_ms,
            method,
            path: below,
            query,
            status,
            user_agent,
            credential: noted.credential,
            refusal: noted.refusal,
            normalizations,
            request_body: asked.take(),
            response_body: kept.take(),
            subject: noted.subject,
            holder: None,
        };
        recorder.submit(Pending {
            seen,
            refused_token: noted.refused_token,
        });
    });
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_clipped_on_a_character_boundary() {
        assert_eq!(clipped("abc", 16), "abc");
        assert_eq!(clipped("abcdef", 3), "abc");
        assert_eq!(clipped("aé", 2), "a");
        assert_eq!(clipped("aé", 3), "aé");
        assert_eq!(clipped("", 0), "");
    }

    #[test]
    fn a_scim_path_names_its_tenant() {
        assert_eq!(scim_path("/scim/v2/abc/Users/1"), Some(("abc", "Users/1")));
        assert_eq!(scim_path("/scim/v2/abc"), Some(("abc", "")));
        assert_eq!(scim_path("/scim/v2//Users"), None);
        assert_eq!(scim_path("/api/v1/tenants"), None);
        assert_eq!(
            scim_path(&format!("/scim/v2/{}/Users", "x".repeat(201))),
            None
        );
    }
}
