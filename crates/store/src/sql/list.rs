//! How a list runs on a SQL backend, decided once for every backend: the condition the filter
//! translates to, whether the database decides the page (an exact translation, an indexed
//! order) or only narrows it for the protocol crate ([`memory_eval`](crate::memory_eval)), and
//! when the page itself tells the total (the count rule).
//!
//! A backend runs the statements its own way (SQLite on its read connections, PostgreSQL with
//! the page's keys first) and keeps its own unfiltered count (the counters beside the rows).

use roster_scim::schema::ResourceSchema;

use super::{Bind, Sql, sort_column, translate};
use crate::{Kind, ListQuery, Page};

/// A list request as SQL over `resources r`, with `?` placeholders: the tenant, the kind, then
/// [`ListPlan::binds`].
#[derive(Debug, Clone)]
pub struct ListPlan {
    /// The translated filter, when there is one and part of it translates.
    pub condition: Option<String>,
    /// The tenant, the kind and the condition, for a `WHERE`.
    pub where_clause: String,
    /// The condition's parameters, after the tenant and the kind.
    pub binds: Vec<Bind>,
    /// The `ORDER BY` of a page the database decides, or `None` when it only narrows: the
    /// filter did not translate exactly, or the sort is not on an indexed column.
    pub order: Option<String>,
}

impl ListPlan {
    /// The plan of `query` over resources of `kind`.
    pub fn new(kind: Kind, schema: &ResourceSchema, query: &ListQuery) -> ListPlan {
        let mut sql = Sql::default();
        let (condition, exact) = match &query.filter {
            None => (None, true),
            Some(f) => match translate(f, kind, schema, &mut sql) {
                Some(t) => (Some(t.sql), t.exact),
                None => (None, false),
            },
        };
        let where_clause = match &condition {
            Some(c) => format!("r.tenant_id = ? AND r.kind = ? AND ({c})"),
            None => "r.tenant_id = ? AND r.kind = ?".to_owned(),
        };
        let order = match &query.sort {
            None => Some("r.seq".to_owned()),
            Some(sort) => sort_column(sort, kind, schema),
        };
        ListPlan {
            condition,
            where_clause,
            binds: sql.binds,
            order: if exact { order } else { None },
        }
    }

    /// `ORDER BY … LIMIT … OFFSET …` of the page `query` asks for, in `order`.
    pub fn page_clause(order: &str, query: &ListQuery) -> String {
        format!(
            "ORDER BY {order}, r.seq LIMIT {} OFFSET {}",
            query.limit.min(i64::MAX as u64),
            query.offset.min(i64::MAX as u64)
        )
    }

    /// The statement that narrows: every row the condition admits, in creation order, for the
    /// protocol crate to decide, sort and page.
    pub fn narrow(&self, columns: &str) -> String {
        format!(
            "SELECT {columns} FROM resources r WHERE {} ORDER BY r.seq",
            self.where_clause
        )
    }

    /// The statement that counts a filtered list; `None` without a filter, where the backend
    /// reads its counters instead (a `count(*)` of a large tenant would walk its whole index
    /// on every page).
    /// With `at_most`, the count stops there (`SELECT count(*)` of a `LIMIT`ed subquery).
    pub fn count(&self, at_most: Option<u64>) -> Option<String> {
        self.condition.as_ref().map(|_| match at_most {
            None => format!(
                "SELECT count(*) FROM resources r WHERE {}",
                self.where_clause
            ),
            Some(cap) => format!(
                "SELECT count(*) FROM (SELECT 1 FROM resources r WHERE {} LIMIT {cap}) AS capped",
                self.where_clause
            ),
        })
    }
}

/// Whether a list decided in memory must read each group's members: when they are asked for,
/// or when the filter or sort may name them. Otherwise a filter the SQL cannot decide would
/// read every member row of every group of the tenant only to drop them.
pub fn memory_needs_members(kind: Kind, query: &ListQuery) -> bool {
    let names_members = |text: String| text.to_ascii_lowercase().contains("members");
    kind == Kind::Group
        && (query.with_relations
            || query
                .filter
                .as_ref()
                .is_some_and(|f| names_members(f.to_string()))
            || query
                .sort
                .as_ref()
                .is_some_and(|s| names_members(s.path.to_string())))
}

/// The total a page of `got` resources tells by itself, asked for with `offset` and `limit`
/// ([`ListQuery::offset`], [`ListQuery::limit`]): a short page that starts inside the results
/// ends them, so its end is the total, and the lookups identity providers make (`userName eq`)
/// need no count. A page `cut` by its byte budget tells nothing; nor does a full one. `None`:
/// count.
pub fn total_of_page(offset: u64, limit: u64, got: u64, cut: bool) -> Option<u64> {
    (limit > 0 && got < limit && !cut && (got > 0 || offset == 0)).then_some(offset + got)
}

/// Drops the relations read for a list that did not ask for them (the narrowing statement
/// reads a group's members to evaluate a `members` filter).
pub fn without_unasked_relations(mut page: Page, query: &ListQuery) -> Page {
    if !query.with_relations {
        for r in &mut page.resources {
            r.members = None;
            r.groups = None;
        }
    }
    page
}
