//! Roster as the host application's OpenID provider: discovery, keys, `/oauth/authorize`
//! (authorization code with PKCE S256), the token endpoint's `authorization_code` grant, and
//! `/oauth/userinfo`. An application integrates once, with any OpenID Connect library,
//! whatever identity provider each organisation uses.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use roster_directory::TenantRef;
use roster_directory::host_apps::TOKEN_LIFETIME;
use roster_store::{HostAppRecord, Kind, Tenant, TenantId};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::claims::user_claims;
use crate::flow::{self, SESSION_CONTEXT};
use crate::state::{Authorize, CODE_SECONDS, Code, SESSION_COOKIE, Session, read_cookie};
use crate::{SignIn, pages};

const CODE_CONTEXT: &str = "signin:code";

/// `GET /.well-known/openid-configuration`.
pub async fn configuration(State(signin): State<SignIn>) -> Json<Value> {
    let p = signin.public();
    Json(json!({
        "issuer": p,
        "authorization_endpoint": format!("{p}/oauth/authorize"),
        "token_endpoint": format!("{p}/oauth/token"),
        "userinfo_endpoint": format!("{p}/oauth/userinfo"),
        "jwks_uri": format!("{p}/oauth/jwks"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "claims_supported": [
            "sub", "email", "email_verified", "name", "given_name", "family_name",
            "preferred_username", "org_id", "org_name", "groups", "idp", "amr", "auth_time"
        ],
    }))
}

/// `GET /oauth/jwks`: the keys ID tokens are signed with, a new one before it signs and an
/// old one until its tokens have expired.
pub async fn jwks(State(signin): State<SignIn>) -> Response {
    match signin.directory().published_keys().await {
        Ok(keys) => Json(json!({ "keys": keys })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "reading the signing keys failed");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}

fn params(query: Option<&str>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if out.insert(k.clone().into_owned(), v.into_owned()).is_some() {
            return Err(format!("the parameter {k} appears more than once"));
        }
    }
    Ok(out)
}

fn bad_request(text: &str) -> Response {
    pages::refused(
        StatusCode::BAD_REQUEST,
        text,
        "The application that sent you here is misconfigured: tell its provider. Roster does not send you back to an address it cannot vouch for.",
        "",
    )
}

/// An error sent back to the application's redirect URI (RFC 6749 §4.1.2.1, with RFC 9207's
/// `iss`).
fn redirect_error(signin: &SignIn, authorize: &Authorize, error: &str, text: &str) -> Response {
    let Ok(mut url) = url::Url::parse(&authorize.redirect_uri) else {
        return bad_request("The redirect URI is not a URL.");
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("error", error)
            .append_pair("error_description", text);
        if let Some(state) = &authorize.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", signin.public());
    }
    Redirect::to(url.as_str()).into_response()
}

/// `GET /oauth/authorize`.
pub async fn authorize(
    State(signin): State<SignIn>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let p = match params(query.as_deref()) {
        Ok(p) => p,
        Err(e) => return bad_request(&format!("The sign-in request is malformed: {e}.")),
    };
    let get = |k: &str| p.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(client_id) = get("client_id") else {
        return bad_request("The sign-in request names no application (client_id).");
    };
    let app = match signin.directory().host_app(client_id).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return bad_request("The sign-in request names an application Roster does not know.");
        }
        Err(e) => {
            tracing::error!(error = %e, "reading a host application failed");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    };
    let Some(redirect_uri) =
        get("redirect_uri").filter(|r| app.redirect_uris.iter().any(|u| u == r))
    else {
        return bad_request(
            "The sign-in request's redirect_uri is not one registered for the application.",
        );
    };
    let authorize = Authorize {
        client_id: app.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        state: get("state").map(|s| s.chars().take(512).collect()),
        nonce: get("nonce").map(|s| s.chars().take(512).collect()),
        challenge: get("code_challenge").unwrap_or_default().to_owned(),
        scope: get("scope").unwrap_or_default().to_owned(),
        force: false,
    };
    let mut authorize = authorize;
    let prompts: Vec<&str> = get("prompt").unwrap_or_default().split(' ').collect();
    let silent = prompts.contains(&"none");
    if silent && prompts.len() > 1 {
        return redirect_error(
            &signin,
            &authorize,
            "invalid_request",
            "prompt=none cannot be combined with other prompts.",
        );
    }
    let max_age = match get("max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(age)) if age >= 0 => Some(age),
        Some(_) => {
            return redirect_error(
                &signin,
                &authorize,
                "invalid_request",
                "max_age must be a number of seconds.",
            );
        }
    };
    if get("response_type") != Some("code") {
        return redirect_error(
            &signin,
            &authorize,
            "unsupported_response_type",
            "Roster answers response_type=code only.",
        );
    }
    if !authorize.scope.split(' ').any(|s| s == "openid") {
        return redirect_error(
            &signin,
            &authorize,
            "invalid_scope",
            "The scope must include openid.",
        );
    }
    if get("code_challenge_method") != Some("S256")
        || !(43..=128).contains(&authorize.challenge.len())
    {
        return redirect_error(
            &signin,
            &authorize,
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        );
    }
    let now = signin.directory().now().unix_timestamp();
    let session: Option<Session> = read_cookie(&headers, SESSION_COOKIE)
        .and_then(|v| signin.open::<Session>(SESSION_CONTEXT, v))
        .filter(|s| (0..crate::state::SESSION_SECONDS).contains(&(now - s.since)));
    // Roster's session stands in for the identity provider only when the application allows
    // it: not with prompt=login, nor when the user authenticated longer ago than max_age.
    let recent_enough = |s: &Session| max_age.is_none_or(|age| now - s.auth_time <= age);
    authorize.force =
        prompts.contains(&"login") || session.as_ref().is_some_and(|s| !recent_enough(s));
    // The session still says which organisation the browser signs in with.
    let known_tenant = session.as_ref().map(|s| s.tenant.clone());
    let session = session.filter(|s| recent_enough(s) && !authorize.force);
    if get("idp") == Some(crate::ms365::NAME)
        && !silent
        && let Some(ms365) = signin.ms365().cloned()
    {
        return crate::ms365::start(&signin, &ms365, Some(authorize)).await;
    }
    let named = get("organization").map(str::trim).filter(|o| !o.is_empty());
    let tenant: Option<Tenant> = match named {
        Some(name) => match find_tenant(&signin, name).await {
            Some(t) => Some(t),
            None => {
                return pages::organisation(
                    hidden(&p),
                    name,
                    "No organisation has that sign-in name.",
                );
            }
        },
        None => {
            // The application's hint of the user's domain (`domain_hint`) or address
            // (`login_hint`), at a tenant's verified domain; else Roster's session.
            let hinted = match get("domain_hint").or(get("login_hint")) {
                Some(hint) => signin
                    .directory()
                    .tenant_for_email(hint)
                    .await
                    .ok()
                    .flatten(),
                None => None,
            };
            match (hinted, &known_tenant) {
                (Some(t), _) => Some(t),
                (None, Some(id)) => signin
                    .directory()
                    .tenant_by(&TenantRef::Id(TenantId::new(id)))
                    .await
                    .ok(),
                (None, None) => None,
            }
        }
    };
    let session = session.filter(|s| tenant.as_ref().is_some_and(|t| s.tenant == t.id.as_str()));
    if let Some(session) = session {
        return issue_code(&signin, &authorize, &session).await;
    }
    if silent {
        return redirect_error(
            &signin,
            &authorize,
            "login_required",
            "The user is not signed in to Roster (prompt=none).",
        );
    }
    let Some(tenant) = tenant else {
        return pages::organisation(hidden(&p), "", "");
    };
    flow::start(&signin, &tenant, get("connection"), Some(authorize), false).await
}

/// The request's parameters, for the organisation form to send again.
fn hidden(p: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = p
        .iter()
        .filter(|(k, _)| k.as_str() != "organization")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kept.sort();
    kept
}

async fn find_tenant(signin: &SignIn, name: &str) -> Option<Tenant> {
    let directory = signin.directory();
    if let Ok(Some(t)) = directory.tenant_by_slug(&name.to_ascii_lowercase()).await {
        return Some(t);
    }
    directory.tenant_by(&TenantRef::parse(name)).await.ok()
}

/// Sends the browser back to the application with a code for `session` (the user is read
/// again when the code is exchanged).
pub async fn issue_code(signin: &SignIn, authorize: &Authorize, session: &Session) -> Response {
    let now = signin.directory().now().unix_timestamp();
    let code = Code {
        id: signin.directory().secrets().resource_id(),
        authorize: authorize.clone(),
        session: session.clone(),
        expires: now + CODE_SECONDS,
    };
    let Some(sealed) = signin.seal(CODE_CONTEXT, &code) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let Ok(mut url) = url::Url::parse(&authorize.redirect_uri) else {
        return bad_request("The redirect URI is not a URL.");
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("code", &sealed);
        if let Some(state) = &authorize.state {
            q.append_pair("state", state);
        }
        q.append_pair("iss", signin.public());
    }
    Redirect::to(url.as_str()).into_response()
}

fn oauth_error(status: StatusCode, error: &str, text: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": text})),
    )
        .into_response()
}

/// The client's credentials: HTTP Basic (RFC 6749 §2.3.1, form-encoded halves) or the form.
/// The client id a token request authenticates with (HTTP Basic or the form), for counting
/// its failures.
pub fn client_id(form: &HashMap<String, String>, headers: &HeaderMap) -> Option<String> {
    client_credentials(form, headers).map(|(id, _)| id)
}

fn client_credentials(
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let fine = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    fine && bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// The token endpoint's `authorization_code` grant (the server's `/oauth/token` hands such
/// requests here).
pub async fn token(
    signin: &SignIn,
    form: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let directory = signin.directory();
    let Some((client_id, secret)) = client_credentials(form, headers) else {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Authenticate the application with its client id and secret.",
        );
    };
    let app = match directory.authenticate_host_app(&client_id, &secret).await {
        Ok(Some(app)) => app,
        Ok(None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "Unknown application or wrong secret.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "authenticating a host application failed");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Try again.",
            );
        }
    };
    let invalid_grant = |text: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", text);
    let Some(code) = form
        .get("code")
        .and_then(|c| signin.open::<Code>(CODE_CONTEXT, c))
    else {
        return invalid_grant("The code is not one Roster issued.");
    };
    let now = directory.now();
    if code.expires <= now.unix_timestamp() {
        return invalid_grant("The code has expired: codes live a minute.");
    }
    if code.authorize.client_id != app.id {
        return invalid_grant("The code was issued to another application.");
    }
    if form.get("redirect_uri") != Some(&code.authorize.redirect_uri) {
        return invalid_grant("redirect_uri is not the one the code was issued for.");
    }
    if !form
        .get("code_verifier")
        .is_some_and(|v| pkce_matches(v, &code.authorize.challenge))
    {
        return invalid_grant("The code_verifier does not match the code_challenge.");
    }
    let expires = time::OffsetDateTime::from_unix_timestamp(code.expires).unwrap_or(now);
    match directory
        .first_use_of_assertion("signin:code", &code.id, expires)
        .await
    {
        Ok(true) => {}
        Ok(false) => return invalid_grant("The code was already used."),
        Err(e) => {
            tracing::error!(error = %e, "recording a code's use failed");
            return oauth_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "Try again.",
            );
        }
    }
    let (tenant, claims) = match current_claims(signin, &code.session).await {
        Ok(found) => found,
        Err(text) => return invalid_grant(&text),
    };
    match sign_tokens(signin, &app, &tenant, &code, claims).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "signing tokens failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "Roster could not sign the tokens.",
            )
        }
    }
}

/// The user as the directory holds them now: still there, still active.
async fn current_claims(
    signin: &SignIn,
    session: &Session,
) -> Result<(Tenant, Map<String, Value>), String> {
    let directory = signin.directory();
    let tenant_id = TenantId::new(&session.tenant);
    let ctx = match directory.tenant_context(&tenant_id).await {
        Ok(Some(ctx)) => ctx,
        _ => return Err("The organisation no longer exists.".into()),
    };
    if !ctx.tenant.plan.sso {
        return Err("Single sign-on is not part of the organisation's plan.".into());
    }
    let user = directory
        .get(&ctx, Kind::User, &session.user, true)
        .await
        .map_err(|_| "The user no longer exists in the organisation.".to_owned())?;
    if user.data.get("active").and_then(Value::as_bool) == Some(false) {
        return Err("The user was deactivated in the organisation.".into());
    }
    let domains = directory
        .domains(&tenant_id)
        .await
        .map_err(|_| "The organisation's domains cannot be read.".to_owned())?;
    Ok((
        ctx.tenant.clone(),
        user_claims(&user, &ctx.tenant, session, &domains),
    ))
}

async fn sign_tokens(
    signin: &SignIn,
    app: &HostAppRecord,
    tenant: &Tenant,
    code: &Code,
    claims: Map<String, Value>,
) -> Result<Value, String> {
    let key = signin
        .directory()
        .signing_key()
        .await
        .map_err(|e| e.to_string())?;
    let der = roster_sso::keys::to_pkcs1_der(&key.private_key_der).map_err(|e| e.to_string())?;
    let encoding = EncodingKey::from_rsa_der(&der);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid.clone());
    let now = signin.directory().now().unix_timestamp();
    let exp = now + TOKEN_LIFETIME.whole_seconds();
    let mut id = claims.clone();
    id.insert("iss".into(), json!(signin.public()));
    id.insert("aud".into(), json!(app.id));
    id.insert("iat".into(), json!(now));
    id.insert("exp".into(), json!(exp));
    if let Some(nonce) = &code.authorize.nonce {
        id.insert("nonce".into(), json!(nonce));
    }
    let id_token = jsonwebtoken::encode(&header, &id, &encoding).map_err(|e| e.to_string())?;
    let access = json!({
        "iss": signin.public(),
        "aud": format!("{}/oauth/userinfo", signin.public()),
        "sub": claims.get("sub"),
        "client_id": app.id,
        "org_id": tenant.id.as_str(),
        "idp": code.session.connection,
        "amr": code.session.amr,
        "auth_time": code.session.auth_time,
        "scope": code.authorize.scope,
        "iat": now,
        "exp": exp,
        "jti": signin.directory().secrets().resource_id(),
    });
    let access_token =
        jsonwebtoken::encode(&header, &access, &encoding).map_err(|e| e.to_string())?;
    Ok(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME.whole_seconds(),
        "id_token": id_token,
        "scope": code.authorize.scope,
    }))
}

fn unauthorized(text: &str) -> Response {
    let mut response = oauth_error(StatusCode::UNAUTHORIZED, "invalid_token", text);
    if let Ok(v) = format!("Bearer error=\"invalid_token\", error_description=\"{text}\"").parse() {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    response
}

/// `GET|POST /oauth/userinfo`: the user's claims as the directory holds them now.
pub async fn userinfo(State(signin): State<SignIn>, headers: HeaderMap) -> Response {
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return unauthorized("Send the access token as a Bearer token.");
    };
    let Ok(header) = jsonwebtoken::decode_header(token) else {
        return unauthorized("The access token is not one Roster issued.");
    };
    let keys = signin
        .directory()
        .published_keys()
        .await
        .unwrap_or_default();
    let Some(jwk) = keys
        .iter()
        .find(|k| k.get("kid").and_then(Value::as_str) == header.kid.as_deref())
    else {
        return unauthorized("The access token is not one Roster issued.");
    };
    let component = |name: &str| jwk.get(name).and_then(Value::as_str).unwrap_or_default();
    let Ok(decoding) = DecodingKey::from_rsa_components(component("n"), component("e")) else {
        return unauthorized("The access token is not one Roster issued.");
    };
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[signin.public()]);
    validation.set_audience(&[format!("{}/oauth/userinfo", signin.public())]);
    validation.leeway = 0;
    validation.validate_exp = false;
    let Ok(data) = jsonwebtoken::decode::<Value>(token, &decoding, &validation) else {
        return unauthorized("The access token is not one Roster issued.");
    };
    let claims = data.claims;
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if exp <= signin.directory().now().unix_timestamp() {
        return unauthorized("The access token has expired.");
    }
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let session = Session {
        tenant: text("org_id"),
        user: text("sub"),
        connection: text("idp"),
        auth_time: claims.get("auth_time").and_then(Value::as_i64).unwrap_or(0),
        amr: claims
            .get("amr")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        since: 0,
    };
    if let Ok(app) = signin.directory().host_app(&text("client_id")).await
        && app.is_none()
    {
        return unauthorized("The application was revoked.");
    }
    match current_claims(&signin, &session).await {
        Ok((_, claims)) => Json(Value::Object(claims)).into_response(),
        Err(text) => unauthorized(&text),
    }
}
