//! The host application's side, written with a standard OpenID Connect library
//! (`openidconnect`), not Roster's code: discovery, an authorization URL with PKCE, state and
//! nonce, the code exchanged, the ID token's signature, issuer, audience, expiry and nonce
//! verified by the library.

use std::future::Future;
use std::pin::Pin;

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AsyncHttpClient, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, HttpClientError, HttpRequest, HttpResponse, IssuerUrl, Nonce,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

/// openidconnect's back channel over the workspace's reqwest: no redirects.
pub struct Http(reqwest::Client);

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpClientError<reqwest::Error>;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, Self::Error>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request = reqwest::Request::try_from(request).map_err(Box::new)?;
            let response = self.0.execute(request).await.map_err(Box::new)?;
            let mut builder = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response.bytes().await.map_err(Box::new)?.to_vec();
            builder.body(body).map_err(HttpClientError::Http)
        })
    }
}

type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A host application registered with Roster.
pub struct RelyingParty {
    client: Client,
    http: Http,
}

/// A sign-in the application started.
pub struct Started {
    /// Where the browser is sent.
    pub url: String,
    state: CsrfToken,
    nonce: Nonce,
    verifier: PkceCodeVerifier,
}

/// What the application learned.
pub struct Received {
    /// The ID token's `sub`.
    pub subject: String,
    /// The ID token's e-mail.
    pub email: Option<String>,
    /// The ID token's claims as JSON (its payload, once the library verified it).
    pub claims: serde_json::Value,
    /// The access token.
    pub access_token: String,
}

impl RelyingParty {
    /// Discovers Roster at `issuer` and registers as `client_id`.
    pub async fn discover(
        issuer: &str,
        client_id: &str,
        secret: &str,
        redirect_uri: &str,
    ) -> RelyingParty {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = Http(
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("a client"),
        );
        let metadata = CoreProviderMetadata::discover_async(
            IssuerUrl::new(issuer.to_owned()).expect("an issuer URL"),
            &http,
        )
        .await
        .expect("discovery");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(client_id.to_owned()),
            Some(ClientSecret::new(secret.to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(redirect_uri.to_owned()).expect("a URL"));
        RelyingParty { client, http }
    }

    /// Starts a sign-in, with extra parameters (`organization`).
    pub fn start(&self, extra: &[(&str, &str)]) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        for (k, v) in extra {
            request = request.add_extra_param(*k, *v);
        }
        let (url, state, nonce) = request.url();
        Started {
            url: url.to_string(),
            state,
            nonce,
            verifier,
        }
    }

    /// Finishes it at the callback `location`: state checked, code exchanged, ID token
    /// verified. `Err` with the library's words when anything is refused.
    pub async fn finish(&self, started: Started, location: &str) -> Result<Received, String> {
        let url = url::Url::parse(location).map_err(|e| e.to_string())?;
        let get = |k: &str| {
            url.query_pairs()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.into_owned())
        };
        if let Some(error) = get("error") {
            return Err(format!(
                "{error}: {}",
                get("error_description").unwrap_or_default()
            ));
        }
        if get("state").as_deref() != Some(started.state.secret().as_str()) {
            return Err("the state is not the one sent".into());
        }
        let code = get("code").ok_or("no code")?;
        let token = self
            .client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(started.verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let id_token = token.id_token().ok_or("no ID token")?;
        let verified = id_token
            .claims(&self.client.id_token_verifier(), &started.nonce)
            .map_err(|e| e.to_string())?;
        let payload = id_token.to_string();
        let body = payload.split('.').nth(1).ok_or("a JWT")?;
        use base64::Engine as _;
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|e| e.to_string())?;
        Ok(Received {
            subject: verified.subject().to_string(),
            email: verified.email().map(|e| e.to_string()),
            claims: serde_json::from_slice(&claims).map_err(|e| e.to_string())?,
            access_token: openidconnect::OAuth2TokenResponse::access_token(&token)
                .secret()
                .clone(),
        })
    }
}
