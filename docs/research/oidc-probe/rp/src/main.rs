//! OIDC relying-party probe: openidconnect 4.1 over the workspace's reqwest 0.13.
//!
//!   oidc-rp-probe [ISSUER] [REDIRECT_URI]
//!
//! Discovery, authorization URL (PKCE S256, state, nonce), then the browser leg: by default a
//! separate cookie-jar client walks the IdP's redirect chain (idp.mjs IDP_INTERACTIONS=auto);
//! with CALLBACK_FROM_STDIN=1 it prints the URL and reads the callback URL from stdin instead.
//! Then code exchange and ID token verification, plus negative checks.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreIdTokenVerifier, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    HttpClientError, HttpRequest, HttpResponse, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// Largest response body accepted from the IdP (discovery, JWKS, token).
const MAX_BODY: usize = 256 * 1024;

/// openidconnect's back-channel HTTP client over reqwest 0.13: no redirects, bounded body.
struct OidcHttp(reqwest::Client);

impl OidcHttp {
    fn new() -> Result<Self> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none()) // SSRF hygiene; OIDC needs no redirects
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self(client))
    }
}

impl<'c> AsyncHttpClient<'c> for OidcHttp {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            // http::Request<Vec<u8>> -> reqwest::Request (reqwest implements TryFrom for http 1.x).
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let mut response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder()
                .status(response.status())
                .version(response.version());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(Box::new)? {
                if body.len() + chunk.len() > MAX_BODY {
                    return Err(HttpClientError::Other(format!(
                        "response over {MAX_BODY} bytes"
                    )));
                }
                body.extend_from_slice(&chunk);
            }
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

/// The user-agent leg, for tests only: follow the IdP's redirects with a cookie jar until the
/// redirect_uri is reached (nothing needs to listen there).
async fn browse_to_callback(auth_url: &url::Url, redirect_uri: &str) -> Result<url::Url> {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let mut url = auth_url.clone();
    for hop in 1..=10 {
        let response = browser.get(url.clone()).send().await?;
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .ok_or_else(|| {
                anyhow!(
                    "hop {hop}: {} from {url} without Location",
                    response.status()
                )
            })?
            .to_str()?;
        let next = url.join(location)?;
        eprintln!("hop {hop}: {} -> {next}", response.status());
        if next.as_str().starts_with(redirect_uri) {
            return Ok(next);
        }
        url = next;
    }
    bail!("no callback after 10 redirects")
}

#[tokio::main]
async fn main() -> Result<()> {
    // reqwest is built with rustls-no-provider (as in the workspace): pick ring once per process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    // Spawned: proves the whole flow's future is Send, as an axum handler needs.
    tokio::spawn(run()).await?
}

async fn run() -> Result<()> {
    let mut args = std::env::args().skip(1).collect::<Vec<_>>().into_iter();
    let issuer = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let redirect = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080/cb".into());
    let http = OidcHttp::new()?;

    // 1. Discovery: GET {issuer}/.well-known/openid-configuration, then GET jwks_uri.
    //    Fails unless the document's "issuer" equals IssuerUrl exactly.
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(issuer.clone())?, &http)
        .await
        .context("discovery")?;
    let jwks = metadata.jwks().clone(); // for the negative checks' own verifiers
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new("roster".into()),
        Some(ClientSecret::new("roster-secret".into())),
    )
    .set_redirect_uri(RedirectUrl::new(redirect.clone())?);

    // 2. Authorization URL with PKCE S256, state and nonce (all random).
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .set_pkce_challenge(pkce_challenge)
        .url();
    println!("authorization URL: {auth_url}");

    // 3. Browser leg.
    let callback = if std::env::var_os("CALLBACK_FROM_STDIN").is_some() {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        url::Url::parse(line.trim())?
    } else {
        browse_to_callback(&auth_url, &redirect).await?
    };
    let param = |k: &str| {
        callback
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = param("error") {
        bail!(
            "authorization error: {error} {:?}",
            param("error_description")
        );
    }
    ensure!(
        param("state").as_deref() == Some(state.secret().as_str()),
        "state mismatch"
    );
    // RFC 9207: openidconnect does not check the `iss` authorization response parameter.
    ensure!(
        param("iss").as_deref() == Some(issuer.as_str()),
        "iss parameter mismatch"
    );
    let code = param("code").context("no code")?;
    println!("code: {code}");

    // 4. Token request: client_secret_basic, code_verifier. exchange_code returns Result in 4.x
    //    because a discovered client's token endpoint is only "maybe set".
    let verifier_secret = pkce_verifier.secret().clone(); // kept for the replay check below
    let token_response = client
        .exchange_code(AuthorizationCode::new(code.clone()))?
        .set_pkce_verifier(pkce_verifier)
        .request_async(&http)
        .await
        .context("token exchange")?;
    let id_token = token_response.id_token().context("no id_token")?;
    println!("id_token: {}", id_token.to_string());

    // 5. Verification: signature against the discovered JWKS (RS256 allowed by default), iss,
    //    aud (= client_id), azp, exp/iat, nonce.
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &nonce)
        .context("ID token verification")?;
    if let Some(expected) = claims.access_token_hash() {
        let actual = AccessTokenHash::from_token(
            token_response.access_token(),
            id_token.signing_alg()?,
            id_token.signing_key(&verifier)?,
        )?;
        ensure!(actual == *expected, "at_hash mismatch");
    }
    println!(
        "verified: iss={} aud={:?} sub={} email={:?} email_verified={:?} exp={} nonce={:?} at_hash={}",
        claims.issuer().as_str(),
        claims
            .audiences()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>(),
        claims.subject().as_str(),
        claims.email().map(|e| e.as_str()),
        claims.email_verified(),
        claims.expiration(),
        claims.nonce().map(|n| n.secret()),
        claims.access_token_hash().is_some(),
    );

    // 6. Negative checks: each must be refused.
    let refused = |what: &str, r: std::result::Result<(), String>| match r {
        Err(e) => println!("refused as expected: {what}: {e}"),
        Ok(()) => println!("NOT REFUSED: {what}"),
    };
    let wrong_nonce = Nonce::new("other".into());
    refused(
        "wrong nonce",
        id_token
            .claims(&verifier, &wrong_nonce)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    );
    let other_aud = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("someone-else".into()),
        ClientSecret::new("x".into()),
        IssuerUrl::new(issuer.clone())?,
        jwks.clone(),
    );
    refused(
        "wrong audience",
        id_token
            .claims(&other_aud, &nonce)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    );
    let other_iss = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new("roster".into()),
        ClientSecret::new("roster-secret".into()),
        IssuerUrl::new("http://127.0.0.1:1/".into())?,
        jwks.clone(),
    );
    refused(
        "wrong issuer",
        id_token
            .claims(&other_iss, &nonce)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    );
    let exp = claims.expiration();
    let late = client
        .id_token_verifier()
        .set_time_fn(move || exp + chrono::TimeDelta::seconds(1));
    refused(
        "expired",
        id_token
            .claims(&late, &nonce)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    );
    let tampered = tamper(&id_token.to_string())?;
    refused(
        "tampered payload",
        tampered
            .claims(&verifier, &nonce)
            .map(|_| ())
            .map_err(|e| e.to_string()),
    );
    let replay = client
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(PkceCodeVerifier::new(verifier_secret))
        .request_async(&http)
        .await;
    refused(
        "code replay (right verifier)",
        replay.map(|_| ()).map_err(|e| format!("{e:?}")),
    );
    if std::env::var_os("CALLBACK_FROM_STDIN").is_none() {
        // A fresh code, redeemed with a verifier that does not match its challenge.
        let (challenge, _right) = PkceCodeChallenge::new_random_sha256();
        let (url2, state2, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let cb2 = browse_to_callback(&url2, &redirect).await?;
        let p2 = |k: &str| {
            cb2.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        ensure!(p2("state").as_deref() == Some(state2.secret().as_str()));
        let wrong = client
            .exchange_code(AuthorizationCode::new(p2("code").context("no code")?))?
            .set_pkce_verifier(PkceCodeVerifier::new("x".repeat(43)))
            .request_async(&http)
            .await;
        refused(
            "wrong PKCE verifier",
            wrong.map(|_| ()).map_err(|e| format!("{e:?}")),
        );
        let none = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .url()
            .0;
        let cb3 = browse_to_callback(&none, &redirect).await?;
        let p3 = |k: &str| {
            cb3.query_pairs()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.into_owned())
        };
        refused(
            "authorization request without PKCE",
            match p3("error") {
                Some(e) => Err(format!(
                    "{e}: {}",
                    p3("error_description").unwrap_or_default()
                )),
                None => Ok(()),
            },
        );
    }
    Ok(())
}

/// Change `sub` in the payload, keep header and signature.
fn tamper(jwt: &str) -> Result<CoreIdToken> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = jwt.split('.').collect();
    let payload = String::from_utf8(b64.decode(parts[1])?)?.replace("user-1", "user-2");
    let forged = format!("{}.{}.{}", parts[0], b64.encode(payload), parts[2]);
    Ok(forged.parse()?)
}
