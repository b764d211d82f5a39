//! The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials): an identity provider
//! trades a tenant's client id and secret for an access token that opens the tenant's SCIM
//! endpoint for the tenant's configured lifetime. Client authentication by HTTP Basic or by
//! form fields (§2.3.1); errors are RFC 6749 §5.2 bodies. Failed attempts are limited per
//! client id, so that a secret cannot be guessed at speed.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use crate::AppState;

/// How many failed attempts one client id may make within [`FAILURE_WINDOW`].
const MAX_FAILURES: u32 = 10;
/// The window failed attempts are counted in.
const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// Failed client authentications by client id, in this process.
#[derive(Default)]
pub struct FailureLimiter {
    failures: Mutex<HashMap<String, (Instant, u32)>>,
}

impl FailureLimiter {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, u32)>> {
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long the client must wait before trying again, if it is locked out.
    fn blocked(&self, client_id: &str) -> Option<Duration> {
        let map = self.lock();
        let (start, n) = map.get(client_id)?;
        let elapsed = start.elapsed();
        (*n >= MAX_FAILURES && elapsed < FAILURE_WINDOW).then(|| FAILURE_WINDOW - elapsed)
    }

    fn failed(&self, client_id: &str) {
        let mut map = self.lock();
        if map.len() >= 100_000 {
            map.retain(|_, (start, _)| start.elapsed() < FAILURE_WINDOW);
        }
        let entry = map
            .entry(client_id.to_owned())
            .or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= FAILURE_WINDOW {
            *entry = (Instant::now(), 0);
        }
        entry.1 += 1;
    }

    fn succeeded(&self, client_id: &str) {
        self.lock().remove(client_id);
    }
}

/// An RFC 6749 §5.2 error response.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"error": error, "error_description": description}).to_string(),
    )
        .into_response();
    no_store(r.headers_mut());
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"roster\""),
        );
    }
    r
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

fn invalid_request(description: &str) -> Response {
    oauth_error(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_client() -> Response {
    oauth_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Client authentication failed: check the client id and client secret Roster issued \
         for this organisation.",
    )
}

/// `client_id:client_secret` from an HTTP Basic header, each form-url-decoded (§2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), Response>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let bad = || invalid_request("The Authorization header is not valid HTTP Basic.");
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) else {
        return Some(Err(bad()));
    };
    let Ok(text) = String::from_utf8(decoded) else {
        return Some(Err(bad()));
    };
    let Some((id, secret)) = text.split_once(':') else {
        return Some(Err(bad()));
    };
    let decode = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some(Ok((decode(id), decode(secret))))
}

/// `client_assertion_type` of a JWT used for client authentication (RFC 7523 §2.2).
const JWT_CLIENT_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The JWT bearer grant (RFC 7523 §2.1).
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How a client proved who it is.
enum Proof {
    /// Its client secret.
    Secret(String),
    /// A JWT its tenant's trusted issuer signed (workload identity federation).
    Assertion(String),
}

/// Reads which client is asking and how it proves it, from the form and the Authorization
/// header.
fn client_proof(
    form: &HashMap<String, String>,
    headers: &HeaderMap,
    grant: &str,
) -> Result<(String, Proof), Box<Response>> {
    let basic = basic_credentials(headers).transpose().map_err(Box::new)?;
    let assertion = if grant == JWT_BEARER_GRANT {
        Some(form.get("assertion").ok_or_else(|| {
            Box::new(invalid_request(
                "The jwt-bearer grant needs an assertion parameter (RFC 7523 §2.1).",
            ))
        })?)
    } else if let Some(kind) = form.get("client_assertion_type") {
        if kind != JWT_CLIENT_ASSERTION {
            return Err(Box::new(invalid_request(&format!(
                "client_assertion_type must be {JWT_CLIENT_ASSERTION}."
            ))));
        }
        Some(form.get("client_assertion").ok_or_else(|| {
            Box::new(invalid_request(
                "client_assertion_type was sent without a client_assertion.",
            ))
        })?)
    } else {
        None
    };
    let secret_in_form = form.get("client_secret");
    let methods = usize::from(basic.is_some())
        + usize::from(secret_in_form.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(Box::new(invalid_request(
            "Authenticate the client one way only: HTTP Basic, client_secret or a client \
             assertion.",
        )));
    }
    if let Some((id, secret)) = basic {
        return Ok((id, Proof::Secret(secret)));
    }
    let Some(id) = form.get("client_id").cloned() else {
        return Err(Box::new(invalid_client()));
    };
    match (secret_in_form, assertion) {
        (Some(secret), None) => Ok((id, Proof::Secret(secret.clone()))),
        (None, Some(jwt)) => Ok((id, Proof::Assertion(jwt.clone()))),
        _ => Err(Box::new(invalid_client())),
    }
}

/// `POST /oauth/token`: the client credentials grant, the client authenticated by its secret
/// (HTTP Basic or form) or by a JWT assertion from its tenant's trusted issuer (RFC 7523
/// §2.2, as Microsoft Entra ID's workload identity federation sends it); and the JWT bearer
/// grant (RFC 7523 §2.1) with a `client_id`.
pub async fn token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut form: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(&body) {
        if form
            .insert(k.clone().into_owned(), v.into_owned())
            .is_some()
        {
            return invalid_request(&format!("The parameter {k} appears more than once."));
        }
    }
    let grant = match form.get("grant_type").map(String::as_str) {
        None => {
            return invalid_request("grant_type is missing: send grant_type=client_credentials.");
        }
        Some(g @ ("client_credentials" | JWT_BEARER_GRANT)) => g.to_owned(),
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!(
                    "Roster issues tokens for grant_type=client_credentials (or the RFC 7523 \
                     jwt-bearer grant), not {other}."
                ),
            );
        }
    };
    let (client_id, proof) = match client_proof(&form, &headers, &grant) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    if let Some(wait) = s.oauth_failures.blocked(&client_id) {
        let mut r = oauth_error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_client",
            "Too many failed attempts for this client; wait before trying again.",
        );
        if let Ok(v) = HeaderValue::from_str(&(wait.as_secs() + 1).to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return r;
    }
    let issued = match proof {
        Proof::Secret(secret) => s.directory.client_credentials(&client_id, &secret).await,
        Proof::Assertion(jwt) => match federated_client(&s, &client_id, &jwt).await {
            Ok(issued) => Ok(Some(issued)),
            Err(r) => {
                s.oauth_failures.failed(&client_id);
                return r;
            }
        },
    };
    match issued {
        Ok(Some(issued)) => {
            s.oauth_failures.succeeded(&client_id);
            tracing::info!(tenant = %issued.tenant, client_id = %issued.client_id, "access token issued");
            let mut body = json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            });
            if let Some(scope) = form.get("scope") {
                body["scope"] = json!(scope);
            }
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            no_store(r.headers_mut());
            r
        }
        Ok(None) => {
            s.oauth_failures.failed(&client_id);
            invalid_client()
        }
        Err(e) => server_error(e),
    }
}

/// Issues an access token to `client_id` when `jwt` is a token its tenant's trusted issuer
/// signed for the configured audience and subject.
async fn federated_client(
    s: &AppState,
    client_id: &str,
    jwt: &str,
) -> Result<roster_directory::AccessToken, Response> {
    let (client, ctx) = match s.directory.client(client_id).await {
        Ok(Some(found)) => found,
        Ok(None) => return Err(invalid_client()),
        Err(e) => return Err(server_error(e)),
    };
    let Some(trust) = &ctx.settings.federation else {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "This organisation trusts no token issuer: configure one in Roster \
             (roster tenant trust) or authenticate with the client secret.",
        ));
    };
    if let Err(e) = s.federator.verify(jwt, trust).await {
        return Err(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            &format!("The client assertion was refused: {e}."),
        ));
    }
    s.directory
        .issue_access_token(&client, &ctx)
        .await
        .map_err(server_error)
}

fn server_error(e: roster_directory::DirectoryError) -> Response {
    if let roster_directory::DirectoryError::Unavailable(e) = &e {
        tracing::warn!(error = %e, "issuing an access token failed: database unavailable");
        return oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "Roster cannot issue a token right now; try again shortly.",
        );
    }
    tracing::error!(error = %e, "issuing an access token failed");
    oauth_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "Roster could not issue a token.",
    )
}
