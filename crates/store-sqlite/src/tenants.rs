//! [`TenantStore`] on SQLite: tenants, their settings and plans.

use async_trait::async_trait;
use roster_store::sql::decode::{self, TENANT_COLUMNS, TENANTS};
use roster_store::sql::found;
use roster_store::sql::tenants;
use roster_store::{
    NewEvent, Plan, StoreError, Tenant, TenantColumn, TenantHoldings, TenantId, TenantStore,
};
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::cold::{all, first};
use crate::{SqliteStore, exec, lite_err, ts, writer};

/// The column a unique index refused a write on (`UNIQUE constraint failed: tenants.slug`).
fn unique_column(e: &rusqlite::Error) -> Option<&'static str> {
    if !crate::is_unique_violation(e) {
        return None;
    }
    let message = e.to_string();
    let names = message.split("constraint failed: ").nth(1)?;
    Some(match names.split(',').next()?.trim() {
        "tenants.slug" => "slug",
        "tenants.external_id" => "external_id",
        _ => "id",
    })
}

/// Runs a write of a tenant row; a unique index's refusal is `Conflict` with its column.
fn write_tenant(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<usize, StoreError> {
    conn.prepare_cached(sql)
        .and_then(|mut q| q.execute(p))
        .map_err(|e| match unique_column(&e) {
            Some(column) => StoreError::Conflict(column),
            None => lite_err(e),
        })
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn create_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let t = tenant.clone();
        let (created, settings) = (ts(t.created_at), t.settings.to_string());
        self.writer
            .write(move |tx| {
                write_tenant(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings, slug, external_id, plan)
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                    params![
                        t.id.as_str(),
                        t.name,
                        created,
                        settings,
                        t.slug,
                        t.external_id,
                        t.plan.name
                    ],
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
                let done = write_tenant(
                    tx,
                    "INSERT INTO tenants (id, name, created_at, settings, slug, external_id, plan)
                     SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM tenants)",
                    params![
                        t.id.as_str(),
                        t.name,
                        created,
                        settings,
                        t.slug,
                        t.external_id,
                        t.plan.name
                    ],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM {TENANTS} ORDER BY t.created_at, t.id");
        self.readers
            .now(|conn| all(conn, &sql, [], |r| decode::tenant(r)))
            .await
    }

    async fn tenant(&self, id: &TenantId) -> Result<Option<Tenant>, StoreError> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM {TENANTS} WHERE t.id = ?");
        self.readers
            .now(|conn| first(conn, &sql, params![id.as_str()], |r| decode::tenant(r)))
            .await
    }

    async fn tenant_where(
        &self,
        column: TenantColumn,
        value: &str,
    ) -> Result<Option<Tenant>, StoreError> {
        let sql = format!(
            "SELECT {TENANT_COLUMNS} FROM {TENANTS} WHERE t.{} = ?",
            column.as_str()
        );
        self.readers
            .now(|conn| first(conn, &sql, params![value], |r| decode::tenant(r)))
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

    async fn update_tenant(&self, tenant: &Tenant) -> Result<(), StoreError> {
        let t = tenant.clone();
        self.writer
            .write(move |tx| {
                let done = write_tenant(
                    tx,
                    "UPDATE tenants SET name = ?, external_id = ?, plan = ? WHERE id = ?",
                    params![t.name, t.external_id, t.plan.name, t.id.as_str()],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn plans(&self) -> Result<Vec<Plan>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT name, provisioning, sso FROM plans ORDER BY name",
                    [],
                    |r| decode::plan(r),
                )
            })
            .await
    }

    async fn set_plan(&self, plan: &Plan) -> Result<(), StoreError> {
        let plan = plan.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO plans (name, provisioning, sso) VALUES (?, ?, ?)
                     ON CONFLICT (name) DO UPDATE SET provisioning = excluded.provisioning,
                       sso = excluded.sso",
                    params![plan.name, plan.provisioning, plan.sso],
                )?;
                Ok(())
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

    async fn delete_tenant(
        &self,
        id: &TenantId,
        events: &[NewEvent],
    ) -> Result<TenantHoldings, StoreError> {
        let events = writer::event_rows(id, events);
        let (id, log_id) = (id.clone(), id.clone());
        let held = self
            .writer
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
            .await?;
        // Then its provisioning log (in its own file), in chunks between other writes: a busy
        // tenant's log in one statement would hold the writer for seconds. Should the process
        // stop before it is done, the hourly purge deletes the entries of tenants that are
        // gone. An entry is only appended while its tenant exists, so none comes after.
        if let Err(e) = self.delete_tenant_log(&log_id).await {
            tracing::warn!(error = %e, tenant = %log_id, "deleting a deleted tenant's provisioning log stopped; the hourly purge finishes it");
        }
        Ok(held)
    }
}
