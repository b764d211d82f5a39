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
    let mut matched: Vec<(StoredResource, Value)> = rows
        .into_iter()
        .map(|r| {
            let view = scim_view(&r);
            (r, view)
        })
        .filter(|(_, view)| {
            query
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(view, schema))
        })
        .collect();
    if let Some(sort) = &query.sort {
        matched.sort_by(|a, b| sort.compare(schema, &a.1, &b.1));
    }
    let total = matched.len() as u64;
    let mut budget = crate::PageBudget::of(query);
    let mut resources = Vec::new();
    for (r, _) in matched
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
    Page { total, resources }
}
