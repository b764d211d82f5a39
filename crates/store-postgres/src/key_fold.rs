//! Keys of an older fold folded again when the store opens, by one process at a time.

use roster_scim::value::FOLD_VERSION;
use roster_store::sql::{email_keys, name_key};
use roster_store::{Kind, StoreError};
use sqlx::Row;
use sqlx::postgres::PgPool;

use crate::db_err;
use roster_store::sql::decode::stored_json;

/// Folds again, in one transaction, the keys (`resources.name_key`, `emails.value_key`) that
/// an older `fold_case` wrote, when `key_fold` says they are older than this build's
/// ([`FOLD_VERSION`]). The `key_fold` row stays locked until the commit, so of two processes
/// starting at once, one folds and the other waits and finds it done. Only keys with a
/// character beyond ASCII can differ: the first fold (simple lowercase) made ASCII keys only of
/// ASCII letters and the Kelvin sign, which the current fold maps to the same letters.
///
/// Two names that were different under the old fold and are the same under the new one (a
/// user created as "José" in NFC and again in NFD) both keep working: the row whose new key is
/// taken keeps its old key and a warning names both rows; only a rename frees it.
pub(crate) async fn refold_keys(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(db_err)?;
    let version: i64 = sqlx::query_scalar("SELECT version::bigint FROM key_fold FOR UPDATE")
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
    if version >= FOLD_VERSION {
        return Ok(());
    }
    let rows = sqlx::query(
        "SELECT seq, tenant_id, id, kind, name_key, data FROM resources
         WHERE octet_length(name_key) <> char_length(name_key) ORDER BY seq",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    let mut refolded = 0;
    for row in &rows {
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        let tenant: String = row.try_get("tenant_id").map_err(db_err)?;
        let id: String = row.try_get("id").map_err(db_err)?;
        let kind: String = row.try_get("kind").map_err(db_err)?;
        let old: String = row.try_get("name_key").map_err(db_err)?;
        let kind =
            Kind::parse(&kind).ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?;
        let key = name_key(kind, &stored_json(row.try_get("data").map_err(db_err)?)?);
        if key == old {
            continue;
        }
        let taken: Option<String> = sqlx::query_scalar(
            "SELECT id FROM resources WHERE tenant_id = $1 AND kind = $2 AND name_key = $3",
        )
        .bind(&tenant)
        .bind(kind.as_str())
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        if let Some(other) = taken {
            tracing::warn!(
                tenant = %tenant,
                kind = kind.as_str(),
                id = %id,
                same_name_as = %other,
                "two resources have names that are now the same; this one keeps its old key, \
                 so both stay reachable, until one of them is renamed"
            );
            continue;
        }
        sqlx::query("UPDATE resources SET name_key = $1 WHERE seq = $2")
            .bind(&key)
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        refolded += 1;
    }
    let with_emails = sqlx::query(
        "SELECT r.seq, r.tenant_id, r.data FROM resources r WHERE r.seq IN
           (SELECT resource_seq FROM emails WHERE octet_length(value_key) <> char_length(value_key))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db_err)?;
    for row in &with_emails {
        let seq: i64 = row.try_get("seq").map_err(db_err)?;
        let tenant: String = row.try_get("tenant_id").map_err(db_err)?;
        let keys = email_keys(&stored_json(row.try_get("data").map_err(db_err)?)?);
        sqlx::query("DELETE FROM emails WHERE resource_seq = $1")
            .bind(seq)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO emails (resource_seq, tenant_id, value_key)
             SELECT $1, $2, unnest($3::text[])",
        )
        .bind(seq)
        .bind(&tenant)
        .bind(&keys)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    }
    sqlx::query("UPDATE key_fold SET version = $1")
        .bind(FOLD_VERSION as i32)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    // A new database has nothing to fold: no line for it.
    if refolded > 0 || !with_emails.is_empty() {
        tracing::info!(
            from = version,
            to = FOLD_VERSION,
            names = refolded,
            emails = with_emails.len(),
            "name and e-mail keys folded again"
        );
    }
    Ok(())
}
