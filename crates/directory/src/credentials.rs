//! Static tokens, OAuth clients, trusted issuers and used assertions, API keys.

use roster_store::*;
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use crate::context::*;
use crate::resources::*;
use crate::*;

impl Directory {
    /// Issues a new static token for a tenant; unless `options.keep_old`, its other static
    /// tokens stop working, and with `options.old_expire_in` they stop after that time.
    /// Returns the record and the token, shown once.
    pub async fn issue_token(
        &self,
        tenant: &TenantId,
        options: &TokenOptions,
    ) -> Result<(TokenRecord, String), DirectoryError> {
        let token = self.secrets.token();
        let now = self.clock.now();
        let mut record = self.token_record(tenant, &token, now);
        record.name = options.name.clone();
        record.expires_at = options.expires_in.map(|d| now + d);
        self.seal_token(&mut record, &token);
        let others = match (options.keep_old, options.old_expire_in) {
            (false, _) => OtherTokens::Revoke,
            (true, None) => OtherTokens::Keep,
            (true, Some(d)) => OtherTokens::ExpireBy(now + d),
        };
        self.store.add_token(&record, others).await?;
        if others != OtherTokens::Keep {
            self.tokens.forget(tenant);
        }
        Ok((record, token))
    }

    /// The record of a token issued at `now`: unnamed, never expiring, of no client.
    pub(crate) fn token_record(
        &self,
        tenant: &TenantId,
        token: &str,
        now: OffsetDateTime,
    ) -> TokenRecord {
        TokenRecord {
            id: format!("tok_{}", self.secrets.resource_id().replace('-', "")),
            tenant_id: tenant.clone(),
            hash: hash_token(token),
            created_at: now,
            name: String::new(),
            last4: last4(token),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            client_id: None,
            sealed: None,
        }
    }

    /// A tenant's static tokens that are not revoked (expired ones included).
    pub async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, DirectoryError> {
        Ok(self.store.tokens(tenant).await?)
    }

    /// Revokes one static token of a tenant, by its id: it stops working at once on this
    /// process and within [`TOKEN_CACHE_SECONDS`] on every other.
    pub async fn revoke_token(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let done = self.store.revoke_token(tenant, id, self.clock.now()).await;
        self.revoked(tenant, done, "Token", id)
    }

    /// After a revocation in the store: `NotFound` named for the administrator, or this
    /// process's cached lookups of the tenant's tokens dropped.
    pub(crate) fn revoked(
        &self,
        tenant: &TenantId,
        done: Result<(), StoreError>,
        kind: &'static str,
        id: &str,
    ) -> Result<(), DirectoryError> {
        done.not_found_as(kind, id)?;
        self.tokens.forget(tenant);
        Ok(())
    }

    /// Creates an OAuth client for a tenant; returns its record and its secret, shown once
    /// (only its hash is stored).
    pub async fn create_client(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> Result<(ClientRecord, String), DirectoryError> {
        let secret = self.secrets.client_secret();
        let record = ClientRecord {
            id: self.secrets.client_id(),
            tenant_id: tenant.clone(),
            name: name.to_owned(),
            secret_hash: hash_token(&secret),
            created_at: self.clock.now(),
            revoked_at: None,
        };
        self.store.add_client(&record).await?;
        Ok((record, secret))
    }

    /// A tenant's live OAuth clients.
    pub async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, DirectoryError> {
        Ok(self.store.clients(tenant).await?)
    }

    /// Revokes an OAuth client and every access token issued to it: they stop working at
    /// once on this process and within [`TOKEN_CACHE_SECONDS`] on every other.
    pub async fn revoke_client(&self, tenant: &TenantId, id: &str) -> Result<(), DirectoryError> {
        let done = self.store.revoke_client(tenant, id, self.clock.now()).await;
        self.revoked(tenant, done, "OAuth client", id)
    }

    /// The client credentials grant (RFC 6749 §4.4) with a client secret: when `client_id`
    /// names a live client and `secret` is its secret, issues an access token (see
    /// [`Directory::issue_access_token`]); otherwise says which of the two was wrong.
    pub async fn client_credentials(
        &self,
        client_id: &str,
        secret: &str,
    ) -> Result<Result<AccessToken, ClientRefusal>, DirectoryError> {
        let Some((client, ctx)) = self.client(client_id).await? else {
            return Ok(Err(ClientRefusal::UnknownClient));
        };
        let presented = hash_token(secret);
        if secret.len() > 200 || !bool::from(presented.ct_eq(&client.secret_hash)) {
            return Ok(Err(ClientRefusal::WrongSecret(client.tenant_id)));
        }
        Ok(Ok(self.issue_access_token(&client, &ctx).await?))
    }

    /// A live OAuth client and its tenant's context, by `client_id`.
    pub async fn client(
        &self,
        client_id: &str,
    ) -> Result<Option<(ClientRecord, TenantContext)>, DirectoryError> {
        if client_id.len() > 200 {
            return Ok(None);
        }
        let Some(client) = self.store.client(client_id).await? else {
            return Ok(None);
        };
        let Some(tenant) = self.store.tenant(&client.tenant_id).await? else {
            return Ok(None);
        };
        Ok(Some((client, self.context(tenant)?)))
    }

    /// Issues an access token to an authenticated client, for its tenant, living as long as
    /// the tenant's `access_token_minutes`.
    pub async fn issue_access_token(
        &self,
        client: &ClientRecord,
        tenant: &TenantContext,
    ) -> Result<AccessToken, DirectoryError> {
        let lifetime = i64::from(tenant.settings.access_token_minutes.clamp(
            *settings::ACCESS_TOKEN_MINUTES.start(),
            *settings::ACCESS_TOKEN_MINUTES.end(),
        )) * 60;
        let token = self.secrets.access_token();
        let now = self.clock.now();
        let mut record = self.token_record(&client.tenant_id, &token, now);
        record.expires_at = Some(now + time::Duration::seconds(lifetime));
        record.client_id = Some(client.id.clone());
        self.store.add_token(&record, OtherTokens::Keep).await?;
        Ok(AccessToken {
            token,
            expires_in: lifetime,
            tenant: client.tenant_id.clone(),
            client_id: client.id.clone(),
        })
    }

    /// Trusts an external issuer's tokens for a tenant (workload identity federation), or no
    /// issuer with `None`.
    pub async fn set_federation(
        &self,
        tenant: &TenantId,
        federation: Option<Federation>,
    ) -> Result<TenantSettings, DirectoryError> {
        let federation = federation.map(Federation::normalized);
        if let Some(f) = &federation {
            f.check().map_err(|e| DirectoryError::Setting(e.0))?;
            if !f.allow_link_local {
                for url in f.issuers.iter().chain(f.jwks_uri.iter()) {
                    outbound::check_url(url)
                        .await
                        .map_err(|e| DirectoryError::Setting(e.to_string()))?;
                }
            }
        }
        let current = self
            .store
            .tenant(tenant)
            .await?
            .ok_or_else(|| DirectoryError::TenantNotFound(tenant.to_string()))?;
        let mut settings = TenantSettings::for_change(&current, "federation")
            .map_err(|e| unreadable(&current, e))?;
        settings.federation = federation;
        self.save_settings(tenant, &settings).await?;
        Ok(settings)
    }

    /// Records the use of a client assertion (`jti` of `issuer`, remembered until
    /// `expires_at`); `false` when it was used before, by any process: a replay.
    pub async fn first_use_of_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
    ) -> Result<bool, DirectoryError> {
        Ok(self
            .store
            .remember_assertion(issuer, jti, expires_at, self.clock.now())
            .await?)
    }

    /// Whether the client assertion `jti` of `issuer` was already used at the token endpoint
    /// (and is remembered still).
    pub async fn assertion_used(&self, issuer: &str, jti: &str) -> Result<bool, DirectoryError> {
        Ok(self
            .store
            .assertion_used(issuer, jti, self.clock.now())
            .await?)
    }

    /// Forgets used client assertions that have expired (their replay is refused by their
    /// expiry now).
    pub async fn purge_used_assertions(&self) -> Result<u64, DirectoryError> {
        Ok(self.store.purge_assertions(self.clock.now()).await?)
    }

    /// Deletes access tokens that expired or were revoked more than a day ago.
    pub async fn purge_access_tokens(&self) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_access_tokens(self.clock.now() - time::Duration::days(1))
            .await?)
    }

    /// Creates an API key for the host application; returns its record and the key, shown
    /// once (only its hash is stored).
    pub async fn create_api_key(
        &self,
        name: &str,
        scopes: &[crate::Scope],
    ) -> Result<(roster_store::ApiKeyRecord, String), DirectoryError> {
        let scopes = if scopes.is_empty() {
            &crate::Scope::DEFAULT[..]
        } else {
            scopes
        };
        let mut names: Vec<String> = Vec::new();
        for scope in scopes {
            if !names.iter().any(|n| n == scope.as_str()) {
                names.push(scope.as_str().to_owned());
            }
        }
        let key = self.secrets.api_key();
        let record = roster_store::ApiKeyRecord {
            id: format!("key_{}", self.secrets.resource_id().replace('-', "")),
            name: name.to_owned(),
            hash: hash_token(&key),
            created_at: self.clock.now(),
            revoked_at: None,
            scopes: names,
        };
        self.store.add_api_key(&record).await?;
        Ok((record, key))
    }

    /// Every API key, revoked ones included.
    pub async fn api_keys(&self) -> Result<Vec<roster_store::ApiKeyRecord>, DirectoryError> {
        Ok(self.store.api_keys().await?)
    }

    /// Revokes an API key at once, on every process.
    pub async fn revoke_api_key(&self, id: &str) -> Result<(), DirectoryError> {
        self.store
            .revoke_api_key(id, self.clock.now())
            .await
            .not_found_as("API key", id)
    }

    /// Whether an API key is live. Not cached: host-application calls are few, and a revoked
    /// key stops working at once.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
    ) -> Result<Option<roster_store::ApiKeyRecord>, DirectoryError> {
        if !key.starts_with(tokens::API_KEY_PREFIX) || key.len() > 200 {
            return Ok(None);
        }
        Ok(self.store.api_key(&hash_token(key)).await?)
    }
}
