//! Keys of an older fold folded again when the store opens (`roster_store::sql::key_fold`),
//! on the writer's connection, after the migrations.

use async_trait::async_trait;
use roster_scim::value::FOLD_VERSION;
use roster_store::StoreError;
use roster_store::sql::key_fold::{
    CLEAR_EMAILS, EmailRow, HOLDER, NameRow, Refold, SET_NAME_KEY, SET_VERSION, refold,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::cold::{all, scalar};
use crate::{exec, lite_err};

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). The scan skips every ASCII key (its byte length is its length). Gives
/// the connection back.
pub(crate) async fn refold_keys(conn: Connection) -> Result<Connection, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(lite_err)?;
    let mut fold = Fold(conn);
    let result = fold_in_transaction(&mut fold).await;
    let conn = fold.0;
    match result {
        Ok(done) => {
            conn.execute_batch("COMMIT").map_err(lite_err)?;
            if let Some(done) = done {
                done.log();
            }
            Ok(conn)
        }
        Err(e) => {
            // The error is what matters; the rollback's own failure would say less.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

async fn fold_in_transaction(
    fold: &mut Fold,
) -> Result<Option<roster_store::sql::key_fold::Refolded>, StoreError> {
    let version: i64 = scalar(&fold.0, "SELECT version FROM key_fold", [])?;
    if version >= FOLD_VERSION {
        return Ok(None);
    }
    let names = all(
        &fold.0,
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE length(CAST(name_key AS BLOB)) <> length(name_key) ORDER BY seq",
        [],
        |r| NameRow::read(r),
    )?;
    let emails = all(
        &fold.0,
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails
            WHERE length(CAST(value_key AS BLOB)) <> length(value_key))",
        [],
        |r| EmailRow::read(r),
    )?;
    let names = names.into_iter().flatten().collect();
    refold(fold, version, names, emails).await.map(Some)
}

/// The fold's writes, on the connection whose transaction read the rows. Each runs where it
/// is called (the trait is async for PostgreSQL's sake).
struct Fold(Connection);

#[async_trait]
impl Refold for Fold {
    async fn holder(&mut self, row: &NameRow) -> Result<Option<String>, StoreError> {
        self.0
            .query_row(
                HOLDER,
                params![row.tenant, row.kind.as_str(), row.key],
                |r| r.get(0),
            )
            .optional()
            .map_err(lite_err)
    }

    async fn set_name_key(&mut self, row: &NameRow) -> Result<(), StoreError> {
        exec(&self.0, SET_NAME_KEY, params![row.key, row.seq])?;
        Ok(())
    }

    /// One statement per key: SQLite has no arrays to insert them with at once.
    async fn set_email_keys(&mut self, row: &EmailRow) -> Result<(), StoreError> {
        exec(&self.0, CLEAR_EMAILS, params![row.seq])?;
        for key in &row.keys {
            exec(
                &self.0,
                "INSERT INTO emails (resource_seq, tenant_id, value_key) VALUES (?, ?, ?)",
                params![row.seq, row.tenant, key],
            )?;
        }
        Ok(())
    }

    async fn set_version(&mut self, version: i64) -> Result<(), StoreError> {
        exec(&self.0, SET_VERSION, params![version])?;
        Ok(())
    }
}
