//! A tenant's roles and role mappings (see `roster_outbound::rules`), kept with its settings;
//! a change brings the targets attached to roles in step.

use roster_outbound::rules::Roles;
use roster_store::TenantId;

use crate::{Directory, DirectoryError};

impl Directory {
    /// Replaces the tenant's roles and role mappings, checked first (a role a target is
    /// attached to cannot go); wakes the targets attached to roles.
    pub async fn set_roles(&self, tenant: &TenantId, roles: &Roles) -> Result<(), DirectoryError> {
        roles
            .validate()
            .map_err(|e| DirectoryError::Setting(format!("roles: {e}")))?;
        let targets = self.targets(tenant).await?;
        for t in &targets {
            if let Some(r) = t
                .settings
                .roles
                .iter()
                .find(|r| !roles.roles.iter().any(|x| &x.name == *r))
            {
                return Err(DirectoryError::Setting(format!(
                    "the role {r:?} is attached to the target {}; detach it first",
                    t.name
                )));
            }
        }
        let text =
            serde_json::to_string(roles).map_err(|e| DirectoryError::Internal(e.to_string()))?;
        self.set_settings(tenant, &[("roles".to_owned(), text)])
            .await?;
        for t in targets.iter().filter(|t| !t.settings.roles.is_empty()) {
            self.reconcile_target(tenant, t).await?;
        }
        Ok(())
    }
}
