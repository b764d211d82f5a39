//! [`TenantStore`] on SQLite: tenants and their settings.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::{StoreError, Tenant, TenantId, TenantStore};
use rusqlite::params;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;

use crate::{SqliteStore, db_err, exec, ts};

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
        let rows = sqlx::query(
            "SELECT id, name, created_at, settings FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at, settings FROM tenants WHERE id = ?")
            .bind(id.as_str())
            .fetch_optional(&self.reader)
            .await
            .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
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

pub(crate) fn tenant_from_row(row: &SqliteRow) -> Result<Tenant, StoreError> {
    decode::tenant(&Cols(row))
}
