//! What a PatchOp message does to a Group's `members`, read from the request alone: whether it
//! touches them at all, and, when every operation only adds, removes or replaces members by
//! id, the change as a list of ids. The directory applies such a change as member rows without
//! reading the group's members, and a PATCH that does not touch them (a rename) without
//! reading or writing a single member row.

use serde_json::{Map, Value};

use super::{PatchOpKind, PatchRequest};
use crate::filter::{CompValue, CompareOp, Filter};
use crate::schema::GROUP_SCHEMA;

/// A member as a client names it: its id and, when sent, the name it is shown by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberValue {
    /// The member's resource id.
    pub id: String,
    /// `display`, when the client sent one.
    pub display: Option<String>,
}

impl MemberValue {
    /// A member value (`{"value": id, "display": ...}`), keys without regard to case. Without
    /// `value`, the id is read from a `$ref` ending in `/Users/{id}` or `/Groups/{id}` (the
    /// store then checks that it names a resource of the tenant). `None` when neither names
    /// an id.
    pub fn from_json(m: &Value) -> Option<MemberValue> {
        let obj = m.as_object()?;
        let get = |key: &str| {
            obj.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.as_str())
        };
        let id = match get("value") {
            Some(id) => id.to_owned(),
            None => id_of_ref(get("$ref")?)?,
        };
        Some(MemberValue {
            id,
            display: get("display").map(str::to_owned),
        })
    }
}

/// The id at the end of a resource URL (`…/Users/{id}` or `…/Groups/{id}`).
fn id_of_ref(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next()?.trim_end_matches('/');
    let (rest, id) = path.rsplit_once('/')?;
    let endpoint = rest.rsplit('/').next()?;
    (!id.is_empty()
        && (endpoint.eq_ignore_ascii_case("Users") || endpoint.eq_ignore_ascii_case("Groups")))
    .then(|| id.to_owned())
}

/// A change of a group's members by id alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberDelta {
    /// The members become exactly these.
    Replace(Vec<MemberValue>),
    /// Members added and ids removed; adding a present member or removing an absent one
    /// changes nothing.
    Change {
        /// Members to add.
        add: Vec<MemberValue>,
        /// Ids to remove.
        remove: Vec<String>,
    },
}

/// Whether `key` (a path-less operation's attribute name) is `members`, plain or qualified by
/// the Group schema's URN.
fn is_members_key(key: &str) -> bool {
    key.eq_ignore_ascii_case("members")
        || key.rsplit_once(':').is_some_and(|(urn, name)| {
            urn.eq_ignore_ascii_case(GROUP_SCHEMA) && name.eq_ignore_ascii_case("members")
        })
}

impl PatchRequest {
    /// Whether any operation may change a group's `members`: one whose path names them, or a
    /// path-less one whose value has a `members` key. A request that does not can be applied
    /// to the group without its members.
    pub fn touches_members(&self) -> bool {
        self.operations.iter().any(|op| match &op.path {
            // Whatever its schema prefix: reading the members when not needed costs time,
            // never correctness.
            Some(path) => path.attribute.attribute.eq_ignore_ascii_case("members"),
            None => op
                .value
                .as_ref()
                .and_then(Value::as_object)
                .is_some_and(|obj| obj.keys().any(|k| is_members_key(k))),
        })
    }

    /// When every operation only adds, removes or replaces members by id (`add members`,
    /// `replace members`, `remove members`, and, with `lenient_remove`, `remove
    /// members[value eq "id"]`), the change they make together, in order. `None` when any
    /// operation needs the group's members to be applied (another attribute, a value filter
    /// other than by id, a member with attributes beyond `value`, `display`, `type`, `$ref`).
    /// Removing by id without reading the members cannot tell whether the id was a member;
    /// RFC 7644 wants `noTarget` then, so only a lenient tenant takes that form this way.
    pub fn member_delta(&self, lenient_remove: bool) -> Option<MemberDelta> {
        let mut replace: Option<Vec<MemberValue>> = None;
        let mut add: Vec<MemberValue> = Vec::new();
        let mut remove: Vec<String> = Vec::new();
        for op in &self.operations {
            let path = op.path.as_ref()?;
            if !path.attribute.attribute.eq_ignore_ascii_case("members")
                || path.attribute.sub_attribute.is_some()
                || path.sub_attribute.is_some()
                || path
                    .attribute
                    .schema
                    .as_deref()
                    .is_some_and(|s| !s.eq_ignore_ascii_case(GROUP_SCHEMA))
            {
                return None;
            }
            match (op.op, &path.filter, &op.value) {
                (PatchOpKind::Add, None, Some(v)) => {
                    for member in members_of(v)? {
                        remove.retain(|r| r != &member.id);
                        match &mut replace {
                            Some(list) => {
                                if !list.iter().any(|m| m.id == member.id) {
                                    list.push(member);
                                }
                            }
                            None => add.push(member),
                        }
                    }
                }
                (PatchOpKind::Replace, None, Some(v)) => {
                    replace = Some(members_of(v)?);
                    add.clear();
                    remove.clear();
                }
                (PatchOpKind::Remove, None, None) => {
                    replace = Some(Vec::new());
                    add.clear();
                    remove.clear();
                }
                (
                    PatchOpKind::Remove,
                    Some(Filter::Compare {
                        path: inner,
                        op: CompareOp::Eq,
                        value: CompValue::String(id),
                    }),
                    None,
                ) if lenient_remove
                    && inner.attribute.eq_ignore_ascii_case("value")
                    && inner.sub_attribute.is_none()
                    && inner.schema.is_none() =>
                {
                    match &mut replace {
                        Some(list) => list.retain(|m| &m.id != id),
                        None => {
                            add.retain(|a| &a.id != id);
                            remove.push(id.clone());
                        }
                    }
                }
                _ => return None,
            }
        }
        Some(match replace {
            Some(list) => MemberDelta::Replace(list),
            None => MemberDelta::Change { add, remove },
        })
    }
}

/// The members of an `add`/`replace` value (one member object or an array of them), or `None`
/// when one carries attributes beyond `value`, `display`, `type` and `$ref`, which need the
/// general path's checks, or names no id.
fn members_of(value: &Value) -> Option<Vec<MemberValue>> {
    let items: Vec<&Value> = match value {
        Value::Array(a) => a.iter().collect(),
        Value::Object(_) => vec![value],
        _ => return None,
    };
    items
        .into_iter()
        .map(|m| {
            let obj: &Map<String, Value> = m.as_object()?;
            if obj.keys().any(|k| {
                !["value", "display", "type", "$ref"]
                    .iter()
                    .any(|known| k.eq_ignore_ascii_case(known))
            }) {
                return None;
            }
            MemberValue::from_json(m)
        })
        .collect()
}
