//! Changing a target: any of its settings, its credentials, or its paused flag, each checked
//! as when the target was added. A change that alters what is sent (scope, scoping, mappings,
//! policy) wakes the target's run for a reconciling cycle, unless it is quarantined (a test
//! connection ends that).

use roster_outbound::mapping;
use roster_outbound::plan::Policy;
use roster_outbound::scoping::Scope;
use roster_store::TenantId;
use serde::Deserialize;
use serde_json::Value;

use super::{ScopeMode, Target, sealing_context};
use crate::targets::{ApprovalAction, WriteBack};
use crate::threshold::Threshold;
use crate::{Directory, DirectoryError};

/// What to change; what is absent stays.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetChange {
    /// The SCIM base URL.
    pub url: Option<String>,
    /// A new bearer token (or client secret).
    pub token: Option<String>,
    /// Which objects it receives.
    pub scope: Option<ScopeMode>,
    /// Scoping filters on users.
    pub scoping: Option<Scope>,
    /// The user mappings (as exported).
    pub user_mappings: Option<Value>,
    /// The group mappings.
    pub group_mappings: Option<Value>,
    /// Whether groups are provisioned.
    pub provision_groups: Option<bool>,
    /// Requests per second, 1 to 10,000.
    pub rate_limit: Option<u32>,
    /// Seconds per request, 1 to 300.
    pub timeout_seconds: Option<u32>,
    /// Minutes between reconciling cycles, 1 to 1440.
    pub interval_minutes: Option<u32>,
    /// Minutes between a quarantined target's tries, 5 to 1440.
    pub quarantine_minutes: Option<u32>,
    /// The actions allowed and what leaving the scope does.
    pub policy: Option<Policy>,
    /// Whether its cycles are paused.
    pub paused: Option<bool>,
    /// The actions that wait for an administrator's approval.
    pub approvals: Option<Vec<ApprovalAction>>,
    /// The accidental-deletions threshold: a number, a percentage (`10%`), or `off`.
    pub deletion_threshold: Option<String>,
    /// Values the target assigns, kept on the source user.
    pub write_back: Option<Vec<WriteBack>>,
    /// The tenant's roles whose users it receives.
    pub roles: Option<Vec<String>>,
    /// Its entitlement rules.
    pub rules: Option<Vec<roster_outbound::rules::Rule>>,
}

fn within(value: u32, low: u32, high: u32, what: &str) -> Result<u32, DirectoryError> {
    if (low..=high).contains(&value) {
        Ok(value)
    } else {
        Err(DirectoryError::Setting(format!(
            "{what} is from {low} to {high}, not {value}"
        )))
    }
}

impl Directory {
    /// Changes a target; returns it as stored.
    pub async fn change_target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
        change: TargetChange,
    ) -> Result<Target, DirectoryError> {
        let mut target = self.target(tenant, id_or_name).await?;
        let s = &mut target.settings;
        let mut resend = false;
        if let Some(url) = change.url {
            let url = url.trim().trim_end_matches('/').to_owned();
            crate::outbound::secure_url(&url, "target's URL")?;
            crate::outbound::check_url(&url)
                .await
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            resend |= url != s.url;
            s.url = url;
        }
        if let Some(scope) = change.scope {
            resend |= scope != s.scope;
            s.scope = scope;
        }
        if let Some(scoping) = change.scoping {
            scoping
                .validate()
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            resend = true;
            s.scoping = scoping;
        }
        for (given, kept, what) in [
            (change.user_mappings, &mut s.user_mappings, "user"),
            (change.group_mappings, &mut s.group_mappings, "group"),
        ] {
            if let Some(json) = given {
                let read = mapping::import(&json)
                    .map_err(|e| DirectoryError::Setting(format!("the {what} mappings: {e}")))?;
                // Stored as exported, so that what is read back is what was checked.
                *kept = mapping::export(&read);
                resend = true;
            }
        }
        if let Some(on) = change.provision_groups {
            resend |= on != s.provision_groups;
            s.provision_groups = on;
        }
        if let Some(n) = change.rate_limit {
            s.rate_limit = within(n, 1, 10_000, "the rate limit (requests per second)")?;
        }
        if let Some(n) = change.timeout_seconds {
            s.timeout_seconds = within(n, 1, 300, "the timeout (seconds)")?;
        }
        if let Some(n) = change.interval_minutes {
            s.interval_minutes = within(n, 1, 1440, "the interval (minutes)")?;
        }
        if let Some(n) = change.quarantine_minutes {
            s.quarantine_minutes = within(n, 5, 1440, "the quarantine's interval (minutes)")?;
        }
        if let Some(policy) = change.policy {
            resend |= policy != s.policy;
            s.policy = policy;
        }
        if let Some(mut actions) = change.approvals {
            actions.sort_unstable();
            actions.dedup();
            s.approvals = actions;
        }
        if let Some(text) = change.deletion_threshold {
            s.deletion_threshold = match text.trim() {
                "off" => None,
                t => Some(t.parse::<Threshold>().map_err(|e| {
                    DirectoryError::Setting(format!("deletion threshold: {}", e.0))
                })?),
            };
        }
        if let Some(roles) = change.roles {
            let tenant_settings = crate::TenantSettings::of(
                &self
                    .tenant_by(&crate::TenantRef::Id(tenant.clone()))
                    .await?,
            )
            .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            if let Some(r) = roles
                .iter()
                .find(|r| !tenant_settings.roles.roles.iter().any(|t| &t.name == *r))
            {
                return Err(DirectoryError::Setting(format!(
                    "{r:?} is not one of the organisation's roles"
                )));
            }
            resend |= roles != s.roles;
            s.roles = roles;
        }
        if let Some(rules) = change.rules {
            roster_outbound::rules::validate_rules(&rules)
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            resend |= rules != s.rules;
            s.rules = rules;
        }
        if let Some(write_back) = change.write_back {
            let tenant_settings = crate::TenantSettings::of(
                &self
                    .tenant_by(&crate::TenantRef::Id(tenant.clone()))
                    .await?,
            )
            .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            for wb in &write_back {
                let known = tenant_settings
                    .user_attributes
                    .iter()
                    .any(|a| a.name == wb.to && a.ty == "string" && !a.multi_valued);
                if !known {
                    return Err(DirectoryError::Setting(format!(
                        "write-back into {:?}: it must be one of the organisation's extra user \
                         attributes, a single string (roster tenant set TENANT user-attributes \
                         …,{}); a SCIM attribute of the identity provider is never overwritten",
                        wb.to, wb.to
                    )));
                }
            }
            s.write_back = write_back;
        }
        if let Some(paused) = change.paused {
            target.paused = paused;
        }
        if let Some(secret) = change.token {
            let secret = secret.trim();
            if secret.is_empty() || secret.len() > 4096 {
                return Err(DirectoryError::Setting(
                    "the token (or client secret) must be given, up to 4096 characters".into(),
                ));
            }
            target.sealed = self.ring()?.seal(
                self.secrets.as_ref(),
                &sealing_context(tenant, &target.id),
                secret.as_bytes(),
            );
            target.record.sealed = target.sealed.clone();
        }
        self.save_target(&target).await?;
        if resend {
            self.reconcile_target(tenant, &target).await?;
        }
        self.target(tenant, &target.id).await
    }

    /// Wakes a target's run for a reconciling cycle (after an assignment or a change of what
    /// is sent), unless it is quarantined.
    pub async fn reconcile_target(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<(), DirectoryError> {
        let run = self.store.target_run(tenant, &target.id).await?;
        if run.is_some_and(|r| r.quarantined) {
            return Ok(());
        }
        Ok(self.store.wake_target_run(tenant, &target.id, None).await?)
    }
}
