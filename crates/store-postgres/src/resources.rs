//! [`ResourceStore`] on PostgreSQL: users and groups, written one statement each where they
//! can be, and listed by key first.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use roster_scim::schema::ResourceSchema;
use roster_store::sql::list::ListPlan;
use roster_store::sql::list::without_unasked_relations;
use roster_store::sql::list::{memory_needs_members, total_of_page};
use roster_store::sql::{conflict_attribute, groups_from_json, indexed, name_key, numbered};
use roster_store::{
    GroupRef, Kind, ListQuery, Member, MemberRef, MembersChange, NewEvent, Page, PageBudget,
    ResourceStore, StoreError, StoredResource, TenantId, memory_eval,
};
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use crate::change_log::{event_arrays, insert_events};
use crate::members::{
    CHANGE_MEMBERS, add_members, apply_members, distinct_members, first_unknown, member_from_row,
    members_of,
};
use crate::{PostgresStore, bind_query, bind_scalar, db_err, is_unique_violation};

#[async_trait]
impl ResourceStore for PostgresStore {
    async fn insert_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let ix = indexed(resource);
        // Without members, the events are written by the insert's own statement; with them,
        // after the members, in the same transaction.
        let (inline, after): (&[NewEvent], &[NewEvent]) = if members.is_empty() {
            (events, &[])
        } else {
            (&[], events)
        };
        let a = event_arrays(inline);
        let statement = sqlx::query_scalar::<_, i64>(INSERT_RESOURCE)
            .bind(tenant.as_str())
            .bind(&resource.id)
            .bind(resource.kind.as_str())
            .bind(&ix.name_key)
            .bind(&ix.display)
            .bind(&ix.external_id)
            .bind(ix.active)
            .bind(resource.created)
            .bind(resource.last_modified)
            .bind(resource.version)
            .bind(resource.data.to_string())
            .bind(&ix.emails)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data);
        let conflict = |e: sqlx::Error| {
            if is_unique_violation(&e) {
                StoreError::Conflict(conflict_attribute(resource.kind))
            } else {
                db_err(e)
            }
        };
        if members.is_empty() {
            // One statement, atomic on its own: no transaction's round trips.
            let mut conn = self.conn().await?;
            statement.fetch_one(&mut *conn).await.map_err(conflict)?;
            return Ok(());
        }
        let mut tx = self.begin().await?;
        let seq = statement.fetch_one(&mut *tx).await.map_err(conflict)?;
        add_members(&mut tx, tenant, seq, members).await?;
        insert_events(&mut tx, tenant, after).await?;
        tx.commit().await.map_err(db_err)
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<Option<StoredResource>, StoreError> {
        let mut conn = self.conn().await?;
        let row = sqlx::query(&format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = $1 AND r.id = $2 AND r.kind = $3",
            columns(kind, with_relations)
        ))
        .bind(tenant.as_str())
        .bind(id)
        .bind(kind.as_str())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(row) = row else { return Ok(None) };
        let (seq, mut resource) = resource_from_row(&row)?;
        if with_relations && kind == Kind::Group {
            resource.members = Some(members_of(&mut conn, seq).await?);
        }
        Ok(Some(resource))
    }

    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update(tenant, resource, expected_version, members, events, None)
            .await
    }

    async fn update_from_recorded(
        &self,
        tenant: &TenantId,
        previous: &StoredResource,
        resource: &StoredResource,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update(
            tenant,
            resource,
            previous.version,
            members,
            events,
            Some(previous),
        )
        .await
    }

    async fn change_members_recorded(
        &self,
        tenant: &TenantId,
        group_id: &str,
        change: &MembersChange,
        expected_version: Option<i64>,
        at: OffsetDateTime,
        events: &[NewEvent],
    ) -> Result<i64, StoreError> {
        if let MembersChange::Delta { add, remove } = change
            && !add.iter().any(|m| remove.contains(&m.id))
        {
            let (ids, displays) = distinct_members(add);
            let a = event_arrays(events);
            let mut conn = self.conn().await?;
            // A member created or deleted between this statement's reads makes it change
            // nothing (or meet the foreign key); the next attempt sees the member as it is.
            for _ in 0..3 {
                let version: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(CHANGE_MEMBERS)
                    .bind(at)
                    .bind(tenant.as_str())
                    .bind(group_id)
                    .bind(expected_version)
                    .bind(&ids)
                    .bind(&displays)
                    .bind(remove)
                    .bind(&a.ids)
                    .bind(&a.types)
                    .bind(&a.at)
                    .bind(&a.data)
                    .fetch_optional(&mut *conn)
                    .await;
                match version {
                    Ok(Some(version)) => return Ok(version),
                    Ok(None) => {}
                    Err(sqlx::Error::Database(d)) if d.is_foreign_key_violation() => continue,
                    Err(e) => return Err(db_err(e)),
                }
                // Nothing changed: the group is missing, its version is stale, or a member to
                // add is not in the tenant.
                let group = sqlx::query_scalar::<_, i64>(
                    "SELECT version FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = 'Group'",
                )
                .bind(tenant.as_str())
                .bind(group_id)
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_err)?;
                match (group, expected_version) {
                    (None, _) => return Err(StoreError::NotFound),
                    (Some(v), Some(e)) if v != e => return Err(StoreError::VersionMismatch),
                    _ => {
                        if let Some(id) = first_unknown(&mut conn, tenant, &ids).await? {
                            return Err(StoreError::UnknownMember(id));
                        }
                    }
                }
            }
            return Err(StoreError::Unavailable(
                "the group's members kept changing under this request".into(),
            ));
        }
        let mut tx = self.begin().await?;
        // The group's row is locked until commit: changes of one group's members, from any
        // process, follow one another.
        let row: Option<(i64, i64)> = sqlx::query_as(
            "UPDATE resources SET version = version + 1, last_modified = $1
             WHERE tenant_id = $2 AND id = $3 AND kind = 'Group'
               AND ($4::bigint IS NULL OR version = $4)
             RETURNING seq, version",
        )
        .bind(at)
        .bind(tenant.as_str())
        .bind(group_id)
        .bind(expected_version)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db_err)?;
        let Some((seq, version)) = row else {
            return Err(missing_or_stale(&mut tx, tenant, Kind::Group, group_id).await);
        };
        apply_members(&mut tx, tenant, seq, change).await?;
        insert_events(&mut tx, tenant, events).await?;
        tx.commit().await.map_err(db_err)?;
        Ok(version)
    }

    async fn delete_recorded(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let a = event_arrays(events);
        let mut conn = self.conn().await?;
        let deleted: Option<i64> = sqlx::query_scalar(DELETE_RESOURCE)
            .bind(tenant.as_str())
            .bind(id)
            .bind(kind.as_str())
            .bind(expected_version)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_err)?;
        match deleted {
            Some(_) => Ok(()),
            None => Err(missing_or_stale(&mut conn, tenant, kind, id).await),
        }
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: Kind,
        schema: &ResourceSchema,
        query: &ListQuery,
    ) -> Result<Page, StoreError> {
        let plan = ListPlan::new(kind, schema, query);
        let mut conn = self.conn().await?;
        let mut budget = PageBudget::of(query);
        let page = match &plan.order {
            Some(order) => {
                let mut resources = Vec::new();
                if query.limit > 0 {
                    // The page's keys first, then its rows: PostgreSQL computes the select
                    // list (a user's groups, the JSON) for the rows OFFSET skips too, so a
                    // deep page would otherwise pay for every row before it.
                    let stmt = numbered(&format!(
                        "SELECT {} FROM resources r JOIN (
                             SELECT r.seq AS page_seq FROM resources r WHERE {} {}
                         ) p ON p.page_seq = r.seq
                         ORDER BY {order}, r.seq",
                        columns(kind, query.with_relations),
                        plan.where_clause,
                        ListPlan::page_clause(order, query)
                    ));
                    // Rows are taken from the stream only while the page's budget lasts.
                    let mut rows = Vec::new();
                    {
                        let mut stream = bind_query(sqlx::query(&stmt), tenant, kind, &plan.binds)
                            .fetch(&mut *conn);
                        while let Some(row) = stream.try_next().await.map_err(db_err)? {
                            if !budget.admits(rows.len()) {
                                break;
                            }
                            let data: &str = row.try_get("data").map_err(db_err)?;
                            budget.spend(data.len());
                            let (seq, r) = resource_from_row(&row)?;
                            budget.spend_relations(&r);
                            rows.push((seq, r));
                        }
                    }
                    for (seq, mut r) in rows {
                        if query.with_relations && kind == Kind::Group {
                            if !budget.admits(resources.len()) {
                                break;
                            }
                            let members = members_of(&mut conn, seq).await?;
                            budget.spend_members(&members);
                            r.members = Some(members);
                        }
                        resources.push(r);
                    }
                }
                let got = resources.len() as u64;
                match total_of_page(query.offset, query.limit, got, budget.cut) {
                    Some(total) => Page { total, resources },
                    None => Page {
                        total: count(&mut conn, tenant, kind, &plan, query.count_at_most).await?,
                        resources,
                    },
                }
            }
            None => {
                // The SQL narrows; the protocol crate decides, sorts and pages.
                let stmt = numbered(&plan.narrow(columns(kind, query.with_relations)));
                // Rows are decided as they come from the stream: the page, not the tenant, is
                // held. A group's members, when the filter needs them, are read on a second
                // connection while the first streams.
                let needs_members = memory_needs_members(kind, query);
                let mut side = if needs_members {
                    Some(self.conn().await?)
                } else {
                    None
                };
                let mut page = memory_eval::MemoryPage::new(schema, query);
                let mut stream =
                    bind_query(sqlx::query(&stmt), tenant, kind, &plan.binds).fetch(&mut *conn);
                while let Some(row) = stream.try_next().await.map_err(db_err)? {
                    let (seq, mut r) = resource_from_row(&row)?;
                    if let Some(side) = side.as_mut() {
                        r.members = Some(members_of(side, seq).await?);
                    }
                    page.push(r);
                }
                drop(stream);
                page.finish()
            }
        };
        Ok(without_unasked_relations(page, query))
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<Vec<(String, GroupRef)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT u.id AS user_id, g.id AS group_id, g.display AS group_display
             FROM resources u JOIN members x ON x.member_seq = u.seq
             JOIN resources g ON g.seq = x.group_seq
             WHERE u.tenant_id = $1 AND u.id = ANY($2) ORDER BY g.seq",
        )
        .bind(tenant.as_str())
        .bind(user_ids)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| {
                let display: Option<String> = row.try_get("group_display").map_err(db_err)?;
                Ok((
                    row.try_get("user_id").map_err(db_err)?,
                    GroupRef {
                        id: row.try_get("group_id").map_err(db_err)?,
                        display: display.unwrap_or_default(),
                    },
                ))
            })
            .collect()
    }

    async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, StoreError> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(&format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = $1 AND r.kind = $2 AND r.seq > $3
             ORDER BY r.seq LIMIT $4",
            columns(kind, true)
        ))
        .bind(tenant.as_str())
        .bind(kind.as_str())
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter().map(resource_from_row).collect()
    }

    async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Member)>, StoreError> {
        let mut conn = self.conn().await?;
        let group: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = 'Group'",
        )
        .bind(tenant.as_str())
        .bind(group_id)
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_err)?;
        let Some(group) = group else {
            return Err(StoreError::NotFound);
        };
        let rows = sqlx::query(
            "SELECT m.seq, m.id, m.kind, coalesce(x.display, m.display) AS display
             FROM members x JOIN resources m ON m.seq = x.member_seq
             WHERE x.group_seq = $1 AND m.seq > $2 ORDER BY m.seq LIMIT $3",
        )
        .bind(group)
        .bind(after)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_err)?;
        rows.iter()
            .map(|row| Ok((row.try_get("seq").map_err(db_err)?, member_from_row(row)?)))
            .collect()
    }
}

const RESOURCE_COLUMNS: &str = "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data";

/// The resource columns plus a user's groups, gathered by one correlated subquery per row
/// (an index range on `members_member`), so a user and its groups are read in one statement.
const RESOURCE_COLUMNS_WITH_GROUPS: &str =
    "r.seq, r.id, r.kind, r.version, r.created, r.last_modified, r.data,
    coalesce((SELECT json_agg(json_build_array(g.id, g.display) ORDER BY g.seq)
              FROM members x JOIN resources g ON g.seq = x.group_seq
              WHERE x.member_seq = r.seq)::text, '[]') AS groups_json";

fn columns(kind: Kind, with_relations: bool) -> &'static str {
    if with_relations && kind == Kind::User {
        RESOURCE_COLUMNS_WITH_GROUPS
    } else {
        RESOURCE_COLUMNS
    }
}

fn resource_from_row(row: &PgRow) -> Result<(i64, StoredResource), StoreError> {
    let kind: String = row.try_get("kind").map_err(db_err)?;
    let data: String = row.try_get("data").map_err(db_err)?;
    // Present only when the statement asked for a user's groups.
    let groups = match row.try_get::<Option<String>, _>("groups_json") {
        Ok(Some(json)) => Some(groups_from_json(&json)?),
        _ => None,
    };
    Ok((
        row.try_get("seq").map_err(db_err)?,
        StoredResource {
            id: row.try_get("id").map_err(db_err)?,
            kind: Kind::parse(&kind)
                .ok_or_else(|| StoreError::Internal(format!("bad kind {kind}")))?,
            version: row.try_get("version").map_err(db_err)?,
            created: row.try_get("created").map_err(db_err)?,
            last_modified: row.try_get("last_modified").map_err(db_err)?,
            data: serde_json::from_str(&data).map_err(|e| StoreError::Internal(e.to_string()))?,
            members: None,
            groups,
        },
    ))
}

/// Whether a resource exists, to tell a stale version from a missing resource after a
/// conditional write matched no row.
async fn missing_or_stale(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kind: Kind,
    id: &str,
) -> StoreError {
    let exists = sqlx::query_scalar::<_, i64>(
        "SELECT seq FROM resources WHERE tenant_id = $1 AND id = $2 AND kind = $3",
    )
    .bind(tenant.as_str())
    .bind(id)
    .bind(kind.as_str())
    .fetch_optional(&mut *conn)
    .await;
    match exists {
        Ok(Some(_)) => StoreError::VersionMismatch,
        Ok(None) => StoreError::NotFound,
        Err(e) => db_err(e),
    }
}

/// Deletes a resource if its version matches (when given) and records its events, in one
/// statement; returns its `seq`, or no row. Memberships and e-mail rows go with the resource
/// (ON DELETE CASCADE).
const DELETE_RESOURCE: &str = "WITH d AS (
        DELETE FROM resources
        WHERE tenant_id = $1 AND id = $2 AND kind = $3 AND ($4::bigint IS NULL OR version = $4)
        RETURNING seq
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $1, x.type, x.at, x.data FROM d,
               unnest($5::text[], $6::text[], $7::timestamptz[], $8::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM d";

/// Inserts a resource and its e-mail rows in one statement, returning its `seq`.
const INSERT_RESOURCE: &str = "WITH r AS (
        INSERT INTO resources (tenant_id, id, kind, name_key, display, external_id, active,
                               created, last_modified, version, data)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING seq
    ), e AS (
        INSERT INTO emails (resource_seq, tenant_id, value_key)
        SELECT r.seq, $1, v FROM r, unnest($12::text[]) AS v
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $1, x.type, x.at, x.data FROM r,
               unnest($13::text[], $14::text[], $15::timestamptz[], $16::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM r";

/// Writes a new state of a resource if its version is still the expected one, in one
/// statement; its e-mail rows are rewritten only when their sorted values (`$13`) differ from
/// the stored ones, as most updates leave e-mails alone. A null `$1` leaves `name_key` as it
/// is (see `PostgresStore::update`). Returns its `seq`, or no row.
const UPDATE_RESOURCE: &str = "WITH r AS (
        UPDATE resources SET name_key = coalesce($1, name_key), display = $2, external_id = $3,
               active = $4,
               last_modified = $5, version = $6, data = $7
        WHERE tenant_id = $8 AND id = $9 AND kind = $10 AND version = $11
        RETURNING seq
    ), same AS (
        SELECT coalesce(array_agg(value_key ORDER BY value_key), '{}') = $13::text[] AS same
        FROM emails WHERE resource_seq IN (SELECT seq FROM r)
    ), d AS (
        DELETE FROM emails WHERE resource_seq IN (SELECT seq FROM r)
          AND NOT (SELECT same FROM same)
    ), e AS (
        INSERT INTO emails (resource_seq, tenant_id, value_key)
        SELECT r.seq, $8, v FROM r, unnest($12::text[]) AS v
        WHERE NOT (SELECT same FROM same)
    ), ev AS (
        INSERT INTO events (id, tenant_id, type, occurred_at, data)
        SELECT x.id, $8, x.type, x.at, x.data FROM r,
               unnest($14::text[], $15::text[], $16::timestamptz[], $17::text[])
               AS x (id, type, at, data)
    )
    SELECT seq FROM r";

impl PostgresStore {
    /// [`Store::update_recorded`]; given the resource as it was read (`previous`), `name_key`
    /// is left as stored when the name's key is unchanged. That is what keeps a resource whose
    /// key was left as an older fold wrote it (two names that became one, see `refold_keys`)
    /// writable without a rename.
    async fn update(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
        previous: Option<&StoredResource>,
    ) -> Result<(), StoreError> {
        let ix = indexed(resource);
        let unchanged = previous
            .is_some_and(|p| p.kind == resource.kind && name_key(p.kind, &p.data) == ix.name_key);
        let name_key = (!unchanged).then_some(ix.name_key.as_str());
        let keep = matches!(members, MembersChange::Keep);
        // Without member rows to change, the events are written by the update's own statement;
        // with them, after the members, in the same transaction.
        let (inline, after): (&[NewEvent], &[NewEvent]) =
            if keep { (events, &[]) } else { (&[], events) };
        let a = event_arrays(inline);
        // Byte order, as the "C" collation of `value_key` compares.
        let mut sorted_emails = ix.emails.clone();
        sorted_emails.sort_unstable();
        let statement = sqlx::query_scalar::<_, i64>(UPDATE_RESOURCE)
            .bind(name_key)
            .bind(&ix.display)
            .bind(&ix.external_id)
            .bind(ix.active)
            .bind(resource.last_modified)
            .bind(resource.version)
            .bind(resource.data.to_string())
            .bind(tenant.as_str())
            .bind(&resource.id)
            .bind(resource.kind.as_str())
            .bind(expected_version)
            .bind(&ix.emails)
            .bind(&sorted_emails)
            .bind(&a.ids)
            .bind(&a.types)
            .bind(&a.at)
            .bind(&a.data);
        let conflict = |e: sqlx::Error| {
            if is_unique_violation(&e) {
                StoreError::Conflict(conflict_attribute(resource.kind))
            } else {
                db_err(e)
            }
        };
        if keep {
            let mut conn = self.conn().await?;
            return match statement
                .fetch_optional(&mut *conn)
                .await
                .map_err(conflict)?
            {
                Some(_) => Ok(()),
                None => Err(missing_or_stale(&mut conn, tenant, resource.kind, &resource.id).await),
            };
        }
        let mut tx = self.begin().await?;
        let Some(seq) = statement.fetch_optional(&mut *tx).await.map_err(conflict)? else {
            return Err(missing_or_stale(&mut tx, tenant, resource.kind, &resource.id).await);
        };
        apply_members(&mut tx, tenant, seq, members).await?;
        insert_events(&mut tx, tenant, after).await?;
        tx.commit().await.map_err(db_err)
    }
}

/// The total of a list whose page does not tell it: counted by the filter, or, without one,
/// the sum of the counters kept beside the rows (a count(*) of a large tenant would walk its
/// index on every page).
async fn count(
    conn: &mut PgConnection,
    tenant: &TenantId,
    kind: Kind,
    plan: &ListPlan,
    at_most: Option<u64>,
) -> Result<u64, StoreError> {
    let (count_stmt, binds) = match plan.count(at_most) {
        Some(stmt) => (numbered(&stmt), plan.binds.as_slice()),
        None => (
            "SELECT coalesce(sum(n), 0)::bigint FROM resource_counts
                 WHERE tenant_id = $1 AND kind = $2"
                .to_owned(),
            &[][..],
        ),
    };
    let n: i64 = bind_scalar(sqlx::query_scalar(&count_stmt), tenant, kind, binds)
        .fetch_one(&mut *conn)
        .await
        .map_err(db_err)?;
    Ok(u64::try_from(n).unwrap_or(0))
}
