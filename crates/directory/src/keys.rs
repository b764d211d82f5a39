//! The server keys in use (tokens sealed so that they can be shown again, a rotation that
//! seals them again), and what an API key may do.

use roster_store::*;

use crate::sealing::{Keyring, SealError};
use crate::*;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Read the change log (`/api/v1/events`).
    EventsRead,
    /// Read tenants, users, groups and members.
    DirectoryRead,
    /// Create, change and delete tenants, and make setup links.
    TenantsWrite,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [Scope::EventsRead, Scope::DirectoryRead, Scope::TenantsWrite];

    /// The scopes of a key created without naming any, and of keys made before scopes.
    pub const DEFAULT: [Scope; 2] = [Scope::EventsRead, Scope::DirectoryRead];

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::EventsRead => "events:read",
            Scope::DirectoryRead => "directory:read",
            Scope::TenantsWrite => "tenants:write",
        }
    }

    /// The scope named `name`.
    pub fn parse(name: &str) -> Result<Scope, DirectoryError> {
        Scope::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| {
                DirectoryError::Setting(format!(
                    "unknown scope {name:?}: events:read, directory:read or tenants:write"
                ))
            })
    }
}

/// The context a token's sealed value is bound to: a sealed value copied into another row
/// does not open there.
fn token_context(tenant: &TenantId, id: &str) -> String {
    format!("token:{tenant}:{id}")
}

impl Directory {
    /// Seals a token for its record, when this process has the server keys.
    pub(crate) fn seal_token(&self, record: &mut TokenRecord, token: &str) {
        if let Some(ring) = &self.keyring {
            let context = token_context(&record.tenant_id, &record.id);
            record.sealed = Some(ring.seal(self.secrets.as_ref(), &context, token.as_bytes()));
        }
    }

    /// A tenant's token in clear, to show again on its page.
    pub async fn reveal_token(
        &self,
        tenant: &TenantId,
        id: &str,
    ) -> Result<String, DirectoryError> {
        let token = self
            .store
            .tokens(tenant)
            .await?
            .into_iter()
            .find(|t| t.id == id)
            .ok_or_else(|| DirectoryError::NotFound {
                kind: "Token",
                id: id.to_owned(),
            })?;
        let sealed = token.sealed.ok_or_else(|| {
            DirectoryError::Sealing(
                "this token was issued before tokens could be shown again; rotate it to get one \
                 that can be"
                    .into(),
            )
        })?;
        let ring = self.ring()?;
        let clear = ring
            .open(&token_context(tenant, id), &sealed)
            .map_err(|e| match e {
                SealError::OtherKey { .. } => DirectoryError::Sealing(format!(
                    "the token was {e}; give this process that key too (ROSTER_SECRET_KEY=NEW,OLD)"
                )),
                SealError::Damaged => DirectoryError::Internal(format!("token {id}: {e}")),
            })?;
        String::from_utf8(clear).map_err(|e| DirectoryError::Internal(e.to_string()))
    }

    /// Checks, at start, that this process can open every sealed value: each key on record
    /// must be in its ring. Then records its current key. A process without keys passes only
    /// while nothing is sealed.
    pub async fn check_keys(&self) -> Result<(), DirectoryError> {
        let recorded = self.store.sealing_keys().await?;
        let held = self.keyring.as_ref().map(|r| r.ids()).unwrap_or_default();
        let missing: Vec<&String> = recorded.iter().filter(|k| !held.contains(k)).collect();
        if !missing.is_empty() {
            let ids: Vec<&str> = missing.iter().map(|k| k.as_str()).collect();
            return Err(DirectoryError::Sealing(format!(
                "the database holds tokens sealed with server key {}, which this process does \
                 not have{}: set ROSTER_SECRET_KEY to it (or to NEW,OLD during a rotation)",
                ids.join(", "),
                match held.first() {
                    Some(current) => format!(" (its key is {current})"),
                    None => String::new(),
                }
            )));
        }
        if let Some(ring) = &self.keyring {
            self.store
                .record_sealing_key(&ring.current().id(), self.clock.now())
                .await?;
        }
        Ok(())
    }

    /// Seals every sealed token and operator TOTP secret again with the current key, which
    /// then is the only one on record (`roster key rotate`); how many were sealed again.
    pub async fn reseal(&self) -> Result<usize, DirectoryError> {
        let ring: &Keyring = self
            .keyring
            .as_ref()
            .ok_or_else(|| DirectoryError::Sealing("no server key to seal with".into()))?;
        let tokens = self.store.sealed_tokens().await?;
        let mut resealed = Vec::with_capacity(tokens.len());
        for (tenant, id, sealed) in tokens {
            let context = token_context(&tenant, &id);
            let clear = ring.open(&context, &sealed).map_err(|e| {
                DirectoryError::Sealing(format!(
                    "token {id} cannot be opened ({e}); give the old key after the new one \
                     (ROSTER_SECRET_KEY=NEW,OLD)"
                ))
            })?;
            resealed.push((id, ring.seal(self.secrets.as_ref(), &context, &clear)));
        }
        // The operators' secrets first: until the tokens' rotation below records the new key
        // alone, the old one stays on record, so a rotation cut short can be run again.
        let operators = self.reseal_totp(ring).await?;
        let sign_in = self.reseal_sign_in(ring).await?;
        self.store
            .reseal_tokens(&resealed, &ring.current().id(), self.clock.now())
            .await?;
        Ok(resealed.len() + operators + sign_in)
    }
}
