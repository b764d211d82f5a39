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

pub use provider::token;

/// The sign-in flows of one server.
#[derive(Clone)]
pub struct SignIn(Arc<Inner>);

struct Inner {
    directory: Directory,
    /// The public base URL, without a trailing slash: the issuer, and every URL handed out.
    public: String,
    /// Whether cookies are `Secure` (the public URL is https).
    secure: bool,
}

impl SignIn {
    /// Sign-in for `directory`, reached at `public_url`.
    pub fn new(directory: Directory, public_url: &str) -> SignIn {
        let public = public_url.trim_end_matches('/').to_owned();
        let secure = public.starts_with("https://");
        SignIn(Arc::new(Inner {
            directory,
            public,
            secure,
        }))
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
            .route("/auth/request-access/{slug}", get(saml::request_access))
            .route(
                "/auth/request-access/{slug}/{connection}",
                get(saml::request_access_to),
            )
            .route("/auth/saml/{tenant}/{connection}", get(saml::metadata))
            .route("/auth/saml/{tenant}/{connection}/acs", post(saml::acs))
            .with_state(self.clone())
    }

    fn directory(&self) -> &Directory {
        &self.0.directory
    }

    fn public(&self) -> &str {
        &self.0.public
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
    serde_json::json!({
        "id": c.id,
        "name": c.name,
        "protocol": "saml",
        "preset": c.preset.name(),
        "default": c.is_default,
        "sign_on_url": urls::sign_on_url(public, slug, Some(&c.name)),
        "entity_id": urls::entity_id(public, c.tenant.as_str(), &c.id),
        "acs_url": urls::acs_url(public, c.tenant.as_str(), &c.id),
        "metadata_url": urls::entity_id(public, c.tenant.as_str(), &c.id),
        "idp_entity_id": c.idp.entity_id,
        "user_key": {"claim": c.saml.user_key.claim, "match": c.saml.user_key.attribute.attribute()},
        "idp_initiated": c.saml.idp_initiated,
        "created_at": c.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
    })
}
