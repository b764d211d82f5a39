//! The host applications that receive signed-in users (Roster is their OpenID provider), and
//! the keys their ID tokens are signed with: made on first need, rotated with a grace period
//! either side (a new key is published before it signs; an old one stays published until the
//! last token it signed has expired).

use roster_store::{HostAppRecord, SigningKeyRecord};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::{Directory, DirectoryError, hash_token};

/// How long before it signs a new key is published (clients cache a JWKS for hours; a client
/// that sees an unknown `kid` fetches again anyway).
pub const PUBLISH_AHEAD: Duration = Duration::hours(1);
/// How long an ID token or access token lives, and so how long a retired key stays published.
pub const TOKEN_LIFETIME: Duration = Duration::hours(1);

/// A host application just registered, with its secret (shown once).
#[derive(Debug, Clone)]
pub struct RegisteredApp {
    /// The stored registration.
    pub app: HostAppRecord,
    /// Its client secret, in clear this once.
    pub client_secret: String,
}

/// The key that signs now, unsealed.
#[derive(Debug, Clone)]
pub struct SigningKey {
    /// Its `kid`.
    pub kid: String,
    /// The private key, PKCS#8 DER.
    pub private_key_der: Vec<u8>,
}

fn check_uri(uri: &str, what: &str) -> Result<String, DirectoryError> {
    let parsed = crate::outbound::secure_url(uri, what)?;
    if parsed.fragment().is_some() {
        return Err(DirectoryError::Setting(format!(
            "the {what} must not have a fragment (#…): {uri:?}"
        )));
    }
    Ok(parsed.to_string())
}

fn key_context(kid: &str) -> String {
    format!("id-token-key:{kid}")
}

impl Directory {
    /// Registers a host application with its redirect URIs (compared exactly) and, optionally,
    /// the URL a sign-in that did not start at it is sent to.
    pub async fn create_host_app(
        &self,
        name: &str,
        redirect_uris: &[String],
        login_uri: Option<&str>,
    ) -> Result<RegisteredApp, DirectoryError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(DirectoryError::Setting(
                "an application's name is 1 to 100 characters".into(),
            ));
        }
        if redirect_uris.is_empty() || redirect_uris.len() > 20 {
            return Err(DirectoryError::Setting(
                "an application has 1 to 20 redirect URIs".into(),
            ));
        }
        let redirect_uris = redirect_uris
            .iter()
            .map(|u| check_uri(u, "redirect URI"))
            .collect::<Result<Vec<_>, _>>()?;
        let login_uri = login_uri.map(|u| check_uri(u, "login URI")).transpose()?;
        let client_secret = self.secrets.client_secret();
        let app = HostAppRecord {
            id: self.secrets.client_id(),
            name: name.to_owned(),
            secret_hash: hash_token(&client_secret),
            redirect_uris,
            login_uri,
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.add_host_app(&app).await?;
        Ok(RegisteredApp { app, client_secret })
    }

    /// Every registered application.
    pub async fn host_apps(&self) -> Result<Vec<HostAppRecord>, DirectoryError> {
        Ok(self.store.host_apps().await?)
    }

    /// A live application by client id.
    pub async fn host_app(&self, client_id: &str) -> Result<Option<HostAppRecord>, DirectoryError> {
        Ok(self
            .store
            .host_app(client_id)
            .await?
            .filter(|a| a.revoked_at.is_none()))
    }

    /// A live application whose secret is `secret` (compared in constant time).
    pub async fn authenticate_host_app(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Option<HostAppRecord>, DirectoryError> {
        let Some(app) = self.host_app(client_id).await? else {
            return Ok(None);
        };
        let given = hash_token(secret);
        Ok(bool::from(given.ct_eq(&app.secret_hash)).then_some(app))
    }

    /// Revokes an application: its codes and tokens stop working.
    pub async fn revoke_host_app(&self, client_id: &str) -> Result<(), DirectoryError> {
        self.store
            .revoke_host_app(client_id, self.clock.now())
            .await
            .map_err(|e| match e {
                roster_store::StoreError::NotFound => DirectoryError::NotFound {
                    kind: "Application",
                    id: client_id.to_owned(),
                },
                other => other.into(),
            })
    }

    /// The keys to publish now (JWKS), newest first.
    pub async fn published_keys(&self) -> Result<Vec<serde_json::Value>, DirectoryError> {
        self.ensure_signing_key().await?;
        Ok(self
            .store
            .signing_keys(self.clock.now())
            .await?
            .into_iter()
            .map(|k| k.public_jwk)
            .collect())
    }

    /// The key that signs now: the newest whose time to sign has come. The first is made on
    /// first need and signs at once (no client can have cached a JWKS before it).
    pub async fn signing_key(&self) -> Result<SigningKey, DirectoryError> {
        self.ensure_signing_key().await?;
        let now = self.clock.now();
        let record = self
            .store
            .signing_keys(now)
            .await?
            .into_iter()
            .find(|k| k.signs_from <= now)
            .ok_or_else(|| DirectoryError::Internal("no ID-token key signs yet".into()))?;
        let ring = self.ring()?;
        let private_key_der = ring
            .open(&key_context(&record.kid), &record.sealed)
            .map_err(|e| DirectoryError::Sealing(format!("the ID-token key: {e}")))?;
        Ok(SigningKey {
            kid: record.kid,
            private_key_der,
        })
    }

    async fn ensure_signing_key(&self) -> Result<(), DirectoryError> {
        if self.store.signing_keys(self.clock.now()).await?.is_empty() {
            self.add_signing_key(self.clock.now()).await?;
        }
        Ok(())
    }

    /// Rotates the ID-token key: a new one is published now and signs after
    /// [`PUBLISH_AHEAD`]; the ones before it stay published until the last token they can sign
    /// has expired. Returns the new key's `kid`.
    pub async fn rotate_signing_key(&self) -> Result<String, DirectoryError> {
        let now = self.clock.now();
        let before = self.store.signing_keys(now).await?;
        let kid = self.add_signing_key(now + PUBLISH_AHEAD).await?;
        for old in before.iter().filter(|k| k.retired_at.is_none()) {
            self.store
                .retire_signing_key(&old.kid, now + PUBLISH_AHEAD + TOKEN_LIFETIME)
                .await?;
        }
        Ok(kid)
    }

    /// Seals every SSO connection's key and every ID-token key again with the ring's current
    /// key (part of `roster key rotate`); how many.
    pub(crate) async fn reseal_sign_in(
        &self,
        ring: &crate::sealing::Keyring,
    ) -> Result<usize, DirectoryError> {
        let mut count = 0;
        let open = |context: &str, sealed: &[u8], what: &str| {
            ring.open(context, sealed).map_err(|e| {
                DirectoryError::Sealing(format!(
                    "{what} cannot be opened ({e}); give the old key after the new one \
                     (ROSTER_SECRET_KEY=NEW,OLD)"
                ))
            })
        };
        for key in self.store.signing_keys(OffsetDateTime::UNIX_EPOCH).await? {
            let context = key_context(&key.kid);
            let clear = open(&context, &key.sealed, &format!("ID-token key {}", key.kid))?;
            let again = ring.seal(self.secrets.as_ref(), &context, &clear);
            self.store.reseal_signing_key(&key.kid, &again).await?;
            count += 1;
        }
        for tenant in self.store.tenants().await? {
            for mut connection in self.store.sso_connections(&tenant.id).await? {
                let context = crate::sso::sealing_context(&tenant.id, &connection.id);
                let clear = open(
                    &context,
                    &connection.sealed,
                    &format!("SSO connection {} of tenant {}", connection.name, tenant.id),
                )?;
                connection.sealed = ring.seal(self.secrets.as_ref(), &context, &clear);
                self.store.update_sso_connection(&connection).await?;
                count += 1;
            }
        }
        Ok(count)
    }

    async fn add_signing_key(&self, signs_from: OffsetDateTime) -> Result<String, DirectoryError> {
        let ring = self.ring()?;
        let der = tokio::task::spawn_blocking(roster_sso::keys::token_key)
            .await
            .map_err(|e| DirectoryError::Internal(e.to_string()))?
            .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        let kid = format!("k{}", &self.secrets.resource_id().replace('-', "")[..16]);
        let public_jwk = roster_sso::keys::public_jwk(&der, &kid)
            .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        let now = self.clock.now();
        let record = SigningKeyRecord {
            kid: kid.clone(),
            sealed: ring.seal(self.secrets.as_ref(), &key_context(&kid), &der),
            public_jwk,
            created_at: now,
            signs_from,
            retired_at: None,
        };
        self.store.add_signing_key(&record).await?;
        Ok(kid)
    }
}
