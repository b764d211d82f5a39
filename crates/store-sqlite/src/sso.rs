//! [`SsoStore`] on SQLite: connections, host applications, ID-token signing keys.

use async_trait::async_trait;
use roster_store::sql::decode::Columns as _;
use roster_store::sql::decode::{
    self, HOST_APP_COLUMNS, SIGNING_KEY_COLUMNS, SSO_CONNECTION_COLUMNS,
};
use roster_store::sql::found;
use roster_store::{
    HostAppRecord, NewEvent, SigningKeyRecord, SsoConnectionRecord, SsoStore, StoreError, TenantId,
};
use rusqlite::params;
use time::OffsetDateTime;

use crate::cold::{all, first};
use crate::{SqliteStore, exec, is_unique_violation, lite_err, ts, writer};

fn settings_text(c: &SsoConnectionRecord) -> Result<String, StoreError> {
    serde_json::to_string(&c.settings).map_err(|e| StoreError::Internal(e.to_string()))
}

#[async_trait]
impl SsoStore for SqliteStore {
    async fn add_sso_connection(&self, connection: &SsoConnectionRecord) -> Result<(), StoreError> {
        let c = connection.clone();
        let settings = settings_text(&c)?;
        self.writer
            .write(move |tx| {
                if c.is_default {
                    exec(
                        tx,
                        "UPDATE sso_connections SET is_default = 0 WHERE tenant_id = ?",
                        params![c.tenant_id.as_str()],
                    )?;
                }
                tx.prepare_cached(
                    "INSERT INTO sso_connections (id, tenant_id, name, protocol, settings, sealed,
                       is_default, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        c.id,
                        c.tenant_id.as_str(),
                        c.name,
                        c.protocol,
                        settings,
                        c.sealed,
                        c.is_default,
                        ts(c.created_at),
                        ts(c.updated_at)
                    ])
                })
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("name")
                    } else {
                        lite_err(e)
                    }
                })?;
                Ok(())
            })
            .await
    }

    async fn update_sso_connection(
        &self,
        connection: &SsoConnectionRecord,
    ) -> Result<(), StoreError> {
        let c = connection.clone();
        let settings = settings_text(&c)?;
        self.writer
            .write(move |tx| {
                if c.is_default {
                    exec(
                        tx,
                        "UPDATE sso_connections SET is_default = 0 WHERE tenant_id = ? AND id <> ?",
                        params![c.tenant_id.as_str(), c.id],
                    )?;
                }
                let done = exec(
                    tx,
                    "UPDATE sso_connections SET settings = ?, sealed = ?, is_default = ?,
                       updated_at = ? WHERE tenant_id = ? AND id = ?",
                    params![
                        settings,
                        c.sealed,
                        c.is_default,
                        ts(c.updated_at),
                        c.tenant_id.as_str(),
                        c.id
                    ],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn sso_connections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<SsoConnectionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SSO_CONNECTION_COLUMNS} FROM sso_connections WHERE tenant_id = ? ORDER BY name"
        );
        self.readers
            .now(|conn| {
                all(conn, &sql, params![tenant.as_str()], |r| {
                    decode::sso_connection(r)
                })
            })
            .await
    }

    async fn sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<SsoConnectionRecord>, StoreError> {
        let sql = format!(
            "SELECT {SSO_CONNECTION_COLUMNS} FROM sso_connections
             WHERE tenant_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1"
        );
        self.readers
            .now(|conn| {
                first(conn, &sql, params![tenant.as_str(), id_or_name], |r| {
                    decode::sso_connection(r)
                })
            })
            .await
    }

    async fn remove_sso_connection(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "DELETE FROM sso_connections WHERE tenant_id = ? AND id = ?",
                    params![tenant.as_str(), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn add_host_app(&self, app: &HostAppRecord) -> Result<(), StoreError> {
        let a = app.clone();
        let uris = serde_json::to_string(&a.redirect_uris)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO host_apps (id, name, secret_hash, redirect_uris, login_uri,
                       created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        a.id,
                        a.name,
                        &a.secret_hash[..],
                        uris,
                        a.login_uri,
                        ts(a.created_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn host_apps(&self) -> Result<Vec<HostAppRecord>, StoreError> {
        let sql = format!("SELECT {HOST_APP_COLUMNS} FROM host_apps ORDER BY created_at, id");
        self.readers
            .now(|conn| all(conn, &sql, [], |r| decode::host_app(r)))
            .await
    }

    async fn host_app(&self, id: &str) -> Result<Option<HostAppRecord>, StoreError> {
        let sql = format!("SELECT {HOST_APP_COLUMNS} FROM host_apps WHERE id = ?");
        self.readers
            .now(|conn| first(conn, &sql, params![id], |r| decode::host_app(r)))
            .await
    }

    async fn revoke_host_app(&self, id: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE host_apps SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                    params![ts(at), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let k = key.clone();
        let jwk = serde_json::to_string(&k.public_jwk)
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO signing_keys (kid, sealed, public_jwk, created_at, signs_from)
                     VALUES (?, ?, ?, ?, ?)",
                    params![k.kid, k.sealed, jwk, ts(k.created_at), ts(k.signs_from)],
                )?;
                Ok(())
            })
            .await
    }

    async fn signing_keys(&self, now: OffsetDateTime) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let sql = format!(
            "SELECT {SIGNING_KEY_COLUMNS} FROM signing_keys
             WHERE retired_at IS NULL OR retired_at > ? ORDER BY created_at DESC, kid DESC"
        );
        self.readers
            .now(|conn| all(conn, &sql, params![ts(now)], |r| decode::signing_key(r)))
            .await
    }

    async fn reseal_signing_key(&self, kid: &str, sealed: &[u8]) -> Result<(), StoreError> {
        let (kid, sealed) = (kid.to_owned(), sealed.to_vec());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE signing_keys SET sealed = ? WHERE kid = ?",
                    params![sealed, kid],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn retire_signing_key(&self, kid: &str, at: OffsetDateTime) -> Result<(), StoreError> {
        let kid = kid.to_owned();
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE signing_keys SET retired_at = ? WHERE kid = ?",
                    params![ts(at), kid],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn add_tenant_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
        verified_by: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (tenant, domain, how) = (tenant.clone(), domain.to_owned(), verified_by.to_owned());
        self.writer
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO tenant_domains (domain, tenant_id, verified_by, created_at)
                     VALUES (?, ?, ?, ?)",
                )
                .and_then(|mut q| q.execute(params![domain, tenant.as_str(), how, ts(at)]))
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("domain")
                    } else {
                        lite_err(e)
                    }
                })?;
                Ok(())
            })
            .await
    }

    async fn tenant_domains(&self, tenant: &TenantId) -> Result<Vec<String>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT domain FROM tenant_domains WHERE tenant_id = ? ORDER BY domain",
                    params![tenant.as_str()],
                    |r| r.text("domain"),
                )
            })
            .await
    }

    async fn domain_tenant(&self, domain: &str) -> Result<Option<TenantId>, StoreError> {
        self.readers
            .now(|conn| {
                first(
                    conn,
                    "SELECT tenant_id FROM tenant_domains WHERE domain = ?",
                    params![domain],
                    |r| r.text("tenant_id").map(TenantId::new),
                )
            })
            .await
    }

    async fn remove_tenant_domain(
        &self,
        tenant: &TenantId,
        domain: &str,
    ) -> Result<(), StoreError> {
        let (tenant, domain) = (tenant.clone(), domain.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "DELETE FROM tenant_domains WHERE tenant_id = ? AND domain = ?",
                    params![tenant.as_str(), domain],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn record_events(
        &self,
        tenant: &TenantId,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let rows = writer::event_rows(tenant, events);
        self.writer.write_recorded(|_| Ok(()), rows).await
    }
}
