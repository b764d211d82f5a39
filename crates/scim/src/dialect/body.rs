//! Values rewritten by what the schema says they should be: the part of the dialect shared by POST/PUT bodies and PATCH values.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{Normalization, note};
use crate::path::AttrPath;
use crate::resource::is_members;
use crate::schema::{
    Attribute, AttributeType, ENTERPRISE_USER_SCHEMA, Mutability, ResolveError, ResourceSchema,
    Schema,
};

/// Schema URNs of SCIM 1.x and of drafts before RFC 7643, as OneLogin's SCIM templates still
/// send them, with what each stands for: `None` for the resource type's core schema.
const LEGACY_URNS: [(&str, Option<&str>); 4] = [
    ("urn:scim:schemas:core:1.0", None),
    ("urn:scim:schemas:core:2.0", None),
    (
        "urn:scim:schemas:extension:enterprise:1.0",
        Some(ENTERPRISE_USER_SCHEMA),
    ),
    (
        "urn:scim:schemas:extension:enterprise:2.0",
        Some(ENTERPRISE_USER_SCHEMA),
    ),
];

/// What a top-level key of a body or of a path-less PATCH value names.
pub(super) enum Key<'s> {
    /// An attribute (core, common, or URN-qualified extension attribute).
    Attribute(&'s Attribute),
    /// Something the schema does not define under a schema it has: dropped.
    Unknown,
    /// Something the dialect leaves for the core to judge (an unknown extension's data, a
    /// dotted key in a body).
    Keep,
}

/// The rewriting of values against one resource type, recording what it did.
pub(super) struct Fix<'s, 'a> {
    pub(super) schema: &'s ResourceSchema,
    applied: &'a mut Vec<Normalization>,
}

impl<'s, 'a> Fix<'s, 'a> {
    pub(super) fn new(schema: &'s ResourceSchema, applied: &'a mut Vec<Normalization>) -> Self {
        Fix { schema, applied }
    }

    pub(super) fn note(&mut self, n: Normalization) {
        note(self.applied, n);
    }

    /// `text` with a legacy schema URN at its start (the whole text, or followed by `:`)
    /// replaced by the RFC 7643 URN of this resource type.
    pub(super) fn legacy<'t>(&mut self, text: &'t str) -> Cow<'t, str> {
        for (old, new) in LEGACY_URNS {
            let Some(head) = text.get(..old.len()) else {
                continue;
            };
            let rest = &text[old.len()..];
            if !head.eq_ignore_ascii_case(old) || !(rest.is_empty() || rest.starts_with(':')) {
                continue;
            }
            let new = match new {
                None => self.schema.core.id.as_str(),
                Some(urn) => match self.schema.canonical_schema(urn) {
                    Some(canonical) => canonical,
                    // The resource type has no such extension: the core will say so.
                    None => return Cow::Borrowed(text),
                },
            };
            self.note(Normalization::LegacySchemaUrn);
            return Cow::Owned(format!("{new}{rest}"));
        }
        Cow::Borrowed(text)
    }

    /// What a top-level key names (after [`Fix::legacy`]). Extension URNs are looked up by
    /// the caller first.
    pub(super) fn key(&self, key: &str) -> Key<'s> {
        let is_urn = key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
        if !is_urn {
            return match self.schema.top_level(key) {
                Some((_, a)) => Key::Attribute(a),
                // A dotted key is not an unknown name but a path; the caller decides.
                None if key.contains('.') => Key::Keep,
                None => Key::Unknown,
            };
        }
        let Ok(path) = AttrPath::parse(key) else {
            return Key::Keep;
        };
        match self.schema.resolve(&path) {
            Ok(r) if path.sub_attribute.is_none() => Key::Attribute(r.attribute),
            Ok(_) | Err(ResolveError::UnknownSchema(_)) => Key::Keep,
            Err(ResolveError::UnknownAttribute(_) | ResolveError::UnknownSubAttribute { .. }) => {
                Key::Unknown
            }
        }
    }

    /// A POST/PUT body.
    pub(super) fn resource(&mut self, obj: &Map<String, Value>) -> Map<String, Value> {
        let schema = self.schema;
        let mut out = Map::new();
        let mut schemas_key = None;
        for (key, value) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                // Holds the key's place; rewritten once the data present is known.
                out.insert(key.clone(), Value::Null);
                schemas_key = Some(key);
                continue;
            }
            let key = self.legacy(key).into_owned();
            if let Some(ext) = schema.extension(&key) {
                let v = match value {
                    Value::Object(inner) => Value::Object(self.extension(ext, inner)),
                    other => other.clone(),
                };
                out.insert(key, v);
                continue;
            }
            match self.key(&key) {
                Key::Attribute(attr) => {
                    let v = self.attribute(attr, value);
                    out.insert(key, v);
                }
                Key::Unknown => self.note(Normalization::UnknownAttribute),
                Key::Keep => {
                    out.insert(key, value.clone());
                }
            }
        }
        if let Some(key) = schemas_key {
            let list = self.schemas(&obj[key], &out);
            out.insert(key.clone(), list);
        }
        out
    }

    /// The `schemas` of a body: legacy URNs replaced; URNs that are not schemas of this
    /// resource type dropped unless the body holds data under them (then the core refuses it:
    /// silently dropping a whole extension's data would hide a configuration mistake).
    fn schemas(&mut self, value: &Value, body: &Map<String, Value>) -> Value {
        let list = match value {
            Value::Array(list) => list.as_slice(),
            Value::String(_) => {
                self.note(Normalization::SingleValueArray);
                std::slice::from_ref(value)
            }
            other => return other.clone(),
        };
        let mut out = Vec::with_capacity(list.len());
        for item in list {
            let Value::String(urn) = item else {
                out.push(item.clone());
                continue;
            };
            let urn = self.legacy(urn);
            let has_data = body
                .iter()
                .any(|(k, v)| k.eq_ignore_ascii_case(&urn) && v.is_object());
            if self.schema.has_schema(&urn) || has_data {
                out.push(Value::String(urn.into_owned()));
            } else {
                self.note(Normalization::UnknownSchema);
            }
        }
        Value::Array(out)
    }

    /// The object holding an extension's attributes.
    pub(super) fn extension(
        &mut self,
        ext: &'s Schema,
        inner: &Map<String, Value>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in inner {
            match ext.attribute(k) {
                Some(attr) => {
                    let v = self.attribute(attr, v);
                    out.insert(k.clone(), v);
                }
                None => self.note(Normalization::UnknownAttribute),
            }
        }
        out
    }

    /// The whole value of `attr`: an array for a multi-valued attribute.
    pub(super) fn attribute(&mut self, attr: &Attribute, value: &Value) -> Value {
        // The core ignores what a client sends for readOnly attributes; nothing to fix there.
        if attr.mutability == Mutability::ReadOnly {
            return value.clone();
        }
        if !attr.multi_valued {
            return self.element(attr, value);
        }
        match value {
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.element(attr, v)).collect())
            }
            Value::Null => Value::Null,
            Value::String(s) if s.is_empty() => {
                self.note(Normalization::EmptyClears);
                Value::Null
            }
            single => {
                self.note(Normalization::SingleValueArray);
                Value::Array(vec![self.element(attr, single)])
            }
        }
    }

    /// One value of `attr`: the value of a singular attribute, or one element of a
    /// multi-valued one.
    pub(super) fn element(&mut self, attr: &Attribute, value: &Value) -> Value {
        if attr.mutability == Mutability::ReadOnly {
            return value.clone();
        }
        match (attr.ty, value) {
            (AttributeType::String | AttributeType::Reference, _) => value.clone(),
            // `""` for anything but a string can only mean "no value".
            (_, Value::String(s)) if s.is_empty() => {
                self.note(Normalization::EmptyClears);
                Value::Null
            }
            (AttributeType::Boolean, Value::String(s)) => {
                let b = if s.eq_ignore_ascii_case("true") {
                    true
                } else if s.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return value.clone();
                };
                self.note(Normalization::StringBoolean);
                Value::Bool(b)
            }
            (AttributeType::Complex, Value::Object(obj)) => Value::Object(self.complex(attr, obj)),
            (AttributeType::Complex, Value::String(id))
                if attr.sub_attribute("value").is_some() =>
            {
                if is_members(attr) {
                    self.note(Normalization::BareMemberValue);
                } else if !attr.multi_valued {
                    self.note(Normalization::ManagerString);
                } else {
                    // A bare e-mail address in `emails` is not a quirk any client is known to
                    // have; the core refuses it.
                    return value.clone();
                }
                let mut obj = Map::new();
                obj.insert("value".into(), Value::String(id.clone()));
                Value::Object(obj)
            }
            _ => value.clone(),
        }
    }

    /// The sub-attributes of one complex value.
    fn complex(&mut self, attr: &Attribute, obj: &Map<String, Value>) -> Map<String, Value> {
        let mut out = Map::new();
        let has_display = obj.keys().any(|k| k.eq_ignore_ascii_case("display"));
        for (k, v) in obj {
            match attr.sub_attribute(k) {
                Some(sub) => {
                    let v = self.attribute(sub, v);
                    out.insert(k.clone(), v);
                }
                None if is_members(attr)
                    && !has_display
                    && k.eq_ignore_ascii_case("displayName")
                    && v.is_string() =>
                {
                    self.note(Normalization::MemberDisplayName);
                    out.insert("display".into(), v.clone());
                }
                None => self.note(Normalization::UnknownAttribute),
            }
        }
        out
    }
}
