//! Changing a single sign-on connection after it was made: which is the tenant's default,
//! whether sign-ins the identity provider starts are accepted, which claim names the user, the
//! identity provider's metadata (a certificate rollover pasted by hand), an OpenID Connect
//! client secret (they expire), and just-in-time creation. Each change is checked as adding
//! the connection checked it; a change that does not apply to the connection's protocol is
//! refused rather than ignored.

use roster_sso::saml::IdpMetadata;
use roster_store::{SsoConnectionRecord, TenantId};

use crate::sso::{Connection, Protocol, Stored, UserKey, sealing_context};
use crate::{Directory, DirectoryError};

/// What to change; `None` leaves it as it is.
#[derive(Debug, Clone, Default)]
pub struct ConnectionChange {
    /// Make it the tenant's default (`true`), or no longer (`false`).
    pub is_default: Option<bool>,
    /// SAML: accept sign-ins the identity provider starts.
    pub idp_initiated: Option<bool>,
    /// Which claim names the user, and which attribute it matches.
    pub user_key: Option<UserKey>,
    /// SAML: the identity provider's metadata, pasted (the metadata URL, if any, stays and is
    /// read again at its time).
    pub metadata: Option<String>,
    /// OpenID Connect: Roster's new client secret at the identity provider.
    pub client_secret: Option<String>,
}

impl ConnectionChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.is_default.is_none()
            && self.idp_initiated.is_none()
            && self.user_key.is_none()
            && self.metadata.is_none()
            && self.client_secret.is_none()
    }
}

fn refused(text: &str) -> DirectoryError {
    DirectoryError::Setting(text.to_owned())
}

impl Directory {
    /// Applies `change` to a tenant's connection (by id or name) and returns it as it now is.
    pub async fn change_sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
        change: ConnectionChange,
    ) -> Result<Connection, DirectoryError> {
        if change.is_empty() {
            return Err(refused("nothing to change"));
        }
        let connection = self.sso_connection(tenant, Some(id_or_name)).await?;
        if let Some(key) = &change.user_key {
            let found = self
                .tenant_by(&crate::TenantRef::Id(tenant.clone()))
                .await?;
            let settings = crate::TenantSettings::of(&found)
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            key.attribute.check(&settings)?;
        }
        let mut sealed = connection.sealed.clone();
        let mut stored = Stored {
            preset: connection.preset,
            jit: connection.jit,
            saml: None,
            oidc: None,
        };
        match connection.protocol.clone() {
            Protocol::Saml { mut settings, .. } => {
                if change.client_secret.is_some() {
                    return Err(refused(
                        "a SAML connection has no client secret (that is OpenID Connect's)",
                    ));
                }
                if let Some(on) = change.idp_initiated {
                    settings.idp_initiated = on;
                }
                if let Some(key) = change.user_key.clone() {
                    settings.user_key = key;
                }
                if let Some(xml) = change.metadata.as_deref() {
                    let xml = xml.trim();
                    IdpMetadata::parse(xml).map_err(|e| {
                        DirectoryError::Setting(format!("the identity provider's metadata: {e}"))
                    })?;
                    settings.metadata = xml.to_owned();
                    settings.metadata_read_at = Some(self.clock.now().unix_timestamp());
                }
                stored.saml = Some(settings);
            }
            Protocol::Oidc(mut settings) => {
                if change.idp_initiated.is_some() || change.metadata.is_some() {
                    return Err(refused(
                        "an OpenID Connect connection has no SAML metadata and no \
                         identity-provider-initiated sign-in",
                    ));
                }
                if let Some(key) = change.user_key.clone() {
                    settings.user_key = key;
                }
                if let Some(secret) = change.client_secret.as_deref() {
                    let secret = secret.trim();
                    if secret.is_empty() || secret.len() > 1024 {
                        return Err(refused(
                            "the client secret must be given, up to 1024 characters",
                        ));
                    }
                    sealed = self.ring()?.seal(
                        self.secrets.as_ref(),
                        &sealing_context(tenant, &connection.id),
                        secret.as_bytes(),
                    );
                }
                stored.oidc = Some(settings);
            }
        }
        let record = SsoConnectionRecord {
            id: connection.id.clone(),
            tenant_id: connection.tenant.clone(),
            name: connection.name.clone(),
            protocol: connection.protocol_name().to_owned(),
            settings: serde_json::to_value(&stored)
                .map_err(|e| DirectoryError::Internal(e.to_string()))?,
            sealed,
            is_default: change.is_default.unwrap_or(connection.is_default),
            created_at: connection.created_at,
            updated_at: self.clock.now(),
        };
        self.store.update_sso_connection(&record).await?;
        self.sso_connection(tenant, Some(&connection.id)).await
    }
}
