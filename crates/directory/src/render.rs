//! Turns a stored resource into the SCIM JSON a client sees: `id`, `meta` with `location` and
//! `version`, a group's `members` and a user's `groups`; and an event as the events API and
//! webhooks carry it.

use roster_store::{Event, GroupRef, Kind, StoredResource};
use serde_json::{Map, Value, json};

/// An event as the events API and webhooks carry it.
pub fn event_json(e: &Event) -> Value {
    json!({
        "id": e.id,
        "type": e.event_type,
        "tenant_id": e.tenant_id.as_str(),
        "occurred_at": roster_scim::value::format_datetime(e.occurred_at),
        "data": e.data,
    })
}

/// The endpoint of a kind, relative to a tenant's SCIM base URL.
pub fn endpoint(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "Users",
        Kind::Group => "Groups",
    }
}

/// The `meta.location` of a resource.
pub fn location(base_url: &str, kind: Kind, id: &str) -> String {
    format!("{base_url}/{}/{id}", endpoint(kind))
}

/// The ETag and `meta.version` of a version number.
pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The full SCIM representation (before projection). `groups` are the user's groups, when the
/// caller read them.
pub fn to_scim(resource: &StoredResource, groups: Option<&[GroupRef]>, base_url: &str) -> Value {
    let mut out = Map::new();
    let data = resource.data.as_object();
    if let Some(schemas) = data.and_then(|d| d.get("schemas")) {
        out.insert("schemas".into(), schemas.clone());
    }
    out.insert("id".into(), Value::String(resource.id.clone()));
    if let Some(d) = data {
        for (k, v) in d {
            if k != "schemas" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    // An empty list is an unassigned attribute (RFC 7643 §2.5), so it is left out.
    if let Some(members) = resource.members.as_ref().filter(|m| !m.is_empty()) {
        let list: Vec<Value> = members
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("value".into(), Value::String(m.id.clone()));
                o.insert(
                    "$ref".into(),
                    Value::String(location(base_url, m.kind, &m.id)),
                );
                o.insert("type".into(), Value::String(m.kind.as_str().into()));
                if let Some(d) = &m.display {
                    o.insert("display".into(), Value::String(d.clone()));
                }
                Value::Object(o)
            })
            .collect();
        out.insert("members".into(), Value::Array(list));
    }
    if let Some(groups) = groups
        && !groups.is_empty()
    {
        let list: Vec<Value> = groups
            .iter()
            .map(|g| {
                json!({
                    "value": g.id,
                    "$ref": location(base_url, Kind::Group, &g.id),
                    "display": g.display,
                    "type": "direct",
                })
            })
            .collect();
        out.insert("groups".into(), Value::Array(list));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": resource.kind.as_str(),
            "created": roster_scim::value::format_datetime(resource.created),
            "lastModified": roster_scim::value::format_datetime(resource.last_modified),
            "location": location(base_url, resource.kind, &resource.id),
            "version": etag(resource.version),
        }),
    );
    Value::Object(out)
}
