//! The OpenID Connect flow to a tenant's identity provider: the sign-on URL sends the browser
//! to its authorization endpoint (code flow, PKCE S256, `state` and `nonce` from Roster's
//! `Secrets`, kept in the sealed pending cookie); the callback checks `state` and the answer's
//! `iss`, exchanges the code, and has `openidconnect` verify the ID token's signature, `iss`,
//! `aud`, `exp` and `nonce` against the directory's clock. The claims are then read from the
//! token the library verified.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    HttpClientError, HttpRequest, HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use roster_directory::DirectoryError;
use roster_directory::sso::{Connection, OidcSettings, Protocol};
use roster_sso::oidc::Refusal;
use roster_sso::sign_in::Failure;
use serde_json::Value;
use subtle::ConstantTimeEq;

use crate::SignIn;
use crate::flow::{self, Outcome, Vouched, internal};
use crate::pages;
use crate::state::Pending;
use crate::trace::Trace;

/// The most bytes read from an identity provider's answer (configuration, keys, tokens).
const MAX_BODY: usize = 256 * 1024;
/// How long a discovered configuration is used before it is read again.
const DISCOVERY_TTL: time::Duration = time::Duration::hours(1);

/// openidconnect's HTTP client: the workspace's reqwest, no redirects (an issuer's documents
/// are served where it says, not wherever a redirect points), the outbound address policy, a
/// timeout and a bounded body.
pub struct Http(reqwest::Client);

impl Http {
    pub fn new() -> Result<Http, reqwest::Error> {
        roster_delivery::outbound::client_builder(false)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map(Http)
    }
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            // A literal address never reaches the policy's resolver: refused here.
            if let Some(refused) = roster_delivery::outbound::refusal(&request.uri().to_string()) {
                return Err(HttpClientError::Other(refused.to_string()));
            }
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let mut response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(HttpClientError::Other(format!(
                        "the answer is larger than {MAX_BODY} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

impl Http {
    /// The client itself, for requests openidconnect does not make, once `url` passed the
    /// outbound address policy's check of literal addresses.
    pub fn raw(&self, url: &str) -> Result<&reqwest::Client, String> {
        match roster_delivery::outbound::refusal(url) {
            Some(refused) => Err(refused.to_string()),
            None => Ok(&self.0),
        }
    }
}

/// A JSON answer's body, bounded, from a 2xx answer.
pub async fn json_body(mut response: reqwest::Response, url: &str) -> Result<Value, String> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("{url}: {e}"))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url}: the answer is larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if !status.is_success() {
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        return Err(format!("{url} answered {status}: {text}"));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))
}

fn settings(connection: &Connection) -> Result<&OidcSettings, DirectoryError> {
    match &connection.protocol {
        Protocol::Oidc(s) => Ok(s),
        Protocol::Saml { .. } => Err(DirectoryError::Internal(format!(
            "connection {} is not an OpenID Connect connection",
            connection.name
        ))),
    }
}

/// The issuer's configuration and keys, read once an hour.
async fn discover(signin: &SignIn, issuer: &str) -> Result<CoreProviderMetadata, Refusal> {
    let now = signin.directory().now();
    if let Some((at, metadata)) = signin.discovered(issuer)
        && now - at < DISCOVERY_TTL
    {
        return Ok(metadata);
    }
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| Refusal::Discovery(e.to_string()))?;
    let http = signin.http().map_err(Refusal::Discovery)?;
    let metadata = CoreProviderMetadata::discover_async(url, http)
        .await
        .map_err(|e| Refusal::Discovery(error_text(&e)))?;
    signin.remember_discovery(issuer, now, metadata.clone());
    Ok(metadata)
}

fn error_text(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn client(
    signin: &SignIn,
    connection: &Connection,
    metadata: CoreProviderMetadata,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    DirectoryError,
> {
    let s = settings(connection)?;
    let secret = signin.directory().oidc_client_secret(connection)?;
    let redirect = roster_sso::urls::oidc_redirect_uri(
        signin.public(),
        connection.tenant.as_str(),
        &connection.id,
    );
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(s.client_id.clone()),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(
        RedirectUrl::new(redirect).map_err(|e| DirectoryError::Internal(e.to_string()))?,
    ))
}

fn random(signin: &SignIn) -> String {
    URL_SAFE_NO_PAD.encode(signin.directory().secrets().key())
}

/// The authorization request: (where to send the browser, its `state`, the nonce and PKCE
/// verifier this browser keeps sealed).
pub async fn request(
    signin: &SignIn,
    connection: &Connection,
    force: bool,
) -> Result<(String, String, Option<String>), Box<Response>> {
    let s = settings(connection).map_err(|e| Box::new(internal(e)))?;
    let metadata = match discover(signin, &s.issuer).await {
        Ok(m) => m,
        Err(refusal) => {
            let failure = Failure::Oidc(refusal);
            return Err(Box::new(pages::refused(
                axum::http::StatusCode::BAD_GATEWAY,
                &failure.to_string(),
                &failure.hint(connection.preset.vendor()),
                "",
            )));
        }
    };
    let client = client(signin, connection, metadata).map_err(|e| Box::new(internal(e)))?;
    let (state, nonce, verifier) = (random(signin), random(signin), random(signin));
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(verifier.clone()));
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            {
                let state = state.clone();
                move || CsrfToken::new(state)
            },
            {
                let nonce = nonce.clone();
                move || Nonce::new(nonce)
            },
        )
        .set_pkce_challenge(challenge);
    for scope in &s.scopes {
        request = request.add_scope(Scope::new(scope.clone()));
    }
    if force {
        request = request.add_prompt(openidconnect::core::CoreAuthPrompt::Login);
    }
    let (url, _, _) = request.url();
    Ok((url.to_string(), state, Some(format!("{nonce} {verifier}"))))
}

/// `GET /auth/oidc/{tenant}/{connection}/callback`: the identity provider's answer.
pub async fn callback(
    State(signin): State<SignIn>,
    Path((tenant_id, connection_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (tenant, connection) =
        match flow::answered_at(&signin, &tenant_id, &connection_id, "oidc").await {
            Ok(found) => found,
            Err(page) => return *page,
        };
    let tenant_id = tenant.id().clone();
    let mut trace = Trace::start(
        &signin,
        &headers,
        format!("/auth/oidc/{}/callback", connection.name),
    );
    trace.step("answer received");
    let pending = flow::pending(&signin, &headers, tenant_id.as_str(), &connection);
    let params: Vec<(String, String)> =
        form_urlencoded::parse(query.as_deref().unwrap_or_default().as_bytes())
            .into_owned()
            .take(20)
            .collect();
    let outcome = match check(&signin, &connection, &params, pending.as_ref(), &mut trace).await {
        Ok(vouched) => flow::match_user(&signin, &tenant, &connection, vouched, &mut trace).await,
        Err(e) => Outcome::Err(e),
    };
    flow::complete(
        &signin,
        &tenant,
        &connection,
        pending,
        &headers,
        trace,
        outcome,
        true,
    )
    .await
}

/// The protocol's checks, each noted in the trace.
async fn check(
    signin: &SignIn,
    connection: &Connection,
    params: &[(String, String)],
    pending: Option<&Pending>,
    trace: &mut Trace,
) -> Result<Vouched, Result<Failure, DirectoryError>> {
    let refused = |r: Refusal| Err(Ok(Failure::Oidc(r)));
    let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let s = settings(connection).map_err(Err)?;
    if let Some(error) = get("error") {
        return refused(Refusal::IdpError {
            error: error.chars().take(100).collect(),
            description: get("error_description").map(|d| d.chars().take(300).collect()),
        });
    }
    let state = get("state").unwrap_or_default();
    let Some(pending) =
        pending.filter(|p| bool::from(p.request.as_bytes().ct_eq(state.as_bytes())))
    else {
        return refused(Refusal::WrongState);
    };
    trace.step("state is the one this browser was sent with");
    if let Some(iss) = get("iss")
        && iss.trim_end_matches('/') != s.issuer
    {
        return refused(Refusal::WrongIssuer {
            got: iss.chars().take(200).collect(),
            want: s.issuer.clone(),
        });
    }
    let Some(code) = get("code") else {
        return refused(Refusal::IdpError {
            error: "no code".into(),
            description: None,
        });
    };
    let (nonce, verifier) = pending
        .secret
        .as_deref()
        .and_then(|s| s.split_once(' '))
        .ok_or(Ok(Failure::Oidc(Refusal::WrongState)))?;
    let metadata = discover(signin, &s.issuer)
        .await
        .map_err(|r| Ok(Failure::Oidc(r)))?;
    let client = client(signin, connection, metadata).map_err(Err)?;
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| Ok(Failure::Oidc(Refusal::Exchange(e.to_string()))))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()));
    let http = signin
        .http()
        .map_err(|e| Ok(Failure::Oidc(Refusal::Exchange(e))))?;
    let token = exchange
        .request_async(http)
        .await
        .map_err(|e| Ok(Failure::Oidc(Refusal::Exchange(error_text(&e)))))?;
    trace.step(format!("code exchanged at {}", s.issuer));
    let id_token = token
        .id_token()
        .ok_or(Ok(Failure::Oidc(Refusal::NoIdToken)))?;
    let directory = signin.directory().clone();
    let verifier = client.id_token_verifier().set_time_fn(move || {
        chrono::DateTime::from_timestamp(directory.now().unix_timestamp(), 0).unwrap_or_default()
    });
    id_token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .map_err(|e| {
            Ok(Failure::Oidc(match e {
                ClaimsVerificationError::InvalidIssuer(text) => Refusal::IdTokenIssuer(text),
                ClaimsVerificationError::InvalidNonce(_) => Refusal::IdTokenNonce,
                other => Refusal::IdToken(other.to_string()),
            }))
        })?;
    trace.step("ID token verified: signature, issuer, audience, expiry and nonce");
    // The claims of the token the library just verified, read as they are (its own claims
    // type drops what it does not know, such as Entra's `oid` and `tid`).
    let payload: Value = id_token
        .to_string()
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    let value = payload
        .get(&connection.user_key().claim)
        .and_then(|v| match v {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
    if connection.user_key().claim == "email"
        && payload.get("email_verified") == Some(&Value::Bool(false))
    {
        return Err(Ok(Failure::Oidc(Refusal::EmailNotVerified(
            value
                .clone()
                .unwrap_or_default()
                .chars()
                .take(200)
                .collect(),
        ))));
    }
    Ok(Vouched::from_claims(&payload, value, &["email"]))
}
