//! What single sign-on keeps: each tenant's connections to its identity providers, the host
//! applications that receive signed-in users, and the keys Roster signs their ID tokens with.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{NewEvent, StoreError, TenantId};

/// One tenant's connection to its identity provider.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoConnectionRecord {
    /// Its id (random).
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its name in URLs (`/auth/request-access/{slug}/{name}`), unique in the tenant.
    pub name: String,
    /// `saml` or `oidc`.
    pub protocol: String,
    /// What is not secret (metadata, issuer, which claim is the user key, presets' choices),
    /// as the directory writes it; read back strictly.
    pub settings: Value,
    /// The secrets (a SAML key, an OIDC client secret), sealed with the server key.
    pub sealed: Vec<u8>,
    /// Whether the tenant's sign-on URL without a connection name starts this one.
    pub is_default: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A host application registered to receive signed-in users (an OpenID Connect client).
#[derive(Debug, Clone, PartialEq)]
pub struct HostAppRecord {
    /// Its client id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// The SHA-256 of its client secret.
    pub secret_hash: [u8; 32],
    /// Where codes may be sent, compared exactly.
    pub redirect_uris: Vec<String>,
    /// Where a sign-in that did not start at the application sends the user (OpenID
    /// Connect's `initiate_login_uri`): the application then asks Roster for the user.
    pub login_uri: Option<String>,
    /// When it was registered.
    pub created_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A key Roster signs ID tokens with.
#[derive(Debug, Clone, PartialEq)]
pub struct SigningKeyRecord {
    /// Its key id (`kid`).
    pub kid: String,
    /// The private key, sealed.
    pub sealed: Vec<u8>,
    /// The public key as a JWK, published in the JWKS.
    pub public_jwk: Value,
    /// When it was made (and published).
    pub created_at: OffsetDateTime,
    /// From when it signs (after clients have had time to fetch it).
    pub signs_from: OffsetDateTime,
    /// When it stops being published (after the last token it signed expired).
    pub retired_at: Option<OffsetDateTime>,
}

/// Single sign-on's storage.
#[async_trait]
pub trait SsoStore: Send + Sync {
    /// Adds a connection; a name already used in the tenant is `Conflict("name")`. When it is
    /// the default, the tenant's other connections stop being it, in the same transaction.
    async fn add_sso_connection(&self, connection: &SsoConnectionRecord) -> Result<(), StoreError>;
    /// Replaces a connection's settings, secrets and default flag (`NotFound` if it is gone).
    async fn update_sso_connection(
        &self,
        connection: &SsoConnectionRecord,
    ) -> Result<(), StoreError>;
    /// A tenant's connections, by name.
    async fn sso_connections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SsoConnectionRecord>, StoreError>;
    /// One connection of a tenant, by id or by name.
    async fn sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<SsoConnectionRecord>, StoreError>;
    /// Removes a connection (`NotFound` if there is none).
    async fn remove_sso_connection(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError>;

    /// Registers a host application.
    async fn add_host_app(&self, app: &HostAppRecord) -> Result<(), StoreError>;
    /// Every host application, revoked ones included, oldest first.
    async fn host_apps(&self) -> Result<Vec<HostAppRecord>, StoreError>;
    /// One host application by client id, revoked or not.
    async fn host_app(&self, id: &str) -> Result<Option<HostAppRecord>, StoreError>;
    /// Revokes a host application (`NotFound` if it is unknown or already revoked).
    async fn revoke_host_app(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Adds a signing key.
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Every signing key not retired at `now`, newest first.
    async fn signing_keys(&self, now: OffsetDateTime) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Replaces a key's sealed private key (a server key rotation seals it again).
    async fn reseal_signing_key(&self, kid: &str, sealed: &[u8]) -> Result<(), StoreError>;
    /// Sets when a key stops being published.
    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Gives `domain` (lower-case) to `tenant`; `Conflict("domain")` when another tenant has it.
    async fn add_tenant_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
        verified_by: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// A tenant's domains, sorted.
    async fn tenant_domains(&self, tenant: &TenantId) -> Result<Vec<String>, StoreError>;
    /// The tenant a domain belongs to.
    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>, StoreError>;
    /// Takes a domain from a tenant (`NotFound` if it has not got it).
    async fn remove_tenant_domain(&self, tenant: &TenantId, domain: &str)
    -> Result<(), StoreError>;

    /// Appends events that change no resource (a sign-in, a refused sign-in) to the tenant's
    /// change log.
    async fn record_events(&self, tenant: &TenantId, events: &[NewEvent])
    -> Result<(), StoreError>;
}
