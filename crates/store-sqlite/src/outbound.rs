//! [`OutboundStore`] on SQLite: targets, assignments, what targets hold, and their runs.

use async_trait::async_trait;
use roster_store::sql::decode::{self, TARGET_COLUMNS, TARGET_OBJECT_COLUMNS, TARGET_RUN_COLUMNS};
use roster_store::sql::found;
use roster_store::{
    Kind, OutboundStore, StoreError, TargetObject, TargetRecord, TargetRun, TenantId,
};
use rusqlite::params;

use crate::cold::{all, first, scalar};
use crate::{SqliteStore, exec, is_unique_violation, lite_err, ts};

fn json_text(v: &serde_json::Value) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Internal(e.to_string()))
}

/// The target of that tenant, or `NotFound` (every write names the tenant).
fn owned(conn: &rusqlite::Connection, tenant: &TenantId, target: &str) -> Result<(), StoreError> {
    let n: i64 = scalar(
        conn,
        "SELECT count(*) FROM targets WHERE tenant_id = ? AND id = ?",
        params![tenant.as_str(), target],
    )?;
    found(u64::try_from(n).unwrap_or(0))
}

#[async_trait]
impl OutboundStore for SqliteStore {
    async fn add_target(&self, target: &TargetRecord, position: i64) -> Result<(), StoreError> {
        let t = target.clone();
        let settings = json_text(&t.settings)?;
        self.writer
            .write(move |tx| {
                tx.prepare_cached(
                    "INSERT INTO targets (id, tenant_id, name, settings, sealed, paused,
                       created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .and_then(|mut q| {
                    q.execute(params![
                        t.id,
                        t.tenant_id.as_str(),
                        t.name,
                        settings,
                        t.sealed,
                        t.paused,
                        ts(t.created_at),
                        ts(t.updated_at)
                    ])
                })
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict("name")
                    } else {
                        lite_err(e)
                    }
                })?;
                exec(
                    tx,
                    "INSERT INTO target_runs (target_id, phase, position, next_at)
                     VALUES (?, 'initial', ?, 0)",
                    params![t.id, position],
                )?;
                Ok(())
            })
            .await
    }

    async fn update_target(&self, target: &TargetRecord) -> Result<(), StoreError> {
        let t = target.clone();
        let settings = json_text(&t.settings)?;
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE targets SET settings = ?, sealed = ?, paused = ?, updated_at = ?
                     WHERE tenant_id = ? AND id = ?",
                    params![
                        settings,
                        t.sealed,
                        t.paused,
                        ts(t.updated_at),
                        t.tenant_id.as_str(),
                        t.id
                    ],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn targets(&self, tenant: &TenantId) -> Result<Vec<TargetRecord>, StoreError> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM targets WHERE tenant_id = ? ORDER BY name");
        self.readers
            .now(|conn| all(conn, &sql, params![tenant.as_str()], |r| decode::target(r)))
            .await
    }

    async fn target(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<Option<TargetRecord>, StoreError> {
        let sql = format!(
            "SELECT {TARGET_COLUMNS} FROM targets
             WHERE tenant_id = ?1 AND (id = ?2 OR name = ?2) ORDER BY id = ?2 DESC LIMIT 1"
        );
        self.readers
            .now(|conn| {
                first(conn, &sql, params![tenant.as_str(), id_or_name], |r| {
                    decode::target(r)
                })
            })
            .await
    }

    async fn remove_target(&self, tenant: &TenantId, id: &str) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "DELETE FROM targets WHERE tenant_id = ? AND id = ?",
                    params![tenant.as_str(), id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn assign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let (tenant, target, source) = (tenant.clone(), target.to_owned(), source_id.to_owned());
        self.writer
            .write(move |tx| {
                owned(tx, &tenant, &target)?;
                exec(
                    tx,
                    "INSERT OR IGNORE INTO target_assignments (target_id, kind, source_id)
                     VALUES (?, ?, ?)",
                    params![target, kind.as_str(), source],
                )?;
                Ok(())
            })
            .await
    }

    async fn unassign(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let (tenant, target, source) = (tenant.clone(), target.to_owned(), source_id.to_owned());
        self.writer
            .write(move |tx| {
                owned(tx, &tenant, &target)?;
                let done = exec(
                    tx,
                    "DELETE FROM target_assignments WHERE target_id = ? AND kind = ?
                       AND source_id = ?",
                    params![target, kind.as_str(), source],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn assignments(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Vec<(Kind, String)>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT a.kind, a.source_id FROM target_assignments a
                     JOIN targets t ON t.id = a.target_id
                     WHERE t.tenant_id = ? AND a.target_id = ? ORDER BY a.kind, a.source_id",
                    params![tenant.as_str(), target],
                    |r| {
                        use roster_store::sql::decode::Columns as _;
                        Ok((decode::kind(&r.text("kind")?)?, r.text("source_id")?))
                    },
                )
            })
            .await
    }

    async fn target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<Option<TargetObject>, StoreError> {
        let sql = format!(
            "SELECT {TARGET_OBJECT_COLUMNS} FROM target_objects o
             JOIN targets t ON t.id = o.target_id
             WHERE t.tenant_id = ? AND o.target_id = ? AND o.kind = ? AND o.source_id = ?"
        );
        self.readers
            .now(|conn| {
                first(
                    conn,
                    &sql,
                    params![tenant.as_str(), target, kind.as_str(), source_id],
                    |r| decode::target_object(r),
                )
            })
            .await
    }

    async fn put_target_object(&self, object: &TargetObject) -> Result<(), StoreError> {
        self.put_target_objects(std::slice::from_ref(object)).await
    }

    async fn put_target_objects(&self, objects: &[TargetObject]) -> Result<(), StoreError> {
        let rows = objects
            .iter()
            .map(|o| Ok((o.clone(), json_text(&o.sent)?)))
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.writer
            .write(move |tx| {
                for (o, sent) in &rows {
                    owned(tx, &o.tenant_id, &o.target_id)?;
                    exec(
                        tx,
                        "INSERT INTO target_objects (target_id, kind, source_id, remote_id, digest,
                           sent, deactivated, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                         ON CONFLICT (target_id, kind, source_id) DO UPDATE SET
                           remote_id = excluded.remote_id, digest = excluded.digest,
                           sent = excluded.sent, deactivated = excluded.deactivated,
                           updated_at = excluded.updated_at",
                        params![
                            o.target_id,
                            o.kind.as_str(),
                            o.source_id,
                            o.remote_id,
                            o.digest,
                            sent,
                            o.deactivated,
                            ts(o.updated_at)
                        ],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn remove_target_object(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        source_id: &str,
    ) -> Result<(), StoreError> {
        let (tenant, target, source) = (tenant.clone(), target.to_owned(), source_id.to_owned());
        self.writer
            .write(move |tx| {
                owned(tx, &tenant, &target)?;
                exec(
                    tx,
                    "DELETE FROM target_objects WHERE target_id = ? AND kind = ? AND source_id = ?",
                    params![target, kind.as_str(), source],
                )?;
                Ok(())
            })
            .await
    }

    async fn clear_target_objects(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(), StoreError> {
        let (tenant, target) = (tenant.clone(), target.to_owned());
        self.writer
            .write(move |tx| {
                owned(tx, &tenant, &target)?;
                exec(
                    tx,
                    "DELETE FROM target_objects WHERE target_id = ?",
                    params![target],
                )?;
                Ok(())
            })
            .await
    }

    async fn count_target_objects(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<(u64, u64), StoreError> {
        let count = |kind: Kind| {
            let (tenant, target) = (tenant.clone(), target.to_owned());
            self.readers.now(move |conn| {
                scalar::<i64>(
                    conn,
                    "SELECT count(*) FROM target_objects o JOIN targets t ON t.id = o.target_id
                     WHERE t.tenant_id = ? AND o.target_id = ? AND o.kind = ?",
                    params![tenant.as_str(), target, kind.as_str()],
                )
            })
        };
        let users = count(Kind::User).await?;
        let groups = count(Kind::Group).await?;
        Ok((
            u64::try_from(users).unwrap_or(0),
            u64::try_from(groups).unwrap_or(0),
        ))
    }

    async fn target_run(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Option<TargetRun>, StoreError> {
        let sql = format!(
            "SELECT {TARGET_RUN_COLUMNS} FROM target_runs r JOIN targets t ON t.id = r.target_id
             WHERE t.tenant_id = ? AND r.target_id = ?"
        );
        self.readers
            .now(|conn| {
                first(conn, &sql, params![tenant.as_str(), target], |r| {
                    decode::target_run(r)
                })
            })
            .await
    }

    async fn wake_target_run(
        &self,
        tenant: &TenantId,
        target: &str,
        restart_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let (tenant, target) = (tenant.clone(), target.to_owned());
        self.writer
            .write(move |tx| {
                owned(tx, &tenant, &target)?;
                exec(
                    tx,
                    "UPDATE target_runs SET quarantined = 0, failures = 0, error = NULL,
                       next_at = 0,
                       phase = CASE WHEN ?1 IS NOT NULL THEN 'initial' ELSE phase END,
                       cursor = CASE WHEN ?1 IS NOT NULL THEN '' ELSE cursor END,
                       processed = CASE WHEN ?1 IS NOT NULL THEN 0 ELSE processed END,
                       position = coalesce(?1, position)
                     WHERE target_id = ?2",
                    params![restart_at, target],
                )?;
                Ok(())
            })
            .await
    }

    async fn claim_target_runs(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<TargetRun>, StoreError> {
        let owner = owner.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {TARGET_RUN_COLUMNS} FROM target_runs r JOIN targets t ON t.id = r.target_id
             WHERE NOT t.paused AND (r.lease_until IS NULL OR r.lease_until <= ?1)
               AND NOT EXISTS (SELECT 1 FROM tenant_holds h WHERE h.tenant_id = t.tenant_id
                 AND h.ended_at IS NULL)
               AND (r.next_at <= ?1 OR (NOT r.quarantined AND r.phase = 'incremental' AND r.failures = 0
                 AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = t.tenant_id
                   AND e.position > r.position)))
             ORDER BY r.next_at LIMIT ?2"
        );
        self.writer
            .write(move |tx| {
                let due = all(tx, &sql, params![now, limit], |r| decode::target_run(r))?;
                for run in &due {
                    exec(
                        tx,
                        "UPDATE target_runs SET lease_owner = ?, lease_until = ?,
                           next_at = MAX(next_at, 1) WHERE target_id = ?",
                        params![owner, lease_until, run.target_id],
                    )?;
                }
                Ok(due)
            })
            .await
    }

    async fn save_target_run(
        &self,
        owner: &str,
        run: &TargetRun,
        release: bool,
    ) -> Result<bool, StoreError> {
        let (owner, r) = (owner.to_owned(), run.clone());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE target_runs SET phase = ?, cursor = ?, position = ?, processed = ?,
                       total = ?, failures = ?, error = ?, quarantined = ?, next_at = ?,
                       cycle_ended_at = ?, cycle_started_at = ?,
                       lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
                       lease_until = CASE WHEN ? THEN NULL ELSE lease_until END
                     WHERE target_id = ? AND lease_owner = ? AND next_at <> 0",
                    params![
                        r.phase,
                        r.cursor,
                        r.position,
                        r.processed,
                        r.total,
                        r.failures,
                        r.error,
                        r.quarantined,
                        r.next_at,
                        r.cycle_ended_at,
                        r.cycle_started_at,
                        release,
                        release,
                        r.target_id,
                        owner
                    ],
                )?;
                if done == 1 {
                    return Ok(true);
                }
                // Woken while leased (a restart, an assignment, a quarantine ended): the wake
                // stands, and only the lease is given back.
                let done = exec(
                    tx,
                    "UPDATE target_runs SET
                       lease_owner = CASE WHEN ? THEN NULL ELSE lease_owner END,
                       lease_until = CASE WHEN ? THEN NULL ELSE lease_until END
                     WHERE target_id = ? AND lease_owner = ?",
                    params![release, release, r.target_id, owner],
                )?;
                Ok(done == 1)
            })
            .await
    }
}
