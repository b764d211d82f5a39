//! Keys of an older fold folded again when the store opens (`roster_store::sql::key_fold`), by
//! one process at a time.

use async_trait::async_trait;
use roster_scim::value::FOLD_VERSION;
use roster_store::StoreError;
use roster_store::sql::key_fold::{
    CLEAR_EMAILS, EmailRow, HOLDER, NameRow, Refold, SET_NAME_KEY, SET_VERSION, refold,
};
use roster_store::sql::numbered;
use sqlx::postgres::PgPool;
use sqlx::{Postgres, Transaction};

use crate::{Cols, db_err};

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). The `key_fold` row stays locked until the commit, so of two processes
/// starting at once, one folds and the other waits and finds it done.
pub(crate) async fn refold_keys(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let version: i64 = sqlx::query_scalar("SELECT version::bigint FROM key_fold FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if version >= FOLD_VERSION {
        return Ok(());
    }
    let names = sqlx::query(
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE octet_length(name_key) <> char_length(name_key) ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| NameRow::read(&Cols(r)))
    .filter_map(Result::transpose)
    .collect::<Result<_, _>>()?;
    let emails = sqlx::query(
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails WHERE octet_length(value_key) <> char_length(value_key))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?
    .iter()
    .map(|r| EmailRow::read(&Cols(r)))
    .collect::<Result<_, _>>()?;
    let done = refold(&mut Fold(&mut tx), version, names, emails).await?;
    tx.commit().await.map_err(db_err)?;
    done.log();
    Ok(())
}

/// The fold's writes, in the transaction that holds the `key_fold` row.
struct Fold<'t, 'c>(&'t mut Transaction<'c, Postgres>);

#[async_trait]
impl Refold for Fold<'_, '_> {
    async fn holder(&mut self, row: &NameRow) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(&numbered(HOLDER))
            .bind(&row.tenant)
            .bind(row.kind.as_str())
            .bind(&row.key)
            .fetch_optional(&mut **self.0)
            .await
            .map_err(db_err)
    }

    async fn set_name_key(&mut self, row: &NameRow) -> Result<(), StoreError> {
        sqlx::query(&numbered(SET_NAME_KEY))
            .bind(&row.key)
            .bind(row.seq)
            .execute(&mut **self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    /// One statement for all of a resource's keys (`unnest`).
    async fn set_email_keys(&mut self, row: &EmailRow) -> Result<(), StoreError> {
        sqlx::query(&numbered(CLEAR_EMAILS))
            .bind(row.seq)
            .execute(&mut **self.0)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO emails (resource_seq, tenant_id, value_key)
             SELECT $1, $2, unnest($3::text[])",
        )
        .bind(row.seq)
        .bind(&row.tenant)
        .bind(&row.keys)
        .execute(&mut **self.0)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    /// `key_fold.version` is an `integer` column.
    async fn set_version(&mut self, version: i64) -> Result<(), StoreError> {
        sqlx::query(&numbered(SET_VERSION))
            .bind(version as i32)
            .execute(&mut **self.0)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
