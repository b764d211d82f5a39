//! Attribute mappings: what a target receives for each of its attributes, from a source
//! attribute, a constant or an expression, with a default when the source is empty, applied
//! always or only when the object is created; and the matching mappings, in order of
//! precedence, that find an object already in the target before one is created. They export
//! and import as JSON (expressions as their text, read again on import).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json, json};

use crate::expr::{self, Env, Expr, Value};
use crate::source::{self, ENTERPRISE};

/// Where a target attribute's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum From {
    /// A source attribute (a SCIM path, or one of Entra's names).
    Attribute(String),
    /// A constant.
    Constant(String),
    /// An expression, with its text as written.
    Expression(Expr, String),
}

/// When a mapping is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Apply {
    /// On create and on every update.
    #[default]
    Always,
    /// Only when the object is created.
    OnCreate,
}

/// What type the target attribute holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A string.
    #[default]
    String,
    /// `true` or `false` (from `True`/`False` in any case).
    Boolean,
    /// A whole number.
    Integer,
}

/// One target attribute's mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    /// The target attribute, as a SCIM path (`emails[type eq "work"].value`).
    pub target: String,
    /// Where its value comes from.
    pub from: From,
    /// The value when the source is empty.
    pub default: Option<String>,
    /// When it applies.
    pub apply: Apply,
    /// Its type in the target.
    pub kind: Kind,
    /// When it is a matching mapping: its precedence (1 is tried first).
    pub matching: Option<u8>,
}

/// A mapping as JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Written {
    target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    constant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<String>,
    #[serde(default)]
    apply: Apply,
    #[serde(default)]
    kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    matching: Option<u8>,
}

/// Why mappings do not import, or a mapping cannot be applied to an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The JSON is not mappings.
    #[error("the mappings do not read: {0}")]
    Unreadable(String),
    /// A mapping names no source, or several.
    #[error("the mapping of {0} needs exactly one of source, constant or expression")]
    NoSource(String),
    /// An expression does not parse.
    #[error("the expression of {target}: {error}")]
    Expression {
        /// The target attribute.
        target: String,
        /// Where it stops making sense.
        error: expr::ParseError,
    },
    /// Two mappings set the same target attribute.
    #[error("{0} is mapped twice")]
    Twice(String),
    /// `SelectUniqueValue` in a mapping applied on update, or used for matching.
    #[error(
        "the mapping of {0} uses SelectUniqueValue: apply it only on create, and do not match on it"
    )]
    UniqueOnCreate(String),
    /// An expression failed for this object.
    #[error("the mapping of {target}: {error}")]
    Evaluation {
        /// The target attribute.
        target: String,
        /// What failed.
        error: expr::EvalError,
    },
    /// A value is not of the target attribute's type.
    #[error("{target} takes a {kind:?}, and the mapping gives {value:?}")]
    Type {
        /// The target attribute.
        target: String,
        /// Its type.
        kind: Kind,
        /// The value.
        value: String,
    },
}

impl Mapping {
    fn simple(target: &str, source: &str) -> Mapping {
        Mapping {
            target: target.to_owned(),
            from: From::Attribute(source.to_owned()),
            default: None,
            apply: Apply::Always,
            kind: Kind::String,
            matching: None,
        }
    }
}

/// The default user mappings: the seed's table (`001_*.txt`), with `userName` matched first,
/// then `externalId`, and the enterprise extension's attributes.
pub fn default_user_mappings() -> Vec<Mapping> {
    let mut out = vec![
        Mapping {
            matching: Some(1),
            ..Mapping::simple("userName", "userName")
        },
        Mapping {
            matching: Some(2),
            ..Mapping::simple("externalId", "id")
        },
        Mapping {
            kind: Kind::Boolean,
            ..Mapping::simple("active", "active")
        },
    ];
    for (target, from) in [
        ("displayName", "displayName"),
        (
            "emails[type eq \"work\"].value",
            "emails[type eq \"work\"].value",
        ),
        ("preferredLanguage", "preferredLanguage"),
        ("name.givenName", "name.givenName"),
        ("name.familyName", "name.familyName"),
        ("name.formatted", "name.formatted"),
        ("locale", "locale"),
        ("timezone", "timezone"),
        ("userType", "userType"),
        ("title", "title"),
        (
            "phoneNumbers[type eq \"work\"].value",
            "phoneNumbers[type eq \"work\"].value",
        ),
        (
            "phoneNumbers[type eq \"mobile\"].value",
            "phoneNumbers[type eq \"mobile\"].value",
        ),
        (
            "addresses[type eq \"work\"].country",
            "addresses[type eq \"work\"].country",
        ),
        (
            "addresses[type eq \"work\"].locality",
            "addresses[type eq \"work\"].locality",
        ),
    ] {
        out.push(Mapping::simple(target, from));
    }
    for attribute in [
        "employeeNumber",
        "department",
        "costCenter",
        "organization",
        "division",
    ] {
        let path = format!("{ENTERPRISE}:{attribute}");
        out.push(Mapping::simple(&path, &path));
    }
    out
}

/// The default group mappings: the display name (matched) and the members.
pub fn default_group_mappings() -> Vec<Mapping> {
    vec![
        Mapping {
            matching: Some(1),
            ..Mapping::simple("displayName", "displayName")
        },
        Mapping {
            matching: Some(2),
            ..Mapping::simple("externalId", "id")
        },
    ]
}

/// Mappings as JSON, for export.
pub fn export(mappings: &[Mapping]) -> Json {
    Json::Array(
        mappings
            .iter()
            .map(|m| {
                let (source, constant, expression) = match &m.from {
                    From::Attribute(a) => (Some(a.clone()), None, None),
                    From::Constant(c) => (None, Some(c.clone()), None),
                    From::Expression(_, text) => (None, None, Some(text.clone())),
                };
                serde_json::to_value(Written {
                    target: m.target.clone(),
                    source,
                    constant,
                    expression,
                    default: m.default.clone(),
                    apply: m.apply,
                    kind: m.kind,
                    matching: m.matching,
                })
                .unwrap_or(Json::Null)
            })
            .collect(),
    )
}

/// The most mappings of one kind a target has.
pub const MAX_MAPPINGS: usize = 200;

/// Mappings from JSON (what [`export`] writes), each expression parsed, no target mapped twice.
pub fn import(json: &Json) -> Result<Vec<Mapping>, MappingError> {
    let written: Vec<Written> = serde_json::from_value(json.clone())
        .map_err(|e| MappingError::Unreadable(e.to_string()))?;
    if written.len() > MAX_MAPPINGS {
        return Err(MappingError::Unreadable(format!(
            "{} mappings; at most {MAX_MAPPINGS}",
            written.len()
        )));
    }
    let mut out: Vec<Mapping> = Vec::with_capacity(written.len());
    for w in written {
        let from = match (w.source, w.constant, w.expression) {
            (Some(a), None, None) => From::Attribute(a),
            (None, Some(c), None) => From::Constant(c),
            (None, None, Some(text)) => {
                let parsed = expr::parse(&text).map_err(|error| MappingError::Expression {
                    target: w.target.clone(),
                    error,
                })?;
                From::Expression(parsed, text)
            }
            _ => return Err(MappingError::NoSource(w.target)),
        };
        if out.iter().any(|m| m.target.eq_ignore_ascii_case(&w.target)) {
            return Err(MappingError::Twice(w.target));
        }
        // Entra's rule: a unique value is chosen once, when the object is created, and is never
        // what objects are matched on.
        if let From::Expression(_, text) = &from
            && text.contains("SelectUniqueValue")
            && (w.apply != Apply::OnCreate || w.matching.is_some())
        {
            return Err(MappingError::UniqueOnCreate(w.target));
        }
        out.push(Mapping {
            target: w.target,
            from,
            default: w.default,
            apply: w.apply,
            kind: w.kind,
            matching: w.matching,
        });
    }
    Ok(out)
}

/// The matching mappings in order of precedence: (target attribute, value for `object`).
pub fn matching_values(
    mappings: &[Mapping],
    object: &Json,
    env: &mut dyn Env,
) -> Result<Vec<(String, String)>, MappingError> {
    let mut matching: Vec<&Mapping> = mappings.iter().filter(|m| m.matching.is_some()).collect();
    matching.sort_by_key(|m| m.matching);
    let mut out = Vec::new();
    for m in matching {
        if let Some(v) = value(m, object, env)?.text().filter(|t| !t.is_empty()) {
            out.push((m.target.clone(), v.to_owned()));
        }
    }
    Ok(out)
}

fn value(m: &Mapping, object: &Json, env: &mut dyn Env) -> Result<Value, MappingError> {
    let v = match &m.from {
        From::Attribute(a) => source::read(object, a),
        From::Constant(c) => Value::One(c.clone()),
        From::Expression(e, _) => {
            expr::evaluate(e, env).map_err(|error| MappingError::Evaluation {
                target: m.target.clone(),
                error,
            })?
        }
    };
    Ok(match (&v, &m.default) {
        (v, Some(default)) if v.is_null_or_empty() => Value::One(default.clone()),
        _ => v,
    })
}

fn typed(m: &Mapping, v: &str) -> Result<Json, MappingError> {
    let wrong = || MappingError::Type {
        target: m.target.clone(),
        kind: m.kind,
        value: v.chars().take(100).collect(),
    };
    match m.kind {
        Kind::String => Ok(json!(v)),
        Kind::Boolean if v.eq_ignore_ascii_case("true") => Ok(json!(true)),
        Kind::Boolean if v.eq_ignore_ascii_case("false") => Ok(json!(false)),
        Kind::Boolean => Err(wrong()),
        Kind::Integer => v
            .trim()
            .parse::<i64>()
            .map(|n| json!(n))
            .map_err(|_| wrong()),
    }
}

/// The core schema of users.
pub const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core schema of groups.
pub const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// The target's object for `object` (of the core schema `core`): every mapping that applies
/// (`creating`: the object is being created, so `OnCreate` mappings apply too), its value set
/// at its target path; a mapping whose value is empty sets nothing.
pub fn build(
    mappings: &[Mapping],
    object: &Json,
    env: &mut dyn Env,
    creating: bool,
    core: &str,
) -> Result<Json, MappingError> {
    let mut out = Map::new();
    for m in mappings {
        if m.apply == Apply::OnCreate && !creating {
            continue;
        }
        env.mapping_target(&m.target);
        let v = value(m, object, env)?;
        let json = match &v {
            Value::Null => continue,
            Value::One(s) if s.is_empty() => continue,
            Value::One(s) => typed(m, s)?,
            Value::Many(items) => Json::Array(
                items
                    .iter()
                    .map(|s| typed(m, s))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        set(&mut out, &m.target, json);
    }
    let mut schemas: Vec<Json> = vec![json!(core)];
    schemas.extend(
        out.keys()
            .filter(|k| k.starts_with("urn:"))
            .cloned()
            .map(Json::String),
    );
    out.insert("schemas".into(), Json::Array(schemas));
    Ok(Json::Object(out))
}

/// Sets `value` at a SCIM path in `object`: `a`, `a.b`, `a[type eq "work"].b` (the element
/// with that type, made if missing, marked primary for a work e-mail as Entra sends it), and
/// an extension's `urn:…:attribute`.
pub fn set(object: &mut Map<String, Json>, path: &str, value: Json) {
    if path.starts_with("urn:")
        && let Some(i) = path.rfind(':')
    {
        let ext = object
            .entry(path[..i].to_owned())
            .or_insert_with(|| Json::Object(Map::new()));
        if let Json::Object(ext) = ext {
            set(ext, &path[i + 1..], value);
        }
        return;
    }
    if let Some(open) = path.find('[')
        && let Some(close) = path[open..].find(']').map(|c| open + c)
    {
        let name = &path[..open];
        let clause = &path[open + 1..close];
        let sub = path[close + 1..].trim_start_matches('.');
        let mut words = clause.splitn(3, ' ');
        let (attr, want) = match (words.next(), words.next(), words.next()) {
            (Some(a), Some(_), Some(v)) => (a.to_owned(), v.trim_matches('"').to_owned()),
            _ => return,
        };
        let list = object
            .entry(name.to_owned())
            .or_insert_with(|| Json::Array(Vec::new()));
        let Json::Array(items) = list else { return };
        let found = items
            .iter()
            .position(|i| i.get(&attr).and_then(Json::as_str) == Some(want.as_str()));
        let index = found.unwrap_or_else(|| {
            let mut element = Map::new();
            element.insert(attr.clone(), json!(want));
            if name == "emails" && want == "work" {
                element.insert("primary".into(), json!(true));
            }
            items.push(Json::Object(element));
            items.len() - 1
        });
        if let Some(Json::Object(element)) = items.get_mut(index) {
            if sub.is_empty() {
                element.insert("value".into(), value);
            } else {
                set(element, sub, value);
            }
        }
        return;
    }
    match path.split_once('.') {
        Some((head, rest)) => {
            let child = object
                .entry(head.to_owned())
                .or_insert_with(|| Json::Object(Map::new()));
            if let Json::Object(child) = child {
                set(child, rest, value);
            }
        }
        None => {
            object.insert(path.to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ObjectEnv;
    use time::macros::datetime;

    fn ada() -> Json {
        json!({
            "id": "u1",
            "userName": "ada@contoso.com",
            "active": true,
            "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"type": "work", "value": "ada@contoso.com", "primary": true}],
            ENTERPRISE: {"department": "Sales"}
        })
    }

    fn with_env<T>(object: &Json, f: impl FnOnce(&mut ObjectEnv<'_>) -> T) -> T {
        let mut random = |out: &mut [u8]| out.fill(7);
        let mut unique = |_: &str, _: &str| true;
        let mut env = ObjectEnv {
            object,
            now: datetime!(2026-12-04 10:00 UTC),
            random: &mut random,
            unique: &mut unique,
            target: String::new(),
        };
        f(&mut env)
    }

    #[test]
    fn too_many_mappings_are_refused() {
        let many: Vec<Json> = (0..=MAX_MAPPINGS)
            .map(|i| json!({"target": format!("a{i}"), "constant": "x"}))
            .collect();
        assert!(matches!(
            import(&Json::Array(many)),
            Err(MappingError::Unreadable(why)) if why.contains("at most")
        ));
    }

    #[test]
    fn the_default_mapping_gives_what_entra_sends() {
        let ada = ada();
        let built = with_env(&ada, |env| {
            build(&default_user_mappings(), &ada, env, true, USER).unwrap()
        });
        assert_eq!(
            built,
            json!({
                "userName": "ada@contoso.com",
                "externalId": "u1",
                "active": true,
                "displayName": "Ada Lovelace",
                "emails": [{"type": "work", "primary": true, "value": "ada@contoso.com"}],
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                ENTERPRISE: {"department": "Sales"},
                "schemas": [USER, ENTERPRISE]
            })
        );
    }

    #[test]
    fn expressions_constants_defaults_and_on_create() {
        let mappings = import(&json!([
            {"target": "userName", "expression": "ToLower(Join(\".\", [givenName], [surname]))", "matching": 1},
            {"target": "externalId", "source": "objectId", "matching": 2},
            {"target": "userType", "constant": "Employee", "apply": "on_create"},
            {"target": "title", "source": "title", "default": "Staff"},
            {"target": "active", "source": "accountEnabled", "kind": "boolean"}
        ]))
        .unwrap();
        let ada = ada();
        let (created, updated, matching) = with_env(&ada, |env| {
            (
                build(&mappings, &ada, env, true, USER).unwrap(),
                build(&mappings, &ada, env, false, USER).unwrap(),
                matching_values(&mappings, &ada, env).unwrap(),
            )
        });
        assert_eq!(created["userName"], json!("ada.lovelace"));
        assert_eq!(created["userType"], json!("Employee"));
        assert_eq!(created["title"], json!("Staff"));
        assert_eq!(created["active"], json!(true));
        assert!(updated.get("userType").is_none(), "only on create");
        assert_eq!(
            matching,
            vec![
                ("userName".to_owned(), "ada.lovelace".to_owned()),
                ("externalId".to_owned(), "u1".to_owned())
            ]
        );
        assert_eq!(import(&export(&mappings)).unwrap(), mappings, "round trip");
    }

    #[test]
    fn imports_are_checked() {
        let cases = [
            (json!([{"target": "a"}]), "exactly one of"),
            (
                json!([{"target": "a", "source": "b", "constant": "c"}]),
                "exactly one of",
            ),
            (
                json!([{"target": "a", "expression": "Left([x]"}]),
                "at character",
            ),
            (
                json!([{"target": "a", "source": "b"}, {"target": "A", "source": "c"}]),
                "twice",
            ),
            (
                json!([{"target": "a", "source": "b", "colour": 1}]),
                "unknown field",
            ),
            (json!({"target": "a"}), "do not read"),
        ];
        for (json, said) in cases {
            let e = import(&json).unwrap_err().to_string();
            assert!(e.contains(said), "{json}: {e}");
        }
    }

    #[test]
    fn a_value_of_the_wrong_type_is_named() {
        let mappings =
            import(&json!([{"target": "active", "source": "userName", "kind": "boolean"}]))
                .unwrap();
        let ada = ada();
        let e = with_env(&ada, |env| build(&mappings, &ada, env, true, USER)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "active takes a Boolean, and the mapping gives \"ada@contoso.com\""
        );
    }
}
