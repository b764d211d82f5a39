//! Reading a source attribute from a directory object (SCIM JSON) by the names mappings and
//! expressions use: SCIM paths (`userName`, `name.givenName`, `emails[type eq "work"].value`,
//! `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department`), and the names
//! Entra's administrators know (`givenName`, `surname`, `mail`, `userPrincipalName`,
//! `department`, `accountEnabled`, `objectId`, …), which stand for the SCIM attribute Entra
//! provisions them as.

use serde_json::Value as Json;
use time::OffsetDateTime;

use crate::expr::{Env, Value};

/// What an expression reads for one object: its attributes, the time, randomness, and the
/// target's answer to "is this value free" (`SelectUniqueValue`).
pub struct ObjectEnv<'a> {
    /// The object, as SCIM JSON.
    pub object: &'a Json,
    /// Now.
    pub now: OffsetDateTime,
    /// Random bytes (the directory's `Secrets`).
    pub random: &'a mut dyn FnMut(&mut [u8]),
    /// Whether a value is free in the target, for a target attribute.
    pub unique: &'a mut dyn FnMut(&str, &str) -> bool,
    /// The target attribute whose mapping is evaluated (set by `mapping::build`).
    pub target: String,
}

impl Env for ObjectEnv<'_> {
    fn attribute(&self, name: &str) -> Value {
        read(self.object, name)
    }
    fn now(&self) -> OffsetDateTime {
        self.now
    }
    fn random(&mut self, out: &mut [u8]) {
        (self.random)(out);
    }
    fn is_unique(&mut self, value: &str) -> bool {
        (self.unique)(&self.target, value)
    }
    fn mapping_target(&mut self, target: &str) {
        target.clone_into(&mut self.target);
    }
}

/// The enterprise extension's schema.
pub const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// Entra's source names and the SCIM path each stands for.
pub const ALIASES: [(&str, &str); 24] = [
    ("objectId", "id"),
    ("userPrincipalName", "userName"),
    ("accountEnabled", "active"),
    ("givenName", "name.givenName"),
    ("surname", "name.familyName"),
    ("mail", "emails[type eq \"work\"].value"),
    ("mailNickname", "userName"),
    ("jobTitle", "title"),
    (
        "department",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    ),
    (
        "employeeId",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    ),
    (
        "manager",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    ),
    (
        "companyName",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:organization",
    ),
    (
        "costCenter",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter",
    ),
    (
        "division",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:division",
    ),
    ("telephoneNumber", "phoneNumbers[type eq \"work\"].value"),
    ("mobile", "phoneNumbers[type eq \"mobile\"].value"),
    (
        "facsimileTelephoneNumber",
        "phoneNumbers[type eq \"fax\"].value",
    ),
    ("streetAddress", "addresses[type eq \"work\"].streetAddress"),
    ("city", "addresses[type eq \"work\"].locality"),
    ("state", "addresses[type eq \"work\"].region"),
    ("postalCode", "addresses[type eq \"work\"].postalCode"),
    ("country", "addresses[type eq \"work\"].country"),
    ("usageLocation", "addresses[type eq \"work\"].country"),
    (
        "physicalDeliveryOfficeName",
        "addresses[type eq \"work\"].formatted",
    ),
];

/// The SCIM path `name` stands for (itself when it is not one of Entra's names).
pub fn resolve(name: &str) -> &str {
    ALIASES
        .iter()
        .find(|(alias, _)| alias.eq_ignore_ascii_case(name))
        .map_or(name, |(_, path)| path)
}

/// A scalar as an expression sees it: booleans are `True`/`False`.
fn scalar(v: &Json) -> Option<String> {
    match v {
        Json::String(s) => Some(s.clone()),
        Json::Bool(b) => Some(if *b { "True" } else { "False" }.to_owned()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// One step of a path: an attribute, maybe filtered (`emails[type eq "work"]`).
struct Step<'a> {
    name: &'a str,
    filter: Option<(&'a str, String)>,
}

fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let name = &rest[..end];
        rest = &rest[end..];
        let mut filter = None;
        if let Some(inner) = rest.strip_prefix('[') {
            let close = inner.find(']')?;
            let clause = &inner[..close];
            let mut words = clause.splitn(3, ' ');
            let (attr, op, value) = (words.next()?, words.next()?, words.next()?);
            if !op.eq_ignore_ascii_case("eq") {
                return None;
            }
            filter = Some((attr, value.trim().trim_matches('"').to_owned()));
            rest = &inner[close + 1..];
        }
        rest = rest.strip_prefix('.').unwrap_or(rest);
        out.push(Step { name, filter });
    }
    Some(out)
}

fn member<'a>(object: &'a Json, name: &str) -> Option<&'a Json> {
    object
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

/// The value at `name` (an alias or a SCIM path) in `object`.
pub fn read(object: &Json, name: &str) -> Value {
    let path = resolve(name);
    // An extension's attributes: `urn:…:User:department` is `department` in the extension.
    let (base, path) = match path.rfind(':') {
        Some(i) if path.starts_with("urn:") => match member(object, &path[..i]) {
            Some(ext) => (ext, &path[i + 1..]),
            None => return Value::Null,
        },
        _ => (object, path),
    };
    let Some(steps) = steps(path) else {
        return Value::Null;
    };
    let mut current: Vec<&Json> = vec![base];
    for step in &steps {
        let mut next = Vec::new();
        for node in current {
            let Some(found) = member(node, step.name) else {
                continue;
            };
            let items: Vec<&Json> = match found {
                Json::Array(items) => items.iter().collect(),
                one => vec![one],
            };
            for item in items {
                let keep = match &step.filter {
                    None => true,
                    Some((attr, want)) => member(item, attr)
                        .and_then(scalar)
                        .is_some_and(|v| v.eq_ignore_ascii_case(want)),
                };
                if keep {
                    next.push(item);
                }
            }
        }
        current = next;
    }
    // A multi-valued complex attribute read whole gives its values (`emails` → addresses).
    let values: Vec<String> = current
        .iter()
        .filter_map(|v| scalar(v).or_else(|| member(v, "value").and_then(scalar)))
        .collect();
    let filtered = steps.iter().any(|s| s.filter.is_some());
    match values.len() {
        0 => Value::Null,
        1 => Value::One(values.into_iter().next().unwrap_or_default()),
        // A filter names one value (the first, as Entra reads `emails[type eq "work"]`).
        _ if filtered => Value::One(values.into_iter().next().unwrap_or_default()),
        _ => Value::Many(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_filters_extensions_and_aliases() {
        let ada = json!({
            "id": "u1",
            "userName": "ada@contoso.com",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [
                {"type": "home", "value": "ada@home.example"},
                {"type": "work", "value": "ada@contoso.com", "primary": true}
            ],
            "phoneNumbers": [{"type": "mobile", "value": "+1 555"}],
            "roles": ["admin", "auditor"],
            ENTERPRISE: {"department": "Sales", "manager": {"value": "u2"}}
        });
        let one = |s: &str| Value::One(s.into());
        assert_eq!(read(&ada, "userName"), one("ada@contoso.com"));
        assert_eq!(
            read(&ada, "UserName"),
            one("ada@contoso.com"),
            "case-insensitive"
        );
        assert_eq!(read(&ada, "name.givenName"), one("Ada"));
        assert_eq!(read(&ada, "surname"), one("Lovelace"));
        assert_eq!(read(&ada, "mail"), one("ada@contoso.com"));
        assert_eq!(read(&ada, "accountEnabled"), one("True"));
        assert_eq!(read(&ada, "objectId"), one("u1"));
        assert_eq!(read(&ada, "department"), one("Sales"));
        assert_eq!(read(&ada, "manager"), one("u2"));
        assert_eq!(read(&ada, "mobile"), one("+1 555"));
        assert_eq!(read(&ada, "telephoneNumber"), Value::Null);
        assert_eq!(
            read(&ada, "roles"),
            Value::Many(vec!["admin".into(), "auditor".into()])
        );
        assert_eq!(
            read(&ada, "emails"),
            Value::Many(vec!["ada@home.example".into(), "ada@contoso.com".into()])
        );
        assert_eq!(read(&ada, "nickName"), Value::Null);
        assert_eq!(read(&ada, "emails[type eq"), Value::Null, "a broken path");
    }
}
