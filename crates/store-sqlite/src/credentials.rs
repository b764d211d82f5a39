//! [`CredentialStore`] on SQLite: tokens, OAuth clients, used assertions and API keys (cold
//! reads on the readers, writes through the writer).

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::decode::{
    API_KEY_COLUMNS, CLIENT_COLUMNS, PORTAL_LINK_COLUMNS, TENANT_COLUMNS, TOKEN_COLUMNS,
};
use roster_store::sql::epoch_millis;
use roster_store::sql::found;
use roster_store::{
    ApiKeyRecord, ClientRecord, CredentialStore, Grant, OtherTokens, PortalLink, StoreError,
    TenantId, TokenRecord,
};
use rusqlite::params;
use time::OffsetDateTime;

use crate::cold::{all, first, scalar};
use crate::{SqliteStore, exec, ts};
use roster_store::sql::decode::Columns as _;

#[async_trait]
impl CredentialStore for SqliteStore {
    async fn add_token(&self, token: &TokenRecord, others: OtherTokens) -> Result<(), StoreError> {
        let token = token.clone();
        self.writer
            .write(move |tx| {
                let token = &token;
                match others {
                    OtherTokens::Keep => {}
                    OtherTokens::Revoke => {
                        exec(
                            tx,
                            "UPDATE tokens SET revoked_at = ?
                             WHERE tenant_id = ? AND revoked_at IS NULL AND client_id IS NULL",
                            params![ts(token.created_at), token.tenant_id.as_str()],
                        )?;
                    }
                    OtherTokens::ExpireBy(at) => {
                        exec(
                            tx,
                            "UPDATE tokens SET expires_at = ?
                             WHERE tenant_id = ? AND revoked_at IS NULL AND client_id IS NULL
                               AND (expires_at IS NULL OR expires_at > ?)",
                            params![ts(at), token.tenant_id.as_str(), ts(at)],
                        )?;
                    }
                }
                exec(
                    tx,
                    "INSERT INTO tokens (id, tenant_id, hash, created_at, name, last4, expires_at,
                       client_id, sealed)
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    params![
                        token.id,
                        token.tenant_id.as_str(),
                        &token.hash[..],
                        ts(token.created_at),
                        token.name,
                        token.last4,
                        token.expires_at.map(ts),
                        token.client_id.as_deref(),
                        token.sealed.as_deref(),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS}, {TOKEN_COLUMNS} FROM tokens k
             JOIN tenants t ON t.id = k.tenant_id LEFT JOIN plans p ON p.name = t.plan
             WHERE k.hash = ? AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > ?)"
        );
        self.readers
            .now(|conn| {
                first(conn, &sql, params![&hash[..], ts(now)], |r| {
                    Ok(Grant {
                        tenant: decode::tenant(r)?,
                        token: decode::token(r)?,
                    })
                })
            })
            .await
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens k WHERE k.hash = ?");
        self.readers
            .now(|conn| first(conn, &sql, params![&hash[..]], |r| decode::token(r)))
            .await
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens k
             WHERE k.tenant_id = ? AND k.client_id IS NULL AND k.revoked_at IS NULL
             ORDER BY k.created_at, k.id"
        );
        self.readers
            .now(|conn| all(conn, &sql, params![tenant.as_str()], |r| decode::token(r)))
            .await
    }

    async fn revoke_token(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ?
                       AND client_id IS NULL AND revoked_at IS NULL",
                    params![ts(at), tenant.as_str(), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn touch_token(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "UPDATE tokens SET last_used_at = ?
                     WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)",
                    params![ts(at), id, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn purge_access_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "DELETE FROM tokens WHERE client_id IS NOT NULL
                       AND (expires_at < ? OR revoked_at < ?)",
                    params![ts(before), ts(before)],
                )?;
                Ok(done as u64)
            })
            .await
    }

    async fn remember_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (issuer, jti) = (issuer.to_owned(), jti.to_owned());
        let (expires_at, now) = (epoch_millis(expires_at), epoch_millis(now));
        self.writer
            .write(move |tx| {
                let changed = exec(
                    tx,
                    roster_store::sql::assertions::REMEMBER,
                    params![issuer, jti, expires_at, now],
                )?;
                Ok(changed == 1)
            })
            .await
    }

    async fn assertion_used(
        &self,
        issuer: &str,
        jti: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let used = roster_store::sql::assertions::USED;
        let n: i64 = self
            .readers
            .now(|conn| scalar(conn, used, params![issuer, jti, epoch_millis(now)]))
            .await?;
        Ok(n > 0)
    }

    async fn purge_assertions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let before = epoch_millis(before);
        self.writer
            .write(move |tx| {
                let done = exec(tx, roster_store::sql::assertions::PURGE, params![before])?;
                Ok(done as u64)
            })
            .await
    }

    async fn add_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let client = client.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, created_at)
                     VALUES (?, ?, ?, ?, ?)",
                    params![
                        client.id,
                        client.tenant_id.as_str(),
                        client.name,
                        &client.secret_hash[..],
                        ts(client.created_at),
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients
             WHERE tenant_id = ? AND revoked_at IS NULL ORDER BY created_at, id"
        );
        self.readers
            .now(|conn| all(conn, &sql, params![tenant.as_str()], |r| decode::client(r)))
            .await
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let sql = format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = ? AND revoked_at IS NULL"
        );
        self.readers
            .now(|conn| first(conn, &sql, params![id], |r| decode::client(r)))
            .await
    }

    async fn revoke_client(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE oauth_clients SET revoked_at = ?
                     WHERE tenant_id = ? AND id = ? AND revoked_at IS NULL",
                    params![ts(at), tenant.as_str(), id],
                )?;
                found(done as u64)?;
                exec(
                    tx,
                    "UPDATE tokens SET revoked_at = ? WHERE client_id = ? AND revoked_at IS NULL",
                    params![ts(at), id],
                )?;
                Ok(())
            })
            .await
    }

    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let key = key.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO api_keys (id, name, hash, created_at, scopes)
                     VALUES (?, ?, ?, ?, ?)",
                    params![
                        key.id,
                        key.name,
                        &key.hash[..],
                        ts(key.created_at),
                        key.scopes.join(" ")
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    &format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"),
                    [],
                    |r| decode::api_key(r),
                )
            })
            .await
    }

    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.readers
            .now(|conn| {
                first(
                    conn,
                    &format!(
                        "SELECT {API_KEY_COLUMNS} FROM api_keys
                         WHERE hash = ? AND revoked_at IS NULL"
                    ),
                    params![&hash[..]],
                    |r| decode::api_key(r),
                )
            })
            .await
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    params![ts(at), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn add_portal_link(&self, link: &PortalLink) -> Result<(), StoreError> {
        let l = link.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO portal_links (id, tenant_id, hash, created_at, expires_at)
                     VALUES (?, ?, ?, ?, ?)",
                    params![
                        l.id,
                        l.tenant_id.as_str(),
                        &l.hash[..],
                        ts(l.created_at),
                        ts(l.expires_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn portal_links(
        &self,
        tenant: &TenantId,
        now: OffsetDateTime,
    ) -> Result<Vec<PortalLink>, StoreError> {
        let sql = format!(
            "SELECT {PORTAL_LINK_COLUMNS} FROM portal_links WHERE tenant_id = ?
               AND opened_at IS NULL AND revoked_at IS NULL AND expires_at > ?
             ORDER BY created_at DESC, id LIMIT ?"
        );
        let limit = roster_store::MAX_PORTAL_LINKS_LISTED as i64;
        self.readers
            .now(|conn| {
                all(conn, &sql, params![tenant.as_str(), ts(now), limit], |r| {
                    decode::portal_link(r)
                })
            })
            .await
    }

    async fn purge_portal_links(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "DELETE FROM portal_links WHERE expires_at < ?",
                    params![ts(before)],
                )
                .map(|n| n as u64)
            })
            .await
    }

    async fn open_portal_link(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PortalLink>, StoreError> {
        let hash = *hash;
        let sql = format!(
            "UPDATE portal_links SET opened_at = ?1 WHERE hash = ?2 AND opened_at IS NULL
               AND revoked_at IS NULL AND expires_at > ?1
             RETURNING {PORTAL_LINK_COLUMNS}"
        );
        self.writer
            .write(move |tx| {
                first(tx, &sql, params![ts(now), &hash[..]], |r| {
                    decode::portal_link(r)
                })
            })
            .await
    }

    async fn revoke_portal_link(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE portal_links SET revoked_at = ?1 WHERE tenant_id = ?2 AND id = ?3
                       AND opened_at IS NULL AND revoked_at IS NULL AND expires_at > ?1",
                    params![ts(at), tenant.as_str(), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn sealing_keys(&self) -> Result<Vec<String>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT key_id FROM sealing_keys ORDER BY key_id",
                    [],
                    |r| r.text("key_id"),
                )
            })
            .await
    }

    async fn record_sealing_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO sealing_keys (key_id, first_used) VALUES (?, ?)
                     ON CONFLICT (key_id) DO NOTHING",
                    params![id, ts(at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn sealed_tokens(&self) -> Result<Vec<(TenantId, String, Vec<u8>)>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT tenant_id, id, sealed FROM tokens WHERE sealed IS NOT NULL
                     ORDER BY id",
                    [],
                    |r| {
                        let tenant = TenantId::new(r.text("tenant_id")?);
                        Ok((tenant, r.text("id")?, r.bytes("sealed")?))
                    },
                )
            })
            .await
    }

    async fn reseal_tokens(
        &self,
        sealed: &[(String, Vec<u8>)],
        key_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (sealed, key_id) = (sealed.to_vec(), key_id.to_owned());
        self.writer
            .write(move |tx| {
                for (id, value) in &sealed {
                    exec(
                        tx,
                        "UPDATE tokens SET sealed = ? WHERE id = ?",
                        params![value, id],
                    )?;
                }
                exec(tx, "DELETE FROM sealing_keys", [])?;
                exec(
                    tx,
                    "INSERT INTO sealing_keys (key_id, first_used) VALUES (?, ?)",
                    params![key_id, ts(at)],
                )?;
                Ok(())
            })
            .await
    }
}
