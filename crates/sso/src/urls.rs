//! The addresses of sign-in, from the public base URL (no trailing slash): one definition for
//! the flows that serve them and the pages and commands that show them.

/// A connection's entity id (its metadata is served there).
pub fn entity_id(public: &str, tenant: &str, connection: &str) -> String {
    format!(
        "{}/auth/saml/{tenant}/{connection}",
        public.trim_end_matches('/')
    )
}

/// A connection's Assertion Consumer Service URL.
pub fn acs_url(public: &str, tenant: &str, connection: &str) -> String {
    format!("{}/acs", entity_id(public, tenant, connection))
}

/// A tenant's sign-on URL, for its default connection or a named one.
pub fn sign_on_url(public: &str, slug: &str, connection: Option<&str>) -> String {
    let base = format!(
        "{}/auth/request-access/{slug}",
        public.trim_end_matches('/')
    );
    match connection {
        Some(c) => format!("{base}/{c}"),
        None => base,
    }
}

/// An OpenID Connect connection's redirect URI (registered at the identity provider).
pub fn oidc_redirect_uri(public: &str, tenant: &str, connection: &str) -> String {
    format!(
        "{}/auth/oidc/{tenant}/{connection}/callback",
        public.trim_end_matches('/')
    )
}
