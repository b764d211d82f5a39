//! The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials): an identity provider
//! trades a tenant's client id and secret for an access token that opens the tenant's SCIM
//! endpoint for the tenant's configured lifetime. Client authentication by HTTP Basic or by
//! form fields (§2.3.1); errors are RFC 6749 §5.2 bodies. The only scope is `scim`.
//!
//! A client assertion (a federated JWT) is accepted once: its `jti` is remembered in the
//! database until it expires, so a replay is refused by every process.
//!
//! Failed attempts are counted per client id and per source address. The credential is always
//! checked first and a correct one is always accepted: only a wrong one, after ten failures in
//! a minute for its client id or its address, is answered 429 instead of 401. A client id is
//! not secret, so a limit that also refused the correct secret would let anyone who saw it
//! keep the tenant's provisioning down; a secret is 256 random bits, so the limit never had to
//! slow guessing, only to keep a noisy client from being answered at full speed.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use roster_directory::ClientRefusal;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::AppState;

/// How many failed attempts one client id, or one source address, may make within
/// [`FAILURE_WINDOW`] before further failures are answered 429.
const MAX_FAILURES: u32 = 10;
/// The window failed attempts are counted in.
const FAILURE_WINDOW: time::Duration = time::Duration::seconds(60);
/// How many client ids (and addresses) are counted at most; past it, expired windows are
/// dropped, and if none has expired a new key is not counted.
const MAX_TRACKED: usize = 100_000;
/// Client ids are counted by at most this many bytes (real ones are far shorter), so the map's
/// memory stays bounded whatever a client sends.
const MAX_KEY_BYTES: usize = 128;
/// The longest `jti` of a client assertion Roster remembers.
const MAX_ASSERTION_ID_BYTES: usize = 256;

/// Failed client authentications in this process, by client id and by source address, in
/// windows of [`FAILURE_WINDOW`] measured by the directory's clock.
#[derive(Default)]
pub struct FailureLimiter {
    by_client: Mutex<HashMap<String, (OffsetDateTime, u32)>>,
    by_address: Mutex<HashMap<IpAddr, (OffsetDateTime, u32)>>,
}

/// Counts one failure of `key` at `now`; returns how long until its window ends when the key
/// already had [`MAX_FAILURES`] in it.
fn count<K: Hash + Eq>(
    map: &Mutex<HashMap<K, (OffsetDateTime, u32)>>,
    key: K,
    now: OffsetDateTime,
) -> Option<Duration> {
    let mut map = map
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let live = |start: OffsetDateTime| start <= now && now - start < FAILURE_WINDOW;
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        map.retain(|_, (start, _)| live(*start));
        if map.len() >= MAX_TRACKED {
            return None;
        }
    }
    let entry = map.entry(key).or_insert((now, 0));
    if !live(entry.0) {
        *entry = (now, 0);
    }
    let limited = entry.1 >= MAX_FAILURES;
    entry.1 = entry.1.saturating_add(1);
    limited.then(|| (FAILURE_WINDOW - (now - entry.0)).unsigned_abs())
}

/// The key an address is counted under: an IPv4 address (IPv4-mapped IPv6 included) as it is,
/// an IPv6 address by its /64, which one host usually holds whole.
fn address_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

impl FailureLimiter {
    /// Records a failed client authentication; returns how long the client should wait when
    /// this failure is to be answered 429 (its client id or its address already failed
    /// [`MAX_FAILURES`] times in the window).
    pub fn failed(
        &self,
        client_id: &str,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let mut end = MAX_KEY_BYTES.min(client_id.len());
        while !client_id.is_char_boundary(end) {
            end -= 1;
        }
        let by_client = count(&self.by_client, client_id[..end].to_owned(), now);
        let by_address = address.and_then(|ip| count(&self.by_address, address_key(ip), now));
        by_client.max(by_address)
    }
}

/// The peer's address, when the server was started with it in the request's extensions.
pub fn peer_address(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_canonical())
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

/// Why no token was issued.
enum Failure {
    /// The client's proof was wrong: counted against its client id and address, and logged.
    Refused {
        /// What was wrong, for the log (never the secret or the assertion).
        reason: String,
        /// The client's tenant, when the client id names one.
        tenant: Option<String>,
        /// The answer when the client is not limited.
        response: Response,
    },
    /// Roster could not decide (the database away): not the client's failure.
    Server(Response),
}

/// `POST /oauth/token`: the client credentials grant, the client authenticated by its secret
/// (HTTP Basic or form) or by a JWT assertion from its tenant's trusted issuer (RFC 7523
/// §2.2, as Microsoft Entra ID's workload identity federation sends it); and the JWT bearer
/// grant (RFC 7523 §2.1) with a `client_id`.
pub async fn token(
    State(s): State<AppState>,
    extensions: Extensions,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let address = peer_address(&extensions);
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
        Some("authorization_code") if s.signin.is_some() => {
            if let Some(signin) = &s.signin {
                let response = roster_signin::token(signin, &form, &headers).await;
                // A wrong application secret counts as the client credentials grant's do.
                if response.status() == StatusCode::UNAUTHORIZED {
                    let client_id = roster_signin::client_id(&form, &headers).unwrap_or_default();
                    let wait = s
                        .oauth_failures
                        .failed(&client_id, address, s.directory.now());
                    if let Some(wait) = wait {
                        return too_many_failures(wait);
                    }
                }
                return response;
            }
            return invalid_request("authorization_code is not served here.");
        }
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
    let scope = match requested_scope(form.get("scope")) {
        Ok(scope) => scope,
        Err(r) => return *r,
    };
    let (client_id, proof) = match client_proof(&form, &headers, &grant) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let issued = match proof {
        Proof::Secret(secret) => match s.directory.client_credentials(&client_id, &secret).await {
            Ok(Ok(issued)) => Ok(issued),
            Ok(Err(ClientRefusal::UnknownClient)) => Err(Failure::Refused {
                reason: "unknown client id".into(),
                tenant: None,
                response: invalid_client(),
            }),
            Ok(Err(ClientRefusal::WrongSecret(tenant))) => Err(Failure::Refused {
                reason: "wrong client secret".into(),
                tenant: Some(tenant.to_string()),
                response: invalid_client(),
            }),
            Err(e) => Err(Failure::Server(server_error(e))),
        },
        Proof::Assertion(jwt) => federated_client(&s, &client_id, &jwt).await,
    };
    let slot = extensions.get::<crate::provlog::LogSlot>();
    match issued {
        Ok(issued) => {
            if let Some(slot) = slot {
                slot.note(|n| {
                    n.tenant = Some(issued.tenant.clone());
                    n.credential = format!("OAuth client {}", issued.client_id);
                });
            }
            tracing::info!(tenant = %issued.tenant, client_id = %issued.client_id, "access token issued");
            let mut body = json!({
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
            });
            if let Some(scope) = scope {
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
        Err(Failure::Server(r)) => r,
        Err(Failure::Refused {
            reason,
            tenant,
            response,
        }) => {
            // The log of the client's tenant shows the refusal (an unknown client has none).
            if let (Some(slot), Some(t)) = (slot, &tenant) {
                slot.note(|n| {
                    n.tenant = Some(roster_store::TenantId::new(t));
                    n.credential = format!(
                        "OAuth client {}",
                        client_id.chars().take(64).collect::<String>()
                    );
                });
            }
            let wait = s
                .oauth_failures
                .failed(&client_id, address, s.directory.now());
            tracing::info!(
                tenant = tenant.as_deref().unwrap_or("-"),
                client_id = ?client_id.chars().take(MAX_KEY_BYTES).collect::<String>(),
                address = %address.map_or_else(|| "-".to_owned(), |a| a.to_string()),
                reason = %reason,
                limited = wait.is_some(),
                "token request refused"
            );
            match wait {
                Some(wait) => too_many_failures(wait),
                None => response,
            }
        }
    }
}

/// The one scope Roster defines: the tenant's SCIM endpoint.
const SCIM_SCOPE: &str = "scim";

/// The scope a token request asks for: none (absent or empty) or [`SCIM_SCOPE`] (RFC 6749
/// §3.3: space-separated); anything else is `invalid_scope`, and what the client sent is
/// never echoed back.
fn requested_scope(scope: Option<&String>) -> Result<Option<&'static str>, Box<Response>> {
    let Some(scope) = scope else {
        return Ok(None);
    };
    let mut tokens = scope.split(' ').filter(|t| !t.is_empty()).peekable();
    if tokens.peek().is_none() {
        return Ok(None);
    }
    if tokens.all(|t| t == SCIM_SCOPE) {
        return Ok(Some(SCIM_SCOPE));
    }
    Err(Box::new(oauth_error(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        "Roster defines one scope, scim, which every token has: send scope=scim or no scope.",
    )))
}

/// The answer to a wrong credential from a client id or address that failed too often.
fn too_many_failures(wait: Duration) -> Response {
    let mut r = oauth_error(
        StatusCode::TOO_MANY_REQUESTS,
        "invalid_client",
        "Too many failed attempts for this client or from this address; wait before trying \
         again. The correct credentials are accepted meanwhile.",
    );
    if let Ok(v) = HeaderValue::from_str(&(wait.as_secs() + 1).to_string()) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

/// Issues an access token to `client_id` when `jwt` is a token its tenant's trusted issuer
/// signed for the configured audience and subject.
async fn federated_client(
    s: &AppState,
    client_id: &str,
    jwt: &str,
) -> Result<roster_directory::AccessToken, Failure> {
    let (client, ctx) = match s.directory.client(client_id).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return Err(Failure::Refused {
                reason: "unknown client id".into(),
                tenant: None,
                response: invalid_client(),
            });
        }
        Err(e) => return Err(Failure::Server(server_error(e))),
    };
    let tenant = Some(ctx.id().to_string());
    let Some(trust) = &ctx.settings.federation else {
        return Err(Failure::Refused {
            reason: "client assertion for a tenant that trusts no issuer".into(),
            tenant,
            response: oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "This organisation trusts no token issuer: configure one in Roster \
                 (roster tenant trust) or authenticate with the client secret.",
            ),
        });
    };
    let claims = match s.federator.verify(jwt, trust).await {
        Ok(claims) => claims,
        Err(e) => {
            return Err(Failure::Refused {
                reason: format!("client assertion refused: {e}"),
                tenant,
                response: oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    &format!("The client assertion was refused: {e}."),
                ),
            });
        }
    };
    let grant_error = |reason: &str, description: &str| Failure::Refused {
        reason: reason.to_owned(),
        tenant: tenant.clone(),
        response: oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", description),
    };
    // `jti` (RFC 7519 §4.1.7); Microsoft Entra ID's tokens carry their unique id as `uti`
    // instead.
    let Some(id) = ["jti", "uti"]
        .iter()
        .find_map(|c| claims.get(*c).and_then(Value::as_str))
        .filter(|id| !id.is_empty() && id.len() <= MAX_ASSERTION_ID_BYTES)
    else {
        return Err(grant_error(
            "client assertion without jti",
            "The client assertion has no jti claim: Roster remembers each assertion's jti to \
             refuse its replay.",
        ));
    };
    // Verified against the trust above: present and one of its issuers.
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let expires = claims
        .get("exp")
        .and_then(Value::as_f64)
        // Remembered one second past the last instant the verifier still accepts it (`exp`
        // plus the leeway, to the whole second), so no replay slips into that second.
        .map(|exp| exp.ceil() as i64 + crate::federation::LEEWAY_SECONDS as i64 + 1)
        .and_then(|exp| OffsetDateTime::from_unix_timestamp(exp).ok())
        .unwrap_or_else(|| s.directory.now() + time::Duration::days(1));
    match s
        .directory
        .first_use_of_assertion(issuer, id, expires)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return Err(grant_error(
                "client assertion replayed",
                "This client assertion was already used: ask its issuer for a new one.",
            ));
        }
        Err(e) => return Err(Failure::Server(server_error(e))),
    }
    s.directory
        .issue_access_token(&client, &ctx)
        .await
        .map_err(|e| Failure::Server(server_error(e)))
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
