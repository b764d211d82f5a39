//! A group's member rows: added with one `unnest` statement, removed, replaced, and read.

use crate::Cols;
use roster_store::sql::decode;
use roster_store::{Member, MemberRef, MembersChange, StoreError, TenantId};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use crate::db_err;

pub(crate) async fn members_of(
    conn: &mut PgConnection,
    group_seq: i64,
) -> Result<Vec<Member>, StoreError> {
    // Members come back in a stable order: by member creation order.
    let rows = sqlx::query(
        "SELECT m.id, m.kind, coalesce(x.display, m.display) AS display
         FROM members x JOIN resources m ON m.seq = x.member_seq
         WHERE x.group_seq = $1 ORDER BY m.seq",
    )
    .bind(group_seq)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_err)?;
    rows.iter().map(member_from_row).collect()
}

pub(crate) fn member_from_row(row: &PgRow) -> Result<Member, StoreError> {
    decode::member(&Cols(row))
}

/// The members to add, one entry per id (PostgreSQL refuses to update one row twice in a
/// statement): ids in first-seen order and their display names, a later display name for the
/// same member winning, as it would one by one.
pub(crate) fn distinct_members(members: &[MemberRef]) -> (Vec<&str>, Vec<Option<&str>>) {
    let mut position = std::collections::HashMap::with_capacity(members.len());
    let mut ids: Vec<&str> = Vec::with_capacity(members.len());
    let mut displays: Vec<Option<&str>> = Vec::with_capacity(members.len());
    for m in members {
        match position.get(m.id.as_str()) {
            Some(&i) => {
                if m.display.is_some() {
                    displays[i] = m.display.as_deref();
                }
            }
            None => {
                position.insert(m.id.as_str(), ids.len());
                ids.push(&m.id);
                displays.push(m.display.as_deref());
            }
        }
    }
    (ids, displays)
}

/// The first of `ids` that names no resource of the tenant.
pub(crate) async fn first_unknown(
    conn: &mut PgConnection,
    tenant: &TenantId,
    ids: &[&str],
) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT v.id FROM unnest($2::text[]) WITH ORDINALITY AS v (id, n)
         WHERE NOT EXISTS (SELECT 1 FROM resources r WHERE r.tenant_id = $1 AND r.id = v.id)
         ORDER BY v.n LIMIT 1",
    )
    .bind(tenant.as_str())
    .bind(ids)
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_err)
}

/// Adds and removes members of a group and bumps its version in one statement, for a change
/// whose additions and removals name different members (a statement cannot delete and then
/// re-insert one row). The group's row is updated only when every member to add exists in the
/// tenant (and the version matches), so a refused change changes nothing; the row lock it
/// takes is held only for this statement's commit. Returns the new version, or no row.
pub(crate) const CHANGE_MEMBERS: &str = "WITH v AS (
        SELECT r.seq, CASE WHEN x.display IS NULL OR x.display = r.display
                           THEN NULL ELSE x.display END AS display
        FROM unnest($5::text[], $6::text[]) AS x (id, display)
        JOIN resources r ON r.tenant_id = $2 AND r.id = x.id
    ), g AS (
        UPDATE resources SET version = version + 1, last_modified = $1
        WHERE tenant_id = $2 AND id = $3 AND kind = 'Group'
          AND ($4::bigint IS NULL OR version = $4)
          AND (SELECT count(*) FROM v) = cardinality($5::text[])
        RETURNING seq, version
    ), d AS (
        DELETE FROM members WHERE group_seq IN (SELECT seq FROM g)
          AND member_seq IN (SELECT seq FROM resources WHERE tenant_id = $2 AND id = ANY($7))
    ), i AS (
        INSERT INTO members (group_seq, member_seq, display)
        SELECT g.seq, v.seq, v.display FROM g, v
        ON CONFLICT (group_seq, member_seq) DO UPDATE
        SET display = coalesce(excluded.display, members.display)
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $2, x.type, x.at, x.data FROM g,
               unnest($8::text[], $9::text[], $10::timestamptz[], $11::text[])
               AS x (id, type, at, data)
    )
    SELECT version FROM g";

/// Inserts the member rows of a group in one statement, refusing ids that are not resources
/// of the tenant (the caller's transaction is then dropped, changing nothing).
pub(crate) async fn add_members(
    tx: &mut PgConnection,
    tenant: &TenantId,
    group_seq: i64,
    members: &[MemberRef],
) -> Result<(), StoreError> {
    if members.is_empty() {
        return Ok(());
    }
    let (ids, displays) = distinct_members(members);
    // A client's display name is kept only where it differs from the member's own, so that
    // renaming a user still shows in the groups nobody labelled otherwise.
    let done = sqlx::query(
        "INSERT INTO members (group_seq, member_seq, display)
         SELECT $1, r.seq, CASE WHEN v.display IS NULL OR v.display = r.display
                                THEN NULL ELSE v.display END
         FROM unnest($3::text[], $4::text[]) AS v (id, display)
         JOIN resources r ON r.tenant_id = $2 AND r.id = v.id
         ON CONFLICT (group_seq, member_seq) DO UPDATE
         SET display = coalesce(excluded.display, members.display)",
    )
    .bind(group_seq)
    .bind(tenant.as_str())
    .bind(&ids)
    .bind(&displays)
    .execute(&mut *tx)
    .await
    .map_err(db_err)?;
    if done.rows_affected() < ids.len() as u64 {
        let missing = first_unknown(tx, tenant, &ids).await?;
        return Err(StoreError::UnknownMember(missing.unwrap_or_default()));
    }
    Ok(())
}

/// Applies a change of members to a group's rows.
pub(crate) async fn apply_members(
    tx: &mut PgConnection,
    tenant: &TenantId,
    group_seq: i64,
    change: &MembersChange,
) -> Result<(), StoreError> {
    match change {
        MembersChange::Keep => {}
        MembersChange::Replace(ids) => {
            sqlx::query("DELETE FROM members WHERE group_seq = $1")
                .bind(group_seq)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            add_members(tx, tenant, group_seq, ids).await?;
        }
        MembersChange::Delta { add, remove } => {
            if !remove.is_empty() {
                sqlx::query(
                    "DELETE FROM members WHERE group_seq = $1 AND member_seq IN
                       (SELECT seq FROM resources WHERE tenant_id = $2 AND id = ANY($3))",
                )
                .bind(group_seq)
                .bind(tenant.as_str())
                .bind(remove)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            add_members(tx, tenant, group_seq, add).await?;
        }
    }
    Ok(())
}
