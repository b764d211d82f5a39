//! Keys of an older fold folded again when the store opens (`roster_store::sql::key_fold`),
//! on the connection that ran the migrations.

use async_trait::async_trait;
use roster_scim::value::FOLD_VERSION;
use roster_store::StoreError;
use roster_store::sql::key_fold::{
    CLEAR_EMAILS, EmailRow, HOLDER, NameRow, Refold, SET_NAME_KEY, SET_VERSION, refold,
};
use sqlx::{Sqlite, SqliteConnection, Transaction};

use crate::{Cols, db_err};

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). The scan skips every ASCII key (its byte length is its length).
pub(crate) async fn refold_keys(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    use sqlx::Connection as _;
    let mut tx = conn.begin().await.map_err(db_err)?;
    let version: i64 = sqlx::query_scalar("SELECT version FROM key_fold")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if version >= FOLD_VERSION {
        return Ok(());
    }
    let names = sqlx::query(
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE length(CAST(name_key AS BLOB)) <> length(name_key) ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let emails = sqlx::query(
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails
            WHERE length(CAST(value_key AS BLOB)) <> length(value_key))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut changed = Vec::new();
    for row in &names {
        changed.extend(NameRow::read(&Cols(row))?);
    }
    let emails = emails.iter().map(|r| EmailRow::read(&Cols(r)));
    let emails = emails.collect::<Result<_, _>>()?;
    let done = refold(&mut Fold(&mut tx), version, changed, emails).await?;
    tx.commit().await.map_err(db_err)?;
    done.log();
    Ok(())
}

/// The fold's writes, in the transaction that read the rows.
struct Fold<'t, 'c>(&'t mut Transaction<'c, Sqlite>);

#[async_trait]
impl Refold for Fold<'_, '_> {
    async fn holder(&mut self, row: &NameRow) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(HOLDER)
            .bind(&row.tenant)
            .bind(row.kind.as_str())
            .bind(&row.key)
            .fetch_optional(&mut **self.0)
            .await
            .map_err(db_err)
    }

    async fn set_name_key(&mut self, row: &NameRow) -> Result<(), StoreError> {
        sqlx::query(SET_NAME_KEY)
            .bind(&row.key)
            .bind(row.seq)
            .execute(&mut **self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// One statement per key: SQLite has no arrays to insert them with at once.
    async fn set_email_keys(&mut self, row: &EmailRow) -> Result<(), StoreError> {
        let tx = &mut **self.0;
        sqlx::query(CLEAR_EMAILS)
            .bind(row.seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        for key in &row.keys {
            sqlx::query("INSERT INTO emails (resource_seq, tenant_id, value_key) VALUES (?, ?, ?)")
                .bind(row.seq)
                .bind(&row.tenant)
                .bind(key)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
        }
        Ok(())
    }

    async fn set_version(&mut self, version: i64) -> Result<(), StoreError> {
        sqlx::query(SET_VERSION)
            .bind(version)
            .execute(&mut **self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
