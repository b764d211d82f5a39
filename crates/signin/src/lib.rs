//! Sign-in over HTTP. A tenant's users reach their identity provider through the tenant's
//! sign-on URL (`/auth/request-access/{slug}`), come back to the connection's assertion
//! consumer (`/auth/saml/{tenant}/{connection}/acs`), are matched to the user the identity
//! provider provisioned, and are handed to the host application through OpenID Connect, with
//! Roster as its provider (`/oauth/authorize`, the token endpoint's `authorization_code`
//! grant, `/oauth/userinfo`, `/oauth/jwks`, `/.well-known/openid-configuration`).
//!
//! The protocol checks are `roster-sso`'s and the use cases `roster-directory`'s; this crate
//! is their HTTP flow: what is kept between requests (sealed cookies, sealed codes), the pages
//! a person sees, and the trace of each attempt, written to the tenant's provisioning log.

mod claims;
mod flow;
mod limits;
mod metadata;
mod ms365;
mod oidc;
mod pages;
mod provider;
mod saml;
mod state;
mod trace;

use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use roster_directory::Directory;
use roster_sso::urls;

pub use limits::MAX_REFUSED as MAX_REFUSED_ANSWERS;
pub use ms365::Ms365;
pub use provider::{client_id, token};
use roster_directory::limiter::Limiter;

/// The sign-in flows of one server.
#[derive(Clone)]
pub struct SignIn(Arc<Inner>);

struct Inner {
    directory: Directory,
    /// OpenID Connect issuers' configurations, read once an hour.
    discovered: std::sync::Mutex<
        std::collections::HashMap<
            String,
            (
                time::OffsetDateTime,
                openidconnect::core::CoreProviderMetadata,
            ),
        >,
    >,
    /// The HTTP client to tenants' OpenID Connect identity providers, made on first need
    /// (after the process has installed its TLS provider).
    http: std::sync::OnceLock<oidc::Http>,
    /// The public base URL, without a trailing slash: the issuer, and every URL handed out.
    public: String,
    /// Whether cookies are `Secure` (the public URL is https).
    secure: bool,
    /// Where a sign-in by e-mail whose domain no tenant has goes.
    fallback: Option<String>,
    /// The shared Microsoft 365 connection, when the operator configured it.
    ms365: Option<Ms365>,
    /// JSON documents of the Microsoft 365 authority (configuration, keys), read once an hour.
    documents: std::sync::Mutex<
        std::collections::HashMap<String, (time::OffsetDateTime, serde_json::Value)>,
    >,
    /// Refused answers per address (`limits`).
    refusals: Arc<std::sync::Mutex<Limiter>>,
}

impl SignIn {
    /// Sign-in for `directory`, reached at `public_url`.
    pub fn new(directory: Directory, public_url: &str) -> SignIn {
        let public = public_url.trim_end_matches('/').to_owned();
        let secure = public.starts_with("https://");
        SignIn(Arc::new(Inner {
            directory,
            discovered: std::sync::Mutex::default(),
            http: std::sync::OnceLock::new(),
            public,
            secure,
            fallback: None,
            ms365: None,
            documents: std::sync::Mutex::default(),
            refusals: Arc::new(std::sync::Mutex::new(Limiter::new(
                limits::MAX_REFUSED,
                limits::WINDOW,
                limits::MAX_ADDRESSES,
            ))),
        }))
    }

    /// The same, with the shared Microsoft 365 connection.
    pub fn with_ms365(self, ms365: Option<Ms365>) -> SignIn {
        SignIn(Arc::new(Inner {
            directory: self.0.directory.clone(),
            discovered: std::sync::Mutex::default(),
            http: std::sync::OnceLock::new(),
            public: self.0.public.clone(),
            secure: self.0.secure,
            fallback: self.0.fallback.clone(),
            ms365,
            documents: std::sync::Mutex::default(),
            refusals: self.0.refusals.clone(),
        }))
    }

    fn ms365(&self) -> Option<&Ms365> {
        self.0.ms365.as_ref()
    }

    /// A JSON document of an identity provider (bounded, no redirects), read once an hour.
    async fn json_document(&self, url: &str) -> Result<serde_json::Value, String> {
        let now = self.directory().now();
        if let Some((at, doc)) = self
            .0
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(url)
            .cloned()
            && now - at < time::Duration::hours(1)
        {
            return Ok(doc);
        }
        let response = self
            .http()?
            .raw(url)?
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let doc = oidc::json_body(response, url).await?;
        let mut cache = self
            .0
            .documents
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= 100 {
            cache.clear();
        }
        cache.insert(url.to_owned(), (now, doc.clone()));
        Ok(doc)
    }

    /// POSTs a form to an identity provider and reads its JSON answer.
    async fn post_form(
        &self,
        url: &str,
        form: &[(&str, &str)],
    ) -> Result<serde_json::Value, String> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let response = self
            .http()?
            .raw(url)?
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        oidc::json_body(response, url).await
    }

    /// The same, sending sign-ins by e-mail whose domain no tenant has to `fallback`.
    pub fn with_fallback(self, fallback: Option<String>) -> SignIn {
        let inner = Inner {
            directory: self.0.directory.clone(),
            discovered: std::sync::Mutex::default(),
            http: std::sync::OnceLock::new(),
            public: self.0.public.clone(),
            secure: self.0.secure,
            fallback,
            ms365: self.0.ms365.clone(),
            documents: std::sync::Mutex::default(),
            refusals: self.0.refusals.clone(),
        };
        SignIn(Arc::new(inner))
    }

    /// Whether `path` is one of sign-in's (the server hands those requests to [`SignIn::router`]).
    pub fn serves(path: &str) -> bool {
        path.starts_with("/auth/")
            || matches!(
                path,
                "/.well-known/openid-configuration"
                    | "/oauth/authorize"
                    | "/oauth/userinfo"
                    | "/oauth/jwks"
            )
    }

    /// The routes.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(provider::configuration),
            )
            .route("/oauth/jwks", get(provider::jwks))
            .route("/oauth/authorize", get(provider::authorize))
            .route(
                "/oauth/userinfo",
                get(provider::userinfo).post(provider::userinfo),
            )
            .route("/auth/login", get(flow::login))
            .route("/auth/request-access/{slug}", get(saml::request_access))
            .route(
                "/auth/request-access/{slug}/{connection}",
                get(saml::request_access_to),
            )
            .route("/auth/saml/{tenant}/{connection}", get(saml::metadata))
            .merge(
                Router::new()
                    .route("/auth/saml/{tenant}/{connection}/acs", post(saml::acs))
                    .route(
                        "/auth/oidc/{tenant}/{connection}/callback",
                        get(oidc::callback),
                    )
                    .route("/auth/oidc/ms365/callback", get(ms365::callback))
                    .route_layer(axum::middleware::from_fn_with_state(
                        self.clone(),
                        limits::answers,
                    )),
            )
            .with_state(self.clone())
    }

    /// The refused answers per address.
    fn refusals(&self) -> std::sync::MutexGuard<'_, Limiter> {
        self.0
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn directory(&self) -> &Directory {
        &self.0.directory
    }

    fn public(&self) -> &str {
        &self.0.public
    }

    fn http(&self) -> Result<&oidc::Http, String> {
        if let Some(http) = self.0.http.get() {
            return Ok(http);
        }
        let made = oidc::Http::new().map_err(|e| format!("making the HTTP client: {e}"))?;
        Ok(self.0.http.get_or_init(|| made))
    }

    /// An issuer's configuration as read at a time, if it was.
    fn discovered(
        &self,
        issuer: &str,
    ) -> Option<(
        time::OffsetDateTime,
        openidconnect::core::CoreProviderMetadata,
    )> {
        let cache = self
            .0
            .discovered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.get(issuer).cloned()
    }

    /// Keeps an issuer's configuration (at most 1,000 issuers: the oldest go first).
    fn remember_discovery(
        &self,
        issuer: &str,
        at: time::OffsetDateTime,
        metadata: openidconnect::core::CoreProviderMetadata,
    ) {
        let mut cache = self
            .0
            .discovered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= 1000 {
            let oldest = cache
                .iter()
                .min_by_key(|(_, (t, _))| *t)
                .map(|(k, _)| k.clone());
            if let Some(oldest) = oldest {
                cache.remove(&oldest);
            }
        }
        cache.insert(issuer.to_owned(), (at, metadata));
    }

    /// The public base URL (the issuer).
    pub fn public_url(&self) -> &str {
        &self.0.public
    }

    /// The entity id of a connection (its metadata is served there).
    pub fn entity_id(&self, tenant: &str, connection: &str) -> String {
        urls::entity_id(self.public(), tenant, connection)
    }

    /// The ACS URL of a connection.
    pub fn acs_url(&self, tenant: &str, connection: &str) -> String {
        urls::acs_url(self.public(), tenant, connection)
    }

    /// A tenant's sign-on URL (what an administrator pastes as Entra's *Sign-on URL*).
    pub fn sign_on_url(&self, slug: &str, connection: Option<&str>) -> String {
        urls::sign_on_url(self.public(), slug, connection)
    }
}

/// A connection as the CLI and the tenant API show it: its settings and the values to paste
/// into the identity provider.
pub fn connection_json(
    public: &str,
    slug: &str,
    c: &roster_directory::sso::Connection,
) -> serde_json::Value {
    let key = c.user_key();
    let mut shown = serde_json::json!({
        "id": c.id,
        "name": c.name,
        "protocol": c.protocol_name(),
        "preset": c.preset.name(),
        "default": c.is_default,
        "sign_on_url": urls::sign_on_url(public, slug, Some(&c.name)),
        "user_key": {"claim": key.claim, "match": key.attribute.attribute()},
        "idp_initiated": c.idp_initiated(),
        "created_at": c.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    });
    let extra = match &c.protocol {
        roster_directory::sso::Protocol::Saml { idp, .. } => serde_json::json!({
            "entity_id": urls::entity_id(public, c.tenant.as_str(), &c.id),
            "acs_url": urls::acs_url(public, c.tenant.as_str(), &c.id),
            "metadata_url": urls::entity_id(public, c.tenant.as_str(), &c.id),
            "idp_entity_id": idp.entity_id,
        }),
        roster_directory::sso::Protocol::Oidc(settings) => serde_json::json!({
            "redirect_uri": urls::oidc_redirect_uri(public, c.tenant.as_str(), &c.id),
            "issuer": settings.issuer,
            "client_id": settings.client_id,
            "scopes": settings.scopes,
        }),
    };
    if let (Some(all), serde_json::Value::Object(more)) = (shown.as_object_mut(), extra) {
        all.extend(more);
    }
    shown
}
