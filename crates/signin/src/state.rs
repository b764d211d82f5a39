//! What a sign-in keeps between requests, sealed with the server key so that a browser can
//! neither read nor change it: the pending request (a cookie, bound to the browser that
//! started it), the signed-in session (a cookie), and the authorization code (handed to the
//! host application, used once).

use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::SignIn;

/// The cookie of a sign-in in progress.
pub const PENDING_COOKIE: &str = "roster_signin_pending";
/// The cookie of a signed-in browser.
pub const SESSION_COOKIE: &str = "roster_signin_session";
/// How long a sign-in may take at the identity provider, in seconds.
pub const PENDING_SECONDS: i64 = 600;
/// How long a browser stays signed in to Roster (the host application keeps its own session).
pub const SESSION_SECONDS: i64 = 3600;
/// How long a code lives, in seconds.
pub const CODE_SECONDS: i64 = 60;

/// What the host application asked `/oauth/authorize` for.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Authorize {
    pub client_id: String,
    pub redirect_uri: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub challenge: String,
    pub scope: String,
    /// The application asked for the user to authenticate again (`prompt=login`, or a
    /// `max_age` Roster's session is older than): the identity provider is asked to.
    #[serde(default)]
    pub force: bool,
}

/// A sign-in sent to the identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub tenant: String,
    pub connection: String,
    /// The SAML request's id, or the OpenID Connect `state`.
    pub request: String,
    /// What only this browser may know: the OpenID Connect nonce and PKCE verifier.
    #[serde(default)]
    pub secret: Option<String>,
    pub started: i64,
    pub authorize: Option<Authorize>,
    /// A test sign-in from the Provisioning & SSO page: it ends on a page with its trace, and
    /// signs no one in.
    #[serde(default)]
    pub test: bool,
}

/// A browser signed in through a connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub tenant: String,
    pub user: String,
    pub connection: String,
    /// When the person authenticated at the identity provider (the ID token's `auth_time`).
    pub auth_time: i64,
    pub amr: Vec<String>,
    /// When Roster's session began: it lasts [`SESSION_SECONDS`] from then. A session sealed
    /// without it has ended.
    #[serde(default)]
    pub since: i64,
}

/// An authorization code's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Code {
    pub id: String,
    pub authorize: Authorize,
    pub session: Session,
    pub expires: i64,
}

impl SignIn {
    /// `value` sealed for `context`, as URL-safe text.
    pub(crate) fn seal<T: Serialize>(&self, context: &str, value: &T) -> Option<String> {
        let clear = serde_json::to_vec(value).ok()?;
        let sealed = self.directory().seal_value(context, &clear).ok()?;
        Some(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// What [`SignIn::seal`] sealed for `context`; `None` when it does not open.
    pub(crate) fn open<T: DeserializeOwned>(&self, context: &str, text: &str) -> Option<T> {
        if text.len() > 8192 {
            return None;
        }
        let sealed = URL_SAFE_NO_PAD.decode(text.as_bytes()).ok()?;
        let clear = self.directory().open_value(context, &sealed)?;
        serde_json::from_slice(&clear).ok()
    }

    /// A `Set-Cookie` for `name`, `HttpOnly`, `Secure` behind https. A cookie the identity
    /// provider's POST must carry back is `SameSite=None` behind https (a cross-site POST
    /// carries no `Lax` cookie); over http (a test on loopback, where every port is the same
    /// site) it is `Lax`.
    pub(crate) fn cookie(&self, name: &str, value: &str, path: &str, seconds: i64) -> HeaderValue {
        let same_site = if self.0.secure { "None; Secure" } else { "Lax" };
        let text = format!(
            "{name}={value}; Path={path}; Max-Age={seconds}; HttpOnly; SameSite={same_site}"
        );
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

impl SignIn {
    /// The session's `Set-Cookie`: `SameSite=Lax` (no cross-site request needs it),
    /// `HttpOnly`, `Secure` behind https.
    pub(crate) fn session_cookie(&self, name: &str, value: &str, seconds: i64) -> HeaderValue {
        let secure = if self.0.secure { "; Secure" } else { "" };
        let text =
            format!("{name}={value}; Path=/; Max-Age={seconds}; HttpOnly; SameSite=Lax{secure}");
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A cookie's value from the request.
pub fn read_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}
