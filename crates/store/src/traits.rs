//! The storage traits: one per concern, each implemented by every backend in a file of its own,
//! and [`Store`], the one a caller holds (`Arc<dyn Store>`), which is all of them.
//!
//! A caller calling a method on `dyn Store` needs the method's trait in scope: `use
//! roster_store::prelude::*;` brings them all.

use async_trait::async_trait;
use roster_scim::schema::ResourceSchema;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{
    ApiKeyRecord, ClientRecord, ConsoleSession, DeadLetter, DeliveryAttempt, Event, Grant,
    GroupRef, Kind, ListQuery, LogCounts, LogEntry, LogQuery, Member, MemberRef, MembersChange,
    NewEvent, Operator, OtherTokens, Page, Plan, PoolStats, PortalLink, StoreError, StoredResource,
    Stream, StreamUpdate, Tenant, TenantColumn, TenantHoldings, TenantId, TokenRecord,
    WebhookRecord,
};

/// Tenants: the customer organisations and their settings.
#[async_trait]
pub trait TenantStore: Send + Sync {
    /// Creates a tenant.
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Creates `tenant` only if no tenant exists yet, atomically: of several processes
    /// starting at once on an empty database, exactly one gets `true`.
    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError>;
    /// Every tenant, oldest first.
    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError>;
    /// One tenant.
    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError>;
    /// Replaces a tenant's settings; `NotFound` if there is no such tenant.
    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError>;
    /// What a tenant holds, or `None` if there is no such tenant.
    async fn tenant_holdings(&self, id: &TenantId) -> Result<Option<TenantHoldings>, StoreError>;
    /// The tenant whose slug or external id (`column`) is `value`.
    async fn tenant_where(
        &self,
        column: TenantColumn,
        value: &str,
    ) -> Result<Option<Tenant>, StoreError>;
    /// Writes a tenant's name, external id and plan name (its id, slug, creation and settings
    /// stay); `NotFound` if there is no such tenant, `Conflict("external_id")` if another
    /// tenant has its external id.
    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError>;
    /// Every plan, by name.
    async fn plans(&self) -> Result<Vec<Plan>, StoreError>;
    /// Creates or changes a plan.
    async fn set_plan(&self, plan: &Plan) -> Result<(), StoreError>;
    /// Deletes a tenant and everything it holds (users, groups, memberships, tokens, OAuth
    /// clients) in one transaction that also appends `events` to the change log, and says what
    /// it removed; `NotFound` if there is no such tenant. The change log's earlier events of
    /// the tenant stay until their retention ends (a host app may still be reading them).
    async fn delete_tenant(
        &self,
        id: &TenantId,
        events: &[NewEvent],
    ) -> Result<TenantHoldings, StoreError>;
}

/// Credentials: SCIM bearer tokens, OAuth clients and their used assertions, and the host
/// application's API keys. Only hashes of secrets are kept.
#[async_trait]
pub trait CredentialStore: Send + Sync {
    /// Stores a token and, in the same transaction, does to the tenant's other live static
    /// tokens what `others` says.
    async fn add_token(&self, token: &TokenRecord, others: OtherTokens) -> Result<(), StoreError>;
    /// The token with this hash and its tenant, if the token is live at `now`: not revoked and
    /// not expired.
    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError>;
    /// The token with this hash whatever its state (revoked, expired, an access token), to
    /// tell an administrator why it was refused; `None` if no token has this hash.
    async fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError>;
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
    /// Whether the client assertion `jti` of `issuer` was used and its record has not expired
    /// at `now`: such a JWT is not accepted as a bearer token either.
    async fn assertion_used(
        &self,
        issuer: &str,
        jti: &str,
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
    /// Stores an API key.
    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError>;
    /// Every API key, revoked ones included, oldest first.
    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError>;
    /// The live API key with this hash.
    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError>;
    /// Revokes an API key; `NotFound` if there is no such live key.
    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;

    /// Stores a setup link.
    async fn add_portal_link(&self, link: &PortalLink) -> Result<(), StoreError>;
    /// A tenant's setup links that can still be opened at `now`, newest first, at most
    /// [`crate::MAX_PORTAL_LINKS_LISTED`].
    async fn portal_links(
        &self,
        tenant: &TenantId,
        now: OffsetDateTime,
    ) -> Result<Vec<PortalLink>, StoreError>;
    /// Deletes the setup links of every tenant that expired before `before` (opened, revoked
    /// or not: none of them opens any more); how many.
    async fn purge_portal_links(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
    /// Opens the setup link with this hash if it can be opened at `now` (not opened, revoked
    /// or expired), marking it opened in the same statement: of two opening at once, one gets
    /// it.
    async fn open_portal_link(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PortalLink>, StoreError>;
    /// Revokes one of a tenant's setup links that can still be opened; `NotFound` if none.
    async fn revoke_portal_link(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;

    /// The ids of the server keys that sealed values stored here.
    async fn sealing_keys(&self) -> Result<Vec<String>, StoreError>;
    /// Records that the key `id` sealed a value (once per key).
    async fn record_sealing_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError>;
    /// Every sealed token: its tenant, id and sealed value.
    async fn sealed_tokens(&self) -> Result<Vec<(TenantId, String, Vec<u8>)>, StoreError>;
    /// Replaces sealed values (a key rotation): each token's, in one transaction that also
    /// makes `key_id` the only key on record.
    async fn reseal_tokens(
        &self,
        sealed: &[(String, Vec<u8>)],
        key_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
}

/// Users and groups of a tenant, their members, and the pages the directory lists them in.
/// Every method takes the tenant first.
#[async_trait]
pub trait ResourceStore: Send + Sync {
    /// Inserts a resource (and a group's initial members), appending `events` to the change log
    /// in the same transaction. `Conflict` on a taken userName or group displayName;
    /// `UnknownMember` for a member id that is not in the tenant.
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
    /// (else `VersionMismatch`), changing members as told, atomically, appending `events` to
    /// the change log in the same transaction.
    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError>;
    /// [`ResourceStore::update_recorded`] of a resource read as `previous` (whose version is the
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
    /// everything as it was. `events` are appended to the change log in the same transaction.
    async fn change_members_recorded(
        &self,
        tenant: &TenantId,
        group_id: &str,
        change: &MembersChange,
        expected_version: Option<i64>,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<i64, StoreError>;
    /// Deletes a resource (and every membership it had) if its version matches, when given,
    /// appending `events` to the change log in the same transaction.
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
}

/// The change log: the events written with each change, read by position.
#[async_trait]
pub trait ChangeLog: Send + Sync {
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
    /// The highest position ever given to an event (0 before the first); a purge does not
    /// lower it, and no later event has a position at or below it.
    async fn last_position(&self) -> Result<i64, StoreError>;
    /// The position of the tenant's newest positioned event (0 when it has none).
    async fn tenant_head(&self, tenant: &TenantId) -> Result<i64, StoreError>;
    /// How many events are not yet positioned (the change log's backlog).
    async fn event_backlog(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
}

/// Webhook endpoints and their delivery streams, attempts and dead letters.
#[async_trait]
pub trait WebhookStore: Send + Sync {
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
}

/// Whether the database answers, and how its connections are used.
#[async_trait]
pub trait Health: Send + Sync {
    /// Whether the database answers and its schema is the one this build needs.
    async fn ping(&self) -> Result<(), StoreError>;
    /// The state of the connection pool.
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }
}

/// A storage backend: every concern's trait. Implemented by every type that implements them
/// all, so a backend implements the six traits and is a `Store`.
pub trait Store:
    TenantStore
    + CredentialStore
    + ResourceStore
    + ChangeLog
    + WebhookStore
    + ConsoleStore
    + ProvisioningLog
    + crate::SsoStore
    + crate::OutboundStore
    + crate::HoldStore
    + crate::ApprovalStore
    + Health
{
}

impl<T> Store for T where
    T: TenantStore
        + CredentialStore
        + ResourceStore
        + ChangeLog
        + WebhookStore
        + ConsoleStore
        + ProvisioningLog
        + crate::SsoStore
        + crate::OutboundStore
        + crate::HoldStore
        + crate::ApprovalStore
        + Health
        + ?Sized
{
}

/// The console's operators, the links that create them, and console sessions.
#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Stores an operator; `Conflict("email")` if another has its e-mail.
    async fn add_operator(&self, operator: &Operator) -> Result<(), StoreError>;
    /// The operator with this (lower-cased) e-mail.
    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError>;
    /// The operator with this id.
    async fn operator(&self, id: &str) -> Result<Option<Operator>, StoreError>;
    /// How many operators there are.
    async fn operator_count(&self) -> Result<u64, StoreError>;
    /// Sets (or with `None` clears) an operator's sealed TOTP secret; `NotFound` if there is
    /// no such operator.
    async fn set_operator_totp(&self, id: &str, sealed: Option<&[u8]>) -> Result<(), StoreError>;
    /// Records that a TOTP code of time step `step` was accepted for the operator: `true` if
    /// `step` is later than every step accepted before (decided by the database, so a code is
    /// accepted once even by two processes at the same moment), `false` otherwise.
    async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError>;
    /// Every operator's sealed TOTP secret, by operator id (to seal them again).
    async fn sealed_operator_totps(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Stores a link that creates an operator.
    async fn add_operator_invite(
        &self,
        hash: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// Whether the link with this hash can be used at `now` (not used, not expired).
    async fn operator_invite_live(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;
    /// Uses the link and stores the operator it creates, in one transaction; `false` (and no
    /// operator) if the link was used or expired meanwhile.
    async fn use_operator_invite(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
        operator: &Operator,
    ) -> Result<bool, StoreError>;
    /// Stores a session.
    async fn add_session(&self, session: &ConsoleSession) -> Result<(), StoreError>;
    /// The session with this hash, if it has not ended at `now`.
    async fn session(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError>;
    /// Ends a session.
    async fn end_session(&self, hash: &[u8; 32]) -> Result<(), StoreError>;
    /// Deletes sessions and invites that ended before `before`; how many.
    async fn purge_sessions(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}

/// The provisioning log: every request an identity provider sent to a tenant, what Roster did
/// and why anything was refused. Written in batches off the request path; a tenant deleted
/// takes its log with it.
#[async_trait]
pub trait ProvisioningLog: Send + Sync {
    /// Stores entries (their `seq` is ignored: each gets the next one), in one transaction.
    async fn append_log(&self, entries: Vec<LogEntry>) -> Result<(), StoreError>;
    /// [`ProvisioningLog::append_log`], with the CPU time the process leaves idle where the
    /// backend can (see [`crate::background`]): the write waits at most `patience` for it,
    /// then is done at normal priority. By default the same as `append_log`.
    async fn append_log_in_background(
        &self,
        entries: Vec<LogEntry>,
        patience: std::time::Duration,
    ) -> Result<(), StoreError> {
        let _ = patience;
        self.append_log(entries).await
    }
    /// A page of a tenant's log: newest first below `query.before`, or oldest first above
    /// `query.after`; filtered as `query` says; at most `query.limit` entries.
    async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, StoreError>;
    /// One entry of a tenant's log.
    async fn log_entry(&self, tenant: &TenantId, seq: i64) -> Result<Option<LogEntry>, StoreError>;
    /// How many of a tenant's requests arrived at or after `since`, and how they ended.
    async fn log_counts(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<LogCounts, StoreError>;
    /// Deletes every tenant's entries that arrived before `before`; how many.
    async fn purge_log(&self, before: OffsetDateTime) -> Result<u64, StoreError>;
}
