//! [`ConsoleStore`] on PostgreSQL: operators, their invitations, console sessions.

use async_trait::async_trait;
use roster_store::sql::decode::Columns as _;
use roster_store::sql::decode::{self, OPERATOR_COLUMNS, SESSION_COLUMNS};
use roster_store::{ConsoleSession, ConsoleStore, Operator, StoreError};
use sqlx::PgConnection;
use time::OffsetDateTime;

use crate::{Cols, PostgresStore, db_err, is_unique_violation};

async fn insert_operator(conn: &mut PgConnection, o: &Operator) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO operators (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(&o.id)
    .bind(&o.email)
    .bind(&o.password_hash)
    .bind(o.created_at)
    .execute(conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("email")
        } else {
            db_err(e)
        }
    })?;
    Ok(())
}

#[async_trait]
impl ConsoleStore for PostgresStore {
    async fn add_operator(&self, operator: &Operator) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        insert_operator(&mut conn, operator).await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = $1"
        ))
        .bind(email)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|r| decode::operator(&Cols(r))).transpose()
    }

    async fn operator(&self, id: &str) -> Result<Option<Operator>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|r| decode::operator(&Cols(r))).transpose()
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM operators")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn set_operator_totp(&self, id: &str, sealed: Option<&[u8]>) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("UPDATE operators SET totp_sealed = $1 WHERE id = $2")
            .bind(sealed)
            .bind(id)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        roster_store::sql::found(done.rows_affected())
    }

    async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let done =
            sqlx::query("UPDATE operators SET totp_step = $1 WHERE id = $2 AND totp_step < $1")
                .bind(step)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn sealed_operator_totps(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, totp_sealed FROM operators WHERE totp_sealed IS NOT NULL ORDER BY id",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|r| {
                let c = Cols(r);
                Ok((c.text("id")?, c.bytes("totp_sealed")?))
            })
            .collect()
    }

    async fn add_operator_invite(
        &self,
        hash: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO operator_invites (hash, created_at, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(&hash[..])
        .bind(created_at)
        .bind(expires_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn operator_invite_live(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn().await?;
        let found: Option<i32> = sqlx::query_scalar(
            "SELECT 1 FROM operator_invites WHERE hash = $1 AND used_at IS NULL
               AND expires_at > $2",
        )
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(found.is_some())
    }

    async fn use_operator_invite(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
        operator: &Operator,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let used = sqlx::query(
            "UPDATE operator_invites SET used_at = $1 WHERE hash = $2 AND used_at IS NULL
               AND expires_at > $1",
        )
        .bind(now)
        .bind(&hash[..])
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        if used.rows_affected() == 0 {
            return Ok(false);
        }
        insert_operator(&mut tx, operator).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(true)
    }

    async fn add_session(&self, session: &ConsoleSession) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "INSERT INTO console_sessions (hash, operator_id, tenant_id, csrf, created_at,
               expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&session.hash[..])
        .bind(&session.operator_id)
        .bind(session.tenant_id.as_ref().map(|t| t.as_str()))
        .bind(&session.csrf)
        .bind(session.created_at)
        .bind(session.expires_at)
        .execute(&mut *conn)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn session(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE hash = $1 AND expires_at > $2"
        ))
        .bind(&hash[..])
        .bind(now)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        row.as_ref().map(|r| decode::session(&Cols(r))).transpose()
    }

    async fn end_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let mut conn = self.conn().await?;
        sqlx::query("DELETE FROM console_sessions WHERE hash = $1")
            .bind(&hash[..])
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn purge_sessions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        let mut conn = self.conn().await?;
        let sessions = sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        let invites = sqlx::query("DELETE FROM operator_invites WHERE expires_at < $1")
            .bind(before)
            .execute(&mut *conn)
            .await
            .map_err(db_err)?;
        Ok(sessions.rows_affected() + invites.rows_affected())
    }
}
