//! What outbound provisioning keeps: each tenant's targets (SCIM applications its directory is
//! pushed into), which users and groups are assigned to each, what each target holds of each
//! object (its id there and a digest of what was last sent), and each target's run: its
//! cycle's position, progress, failures and quarantine, under a lease so that one process at a
//! time works a target.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{Kind, StoreError, TenantId};

/// A tenant's target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRecord {
    /// Its id (random).
    pub id: String,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Its name, unique in the tenant.
    pub name: String,
    /// What is not secret (URL, mappings, scope, limits), as the directory writes it; read
    /// back strictly.
    pub settings: Value,
    /// Its credentials (a bearer token, or an OAuth client secret), sealed with the server key.
    pub sealed: Vec<u8>,
    /// Whether its runs are paused.
    pub paused: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// What a target holds of one object of the directory.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetObject {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The target.
    pub target_id: String,
    /// A user or a group.
    pub kind: Kind,
    /// Its id in the directory.
    pub source_id: String,
    /// Its id in the target.
    pub remote_id: String,
    /// The digest of what was last sent.
    pub digest: String,
    /// The top-level attributes last sent, and (groups) the members' ids in the target, as
    /// the engine writes them.
    pub sent: Value,
    /// Whether it was left deactivated (out of scope).
    pub deactivated: bool,
    /// When it last changed.
    pub updated_at: OffsetDateTime,
}

/// A target's run: where its cycle stands. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetRun {
    /// The tenant.
    pub tenant_id: TenantId,
    /// The target.
    pub target_id: String,
    /// `initial` (going through every object), `incremental` (following the change log).
    pub phase: String,
    /// In the initial phase: the last object done (`user:{id}`, `group:{id}`); empty at start.
    pub cursor: String,
    /// The change log's position the run has applied up to.
    pub position: i64,
    /// Objects processed in the current cycle, and how many it has.
    pub processed: i64,
    /// The cycle's objects.
    pub total: i64,
    /// Operations that failed in a row (quarantine counts them).
    pub failures: i64,
    /// The last failure, in words.
    pub error: Option<String>,
    /// Whether the target is in quarantine (cycles slowed until a test connection succeeds).
    pub quarantined: bool,
    /// When the run is next due.
    pub next_at: i64,
    /// When the last full cycle ended (0: never).
    pub cycle_ended_at: i64,
    /// When the current (or last) cycle started, in milliseconds since the epoch.
    pub cycle_started_at: i64,
}

/// Outbound provisioning's storage.
#[async_trait]
pub trait OutboundStore: Send + Sync {
    /// Adds a target, with a run in its initial phase starting at change-log position
    /// `position`; `Conflict("name")` if the tenant has a target of that name.
    async fn add_target(&self, target: &TargetRecord, position: i64) -> Result<(), StoreError>;
    /// Replaces a target's settings, secrets and paused flag (`NotFound` if it is gone).
    async fn update_target(&self, target: &TargetRecord) -> Result<(), StoreError>;
    /// A tenant's targets, by name.
    async fn targets(&self, tenant: &TenantId) -> Result<Vec<TargetRecord>, StoreError>;
    /// One target of a tenant, by id or by name.
    async fn target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<TargetRecord>, StoreError>;
    /// Removes a target with its assignments, objects and run (`NotFound` if there is none).
    async fn remove_target(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError>;

    /// Assigns a user or a group to a target (again is no change).
    async fn assign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError>;
    /// Takes an assignment away (`NotFound` if there was none).
    async fn unassign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError>;
    /// A target's assignments.
    async fn assignments(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Vec<(Kind, String)>, StoreError>;

    /// What a target holds of an object.
    async fn target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<Option<TargetObject>, StoreError>;
    /// Records what a target holds of an object.
    async fn put_target_object(&self, object: &TargetObject) -> Result<(), StoreError>;
    /// Records what a target holds of several objects (a page of a cycle), in one
    /// transaction where the backend can.
    async fn put_target_objects(&self, objects: &[TargetObject]) -> Result<(), StoreError> {
        for o in objects {
            self.put_target_object(o).await?;
        }
        Ok(())
    }
    /// Forgets an object (deleted from the target).
    async fn remove_target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError>;
    /// Forgets every object of a target (a restart).
    async fn clear_target_objects(&self, tenant: &TenantId, target: &str)
    -> Result<(), StoreError>;
    /// How many objects of each kind a target holds.
    async fn count_target_objects(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(u64, u64), StoreError>;

    /// A target's run.
    async fn target_run(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Option<TargetRun>, StoreError>;
    /// Ends a quarantine and makes the run due now (a test connection succeeded), whoever holds
    /// its lease; with `restart_at`, also starts a new initial cycle, whose changes are read
    /// after that position (the tenant's head when the restart was asked for: a step done
    /// again does not move it past a deletion made meanwhile).
    async fn wake_target_run(
        &self,
        tenant: &TenantId,
        target: &str,
        restart_at: Option<i64>,
    ) -> Result<(), StoreError>;
    /// Leases up to `limit` runs of targets that are not paused, whose tenant has no active
    /// hold (see [`crate::HoldStore`]: a cycle would push the held removals from the
    /// directory's state), and are due at `now` (or, in the incremental phase, neither
    /// quarantined nor failing, have changes after their position), to `owner` until
    /// `lease_until`.
    async fn claim_target_runs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<TargetRun>, StoreError>;
    /// Records a run's state while `owner` holds its lease (`release`: and lets it go);
    /// `false` when the lease was lost to another process, which then works the target. A run
    /// woken while leased ([`OutboundStore::wake_target_run`]) keeps the wake: the state is
    /// not recorded (the step's work is done again, which sends nothing twice), only the lease
    /// is let go.
    async fn save_target_run(
        &self,
        owner: &str,
        run: &TargetRun,
        release: bool,
    ) -> Result<bool, StoreError>;
}
