//! [`TenantStore`] on SQLite: tenants and their settings.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::{StoreError, Tenant, TenantId, TenantStore};
use rusqlite::params;
use serde_json::Value;

use crate::cold::{all, first};
use crate::{SqliteStore, exec, ts};

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let t = tenant.clone();
        let (created, settings) = (ts(t.created_at), t.settings.to_string());
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings) VALUES (?, ?, ?, ?)",
                    params![t.id.as_str(), t.name, created, settings],
                )?;
                Ok(())
            })
            .await
    }

    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError> {
        let t = tenant.clone();
        let (created, settings) = (ts(t.created_at), t.settings.to_string());
        self.writer
            .write(move |tx| {
                // The writer's transaction is IMMEDIATE: no other process writes between the
                // check and the insert.
                let done = exec(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings)
                     SELECT ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tenants)",
                    params![t.id.as_str(), t.name, created, settings],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT id, name, created_at, settings FROM tenants ORDER BY created_at, id",
                    [],
                    |r| decode::tenant(r),
                )
            })
            .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        self.readers
            .now(|conn| {
                first(
                    conn,
                    "SELECT id, name, created_at, settings FROM tenants WHERE id = ?",
                    params![id.as_str()],
                    |r| decode::tenant(r),
                )
            })
            .await
    }

    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError> {
        let (id, settings) = (id.clone(), settings.to_string());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE tenants SET settings = ? WHERE id = ?",
                    params![settings, id.as_str()],
                )?;
                found(done as u64)
            })
            .await
    }
}
