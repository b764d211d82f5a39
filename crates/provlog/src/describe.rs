//! What a request did, in words, and which resource it was about: "Created user
//! ada@contoso.com", "Added 3 members to Sales, removed 1", "Looked up userName eq
//! "ada@contoso.com": not found". For a request that was refused, the same reading says what
//! was asked (its action and resource); the words then come from [`crate::explain`].

mod patch;

use serde_json::Value;

use crate::client::Client;
use crate::view::{Endpoint, Kind, View, get_ci};

/// What a request did.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Description {
    /// `create`, `replace`, `update`, `delete`, `get`, `list`, `search`, `bulk`, `token`,
    /// `discovery` or `other`.
    pub(crate) action: &'static str,
    /// The kind of resource, when it is one kind.
    pub(crate) kind: Option<Kind>,
    /// The resource's id, when known.
    pub(crate) id: String,
    /// Its userName or displayName, when known.
    pub(crate) name: String,
    /// What it did, in words, as if it succeeded.
    pub(crate) summary: String,
}

/// Describes the request of `v`.
pub(crate) fn describe(v: &View<'_>) -> Description {
    let method = v.seen.method.to_ascii_uppercase();
    match (&v.endpoint, method.as_str()) {
        (Endpoint::Collection(k), "GET") => lookup(v, Some(*k), v.param("filter"), "list"),
        (Endpoint::Collection(k), "POST") => create(v, *k),
        (Endpoint::Resource(k, id), "GET") => read(v, *k, id),
        (Endpoint::Resource(k, id), "PUT") => replace(v, *k, id),
        (Endpoint::Resource(k, id), "PATCH") => update(v, *k, id),
        (Endpoint::Resource(k, id), "DELETE") => {
            let name = v.seen.subject.clone().unwrap_or_default();
            Description {
                action: "delete",
                kind: Some(*k),
                id: id.clone(),
                summary: format!("Deleted {}", subject(*k, &name, id)),
                name,
            }
        }
        (Endpoint::Search(k), "POST") => {
            let filter = v
                .request
                .as_ref()
                .and_then(|r| get_ci(r, "filter"))
                .and_then(Value::as_str);
            lookup(v, *k, filter, "search")
        }
        (Endpoint::Bulk, "POST") => bulk(v),
        (Endpoint::Discovery(what), "GET") => Description {
            action: "discovery",
            kind: None,
            id: String::new(),
            name: String::new(),
            summary: format!("Read the service's configuration ({what})"),
        },
        (Endpoint::Token, "POST") => token(v),
        _ => Description {
            action: "other",
            kind: v.kind(),
            id: v.path_id().unwrap_or_default().to_owned(),
            name: String::new(),
            summary: format!("{method} {}", v.seen.path),
        },
    }
}

/// `user ada@contoso.com`, or `user {id}` when the name is not known.
fn subject(kind: Kind, name: &str, id: &str) -> String {
    let what = if name.is_empty() { id } else { name };
    format!("{} {what}", kind.noun())
}

/// `1 member`, `3 members`.
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A request's name attribute, or the response's.
fn name_in(v: &View<'_>, kind: Kind, request_first: bool) -> String {
    let attr = kind.name_attribute();
    let (a, b) = (v.request_str(attr), v.response_str(attr));
    let name = if request_first { a.or(b) } else { b.or(a) };
    name.or(v.seen.subject.as_deref())
        .unwrap_or_default()
        .to_owned()
}

fn create(v: &View<'_>, kind: Kind) -> Description {
    let name = name_in(v, kind, true);
    let mut summary = format!("Created {}", subject(kind, &name, ""));
    match kind {
        Kind::User => {
            if v.request
                .as_ref()
                .and_then(|r| get_ci(r, "active"))
                .and_then(boolean)
                == Some(false)
            {
                summary.push_str(" (inactive)");
            }
        }
        Kind::Group => {
            if let Some(n) = members_in(v).filter(|n| *n > 0) {
                summary.push_str(&format!(" with {}", members(v, n)));
            }
        }
    }
    Description {
        action: "create",
        kind: Some(kind),
        id: v.response_str("id").unwrap_or_default().to_owned(),
        name,
        summary,
    }
}

fn read(v: &View<'_>, kind: Kind, id: &str) -> Description {
    let name = name_in(v, kind, false);
    Description {
        action: "get",
        kind: Some(kind),
        id: id.to_owned(),
        summary: format!("Read {}", subject(kind, &name, id)),
        name,
    }
}

fn replace(v: &View<'_>, kind: Kind, id: &str) -> Description {
    let name = name_in(v, kind, true);
    let summary = match kind {
        // Okta and OneLogin deactivate (suspend) a user by sending it whole with active false.
        Kind::User
            if v.request
                .as_ref()
                .and_then(|r| get_ci(r, "active"))
                .and_then(boolean)
                == Some(false) =>
        {
            format!("Deactivated {}", subject(kind, &name, id))
        }
        Kind::Group => match members_in(v) {
            Some(n) => format!(
                "Replaced {} with {}",
                subject(kind, &name, id),
                members(v, n)
            ),
            None => format!("Replaced {}", subject(kind, &name, id)),
        },
        Kind::User => format!("Replaced {}", subject(kind, &name, id)),
    };
    Description {
        action: "replace",
        kind: Some(kind),
        id: id.to_owned(),
        name,
        summary,
    }
}

fn update(v: &View<'_>, kind: Kind, id: &str) -> Description {
    let c = patch::changes(v.operations(), kind.name_attribute());
    let name = v
        .response_str(kind.name_attribute())
        .map(str::to_owned)
        .or_else(|| c.renamed.clone())
        .or_else(|| v.seen.subject.clone())
        .unwrap_or_default();
    let this = subject(kind, &name, id);
    let shown = if name.is_empty() { id } else { &name };
    let mut head: Option<String> = None;
    let mut extra: Vec<String> = Vec::new();
    if c.members_changed() {
        let at_least = if v.request_cut { "at least " } else { "" };
        let n = |k: usize| format!("{at_least}{}", count(k, "member"));
        head = Some(match (c.replaced, c.added, c.removed, c.removed_all) {
            (Some(0), 0, _, _) | (None, 0, 0, true) => format!("Removed every member of {shown}"),
            (Some(k), _, _, _) => format!("Replaced the members of {shown} with {}", n(k)),
            (None, a, 0, _) => format!("Added {} to {shown}", n(a)),
            (None, 0, r, _) => format!("Removed {} from {shown}", n(r)),
            (None, a, r, _) => format!("Added {} to {shown}, removed {r}", n(a)),
        });
    }
    if let Some(active) = c.active {
        let verb = if active { "Activated" } else { "Deactivated" };
        match head {
            None => head = Some(format!("{verb} {this}")),
            Some(_) => extra.push(verb.to_lowercase()),
        }
    }
    if let Some(new) = &c.renamed {
        match head {
            None => head = Some(format!("Renamed {} {id} to {new}", kind.noun())),
            Some(_) if kind == Kind::Group => extra.push(format!("name set to {new}")),
            Some(_) => extra.push(format!("renamed to {new}")),
        }
    }
    if !c.attributes.is_empty() {
        let list = listing(&c.attributes);
        match head {
            None => head = Some(format!("Updated {this}: {list}")),
            Some(_) => extra.push(format!("changed {list}")),
        }
    }
    let mut summary = head.unwrap_or_else(|| format!("Updated {this}"));
    if !extra.is_empty() {
        summary.push_str("; ");
        summary.push_str(&extra.join("; "));
    }
    Description {
        action: "update",
        kind: Some(kind),
        id: id.to_owned(),
        name,
        summary,
    }
}

/// At most five attribute names, then how many more.
fn listing(attributes: &[String]) -> String {
    let mut list = attributes
        .iter()
        .take(5)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if attributes.len() > 5 {
        list.push_str(&format!(" and {} more", attributes.len() - 5));
    }
    list
}

/// How many members the request's `members` holds.
fn members_in(v: &View<'_>) -> Option<usize> {
    v.request
        .as_ref()
        .and_then(|r| get_ci(r, "members"))
        .and_then(Value::as_array)
        .map(Vec::len)
}

/// `3 members`, `at least 412 members` when the body was cut.
fn members(v: &View<'_>, n: usize) -> String {
    let at_least = if v.request_cut { "at least " } else { "" };
    format!("{at_least}{}", count(n, "member"))
}

/// A boolean as clients send it (`false`, `"False"`).
pub(crate) fn boolean(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// A filter of one `eq` comparison: its attribute and value (quoted, or unquoted as Entra's
/// older requests send it).
pub(crate) fn simple_eq(filter: &str) -> Option<(&str, String)> {
    let filter = filter.trim();
    let (attr, rest) = filter.split_once(char::is_whitespace)?;
    let rest = rest.trim_start();
    let (op, value) = rest.split_once(char::is_whitespace)?;
    if !op.eq_ignore_ascii_case("eq") {
        return None;
    }
    let value = value.trim();
    if value.starts_with('"') {
        let v: String = serde_json::from_str(value).ok()?;
        return Some((attr, v));
    }
    (!value.is_empty() && !value.contains(char::is_whitespace)).then(|| (attr, value.to_owned()))
}

/// Whether `s` is a GUID (`7fce0092-d52e-4f76-b727-3955bd72c939`).
fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A list (`GET /Users`) or search (`POST /.search`), with or without a filter.
fn lookup(
    v: &View<'_>,
    kind: Option<Kind>,
    filter: Option<&str>,
    action: &'static str,
) -> Description {
    let answered = v.answered.as_ref();
    let resources = answered.and_then(|a| a.resources.as_deref());
    let total = answered
        .and_then(|a| a.total_results.as_ref())
        .and_then(Value::as_u64);
    let plural = kind.map_or("resources", Kind::plural);
    let Some(filter) = filter else {
        let shown = resources.map(|r| r.len() as u64).or(total).unwrap_or(0);
        let from = v
            .param("startIndex")
            .and_then(|s| s.parse::<u64>().ok())
            .filter(|s| *s > 1)
            .map(|s| format!(", from {s}"))
            .unwrap_or_default();
        return Description {
            action,
            kind,
            id: String::new(),
            name: String::new(),
            summary: match total {
                Some(total) => format!("Listed {plural} (page of {shown} of {total}{from})"),
                None => format!("Listed {plural}"),
            },
        };
    };
    // The one resource found, if one was.
    let single = resources.filter(|r| r.len() == 1).and_then(|r| r.first());
    let found = |attr: &str| {
        single
            .and_then(|r| r.attr(attr))
            .unwrap_or_default()
            .to_owned()
    };
    let found_name = kind.map(|k| found(k.name_attribute())).unwrap_or_default();
    let result = match total {
        None => String::new(),
        Some(0) => ": not found".to_owned(),
        Some(n) => format!(
            ": found {}",
            count(n as usize, kind.map_or("resource", Kind::noun))
        ),
    };
    let (name, summary) = match simple_eq(filter) {
        Some((attr, value)) => {
            let by_name = kind.is_some_and(|k| attr.eq_ignore_ascii_case(k.name_attribute()));
            let mut summary = format!("Looked up {attr} eq \"{value}\"{result}");
            if !by_name && total == Some(1) && !found_name.is_empty() {
                summary.push_str(&format!(" ({found_name})"));
            }
            if total == Some(0) && is_guid(&value) && v.client == Client::Entra {
                summary.push_str(" (Entra's Test Connection looks up a random id)");
            }
            (if by_name { value } else { found_name }, summary)
        }
        None => (
            found_name,
            format!("Searched {plural} where {filter}{result}"),
        ),
    };
    Description {
        action: "search",
        kind,
        id: found("id"),
        name,
        summary,
    }
}

fn bulk(v: &View<'_>) -> Description {
    let ops = v.operations();
    let at_least = if v.request_cut { "at least " } else { "" };
    let mut methods: Vec<(String, usize)> = Vec::new();
    for op in ops {
        let m = get_ci(op, "method")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_ascii_uppercase();
        match methods.iter_mut().find(|(k, _)| *k == m) {
            Some((_, n)) => *n += 1,
            None => methods.push((m, 1)),
        }
    }
    let mut summary = format!("Bulk: {at_least}{}", count(ops.len(), "operation"));
    if !methods.is_empty() {
        let list = methods
            .iter()
            .map(|(m, n)| format!("{n} {m}"))
            .collect::<Vec<_>>()
            .join(", ");
        summary.push_str(&format!(" ({list})"));
    }
    let answered = v.answered.as_ref().and_then(|a| a.operations.as_deref());
    if let Some(answered) = answered {
        let ok = answered
            .iter()
            .filter(|o| {
                o.status
                    .as_ref()
                    .and_then(|s| {
                        s.as_str()
                            .map(str::to_owned)
                            .or_else(|| Some(s.to_string()))
                    })
                    .is_some_and(|s| s.starts_with('2'))
            })
            .count();
        summary.push_str(&format!(": {ok} succeeded, {} failed", answered.len() - ok));
    }
    Description {
        action: "bulk",
        kind: None,
        id: String::new(),
        name: String::new(),
        summary,
    }
}

fn token(v: &View<'_>) -> Description {
    let client = v.client_id().unwrap_or_default();
    let mut summary = if client.is_empty() {
        "Issued an access token".to_owned()
    } else {
        format!("Issued an access token to client {client}")
    };
    if let Some(secs) = v
        .answered
        .as_ref()
        .and_then(|a| a.expires_in.as_ref())
        .and_then(Value::as_u64)
    {
        summary.push_str(&format!(" (valid for {} minutes)", secs / 60));
    }
    Description {
        action: "token",
        kind: None,
        id: String::new(),
        name: String::new(),
        summary,
    }
}

#[cfg(test)]
mod tests;
