//! The inbound mass-change hold: when a tenant's identity provider deactivates or deletes more
//! users within [`HOLD_WINDOW_MINUTES`] than the tenant's threshold allows, Roster still makes
//! the changes (the identity provider is answered truthfully, so it does not retry forever),
//! but their events are held from webhooks, the event feed and outbound targets until an
//! administrator releases them (delivered in order) or discards them. The store does the
//! holding ([`roster_store::HoldStore`]); this decides when a hold starts and how it ends.
//!
//! Decisions:
//!
//! - The threshold counts `user.deactivated` and `user.deleted` events in the window, from the
//!   end of the last hold if that is later (a released burst is not counted twice). The write
//!   that crosses it is the first one held; the removals before it were already delivered.
//! - `tenant.hold_started`, `tenant.hold_released` and `tenant.hold_discarded` carry the
//!   tenant, the hold and counts, never user data: they are what the host application and the
//!   operator are told.
//! - Discarding drops the held events. Where the identity provider has since restored a user
//!   whose removal was held (the user exists and is active), a corrective `user.reactivated`
//!   with the user as it is now (`data.corrective: true`) is delivered, since its update was
//!   held too. A user still deactivated or deleted gets nothing: the host application keeps
//!   the user as it last knew it, which is what discarding means.
//! - While a hold is active, the tenant's outbound targets do not run (a cycle would push the
//!   held removals from the directory's state); they are woken when it ends.

use roster_store::{Hold, HoldEnd, Kind, NewEvent, TenantId};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use time::Duration;

use crate::events::Recorder;
use crate::threshold::Threshold;
use crate::*;

/// The window removals are counted over.
pub const HOLD_WINDOW_MINUTES: i64 = 10;

/// How many held events are read at a time when a hold is discarded.
const PAGE: u64 = 1_000;

/// A tenant's hold as the page, the API and the CLI show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldStatus {
    /// The active hold, or the last one.
    pub hold: Hold,
    /// What the active hold keeps, by event type, most first (empty once it ended).
    pub held: Vec<(String, u64)>,
}

impl HoldStatus {
    /// How many events it keeps.
    pub fn total(&self) -> u64 {
        self.held.iter().map(|(_, n)| n).sum()
    }

    /// As the API and `roster tenant hold show --json` give it.
    pub fn to_json(&self) -> Value {
        let h = &self.hold;
        json!({
            "id": h.id,
            "active": h.is_active(),
            "startedAt": rfc3339(h.started_at),
            "threshold": h.threshold,
            "windowMinutes": HOLD_WINDOW_MINUTES,
            "removals": h.removals,
            "held": self.total(),
            "heldByType": self.held.iter().map(|(t, n)| (t.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "endedAt": h.ended_at.map(rfc3339),
            "outcome": h.outcome,
            "endedBy": h.ended_by,
        })
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn is_removal(event_type: &str) -> bool {
    matches!(event_type, "user.deactivated" | "user.deleted")
}

impl Directory {
    /// Starts the tenant's hold before a write whose events would cross its threshold (the
    /// store then holds them); does nothing for a write without removals, a tenant without a
    /// threshold, or a hold already active.
    pub(crate) async fn guard_removals(
        &self,
        tenant: &TenantContext,
        events: &[NewEvent],
    ) -> Result<(), DirectoryError> {
        let Some(threshold) = tenant.settings.hold_threshold else {
            return Ok(());
        };
        let removals = events.iter().filter(|e| is_removal(&e.event_type)).count() as u64;
        if removals == 0 {
            return Ok(());
        }
        let last = self.store.hold(tenant.id()).await?;
        if last.as_ref().is_some_and(Hold::is_active) {
            return Ok(());
        }
        let now = self.clock.now();
        let mut since = now - Duration::minutes(HOLD_WINDOW_MINUTES);
        if let Some(ended) = last.and_then(|h| h.ended_at) {
            since = since.max(ended);
        }
        let recent = self.store.recent_removals(tenant.id(), since).await? + removals;
        let users = match threshold {
            Threshold::Count(_) => 0,
            Threshold::Percent(_) => self
                .store
                .tenant_holdings(tenant.id())
                .await?
                .map_or(0, |h| h.users),
        };
        if !threshold.crossed(recent, users) {
            return Ok(());
        }
        let hold = Hold {
            id: format!("hold_{}", self.secrets.resource_id().replace('-', "")),
            started_at: now,
            threshold: threshold.to_string(),
            removals: recent,
            ended_at: None,
            outcome: None,
            ended_by: None,
        };
        let status = HoldStatus {
            hold: hold.clone(),
            held: Vec::new(),
        };
        let mut log = Recorder::new(self.secrets.as_ref(), now);
        log.tenant_event(
            "tenant.hold_started",
            json!({
                "tenant": {"id": tenant.id().as_str(), "name": tenant.tenant.name},
                "hold": status.to_json(),
            }),
        );
        if self
            .store
            .start_hold(tenant.id(), &hold, &log.events[0])
            .await?
        {
            tracing::warn!(
                tenant = %tenant.id(),
                hold = %hold.id,
                removals = recent,
                threshold = %hold.threshold,
                "mass-change hold started: deactivations and deletions are held until an \
                 administrator releases or discards them"
            );
            self.changed();
        }
        Ok(())
    }

    /// The tenant's active hold, or its last one, if it ever had one.
    pub async fn hold_status(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<HoldStatus>, DirectoryError> {
        let Some(hold) = self.store.hold(tenant).await? else {
            return Ok(None);
        };
        let held = if hold.is_active() {
            self.store.held_counts(tenant).await?
        } else {
            Vec::new()
        };
        Ok(Some(HoldStatus { hold, held }))
    }

    /// Ends the tenant's active hold: released (its events delivered in order) or discarded
    /// (dropped, with corrections where the identity provider has restored a user). `by` is
    /// who decided, as recorded. `NotFound` (kind `hold`) when no hold is active.
    pub async fn end_hold(
        &self,
        tenant: &TenantId,
        end: HoldEnd,
        by: &str,
    ) -> Result<HoldStatus, DirectoryError> {
        let not_active = || DirectoryError::NotFound {
            kind: "active hold of tenant",
            id: tenant.to_string(),
        };
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let status = self
            .hold_status(tenant)
            .await?
            .filter(|s| s.hold.is_active())
            .ok_or_else(not_active)?;
        let now = self.clock.now();
        let mut log = Recorder::new(self.secrets.as_ref(), now);
        if end == HoldEnd::Discard {
            for id in self.held_users(tenant).await? {
                let current = self.store.get(tenant, Kind::User, &id, false).await?;
                if let Some(user) = current
                    && user.data.get("active").and_then(Value::as_bool) != Some(false)
                {
                    log.tenant_event(
                        "user.reactivated",
                        json!({
                            "resource": events::resource_json(&user),
                            "changed": [],
                            "corrective": true,
                            "hold": status.hold.id,
                        }),
                    );
                }
            }
        }
        let outcome = match end {
            HoldEnd::Release => "tenant.hold_released",
            HoldEnd::Discard => "tenant.hold_discarded",
        };
        log.tenant_event(
            outcome,
            json!({
                "tenant": {"id": tenant.as_str(), "name": current.name},
                "hold": status.to_json(),
                "by": by,
            }),
        );
        self.store
            .end_hold(tenant, &status.hold.id, end, by, now, &log.events)
            .await
            .map_err(|e| match e {
                roster_store::StoreError::NotFound => not_active(),
                other => other.into(),
            })?;
        tracing::info!(tenant = %tenant, hold = %status.hold.id, outcome = end.as_str(), by, "mass-change hold ended");
        self.changed();
        for target in self.targets(tenant).await? {
            self.reconcile_target(tenant, &target).await?;
        }
        Ok(self.hold_status(tenant).await?.unwrap_or(status))
    }

    /// The users the held events are about.
    async fn held_users(&self, tenant: &TenantId) -> Result<BTreeSet<String>, DirectoryError> {
        let mut users = BTreeSet::new();
        let mut after = 0;
        loop {
            let page = self.store.held_events(tenant, after, PAGE).await?;
            for e in &page {
                if e.event_type.starts_with("user.")
                    && let Some(id) = e.data.pointer("/resource/id").and_then(Value::as_str)
                {
                    users.insert(id.to_owned());
                }
            }
            match page.last() {
                Some(last) if page.len() as u64 == PAGE => after = last.position,
                _ => return Ok(users),
            }
        }
    }
}
