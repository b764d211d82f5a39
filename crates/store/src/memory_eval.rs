//! The in-memory half of listing: what a backend cannot express in SQL is evaluated here by the
//! protocol crate, over the rows the database already narrowed down.

use roster_scim::schema::ResourceSchema;
use serde_json::{Map, Value, json};

use crate::{ListQuery, Page, StoredResource};

/// The SCIM form of a stored resource for filtering and sorting: `id`, `meta` (without
/// `location`, which only the HTTP layer knows) and the members of a group.
pub fn scim_view(resource: &StoredResource) -> Value {
    let mut out = Map::new();
    out.insert("id".into(), Value::String(resource.id.clone()));
    if let Value::Object(data) = &resource.data {
        for (k, v) in data {
            out.insert(k.clone(), v.clone());
        }
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": resource.kind.as_str(),
            "created": roster_scim::value::format_datetime(resource.created),
            "lastModified": roster_scim::value::format_datetime(resource.last_modified),
            "version": format!("W/\"{}\"", resource.version),
        }),
    );
    // An empty list is an unassigned attribute (RFC 7643 §2.5), so it is left out.
    if let Some(members) = resource.members.as_ref().filter(|m| !m.is_empty()) {
        out.insert(
            "members".into(),
            Value::Array(
                members
                    .iter()
                    .map(|m| {
                        let mut o = Map::new();
                        o.insert("value".into(), Value::String(m.id.clone()));
                        o.insert("type".into(), Value::String(m.kind.as_str().into()));
                        if let Some(d) = &m.display {
                            o.insert("display".into(), Value::String(d.clone()));
                        }
                        Value::Object(o)
                    })
                    .collect(),
            ),
        );
    }
    Value::Object(out)
}

/// Filters, sorts and pages candidate rows in memory. `rows` must be a superset of the matching
/// resources, in creation order.
pub fn finish(rows: Vec<StoredResource>, schema: &ResourceSchema, query: &ListQuery) -> Page {
    let mut page = MemoryPage::new(schema, query);
    for r in rows {
        page.push(r);
    }
    page.finish()
}

/// A list decided in memory, fed one candidate row at a time as the backend reads them, so
/// that what it holds is the page, not the tenant: a row that does not match is dropped at
/// once; without a sort only the first `offset + limit` matches are kept; with one, the best
/// `offset + limit` so far (pruned as they come, by a stable sort, so ties keep creation
/// order). Only the total counts every match.
pub struct MemoryPage<'a> {
    schema: &'a ResourceSchema,
    query: &'a ListQuery,
    keep: usize,
    total: u64,
    matched: Vec<(StoredResource, Value)>,
}

impl<'a> MemoryPage<'a> {
    /// An empty page for `query`.
    pub fn new(schema: &'a ResourceSchema, query: &'a ListQuery) -> Self {
        let keep = usize::try_from(query.offset.saturating_add(query.limit)).unwrap_or(usize::MAX);
        MemoryPage {
            schema,
            query,
            keep,
            total: 0,
            matched: Vec::new(),
        }
    }

    /// Takes the next candidate row (rows come in creation order).
    pub fn push(&mut self, r: StoredResource) {
        let view = scim_view(&r);
        if !self
            .query
            .filter
            .as_ref()
            .is_none_or(|f| f.matches(&view, self.schema))
        {
            return;
        }
        self.total += 1;
        match &self.query.sort {
            None => {
                if self.matched.len() < self.keep {
                    self.matched.push((r, view));
                }
            }
            Some(sort) => {
                self.matched.push((r, view));
                if self.matched.len() >= self.keep.saturating_mul(2).max(1024) {
                    let schema = self.schema;
                    self.matched
                        .sort_by(|a, b| sort.compare(schema, &a.1, &b.1));
                    self.matched.truncate(self.keep);
                }
            }
        }
    }

    /// The page: sorted, offset, cut to `limit` and to the byte budget.
    pub fn finish(mut self) -> Page {
        if let Some(sort) = &self.query.sort {
            let schema = self.schema;
            self.matched
                .sort_by(|a, b| sort.compare(schema, &a.1, &b.1));
        }
        let query = self.query;
        let mut budget = crate::PageBudget::of(query);
        let mut resources = Vec::new();
        for (r, _) in self
            .matched
            .into_iter()
            .skip(usize::try_from(query.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(query.limit).unwrap_or(usize::MAX))
        {
            if !budget.admits(resources.len()) {
                break;
            }
            budget.spend(roster_scim::limits::json_len(&r.data));
            // Members read only to evaluate the filter are not sent, so not counted.
            if query.with_relations {
                budget.spend_relations(&r);
            }
            resources.push(r);
        }
        Page {
            total: self.total,
            resources,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Kind;
    use roster_scim::filter::Filter;
    use roster_scim::sort::{SortBy, SortOrder};
    use roster_scim::{AttrPath, Registry};
    use time::OffsetDateTime;

    fn user(i: usize) -> StoredResource {
        // Many ties: 37 distinct titles over the rows, so the sort's stability matters.
        StoredResource {
            id: format!("u{i:05}"),
            kind: Kind::User,
            version: 1,
            created: OffsetDateTime::UNIX_EPOCH,
            last_modified: OffsetDateTime::UNIX_EPOCH,
            data: json!({"userName": format!("user{i}"), "title": format!("t{}", (i * 7919) % 37)}),
            members: None,
            groups: None,
        }
    }

    /// The page kept while streaming (pruned every so often) is the page of the whole sorted
    /// list: same order, ties in creation order, same total.
    #[test]
    fn a_streamed_page_equals_the_page_of_the_whole_list() {
        let registry = Registry::core();
        let schema = registry.resource("User").expect("User");
        for (offset, limit, order) in [
            (0, 5, SortOrder::Ascending),
            (10, 5, SortOrder::Descending),
            (2990, 100, SortOrder::Ascending),
            (0, 0, SortOrder::Ascending),
        ] {
            let mut query = ListQuery {
                filter: Some(Filter::parse("title pr").expect("filter")),
                sort: Some(SortBy {
                    path: AttrPath::simple("title"),
                    order,
                }),
                offset,
                limit,
                with_relations: false,
                max_bytes: usize::MAX,
                count_at_most: None,
            };
            let streamed = finish((0..3000).map(user).collect(), schema, &query);
            query.offset = 0;
            query.limit = u64::MAX;
            let whole = finish((0..3000).map(user).collect(), schema, &query);
            let expected: Vec<&str> = whole
                .resources
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|r| r.id.as_str())
                .collect();
            let got: Vec<&str> = streamed.resources.iter().map(|r| r.id.as_str()).collect();
            assert_eq!(got, expected, "offset {offset}, limit {limit}, {order:?}");
            assert_eq!(streamed.total, 3000);
        }
    }
}
