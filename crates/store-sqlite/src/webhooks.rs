//! [`WebhookStore`] on SQLite: webhook endpoints, their delivery streams, attempts and dead
//! letters.

use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::sql::webhooks as wh;
use roster_store::{
    DeadLetter, DeliveryAttempt, StoreError, Stream, StreamUpdate, TenantId, WebhookRecord,
    WebhookStore, streams,
};
use rusqlite::params;

use crate::cold::{all, scalar};
use crate::{SqliteStore, exec, lite_err, query_opt};

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn add_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        let w = webhook.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    wh::ADD,
                    params![
                        w.id,
                        w.url,
                        w.tenant_id.as_ref().map(TenantId::as_str),
                        w.secret,
                        w.created_at,
                        w.allow_link_local,
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let sql = format!(
            "SELECT {} FROM webhooks ORDER BY created_at, id",
            wh::COLUMNS
        );
        self.readers
            .now(|conn| all(conn, &sql, [], |r| decode::webhook(r)))
            .await
    }

    async fn remove_webhook(&self, id: &str) -> Result<(), StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                found(exec(tx, "DELETE FROM webhooks WHERE id = ?", params![id])? as u64)
            })
            .await
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(), StoreError> {
        let (id, secret) = (id.to_owned(), secret.to_owned());
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE webhooks SET previous_secret = secret, previous_until = ?,
                            secret = ? WHERE id = ?",
                    params![previous_until, secret, id],
                )?;
                found(done as u64)
            })
            .await
    }

    async fn redeliver(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let (webhook_id, event_id) = (webhook_id.to_owned(), event_id.to_owned());
        self.writer
            .write(move |tx| {
                let event = query_opt(
                    tx,
                    "SELECT position, tenant_id FROM events WHERE id = ?",
                    params![event_id],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
                )?;
                let webhook = query_opt(
                    tx,
                    "SELECT tenant_id FROM webhooks WHERE id = ?",
                    params![webhook_id],
                    |r| r.get::<_, Option<String>>(0),
                )?;
                let (Some((position, tenant)), Some(only)) = (event, webhook) else {
                    return Err(StoreError::NotFound);
                };
                if only.is_some_and(|t| t != tenant) {
                    return Err(StoreError::NotFound);
                }
                exec(
                    tx,
                    wh::RESTART,
                    params![webhook_id, tenant, position - 1, now],
                )?;
                exec(
                    tx,
                    "DELETE FROM webhook_dead_letters
                     WHERE webhook_id = ? AND tenant_id = ? AND position >= ?",
                    params![webhook_id, tenant, position],
                )?;
                Ok(())
            })
            .await
    }

    async fn claim_streams(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<Stream>, StoreError> {
        let work: bool = self
            .readers
            .now(|conn| scalar(conn, wh::ANY_WORK, params![now, now]))
            .await?;
        if !work {
            return Ok(Vec::new());
        }
        let owner = owner.to_owned();
        let leased: Vec<(String, String, i64, i64, Option<i64>)> = self
            .writer
            .write(move |tx| {
                let max = query_opt(
                    tx,
                    "SELECT coalesce(max(position), 0) FROM events",
                    [],
                    |r| r.get::<_, i64>(0),
                )?
                .unwrap_or(0);
                exec(tx, wh::DISCOVER, params![now, max])?;
                exec(tx, wh::SCANNED, params![max, max])?;
                let due: Vec<(String, String)> = tx
                    .prepare_cached(wh::DUE)
                    .and_then(|mut q| {
                        q.query_map(
                            params![now, now, i64::try_from(limit).unwrap_or(i64::MAX)],
                            |r| Ok((r.get(0)?, r.get(1)?)),
                        )?
                        .collect()
                    })
                    .map_err(lite_err)?;
                let mut leased = Vec::with_capacity(due.len());
                for (webhook, tenant) in due {
                    let row = query_opt(
                        tx,
                        wh::LEASE,
                        params![owner, lease_until, webhook, tenant, now],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get(2)?)),
                    )?;
                    if let Some((delivered, attempts, first_failed_at)) = row {
                        leased.push((webhook, tenant, delivered, attempts, first_failed_at));
                    }
                }
                Ok(leased)
            })
            .await?;
        streams(leased, self.webhooks().await?)
    }

    async fn finish_stream(
        &self,
        owner: &str,
        webhook_id: &str,
        tenant: &TenantId,
        update: &StreamUpdate,
        attempts: &[DeliveryAttempt],
    ) -> Result<(), StoreError> {
        let (owner, webhook_id, tenant) = (owner.to_owned(), webhook_id.to_owned(), tenant.clone());
        let (update, attempts) = (update.clone(), attempts.to_vec());
        self.writer
            .write(move |tx| {
                for a in &attempts {
                    exec(
                        tx,
                        wh::ATTEMPT,
                        params![
                            a.webhook_id,
                            a.tenant_id.as_str(),
                            a.event_id,
                            a.position,
                            a.attempt,
                            a.at,
                            a.status,
                            a.error,
                            a.latency_ms,
                        ],
                    )?;
                }
                let held = exec(
                    tx,
                    wh::FINISH,
                    params![
                        update.leased_delivered,
                        update.attempts,
                        update.leased_delivered,
                        update.first_failed_at,
                        update.leased_delivered,
                        update.next_attempt_at,
                        update.leased_delivered,
                        update.delivered,
                        webhook_id,
                        tenant.as_str(),
                        owner,
                    ],
                )? > 0;
                if let (true, Some(d)) = (held, &update.dead_letter) {
                    exec(
                        tx,
                        wh::DEAD,
                        params![
                            d.webhook_id,
                            d.tenant_id.as_str(),
                            d.event_id,
                            d.position,
                            d.at,
                            d.error,
                        ],
                    )?;
                }
                Ok(())
            })
            .await
    }

    async fn dead_letters(&self, webhook_id: Option<&str>) -> Result<Vec<DeadLetter>, StoreError> {
        self.readers
            .now(|conn| {
                all(
                    conn,
                    "SELECT webhook_id, tenant_id, event_id, position, at, error
                     FROM webhook_dead_letters
                     WHERE ? IS NULL OR webhook_id = ? ORDER BY at, position",
                    params![webhook_id, webhook_id],
                    |r| decode::dead_letter(r),
                )
            })
            .await
    }

    async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .now(|conn| {
                all(conn, wh::ATTEMPTS, params![webhook_id, limit], |r| {
                    decode::attempt(r)
                })
            })
            .await
    }
}
