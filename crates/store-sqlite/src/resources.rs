//! [`ResourceStore`] on SQLite: users, groups and members. Hot reads run on the read-only
//! connections (`reads`), writes through the writer (`writer`).

use async_trait::async_trait;
use roster_scim::schema::ResourceSchema;
use roster_store::sql::decode;
use roster_store::sql::list::ListPlan;
use roster_store::sql::list::without_unasked_relations;
use roster_store::sql::list::{memory_needs_members, total_of_page};
use roster_store::sql::{Indexed, conflict_attribute, indexed};
use roster_store::{
    GroupRef, Kind, ListQuery, Member, MemberRef, MembersChange, NewEvent, Page, PageBudget,
    ResourceStore, StoreError, StoredResource, TenantId, memory_eval,
};
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, params};
use time::OffsetDateTime;

use crate::cold::{all, first};
use crate::{
    RESOURCE_COLUMNS, RESOURCE_COLUMNS_WITH_GROUPS, SqliteStore, exec, is_unique_violation,
    lite_err, query_opt, reads, ts, writer,
};
use roster_store::sql::decode::Columns as _;

#[async_trait]
impl ResourceStore for SqliteStore {
    async fn insert_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        // Everything that needs no database is done here, in the request's task: the writer,
        // which every write waits for, only runs statements.
        let row = Prepared::of(tenant, resource);
        let members = members.to_vec();
        let events = writer::event_rows(tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let inserted = tx
                        .prepare_cached(
                            "INSERT INTO resources (tenant_id, id, kind, name_key, display,
                                 external_id, active, created, last_modified, version, data)
                             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq",
                        )
                        .and_then(|mut q| {
                            q.query_row(
                                params![
                                    row.tenant.as_str(),
                                    row.id,
                                    row.kind.as_str(),
                                    row.ix.name_key,
                                    row.ix.display,
                                    row.ix.external_id,
                                    row.ix.active,
                                    row.created,
                                    row.last_modified,
                                    row.version,
                                    row.data,
                                ],
                                |r| r.get::<_, i64>(0),
                            )
                        });
                    let seq = match inserted {
                        Ok(seq) => seq,
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::Conflict(conflict_attribute(row.kind)));
                        }
                        Err(e) => return Err(lite_err(e)),
                    };
                    write_emails(tx, &row.tenant, seq, &row.ix.emails, &[])?;
                    add_members(tx, &row.tenant, seq, &members)?;
                    Ok(())
                },
                events,
            )
            .await
    }

    async fn get(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<Option<StoredResource>, StoreError> {
        let stmt = format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = ? AND r.id = ? AND r.kind = ?",
            columns(kind, with_relations)
        );
        let params = [
            SqlValue::Text(tenant.as_str().to_owned()),
            SqlValue::Text(id.to_owned()),
            SqlValue::Text(kind.as_str().to_owned()),
        ];
        if with_relations && kind == Kind::Group {
            // A group may have many members: off the runtime's workers.
            return self
                .readers
                .blocking(move |conn| {
                    let Some((seq, mut group)) = reads::resources(conn, &stmt, &params)?.pop()
                    else {
                        return Ok(None);
                    };
                    group.members = Some(reads::members_of(conn, seq)?);
                    Ok(Some(group))
                })
                .await;
        }
        self.readers
            .now(|conn| {
                Ok(reads::resources(conn, &stmt, &params)?
                    .pop()
                    .map(|(_, r)| r))
            })
            .await
    }

    async fn update_recorded(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        self.update_with(
            tenant,
            resource,
            expected_version,
            members,
            events,
            Unchanged::default(),
        )
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
        let (before, after) = (indexed(previous), indexed(resource));
        let unchanged = Unchanged {
            name_key: before.name_key == after.name_key,
            external_id: before.external_id == after.external_id,
        };
        self.update_with(
            tenant,
            resource,
            previous.version,
            members,
            events,
            unchanged,
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
        let (tenant, group_id, change) = (tenant.clone(), group_id.to_owned(), change.clone());
        let at = ts(at);
        let events = writer::event_rows(&tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let row = query_opt(
                        tx,
                        "UPDATE resources SET version = version + 1, last_modified = ?
                         WHERE tenant_id = ? AND id = ? AND kind = 'Group'
                           AND (? IS NULL OR version = ?)
                         RETURNING seq, version",
                        params![
                            at,
                            tenant.as_str(),
                            group_id,
                            expected_version,
                            expected_version
                        ],
                        |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
                    )?;
                    let Some((seq, version)) = row else {
                        let exists = query_opt(
                            tx,
                            "SELECT seq FROM resources
                             WHERE tenant_id = ? AND id = ? AND kind = 'Group'",
                            params![tenant.as_str(), group_id],
                            |r| r.get::<_, i64>(0),
                        )?;
                        return Err(match exists {
                            Some(_) => StoreError::VersionMismatch,
                            None => StoreError::NotFound,
                        });
                    };
                    apply_members(tx, &tenant, seq, &change)?;
                    Ok(version)
                },
                events,
            )
            .await
    }

    async fn delete_recorded(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
        events: &[NewEvent],
    ) -> Result<(), StoreError> {
        let (tenant, id) = (tenant.clone(), id.to_owned());
        let events = writer::event_rows(&tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    let version = query_opt(
                        tx,
                        "SELECT version FROM resources WHERE tenant_id = ? AND id = ? AND kind = ?",
                        params![tenant.as_str(), id, kind.as_str()],
                        |r| r.get::<_, i64>(0),
                    )?;
                    match (version, expected_version) {
                        (None, _) => return Err(StoreError::NotFound),
                        (Some(v), Some(e)) if v != e => return Err(StoreError::VersionMismatch),
                        _ => {}
                    }
                    // Memberships and e-mail rows go with the resource (ON DELETE CASCADE).
                    exec(
                        tx,
                        "DELETE FROM resources WHERE tenant_id = ? AND id = ? AND kind = ?",
                        params![tenant.as_str(), id, kind.as_str()],
                    )?;
                    Ok(())
                },
                events,
            )
            .await
    }

    async fn list(
        &self,
        tenant: &TenantId,
        kind: Kind,
        schema: &ResourceSchema,
        query: &ListQuery,
    ) -> Result<Page, StoreError> {
        let plan = ListPlan::new(kind, schema, query);
        let mut params = vec![
            SqlValue::Text(tenant.as_str().to_owned()),
            SqlValue::Text(kind.as_str().to_owned()),
        ];
        params.extend(plan.binds.iter().map(reads::value));
        let with_members = query.with_relations && kind == Kind::Group;
        let page = match &plan.order {
            Some(order) => {
                let (limit, offset) = (query.limit, query.offset);
                let stmt = format!(
                    "SELECT {} FROM resources r WHERE {} {}",
                    columns(kind, query.with_relations),
                    plan.where_clause,
                    ListPlan::page_clause(order, query)
                );
                // Without a filter the total is a counter kept beside the rows.
                let count_stmt = plan.count(query.count_at_most).unwrap_or_else(|| {
                    "SELECT coalesce((SELECT n FROM resource_counts r
                              WHERE r.tenant_id = ? AND r.kind = ?), 0)"
                        .to_owned()
                });
                let mut budget = PageBudget::of(query);
                let read = move |conn: &rusqlite::Connection| -> Result<Page, StoreError> {
                    let mut resources = Vec::new();
                    if limit > 0 {
                        let rows = reads::resources_within(
                            conn,
                            &stmt,
                            &params,
                            &mut budget,
                            |seq, r| {
                                if with_members {
                                    r.members = Some(reads::members_of(conn, seq)?);
                                }
                                Ok(())
                            },
                        )?;
                        resources.extend(rows.into_iter().map(|(_, r)| r));
                    }
                    let got = resources.len() as u64;
                    let total = match total_of_page(offset, limit, got, budget.cut) {
                        Some(total) => total,
                        None => {
                            let n: i64 = conn
                                .prepare_cached(&count_stmt)
                                .and_then(|mut q| {
                                    q.query_row(rusqlite::params_from_iter(&params), |row| {
                                        row.get(0)
                                    })
                                })
                                .map_err(lite_err)?;
                            u64::try_from(n).unwrap_or(0)
                        }
                    };
                    Ok(Page { total, resources })
                };
                // A page of users is bounded by its LIMIT; a page of groups with their members,
                // or one far into the results, is read off the runtime's workers.
                if with_members || offset > 1_000 {
                    self.readers.blocking(read).await?
                } else {
                    self.readers.now(read).await?
                }
            }
            None => {
                // The SQL narrows; the protocol crate decides, sorts and pages.
                let stmt = plan.narrow(columns(kind, query.with_relations));
                let needs_members = memory_needs_members(kind, query);
                // Rows are decided as they are read: the page, not the tenant, is held.
                let (schema, query) = (schema.clone(), query.clone());
                self.readers
                    .blocking(move |conn| {
                        let mut page = memory_eval::MemoryPage::new(&schema, &query);
                        reads::each_resource(conn, &stmt, &params, |seq, mut r| {
                            if needs_members {
                                r.members = Some(reads::members_of(conn, seq)?);
                            }
                            page.push(r);
                            Ok(())
                        })?;
                        Ok(page.finish())
                    })
                    .await?
            }
        };
        Ok(without_unasked_relations(page, query))
    }

    async fn groups_of(
        &self,
        tenant: &TenantId,
        user_ids: &[String],
    ) -> Result<Vec<(String, GroupRef)>, StoreError> {
        let tenant = tenant.as_str();
        self.readers
            .now(|conn| {
                let mut out = Vec::new();
                for chunk in user_ids.chunks(200) {
                    let placeholders = vec!["?"; chunk.len()].join(",");
                    let stmt = format!(
                        "SELECT u.id, g.id, g.display
                         FROM resources u JOIN members x ON x.member_seq = u.seq
                         JOIN resources g ON g.seq = x.group_seq
                         WHERE u.tenant_id = ? AND u.id IN ({placeholders}) ORDER BY g.seq"
                    );
                    let mut q = conn.prepare_cached(&stmt).map_err(lite_err)?;
                    let params = std::iter::once(tenant).chain(chunk.iter().map(String::as_str));
                    let rows = q
                        .query_map(rusqlite::params_from_iter(params), |row| {
                            Ok((
                                row.get::<_, String>(0)?,
                                GroupRef {
                                    id: row.get(1)?,
                                    display: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
                                },
                            ))
                        })
                        .map_err(lite_err)?;
                    for row in rows {
                        out.push(row.map_err(lite_err)?);
                    }
                }
                Ok(out)
            })
            .await
    }

    async fn resources_after(
        &self,
        tenant: &TenantId,
        kind: Kind,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, StoredResource)>, StoreError> {
        let sql = format!(
            "SELECT {} FROM resources r WHERE r.tenant_id = ? AND r.kind = ? AND r.seq > ?
             ORDER BY r.seq LIMIT ?",
            columns(kind, true)
        );
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let (tenant, kind) = (tenant.as_str().to_owned(), kind.as_str());
        self.readers
            .blocking(move |conn| {
                all(conn, &sql, params![tenant, kind, after, limit], |r| {
                    reads::resource(r.0).map_err(lite_err)?
                })
            })
            .await
    }

    async fn members_after(
        &self,
        tenant: &TenantId,
        group_id: &str,
        after: i64,
        limit: u64,
    ) -> Result<Vec<(i64, Member)>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.readers
            .now(|conn| {
                let group: Option<i64> = first(
                    conn,
                    "SELECT seq FROM resources WHERE tenant_id = ? AND id = ? AND kind = 'Group'",
                    params![tenant.as_str(), group_id],
                    |r| r.int("seq"),
                )?;
                let group = group.ok_or(StoreError::NotFound)?;
                all(
                    conn,
                    "SELECT m.seq, m.id, m.kind, coalesce(x.display, m.display) AS display
                     FROM members x JOIN resources m ON m.seq = x.member_seq
                     WHERE x.group_seq = ? AND m.seq > ? ORDER BY m.seq LIMIT ?",
                    params![group, after, limit],
                    |r| Ok((r.int("seq")?, decode::member(r)?)),
                )
            })
            .await
    }
}

/// Which indexed columns an update leaves as they are stored.
#[derive(Debug, Clone, Copy, Default)]
struct Unchanged {
    name_key: bool,
    external_id: bool,
}

impl Unchanged {
    /// The UPDATE for these columns: it sets the changed ones (bound first, in the order
    /// name_key, external_id), then display, active, last_modified, version and data, and
    /// returns the row's seq and its e-mail keys as they were.
    fn statement(self) -> &'static str {
        macro_rules! update {
            ($set:literal) => {
                concat!(
                    "UPDATE resources SET ",
                    $set,
                    "display = ?, active = ?, last_modified = ?, version = ?, data = ?
                     WHERE tenant_id = ? AND id = ? AND kind = ? AND version = ?
                     RETURNING seq, (SELECT group_concat(value_key, char(31)) FROM
                         (SELECT value_key FROM emails WHERE resource_seq = resources.seq
                          ORDER BY rowid))"
                )
            };
        }
        match (self.name_key, self.external_id) {
            (false, false) => update!("name_key = ?, external_id = ?, "),
            (false, true) => update!("name_key = ?, "),
            (true, false) => update!("external_id = ?, "),
            (true, true) => update!(""),
        }
    }
}

/// A resource as its row is written: indexed columns, timestamps and JSON text, prepared
/// outside the writer.
struct Prepared {
    tenant: TenantId,
    id: String,
    kind: Kind,
    ix: Indexed,
    created: String,
    last_modified: String,
    version: i64,
    data: String,
}

impl Prepared {
    fn of(tenant: &TenantId, resource: &StoredResource) -> Self {
        Prepared {
            tenant: tenant.clone(),
            id: resource.id.clone(),
            kind: resource.kind,
            ix: indexed(resource),
            created: ts(resource.created),
            last_modified: ts(resource.last_modified),
            version: resource.version,
            data: resource.data.to_string(),
        }
    }
}

fn columns(kind: Kind, with_relations: bool) -> &'static str {
    if with_relations && kind == Kind::User {
        RESOURCE_COLUMNS_WITH_GROUPS
    } else {
        RESOURCE_COLUMNS
    }
}

/// Inserts the member rows of a group, refusing ids that are not resources of the tenant.
fn add_members(
    tx: &Connection,
    tenant: &TenantId,
    group_seq: i64,
    members: &[MemberRef],
) -> Result<(), StoreError> {
    for MemberRef { id, display } in members {
        // One statement per member: it finds the member in the tenant (no row: an unknown
        // member), and keeps a client's display name only where it differs from the member's
        // own, so that renaming a user still shows in the groups nobody labelled otherwise.
        let done = exec(
            tx,
            "INSERT INTO members (group_seq, member_seq, display)
             SELECT ?, r.seq, CASE WHEN ? IS NULL OR ? = r.display THEN NULL ELSE ? END
             FROM resources r WHERE r.tenant_id = ? AND r.id = ?
             ON CONFLICT (group_seq, member_seq) DO UPDATE
             SET display = coalesce(excluded.display, members.display)",
            params![group_seq, display, display, display, tenant.as_str(), id],
        )?;
        if done == 0 {
            return Err(StoreError::UnknownMember(id.clone()));
        }
    }
    Ok(())
}

/// Applies a change of members to a group's rows.
fn apply_members(
    tx: &Connection,
    tenant: &TenantId,
    group_seq: i64,
    change: &MembersChange,
) -> Result<(), StoreError> {
    match change {
        MembersChange::Keep => {}
        MembersChange::Replace(ids) => {
            exec(
                tx,
                "DELETE FROM members WHERE group_seq = ?",
                params![group_seq],
            )?;
            add_members(tx, tenant, group_seq, ids)?;
        }
        MembersChange::Delta { add, remove } => {
            for id in remove {
                exec(
                    tx,
                    "DELETE FROM members WHERE group_seq = ? AND member_seq =
                       (SELECT seq FROM resources WHERE tenant_id = ? AND id = ?)",
                    params![group_seq, tenant.as_str(), id],
                )?;
            }
            add_members(tx, tenant, group_seq, add)?;
        }
    }
    Ok(())
}

/// Rewrites a resource's e-mail index rows when they differ from `existing` (what the rows
/// hold now, as the statement that changed the resource read them).
fn write_emails(
    tx: &Connection,
    tenant: &TenantId,
    seq: i64,
    emails: &[String],
    existing: &[String],
) -> Result<(), StoreError> {
    // Most updates leave e-mails as they were.
    if existing == emails {
        return Ok(());
    }
    if !existing.is_empty() {
        exec(
            tx,
            "DELETE FROM emails WHERE resource_seq = ?",
            params![seq],
        )?;
    }
    if emails.is_empty() {
        return Ok(());
    }
    // One statement for all of a user's addresses.
    let rows = vec!["(?, ?, ?)"; emails.len()].join(", ");
    let stmt = format!("INSERT INTO emails (resource_seq, tenant_id, value_key) VALUES {rows}");
    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(emails.len() * 3);
    let tenant = tenant.as_str();
    for e in emails {
        params.extend([&seq as &dyn rusqlite::ToSql, &tenant, e]);
    }
    exec(tx, &stmt, params.as_slice())?;
    Ok(())
}

impl SqliteStore {
    /// Writes a new state of a resource; `unchanged` names the unique and indexed columns
    /// whose values are known to be as stored, which the statement then leaves alone (an
    /// index entry set to its own value is still deleted and inserted again).
    async fn update_with(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
        events: &[NewEvent],
        unchanged: Unchanged,
    ) -> Result<(), StoreError> {
        // Everything that needs no database is done here, in the request's task (see insert).
        let row = Prepared::of(tenant, resource);
        let members = members.clone();
        let events = writer::event_rows(tenant, events);
        self.writer
            .write_recorded(
                move |tx| {
                    // The statement also reads the e-mail rows as they are, so that they are
                    // rewritten only when they change, without a statement of its own.
                    let mut params: Vec<&dyn rusqlite::ToSql> = Vec::with_capacity(11);
                    if !unchanged.name_key {
                        params.push(&row.ix.name_key);
                    }
                    if !unchanged.external_id {
                        params.push(&row.ix.external_id);
                    }
                    let (tenant, kind) = (row.tenant.as_str(), row.kind.as_str());
                    params.extend([
                        &row.ix.display as &dyn rusqlite::ToSql,
                        &row.ix.active,
                        &row.last_modified,
                        &row.version,
                        &row.data,
                        &tenant,
                        &row.id,
                        &kind,
                        &expected_version,
                    ]);
                    let updated = tx.prepare_cached(unchanged.statement()).and_then(|mut q| {
                        q.query_row(params.as_slice(), |r| {
                            Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
                        })
                        .optional()
                    });
                    let (seq, existing) = match updated {
                        Ok(Some(found)) => found,
                        Ok(None) => {
                            let exists = query_opt(
                                tx,
                                "SELECT seq FROM resources
                                 WHERE tenant_id = ? AND id = ? AND kind = ?",
                                params![tenant, row.id, kind],
                                |r| r.get::<_, i64>(0),
                            )?;
                            return Err(match exists {
                                Some(_) => StoreError::VersionMismatch,
                                None => StoreError::NotFound,
                            });
                        }
                        Err(e) if is_unique_violation(&e) => {
                            return Err(StoreError::Conflict(conflict_attribute(row.kind)));
                        }
                        Err(e) => return Err(lite_err(e)),
                    };
                    let existing: Vec<String> = existing
                        .map(|e| e.split('\u{1f}').map(str::to_owned).collect())
                        .unwrap_or_default();
                    write_emails(tx, &row.tenant, seq, &row.ix.emails, &existing)?;
                    apply_members(tx, &row.tenant, seq, &members)?;
                    Ok(())
                },
                events,
            )
            .await
    }
}
