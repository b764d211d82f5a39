//! An administrator's decisions on a target's waiting actions (see
//! `roster_store::approvals`): approve or reject one, several, or all that are pending. An
//! approval wakes the target, whose next step sends what was approved.

use roster_store::{Approval, TenantId};

use crate::targets::ApprovalAction;
use crate::{Directory, DirectoryError};

/// The most approvals a list answers.
pub const MAX_LISTED: u64 = 1_000;

impl ApprovalAction {
    /// A comma-separated list of actions (`none` or empty: none).
    pub fn parse_list(text: &str) -> Result<Vec<ApprovalAction>, DirectoryError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(ApprovalAction::parse)
            .collect()
    }
}

impl Directory {
    /// A tenant's approvals (of one target, when named), in one of `states` (any when
    /// empty), newest first, at most `limit` (and [`MAX_LISTED`]).
    pub async fn approvals(
        &self,
        tenant: &TenantId,
        target: Option<&str>,
        states: &[&str],
        limit: u64,
    ) -> Result<Vec<Approval>, DirectoryError> {
        let target = match target {
            Some(t) => Some(self.target(tenant, t).await?.id),
            None => None,
        };
        Ok(self
            .store
            .approvals(tenant, target.as_deref(), states, limit.min(MAX_LISTED))
            .await?)
    }

    /// Approves (or rejects) a target's pending actions: those of `ids`, or all when empty;
    /// how many were decided. `by` is recorded with the time.
    pub async fn decide_approvals(
        &self,
        tenant: &TenantId,
        target: &str,
        ids: &[String],
        approve: bool,
        by: &str,
    ) -> Result<u64, DirectoryError> {
        let target = self.target(tenant, target).await?;
        let to = if approve { "approved" } else { "rejected" };
        let now = crate::epoch_millis(self.clock.now());
        let n = self
            .store
            .decide_approvals(tenant, &target.id, ids, "pending", to, Some(by), now)
            .await?;
        if n > 0 && approve {
            // Woken even when quarantined: an approval is an administrator's decision now.
            self.store.wake_target_run(tenant, &target.id, None).await?;
        }
        tracing::info!(tenant = %tenant, target = %target.id, decided = n, to, by, "approvals decided");
        Ok(n)
    }

    /// Deletes the sent and superseded approvals proposed longer than `retention` ago (a
    /// rejected one stays: it answers the same change while it stays the same); how many.
    pub async fn purge_approvals(&self, retention: time::Duration) -> Result<u64, DirectoryError> {
        let before = crate::epoch_millis(self.clock.now() - retention);
        Ok(self.store.purge_approvals(before).await?)
    }
}
