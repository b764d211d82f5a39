//! [`CredentialStore`] on PostgreSQL: tokens, OAuth clients, used assertions and API keys.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::decode::{
    API_KEY_COLUMNS, CLIENT_COLUMNS, PORTAL_LINK_COLUMNS, TENANT_COLUMNS, TOKEN_COLUMNS,
};
use roster_store::sql::found;
use roster_store::sql::{epoch_millis, numbered};
use roster_store::{
    ApiKeyRecord, ClientRecord, CredentialStore, Grant, OtherTokens, PortalLink, StoreError,
    TenantId, TokenRecord,
};
use sqlx::postgres::PgRow;
use time::OffsetDateTime;

use crate::{PostgresStore, db_err};

#[async_trait]
impl CredentialStore for PostgresStore {
    async fn add_token(&self, token: &TokenRecord, others: OtherTokens) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let (sql, at) = match others {
            OtherTokens::Keep => ("", token.created_at),
            OtherTokens::Revoke => (
                "UPDATE tokens SET revoked_at = $1
                 WHERE tenant_id = $2 AND revoked_at IS NULL AND client_id IS NULL",
                token.created_at,
            ),
            OtherTokens::ExpireBy(at) => (
                "UPDATE tokens SET expires_at = $1
                 WHERE tenant_id = $2 AND revoked_at IS NULL AND client_id IS NULL
                   AND (expires_at IS NULL OR expires_at > $1)",
                at,
            ),
        };
        if !sql.is_empty() {
            sqlx::query(sql)
                .bind(at)
                .bind(token.tenant_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO tokens (id, tenant_id, hash, created_at, name, last4, expires_at, client_id,
               sealed)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.id)
        .bind(token.tenant_id.as_str())
        .bind(&token.hash[..])
        .bind(token.created_at)
        .bind(&token.name)
        .bind(&token.last4)
        .bind(token.expires_at)
        .bind(token.client_id.as_deref())
        .bind(token.sealed.as_deref())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn grant(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<Grant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS}, {TOKEN_COLUMNS} FROM tokens k
             JOIN tenants t ON t.id = k.tenant_id LEFT JOIN plans p ON p.name = t.plan
             WHERE k.hash = $1 AND k.revoked_at IS NULL
               AND (k.expires_at IS NULL OR k.expires_at > $2)"
        ))
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|row| {
                Ok(Grant {
                    tenant: decode::tenant(&Cols(row))?,
                    token: token_from_row(row)?,
                })
            })
            .transpose()
    }

    async fn token_by_hash(&self, hash: &[u8; 32]) -> Result<Option<TokenRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens k WHERE k.hash = $1"
        ))
        .bind(&hash[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(token_from_row).transpose()
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Vec<TokenRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TOKEN_COLUMNS} FROM tokens k
             WHERE k.tenant_id = $1 AND k.client_id IS NULL AND k.revoked_at IS NULL
             ORDER BY k.created_at, k.id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3
               AND client_id IS NULL AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn touch_token(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE tokens SET last_used_at = $1
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $1)",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn purge_access_tokens(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "DELETE FROM tokens WHERE client_id IS NOT NULL
               AND (expires_at < $1 OR revoked_at < $1)",
        )
        .bind(before)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn remember_assertion(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&numbered(roster_store::sql::assertions::REMEMBER))
            .bind(issuer)
            .bind(jti)
            .bind(epoch_millis(expires_at))
            .bind(epoch_millis(now))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn assertion_used(
        &self,
        issuer: &str,
        jti: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar(&numbered(roster_store::sql::assertions::USED))
            .bind(issuer)
            .bind(jti)
            .bind(epoch_millis(now))
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(n > 0)
    }

    async fn purge_assertions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(&numbered(roster_store::sql::assertions::PURGE))
            .bind(epoch_millis(before))
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn add_client(&self, client: &ClientRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO oauth_clients (id, tenant_id, name, secret_hash, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&client.id)
        .bind(client.tenant_id.as_str())
        .bind(&client.name)
        .bind(&client.secret_hash[..])
        .bind(client.created_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn clients(&self, tenant: &TenantId) -> Result<Vec<ClientRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients
             WHERE tenant_id = $1 AND revoked_at IS NULL ORDER BY created_at, id"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(client_from_row).collect()
    }

    async fn client(&self, id: &str) -> Result<Option<ClientRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM oauth_clients WHERE id = $1 AND revoked_at IS NULL"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(client_from_row).transpose()
    }

    async fn revoke_client(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let done = sqlx::query(
            "UPDATE oauth_clients SET revoked_at = $1
             WHERE tenant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())?;
        sqlx::query(
            "UPDATE tokens SET revoked_at = $1 WHERE client_id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn add_api_key(&self, key: &ApiKeyRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO api_keys (id, name, hash, created_at, scopes) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&key.id)
        .bind(&key.name)
        .bind(&key.hash[..])
        .bind(key.created_at)
        .bind(key.scopes.join(" "))
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn api_keys(&self) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(api_key_from_row).collect()
    }

    async fn api_key(&self, hash: &[u8; 32]) -> Result<Option<ApiKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE hash = $1 AND revoked_at IS NULL"
        ))
        .bind(&hash[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(api_key_from_row).transpose()
    }

    async fn revoke_api_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(at)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn add_portal_link(&self, link: &PortalLink) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO portal_links (id, tenant_id, hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&link.id)
        .bind(link.tenant_id.as_str())
        .bind(&link.hash[..])
        .bind(link.created_at)
        .bind(link.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn portal_links(
        &self,
        tenant: &TenantId,
        now: OffsetDateTime,
    ) -> Result<Vec<PortalLink>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {PORTAL_LINK_COLUMNS} FROM portal_links WHERE tenant_id = $1
               AND opened_at IS NULL AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC, id LIMIT $3"
        ))
        .bind(tenant.as_str())
        .bind(now)
        .bind(roster_store::MAX_PORTAL_LINKS_LISTED as i64)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::portal_link(&Cols(r))).collect()
    }

    async fn purge_portal_links(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM portal_links WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }

    async fn open_portal_link(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<PortalLink>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "UPDATE portal_links SET opened_at = $1 WHERE hash = $2 AND opened_at IS NULL
               AND revoked_at IS NULL AND expires_at > $1
             RETURNING {PORTAL_LINK_COLUMNS}"
        ))
        .bind(now)
        .bind(&hash[..])
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| decode::portal_link(&Cols(r)))
            .transpose()
    }

    async fn revoke_portal_link(
        &self,
        tenant: &TenantId,
        id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE portal_links SET revoked_at = $1 WHERE tenant_id = $2 AND id = $3
               AND opened_at IS NULL AND revoked_at IS NULL AND expires_at > $1",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn sealing_keys(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query_scalar("SELECT key_id FROM sealing_keys ORDER BY key_id")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)
    }

    async fn record_sealing_key(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO sealing_keys (key_id, first_used) VALUES ($1, $2)
             ON CONFLICT (key_id) DO NOTHING",
        )
        .bind(id)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn sealed_tokens(&self) -> Result<Vec<(TenantId, String, Vec<u8>)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows: Vec<(String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT tenant_id, id, sealed FROM tokens WHERE sealed IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(rows
            .into_iter()
            .map(|(t, id, sealed)| (TenantId::new(t), id, sealed))
            .collect())
    }

    async fn reseal_tokens(
        &self,
        sealed: &[(String, Vec<u8>)],
        key_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for (id, value) in sealed {
            sqlx::query("UPDATE tokens SET sealed = $1 WHERE id = $2")
                .bind(value)
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query("DELETE FROM sealing_keys")
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query("INSERT INTO sealing_keys (key_id, first_used) VALUES ($1, $2)")
            .bind(key_id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }
}

fn api_key_from_row(row: &PgRow) -> Result<ApiKeyRecord, StoreError> {
    decode::api_key(&Cols(row))
}

fn token_from_row(row: &PgRow) -> Result<TokenRecord, StoreError> {
    decode::token(&Cols(row))
}

fn client_from_row(row: &PgRow) -> Result<ClientRecord, StoreError> {
    decode::client(&Cols(row))
}
