//! What a PATCH asked for, read from its operations as identity providers send them: ops in
//! any case (Entra's `Replace`), string booleans (`"False"`), members added by `add`, removed
//! by a filter (`members[value eq "…"]`) or by a value list (Entra), replaced whole (Okta),
//! and values without a path (`{"op": "replace", "value": {"active": false}}`).
//!
//! This reads the request, not the result: the log describes what was asked of Roster in the
//! words of the request, and the answer's status says whether it was done.

use serde_json::Value;

use super::boolean;
use crate::view::get_ci;

/// The changes a PATCH asked for.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Changes {
    /// `active` set to this.
    pub(crate) active: Option<bool>,
    /// Members added.
    pub(crate) added: usize,
    /// Members removed one by one.
    pub(crate) removed: usize,
    /// Every member removed (`remove` of `members` without a value).
    pub(crate) removed_all: bool,
    /// The members replaced by this many.
    pub(crate) replaced: Option<usize>,
    /// The name (`userName` of a user, `displayName` of a group) set to this.
    pub(crate) renamed: Option<String>,
    /// The other attributes changed, as their paths, in order, each once.
    pub(crate) attributes: Vec<String>,
}

impl Changes {
    /// Whether the members changed.
    pub(crate) fn members_changed(&self) -> bool {
        self.added > 0 || self.removed > 0 || self.removed_all || self.replaced.is_some()
    }
}

/// The changes of `operations`; `name_attribute` is the kind's name (`userName`,
/// `displayName`).
pub(crate) fn changes(operations: &[Value], name_attribute: &str) -> Changes {
    let mut c = Changes::default();
    for op in operations {
        let kind = get_ci(op, "op")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let value = get_ci(op, "value");
        match get_ci(op, "path").and_then(Value::as_str) {
            Some(path) => c.path_op(&kind, path.trim(), value, name_attribute),
            None => {
                if let Some(Value::Object(values)) = value {
                    for (key, v) in values {
                        match v {
                            // An extension's attributes, in the object keyed by its URN.
                            Value::Object(inner) if is_schema_urn(key) => {
                                for (attr, v) in inner {
                                    c.path_op(&kind, attr, Some(v), name_attribute);
                                }
                            }
                            _ => c.path_op(&kind, key, Some(v), name_attribute),
                        }
                    }
                }
            }
        }
    }
    c
}

impl Changes {
    fn path_op(&mut self, op: &str, path: &str, value: Option<&Value>, name_attribute: &str) {
        let attribute = attribute_of(path);
        let base = attribute
            .split(['[', '.'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match base.as_str() {
            // Okta repeats the group's id in a path-less replace; it changes nothing.
            "id" | "schemas" => {}
            "active" if op != "remove" => {
                if let Some(b) = value.and_then(boolean) {
                    self.active = Some(b);
                }
            }
            "members" => self.members_op(op, attribute, value),
            _ if base == name_attribute.to_ascii_lowercase() && op != "remove" => {
                if let Some(name) = value.and_then(Value::as_str) {
                    self.renamed = Some(name.to_owned());
                }
            }
            _ => {
                if !self.attributes.iter().any(|a| a == attribute) {
                    self.attributes.push(attribute.to_owned());
                }
            }
        }
    }

    fn members_op(&mut self, op: &str, path: &str, value: Option<&Value>) {
        let listed = match value {
            Some(Value::Array(a)) => Some(a.len()),
            Some(Value::Object(_)) => Some(1),
            _ => None,
        };
        let filtered = path.contains('[');
        match op {
            "add" => self.added += listed.unwrap_or(0),
            "remove" if filtered => {
                // `members[value eq "a" or value eq "b"]`: one member per comparison.
                self.removed += path.to_ascii_lowercase().matches(" eq ").count().max(1);
            }
            "remove" => match listed {
                Some(n) => self.removed += n,
                None => self.removed_all = true,
            },
            "replace" => match listed {
                Some(n) => self.replaced = Some(self.replaced.unwrap_or(0) + n),
                None => self.replaced = Some(0),
            },
            _ => {}
        }
    }
}

/// The attribute a path names, without the URN of the core schema or an extension (the
/// extension's attribute is named by its own name).
fn attribute_of(path: &str) -> &str {
    if !path.starts_with("urn:") {
        return path;
    }
    // `urn:…:User:name.givenName`, `urn:…:User:emails[type eq "work"].value`: the attribute
    // follows the last colon before any filter.
    let head = path.split('[').next().unwrap_or(path);
    match head.rfind(':') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// Whether `key` is a schema's URN (`urn:…:enterprise:2.0:User`) rather than an attribute
/// named with its URN (`urn:…:enterprise:2.0:User:manager`): a schema's last part names a
/// resource type, with a capital.
fn is_schema_urn(key: &str) -> bool {
    key.starts_with("urn:")
        && key
            .rsplit(':')
            .next()
            .and_then(|last| last.chars().next())
            .is_some_and(char::is_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn of(ops: Value, name: &str) -> Changes {
        changes(ops.as_array().unwrap(), name)
    }

    #[test]
    fn entra_deactivates_with_a_string_boolean_and_pascal_case() {
        let c = of(
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
            "userName",
        );
        assert_eq!(c.active, Some(false));
        assert!(c.attributes.is_empty());
    }

    #[test]
    fn a_path_less_value_names_its_attributes() {
        let c = of(
            json!([{"op": "replace", "value": {
                "active": false,
                "name.givenName": "Ada",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "7"
            }}]),
            "userName",
        );
        assert_eq!(c.active, Some(false));
        assert_eq!(c.attributes, ["name.givenName", "employeeNumber"]);
        let c = of(
            json!([{"op": "replace", "value": {
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
            }}]),
            "userName",
        );
        assert_eq!(c.attributes, ["department"]);
    }

    #[test]
    fn members_are_counted_however_they_are_sent() {
        let c = of(
            json!([
                {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
                {"op": "Remove", "path": "members[value eq \"d\"]"},
                {"op": "remove", "path": "members", "value": [{"value": "e"}, {"value": "f"}]},
            ]),
            "displayName",
        );
        assert_eq!((c.added, c.removed), (3, 3));
        let c = of(
            json!([{"op": "replace", "path": "members", "value": []}]),
            "displayName",
        );
        assert_eq!(c.replaced, Some(0));
        let c = of(json!([{"op": "remove", "path": "members"}]), "displayName");
        assert!(c.removed_all);
        let c = of(
            json!([{"op": "add", "value": {"members": [{"value": "a"}]}}]),
            "displayName",
        );
        assert_eq!(c.added, 1);
    }

    #[test]
    fn okta_renames_with_the_id_repeated() {
        let c = of(
            json!([{"op": "replace", "value": {"id": "abf4dd94", "displayName": "Test SCIMv20"}}]),
            "displayName",
        );
        assert_eq!(c.renamed.as_deref(), Some("Test SCIMv20"));
        assert!(c.attributes.is_empty() && !c.members_changed());
    }

    #[test]
    fn filtered_paths_keep_their_filter() {
        let c = of(
            json!([
                {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "a@x"},
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "b@x"},
            ]),
            "userName",
        );
        assert_eq!(c.attributes, ["emails[type eq \"work\"].value"]);
    }
}
