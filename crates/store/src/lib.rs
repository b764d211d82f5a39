//! Storage traits and neutral types: what the directory asks of a database, whatever the
//! database is. Every operation on directory data takes the tenant first; there is no way to
//! read or write a resource without naming its tenant.

use std::fmt;

use roster_scim::filter::Filter;
use roster_scim::sort::SortBy;
use serde_json::Value;
use time::OffsetDateTime;

pub mod approvals;
pub mod background;
#[cfg(feature = "conformance")]
pub mod conformance;
mod hold;
mod log;
pub mod memory_eval;
mod outbound;
pub mod sql;
mod sso;
mod traits;

pub use approvals::{Approval, ApprovalStore};
pub use hold::{Hold, HoldEnd, HoldStore};
pub use log::{LogCounts, LogEntry, LogQuery, Outcome};
pub use outbound::{OutboundStore, TargetObject, TargetRecord, TargetRun};
pub use sso::{HostAppRecord, SigningKeyRecord, SsoConnectionRecord, SsoStore};

pub use traits::{
    ChangeLog, ConsoleStore, CredentialStore, Health, ProvisioningLog, ResourceStore, Store,
    TenantStore, WebhookStore,
};

/// The storage traits, for callers of [`Store`] methods on `dyn Store`: `use
/// roster_store::prelude::*;`.
pub mod prelude {
    pub use crate::approvals::ApprovalStore;
    pub use crate::hold::HoldStore;
    pub use crate::outbound::OutboundStore;
    pub use crate::sso::SsoStore;
    pub use crate::traits::{
        ChangeLog, ConsoleStore, CredentialStore, Health, ProvisioningLog, ResourceStore, Store,
        TenantStore, WebhookStore,
    };
}

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
    /// A short name unique among tenants, for URLs a person reads.
    pub slug: String,
    /// The host application's own id for the organisation, unique when given.
    pub external_id: Option<String>,
    /// The tenant's plan: its name is stored with the tenant; what it includes is read from
    /// the plan (a plan that no longer exists includes nothing).
    pub plan: Plan,
}

/// A tenant's column other than its id that names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantColumn {
    /// The slug.
    Slug,
    /// The host application's id.
    ExternalId,
}

impl TenantColumn {
    /// The column's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TenantColumn::Slug => "slug",
            TenantColumn::ExternalId => "external_id",
        }
    }
}

/// A plan: what the tenants on it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Its name (`enterprise`, `professional`, or one the operator made).
    pub name: String,
    /// Whether its tenants may provision over SCIM.
    pub provisioning: bool,
    /// Whether its tenants may sign on through their identity provider.
    pub sso: bool,
}

impl Plan {
    /// The plan of a new tenant when none is named, which includes everything.
    pub const DEFAULT: &str = "enterprise";

    /// The plan named `name` as far as a write is concerned (what it includes is read back).
    pub fn named(name: &str) -> Plan {
        Plan {
            name: name.to_owned(),
            provisioning: false,
            sso: false,
        }
    }
}

/// Someone who runs Roster: signs in to the console with an e-mail and a password.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// Its id.
    pub id: String,
    /// The e-mail it signs in with (stored lower-cased).
    pub email: String,
    /// The argon2id hash of its password (PHC string).
    pub password_hash: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Its TOTP secret (RFC 6238) sealed with the server key, when it signs in in two steps.
    pub totp_sealed: Option<Vec<u8>>,
    /// The last TOTP time step a code was accepted for (0 before any).
    pub totp_step: i64,
}

/// A console session: an operator's (every tenant) or a tenant administrator's (one tenant).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsoleSession {
    /// SHA-256 of the session cookie's secret.
    pub hash: [u8; 32],
    /// The operator, for an operator's session.
    pub operator_id: Option<String>,
    /// The one tenant an administrator's session may open.
    pub tenant_id: Option<TenantId>,
    /// The token every form of the session carries.
    pub csrf: String,
    /// When it began.
    pub created_at: OffsetDateTime,
    /// When it ends.
    pub expires_at: OffsetDateTime,
}

/// The most setup links a tenant's list answers (the newest): a host application may make
/// one for every visit, and each stays open for up to 30 days.
pub const MAX_PORTAL_LINKS_LISTED: u64 = 100;

/// A one-time link that lets a customer's administrator open the tenant's page.
#[derive(Debug, Clone, PartialEq)]
pub struct PortalLink {
    /// Its id (not secret; the API revokes by it).
    pub id: String,
    /// The tenant it opens.
    pub tenant_id: TenantId,
    /// SHA-256 of the secret the link carries.
    pub hash: [u8; 32],
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it stops working if not opened.
    pub expires_at: OffsetDateTime,
    /// When it was opened (it opens once).
    pub opened_at: Option<OffsetDateTime>,
    /// When it was revoked.
    pub revoked_at: Option<OffsetDateTime>,
}

/// What a tenant holds (and what deleting it removes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TenantHoldings {
    /// Users.
    pub users: u64,
    /// Groups (their memberships with them).
    pub groups: u64,
    /// Static tokens that still worked.
    pub tokens: u64,
    /// OAuth clients that were not revoked.
    pub oauth_clients: u64,
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
    /// The token sealed with the server key, so that it can be shown again; `None` for
    /// access tokens and for static tokens issued before tokens were sealed.
    pub sealed: Option<Vec<u8>>,
}

/// What issuing a static token does to the tenant's other live static tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherTokens {
    /// They keep working as they were (a rotation without a gap).
    Keep,
    /// They stop working now: revoked at the new token's creation.
    Revoke,
    /// They stop working at this time at the latest (an earlier expiry stays).
    ExpireBy(OffsetDateTime),
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

    /// The attribute that names a resource of this kind, unique within a tenant: `userName`
    /// or `displayName`.
    pub fn name_attribute(self) -> &'static str {
        match self {
            Kind::User => "userName",
            Kind::Group => "displayName",
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
    /// For a filtered list, count matches only up to this many (`total` is then at most it):
    /// the pages show "10,000 or more" rather than walk every match. `None`, as SCIM needs,
    /// counts them all.
    pub count_at_most: Option<u64>,
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

    /// Counts a user's groups (about their id and display name each): a user in thousands of
    /// groups costs a page as much as a large resource.
    pub fn spend_groups(&mut self, groups: &[GroupRef]) {
        let bytes = groups
            .iter()
            .map(|g| g.id.len() + g.display.len() + 48)
            .sum();
        self.spend(bytes);
    }

    /// Counts what a resource carries beside its JSON: a group's members, a user's groups.
    pub fn spend_relations(&mut self, resource: &StoredResource) {
        if let Some(members) = &resource.members {
            self.spend_members(members);
        }
        if let Some(groups) = &resource.groups {
            self.spend_groups(groups);
        }
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
    /// What it may do (`events:read`, `directory:read`, `tenants:write`).
    pub scopes: Vec<String>,
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
    /// Where the stream stood when it was leased: if it stands elsewhere now, it was restarted
    /// meanwhile (a redelivery), and the restart wins over this update.
    pub leased_delivered: i64,
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

impl PoolStats {
    /// The statistics of a pool of at most `max` connections, `size` of them open and `idle`
    /// of those unused, with `waiting` requests.
    pub fn of(max: u32, size: u32, idle: usize, waiting: u64) -> PoolStats {
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        PoolStats {
            max,
            in_use: size.saturating_sub(idle),
            idle,
            waiting,
        }
    }
}
