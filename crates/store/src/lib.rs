//! Storage traits and neutral types: what the directory asks of a database, whatever the
//! database is. Every operation on directory data takes the tenant first; there is no way to
//! read or write a resource without naming its tenant.

use std::fmt;

use async_trait::async_trait;
use roster_scim::filter::Filter;
use roster_scim::schema::ResourceSchema;
use roster_scim::sort::SortBy;
use serde_json::Value;
use time::OffsetDateTime;

pub mod conformance;
pub mod memory_eval;
pub mod sql;

/// An opaque tenant identifier (random, not derived from the name).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// Wraps an id read from storage or a URL. The directory checks the tenant exists.
    pub fn new(id: impl Into<String>) -> Self {
        TenantId(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A tenant: one customer organisation of the host application.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenant {
    /// The opaque id used in URLs.
    pub id: TenantId,
    /// The name given at creation.
    pub name: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// The tenant's settings, a JSON object whose shape the directory owns.
    pub settings: Value,
}

/// A stored bearer token: only its SHA-256 hash is kept. Static tokens are issued by an
/// administrator; access tokens are issued by the token endpoint to an OAuth client and
/// carry its id.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    /// The token's own id (not secret).
    pub id: String,
    /// The tenant it grants access to.
    pub tenant_id: TenantId,
    /// SHA-256 of the token.
    pub hash: [u8; 32],
    /// When it was issued.
    pub created_at: OffsetDateTime,
    /// A name the administrator gave it (empty for access tokens).
    pub name: String,
    /// Its last four characters, to tell tokens apart on screen.
    pub last4: String,
    /// When it stops working, if ever.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was last used (recorded at most about once a minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
    /// The OAuth client an access token was issued to; `None` for a static token.
    pub client_id: Option<String>,
}

/// A live token and the tenant it grants access to.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The tenant, with its settings.
    pub tenant: Tenant,
    /// The token.
    pub token: TokenRecord,
}

/// An OAuth 2.0 client of a tenant (client credentials grant): only its secret's SHA-256 is
/// kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientRecord {
    /// The `client_id` (not secret).
    pub id: String,
    /// The tenant whose SCIM endpoint its access tokens open.
    pub tenant_id: TenantId,
    /// A name the administrator gave it.
    pub name: String,
    /// SHA-256 of the client secret.
    pub secret_hash: [u8; 32],
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The two resource types Roster stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A User.
    User,
    /// A Group.
    Group,
}

impl Kind {
    /// The resource type name (`User`, `Group`), as stored and as in `meta.resourceType`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// Parses a stored kind.
    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "User" => Some(Kind::User),
            "Group" => Some(Kind::Group),
            _ => None,
        }
    }
}

/// A resource as stored: its identity, bookkeeping and canonical JSON. The JSON holds neither
/// `id`, `meta`, Group `members` nor User `groups`: those are columns and rows of their own.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResource {
    /// The resource id.
    pub id: String,
    /// User or Group.
    pub kind: Kind,
    /// Incremented on every change; `meta.version` and the ETag derive from it.
    pub version: i64,
    /// `meta.created`.
    pub created: OffsetDateTime,
    /// `meta.lastModified`.
    pub last_modified: OffsetDateTime,
    /// The canonical resource without `id`, `meta`, `members` and `groups`.
    pub data: Value,
    /// The members of a Group, when read with its relations.
    pub members: Option<Vec<Member>>,
    /// The groups a User is a direct member of, when read with its relations.
    pub groups: Option<Vec<GroupRef>>,
}

/// One member of a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's resource id.
    pub id: String,
    /// Whether the member is a User or a Group.
    pub kind: Kind,
    /// The member's display name (its `displayName`, or `userName` for a user without one).
    pub display: Option<String>,
}

/// A group a user belongs to (the user's read-only `groups` attribute).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// The group id.
    pub id: String,
    /// The group's displayName.
    pub display: String,
}

/// A member to add: its id, and the display name the client sent with it, if any (echoed back
/// instead of the member's own name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRef {
    /// The member's resource id.
    pub id: String,
    /// The client's display name for it.
    pub display: Option<String>,
}

impl From<&str> for MemberRef {
    fn from(id: &str) -> Self {
        MemberRef {
            id: id.to_owned(),
            display: None,
        }
    }
}

impl From<String> for MemberRef {
    fn from(id: String) -> Self {
        MemberRef { id, display: None }
    }
}

impl From<&String> for MemberRef {
    fn from(id: &String) -> Self {
        MemberRef::from(id.as_str())
    }
}

/// How a write changes a group's members.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MembersChange {
    /// Members untouched.
    #[default]
    Keep,
    /// The member list becomes exactly these.
    Replace(Vec<MemberRef>),
    /// Members added and removed by id; adding a present member or removing an absent one is
    /// not an error.
    Delta {
        /// Members to add.
        add: Vec<MemberRef>,
        /// Ids to remove.
        remove: Vec<String>,
    },
}

/// What a list request asks of the store.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The filter, if any.
    pub filter: Option<Filter>,
    /// The sort, if any; without one, resources come in creation order.
    pub sort: Option<SortBy>,
    /// How many matching resources to skip (startIndex - 1).
    pub offset: u64,
    /// How many to return at most; 0 returns only the total.
    pub limit: u64,
    /// Whether relations are needed in the results: a group's members, a user's groups.
    pub with_relations: bool,
    /// The most bytes a page may cost: once its resources (their stored JSON, and a group's
    /// members) reach it, the page ends, though `limit` is not reached. A page holds at least
    /// one resource whatever its size. `usize::MAX` for no budget.
    pub max_bytes: usize,
}

/// What a page has cost so far, against its byte budget ([`ListQuery::max_bytes`]).
#[derive(Debug, Clone, Copy)]
pub struct PageBudget {
    left: usize,
    /// Whether the page was cut short by the budget.
    pub cut: bool,
}

impl PageBudget {
    /// The budget of a query.
    pub fn of(query: &ListQuery) -> Self {
        Self::of_bytes(query.max_bytes)
    }

    /// A budget of `bytes`.
    pub fn of_bytes(bytes: usize) -> Self {
        PageBudget {
            left: bytes,
            cut: false,
        }
    }

    /// Whether another resource may be read into the page, which holds `taken` so far.
    pub fn admits(&mut self, taken: usize) -> bool {
        if taken == 0 {
            return true;
        }
        if self.left == 0 {
            self.cut = true;
        }
        !self.cut
    }

    /// Counts `bytes` spent on the page.
    pub fn spend(&mut self, bytes: usize) {
        self.left = self.left.saturating_sub(bytes);
    }

    /// Counts a group's members (about their id and display name each).
    pub fn spend_members(&mut self, members: &[Member]) {
        let bytes = members
            .iter()
            .map(|m| m.id.len() + m.display.as_deref().map_or(0, str::len) + 48)
            .sum();
        self.spend(bytes);
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    /// How many resources match in all.
    pub total: u64,
    /// The resources of this page.
    pub resources: Vec<StoredResource>,
}

/// Why a storage operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The resource (or tenant) does not exist.
    #[error("not found")]
    NotFound,
    /// A uniqueness constraint was violated; the string names the attribute.
    #[error("{0} is already taken")]
    Conflict(&'static str),
    /// The resource changed since it was read (optimistic concurrency).
    #[error("the resource was changed by another request")]
    VersionMismatch,
    /// A member id that names no resource of the tenant.
    #[error("member {0} does not exist")]
    UnknownMember(String),
    /// The database cannot be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else: a bug or a corrupt row. Never shown to clients.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A change to record in the change log, written in the same transaction as the change.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The event's unique id (`evt_…`).
    pub id: String,
    /// Its type: `user.created`, `group.member_added`, …
    pub event_type: String,
    /// When the change was made.
    pub occurred_at: OffsetDateTime,
    /// What changed: the resource after the change, and more by type.
    pub data: Value,
}

/// An event of the change log, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Its place in the log: strictly increasing, never reused, the cursor of readers.
    pub position: i64,
    /// The event's unique id.
    pub id: String,
    /// The tenant whose directory changed.
    pub tenant_id: TenantId,
    /// Its type.
    pub event_type: String,
    /// When the change was made.
    pub occurred_at: OffsetDateTime,
    /// What changed.
    pub data: Value,
}

/// A stored API key of the host application: only its SHA-256 hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKeyRecord {
    /// The key's id (not secret).
    pub id: String,
    /// The name given at creation.
    pub name: String,
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A webhook endpoint of the host application. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    /// The endpoint's id (`wh_…`).
    pub id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The one tenant whose events it receives; every tenant's when `None`.
    pub tenant_id: Option<TenantId>,
    /// The signing secret (`whsec_…`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_until`.
    pub previous_secret: Option<String>,
    /// When the previous secret stops signing.
    pub previous_until: Option<i64>,
    /// When it was added.
    pub created_at: i64,
    /// Whether deliveries may go to a link-local or cloud-metadata address (the operator
    /// added it with `--allow-link-local`).
    pub allow_link_local: bool,
}

/// One endpoint's delivery stream of one tenant's events, leased to a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct Stream {
    /// The endpoint.
    pub webhook: WebhookRecord,
    /// The tenant whose events the stream carries.
    pub tenant_id: TenantId,
    /// The position of the last event delivered (or dead-lettered).
    pub delivered: i64,
    /// Failed attempts at the head event.
    pub attempts: i64,
    /// When the head event first failed.
    pub first_failed_at: Option<i64>,
}

/// How a worker leaves a stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamUpdate {
    /// The position of the last event delivered (or dead-lettered).
    pub delivered: i64,
    /// Failed attempts at the (new) head event.
    pub attempts: i64,
    /// When the head event first failed.
    pub first_failed_at: Option<i64>,
    /// When to try again.
    pub next_attempt_at: i64,
    /// An event given up on.
    pub dead_letter: Option<DeadLetter>,
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// The endpoint.
    pub webhook_id: String,
    /// The event's tenant.
    pub tenant_id: TenantId,
    /// The event.
    pub event_id: String,
    /// Its position.
    pub position: i64,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// When it was made.
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// How long it took.
    pub latency_ms: i64,
}

/// An event given up on after its last attempt; redeliverable.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    /// The endpoint.
    pub webhook_id: String,
    /// The event's tenant.
    pub tenant_id: TenantId,
    /// The event.
    pub event_id: String,
    /// Its position.
    pub position: i64,
    /// When it was given up on.
    pub at: i64,
    /// The last attempt's failure.
    pub error: String,
}

/// Joins leased stream rows (webhook id, tenant id, delivered, attempts, first failure) with
/// their webhooks; a stream whose webhook was removed meanwhile is dropped.
pub fn streams(
    leased: Vec<(String, String, i64, i64, Option<i64>)>,
    webhooks: Vec<WebhookRecord>,
) -> Result<Vec<Stream>, StoreError> {
    Ok(leased
        .into_iter()
        .filter_map(
            |(webhook_id, tenant, delivered, attempts, first_failed_at)| {
                let webhook = webhooks.iter().find(|w| w.id == webhook_id)?.clone();
                Some(Stream {
                    webhook,
                    tenant_id: TenantId::new(tenant),
                    delivered,
                    attempts,
                    first_failed_at,
                })
            },
        )
        .collect())
}

/// How a backend's connection pool is doing, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// The most connections the pool opens.
    pub max: u32,
    /// Connections lent out now.
    pub in_use: u32,
    /// Open connections nobody is using.
    pub idle: u32,
    /// Requests waiting for a connection (or, for a single-writer backend, for the writer).
    pub waiting: u64,
}

/// A storage backend. Every method that reads or writes directory data takes the tenant first.
#[async_trait]
pub trait Store: Send + Sync {
    /// Creates a tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Creates `tenant` only if no tenant exists yet, atomically: of several processes
    /// starting at once on an empty database, exactly one gets `true`.
    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError>;
    /// Every tenant, oldest first.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// One tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Stores a token; with `revoke_others`, the tenant's other static tokens stop working in
    /// the same transaction.
    async fn add_token(&self, token: &TokenRecord, revoke_others: bool) -> Result<(), StoreError>;
    /// The token with this hash and its tenant, if the token is live at `now`: not revoked and
    /// not expired.
    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError>;
    /// A tenant's static tokens that are not revoked (expired ones included), oldest first.
    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError>;
    /// Revokes one of a tenant's static tokens; `NotFound` if it has no such live token.
    async fn revoke_token(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Records that a token was used at `at` (never moves the time backwards).
    async fn touch_token(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Deletes access tokens that expired or were revoked before `before`; returns how many.
    async fn purge_access_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Records the use of the client assertion `jti` of `issuer`, remembered until
    /// `expires_at`: `true` the first time, `false` when it was used before and its record has
    /// not expired at `now` (a replay). Decided by the database, so one assertion is accepted
    /// once whichever process sees it.
    async fn remember_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Forgets client assertions that expired before `before`; returns how many.
    async fn purge_assertions(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Stores an OAuth client.
    async fn add_client(&self, client: &ClientRecord) -> Result<(), StoreError>;
    /// A tenant's OAuth clients that are not revoked, oldest first.
    async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, StoreError>;
    /// A live (not revoked) OAuth client by its `client_id`.
    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Revokes an OAuth client of a tenant and every access token issued to it, in one
    /// transaction; `NotFound` if the tenant has no such live client.
    async fn revoke_client(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Replaces a tenant's settings; `NotFound` if there is no such tenant.
    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError>;

    /// Inserts a resource (and a group's initial members). `Conflict` on a taken userName or
    /// group displayName; `UnknownMember` for a member id that is not in the tenant.
    async fn insert(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.insert_recorded(tenant, resource, members, &[]).await
    }
    /// [`Store::insert`], appending `events` to the change log in the same transaction.
    async fn insert_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
        events: &[NewEvent],
    ) -> Result<(), StoreError>;
    /// Reads a resource; its relations (a group's members, a user's groups) only when asked.
    async fn get(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<Option<StoredResource>, StoreError>;
    /// Writes a new state of a resource if its stored version is still `expected_version`
    /// (else `VersionMismatch`), changing members as told, atomically.
    async fn update(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
    ) -> Result<(), StoreError> {
        self.update_recorded(tenant, resource, expected_version, members, &[])
            .await
    }
    /// [`Store::update`], appending `events` to the change log in the same transaction.
    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError>;
    /// [`Store::update_recorded`] of a resource read as `previous` (whose version is the
    /// expected one), so that a backend can leave alone the indexed columns the change does not
    /// touch. The write is refused exactly as `update_recorded` refuses it.
    async fn update_from_recorded(
        &self,
        tenant: &TenantId,
        previous: &StoredResource,
        resource: &StoredResource,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update_recorded(tenant, resource, previous.version, members, events)
            .await
    }
    /// Changes a group's members without touching its other attributes, atomically: applies
    /// the change, sets `lastModified` to `at` and increments the version, which is returned.
    /// With `expected_version`, a stale version is `VersionMismatch`; `UnknownMember` leaves
    /// everything as it was.
    async fn change_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        change: &MembersChange,
        expected_version: Option<i64>,
        at: OffsetDateTime,
    ) -> Result<i64, StoreError> {
        self.change_members_recorded(tenant, group_id, change, expected_version, at, &[])
            .await
    }
    /// [`Store::change_members`], appending `events` to the change log in the same
    /// transaction.
    async fn change_members_recorded(
        &self,
        tenant: &TenantId,
        group_id: &str,
        change: &MembersChange,
        expected_version: Option<i64>,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<i64, StoreError>;
    /// Deletes a resource (and every membership it had) if its version matches, when given.
    async fn delete(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        self.delete_recorded(tenant, kind, id, expected_version, &[])
            .await
    }
    /// [`Store::delete`], appending `events` to the change log in the same transaction.
    async fn delete_recorded(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        events: &[NewEvent],
    ) -> Result<(), StoreError>;
    /// Lists resources matching a query; indexed attributes are filtered by the database.
    async fn list(
        &self,
        tenant: &TenantId,
        kind: Kind,
        schema: &ResourceSchema,
        query: &ListQuery,
    ) -> Result<Page, StoreError>;
    /// The groups each of these users is a direct member of.
    async fn groups_of(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<Vec<(String, GroupRef)>, StoreError>;
    /// Up to `limit` events of the change log after `after` (a position; 0 for the start),
    /// oldest first; only `tenant`'s when given.
    async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError>;
    /// Gives positions to events committed since the last call, in the order they were
    /// written; returns how many. A backend whose commits are already ordered does nothing.
    async fn sequence_events(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// Deletes the events that occurred before `before`; returns how many.
    async fn purge_events(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// How many events are not yet positioned (the change log's backlog).
    async fn event_backlog(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Stores an API key.
    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Every API key, revoked ones included, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// The live API key with this hash.
    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Revokes an API key; `NotFound` if there is no such live key.
    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Up to `limit` resources of a kind created after the one at `after` (a key from an
    /// earlier page; 0 for the start), in creation order, with their keys.
    async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, StoreError>;
    /// Up to `limit` members of a group after the one at `after` (0 for the start), in member
    /// creation order, with their keys; `NotFound` if there is no such group.
    async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Member)>, StoreError>;

    /// Adds a webhook endpoint; it receives the events positioned after this moment.
    async fn add_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError>;
    /// Every webhook endpoint, oldest first.
    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError>;
    /// Removes an endpoint and its delivery state; `NotFound` if there is none.
    async fn remove_webhook(&self, id: &str) -> Result<(), StoreError>;
    /// Replaces an endpoint's secret; the old one keeps signing until `previous_until`.
    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(), StoreError>;
    /// Starts the endpoint's stream of the event's tenant again at that event (and clears the
    /// dead letters from it on); `NotFound` for an unknown endpoint or event.
    async fn redeliver(&self, webhook_id: &str, event_id: &str, now: i64)
    -> Result<(), StoreError>;
    /// Leases up to `limit` streams that have events to deliver and are due, to `owner` until
    /// `lease_until`; streams of tenants with new events are created first.
    async fn claim_streams(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<Stream>, StoreError>;
    /// Records a stream's progress and its attempts, and releases its lease; progress is
    /// dropped if the lease was lost to another worker (that worker delivers again).
    async fn finish_stream(
        &self,
        owner: &str,
        webhook_id: &str,
        tenant: &TenantId,
        update: &StreamUpdate,
        attempts: &[DeliveryAttempt],
    ) -> Result<(), StoreError>;
    /// The dead letters, of one endpoint when given.
    async fn dead_letters(&self, webhook_id: Option<&str>) -> Result<Vec<DeadLetter>, StoreError>;
    /// An endpoint's latest delivery attempts, newest first.
    async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<DeliveryAttempt>, StoreError>;

    /// Whether the database answers and its schema is the one this build needs.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The state of the connection pool.
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }
}
