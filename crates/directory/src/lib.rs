//! The use cases of Roster's directory: tenants and their tokens, and the SCIM operations on
//! users and groups, on top of the protocol crate and a [`Store`]. Every operation on
//! directory data takes the tenant first. Time and randomness come from [`Clock`] and
//! [`Secrets`], so tests control both.

use std::collections::HashSet;
use std::sync::Arc;

use roster_scim::schema::Registry;
use roster_store::{Store, Tenant, TenantId};
use serde_json::Value;
use sha2::{Digest, Sha256};

mod clock;
pub mod console;
mod context;
mod credentials;
pub mod domains;
mod error;
mod events;
mod feed;
pub mod hold;
pub mod host_apps;
mod keys;
pub mod limiter;
mod onboarding;
pub mod outbound;
pub mod password;
pub mod provisioning_log;
pub mod render;
mod resources;
mod retry;
pub mod sealing;
pub mod sso;
pub mod sso_changes;
pub mod targets;
mod tenants;
pub mod threshold;
pub mod totp;
mod two_step;
pub use events::resource_json as event_resource_json;
pub use roster_store::sql::epoch_millis;
pub mod settings;
pub mod tokens;

pub use clock::{Clock, ShiftedClock, SystemClock};
use context::Recent;
pub use context::TenantContext;
pub use error::DirectoryError;
use error::NotFoundAs;
pub use keys::Scope;
pub use onboarding::{NewTenant, PortalLinkIssued, TenantChange, TenantRef};
pub use provisioning_log::TokenRefusal;
pub use roster_scim::dialect::{Compatibility, Dialect, Normalization};
pub use settings::{CustomAttribute, Federation, SettingError, TenantSettings};
pub use tenants::holdings_json;
pub use tokens::{Secrets, SystemSecrets};
pub use two_step::SignIn;

/// A tenant together with a freshly issued token (shown once).
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The tenant.
    pub tenant: Tenant,
    /// The bearer token in clear; only its hash is stored.
    pub token: String,
}

/// What a new static token is: its name, its lifetime, and whether the tenant's other
/// static tokens keep working.
#[derive(Debug, Clone, Default)]
pub struct TokenOptions {
    /// A name to tell it apart (`Entra production`).
    pub name: String,
    /// How long it works; for ever when `None`.
    pub expires_in: Option<time::Duration>,
    /// Whether the tenant's other static tokens keep working (a rotation without a gap).
    pub keep_old: bool,
    /// With `keep_old`, how long the others keep working at most (until they are revoked
    /// when `None`).
    pub old_expire_in: Option<time::Duration>,
}

/// An access token issued by the client credentials grant, shown once.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The bearer token.
    pub token: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// The tenant it opens.
    pub tenant: TenantId,
    /// The client it was issued to.
    pub client_id: String,
}

/// Whether the tenant leaves out group members that name nothing, instead of refusing them.
fn ignores_unknown(tenant: &TenantContext) -> bool {
    tenant.settings.unknown_members == settings::UnknownMembers::Ignore
}

/// Notes that members were left out, when some were.
fn note_unknown(unknown: &HashSet<String>, applied: &mut Vec<Normalization>) {
    if !unknown.is_empty() && !applied.contains(&Normalization::UnknownMemberIgnored) {
        applied.push(Normalization::UnknownMemberIgnored);
    }
}

/// The last four characters of a token, for display.
fn last4(token: &str) -> String {
    let start = token.char_indices().rev().nth(3).map_or(0, |(i, _)| i);
    token[start..].to_owned()
}

/// How a replace or PATCH is made: the version the client expects (`If-Match`), and whether
/// the result is read back with its relations (a group's members).
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    /// The version named by `If-Match`; a different current version is 412.
    pub if_match: Option<i64>,
    /// Whether the returned resource carries its relations.
    pub return_members: bool,
    /// Whether the caller answers without a body (204, where only the ETag is sent): a change
    /// of a group's members then returns the group as read before the change, with the new
    /// version and lastModified, instead of reading it back.
    pub no_body: bool,
}

/// Why a client's id and secret were refused (for the log; the client is told neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientRefusal {
    /// No live client has this id.
    UnknownClient,
    /// The client exists, in this tenant, and the secret is not its secret.
    WrongSecret(TenantId),
}

/// The directory: every use case, over one store.
#[derive(Clone)]
pub struct Directory {
    store: Arc<dyn Store>,
    registry: Arc<Registry>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn Secrets>,
    registries: Arc<settings::RegistryCache>,
    tokens: Arc<Recent<[u8; 32]>>,
    contexts: Arc<Recent<TenantId>>,
    changes: Arc<tokio::sync::Notify>,
    recorded: Arc<tokio::sync::Notify>,
    limits: roster_scim::limits::ResourceLimits,
    /// The server keys, when this process has them: tokens are then sealed, so that they can
    /// be shown again.
    keyring: Option<Arc<sealing::Keyring>>,
    /// Where TXT records are looked up (domain verification).
    dns: Arc<dyn domains::TxtLookup>,
}

/// Removes what is never stored in the resource JSON: `id`, `meta` and a user's `groups`.
fn strip_server_attributes(data: &mut Value) {
    if let Some(obj) = data.as_object_mut() {
        obj.remove("id");
        obj.remove("meta");
        obj.remove("groups");
    }
}

/// Parses an ETag / `meta.version` (`W/"3"`) into a version number.
pub fn parse_version(etag: &str) -> Option<i64> {
    let t = etag.trim();
    let t = t.strip_prefix("W/").unwrap_or(t);
    t.trim_matches('"').parse().ok()
}

impl Directory {
    /// A directory over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        registry: Arc<Registry>,
        clock: Arc<dyn Clock>,
        secrets: Arc<dyn Secrets>,
    ) -> Self {
        Directory {
            store,
            registry,
            clock,
            secrets,
            registries: Arc::default(),
            tokens: Arc::default(),
            contexts: Arc::default(),
            changes: Arc::default(),
            recorded: Arc::default(),
            limits: roster_scim::limits::ResourceLimits::DEFAULT,
            keyring: None,
            dns: Arc::new(domains::SystemDns::default()),
        }
    }

    /// The same directory with the server keys.
    pub fn with_keyring(mut self, keyring: sealing::Keyring) -> Self {
        self.keyring = Some(Arc::new(keyring));
        self
    }

    /// The server keys, or why there are none.
    pub(crate) fn ring(&self) -> Result<&sealing::Keyring, DirectoryError> {
        self.keyring.as_deref().ok_or_else(|| {
            DirectoryError::Sealing("this process has no server key (ROSTER_SECRET_KEY)".into())
        })
    }

    /// The same directory with other bounds on what one resource may hold.
    pub fn with_resource_limits(mut self, limits: roster_scim::limits::ResourceLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The bounds on what one resource may hold.
    pub fn resource_limits(&self) -> roster_scim::limits::ResourceLimits {
        self.limits
    }

    /// Woken (one permit) whenever this process records a change or positions events: the
    /// webhook worker waits on it rather than polling the database.
    pub fn changes(&self) -> Arc<tokio::sync::Notify> {
        self.changes.clone()
    }

    /// Woken (one permit) whenever this process records a change: the event sequencer waits
    /// on it, so that a change is positioned at once rather than at its next round.
    pub fn recorded(&self) -> Arc<tokio::sync::Notify> {
        self.recorded.clone()
    }

    fn changed(&self) {
        self.recorded.notify_one();
        self.changes.notify_one();
    }

    /// The clock every time of this directory comes from (the webhook worker reads it too).
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.clock.clone()
    }

    /// The source of every secret, id and random number of this directory.
    pub fn secrets(&self) -> Arc<dyn Secrets> {
        self.secrets.clone()
    }

    /// The store (for health checks).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is as strong as a slow one
/// here, and lets every request be authenticated with one indexed lookup.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
