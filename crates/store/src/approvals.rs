//! Actions of outbound provisioning that wait for an administrator: the exact request, why it
//! waits (`policy`: the target requires approval of this action; `threshold`: a cycle's
//! removals, counted against the accidental-deletions threshold), and what became of it.
//!
//! States: `waiting` (a removal of a cycle not yet counted), `pending` (waits for a decision),
//! `approved` (to be sent), `rejected` (never sent while the change is the same), `sent`,
//! and `superseded` (a later change of the same object replaced it). At most one `waiting`,
//! `pending` or `approved` action per object of a target.

use async_trait::async_trait;
use serde_json::Value;

use crate::{Kind, StoreError, TenantId};

/// An action that waits, or waited, for approval.
#[derive(Debug, Clone, PartialEq)]
pub struct Approval {
    /// `apr_…`.
    pub id: String,
    /// The tenant.
    pub tenant_id: TenantId,
    /// The target.
    pub target_id: String,
    /// The object's kind.
    pub kind: Kind,
    /// The object's id at the source.
    pub source_id: String,
    /// Its userName or displayName.
    pub name: String,
    /// `create`, `update`, `deactivate` or `delete`.
    pub action: String,
    /// The request it sends: `{"method", "path", "body"}` (a password replaced by a mark).
    pub request: Value,
    /// The digest of the request: the same change has the same digest.
    pub digest: String,
    /// `policy` or `threshold`.
    pub reason: String,
    /// See the module documentation.
    pub state: String,
    /// When it was proposed (milliseconds since the epoch).
    pub created_at: i64,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// Who decided.
    pub decided_by: Option<String>,
}

/// The states an object has at most one of.
pub const LIVE: [&str; 3] = ["waiting", "pending", "approved"];

/// Storage of approvals.
#[async_trait]
pub trait ApprovalStore: Send + Sync {
    /// Proposes `approval` for its object: answers the object's live or rejected approval of
    /// the same digest if there is one (the same change, already proposed or decided);
    /// otherwise supersedes the object's live approval and records this one.
    async fn propose_approval(&self, approval: &Approval) -> Result<Approval, StoreError>;

    /// A tenant's approvals (one target's, when given) in one of `states` (any, when empty),
    /// newest first, at most `limit`.
    async fn approvals(
        &self,
        tenant: &TenantId,
        target: Option<&str>,
        states: &[&str],
        limit: u64,
    ) -> Result<Vec<Approval>, StoreError>;

    /// Moves a target's approvals from state `from` to `to` (only those of `ids`, unless
    /// empty), recording who and when; how many moved.
    #[allow(clippy::too_many_arguments)]
    async fn decide_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        ids: &[String],
        from: &str,
        to: &str,
        by: Option<&str>,
        at: i64,
    ) -> Result<u64, StoreError>;

    /// How many actions of every tenant wait for a decision (for the operator's `/metrics`).
    async fn count_pending_approvals(&self) -> Result<u64, StoreError>;

    /// How many of a target's approvals are in `state`.
    async fn count_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
    ) -> Result<u64, StoreError>;

    /// How many of a target's approvals are in `state`, approved by `by`, and were proposed
    /// at or after `since` (milliseconds since the epoch).
    async fn count_approvals_since(
        &self,
        tenant: &TenantId,
        target: &str,
        state: &str,
        by: &str,
        since: i64,
    ) -> Result<u64, StoreError>;

    /// Deletes the approvals of every tenant that are `sent` or `superseded` and were
    /// proposed before `before` (milliseconds since the epoch); how many. A `rejected` one is
    /// kept: it answers the same change for as long as the change stays the same.
    async fn purge_approvals(&self, before: i64) -> Result<u64, StoreError>;
}
