//! [`ConsoleStore`] on SQLite: operators, their invitations, console sessions.

use async_trait::async_trait;
use roster_store::sql::decode::Columns as _;
use roster_store::sql::decode::{self, OPERATOR_COLUMNS, SESSION_COLUMNS};
use roster_store::{ConsoleSession, ConsoleStore, Operator, StoreError};
use rusqlite::params;
use time::OffsetDateTime;

use crate::cold::{first, scalar};
use crate::{SqliteStore, exec, is_unique_violation, lite_err, ts};

fn insert_operator(tx: &rusqlite::Connection, o: &Operator) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO operators (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
    )
    .and_then(|mut q| q.execute(params![o.id, o.email, o.password_hash, ts(o.created_at)]))
    .map_err(|e| {
        if is_unique_violation(&e) {
            StoreError::Conflict("email")
        } else {
            lite_err(e)
        }
    })?;
    Ok(())
}

#[async_trait]
impl ConsoleStore for SqliteStore {
    async fn add_operator(&self, operator: &Operator) -> Result<(), StoreError> {
        let o = operator.clone();
        self.writer.write(move |tx| insert_operator(tx, &o)).await
    }

    async fn operator_by_email(&self, email: &str) -> Result<Option<Operator>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE email = ?");
        self.readers
            .now(|conn| first(conn, &sql, params![email], |r| decode::operator(r)))
            .await
    }

    async fn operator(&self, id: &str) -> Result<Option<Operator>, StoreError> {
        let sql = format!("SELECT {OPERATOR_COLUMNS} FROM operators WHERE id = ?");
        self.readers
            .now(|conn| first(conn, &sql, params![id], |r| decode::operator(r)))
            .await
    }

    async fn operator_count(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .readers
            .now(|conn| scalar(conn, "SELECT count(*) FROM operators", []))
            .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn set_operator_totp(&self, id: &str, sealed: Option<&[u8]>) -> Result<(), StoreError> {
        let (id, sealed) = (id.to_owned(), sealed.map(<[u8]>::to_vec));
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE operators SET totp_sealed = ? WHERE id = ?",
                    params![sealed, id],
                )?;
                roster_store::sql::found(done as u64)
            })
            .await
    }

    async fn use_totp_step(&self, id: &str, step: i64) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.writer
            .write(move |tx| {
                let done = exec(
                    tx,
                    "UPDATE operators SET totp_step = ? WHERE id = ? AND totp_step < ?",
                    params![step, id, step],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn sealed_operator_totps(&self) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        self.readers
            .now(|conn| {
                crate::cold::all(
                    conn,
                    "SELECT id, totp_sealed FROM operators WHERE totp_sealed IS NOT NULL
                     ORDER BY id",
                    [],
                    |r| Ok((r.text("id")?, r.bytes("totp_sealed")?)),
                )
            })
            .await
    }

    async fn add_operator_invite(
        &self,
        hash: &[u8; 32],
        created_at: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let hash = *hash;
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO operator_invites (hash, created_at, expires_at) VALUES (?, ?, ?)",
                    params![&hash[..], ts(created_at), ts(expires_at)],
                )?;
                Ok(())
            })
            .await
    }

    async fn operator_invite_live(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        self.readers
            .now(|conn| {
                first(
                    conn,
                    "SELECT 1 AS live FROM operator_invites WHERE hash = ? AND used_at IS NULL
                       AND expires_at > ?",
                    params![&hash[..], ts(now)],
                    |r| r.int("live"),
                )
            })
            .await
            .map(|found| found.is_some())
    }

    async fn use_operator_invite(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
        operator: &Operator,
    ) -> Result<bool, StoreError> {
        let (hash, o) = (*hash, operator.clone());
        self.writer
            .write(move |tx| {
                let used = exec(
                    tx,
                    "UPDATE operator_invites SET used_at = ?1 WHERE hash = ?2
                       AND used_at IS NULL AND expires_at > ?1",
                    params![ts(now), &hash[..]],
                )?;
                if used == 0 {
                    return Ok(false);
                }
                insert_operator(tx, &o)?;
                Ok(true)
            })
            .await
    }

    async fn add_session(&self, session: &ConsoleSession) -> Result<(), StoreError> {
        let s = session.clone();
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "INSERT INTO console_sessions (hash, operator_id, tenant_id, csrf, created_at,
                       expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                    params![
                        &s.hash[..],
                        s.operator_id,
                        s.tenant_id.as_ref().map(|t| t.as_str().to_owned()),
                        s.csrf,
                        ts(s.created_at),
                        ts(s.expires_at)
                    ],
                )?;
                Ok(())
            })
            .await
    }

    async fn session(
        &self,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions WHERE hash = ? AND expires_at > ?"
        );
        self.readers
            .now(|conn| {
                first(conn, &sql, params![&hash[..], ts(now)], |r| {
                    decode::session(r)
                })
            })
            .await
    }

    async fn end_session(&self, hash: &[u8; 32]) -> Result<(), StoreError> {
        let hash = *hash;
        self.writer
            .write(move |tx| {
                exec(
                    tx,
                    "DELETE FROM console_sessions WHERE hash = ?",
                    params![&hash[..]],
                )?;
                Ok(())
            })
            .await
    }

    async fn purge_sessions(&self, before: OffsetDateTime) -> Result<u64, StoreError> {
        self.writer
            .write(move |tx| {
                let sessions = exec(
                    tx,
                    "DELETE FROM console_sessions WHERE expires_at < ?",
                    params![ts(before)],
                )?;
                let invites = exec(
                    tx,
                    "DELETE FROM operator_invites WHERE expires_at < ?",
                    params![ts(before)],
                )?;
                Ok((sessions + invites) as u64)
            })
            .await
    }
}
