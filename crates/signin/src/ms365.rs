//! Microsoft 365 for every tenant at once: one multi-tenant Entra application configured by
//! the operator (`--ms365-client-id`, its secret, the authority
//! `https://login.microsoftonline.com/organizations/v2.0`). The signed-in user's `tid` names
//! their Entra directory, which picks the Roster tenant bound to it (`roster sso bind-entra`,
//! or `roster tenant trust --entra`); the ID token's issuer is then checked against that
//! directory's issuer (the authority's `{tenantid}` template filled with the `tid`), never by
//! comparing with the template. The ID token is verified with `jsonwebtoken` against the
//! authority's keys and the directory's clock.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use roster_directory::sso::Connection;
use roster_sso::oidc::Refusal;
use roster_sso::sign_in::Failure;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::flow::{self, Outcome, Vouched, internal};
use crate::state::{Authorize, PENDING_COOKIE, PENDING_SECONDS, Pending};
use crate::trace::Trace;
use crate::{SignIn, pages};

/// The operator's multi-tenant Entra application.
#[derive(Clone)]
pub struct Ms365 {
    /// Its application (client) id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: String,
    /// The authority: `https://login.microsoftonline.com/organizations/v2.0`.
    pub authority: String,
}

impl std::fmt::Debug for Ms365 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ms365")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("authority", &self.authority)
            .finish()
    }
}

/// The name the shared connection has in URLs and traces.
pub const NAME: &str = "ms365";

fn refused(failure: Failure, status: StatusCode) -> Response {
    pages::refused(
        status,
        &failure.to_string(),
        &failure.hint(roster_sso::saml::Vendor::Entra),
        "",
    )
}

fn redirect_uri(signin: &SignIn) -> String {
    format!("{}/auth/oidc/{NAME}/callback", signin.public())
}

async fn configuration(signin: &SignIn, ms365: &Ms365) -> Result<Value, Refusal> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        ms365.authority.trim_end_matches('/')
    );
    signin.json_document(&url).await.map_err(Refusal::Discovery)
}

fn endpoint<'a>(config: &'a Value, name: &str) -> Result<&'a str, Refusal> {
    config
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Refusal::Discovery(format!("the configuration has no {name}")))
}

/// Sends the browser to Microsoft's sign-in for any organisation.
pub async fn start(signin: &SignIn, ms365: &Ms365, authorize: Option<Authorize>) -> Response {
    let config = match configuration(signin, ms365).await {
        Ok(c) => c,
        Err(r) => return refused(Failure::Oidc(r), StatusCode::BAD_GATEWAY),
    };
    let Ok(authorization) = endpoint(&config, "authorization_endpoint") else {
        return refused(
            Failure::Oidc(Refusal::Discovery("no authorization_endpoint".into())),
            StatusCode::BAD_GATEWAY,
        );
    };
    let random = || URL_SAFE_NO_PAD.encode(signin.directory().secrets().key());
    let (state, nonce, verifier) = (random(), random(), random());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let Ok(mut url) = url::Url::parse(authorization) else {
        return internal("the authorization endpoint is not a URL");
    };
    url.query_pairs_mut()
        .append_pair("client_id", &ms365.client_id)
        .append_pair("response_type", "code")
        .append_pair("redirect_uri", &redirect_uri(signin))
        .append_pair("scope", "openid email profile")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    if authorize.as_ref().is_some_and(|a| a.force) {
        url.query_pairs_mut().append_pair("prompt", "login");
    }
    let pending = Pending {
        tenant: String::new(),
        connection: NAME.to_owned(),
        request: state,
        secret: Some(format!("{nonce} {verifier}")),
        started: signin.directory().now().unix_timestamp(),
        authorize,
        test: false,
    };
    let Some(sealed) = signin.seal(flow::PENDING_CONTEXT, &pending) else {
        return internal("sealing the pending sign-in");
    };
    let mut response = Redirect::to(url.as_str()).into_response();
    response.headers_mut().insert(
        axum::http::header::SET_COOKIE,
        signin.cookie(PENDING_COOKIE, &sealed, "/auth/", PENDING_SECONDS),
    );
    response
}

/// `GET /auth/oidc/ms365/callback`.
pub async fn callback(
    State(signin): State<SignIn>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(ms365) = signin.ms365().cloned() else {
        return flow::not_found("sign-in");
    };
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .take(20)
            .collect();
    let now = signin.directory().now().unix_timestamp();
    let pending = crate::state::read_cookie(&headers, PENDING_COOKIE)
        .and_then(|v| signin.open::<Pending>(flow::PENDING_CONTEXT, v))
        .filter(|p| p.connection == NAME && now - p.started <= PENDING_SECONDS);
    let verified = match verify(&signin, &ms365, &params, pending.as_ref()).await {
        Ok(v) => v,
        Err(Ok(failure)) => return refused(failure, StatusCode::FORBIDDEN),
        Err(Err(e)) => return internal(e),
    };
    let (tenant, issuer, vouched) = verified;
    let ctx = match signin.directory().tenant_context(&tenant.id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return flow::not_found("organisation"),
        Err(e) => return internal(e),
    };
    let connection = Connection::microsoft_365(&tenant.id, &issuer, &ms365.client_id);
    let mut trace = Trace::start(&signin, &headers, format!("/auth/oidc/{NAME}/callback"));
    trace.step(format!(
        "ID token verified for Entra directory {} (issuer {issuer}): signature, audience, expiry and nonce",
        issuer
            .trim_end_matches("/v2.0")
            .rsplit('/')
            .next()
            .unwrap_or_default()
    ));
    let outcome: Outcome = if ctx.tenant.plan.sso {
        flow::match_user(&signin, &ctx, &connection, vouched, &mut trace).await
    } else {
        Err(Ok(Failure::NotInPlan))
    };
    flow::complete(
        &signin,
        &ctx,
        &connection,
        pending,
        &headers,
        trace,
        outcome,
        true,
    )
    .await
}

type Verified = (roster_store::Tenant, String, Vouched);

/// The answer's checks: state, code exchanged, the ID token's directory bound to a tenant,
/// its issuer that directory's, its signature, audience, expiry and nonce.
async fn verify(
    signin: &SignIn,
    ms365: &Ms365,
    params: &[(String, String)],
    pending: Option<&Pending>,
) -> Result<Verified, Result<Failure, roster_directory::DirectoryError>> {
    let fail = |r: Refusal| Err(Ok(Failure::Oidc(r)));
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    if let Some(error) = get("error") {
        return fail(Refusal::IdpError {
            error: error.chars().take(100).collect(),
            description: get("error_description").map(|d| d.chars().take(300).collect()),
        });
    }
    let state = get("state").unwrap_or_default();
    let Some(pending) =
        pending.filter(|p| bool::from(p.request.as_bytes().ct_eq(state.as_bytes())))
    else {
        return fail(Refusal::WrongState);
    };
    let Some((nonce, verifier)) = pending.secret.as_deref().and_then(|s| s.split_once(' ')) else {
        return fail(Refusal::WrongState);
    };
    let Some(code) = get("code") else {
        return fail(Refusal::IdpError {
            error: "no code".into(),
            description: None,
        });
    };
    let config = configuration(signin, ms365)
        .await
        .map_err(|r| Ok(Failure::Oidc(r)))?;
    let token_endpoint = endpoint(&config, "token_endpoint").map_err(|r| Ok(Failure::Oidc(r)))?;
    let answer = signin
        .post_form(
            token_endpoint,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &redirect_uri(signin)),
                ("client_id", &ms365.client_id),
                ("client_secret", &ms365.client_secret),
                ("code_verifier", verifier),
            ],
        )
        .await
        .map_err(|e| Ok(Failure::Oidc(Refusal::Exchange(e))))?;
    let Some(id_token) = answer.get("id_token").and_then(Value::as_str) else {
        return fail(Refusal::NoIdToken);
    };
    // Which directory: read before the signature is checked, only to pick the issuer and the
    // tenant; nothing is trusted until the token verifies with that issuer.
    let unverified: Value = id_token
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let tid = unverified
        .get("tid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let tenant = signin
        .directory()
        .tenant_for_entra_directory(tid)
        .await
        .map_err(Err)?
        .ok_or_else(|| {
            Ok(Failure::Oidc(Refusal::UnknownDirectory(
                tid.chars().take(64).collect(),
            )))
        })?;
    let template = endpoint(&config, "issuer").map_err(|r| Ok(Failure::Oidc(r)))?;
    let issuer = template.replace("{tenantid}", tid);
    let header = jsonwebtoken::decode_header(id_token)
        .map_err(|e| Ok(Failure::Oidc(Refusal::IdToken(e.to_string()))))?;
    let jwks_uri = endpoint(&config, "jwks_uri").map_err(|r| Ok(Failure::Oidc(r)))?;
    let keys = signin
        .json_document(jwks_uri)
        .await
        .map_err(|e| Ok(Failure::Oidc(Refusal::Discovery(e))))?;
    let jwk = keys
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|k| k.get("kid").and_then(Value::as_str) == header.kid.as_deref())
        .ok_or_else(|| {
            Ok(Failure::Oidc(Refusal::IdToken(
                "signed with a key the authority does not publish".into(),
            )))
        })?;
    let component = |n: &str| jwk.get(n).and_then(Value::as_str).unwrap_or_default();
    let key = DecodingKey::from_rsa_components(component("n"), component("e"))
        .map_err(|e| Ok(Failure::Oidc(Refusal::IdToken(e.to_string()))))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[&ms365.client_id]);
    validation.set_issuer(&[&issuer]);
    // Times are checked below against the directory's clock.
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<Value>(id_token, &key, &validation)
        .map_err(|e| {
            Ok(Failure::Oidc(match e.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => Refusal::IdTokenIssuer(
                    unverified
                        .get("iss")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .chars()
                        .take(200)
                        .collect(),
                ),
                _ => Refusal::IdToken(e.to_string()),
            }))
        })?
        .claims;
    let now = signin.directory().now().unix_timestamp();
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp + 120 < now {
        return fail(Refusal::IdToken("it has expired".into()));
    }
    let token_nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !bool::from(token_nonce.as_bytes().ct_eq(nonce.as_bytes())) {
        return fail(Refusal::IdTokenNonce);
    }
    let value = claims.get("oid").and_then(Value::as_str).map(str::to_owned);
    let vouched = Vouched::from_claims(&claims, value, &["email", "preferred_username"]);
    Ok((tenant, issuer, vouched))
}
