//! The change log's events: what each write tells the host application.
//!
//! Types: `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`,
//! `user.deleted`, `group.created`, `group.updated`, `group.deleted`, `group.member_added`,
//! `group.member_removed`. Decisions:
//!
//! - `data.resource` is the SCIM resource after the change (before it, for a deletion), without
//!   `meta.location` (the host application knows its own URLs), without `password` (never),
//!   and, for a group, without `members` (a group of 100,000 would make every event huge);
//!   member changes are events of their own.
//! - One event per member added or removed: a PATCH adding three members gives three
//!   `group.member_added`, each with `data.group` (`id`, `displayName`) and `data.member`
//!   (`value`, `type`).
//! - A user write that turns `active` from true to false is `user.deactivated`, from false to
//!   true `user.reactivated`; otherwise `user.updated`. All three carry `data.changed`, the
//!   top-level attributes whose values changed (`password` named, never its value).
//! - Deleting a user also gives a `group.member_removed` for each group it was in.
//! - A write that changes nothing visible still gives its event (the identity provider did
//!   send it), with an empty `changed`.
//! - Deleting a tenant gives one `tenant.deleted` (`data.tenant`: `id`, `name`; `data.removed`:
//!   how many users, groups, tokens and OAuth clients went with it), and no event per user:
//!   the host application removes the organisation as a whole.

use roster_store::{Kind, NewEvent, StoredResource, Tenant};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::Secrets;
use crate::render::to_scim;

/// Collects the events of one write.
pub(crate) struct Recorder<'a> {
    secrets: &'a dyn Secrets,
    at: OffsetDateTime,
    pub(crate) events: Vec<NewEvent>,
}

/// The resource as events and the host-application API carry it: SCIM JSON without
/// `password`, `meta.location` and group `members`.
pub fn resource_json(resource: &StoredResource) -> Value {
    let mut json = to_scim(resource, resource.groups.as_deref(), "");
    if let Some(o) = json.as_object_mut() {
        o.remove("password");
        o.remove("members");
        if let Some(meta) = o.get_mut("meta").and_then(Value::as_object_mut) {
            meta.remove("location");
        }
        if let Some(groups) = o.get_mut("groups").and_then(Value::as_array_mut) {
            for g in groups {
                if let Some(g) = g.as_object_mut() {
                    g.remove("$ref");
                }
            }
        }
    }
    json
}

/// The top-level attributes whose values differ between two stored states.
pub(crate) fn changed_attributes(before: &Value, after: &Value) -> Vec<String> {
    let empty = Map::new();
    let b = before.as_object().unwrap_or(&empty);
    let a = after.as_object().unwrap_or(&empty);
    let mut changed: Vec<String> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(b.keys().filter(|k| !a.contains_key(*k)).cloned())
        .filter(|k| k != "schemas")
        .collect();
    changed.sort();
    changed
}

fn active(data: &Value) -> Option<bool> {
    data.get("active").and_then(Value::as_bool)
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(secrets: &'a dyn Secrets, at: OffsetDateTime) -> Self {
        Recorder {
            secrets,
            at,
            events: Vec::new(),
        }
    }

    fn push(&mut self, event_type: &str, data: Value) {
        let id = format!("evt_{}", self.secrets.resource_id().replace('-', ""));
        self.events.push(NewEvent {
            id,
            event_type: event_type.to_owned(),
            occurred_at: self.at,
            data,
        });
    }

    /// An event about the tenant as a whole (a hold) or a correction, with its data as given.
    pub(crate) fn tenant_event(&mut self, event_type: &str, data: Value) {
        self.push(event_type, data);
    }

    /// A tenant was deleted, with what it held.
    pub(crate) fn tenant_deleted(&mut self, tenant: &Tenant, removed: Value) {
        let data =
            json!({"tenant": {"id": tenant.id.as_str(), "name": tenant.name}, "removed": removed});
        self.push("tenant.deleted", data);
    }

    /// A resource was created.
    pub(crate) fn created(&mut self, resource: &StoredResource) {
        let t = match resource.kind {
            Kind::User => "user.created",
            Kind::Group => "group.created",
        };
        self.push(t, json!({"resource": resource_json(resource)}));
    }

    /// A resource was replaced or patched from `before` to `after`.
    pub(crate) fn updated(&mut self, before: &StoredResource, after: &StoredResource) {
        let changed = changed_attributes(&before.data, &after.data);
        let t = match after.kind {
            Kind::Group => {
                // A group write that only changed members has its member events alone.
                if changed.is_empty() {
                    return;
                }
                "group.updated"
            }
            Kind::User => match (active(&before.data), active(&after.data)) {
                (Some(true) | None, Some(false)) => "user.deactivated",
                (Some(false), Some(true)) => "user.reactivated",
                _ => "user.updated",
            },
        };
        self.push(
            t,
            json!({"resource": resource_json(after), "changed": changed}),
        );
    }

    /// A resource was deleted; `last` is its last known state.
    pub(crate) fn deleted(&mut self, last: &StoredResource) {
        let t = match last.kind {
            Kind::User => "user.deleted",
            Kind::Group => "group.deleted",
        };
        self.push(t, json!({"resource": resource_json(last)}));
        if last.kind == Kind::User {
            for g in last.groups.as_deref().unwrap_or_default() {
                let group = json!({"id": g.id, "displayName": g.display});
                self.member(false, &group, &last.id, Some(Kind::User));
            }
        }
    }

    /// A member was added to (`added`) or removed from a group; its type when known (a
    /// member added by id alone is not looked up).
    pub(crate) fn member(
        &mut self,
        added: bool,
        group: &Value,
        member_id: &str,
        kind: Option<Kind>,
    ) {
        let t = if added {
            "group.member_added"
        } else {
            "group.member_removed"
        };
        let mut member = json!({"value": member_id});
        if let Some(kind) = kind {
            member["type"] = Value::String(kind.as_str().into());
        }
        self.push(t, json!({"group": group, "member": member}));
    }
}

/// A group as member events name it.
pub(crate) fn group_ref(group: &StoredResource) -> Value {
    json!({
        "id": group.id,
        "displayName": group.data.get("displayName").cloned().unwrap_or(Value::Null),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changed_attributes_are_the_top_level_differences() {
        let before =
            json!({"schemas": ["a"], "userName": "x", "title": "t", "name": {"givenName": "A"}});
        let after = json!({"schemas": ["a", "b"], "userName": "x", "name": {"givenName": "B"}, "active": false});
        assert_eq!(
            changed_attributes(&before, &after),
            ["active", "name", "title"]
        );
        assert!(changed_attributes(&after, &after).is_empty());
    }
}
