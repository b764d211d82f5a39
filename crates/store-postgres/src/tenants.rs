//! [`TenantStore`] on PostgreSQL: tenants and their settings.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode::{self, TENANT_COLUMNS, TENANTS};
use roster_store::sql::found;
use roster_store::sql::tenants;
use roster_store::{
    NewEvent, Plan, StoreError, Tenant, TenantColumn, TenantHoldings, TenantId, TenantStore,
};
use serde_json::Value;
use sqlx::postgres::PgRow;

use crate::change_log::insert_events;
use crate::{PostgresStore, db_err};

#[async_trait]
impl TenantStore for PostgresStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at, settings, slug, external_id, plan)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(tenant.settings.to_string())
        .bind(&tenant.slug)
        .bind(&tenant.external_id)
        .bind(&tenant.plan.name)
        .execute(&mut *conn)
        .await
        .map_err(tenant_err)?;
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
            "INSERT INTO tenants (id, name, created_at, settings, slug, external_id, plan)
             SELECT $1, $2, $3, $4, $5, $6, $7 WHERE NOT EXISTS (SELECT 1 FROM tenants)",
        )
        .bind(tenant.id.as_str())
        .bind(&tenant.name)
        .bind(tenant.created_at)
        .bind(tenant.settings.to_string())
        .bind(&tenant.slug)
        .bind(&tenant.external_id)
        .bind(&tenant.plan.name)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM {TENANTS} ORDER BY t.created_at, t.id"
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM {TENANTS} WHERE t.id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn tenant_where(
        &self,
        column: TenantColumn,
        value: &str,
    ) -> Result<Option<Tenant>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {TENANT_COLUMNS} FROM {TENANTS} WHERE t.{} = $1",
            column.as_str()
        ))
        .bind(value)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done =
            sqlx::query("UPDATE tenants SET name = $1, external_id = $2, plan = $3 WHERE id = $4")
                .bind(&tenant.name)
                .bind(&tenant.external_id)
                .bind(&tenant.plan.name)
                .bind(tenant.id.as_str())
                .execute(&mut *conn)
                .await
                .map_err(tenant_err)?;
        found(done.rows_affected())
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query("SELECT name, provisioning, sso FROM plans ORDER BY name")
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| decode::plan(&Cols(r))).collect()
    }

    async fn set_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO plans (name, provisioning, sso) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET provisioning = excluded.provisioning,
               sso = excluded.sso",
        )
        .bind(&plan.name)
        .bind(plan.provisioning)
        .bind(plan.sso)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
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

/// A write of a tenant row: a unique index's refusal is `Conflict` with its column.
fn tenant_err(e: sqlx::Error) -> StoreError {
    let column = match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => match d.constraint() {
            Some("tenants_slug") => "slug",
            Some("tenants_external_id") => "external_id",
            _ => "id",
        },
        _ => return db_err(e),
    };
    StoreError::Conflict(column)
}
