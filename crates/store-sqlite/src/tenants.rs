//! [`TenantStore`] on SQLite: tenants and their settings.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::sql::tenants;
use roster_store::{NewEvent, StoreError, Tenant, TenantHoldings, TenantId, TenantStore};
use rusqlite::params;
use serde_json::Value;

use crate::cold::{all, first};
use crate::{SqliteStore, exec, ts, writer};

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

    async fn tenant_holdings(&self, id: &TenantId) -> Result<Option<TenantHoldings>, StoreError> {
        self.readers
            .now(|conn| {
                first(conn, tenants::HOLDINGS, params![id.as_str()], |r| {
                    tenants::holdings(r)
                })
            })
            .await
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<(), StoreError> {
        let (id, name) = (id.clone(), name.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE tenants SET name = ? WHERE id = ?",
                    params![name, id.as_str()],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn delete_tenant(
        &self,
        id: &TenantId,
        events: &[NewEvent],
    ) -> Result<TenantHoldings, StoreError> {
        let events = writer::event_rows(id, events);
        let id = id.clone();
        self.writer
            .write_recorded(
                move |tx| {
                    let held = first(tx, tenants::HOLDINGS, params![id.as_str()], |r| {
                        tenants::holdings(r)
                    })?
                    .ok_or(StoreError::NotFound)?;
                    for statement in tenants::DELETE {
                        exec(tx, statement, params![id.as_str()])?;
                    }
                    Ok(held)
                },
                events,
            )
            .await
    }
}
