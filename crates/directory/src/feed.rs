//! The change log, webhook endpoints, and the host app's pages by key.

use roster_store::*;

use crate::*;

impl Directory {
    /// Up to `limit` events after the position `after`, oldest first; one tenant's when given.
    pub async fn events(
        &self,
        tenant: Option<&TenantId>,
        after: i64,
        limit: u64,
    ) -> Result<Vec<roster_store::Event>, DirectoryError> {
        Ok(self.store.events(tenant, after, limit).await?)
    }

    /// The highest position ever given to an event (0 before the first); a purge does not
    /// lower it.
    pub async fn last_event_position(&self) -> Result<i64, DirectoryError> {
        Ok(self.store.last_position().await?)
    }

    /// Gives positions to newly committed events (see the store); returns how many.
    pub async fn sequence_events(&self) -> Result<u64, DirectoryError> {
        let n = self.store.sequence_events().await?;
        if n > 0 {
            self.changes.notify_one();
        }
        Ok(n)
    }

    /// Adds a webhook endpoint for one tenant's events, or every tenant's; returns it with its
    /// new signing secret. It receives the events recorded from now on.
    ///
    /// An endpoint on a link-local or cloud-metadata address (see [`outbound`]) is refused
    /// unless `allow_link_local`, which is stored with it so that deliveries allow it too.
    pub async fn add_webhook(
        &self,
        url: &str,
        tenant: Option<&TenantId>,
        allow_link_local: bool,
    ) -> Result<roster_store::WebhookRecord, DirectoryError> {
        let url = url.trim();
        let scheme_ok = url.starts_with("http://") || url.starts_with("https://");
        if !scheme_ok || url.chars().any(char::is_whitespace) || url.len() > 2048 {
            return Err(DirectoryError::Setting(format!(
                "{url:?} is not an http:// or https:// URL"
            )));
        }
        if !allow_link_local {
            outbound::check_url(url)
                .await
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
        }
        if let Some(t) = tenant
            && self.store.tenant(t).await?.is_none()
        {
            return Err(DirectoryError::NotFound {
                kind: "tenant",
                id: t.to_string(),
            });
        }
        let record = roster_store::WebhookRecord {
            id: format!("wh_{}", self.secrets.resource_id().replace('-', "")),
            url: url.to_owned(),
            tenant_id: tenant.cloned(),
            secret: self.secrets.webhook_secret(),
            previous_secret: None,
            previous_until: None,
            created_at: epoch_millis(self.clock.now()),
            allow_link_local,
        };
        self.store.add_webhook(&record).await?;
        Ok(record)
    }

    /// Every webhook endpoint.
    pub async fn webhooks(&self) -> Result<Vec<roster_store::WebhookRecord>, DirectoryError> {
        Ok(self.store.webhooks().await?)
    }

    /// Removes a webhook endpoint.
    pub async fn remove_webhook(&self, id: &str) -> Result<(), DirectoryError> {
        self.store
            .remove_webhook(id)
            .await
            .not_found_as("webhook", id)
    }

    /// Gives an endpoint a new secret; the old one keeps signing (beside it) for `overlap`.
    pub async fn rotate_webhook_secret(
        &self,
        id: &str,
        overlap: time::Duration,
    ) -> Result<String, DirectoryError> {
        let secret = self.secrets.webhook_secret();
        let until = epoch_millis(self.clock.now() + overlap);
        self.store
            .rotate_webhook_secret(id, &secret, until)
            .await
            .not_found_as("webhook", id)?;
        Ok(secret)
    }

    /// Delivers an endpoint's events again from `event_id` (of that event's tenant) on.
    pub async fn redeliver(&self, webhook_id: &str, event_id: &str) -> Result<(), DirectoryError> {
        self.store
            .redeliver(webhook_id, event_id, epoch_millis(self.clock.now()))
            .await
            .not_found_as("webhook or event", &format!("{webhook_id} / {event_id}"))?;
        self.changed();
        Ok(())
    }

    /// Events given up on after their last attempt, of one endpoint when given.
    pub async fn dead_letters(
        &self,
        webhook_id: Option<&str>,
    ) -> Result<Vec<roster_store::DeadLetter>, DirectoryError> {
        Ok(self.store.dead_letters(webhook_id).await?)
    }

    /// An endpoint's latest delivery attempts, newest first.
    pub async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<roster_store::DeliveryAttempt>, DirectoryError> {
        Ok(self.store.delivery_attempts(webhook_id, limit).await?)
    }

    /// Deletes events older than the retention; returns how many.
    pub async fn purge_events(&self, retention: time::Duration) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_events(self.clock.now() - retention)
            .await?)
    }

    /// A page of a tenant's users or groups after the key `after`, in creation order.
    pub async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, DirectoryError> {
        Ok(self
            .store
            .resources_after(tenant, kind, after, limit)
            .await?)
    }

    /// A page of a group's members after the key `after`.
    pub async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, roster_store::Member)>, DirectoryError> {
        self.store
            .members_after(tenant, group_id, after, limit)
            .await
            .not_found_as(Kind::Group.as_str(), group_id)
    }
}
