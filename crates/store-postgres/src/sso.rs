//! [`SsoStore`] on PostgreSQL: connections, host applications, ID-token signing keys.

use async_trait::async_trait;
use roster_store::sql::decode::{
    self, HOST_APP_COLUMNS, SIGNING_KEY_COLUMNS, SSO_CONNECTION_COLUMNS,
};
use roster_store::sql::found;
use roster_store::{
    HostAppRecord, NewEvent, SigningKeyRecord, SsoConnectionRecord, SsoStore, StoreError, TenantId,
};
use time::OffsetDateTime;

use crate::{Cols, PostgresStore, db_err, is_unique_violation};

fn json_text(value: &impl ToJson) -> Result<String, StoreError> {
    value.to_json()
}

/// What is stored as JSON text.
trait ToJson {
    fn to_json(&self) -> Result<String, StoreError>;
}

impl ToJson for serde_json::Value {
    fn to_json(&self) -> Result<String, StoreError> {
        Ok(self.to_string())
    }
}

impl ToJson for Vec<String> {
    fn to_json(&self) -> Result<String, StoreError> {
        serde_json::to_string(self).map_err(|e| StoreError::Internal(e.to_string()))
    }
}

#[async_trait]
impl SsoStore for PostgresStore {
    async fn add_sso_connection(&self, c: &SsoConnectionRecord) -> Result<(), StoreError> {
        let settings = json_text(&c.settings)?;
        let mut tx = self.begin().await?;
        if c.is_default {
            sqlx::query("UPDATE sso_connections SET is_default = FALSE WHERE tenant_id = $1")
                .bind(c.tenant_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO sso_connections (id, tenant_id, name, protocol, settings, sealed,
               is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&c.id)
        .bind(c.tenant_id.as_str())
        .bind(&c.name)
        .bind(&c.protocol)
        .bind(settings)
        .bind(&c.sealed)
        .bind(c.is_default)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("name")
            } else {
                db_err(e)
            }
        })?;
        tx.commit().await.map_err(db_err)
    }

    async fn update_sso_connection(&self, c: &SsoConnectionRecord) -> Result<(), StoreError> {
        let settings = json_text(&c.settings)?;
        let mut tx = self.begin().await?;
        if c.is_default {
            sqlx::query(
                "UPDATE sso_connections SET is_default = FALSE WHERE tenant_id = $1 AND id <> $2",
            )
            .bind(c.tenant_id.as_str())
            .bind(&c.id)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let done = sqlx::query(
            "UPDATE sso_connections SET settings = $1, sealed = $2, is_default = $3,
               updated_at = $4 WHERE tenant_id = $5 AND id = $6",
        )
        .bind(settings)
        .bind(&c.sealed)
        .bind(c.is_default)
        .bind(c.updated_at)
        .bind(c.tenant_id.as_str())
        .bind(&c.id)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())?;
        tx.commit().await.map_err(db_err)
    }

    async fn sso_connections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SsoConnectionRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {SSO_CONNECTION_COLUMNS} FROM sso_connections WHERE tenant_id = $1 ORDER BY name"
        ))
        .bind(tenant.as_str())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| decode::sso_connection(&Cols(r)))
            .collect()
    }

    async fn sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<SsoConnectionRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {SSO_CONNECTION_COLUMNS} FROM sso_connections
             WHERE tenant_id = $1 AND (id = $2 OR name = $2) ORDER BY id = $2 DESC LIMIT 1"
        ))
        .bind(tenant.as_str())
        .bind(id_or_name)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref()
            .map(|r| decode::sso_connection(&Cols(r)))
            .transpose()
    }

    async fn remove_sso_connection(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM sso_connections WHERE tenant_id = $1 AND id = $2")
            .bind(tenant.as_str())
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn add_host_app(&self, a: &HostAppRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO host_apps (id, name, secret_hash, redirect_uris, login_uri, created_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&a.id)
        .bind(&a.name)
        .bind(&a.secret_hash[..])
        .bind(json_text(&a.redirect_uris)?)
        .bind(&a.login_uri)
        .bind(a.created_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn host_apps(&self) -> Result<Vec<HostAppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {HOST_APP_COLUMNS} FROM host_apps ORDER BY created_at, id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::host_app(&Cols(r))).collect()
    }

    async fn host_app(&self, id: &str) -> Result<Option<HostAppRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {HOST_APP_COLUMNS} FROM host_apps WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|r| decode::host_app(&Cols(r))).transpose()
    }

    async fn revoke_host_app(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE host_apps SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn add_signing_key(&self, k: &SigningKeyRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO signing_keys (kid, sealed, public_jwk, created_at, signs_from)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&k.kid)
        .bind(&k.sealed)
        .bind(json_text(&k.public_jwk)?)
        .bind(k.created_at)
        .bind(k.signs_from)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn signing_keys(&self, now: OffsetDateTime) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys
             WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid DESC"
        ))
        .bind(now)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::signing_key(&Cols(r))).collect()
    }

    async fn reseal_signing_key(&self, kid: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE signing_keys SET sealed = $1 WHERE kid = $2")
            .bind(sealed)
            .bind(kid)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE kid = $2")
            .bind(at)
            .bind(kid)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn add_tenant_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
        verified_by: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO tenant_domains (domain, tenant_id, verified_by, created_at)
             VALUES ($1, $2, $3, $4)",
        )
        .bind(domain)
        .bind(tenant.as_str())
        .bind(verified_by)
        .bind(at)
        .execute(&mut *conn)
        .await
        .map_err(|e| {
            if is_unique_violation(&e) {
                StoreError::Conflict("domain")
            } else {
                db_err(e)
            }
        })?;
        Ok(())
    }

    async fn tenant_domains(&self, tenant: &TenantId) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query_scalar("SELECT domain FROM tenant_domains WHERE tenant_id = $1 ORDER BY domain")
            .bind(tenant.as_str())
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)
    }

    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<String> =
            sqlx::query_scalar("SELECT tenant_id FROM tenant_domains WHERE domain = $1")
                .bind(domain)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
        Ok(found.map(TenantId::new))
    }

    async fn remove_tenant_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain = $2")
            .bind(tenant.as_str())
            .bind(domain)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn record_events(
        &self,
        tenant: &TenantId,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        crate::change_log::insert_events(&mut tx, tenant, events).await?;
        tx.commit().await.map_err(db_err)
    }
}
