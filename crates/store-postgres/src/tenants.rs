//! [`TenantStore`] on PostgreSQL: tenants and their settings.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::sql::tenants;
use roster_store::{NewEvent, StoreError, Tenant, TenantHoldings, TenantId, TenantStore};
use serde_json::Value;
use sqlx::postgres::PgRow;

use crate::change_log::insert_events;
use crate::{PostgresStore, db_err};

#[async_trait]
impl TenantStore for PostgresStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query("INSERT INTO tenants (id, name, created_at, settings) VALUES ($1, $2, $3, $4)")
            .bind(tenant.id.as_str())
            .bind(&tenant.name)
            .bind(tenant.created_at)
            .bind(tenant.settings.to_string())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn create_first_tenant(&self, tenant: &Tenant) -> Result<bool, StoreError> {
        // Under READ COMMITTED, two transactions could both find the table empty; the
        // advisory lock makes the check and the insert of one process finish before another's
        // check begins.
        let mut tx = self.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(FIRST_TENANT_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let done = sqlx::query(
            "INSERT INTO tenants (id, name, created_at, settings)
             SELECT $1, $2, $3, $4 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(tenant.settings.to_string())
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, name, created_at, settings FROM tenants ORDER BY created_at, id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT id, name, created_at, settings FROM tenants WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn set_tenant_settings(&self, id: &TenantId, settings: &Value) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE tenants SET settings = $1 WHERE id = $2")
            .bind(settings.to_string())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn tenant_holdings(&self, id: &TenantId) -> Result<Option<TenantHoldings>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(tenants::HOLDINGS)
            .bind(id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        row.as_ref()
            .map(|row| tenants::holdings(&Cols(row)))
            .transpose()
    }

    async fn rename_tenant(&self, id: &TenantId, name: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE tenants SET name = $1 WHERE id = $2")
            .bind(name)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn delete_tenant(
        &self,
        id: &TenantId,
        events: &[NewEvent],
    ) -> Result<TenantHoldings, StoreError> {
        let mut tx = self.begin().await?;
        // The row lock keeps a concurrent write to the tenant from slipping between the count
        // and the delete.
        sqlx::query("SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(id.as_str())
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        let row = sqlx::query(tenants::HOLDINGS)
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_err)?
            .ok_or(StoreError::NotFound)?;
        let held = tenants::holdings(&Cols(&row))?;
        for statement in tenants::DELETE {
            sqlx::query(statement)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        insert_events(&mut tx, id, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(held)
    }
}

/// The advisory lock key under which a first start checks for tenants and creates one.
const FIRST_TENANT_LOCK: i64 = 0x524f_5354_4552_0001;

pub(crate) fn tenant_from_row(row: &PgRow) -> Result<Tenant, StoreError> {
    decode::tenant(&Cols(row))
}
