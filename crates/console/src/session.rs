//! Sessions from cookies, who may open which tenant, and CSRF tokens.

use axum::http::{HeaderMap, HeaderValue, header};
use roster_store::{ConsoleSession, Operator, Tenant};
use subtle::ConstantTimeEq;

use crate::ConsoleState;

/// The session cookie's name: `__Host-` prefixed (only this host, path `/`, Secure) when the
/// public URL is https.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-roster_session"
    } else {
        "roster_session"
    }
}

/// The cookie that binds a sign-in form to its browser, before any session.
pub fn form_cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-roster_form"
    } else {
        "roster_form"
    }
}

/// The value of the cookie `name`, if the request has it.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, path `/`, Secure when https; `max_age` in
/// seconds (0 removes it).
pub fn set_cookie(name: &str, value: &str, secure: bool, max_age: i64) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static("roster_session=; Max-Age=0"))
}

/// Whether two tokens are equal, in constant time.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Who is looking: the session, and its operator if it is one's.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The session.
    pub session: ConsoleSession,
    /// The operator, for an operator's session.
    pub operator: Option<Operator>,
    /// The cookie's secret (to end the session).
    pub secret: String,
}

impl Viewer {
    /// Whether this viewer may open `tenant`'s page: an operator any, an administrator only
    /// the tenant of its setup link.
    pub fn may_open(&self, tenant: &Tenant) -> bool {
        self.operator.is_some() || self.session.tenant_id.as_ref() == Some(&tenant.id)
    }

    /// Who this viewer is, as a decision records it.
    pub fn who(&self) -> String {
        match &self.operator {
            Some(op) => format!("operator {}", op.email),
            None => "the organisation's administrator".to_owned(),
        }
    }

    /// Whether a form's CSRF token is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        same(given, &self.session.csrf)
    }
}

/// The viewer of a request, if its cookie names a live session (an operator's session whose
/// operator is gone is none).
pub async fn viewer(state: &ConsoleState, headers: &HeaderMap) -> Option<Viewer> {
    let secret = cookie(headers, cookie_name(state.secure))?;
    let session = state.directory.console_session(secret).await.ok()??;
    let operator = match &session.operator_id {
        Some(id) => Some(state.directory.operator(id).await.ok()??),
        None => None,
    };
    Some(Viewer {
        session,
        operator,
        secret: secret.to_owned(),
    })
}
