//! The authenticated tenant (its settings and schema registry) and the short cache of recent
//! lookups that keeps most requests off the token table.

use std::sync::Arc;

use roster_scim::schema::{Registry, ResourceSchema};
use roster_store::*;
use time::OffsetDateTime;

use crate::*;

/// An authenticated tenant with what every request needs of it: its settings and its schema
/// registry (the core schemas plus the tenant's extra attributes).
#[derive(Debug, Clone)]
pub struct TenantContext {
    /// The tenant.
    pub tenant: Tenant,
    /// Its settings.
    pub settings: TenantSettings,
    /// Its schemas.
    pub registry: Arc<Registry>,
}

impl TenantContext {
    /// The tenant's id.
    pub fn id(&self) -> &TenantId {
        &self.tenant.id
    }

    /// How this tenant's requests are read.
    pub fn dialect(&self) -> Dialect {
        Dialect::new(self.settings.compatibility)
    }

    /// The resource schema of a kind in this tenant.
    pub fn schema(&self, kind: Kind) -> &Arc<ResourceSchema> {
        match kind {
            Kind::User => self.registry.user(),
            Kind::Group => self.registry.group(),
        }
    }
}

/// How long a token lookup is trusted before the database is asked again. A revoked token
/// stops working on every process within this time.
pub(crate) const TOKEN_CACHE_SECONDS: i64 = 1;

/// How stale a token's recorded last use may get before a request records it again.
pub(crate) const LAST_USED_PRECISION_SECONDS: i64 = 60;

/// Tenant contexts looked up recently (by token hash, or by tenant id), each trusted for
/// [`TOKEN_CACHE_SECONDS`] and never past its `until` (a token's expiry).
pub(crate) struct Recent<K> {
    entries: std::sync::Mutex<std::collections::HashMap<K, Cached>>,
}

pub(crate) struct Cached {
    at: OffsetDateTime,
    until: Option<OffsetDateTime>,
    ctx: Arc<TenantContext>,
}

impl<K> Default for Recent<K> {
    fn default() -> Self {
        Recent {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<K: std::hash::Hash + Eq> Recent<K> {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<K, Cached>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The context cached under `key`, if it may still be trusted at `now`.
    pub(crate) fn get(&self, key: &K, now: OffsetDateTime) -> Option<Arc<TenantContext>> {
        let entries = self.lock();
        let c = entries.get(key)?;
        let fresh = now >= c.at
            && (now - c.at).whole_seconds() < TOKEN_CACHE_SECONDS
            && c.until.is_none_or(|u| now < u);
        fresh.then(|| c.ctx.clone())
    }

    /// Caches a lookup made at `now` (bounded: a full cache starts over).
    pub(crate) fn put(
        &self,
        key: K,
        now: OffsetDateTime,
        until: Option<OffsetDateTime>,
        ctx: Arc<TenantContext>,
    ) {
        let mut entries = self.lock();
        if entries.len() >= 10_000 {
            entries.clear();
        }
        entries.insert(
            key,
            Cached {
                at: now,
                until,
                ctx,
            },
        );
    }

    /// Drops every lookup of this tenant.
    pub(crate) fn forget(&self, tenant: &TenantId) {
        self.lock().retain(|_, c| c.ctx.id() != tenant);
    }
}
