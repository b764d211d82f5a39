//! Tenants, their settings, and authenticating a request to a tenant.

use std::sync::Arc;

use roster_store::*;
use time::OffsetDateTime;

use crate::context::*;
use crate::events::Recorder;
use crate::resources::*;
use crate::*;

impl Directory {
    /// Creates a tenant and its first token.
    pub async fn create_tenant(&self, name: &str) -> Result<IssuedToken, DirectoryError> {
        let new = crate::NewTenant {
            name: name.to_owned(),
            ..Default::default()
        };
        let tenant = self.create_tenant_with(&new).await?;
        self.first_token(tenant).await
    }

    /// Creates the tenant a first start offers, with its first token, unless a tenant exists;
    /// of several processes starting at once on an empty database, one creates it.
    pub async fn create_first_tenant(
        &self,
        name: &str,
    ) -> Result<Option<IssuedToken>, DirectoryError> {
        let tenant = self.new_tenant(name);
        if !self.store.create_first_tenant(&tenant).await? {
            return Ok(None);
        }
        self.first_token(tenant).await.map(Some)
    }

    pub(crate) fn new_tenant(&self, name: &str) -> Tenant {
        let name = name.trim();
        let id = self.secrets.tenant_id();
        Tenant {
            slug: id.clone(),
            id: TenantId::new(id),
            name: name.to_owned(),
            created_at: self.clock.now(),
            settings: serde_json::json!({}),
            external_id: None,
            plan: Plan::named(Plan::DEFAULT),
        }
    }

    /// Issues a new tenant's first token.
    pub async fn first_token(&self, tenant: Tenant) -> Result<IssuedToken, DirectoryError> {
        let options = TokenOptions {
            name: "first token".into(),
            ..TokenOptions::default()
        };
        let (_, token) = self.issue_token(&tenant.id, &options).await?;
        Ok(IssuedToken { tenant, token })
    }

    /// Renames a tenant (the name is trimmed; an empty one is refused).
    pub async fn rename_tenant(&self, tenant: &TenantId, name: &str) -> Result<(), DirectoryError> {
        let change = crate::TenantChange {
            name: Some(name.to_owned()),
            ..Default::default()
        };
        self.change_tenant(tenant, &change).await?;
        Ok(())
    }

    /// What a tenant holds: what deleting it would remove (for a confirmation).
    pub async fn tenant_holdings(
        &self,
        tenant: &TenantId,
    ) -> Result<TenantHoldings, DirectoryError> {
        self.store
            .tenant_holdings(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))
    }

    /// Deletes a tenant and everything it holds, with a `tenant.deleted` event; what it
    /// removed. Its tokens stop working at once in this process, within the token cache's
    /// second in others (the tenant is gone from the database at once).
    pub async fn delete_tenant(&self, tenant: &TenantId) -> Result<TenantHoldings, DirectoryError> {
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let holdings = self.tenant_holdings(tenant).await?;
        // The event says what the transaction is about to remove; the deletion's own count
        // is what is returned (a write in between can only have been refused: the tenant row
        // is locked, or the writer is the only one).
        let mut recorder = Recorder::new(self.secrets.as_ref(), self.clock.now());
        recorder.tenant_deleted(&current, holdings_json(&holdings));
        let removed = self
            .store
            .delete_tenant(tenant, &recorder.events)
            .await
            .not_found_as("tenant", tenant.as_str())?;
        self.tokens.forget(tenant);
        self.contexts.forget(tenant);
        Ok(removed)
    }

    /// Every tenant.
    pub async fn tenants(&self) -> Result<Vec<Tenant>, DirectoryError> {
        Ok(self.store.tenants().await?)
    }

    /// Finds a tenant as the command line names it: by id, by `external_id:VALUE`, or else by
    /// its slug (as the pages show it) or its exact name. A slug and a name that point at two
    /// different tenants are ambiguous, as two tenants of one name are.
    pub async fn find_tenant(&self, id_or_name: &str) -> Result<Tenant, DirectoryError> {
        if let Some(t) = self.store.tenant(&TenantId::new(id_or_name)).await? {
            return Ok(t);
        }
        if id_or_name.starts_with("external_id:") {
            return self.tenant_by(&crate::TenantRef::parse(id_or_name)).await;
        }
        let by_slug = self.tenant_by_slug(id_or_name).await?;
        let by_name = self
            .store
            .tenants()
            .await?
            .into_iter()
            .filter(|t| t.name == id_or_name);
        let mut found: Vec<Tenant> = by_slug.into_iter().collect();
        for t in by_name {
            if !found.iter().any(|f| f.id == t.id) {
                found.push(t);
            }
        }
        let mut by_name = found.into_iter();
        match (by_name.next(), by_name.next()) {
            (Some(t), None) => Ok(t),
            (Some(a), Some(b)) => {
                let ids = [a, b]
                    .into_iter()
                    .chain(by_name)
                    .map(|t| t.id.to_string())
                    .collect();
                Err(DirectoryError::AmbiguousTenant {
                    name: id_or_name.to_owned(),
                    ids,
                })
            }
            _ => Err(DirectoryError::TenantNotFound(id_or_name.to_owned())),
        }
    }

    /// The tenant a bearer token (a static token or an access token) grants access to, if
    /// the token is live. The token is looked up by its SHA-256 hash (a value an attacker
    /// cannot choose), and a lookup is trusted for at most [`TOKEN_CACHE_SECONDS`] and never
    /// past the token's expiry, so that a revocation or a settings change reaches every
    /// process within that time. The token's last use is recorded off the request's path, at
    /// most about once a minute.
    pub async fn authenticate(
        &self,
        token: &str,
    ) -> Result<Option<Arc<TenantContext>>, DirectoryError> {
        if !(token.starts_with(tokens::TOKEN_PREFIX)
            || token.starts_with(tokens::ACCESS_TOKEN_PREFIX))
            || token.len() > 200
        {
            return Ok(None);
        }
        let hash = hash_token(token);
        let now = self.clock.now();
        if let Some(ctx) = self.tokens.get(&hash, now) {
            return Ok(Some(ctx));
        }
        let Some(grant) = self.store.grant(&hash, now).await? else {
            return Ok(None);
        };
        let stale = grant
            .token
            .last_used_at
            .is_none_or(|t| (now - t).whole_seconds() >= LAST_USED_PRECISION_SECONDS);
        if stale && let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            let id = grant.token.id.clone();
            runtime.spawn(async move {
                if let Err(e) = store.touch_token(&id, now).await {
                    tracing::debug!(error = %e, "recording a token's last use failed");
                }
            });
        }
        let ctx = Arc::new(self.context(grant.tenant)?);
        self.tokens
            .put(hash, now, grant.token.expires_at, ctx.clone());
        Ok(Some(ctx))
    }

    /// A tenant's context by id, for requests authenticated by other means than a stored
    /// token (a federated token); trusted for at most [`TOKEN_CACHE_SECONDS`].
    pub async fn tenant_context(
        &self,
        id: &TenantId,
    ) -> Result<Option<Arc<TenantContext>>, DirectoryError> {
        let now = self.clock.now();
        if let Some(ctx) = self.contexts.get(id, now) {
            return Ok(Some(ctx));
        }
        let Some(tenant) = self.store.tenant(id).await? else {
            return Ok(None);
        };
        let ctx = Arc::new(self.context(tenant)?);
        self.contexts.put(id.clone(), now, None, ctx.clone());
        Ok(Some(ctx))
    }

    /// The time now, by this directory's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The context of a tenant: its settings and schema registry; an error when a stored
    /// setting cannot be read.
    pub fn context(&self, tenant: Tenant) -> Result<TenantContext, DirectoryError> {
        let settings = TenantSettings::of(&tenant).map_err(|error| unreadable(&tenant, error))?;
        let registry = if settings.user_attributes.is_empty() {
            self.registry.clone()
        } else {
            settings::shared_registry(&self.registries, &settings.user_attributes)
        };
        Ok(TenantContext {
            tenant,
            settings,
            registry,
        })
    }

    /// Changes one setting of a tenant (see [`TenantSettings::set`]) and returns the new
    /// settings.
    pub async fn set_setting(
        &self,
        tenant: &TenantId,
        key: &str,
        value: &str,
    ) -> Result<TenantSettings, DirectoryError> {
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let mut settings =
            TenantSettings::for_change(&current, key).map_err(|e| unreadable(&current, e))?;
        settings
            .set(key, value)
            .map_err(|e| DirectoryError::Setting(e.0))?;
        self.save_settings(tenant, &settings).await?;
        Ok(settings)
    }

    /// Changes several settings at once, all or none (each as [`TenantSettings::set`]).
    pub async fn set_settings(
        &self,
        tenant: &TenantId,
        changes: &[(String, String)],
    ) -> Result<TenantSettings, DirectoryError> {
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let mut settings = TenantSettings::of(&current).map_err(|e| unreadable(&current, e))?;
        for (key, value) in changes {
            settings
                .set(key, value)
                .map_err(|e| DirectoryError::Setting(e.0))?;
        }
        self.save_settings(tenant, &settings).await?;
        Ok(settings)
    }

    pub(crate) async fn save_settings(
        &self,
        tenant: &TenantId,
        settings: &TenantSettings,
    ) -> Result<(), DirectoryError> {
        let json =
            serde_json::to_value(settings).map_err(|e| DirectoryError::Internal(e.to_string()))?;
        self.store.set_tenant_settings(tenant, &json).await?;
        // This process sees the change at once; others within the token cache's second.
        self.tokens.forget(tenant);
        self.contexts.forget(tenant);
        Ok(())
    }
}

/// A tenant's name as given, trimmed; refused when empty or longer than 200 characters.
pub(crate) fn tenant_name(name: &str) -> Result<&str, DirectoryError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DirectoryError::Setting(
            "a tenant needs a name (the customer organisation's, e.g. \"Contoso\")".into(),
        ));
    }
    if name.chars().count() > 200 {
        return Err(DirectoryError::Setting(
            "a tenant's name has at most 200 characters".into(),
        ));
    }
    Ok(name)
}

/// What a tenant holds, as the `tenant.deleted` event and the API say it.
pub fn holdings_json(removed: &TenantHoldings) -> serde_json::Value {
    serde_json::json!({
        "users": removed.users,
        "groups": removed.groups,
        "tokens": removed.tokens,
        "oauth_clients": removed.oauth_clients,
    })
}
