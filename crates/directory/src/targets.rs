//! Outbound provisioning's targets (issue 19): the SCIM applications a tenant's directory is
//! pushed into. A target has a base URL (https, or http on loopback, allowed by the outbound
//! address policy), a bearer token or OAuth 2.0 client credentials (sealed with the server
//! key), a scope (assigned users and groups, Entra's default, or all), scoping filters, user
//! and group mappings (the default ones unless given), a rate limit, a timeout and a cycle
//! interval. Settings are read back strictly: a stored target that does not read is an error,
//! never a default.

use roster_outbound::mapping::{self, Mapping};
use roster_outbound::plan::Policy;
use roster_outbound::scoping::Scope;
use roster_store::{Kind, TargetRecord, TargetRun, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::threshold::Threshold;
use crate::{Directory, DirectoryError};

pub mod approvals;
mod change;
mod roles;
pub use change::TargetChange;

/// The most targets a tenant has.
pub const MAX_TARGETS: usize = 25;

/// How Roster authenticates to a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Auth {
    /// A bearer token (sealed).
    Bearer,
    /// OAuth 2.0 client credentials: the client secret is sealed.
    ClientCredentials {
        /// The token endpoint.
        token_url: String,
        /// The client id.
        client_id: String,
        /// The scope asked for, if the target wants one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
    },
}

impl Auth {
    /// The authentication and its secret from what a form, a body or the CLI gave: a token,
    /// or a client id, a client secret and a token URL; `None` for any other mix.
    pub fn from_given(
        token: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
        token_url: Option<String>,
    ) -> Option<(Auth, String)> {
        match (token, client_id, client_secret, token_url) {
            (Some(token), None, None, None) => Some((Auth::Bearer, token)),
            (None, Some(client_id), Some(secret), Some(token_url)) => Some((
                Auth::ClientCredentials {
                    token_url,
                    client_id,
                    scope: None,
                },
                secret,
            )),
            _ => None,
        }
    }
}

/// Which objects a target receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeMode {
    /// Only users and groups assigned to it (directly, or as members of an assigned group).
    Assigned,
    /// Every user and group.
    All,
}

impl ScopeMode {
    /// Reads `assigned` or `all`.
    pub fn parse(text: &str) -> Result<ScopeMode, DirectoryError> {
        match text {
            "assigned" => Ok(ScopeMode::Assigned),
            "all" => Ok(ScopeMode::All),
            other => Err(DirectoryError::Setting(format!(
                "the scope is assigned or all, not {other:?}"
            ))),
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            ScopeMode::Assigned => "assigned",
            ScopeMode::All => "all",
        }
    }
}

/// What the target said it supports (its `/ServiceProviderConfig`), at the last test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// PATCH (else PUT is used).
    pub patch: bool,
    /// Filtering (`userName eq`): needed to match before creating.
    pub filter: bool,
    /// Bulk.
    pub bulk: bool,
    /// ETags.
    pub etag: bool,
}

/// A target's settings, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSettings {
    /// The SCIM base URL (`…/scim/v2`), without a trailing slash.
    pub url: String,
    /// How Roster authenticates.
    pub auth: Auth,
    /// Which objects it receives.
    pub scope: ScopeMode,
    /// Scoping filters on users.
    #[serde(default)]
    pub scoping: Scope,
    /// The user mappings (as exported JSON).
    pub user_mappings: Value,
    /// The group mappings; groups are not provisioned when `provision_groups` is off.
    pub group_mappings: Value,
    /// Whether groups (and their members) are provisioned.
    pub provision_groups: bool,
    /// The most requests per second sent to it.
    pub rate_limit: u32,
    /// How long one request may take, in seconds.
    pub timeout_seconds: u32,
    /// The interval between reconciling cycles, in minutes (Entra's is about 40).
    pub interval_minutes: u32,
    /// How long a quarantined target waits between tries, in minutes (Entra slows to once a
    /// day, 1440).
    pub quarantine_minutes: u32,
    /// What it supports, from the last test connection.
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    /// Which actions are allowed, what leaving the scope does, and whether passwords are sent.
    pub policy: Policy,
    /// The actions that wait for an administrator's approval (OneLogin's admin approval).
    pub approvals: Vec<ApprovalAction>,
    /// More deletions and deactivations than this in one cycle (or one batch of changes)
    /// stop before any is sent, and wait for approval as a batch (Entra's accidental-deletions
    /// threshold); `None`: off.
    pub deletion_threshold: Option<Threshold>,
    /// Values the target assigns, kept on the source user (OneLogin's ImmutableID).
    pub write_back: Vec<WriteBack>,
    /// The tenant's roles whose users it receives, besides its scope.
    pub roles: Vec<String>,
    /// Its entitlement rules, in order.
    pub rules: Vec<roster_outbound::rules::Rule>,
}

/// A value the target assigns to a user, written back to the source: the target's `from`
/// (`id`, or an attribute: `externalId`, `urn:…:immutableId`, `a.b`) into the tenant's extra
/// user attribute `to`. Written once; when the target later reports another value, the stored
/// one is kept and the difference is logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WriteBack {
    /// The target's attribute.
    pub from: String,
    /// The tenant's extra user attribute.
    pub to: String,
}

impl WriteBack {
    /// `FROM:TO` pairs, comma-separated (`none` or empty: none).
    pub fn parse_list(text: &str) -> Result<Vec<WriteBack>, DirectoryError> {
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty() && *s != "none")
            .map(|pair| match pair.rsplit_once(':') {
                Some((from, to)) if !from.trim().is_empty() && !to.trim().is_empty() => {
                    Ok(WriteBack {
                        from: from.trim().to_owned(),
                        to: to.trim().to_owned(),
                    })
                }
                _ => Err(DirectoryError::Setting(format!(
                    "write-back is FROM:TO (the target's attribute, then the extra user \
                     attribute it is kept in), not {pair:?}"
                ))),
            })
            .collect()
    }
}

/// An action that can be made to wait for approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalAction {
    /// Creating a user or group.
    Create,
    /// Updating one.
    Update,
    /// Deactivating a user.
    Deactivate,
    /// Deleting a user or group.
    Delete,
}

impl ApprovalAction {
    /// Its name, as the planner names the action.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalAction::Create => "create",
            ApprovalAction::Update => "update",
            ApprovalAction::Deactivate => "deactivate",
            ApprovalAction::Delete => "delete",
        }
    }

    /// The action named `text`.
    pub fn parse(text: &str) -> Result<ApprovalAction, DirectoryError> {
        Ok(match text.trim() {
            "create" => ApprovalAction::Create,
            "update" => ApprovalAction::Update,
            "deactivate" => ApprovalAction::Deactivate,
            "delete" => ApprovalAction::Delete,
            other => {
                return Err(DirectoryError::Setting(format!(
                    "{other:?} is not an action: create, update, deactivate or delete"
                )));
            }
        })
    }
}

impl TargetSettings {
    /// The user mappings, read.
    pub fn users(&self) -> Result<Vec<Mapping>, DirectoryError> {
        mapping::import(&self.user_mappings).map_err(|e| DirectoryError::Setting(e.to_string()))
    }

    /// The group mappings, read.
    pub fn groups(&self) -> Result<Vec<Mapping>, DirectoryError> {
        mapping::import(&self.group_mappings).map_err(|e| DirectoryError::Setting(e.to_string()))
    }
}

/// A target to add.
#[derive(Debug, Clone)]
pub struct NewTarget {
    /// Its name (letters, digits, dashes).
    pub name: String,
    /// The SCIM base URL.
    pub url: String,
    /// How Roster authenticates.
    pub auth: Auth,
    /// The bearer token or the client secret.
    pub secret: String,
    /// Which objects it receives.
    pub scope: ScopeMode,
}

/// A target as the directory reads it.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its name.
    pub name: String,
    /// Its settings.
    pub settings: TargetSettings,
    /// Whether it is paused.
    pub paused: bool,
    /// When it was made.
    pub created_at: time::OffsetDateTime,
    sealed: Vec<u8>,
    record: TargetRecord,
}

/// What the sealed credentials are sealed under.
fn sealing_context(tenant: &TenantId, id: &str) -> String {
    format!("target:{tenant}:{id}")
}

fn check_name(name: &str) -> Result<String, DirectoryError> {
    let name = name.trim();
    let fine = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if fine {
        Ok(name.to_owned())
    } else {
        Err(DirectoryError::Setting(format!(
            "a target's name is 1 to 64 letters, digits, dashes or underscores, not {name:?}"
        )))
    }
}

impl Target {
    fn from_record(record: TargetRecord) -> Result<Target, DirectoryError> {
        let settings: TargetSettings =
            serde_json::from_value(record.settings.clone()).map_err(|e| {
                DirectoryError::Internal(format!(
                    "target {} of tenant {}: its settings do not read: {e}",
                    record.id, record.tenant_id
                ))
            })?;
        Ok(Target {
            id: record.id.clone(),
            tenant: record.tenant_id.clone(),
            name: record.name.clone(),
            settings,
            paused: record.paused,
            created_at: record.created_at,
            sealed: record.sealed.clone(),
            record,
        })
    }
}

impl Directory {
    /// Adds a target; its first cycle starts at once (the engine's next look).
    pub async fn add_target(
        &self,
        tenant: &TenantId,
        new: NewTarget,
    ) -> Result<Target, DirectoryError> {
        let ring = self.ring()?;
        self.tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        let name = check_name(&new.name)?;
        if self.store.targets(tenant).await?.len() >= MAX_TARGETS {
            return Err(DirectoryError::Setting(format!(
                "an organisation has at most {MAX_TARGETS} targets; remove one first"
            )));
        }
        let url = new.url.trim().trim_end_matches('/').to_owned();
        crate::outbound::secure_url(&url, "target's URL")?;
        crate::outbound::check_url(&url)
            .await
            .map_err(|e| DirectoryError::Setting(e.to_string()))?;
        if let Auth::ClientCredentials {
            token_url,
            client_id,
            ..
        } = &new.auth
        {
            crate::outbound::secure_url(token_url, "token URL")?;
            if client_id.trim().is_empty() {
                return Err(DirectoryError::Setting("the client id is empty".into()));
            }
        }
        if new.secret.trim().is_empty() || new.secret.len() > 4096 {
            return Err(DirectoryError::Setting(
                "the token (or client secret) must be given, up to 4096 characters".into(),
            ));
        }
        let settings = TargetSettings {
            url,
            auth: new.auth,
            scope: new.scope,
            scoping: Scope::default(),
            user_mappings: mapping::export(&mapping::default_user_mappings()),
            group_mappings: mapping::export(&mapping::default_group_mappings()),
            provision_groups: true,
            rate_limit: 25,
            timeout_seconds: 30,
            interval_minutes: 40,
            quarantine_minutes: 60,
            capabilities: None,
            policy: Policy::default(),
            approvals: Vec::new(),
            deletion_threshold: Some(Threshold::Count(500)),
            write_back: Vec::new(),
            roles: Vec::new(),
            rules: Vec::new(),
        };
        let now = self.clock.now();
        let id = self.secrets.resource_id();
        let sealed = ring.seal(
            self.secrets.as_ref(),
            &sealing_context(tenant, &id),
            new.secret.trim().as_bytes(),
        );
        let record = TargetRecord {
            id: id.clone(),
            tenant_id: tenant.clone(),
            name,
            settings: serde_json::to_value(&settings)
                .map_err(|e| DirectoryError::Internal(e.to_string()))?,
            sealed,
            paused: false,
            created_at: now,
            updated_at: now,
        };
        let head = self.log_head(tenant).await?;
        self.store
            .add_target(&record, head)
            .await
            .map_err(|e| match e {
                roster_store::StoreError::Conflict(_) => DirectoryError::Setting(format!(
                    "this organisation already has a target named {}",
                    record.name
                )),
                other => other.into(),
            })?;
        self.target(tenant, &id).await
    }

    /// The position of the tenant's latest change (the initial cycle covers what is before).
    pub async fn log_head(&self, tenant: &TenantId) -> Result<i64, DirectoryError> {
        self.store.sequence_events().await?;
        Ok(self.store.tenant_head(tenant).await?)
    }

    /// A tenant's targets.
    pub async fn targets(&self, tenant: &TenantId) -> Result<Vec<Target>, DirectoryError> {
        self.store
            .targets(tenant)
            .await?
            .into_iter()
            .map(Target::from_record)
            .collect()
    }

    /// One target, by id or name.
    pub async fn target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Target, DirectoryError> {
        let record = self
            .store
            .target(tenant, id_or_name)
            .await?
            .ok_or_else(|| DirectoryError::NotFound {
                kind: "Target",
                id: id_or_name.to_owned(),
            })?;
        Target::from_record(record)
    }

    /// The target's token or client secret, unsealed.
    pub fn target_secret(&self, target: &Target) -> Result<String, DirectoryError> {
        let opened = self
            .ring()?
            .open(&sealing_context(&target.tenant, &target.id), &target.sealed)
            .map_err(|e| DirectoryError::Sealing(e.to_string()))?;
        String::from_utf8(opened).map_err(|e| DirectoryError::Internal(e.to_string()))
    }

    /// Stores changed settings or the paused flag of a target.
    pub async fn save_target(&self, target: &Target) -> Result<(), DirectoryError> {
        let mut record = target.record.clone();
        record.settings = serde_json::to_value(&target.settings)
            .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        record.paused = target.paused;
        record.updated_at = self.clock.now();
        Ok(self.store.update_target(&record).await?)
    }

    /// Removes a target and what Roster kept of it (the target's own data stays there).
    pub async fn remove_target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<(), DirectoryError> {
        let target = self.target(tenant, id_or_name).await?;
        Ok(self.store.remove_target(tenant, &target.id).await?)
    }

    /// Assigns a user or a group (which must be the tenant's) to a target.
    pub async fn assign_to_target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), DirectoryError> {
        let target = self.target(tenant, id_or_name).await?;
        let found = self
            .tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        let ctx = self.context(found)?;
        self.get(&ctx, kind, source_id, false).await?;
        self.store
            .assign(tenant, &target.id, kind, source_id)
            .await?;
        self.reconcile_target(tenant, &target).await
    }

    /// Takes an assignment away.
    pub async fn unassign_from_target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), DirectoryError> {
        let target = self.target(tenant, id_or_name).await?;
        self.store
            .unassign(tenant, &target.id, kind, source_id)
            .await
            .map_err(|e| match e {
                roster_store::StoreError::NotFound => DirectoryError::NotFound {
                    kind: "Assignment",
                    id: source_id.to_owned(),
                },
                other => other.into(),
            })?;
        self.reconcile_target(tenant, &target).await
    }

    /// A target's assignments.
    pub async fn target_assignments(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<Vec<(Kind, String)>, DirectoryError> {
        Ok(self.store.assignments(tenant, &target.id).await?)
    }

    /// Ends a target's quarantine: its run is due now.
    pub async fn end_quarantine(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<(), DirectoryError> {
        Ok(self.store.wake_target_run(tenant, &target.id, None).await?)
    }

    /// Forgets what the target holds and starts a new initial cycle (`roster target restart`).
    pub async fn restart_target(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<(), DirectoryError> {
        // The changes before now are covered by the cycle going through everything (taken
        // before what the target holds is forgotten: a change meanwhile is read again).
        let head = self.log_head(tenant).await?;
        self.store.clear_target_objects(tenant, &target.id).await?;
        Ok(self
            .store
            .wake_target_run(tenant, &target.id, Some(head))
            .await?)
    }

    /// A target's run and how many users and groups it holds.
    pub async fn target_status(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<(Option<TargetRun>, (u64, u64)), DirectoryError> {
        let run = self.store.target_run(tenant, &target.id).await?;
        let counts = self.store.count_target_objects(tenant, &target.id).await?;
        Ok((run, counts))
    }
}
