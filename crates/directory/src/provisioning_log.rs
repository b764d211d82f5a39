//! The provisioning log's use cases: entries stored in batches, read by a tenant's page and
//! the tenant API, purged after their retention; and why a bearer token was refused, looked
//! up only for the log (off the request's path).

use roster_store::*;
use time::OffsetDateTime;

use crate::*;

/// The most entries one page of the log holds.
pub const LOG_PAGE_MAX: u32 = 200;

/// Why a bearer token did not open a tenant, as the log explains it (the answer to the
/// caller says the same generic words for all of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No token has this value.
    Unknown,
    /// The tenant's static token expired then.
    Expired(OffsetDateTime),
    /// The tenant's token was revoked (or rotated out) then.
    Revoked(OffsetDateTime),
    /// An access token of the tenant's OAuth client expired then.
    AccessTokenExpired(OffsetDateTime),
    /// A token of another tenant.
    OtherTenant,
}

impl Directory {
    /// Stores log entries (one transaction).
    pub async fn append_log(&self, entries: Vec<LogEntry>) -> Result<(), DirectoryError> {
        Ok(self.store.append_log(entries).await?)
    }

    /// Stores log entries (one transaction) with the CPU time the process leaves idle, where
    /// the store can, waiting at most `patience` for it (see the recorder).
    pub async fn append_log_in_background(
        &self,
        entries: Vec<LogEntry>,
        patience: std::time::Duration,
    ) -> Result<(), DirectoryError> {
        Ok(self
            .store
            .append_log_in_background(entries, patience)
            .await?)
    }

    /// A page of a tenant's log (at most [`LOG_PAGE_MAX`] entries).
    pub async fn log_page(
        &self,
        tenant: &TenantId,
        query: &LogQuery,
    ) -> Result<Vec<LogEntry>, DirectoryError> {
        let mut q = query.clone();
        q.limit = q.limit.clamp(1, LOG_PAGE_MAX);
        // An empty name filters nothing, as at every edge that reads one.
        if q.resource.as_deref() == Some("") {
            q.resource = None;
        }
        Ok(self.store.log_page(tenant, &q).await?)
    }

    /// One entry of a tenant's log.
    pub async fn log_entry(
        &self,
        tenant: &TenantId,
        seq: i64,
    ) -> Result<Option<LogEntry>, DirectoryError> {
        Ok(self.store.log_entry(tenant, seq).await?)
    }

    /// A tenant's requests over the last `window`.
    pub async fn log_counts(
        &self,
        tenant: &TenantId,
        window: time::Duration,
    ) -> Result<LogCounts, DirectoryError> {
        Ok(self
            .store
            .log_counts(tenant, self.clock.now() - window)
            .await?)
    }

    /// Deletes log entries older than `retention`; how many.
    pub async fn purge_log(&self, retention: time::Duration) -> Result<u64, DirectoryError> {
        Ok(self.store.purge_log(self.clock.now() - retention).await?)
    }

    /// Why the token with this SHA-256 did not open `tenant`.
    pub async fn token_refusal(
        &self,
        tenant: &TenantId,
        hash: &[u8; 32],
    ) -> Result<TokenRefusal, DirectoryError> {
        let Some(token) = self.store.token_by_hash(hash).await? else {
            return Ok(TokenRefusal::Unknown);
        };
        if &token.tenant_id != tenant {
            return Ok(TokenRefusal::OtherTenant);
        }
        if let Some(at) = token.revoked_at {
            return Ok(TokenRefusal::Revoked(at));
        }
        match token.expires_at {
            Some(at) if at <= self.clock.now() => Ok(if token.client_id.is_some() {
                TokenRefusal::AccessTokenExpired(at)
            } else {
                TokenRefusal::Expired(at)
            }),
            // Live now: it was refused a moment before it was issued, or by a process whose
            // cache had not seen it yet.
            _ => Ok(TokenRefusal::Unknown),
        }
    }
}
