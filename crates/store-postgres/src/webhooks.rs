//! [`WebhookStore`] on PostgreSQL: webhook endpoints, their delivery streams, attempts and
//! dead letters.

use crate::Cols;
use async_trait::async_trait;
use roster_store::sql::decode;
use roster_store::sql::found;
use roster_store::sql::numbered;
use roster_store::sql::webhooks as wh;
use roster_store::{
    DeadLetter, DeliveryAttempt, StoreError, Stream, StreamUpdate, TenantId, WebhookRecord,
    WebhookStore, streams,
};
use sqlx::postgres::PgRow;

use crate::{PostgresStore, db_err};

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn add_webhook(&self, webhook: &WebhookRecord) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(&numbered(wh::ADD))
            .bind(&webhook.id)
            .bind(&webhook.url)
            .bind(webhook.tenant_id.as_ref().map(TenantId::as_str))
            .bind(&webhook.secret)
            .bind(webhook.created_at)
            .bind(webhook.allow_link_local)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn webhooks(&self) -> Result<Vec<WebhookRecord>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM webhooks ORDER BY created_at, id",
            wh::COLUMNS
        ))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(webhook_from_row).collect()
    }

    async fn remove_webhook(&self, id: &str) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM webhooks WHERE id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn rotate_webhook_secret(
        &self,
        id: &str,
        secret: &str,
        previous_until: i64,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query(
            "UPDATE webhooks SET previous_secret = secret, previous_until = $1, secret = $2
             WHERE id = $3",
        )
        .bind(previous_until)
        .bind(secret)
        .bind(id)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        found(done.rows_affected())
    }

    async fn redeliver(
        &self,
        webhook_id: &str,
        event_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        let event: Option<(Option<i64>, String)> =
            sqlx::query_as("SELECT position, tenant_id FROM events WHERE id = $1")
                .bind(event_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let webhook: Option<Option<String>> =
            sqlx::query_scalar("SELECT tenant_id FROM webhooks WHERE id = $1")
                .bind(webhook_id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
        let (Some((Some(position), tenant)), Some(only)) = (event, webhook) else {
            return Err(StoreError::NotFound);
        };
        if only.is_some_and(|t| t != tenant) {
            return Err(StoreError::NotFound);
        }
        sqlx::query(&numbered(wh::RESTART))
            .bind(webhook_id)
            .bind(&tenant)
            .bind(position - 1)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "DELETE FROM webhook_dead_letters
             WHERE webhook_id = $1 AND tenant_id = $2 AND position >= $3",
        )
        .bind(webhook_id)
        .bind(&tenant)
        .bind(position)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)
    }

    async fn claim_streams(
        &self,
        owner: &str,
        now: i64,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<Stream>, StoreError> {
        {
            let mut conn = self.conn().await?;
            let work: bool = sqlx::query_scalar(&numbered(wh::ANY_WORK))
                .bind(now)
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(db_err)?;
            if !work {
                return Ok(Vec::new());
            }
        }
        let mut tx = self.begin().await?;
        let max: i64 = sqlx::query_scalar("SELECT coalesce(max(position), 0) FROM events")
            .fetch_one(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&numbered(wh::DISCOVER))
            .bind(now)
            .bind(max)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(&numbered(wh::SCANNED))
            .bind(max)
            .bind(max)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        // Streams another process is leasing right now are skipped, not waited for.
        let due: Vec<(String, String)> =
            sqlx::query_as(&numbered(&format!("{} FOR UPDATE SKIP LOCKED", wh::DUE)))
                .bind(now)
                .bind(now)
                .bind(i64::try_from(limit).unwrap_or(i64::MAX))
                .fetch_all(&mut *tx)
                .await
                .map_err(db_err)?;
        let mut leased = Vec::with_capacity(due.len());
        for (webhook, tenant) in due {
            let row: Option<(i64, i64, Option<i64>)> = sqlx::query_as(&numbered(wh::LEASE))
                .bind(owner)
                .bind(lease_until)
                .bind(&webhook)
                .bind(&tenant)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await
                .map_err(db_err)?;
            if let Some((delivered, attempts, first_failed_at)) = row {
                leased.push((webhook, tenant, delivered, attempts, first_failed_at));
            }
        }
        tx.commit().await.map_err(db_err)?;
        if leased.is_empty() {
            return Ok(Vec::new());
        }
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
        let mut tx = self.begin().await?;
        if !attempts.is_empty() {
            let col =
                |f: &dyn Fn(&DeliveryAttempt) -> i64| attempts.iter().map(f).collect::<Vec<_>>();
            sqlx::query(
                "INSERT INTO webhook_attempts (webhook_id, tenant_id, event_id, position, attempt,
                        at, status, error, latency_ms)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                        $5::bigint[], $6::bigint[], $7::bigint[], $8::text[], $9::bigint[])",
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.webhook_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.tenant_id.to_string())
                    .collect::<Vec<_>>(),
            )
            .bind(
                attempts
                    .iter()
                    .map(|a| a.event_id.clone())
                    .collect::<Vec<_>>(),
            )
            .bind(col(&|a| a.position))
            .bind(col(&|a| a.attempt))
            .bind(col(&|a| a.at))
            .bind(attempts.iter().map(|a| a.status).collect::<Vec<_>>())
            .bind(attempts.iter().map(|a| a.error.clone()).collect::<Vec<_>>())
            .bind(col(&|a| a.latency_ms))
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        let held = sqlx::query(&numbered(wh::FINISH))
            .bind(update.leased_delivered)
            .bind(update.attempts)
            .bind(update.leased_delivered)
            .bind(update.first_failed_at)
            .bind(update.leased_delivered)
            .bind(update.next_attempt_at)
            .bind(update.leased_delivered)
            .bind(update.delivered)
            .bind(webhook_id)
            .bind(tenant.as_str())
            .bind(owner)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?
            .rows_affected()
            > 0;
        if let (true, Some(d)) = (held, &update.dead_letter) {
            sqlx::query(&numbered(wh::DEAD))
                .bind(&d.webhook_id)
                .bind(d.tenant_id.as_str())
                .bind(&d.event_id)
                .bind(d.position)
                .bind(d.at)
                .bind(&d.error)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }

    async fn dead_letters(&self, webhook_id: Option<&str>) -> Result<Vec<DeadLetter>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT webhook_id, tenant_id, event_id, position, at, error FROM webhook_dead_letters
             WHERE $1::text IS NULL OR webhook_id = $1 ORDER BY at, position",
        )
        .bind(webhook_id)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(|r| decode::dead_letter(&Cols(r))).collect()
    }

    async fn delivery_attempts(
        &self,
        webhook_id: &str,
        limit: u64,
    ) -> Result<Vec<DeliveryAttempt>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&numbered(wh::ATTEMPTS))
            .bind(webhook_id)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_err)?;
        rows.iter().map(|r| decode::attempt(&Cols(r))).collect()
    }
}

fn webhook_from_row(row: &PgRow) -> Result<WebhookRecord, StoreError> {
    decode::webhook(&Cols(row))
}
