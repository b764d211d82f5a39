//! The inbound mass-change hold: when a tenant's identity provider deactivates or deletes more
//! users within a window than the tenant allows, the events of those removals are kept out of
//! the change log (so webhooks, the event feed and outbound targets do not see them) until an
//! administrator releases or discards them.
//!
//! The backends hold events where they are written, so no write path can forget it: while a
//! hold is active, an event about to enter the change log is kept aside instead when it is a
//! `user.deactivated` or `user.deleted`, or when it is about a resource that already has an
//! event held (its resource id: `data.resource.id`, or `data.member.value` for a member
//! event), so that what a released hold delivers keeps each resource's order. Everything else
//! (new users, other users' updates, groups) goes on as usual.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{Event, NewEvent, StoreError, TenantId};

/// A tenant's hold, active or the last one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// `hold_…`.
    pub id: String,
    /// When the threshold was crossed.
    pub started_at: OffsetDateTime,
    /// The threshold as set when it was crossed (`500`, `10%`).
    pub threshold: String,
    /// The removals within the window that crossed it.
    pub removals: u64,
    /// When it was released or discarded; `None` while active.
    pub ended_at: Option<OffsetDateTime>,
    /// `released` or `discarded`, once ended.
    pub outcome: Option<String>,
    /// Who ended it (an administrator's or operator's name, or `api key …`).
    pub ended_by: Option<String>,
}

impl Hold {
    /// Whether it still holds events.
    pub fn is_active(&self) -> bool {
        self.ended_at.is_none()
    }
}

/// How a hold ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldEnd {
    /// Its events enter the change log, in the order they were held.
    Release,
    /// Its events are dropped.
    Discard,
}

impl HoldEnd {
    /// `released` or `discarded`.
    pub fn as_str(self) -> &'static str {
        match self {
            HoldEnd::Release => "released",
            HoldEnd::Discard => "discarded",
        }
    }
}

/// Holds of the change log (see the module documentation).
#[async_trait]
pub trait HoldStore: Send + Sync {
    /// The tenant's active hold, or its last one, if it ever had one.
    async fn hold(&self, tenant: &TenantId) -> Result<Option<Hold>, StoreError>;

    /// How many events the tenant's active hold keeps, by type, most first.
    async fn held_counts(&self, tenant: &TenantId) -> Result<Vec<(String, u64)>, StoreError>;

    /// Up to `limit` held events after `after` (their `position` is their place among the
    /// held), oldest first.
    async fn held_events(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: u64,
    ) -> Result<Vec<Event>, StoreError>;

    /// The users deactivated or deleted since `since`, as the change log records them (held
    /// events are not counted: no hold is active when this is asked).
    async fn recent_removals(
        &self,
        tenant: &TenantId,
        since: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// Starts a hold, with its event (which is not held), unless one is active; whether it
    /// started.
    async fn start_hold(
        &self,
        tenant: &TenantId,
        hold: &Hold,
        event: &NewEvent,
    ) -> Result<bool, StoreError>;

    /// How many tenants have an active hold (for the operator's `/metrics`).
    async fn count_active_holds(&self) -> Result<u64, StoreError>;

    /// Ends the active hold `hold_id`: its events enter the change log in their order
    /// (released) or are dropped (discarded), then `events` are appended, all at once;
    /// how many events it held. `NotFound` when that hold is not active.
    async fn end_hold(
        &self,
        tenant: &TenantId,
        hold_id: &str,
        end: HoldEnd,
        by: &str,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<u64, StoreError>;
}
