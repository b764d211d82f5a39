//! The use cases of Roster's directory: tenants and their tokens, and the SCIM operations on
//! users and groups, on top of the protocol crate and a [`Store`]. Every operation on
//! directory data takes the tenant first. Time and randomness come from [`Clock`] and
//! [`Secrets`], so tests control both.

use std::collections::HashSet;
use std::sync::Arc;

use roster_scim::patch::PatchRequest;
use roster_scim::schema::{Registry, ResourceSchema};
use roster_store::{
    ClientRecord, Kind, ListQuery, MemberRef, MembersChange, Page, Store, StoreError,
    StoredResource, Tenant, TenantId, TokenRecord,
};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

mod events;
pub mod outbound;
pub mod password;
pub mod render;
pub use events::resource_json as event_resource_json;
pub use roster_store::sql::epoch_millis;
pub mod settings;
pub mod tokens;

pub use roster_scim::dialect::{Compatibility, Dialect, Normalization};
pub use settings::{CustomAttribute, Federation, SettingError, TenantSettings};
pub use tokens::{Secrets, SystemSecrets};

/// An authenticated tenant with what every request needs of it: its settings and its schema
/// registry (the core schemas plus the tenant's extra attributes).
#[derive(Debug, Clone)]
pub struct TenantContext {
    /// The tenant.
    pub tenant: Tenant,
    /// Its settings.
    pub settings: TenantSettings,
    /// Its schemas.
    pub registry: Arc<Registry>,
}

impl TenantContext {
    /// The tenant's id.
    pub fn id(&self) -> &TenantId {
        &self.tenant.id
    }

    /// How this tenant's requests are read.
    pub fn dialect(&self) -> Dialect {
        Dialect::new(self.settings.compatibility)
    }

    /// The resource schema of a kind in this tenant.
    pub fn schema(&self, kind: Kind) -> &Arc<ResourceSchema> {
        match kind {
            Kind::User => self.registry.user(),
            Kind::Group => self.registry.group(),
        }
    }
}

/// How long a token lookup is trusted before the database is asked again. A revoked token
/// stops working on every process within this time.
const TOKEN_CACHE_SECONDS: i64 = 1;

/// How stale a token's recorded last use may get before a request records it again.
const LAST_USED_PRECISION_SECONDS: i64 = 60;

/// Tenant contexts looked up recently (by token hash, or by tenant id), each trusted for
/// [`TOKEN_CACHE_SECONDS`] and never past its `until` (a token's expiry).
struct Recent<K> {
    entries: std::sync::Mutex<std::collections::HashMap<K, Cached>>,
}

struct Cached {
    at: OffsetDateTime,
    until: Option<OffsetDateTime>,
    ctx: Arc<TenantContext>,
}

impl<K> Default for Recent<K> {
    fn default() -> Self {
        Recent {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Recent<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<K, Cached>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The context cached under `key`, if it may still be trusted at `now`.
    fn get(&self, key: &K, now: OffsetDateTime) -> Option<Arc<TenantContext>> {
        let entries = self.lock();
        let c = entries.get(key)?;
        let fresh = now >= c.at
            && (now - c.at).whole_seconds() < TOKEN_CACHE_SECONDS
            && c.until.is_none_or(|u| now < u);
        fresh.then(|| c.ctx.clone())
    }

    /// Caches a lookup made at `now` (bounded: a full cache starts over).
    fn put(
        &self,
        key: K,
        now: OffsetDateTime,
        until: Option<OffsetDateTime>,
        ctx: Arc<TenantContext>,
    ) {
        let mut entries = self.lock();
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(
            key,
            Cached {
                at: now,
                until,
                ctx,
            },
        );
    }

    /// Drops every lookup of this tenant.
    fn forget(&self, tenant: &TenantId) {
        self.lock().retain(|_, c| c.ctx.id() != tenant);
    }
}

/// The source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock moved by an adjustable offset: for tests and drills that need time to
/// pass (a token's expiry) without waiting.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_micros: std::sync::atomic::AtomicI64,
}

impl ShiftedClock {
    /// Moves this clock forward (or back, with a negative duration).
    pub fn advance(&self, by: time::Duration) {
        let micros = i64::try_from(by.whole_microseconds()).unwrap_or(i64::MAX);
        self.offset_micros
            .fetch_add(micros, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        let offset = self.offset_micros.load(std::sync::atomic::Ordering::SeqCst);
        SystemClock.now() + time::Duration::microseconds(offset)
    }
}

/// The system clock: the one place Roster reads the time of day (`clippy.toml` refuses the
/// wall clock everywhere else).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Now, to the microsecond: what storage keeps, so that `meta.created` in a create's
    /// response is the same as in every later read.
    // The one call to the wall clock; everything else asks a `Clock`.
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> OffsetDateTime {
        let t = OffsetDateTime::now_utc();
        t.replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
            .unwrap_or(t)
    }
}

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The request breaks a protocol rule.
    #[error(transparent)]
    Scim(#[from] roster_scim::Error),
    /// No such resource in this tenant.
    #[error("{kind} {id} not found")]
    NotFound {
        /// User or Group.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// No such tenant.
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    /// A tenant name that several tenants have.
    #[error("{} tenants are named {name:?}; name one by its id: {}", ids.len(), ids.join(", "))]
    AmbiguousTenant {
        /// The name given.
        name: String,
        /// The ids of the tenants with that name.
        ids: Vec<String>,
    },
    /// A unique attribute's value is taken.
    #[error("{0} is already taken in this tenant")]
    Conflict(&'static str),
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed since version {0}")]
    PreconditionFailed(String),
    /// A tenant setting that cannot be set so.
    #[error("{0}")]
    Setting(String),
    /// A tenant's stored setting that cannot be read: the tenant is refused rather than run
    /// on defaults.
    #[error(
        "tenant {tenant}: {error}; set it again (roster tenant set {tenant} {} VALUE)",
        error.key.split(['.', '[']).next().unwrap_or("").replace('_', "-")
    )]
    UnreadableSetting {
        /// The tenant's id.
        tenant: String,
        /// Which key and why.
        error: settings::UnreadableSetting,
    },
    /// A group member that is not a resource of the tenant.
    #[error("member {0} is not a user or group of this tenant")]
    UnknownMember(String),
    /// The database is unreachable.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => DirectoryError::Internal("unexpected not found".into()),
            StoreError::Conflict(a) => DirectoryError::Conflict(a),
            StoreError::VersionMismatch => DirectoryError::PreconditionFailed(String::new()),
            StoreError::UnknownMember(id) => DirectoryError::UnknownMember(id),
            StoreError::Unavailable(s) => DirectoryError::Unavailable(s),
            StoreError::Internal(s) => DirectoryError::Internal(s),
        }
    }
}

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

/// How many times a write is retried when another request changed the resource between the
/// read and the write (only when the client sent no `If-Match`).
const WRITE_RETRIES: usize = 32;

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
}

/// The member ids of a normalised group's `members`, and the group without them. A member
/// naming no id (neither `value` nor a `$ref` ending in `/Users/{id}` or `/Groups/{id}`) is
/// refused rather than dropped, so that a write never changes the group while losing what the
/// client asked for.
fn split_members(mut data: Value) -> Result<(Value, Vec<MemberRef>), DirectoryError> {
    let mut refs = Vec::new();
    if let Some(obj) = data.as_object_mut()
        && let Some(Value::Array(members)) = obj.remove("members")
    {
        let mut seen = HashSet::new();
        for m in members {
            let Some(r) = member_ref(&m) else {
                return Err(roster_scim::Error::invalid_value(
                    "members",
                    format!(
                        "a member needs its id in \"value\" (or a \"$ref\" to a user or group \
                         of this organisation); {m} names none"
                    ),
                )
                .into());
            };
            if seen.insert(r.id.clone()) {
                refs.push(r);
            }
        }
    }
    Ok((data, refs))
}

/// A member value (`{"value": id, "display": ...}`, or a `$ref`) as a member to add.
fn member_ref(m: &Value) -> Option<MemberRef> {
    roster_scim::patch::MemberValue::from_json(m).map(member_of)
}

fn member_of(m: roster_scim::patch::MemberValue) -> MemberRef {
    MemberRef {
        id: m.id,
        display: m.display,
    }
}

/// The store's change for a change of members by id.
fn members_change(delta: roster_scim::patch::MemberDelta) -> MembersChange {
    use roster_scim::patch::MemberDelta;
    match delta {
        MemberDelta::Replace(list) => {
            MembersChange::Replace(list.into_iter().map(member_of).collect())
        }
        MemberDelta::Change { add, remove } => MembersChange::Delta {
            add: add.into_iter().map(member_of).collect(),
            remove,
        },
    }
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
        }
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

    /// Creates a tenant and its first token.
    pub async fn create_tenant(&self, name: &str) -> Result<IssuedToken, DirectoryError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(DirectoryError::Setting(
                "a tenant needs a name (the customer organisation's, e.g. \"Contoso\")".into(),
            ));
        }
        let tenant = self.new_tenant(name);
        self.store.create_tenant(&tenant).await?;
        self.first_token(tenant).await
    }

    /// Creates the tenant a first start offers, with its first token, unless a tenant exists;
    /// of several processes starting at once on an empty database, one creates it.
    pub async fn create_first_tenant(
        &self,
        name: &str,
    ) -> Result<Option<IssuedToken>, DirectoryError> {
        let tenant = self.new_tenant(name);
        if !self.store.create_first_tenant(&tenant).await? {
            return Ok(None);
        }
        self.first_token(tenant).await.map(Some)
    }

    fn new_tenant(&self, name: &str) -> Tenant {
        Tenant {
            id: TenantId::new(self.secrets.tenant_id()),
            name: name.to_owned(),
            created_at: self.clock.now(),
            settings: serde_json::json!({}),
        }
    }

    async fn first_token(&self, tenant: Tenant) -> Result<IssuedToken, DirectoryError> {
        let options = TokenOptions {
            name: "first token".into(),
            ..TokenOptions::default()
        };
        let (_, token) = self.issue_token(&tenant.id, &options).await?;
        Ok(IssuedToken { tenant, token })
    }

    /// Every tenant.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, DirectoryError> {
        Ok(self.store.tenants().await?)
    }

    /// Finds a tenant by id, or else by exact name.
    pub async fn find_tenant(&self, id_or_name: &str) -> Result<Tenant, DirectoryError> {
        if let Some(t) = self.store.tenant(&TenantId::new(id_or_name)).await? {
            return Ok(t);
        }
        let mut by_name = self
            .store
            .tenants()
            .await?
            .into_iter()
            .filter(|t| t.name == id_or_name);
        match (by_name.next(), by_name.next()) {
            (Some(t), None) => Ok(t),
            (Some(a), Some(b)) => {
                let ids = [a, b]
                    .into_iter()
                    .chain(by_name)
                    .map(|t| t.id.to_string())
                    .collect();
                Err(DirectoryError::AmbiguousTenant {
                    name: id_or_name.to_owned(),
                    ids,
                })
            }
            _ => Err(DirectoryError::TenantNotFound(id_or_name.to_owned())),
        }
    }

    /// Issues a new static token for a tenant; unless `options.keep_old`, its other static
    /// tokens stop working. Returns the record and the token, shown once.
    pub async fn issue_token(
        &self,
        tenant: &TenantId,
        options: &TokenOptions,
    ) -> Result<(TokenRecord, String), DirectoryError> {
        let token = self.secrets.token();
        let now = self.clock.now();
        let mut record = self.token_record(tenant, &token, now);
        record.name = options.name.clone();
        record.expires_at = options.expires_in.map(|d| now + d);
        self.store.add_token(&record, !options.keep_old).await?;
        if !options.keep_old {
            self.tokens.forget(tenant);
        }
        Ok((record, token))
    }

    /// The record of a token issued at `now`: unnamed, never expiring, of no client.
    fn token_record(&self, tenant: &TenantId, token: &str, now: OffsetDateTime) -> TokenRecord {
        TokenRecord {
            id: format!("tok_{}", self.secrets.resource_id().replace('-', "")),
            tenant_id: tenant.clone(),
            hash: hash_token(token),
            created_at: now,
            name: String::new(),
            last4: last4(token),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            client_id: None,
        }
    }

    /// A tenant's static tokens that are not revoked (expired ones included).
    pub async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, DirectoryError> {
        Ok(self.store.tokens(tenant).await?)
    }

    /// Revokes one static token of a tenant, by its id: it stops working at once on this
    /// process and within [`TOKEN_CACHE_SECONDS`] on every other.
    pub async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let done = self.store.revoke_token(tenant, id, self.clock.now()).await;
        self.revoked(tenant, done, "Token", id)
    }

    /// After a revocation in the store: `NotFound` named for the administrator, or this
    /// process's cached lookups of the tenant's tokens dropped.
    fn revoked(
        &self,
        tenant: &TenantId,
        done: Result<(), StoreError>,
        kind: &'static str,
        id: &str,
    ) -> Result<(), DirectoryError> {
        match done {
            Err(StoreError::NotFound) => Err(DirectoryError::NotFound {
                kind,
                id: id.to_owned(),
            }),
            other => {
                other?;
                self.tokens.forget(tenant);
                Ok(())
            }
        }
    }

    /// Creates an OAuth client for a tenant; returns its record and its secret, shown once
    /// (only its hash is stored).
    pub async fn create_client(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<(ClientRecord, String), DirectoryError> {
        let secret = self.secrets.client_secret();
        let record = ClientRecord {
            id: self.secrets.client_id(),
            tenant_id: tenant.clone(),
            name: name.to_owned(),
            secret_hash: hash_token(&secret),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.add_client(&record).await?;
        Ok((record, secret))
    }

    /// A tenant's live OAuth clients.
    pub async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, DirectoryError> {
        Ok(self.store.clients(tenant).await?)
    }

    /// Revokes an OAuth client and every access token issued to it: they stop working at
    /// once on this process and within [`TOKEN_CACHE_SECONDS`] on every other.
    pub async fn revoke_client(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let done = self.store.revoke_client(tenant, id, self.clock.now()).await;
        self.revoked(tenant, done, "OAuth client", id)
    }

    /// The client credentials grant (RFC 6749 §4.4) with a client secret: when `client_id`
    /// names a live client and `secret` is its secret, issues an access token (see
    /// [`Directory::issue_access_token`]); otherwise says which of the two was wrong.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Result<AccessToken, ClientRefusal>, DirectoryError> {
        let Some((client, ctx)) = self.client(client_id).await? else {
            return Ok(Err(ClientRefusal::UnknownClient));
        };
        let presented = hash_token(secret);
        if secret.len() > 200 || !bool::from(presented.ct_eq(&client.secret_hash)) {
            return Ok(Err(ClientRefusal::WrongSecret(client.tenant_id)));
        }
        Ok(Ok(self.issue_access_token(&client, &ctx).await?))
    }

    /// A live OAuth client and its tenant's context, by `client_id`.
    pub async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<(ClientRecord, TenantContext)>, DirectoryError> {
        if client_id.len() > 200 {
            return Ok(None);
        }
        let Some(client) = self.store.client(client_id).await? else {
            return Ok(None);
        };
        let Some(tenant) = self.store.tenant(&client.tenant_id).await? else {
            return Ok(None);
        };
        Ok(Some((client, self.context(tenant)?)))
    }

    /// Issues an access token to an authenticated client, for its tenant, living as long as
    /// the tenant's `access_token_minutes`.
    pub async fn issue_access_token(
        &self,
        client: &ClientRecord,
        tenant: &TenantContext,
    ) -> Result<AccessToken, DirectoryError> {
        let lifetime = i64::from(tenant.settings.access_token_minutes.clamp(
            *settings::ACCESS_TOKEN_MINUTES.start(),
            *settings::ACCESS_TOKEN_MINUTES.end(),
        )) * 60;
        let token = self.secrets.access_token();
        let now = self.clock.now();
        let mut record = self.token_record(&client.tenant_id, &token, now);
        record.expires_at = Some(now + time::Duration::seconds(lifetime));
        record.client_id = Some(client.id.clone());
        self.store.add_token(&record, false).await?;
        Ok(AccessToken {
            token,
            expires_in: lifetime,
            tenant: client.tenant_id.clone(),
            client_id: client.id.clone(),
        })
    }

    /// Trusts an external issuer's tokens for a tenant (workload identity federation), or no
    /// issuer with `None`.
    pub async fn set_federation(
        &self,
        tenant: &TenantId,
        federation: Option<Federation>,
    ) -> Result<TenantSettings, DirectoryError> {
        let federation = federation.map(Federation::normalized);
        if let Some(f) = &federation {
            f.check().map_err(|e| DirectoryError::Setting(e.0))?;
            if !f.allow_link_local {
                for url in f.issuers.iter().chain(f.jwks_uri.iter()) {
                    outbound::check_url(url)
                        .await
                        .map_err(|e| DirectoryError::Setting(e.to_string()))?;
                }
            }
        }
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let mut settings = TenantSettings::for_change(&current, "federation")
            .map_err(|e| unreadable(&current, e))?;
        settings.federation = federation;
        self.save_settings(tenant, &settings).await?;
        Ok(settings)
    }

    /// Records the use of a client assertion (`jti` of `issuer`, remembered until
    /// `expires_at`); `false` when it was used before, by any process: a replay.
    pub async fn first_use_of_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, DirectoryError> {
        Ok(self
            .store
            .remember_assertion(issuer, jti, expires_at, self.clock.now())
            .await?)
    }

    /// Whether the client assertion `jti` of `issuer` was already used at the token endpoint
    /// (and is remembered still).
    pub async fn assertion_used(&self, issuer: &str, jti: &str) -> Result<bool, DirectoryError> {
        Ok(self
            .store
            .assertion_used(issuer, jti, self.clock.now())
            .await?)
    }

    /// Forgets used client assertions that have expired (their replay is refused by their
    /// expiry now).
    pub async fn purge_used_assertions(&self) -> Result<u64, DirectoryError> {
        Ok(self.store.purge_assertions(self.clock.now()).await?)
    }

    /// Deletes access tokens that expired or were revoked more than a day ago.
    pub async fn purge_access_tokens(&self) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_access_tokens(self.clock.now() - time::Duration::days(1))
            .await?)
    }

    /// Creates an API key for the host application; returns its record and the key, shown
    /// once (only its hash is stored).
    pub async fn create_api_key(
        &self,
        name: &str,
    ) -> Result<(roster_store::ApiKeyRecord, String), DirectoryError> {
        let key = self.secrets.api_key();
        let record = roster_store::ApiKeyRecord {
            id: format!("key_{}", self.secrets.resource_id().replace('-', "")),
            name: name.to_owned(),
            hash: hash_token(&key),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.add_api_key(&record).await?;
        Ok((record, key))
    }

    /// Every API key, revoked ones included.
    pub async fn api_keys(&self) -> Result<Vec<roster_store::ApiKeyRecord>, DirectoryError> {
        Ok(self.store.api_keys().await?)
    }

    /// Revokes an API key at once, on every process.
    pub async fn revoke_api_key(&self, id: &str) -> Result<(), DirectoryError> {
        match self.store.revoke_api_key(id, self.clock.now()).await {
            Err(StoreError::NotFound) => Err(DirectoryError::NotFound {
                kind: "API key",
                id: id.to_owned(),
            }),
            other => Ok(other?),
        }
    }

    /// Whether an API key is live. Not cached: host-application calls are few, and a revoked
    /// key stops working at once.
    pub async fn authenticate_api_key(&self, key: &str) -> Result<bool, DirectoryError> {
        if !key.starts_with(tokens::API_KEY_PREFIX) || key.len() > 200 {
            return Ok(false);
        }
        Ok(self.store.api_key(&hash_token(key)).await?.is_some())
    }

    /// Up to `limit` events after the position `after`, oldest first; one tenant's when given.
    pub async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<roster_store::Event>, DirectoryError> {
        Ok(self.store.events(tenant, after, limit).await?)
    }

    /// Gives positions to newly committed events (see the store); returns how many.
    pub async fn sequence_events(&self) -> Result<u64, DirectoryError> {
        let n = self.store.sequence_events().await?;
        if n > 0 {
            self.changes.notify_one();
        }
        Ok(n)
    }

    /// Adds a webhook endpoint for one tenant's events, or every tenant's; returns it with its
    /// new signing secret. It receives the events recorded from now on.
    ///
    /// An endpoint on a link-local or cloud-metadata address (see [`outbound`]) is refused
    /// unless `allow_link_local`, which is stored with it so that deliveries allow it too.
    pub async fn add_webhook(
        &self,
        url: &str,
        tenant: Option<&TenantId>,
        allow_link_local: bool,
    ) -> Result<roster_store::WebhookRecord, DirectoryError> {
        let url = url.trim();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.chars().any(char::is_whitespace) || url.len() > 2048 {
            return Err(DirectoryError::Setting(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        if !allow_link_local {
            outbound::check_url(url)
                .await
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
        }
        if let Some(t) = tenant
            && self.store.tenant(t).await?.is_none()
        {
            return Err(DirectoryError::NotFound {
                kind: "tenant",
                id: t.to_string(),
            });
        }
        let record = roster_store::WebhookRecord {
            id: format!("wh_{}", self.secrets.resource_id().replace('-', "")),
            url: url.to_owned(),
            tenant_id: tenant.cloned(),
            secret: self.secrets.webhook_secret(),
            previous_secret: None,
            previous_until: None,
            created_at: epoch_millis(self.clock.now()),
            allow_link_local,
        };
        self.store.add_webhook(&record).await?;
        Ok(record)
    }

    /// Every webhook endpoint.
    pub async fn webhooks(&self) -> Result<Vec<roster_store::WebhookRecord>, DirectoryError> {
        Ok(self.store.webhooks().await?)
    }

    /// Removes a webhook endpoint.
    pub async fn remove_webhook(&self, id: &str) -> Result<(), DirectoryError> {
        self.store
            .remove_webhook(id)
            .await
            .map_err(|e| webhook_error(e, id))
    }

    /// Gives an endpoint a new secret; the old one keeps signing (beside it) for `overlap`.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        overlap: time::Duration,
    ) -> Result<String, DirectoryError> {
        let secret = self.secrets.webhook_secret();
        let until = epoch_millis(self.clock.now() + overlap);
        self.store
            .rotate_webhook_secret(id, &secret, until)
            .await
            .map_err(|e| webhook_error(e, id))?;
        Ok(secret)
    }

    /// Delivers an endpoint's events again from `event_id` (of that event's tenant) on.
    pub async fn redeliver(&self, webhook_id: &str, event_id: &str) -> Result<(), DirectoryError> {
        self.store
            .redeliver(webhook_id, event_id, epoch_millis(self.clock.now()))
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DirectoryError::NotFound {
                    kind: "webhook or event",
                    id: format!("{webhook_id} / {event_id}"),
                },
                other => other.into(),
            })?;
        self.changed();
        Ok(())
    }

    /// Events given up on after their last attempt, of one endpoint when given.
    pub async fn dead_letters(
        &self,
        webhook_id: Option<&str>,
    ) -> Result<Vec<roster_store::DeadLetter>, DirectoryError> {
        Ok(self.store.dead_letters(webhook_id).await?)
    }

    /// An endpoint's latest delivery attempts, newest first.
    pub async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<roster_store::DeliveryAttempt>, DirectoryError> {
        Ok(self.store.delivery_attempts(webhook_id, limit).await?)
    }

    /// Deletes events older than the retention; returns how many.
    pub async fn purge_events(&self, retention: time::Duration) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_events(self.clock.now() - retention)
            .await?)
    }

    /// A page of a tenant's users or groups after the key `after`, in creation order.
    pub async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, DirectoryError> {
        Ok(self
            .store
            .resources_after(tenant, kind, after, limit)
            .await?)
    }

    /// A page of a group's members after the key `after`.
    pub async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, roster_store::Member)>, DirectoryError> {
        match self
            .store
            .members_after(tenant, group_id, after, limit)
            .await
        {
            Err(StoreError::NotFound) => Err(not_found(Kind::Group, group_id)),
            other => Ok(other?),
        }
    }

    /// The tenant a bearer token (a static token or an access token) grants access to, if
    /// the token is live. The token is looked up by its SHA-256 hash (a value an attacker
    /// cannot choose), and a lookup is trusted for at most [`TOKEN_CACHE_SECONDS`] and never
    /// past the token's expiry, so that a revocation or a settings change reaches every
    /// process within that time. The token's last use is recorded off the request's path, at
    /// most about once a minute.
    pub async fn authenticate(
        &self,
        token: &str,
    ) -> Result<Option<Arc<TenantContext>>, DirectoryError> {
        if !(token.starts_with(tokens::TOKEN_PREFIX)
            || token.starts_with(tokens::ACCESS_TOKEN_PREFIX))
            || token.len() > 200
        {
            return Ok(None);
        }
        let hash = hash_token(token);
        let now = self.clock.now();
        if let Some(ctx) = self.tokens.get(&hash, now) {
            return Ok(Some(ctx));
        }
        let Some(grant) = self.store.grant(&hash, now).await? else {
            return Ok(None);
        };
        let stale = grant
            .token
            .last_used_at
            .is_none_or(|t| (now - t).whole_seconds() >= LAST_USED_PRECISION_SECONDS);
        if stale && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            let id = grant.token.id.clone();
            runtime.spawn(async move {
                if let Err(e) = store.touch_token(&id, now).await {
                    tracing::debug!(error = %e, "recording a token's last use failed");
                }
            });
        }
        let ctx = Arc::new(self.context(grant.tenant)?);
        self.tokens
            .put(hash, now, grant.token.expires_at, ctx.clone());
        Ok(Some(ctx))
    }

    /// A tenant's context by id, for requests authenticated by other means than a stored
    /// token (a federated token); trusted for at most [`TOKEN_CACHE_SECONDS`].
    pub async fn tenant_context(
        &self,
        id: &TenantId,
    ) -> Result<Option<Arc<TenantContext>>, DirectoryError> {
        let now = self.clock.now();
        if let Some(ctx) = self.contexts.get(id, now) {
            return Ok(Some(ctx));
        }
        let Some(tenant) = self.store.tenant(id).await? else {
            return Ok(None);
        };
        let ctx = Arc::new(self.context(tenant)?);
        self.contexts.put(id.clone(), now, None, ctx.clone());
        Ok(Some(ctx))
    }

    /// The time now, by this directory's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The context of a tenant: its settings and schema registry; an error when a stored
    /// setting cannot be read.
    pub fn context(&self, tenant: Tenant) -> Result<TenantContext, DirectoryError> {
        let settings = TenantSettings::of(&tenant).map_err(|error| unreadable(&tenant, error))?;
        let registry = if settings.user_attributes.is_empty() {
            self.registry.clone()
        } else {
            settings::shared_registry(&self.registries, &settings.user_attributes)
        };
        Ok(TenantContext {
            tenant,
            settings,
            registry,
        })
    }

    /// Changes one setting of a tenant (see [`TenantSettings::set`]) and returns the new
    /// settings.
    pub async fn set_setting(
        &self,
        tenant: &TenantId,
        key: &str,
        value: &str,
    ) -> Result<TenantSettings, DirectoryError> {
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let mut settings =
            TenantSettings::for_change(&current, key).map_err(|e| unreadable(&current, e))?;
        settings
            .set(key, value)
            .map_err(|e| DirectoryError::Setting(e.0))?;
        self.save_settings(tenant, &settings).await?;
        Ok(settings)
    }

    async fn save_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), DirectoryError> {
        let json =
            serde_json::to_value(settings).map_err(|e| DirectoryError::Internal(e.to_string()))?;
        self.store.set_tenant_settings(tenant, &json).await?;
        // This process sees the change at once; others within the token cache's second.
        self.tokens.forget(tenant);
        self.contexts.forget(tenant);
        Ok(())
    }

    /// Creates a resource from a client's JSON.
    pub async fn create(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        body: &Value,
        return_members: bool,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let schema = tenant.schema(kind);
        let body = tenant.dialect().resource_body(schema, body, applied);
        let mut data =
            roster_scim::resource::normalize(schema, &body, roster_scim::resource::Mode::Create)?;
        strip_server_attributes(&mut data);
        password::secure(&mut data, None, false, self.secrets.salt()).await?;
        let (data, members) = match kind {
            Kind::Group => split_members(data)?,
            Kind::User => (data, Vec::new()),
        };
        roster_scim::limits::check(&data, None, &self.limits)?;
        let now = self.clock.now();
        let resource = StoredResource {
            id: self.secrets.resource_id(),
            kind,
            version: 1,
            created: now,
            last_modified: now,
            data,
            members: None,
            // A new user belongs to no group yet.
            groups: (kind == Kind::User).then(Vec::new),
        };
        let mut members = members;
        let mut unknown = HashSet::new();
        loop {
            let mut log = events::Recorder::new(self.secrets.as_ref(), now);
            log.created(&resource);
            if kind == Kind::Group {
                let group = events::group_ref(&resource);
                for m in distinct_ids(&members) {
                    log.member(true, &group, m, None);
                }
            }
            match self
                .store
                .insert_recorded(tenant.id(), &resource, &members, &log.events)
                .await
            {
                // Written again without the member, when the tenant ignores unknown members.
                Err(StoreError::UnknownMember(id))
                    if ignores_unknown(tenant) && unknown.insert(id.clone()) =>
                {
                    members.retain(|m| m.id != id);
                }
                done => {
                    done?;
                    break;
                }
            }
        }
        note_unknown(&unknown, applied);
        self.changed();
        self.written(tenant, resource, return_members).await
    }

    /// Reads a resource; group members only when `with_relations`.
    pub async fn get(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<StoredResource, DirectoryError> {
        self.store
            .get(tenant.id(), kind, id, with_relations)
            .await?
            .ok_or_else(|| not_found(kind, id))
    }

    /// Replaces a resource with a client's JSON (PUT).
    pub async fn replace(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        body: &Value,
        options: WriteOptions,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let WriteOptions {
            if_match,
            return_members,
            ..
        } = options;
        let schema = tenant.schema(kind);
        let body = &tenant.dialect().resource_body(schema, body, applied);
        let mut unknown = HashSet::new();
        for _ in 0..WRITE_RETRIES {
            // A user's groups are returned with it; a group's members are read to tell which
            // members the replacement adds and removes.
            let current = self.get(tenant, kind, id, true).await?;
            check_if_match(&current, if_match)?;
            let view = roster_store::memory_eval::scim_view(&current);
            let mut data = roster_scim::resource::normalize(
                schema,
                body,
                roster_scim::resource::Mode::Replace { current: &view },
            )?;
            strip_server_attributes(&mut data);
            let previous = password::stored(&current.data);
            password::secure(&mut data, previous, true, self.secrets.salt()).await?;
            let (data, mut members) = match kind {
                Kind::Group => split_members(data)?,
                Kind::User => (data, Vec::new()),
            };
            roster_scim::limits::check(&data, Some(&current.data), &self.limits)?;
            members.retain(|m| !unknown.contains(&m.id));
            let next = StoredResource {
                version: current.version + 1,
                last_modified: self.clock.now(),
                data,
                ..current.clone()
            };
            let change = match kind {
                Kind::Group => MembersChange::Replace(members),
                Kind::User => MembersChange::Keep,
            };
            let written = self
                .try_update(tenant, &current, next, &change, if_match, &mut unknown)
                .await?;
            if let Some(next) = written {
                note_unknown(&unknown, applied);
                return self.written(tenant, next, return_members).await;
            }
        }
        Err(DirectoryError::Unavailable(
            "the resource is changing too often".into(),
        ))
    }

    /// Applies a PatchOp message to a resource.
    pub async fn patch(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        body: &Value,
        options: WriteOptions,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let WriteOptions {
            if_match,
            return_members,
            no_body,
        } = options;
        let schema = tenant.schema(kind);
        let dialect = tenant.dialect();
        let body = dialect.patch_body(schema, body, applied);
        let request = PatchRequest::from_value(&body)?;
        let options = dialect.patch_options();
        let member_only = match kind {
            Kind::Group => request
                .member_delta(options.remove_unmatched)
                .map(members_change),
            Kind::User => None,
        };
        // A group PATCH that does not touch `members` (Entra's rename) is applied to the group
        // without them and writes no member row, whatever the group's size.
        let with_members = match kind {
            Kind::Group => request.touches_members(),
            Kind::User => true,
        };
        if let Some(change) = member_only {
            // Read back (with its members or not), unless no body is sent.
            let read_back = (return_members || !no_body).then_some(return_members);
            return self
                .change_members(tenant, id, change, if_match, read_back, applied)
                .await;
        }
        let mut unknown = HashSet::new();
        for _ in 0..WRITE_RETRIES {
            // A group's members are patched when the request touches them; a user's groups
            // are returned with it.
            let current = self.get(tenant, kind, id, with_members).await?;
            check_if_match(&current, if_match)?;
            let full = roster_store::memory_eval::scim_view(&current);
            let outcome = roster_scim::patch::apply_with(schema, &full, &request, &options)?;
            for n in &outcome.applied {
                if !applied.contains(n) {
                    applied.push(*n);
                }
            }
            let mut data = outcome.resource;
            strip_server_attributes(&mut data);
            let previous = password::stored(&current.data);
            password::secure(&mut data, previous, false, self.secrets.salt()).await?;
            let (data, mut members) = match kind {
                Kind::Group => split_members(data)?,
                Kind::User => (data, Vec::new()),
            };
            roster_scim::limits::check(&data, Some(&current.data), &self.limits)?;
            members.retain(|m| !unknown.contains(&m.id));
            let change = match kind {
                Kind::Group if with_members => MembersChange::Replace(members),
                Kind::Group | Kind::User => MembersChange::Keep,
            };
            let next = StoredResource {
                version: current.version + 1,
                last_modified: self.clock.now(),
                data,
                members: None,
                ..current.clone()
            };
            let written = self
                .try_update(tenant, &current, next, &change, if_match, &mut unknown)
                .await?;
            if let Some(next) = written {
                note_unknown(&unknown, applied);
                return self.written(tenant, next, return_members).await;
            }
        }
        Err(DirectoryError::Unavailable(
            "the resource is changing too often".into(),
        ))
    }

    /// Deletes a resource; a deleted user leaves every group.
    pub async fn delete(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<(), DirectoryError> {
        for _ in 0..WRITE_RETRIES {
            // The last known state goes into the change log (a user with its groups, which it
            // leaves; a group without its members).
            let last = self.get(tenant, kind, id, kind == Kind::User).await?;
            check_if_match(&last, if_match)?;
            let mut log = events::Recorder::new(self.secrets.as_ref(), self.clock.now());
            log.deleted(&last);
            match self
                .store
                .delete_recorded(tenant.id(), kind, id, Some(last.version), &log.events)
                .await
            {
                Ok(()) => {
                    self.changed();
                    return Ok(());
                }
                Err(StoreError::NotFound) => return Err(not_found(kind, id)),
                // Changed since it was read: read it again, unless the client named a version.
                Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
                Err(StoreError::VersionMismatch) => {
                    return Err(DirectoryError::PreconditionFailed(
                        if_match.map(|v| v.to_string()).unwrap_or_default(),
                    ));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DirectoryError::Unavailable(
            "the resource is changing too often".into(),
        ))
    }

    /// A group PATCH that only adds or removes members by id, applied as row changes. The
    /// group itself is read without its members (for the events' `displayName`), except when
    /// the whole list is replaced, where the old list tells which members left.
    async fn change_members(
        &self,
        tenant: &TenantContext,
        id: &str,
        mut change: MembersChange,
        if_match: Option<i64>,
        read_back: Option<bool>,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let replacing = matches!(change, MembersChange::Replace(_));
        let mut unknown = HashSet::new();
        for _ in 0..WRITE_RETRIES {
            let current = self.get(tenant, Kind::Group, id, replacing).await?;
            check_if_match(&current, if_match)?;
            let group = events::group_ref(&current);
            let now = self.clock.now();
            let mut log = events::Recorder::new(self.secrets.as_ref(), now);
            match &change {
                MembersChange::Keep => {}
                MembersChange::Delta { add, remove } => {
                    for m in distinct_ids(add) {
                        log.member(true, &group, m, None);
                    }
                    for m in remove.iter().collect::<HashSet<_>>() {
                        log.member(false, &group, m, None);
                    }
                }
                MembersChange::Replace(list) => {
                    member_diff(&mut log, &group, current.members.as_deref(), list);
                }
            }
            // Replacing the list was decided on the members read: it must not have changed.
            let expected = if replacing {
                Some(current.version)
            } else {
                if_match
            };
            match self
                .store
                .change_members_recorded(tenant.id(), id, &change, expected, now, &log.events)
                .await
            {
                Ok(version) => {
                    self.changed();
                    note_unknown(&unknown, applied);
                    let Some(with_members) = read_back else {
                        // Nothing but the version is sent back: the write returned it.
                        return Ok(StoredResource {
                            version,
                            last_modified: now,
                            members: None,
                            ..current
                        });
                    };
                    return self.get(tenant, Kind::Group, id, with_members).await;
                }
                Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
                // Written again without the member, when the tenant ignores unknown members.
                Err(StoreError::UnknownMember(member))
                    if ignores_unknown(tenant) && unknown.insert(member.clone()) =>
                {
                    match &mut change {
                        MembersChange::Delta { add, .. } => add.retain(|m| m.id != member),
                        MembersChange::Replace(list) => list.retain(|m| m.id != member),
                        MembersChange::Keep => {}
                    }
                    continue;
                }
                Err(e) => {
                    return Err(self.write_error(e, Kind::Group, id, if_match.unwrap_or_default()));
                }
            }
        }
        Err(DirectoryError::Unavailable(
            "the resource is changing too often".into(),
        ))
    }

    /// The events of a replace or general PATCH from `current` to `next`.
    fn update_events(
        &self,
        current: &StoredResource,
        next: &StoredResource,
        change: &MembersChange,
    ) -> Vec<roster_store::NewEvent> {
        let mut log = events::Recorder::new(self.secrets.as_ref(), next.last_modified);
        log.updated(current, next);
        if let MembersChange::Replace(list) = change {
            let group = events::group_ref(next);
            member_diff(&mut log, &group, current.members.as_deref(), list);
        }
        log.events
    }

    /// Lists resources.
    pub async fn list(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        query: &ListQuery,
    ) -> Result<Page, DirectoryError> {
        if let Some(f) = &query.filter {
            f.validate(tenant.schema(kind))
                .map_err(roster_scim::Error::from)?;
        }
        if let Some(sort) = &query.sort {
            sort.validate(tenant.schema(kind))?;
        }
        Ok(self
            .store
            .list(tenant.id(), kind, tenant.schema(kind), query)
            .await?)
    }

    /// The groups each user is a direct member of.
    pub async fn groups_of(
        &self,
        tenant: &TenantContext,
        user_ids: &[String],
    ) -> Result<Vec<(String, roster_store::GroupRef)>, DirectoryError> {
        Ok(self.store.groups_of(tenant.id(), user_ids).await?)
    }

    /// Writes `next` over the version read; `None` when another request changed the resource
    /// in between and the client sent no `If-Match`, so the caller reads it again and retries.
    async fn try_update(
        &self,
        tenant: &TenantContext,
        current: &StoredResource,
        next: StoredResource,
        change: &MembersChange,
        if_match: Option<i64>,
        unknown: &mut HashSet<String>,
    ) -> Result<Option<StoredResource>, DirectoryError> {
        let read_version = current.version;
        let events = self.update_events(current, &next, change);
        match self
            .store
            .update_from_recorded(tenant.id(), current, &next, change, &events)
            .await
        {
            Ok(()) => {
                self.changed();
                Ok(Some(next))
            }
            Err(StoreError::VersionMismatch) if if_match.is_none() => Ok(None),
            // Written again without the member, when the tenant ignores unknown members.
            Err(StoreError::UnknownMember(id))
                if ignores_unknown(tenant) && unknown.insert(id.clone()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.write_error(e, next.kind, &next.id, read_version)),
        }
    }

    /// The resource as just written. Nothing needs reading back unless a group's members are
    /// wanted: their display names and types live in other rows.
    async fn written(
        &self,
        tenant: &TenantContext,
        resource: StoredResource,
        with_relations: bool,
    ) -> Result<StoredResource, DirectoryError> {
        if with_relations && resource.kind == Kind::Group {
            self.get(tenant, resource.kind, &resource.id, true).await
        } else {
            Ok(resource)
        }
    }

    fn write_error(&self, e: StoreError, kind: Kind, id: &str, version: i64) -> DirectoryError {
        match e {
            StoreError::NotFound => not_found(kind, id),
            StoreError::VersionMismatch => DirectoryError::PreconditionFailed(version.to_string()),
            other => other.into(),
        }
    }
}

/// Ids in first-seen order, each once.
fn distinct_ids(members: &[MemberRef]) -> Vec<&str> {
    let mut seen = HashSet::new();
    members
        .iter()
        .map(|m| m.id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Member events for a list that replaces `before`.
fn member_diff(
    log: &mut events::Recorder<'_>,
    group: &Value,
    before: Option<&[roster_store::Member]>,
    after: &[MemberRef],
) {
    let before = before.unwrap_or_default();
    let old: HashSet<&str> = before.iter().map(|m| m.id.as_str()).collect();
    let new: HashSet<&str> = after.iter().map(|m| m.id.as_str()).collect();
    for id in distinct_ids(after) {
        if !old.contains(id) {
            log.member(true, group, id, None);
        }
    }
    for m in before {
        if !new.contains(m.id.as_str()) {
            log.member(false, group, &m.id, Some(m.kind));
        }
    }
}

fn webhook_error(e: StoreError, id: &str) -> DirectoryError {
    match e {
        StoreError::NotFound => DirectoryError::NotFound {
            kind: "webhook",
            id: id.to_owned(),
        },
        other => other.into(),
    }
}

fn unreadable(tenant: &Tenant, error: settings::UnreadableSetting) -> DirectoryError {
    DirectoryError::UnreadableSetting {
        tenant: tenant.id.to_string(),
        error,
    }
}

fn not_found(kind: Kind, id: &str) -> DirectoryError {
    DirectoryError::NotFound {
        kind: kind.as_str(),
        id: id.to_owned(),
    }
}

fn check_if_match(current: &StoredResource, if_match: Option<i64>) -> Result<(), DirectoryError> {
    match if_match {
        Some(v) if v != current.version => Err(DirectoryError::PreconditionFailed(v.to_string())),
        _ => Ok(()),
    }
}

/// SHA-256 of a token. Tokens carry 256 random bits, so a fast hash is as strong as a slow one
/// here, and lets every request be authenticated with one indexed lookup.
pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
