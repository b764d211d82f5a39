//! Onboarding a customer: a tenant made with the host application's own id and a plan, found
//! by that id, changed, and a one-time setup link for its administrator; plans.

use roster_store::*;
use time::Duration;

use crate::error::NotFoundAs;
use crate::*;

/// What a new tenant is.
#[derive(Debug, Clone, Default)]
pub struct NewTenant {
    /// Its name (the customer organisation's).
    pub name: String,
    /// The host application's own id for the organisation.
    pub external_id: Option<String>,
    /// Its plan; [`Plan::DEFAULT`] when `None`.
    pub plan: Option<String>,
}

/// What changes in a tenant; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    /// A new name.
    pub name: Option<String>,
    /// A new external id, or `Some(None)` to remove it.
    pub external_id: Option<Option<String>>,
    /// A new plan.
    pub plan: Option<String>,
}

/// How a caller names a tenant: by id, or by the host application's id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRef {
    /// The tenant's id.
    Id(TenantId),
    /// `external_id:VALUE`.
    ExternalId(String),
}

impl TenantRef {
    /// Reads `external_id:VALUE` or an id.
    pub fn parse(text: &str) -> TenantRef {
        match text.strip_prefix("external_id:") {
            Some(value) => TenantRef::ExternalId(value.to_owned()),
            None => TenantRef::Id(TenantId::new(text)),
        }
    }
}

/// A setup link just made: its record, and the secret its URL carries (shown once).
#[derive(Debug, Clone)]
pub struct PortalLinkIssued {
    /// The link as stored (by hash).
    pub link: PortalLink,
    /// The secret, for the URL `/portal/{secret}`.
    pub secret: String,
}

/// How long a setup link works when the caller does not say: 7 days.
pub const PORTAL_LINK_DEFAULT: Duration = Duration::days(7);
/// The longest a setup link may work: 30 days.
pub const PORTAL_LINK_MAX: Duration = Duration::days(30);

/// The longest external id.
const EXTERNAL_ID_MAX: usize = 255;

/// An external id as given: not empty, at most 255 characters, no control characters.
fn external_id(value: &str) -> Result<String, DirectoryError> {
    if value.is_empty() || value.chars().count() > EXTERNAL_ID_MAX {
        return Err(DirectoryError::Setting(format!(
            "external_id must have 1 to {EXTERNAL_ID_MAX} characters"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(DirectoryError::Setting(
            "external_id must not contain control characters".into(),
        ));
    }
    Ok(value.to_owned())
}

/// A slug from a name: lowercase ASCII letters and digits, words joined by `-`, at most 40
/// characters; `tenant` when nothing is left.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
        if slug.len() >= 40 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() {
        "tenant".to_owned()
    } else {
        slug.to_owned()
    }
}

/// How many slugs are tried (`acme`, `acme-2`, …) before one with a random suffix.
const SLUG_TRIES: u64 = 20;

impl Directory {
    /// Creates a tenant without a token (its administrator generates one on its page).
    pub async fn create_tenant_with(&self, new: &NewTenant) -> Result<Tenant, DirectoryError> {
        let name = crate::tenants::tenant_name(&new.name)?;
        let external = new.external_id.as_deref().map(external_id).transpose()?;
        let plan = match &new.plan {
            Some(plan) => self.plan(plan).await?,
            None => Plan::named(Plan::DEFAULT),
        };
        if let Some(ext) = &external
            && self
                .store
                .tenant_where(TenantColumn::ExternalId, ext)
                .await?
                .is_some()
        {
            return Err(DirectoryError::TenantTaken {
                what: "external_id",
                value: ext.clone(),
            });
        }
        let mut tenant = self.new_tenant(name);
        tenant.external_id = external;
        tenant.plan = plan;
        let base = slugify(name);
        for n in 1..=SLUG_TRIES + 1 {
            tenant.slug = match n {
                1 => base.clone(),
                n if n <= SLUG_TRIES => format!("{base}-{n}"),
                _ => format!("{base}-{:x}", self.secrets.random_u64() & 0xffff_ffff),
            };
            if n <= SLUG_TRIES
                && self
                    .store
                    .tenant_where(TenantColumn::Slug, &tenant.slug)
                    .await?
                    .is_some()
            {
                continue;
            }
            match self.store.create_tenant(&tenant).await {
                Ok(()) => return self.tenant_by(&TenantRef::Id(tenant.id.clone())).await,
                // Another tenant took the slug between the check and the insert.
                Err(StoreError::Conflict("slug")) => continue,
                Err(StoreError::Conflict("external_id")) => {
                    return Err(DirectoryError::TenantTaken {
                        what: "external_id",
                        value: tenant.external_id.unwrap_or_default(),
                    });
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DirectoryError::Internal("no free slug was found".into()))
    }

    /// The tenant a caller names.
    pub async fn tenant_by(&self, by: &TenantRef) -> Result<Tenant, DirectoryError> {
        let found = match by {
            TenantRef::Id(id) => self.store.tenant(id).await?,
            TenantRef::ExternalId(ext) => {
                self.store
                    .tenant_where(TenantColumn::ExternalId, ext)
                    .await?
            }
        };
        found.ok_or_else(|| {
            DirectoryError::TenantNotFound(match by {
                TenantRef::Id(id) => id.to_string(),
                TenantRef::ExternalId(ext) => format!("external_id:{ext}"),
            })
        })
    }

    /// The tenant with this slug.
    pub async fn tenant_by_slug(&self, slug: &str) -> Result<Option<Tenant>, DirectoryError> {
        if slug.len() > 64 {
            return Ok(None);
        }
        Ok(self.store.tenant_where(TenantColumn::Slug, slug).await?)
    }

    /// Changes a tenant's name, external id or plan; the tenant as it is now.
    pub async fn change_tenant(
        &self,
        tenant: &TenantId,
        change: &TenantChange,
    ) -> Result<Tenant, DirectoryError> {
        let mut current = self.tenant_by(&TenantRef::Id(tenant.clone())).await?;
        if let Some(name) = &change.name {
            current.name = crate::tenants::tenant_name(name)?.to_owned();
        }
        if let Some(ext) = &change.external_id {
            current.external_id = ext.as_deref().map(external_id).transpose()?;
        }
        if let Some(plan) = &change.plan {
            current.plan = self.plan(plan).await?;
        }
        match self.store.update_tenant(&current).await {
            Err(StoreError::Conflict(_)) => {
                return Err(DirectoryError::TenantTaken {
                    what: "external_id",
                    value: current.external_id.unwrap_or_default(),
                });
            }
            done => done.not_found_as("tenant", tenant.as_str())?,
        }
        // Every process sees a new plan within the token cache's second; this one at once.
        self.tokens.forget(tenant);
        self.contexts.forget(tenant);
        self.tenant_by(&TenantRef::Id(tenant.clone())).await
    }

    /// Every plan.
    pub async fn plans(&self) -> Result<Vec<Plan>, DirectoryError> {
        Ok(self.store.plans().await?)
    }

    /// The plan named `name`; an unknown name is refused, listing the plans.
    pub async fn plan(&self, name: &str) -> Result<Plan, DirectoryError> {
        let plans = self.store.plans().await?;
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        plans
            .iter()
            .find(|p| p.name == name)
            .cloned()
            .ok_or_else(|| {
                DirectoryError::Setting(format!(
                    "there is no plan {name:?}; the plans are {}",
                    names.join(", ")
                ))
            })
    }

    /// Creates or changes a plan (a name of lowercase letters, digits and `-`).
    pub async fn set_plan(&self, plan: &Plan) -> Result<(), DirectoryError> {
        let valid = !plan.name.is_empty()
            && plan.name.len() <= 40
            && plan
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(DirectoryError::Setting(
                "a plan's name has 1 to 40 lowercase letters, digits and -".into(),
            ));
        }
        self.store.set_plan(plan).await?;
        // Tenants on the plan see the change within the token cache's second.
        Ok(())
    }

    /// Makes a one-time setup link for a tenant's administrator, working for `expires_in`
    /// ([`PORTAL_LINK_DEFAULT`] when `None`, at most [`PORTAL_LINK_MAX`]).
    pub async fn create_portal_link(
        &self,
        tenant: &TenantId,
        expires_in: Option<Duration>,
    ) -> Result<PortalLinkIssued, DirectoryError> {
        let expires_in = expires_in.unwrap_or(PORTAL_LINK_DEFAULT);
        if expires_in < Duration::minutes(1) || expires_in > PORTAL_LINK_MAX {
            return Err(DirectoryError::Setting(
                "a setup link works from 1 minute to 30 days (43200 minutes)".into(),
            ));
        }
        self.tenant_by(&TenantRef::Id(tenant.clone())).await?;
        let secret = format!("rpl_{}", self.secrets.token().trim_start_matches("rst_"));
        let now = self.clock.now();
        let link = PortalLink {
            id: format!("pl_{}", self.secrets.resource_id().replace('-', "")),
            tenant_id: tenant.clone(),
            hash: hash_token(&secret),
            created_at: now,
            expires_at: now + expires_in,
            opened_at: None,
            revoked_at: None,
        };
        self.store.add_portal_link(&link).await?;
        Ok(PortalLinkIssued { link, secret })
    }

    /// A tenant's setup links that can still be opened.
    pub async fn portal_links(&self, tenant: &TenantId) -> Result<Vec<PortalLink>, DirectoryError> {
        Ok(self.store.portal_links(tenant, self.clock.now()).await?)
    }

    /// Deletes the setup links that expired more than a day ago; how many.
    pub async fn purge_portal_links(&self) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_portal_links(self.clock.now() - Duration::days(1))
            .await?)
    }

    /// Revokes a setup link that has not been opened.
    pub async fn revoke_portal_link(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), DirectoryError> {
        self.store
            .revoke_portal_link(tenant, id, self.clock.now())
            .await
            .not_found_as("setup link", id)
    }

    /// Opens a setup link: the tenant it is for, once.
    pub async fn open_portal_link(&self, secret: &str) -> Result<Option<Tenant>, DirectoryError> {
        let Some(link) = self
            .store
            .open_portal_link(&hash_token(secret), self.clock.now())
            .await?
        else {
            return Ok(None);
        };
        Ok(self.store.tenant(&link.tenant_id).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::{TenantRef, slugify};
    use roster_store::TenantId;

    #[test]
    fn slugs() {
        assert_eq!(slugify("Contoso Ltd."), "contoso-ltd");
        assert_eq!(slugify("  Ærø & Co  "), "r-co");
        assert_eq!(slugify("株式会社"), "tenant");
        assert_eq!(slugify(&"a".repeat(100)).len(), 40);
    }

    #[test]
    fn tenant_refs() {
        assert_eq!(
            TenantRef::parse("external_id:org_1"),
            TenantRef::ExternalId("org_1".into())
        );
        assert_eq!(TenantRef::parse("abc"), TenantRef::Id(TenantId::new("abc")));
    }
}
