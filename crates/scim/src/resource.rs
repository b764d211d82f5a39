//! Resources validated and normalised against their schema: canonical attribute names, checked types, readOnly attributes dropped, required attributes enforced.
//!
//! A resource is held as a JSON object in **canonical form**:
//!
//! - `schemas` first: the core schema URN, then the URN of every extension that holds data;
//! - the common attributes (`id`, `externalId`, `meta`) and the core schema's attributes at
//!   the top level, under their canonical names, in schema order;
//! - each extension's attributes inside an object keyed by the extension's canonical URN;
//! - no `null`, no empty array and no empty object anywhere: unassigned attributes are absent
//!   (RFC 7643 §2.5 makes the three equivalent, so only one spelling is stored).
//!
//! [`normalize`] turns a client's body (POST, PUT) into that form; [`validate`] checks a
//! resource that should already be in it (after PATCH, or read back from storage);
//! [`normalize_value`] does the work for a single attribute and is what PATCH uses.
//!
//! Decisions where the RFCs leave room, all strict on purpose (a tolerant layer for real
//! clients sits above this one and rewrites their quirks before they get here):
//!
//! - A missing or wrong `schemas` is `invalidValue` on the path `schemas`, like every other
//!   missing required value; the body is well-formed JSON of the right shape, so it is not a
//!   syntax error.
//! - An unknown attribute is `invalidValue` naming it. `invalidPath` is kept for the `path`
//!   of a PATCH operation, which is the only place RFC 7644 uses it.
//! - An attribute may be given with its schema URN as a prefix at the top level
//!   (`urn:ietf:params:scim:schemas:core:2.0:User:userName`, or an extension's
//!   `...:enterprise:2.0:User:employeeNumber`); it lands where its unprefixed form would. Giving
//!   one attribute twice (in two spellings) is `invalidValue`.
//! - A single value where an array is expected, or the reverse, is `invalidValue`.
//! - Exact duplicate values of a multi-valued attribute are dropped (RFC 7643 §2.4 says they
//!   SHOULD NOT be returned); Group `members` are duplicates when their `value` is equal.
//! - A required string attribute that is the empty string counts as missing.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::error::Error;
use crate::path::AttrPath;
use crate::schema::{
    Attribute, AttributeType, Location, Mutability, ResourceSchema, Schema, common_attributes,
};
use crate::value::{equals, parse_datetime};

/// What the body is for. The rules are the same for both; a replace also refuses to change
/// an immutable attribute that the stored resource already has (RFC 7644 §3.5.1).
#[derive(Debug, Clone, Copy)]
pub enum Mode<'a> {
    /// POST: a new resource.
    Create,
    /// PUT: replaces the stored resource `current` (in canonical form).
    Replace {
        /// The resource as stored before the replace.
        current: &'a Value,
    },
}

/// An attribute path, built lazily so that the happy path allocates no strings; it is
/// printed only into an error. Displays as `emails[1].primary` or `urn:...:User:manager.value`.
#[derive(Clone, Copy)]
pub(crate) enum Loc<'a> {
    /// The attribute, already printed (`userName`, `urn:...:User:manager`).
    Root(&'a str),
    /// The attribute, printed when needed (a PATCH path, an [`AttrName`]).
    Show(&'a dyn fmt::Display),
    /// The `i`th value of a multi-valued attribute.
    Index(&'a Loc<'a>, usize),
    /// A sub-attribute.
    Sub(&'a Loc<'a>, &'a str),
}

impl fmt::Display for Loc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Loc::Root(s) => f.write_str(s),
            Loc::Show(d) => d.fmt(f),
            Loc::Index(p, i) => write!(f, "{p}[{i}]"),
            Loc::Sub(p, s) => write!(f, "{p}.{s}"),
        }
    }
}

fn invalid(loc: &Loc<'_>, reason: impl Into<String>) -> Error {
    Error::invalid_value(loc.to_string(), reason)
}

/// The printed path of an attribute: its name for common and core attributes,
/// `urn:...:name` for an extension attribute.
pub(crate) fn attribute_path(container: Option<&Schema>, attr: &Attribute) -> String {
    AttrName { container, attr }.to_string()
}

/// An attribute's path, printed only when needed (see [`attribute_path`]).
#[derive(Clone, Copy)]
pub(crate) struct AttrName<'a> {
    /// The extension holding the attribute, if any.
    pub(crate) container: Option<&'a Schema>,
    /// The attribute.
    pub(crate) attr: &'a Attribute,
}

impl fmt::Display for AttrName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.container {
            write!(f, "{}:", s.id)?;
        }
        f.write_str(&self.attr.name)
    }
}

/// A field of a small object. The objects inside multi-valued attributes hold a handful of
/// keys, where comparing them is cheaper than hashing the name (the map's hasher is SipHash),
/// which matters when a group has 100,000 members.
pub(crate) fn field<'v>(obj: &'v Map<String, Value>, name: &str) -> Option<&'v Value> {
    if obj.len() <= 8 {
        obj.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
    } else {
        obj.get(name)
    }
}

/// Whether the attribute is a Group's `members`: a multi-valued complex attribute whose values
/// are identified by their `value` (the member's id), not by their whole content.
pub(crate) fn is_members(attr: &Attribute) -> bool {
    attr.name == "members"
        && attr.multi_valued
        && attr.ty == AttributeType::Complex
        && attr.sub_attribute("value").is_some()
}

/// The member id of one value of `members`.
pub(crate) fn member_value(v: &Value) -> Option<&str> {
    field(v.as_object()?, "value").and_then(Value::as_str)
}

/// Whether a value of a multi-valued attribute is marked primary.
pub(crate) fn is_primary(v: &Value) -> bool {
    v.as_object()
        .and_then(|o| field(o, "primary"))
        .is_some_and(|p| *p == Value::Bool(true))
}

/// Reorders an object's keys into the order of `attrs` (keys not in `attrs` go last), so that
/// canonical resources print the same whatever order the client sent.
pub(crate) fn order_object(attrs: &[Attribute], obj: &mut Map<String, Value>) {
    let in_order = obj
        .keys()
        .map(|k| {
            attrs
                .iter()
                .position(|a| a.name == *k)
                .unwrap_or(usize::MAX)
        })
        .is_sorted();
    if in_order {
        return;
    }
    let mut old = std::mem::take(obj);
    for a in attrs {
        if let Some(v) = old.shift_remove(&a.name) {
            obj.insert(a.name.clone(), v);
        }
    }
    obj.append(&mut old);
}

/// Puts a resource's top-level keys in canonical order and rewrites `schemas` from the
/// extensions that hold data; empty extension objects are removed.
pub(crate) fn canonicalize_top(schema: &ResourceSchema, obj: &mut Map<String, Value>) {
    for (ext, _) in &schema.extensions {
        let empty = obj
            .get(&ext.id)
            .is_some_and(|v| v.as_object().is_some_and(Map::is_empty));
        if empty {
            obj.shift_remove(&ext.id);
        }
    }
    let mut schemas = vec![Value::String(schema.core.id.clone())];
    for (ext, _) in &schema.extensions {
        if obj.contains_key(&ext.id) {
            schemas.push(Value::String(ext.id.clone()));
        }
    }
    for (ext, _) in &schema.extensions {
        if let Some(Value::Object(attrs)) = obj.get_mut(&ext.id) {
            order_object(&ext.attributes, attrs);
        }
    }
    if top_in_order(schema, obj) {
        obj.insert("schemas".into(), Value::Array(schemas));
        return;
    }
    let mut old = std::mem::take(obj);
    old.shift_remove("schemas");
    obj.insert("schemas".into(), Value::Array(schemas));
    for a in common_attributes().iter().chain(&schema.core.attributes) {
        if let Some(v) = old.shift_remove(&a.name) {
            obj.insert(a.name.clone(), v);
        }
    }
    for (ext, _) in &schema.extensions {
        if let Some(v) = old.shift_remove(&ext.id) {
            obj.insert(ext.id.clone(), v);
        }
    }
    obj.append(&mut old);
}

/// Whether the top-level keys are already in canonical order with `schemas` first, so that
/// re-ordering (which moves every key) can be skipped, as it can after most PATCHes.
fn top_in_order(schema: &ResourceSchema, obj: &Map<String, Value>) -> bool {
    let mut keys = obj.keys();
    if keys.next().is_some_and(|k| k != "schemas") {
        return false;
    }
    let mut order = common_attributes()
        .iter()
        .chain(&schema.core.attributes)
        .map(|a| a.name.as_str())
        .chain(schema.extensions.iter().map(|(e, _)| e.id.as_str()));
    // Each key must come later in the canonical order than the one before it.
    keys.all(|k| order.any(|name| name == k))
}

/// Resolves a top-level key of a body to an attribute: a plain name among the common and core
/// attributes, or a URN-qualified name of the core schema or an extension. Extension
/// attributes without their URN are not accepted here: in a body they live under the URN.
pub(crate) fn resolve_key<'s>(
    schema: &'s ResourceSchema,
    key: &str,
) -> Result<(Option<&'s Schema>, &'s Attribute), Error> {
    let unknown = || Error::invalid_value(key, "unknown attribute");
    // Bytes, not a `str` slice: byte 4 of a client's key may fall inside a character.
    if key.len() > 4 && key.as_bytes()[..4].eq_ignore_ascii_case(b"urn:") {
        let path = AttrPath::parse(key).map_err(|_| unknown())?;
        if path.schema.is_none() || path.sub_attribute.is_some() {
            return Err(unknown());
        }
        let resolved = schema.resolve(&path).map_err(|_| unknown())?;
        let container = match resolved.location {
            Location::Common | Location::Core => None,
            Location::Extension(s) => Some(s),
        };
        return Ok((container, resolved.attribute));
    }
    schema
        .top_level(key)
        .map(|(_, a)| (None, a))
        .ok_or_else(unknown)
}

/// Normalises a client's body for create or replace: checks `schemas`, types, required
/// attributes and primary uniqueness; drops readOnly attributes, `null`s and empty arrays;
/// returns the resource in canonical form (see the module documentation) without `id` and
/// `meta`, which the caller adds.
///
/// Errors: `invalidSyntax` when the body is not a JSON object; `invalidValue` naming the
/// attribute path for everything else; `mutability` when a replace would change an immutable
/// attribute (see [`check_immutable`]).
pub fn normalize(schema: &ResourceSchema, input: &Value, mode: Mode<'_>) -> Result<Value, Error> {
    let obj = input
        .as_object()
        .ok_or_else(|| Error::InvalidSyntax("a resource must be a JSON object".into()))?;
    check_declared_schemas(schema, obj)?;

    // Values collected per container (None: top level; Some(i): extension i), in input order
    // and put in canonical order at the end.
    let mut top = Map::new();
    let mut exts: Vec<Map<String, Value>> = vec![Map::new(); schema.extensions.len()];
    let mut seen: HashSet<String> = HashSet::new();
    let ext_index = |s: &Schema| {
        schema
            .extensions
            .iter()
            .position(|(e, _)| std::ptr::eq(e.as_ref(), s))
    };

    let mut put = |container: Option<&Schema>, attr: &'_ Attribute, value: &Value| {
        let idx = container.and_then(ext_index);
        let path = attribute_path(container, attr);
        if !seen.insert(path.clone()) {
            return Err(Error::invalid_value(path, "given more than once"));
        }
        // RFC 7644 §3.5.1 and RFC 7643 §7: values of readOnly attributes sent by a client
        // are ignored, not refused.
        if attr.mutability == Mutability::ReadOnly {
            return Ok(());
        }
        let v = normalize_at(attr, &Loc::Root(&path), value)?;
        if !v.is_null() {
            let target = match idx {
                None => &mut top,
                Some(i) => &mut exts[i],
            };
            target.insert(attr.name.clone(), v);
        }
        Ok(())
    };

    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            match value {
                Value::Null => {}
                Value::Object(inner) => {
                    for (k, v) in inner {
                        let attr = ext.attribute(k).ok_or_else(|| {
                            Error::invalid_value(format!("{}:{k}", ext.id), "unknown attribute")
                        })?;
                        put(Some(ext), attr, v)?;
                    }
                }
                _ => {
                    return Err(Error::invalid_value(
                        ext.id.clone(),
                        "expected an object holding the extension's attributes",
                    ));
                }
            }
            continue;
        }
        let (container, attr) = resolve_key(schema, key)?;
        put(container, attr, value)?;
    }

    let mut out = Map::new();
    out.insert("schemas".into(), Value::Null);
    for a in common_attributes().iter().chain(&schema.core.attributes) {
        if let Some(v) = top.shift_remove(&a.name) {
            out.insert(a.name.clone(), v);
        }
    }
    for ((ext, _), mut values) in schema.extensions.iter().zip(exts) {
        if !values.is_empty() {
            order_object(&ext.attributes, &mut values);
            out.insert(ext.id.clone(), Value::Object(values));
        }
    }
    canonicalize_top(schema, &mut out);
    check_required(schema, &out)?;
    let out = Value::Object(out);
    if let Mode::Replace { current } = mode {
        check_immutable(schema, current, &out)?;
    }
    let before = match mode {
        Mode::Create => None,
        Mode::Replace { current } => Some(current),
    };
    check_name(schema, &out, before)?;
    Ok(out)
}

fn check_declared_schemas(schema: &ResourceSchema, obj: &Map<String, Value>) -> Result<(), Error> {
    let core = &schema.core.id;
    let declared = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v);
    let Some(declared) = declared else {
        return Err(Error::invalid_value(
            "schemas",
            format!("is required and must list {core}"),
        ));
    };
    let list = declared
        .as_array()
        .ok_or_else(|| Error::invalid_value("schemas", "expected an array of schema URNs"))?;
    let mut has_core = false;
    for (i, urn) in list.iter().enumerate() {
        let urn = urn.as_str().ok_or_else(|| {
            Error::invalid_value(format!("schemas[{i}]"), "expected a schema URN (a string)")
        })?;
        if !schema.has_schema(urn) {
            return Err(Error::invalid_value(
                format!("schemas[{i}]"),
                format!(
                    "{urn:?} is not a schema of the {} resource type",
                    schema.resource_type.name
                ),
            ));
        }
        has_core |= urn.eq_ignore_ascii_case(core);
    }
    if !has_core {
        return Err(Error::invalid_value("schemas", format!("must list {core}")));
    }
    Ok(())
}

fn is_missing(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

/// Required attributes (RFC 7643 §2.2) that a client must supply. readOnly ones are the
/// service provider's to set, so a client body is not blamed for their absence.
fn check_required(schema: &ResourceSchema, obj: &Map<String, Value>) -> Result<(), Error> {
    for a in &schema.core.attributes {
        if a.required && a.mutability != Mutability::ReadOnly && is_missing(obj.get(&a.name)) {
            return Err(Error::invalid_value(a.name.clone(), "is required"));
        }
    }
    for (ext, required) in &schema.extensions {
        match obj.get(&ext.id).and_then(Value::as_object) {
            None if *required => {
                return Err(Error::invalid_value(
                    ext.id.clone(),
                    "this extension is required",
                ));
            }
            None => {}
            Some(values) => {
                for a in &ext.attributes {
                    if a.required
                        && a.mutability != Mutability::ReadOnly
                        && is_missing(values.get(&a.name))
                    {
                        return Err(Error::invalid_value(
                            attribute_path(Some(ext), a),
                            "is required",
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Normalises the value of one attribute as a client sent it: an array for a multi-valued
/// attribute, a single value otherwise. `path` names the attribute in errors
/// (`emails`, `urn:...:User:manager`). ReadOnly sub-attributes are dropped, names made
/// canonical, nulls and empty values removed, duplicates dropped, types checked.
///
/// Returns `Value::Null` when the result is unassigned (`null`, `[]`, `{}`, or only nulls).
pub fn normalize_value(attr: &Attribute, path: &str, value: &Value) -> Result<Value, Error> {
    normalize_at(attr, &Loc::Root(path), value)
}

/// Normalises one value of `attr` regardless of whether it is multi-valued: a single e-mail
/// object of `emails`, say, as PATCH uses for `emails[type eq "work"]`. Returns `Value::Null`
/// when the value is unassigned.
pub fn normalize_single(attr: &Attribute, path: &str, value: &Value) -> Result<Value, Error> {
    single_at(attr, &Loc::Root(path), value)
}

/// [`normalize_single`] with a lazily printed path.
pub(crate) fn normalize_single_at(
    attr: &Attribute,
    loc: &Loc<'_>,
    value: &Value,
) -> Result<Value, Error> {
    single_at(attr, loc, value)
}

pub(crate) fn normalize_at(attr: &Attribute, loc: &Loc<'_>, value: &Value) -> Result<Value, Error> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if !attr.multi_valued {
        if value.is_array() {
            return Err(invalid(loc, "expected a single value, not an array"));
        }
        return single_at(attr, loc, value);
    }
    let Value::Array(items) = value else {
        return Err(invalid(
            loc,
            format!("expected an array, each value {}", type_phrase(attr)),
        ));
    };
    let mut out = Vec::with_capacity(items.len());
    let mut dedup = Dedup::new(attr);
    for (i, item) in items.iter().enumerate() {
        if item.is_null() {
            continue;
        }
        let here = Loc::Index(loc, i);
        if item.is_array() {
            return Err(invalid(&here, "expected a single value, not an array"));
        }
        let v = single_at(attr, &here, item)?;
        if !v.is_null() && dedup.is_new(&v) {
            out.push(v);
        }
    }
    check_primary(loc, &out)?;
    Ok(if out.is_empty() {
        Value::Null
    } else {
        Value::Array(out)
    })
}

/// Remembers the values of a multi-valued attribute seen so far, to drop duplicates in linear
/// time: members by id, other values by their canonical JSON text.
pub(crate) struct Dedup {
    members: bool,
    seen: HashSet<String>,
}

impl Dedup {
    pub(crate) fn new(attr: &Attribute) -> Self {
        Dedup {
            members: is_members(attr),
            seen: HashSet::new(),
        }
    }

    /// Records `v`; false when an equal value was recorded before.
    pub(crate) fn is_new(&mut self, v: &Value) -> bool {
        let key = if self.members {
            match member_value(v) {
                Some(id) => id.to_owned(),
                // A member without an id identifies nothing; keep it (validation decides).
                None => return true,
            }
        } else {
            v.to_string()
        };
        self.seen.insert(key)
    }
}

/// At most one value of a multi-valued attribute may be primary (RFC 7643 §2.4).
pub(crate) fn check_primary(loc: &Loc<'_>, values: &[Value]) -> Result<(), Error> {
    if values.iter().filter(|v| is_primary(v)).count() > 1 {
        return Err(invalid(loc, "more than one value is primary"));
    }
    Ok(())
}

fn single_at(attr: &Attribute, loc: &Loc<'_>, value: &Value) -> Result<Value, Error> {
    complex_or_simple(attr, loc, value, true)
}

/// Normalises a value to be merged into a complex value (PATCH `add`/`replace` on a singular
/// complex attribute, or on selected values of a multi-valued one): like
/// [`normalize_single`], except that required sub-attributes may be missing, since the value
/// it merges into may hold them. The merged result is validated afterwards.
pub(crate) fn normalize_partial(
    attr: &Attribute,
    loc: &Loc<'_>,
    value: &Value,
) -> Result<Value, Error> {
    if value.is_array() {
        return Err(invalid(loc, "expected a single value, not an array"));
    }
    complex_or_simple(attr, loc, value, false)
}

fn complex_or_simple(
    attr: &Attribute,
    loc: &Loc<'_>,
    value: &Value,
    check_required: bool,
) -> Result<Value, Error> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if attr.ty != AttributeType::Complex {
        check_simple(attr, loc, value)?;
        return Ok(value.clone());
    }
    let Value::Object(obj) = value else {
        return Err(invalid(loc, format!("expected {}", type_phrase(attr))));
    };
    let mut out = Map::new();
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in obj {
        let sub = attr
            .sub_attribute(k)
            .ok_or_else(|| invalid(&Loc::Sub(loc, k), "unknown attribute"))?;
        let here = Loc::Sub(loc, &sub.name);
        if seen.contains(&sub.name.as_str()) {
            return Err(invalid(&here, "given more than once"));
        }
        seen.push(&sub.name);
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let v = normalize_at(sub, &here, v)?;
        if !v.is_null() {
            out.insert(sub.name.clone(), v);
        }
    }
    if out.is_empty() {
        return Ok(Value::Null);
    }
    for sub in attr.sub_attributes.iter().filter(|_| check_required) {
        if sub.required && sub.mutability != Mutability::ReadOnly && is_missing(out.get(&sub.name))
        {
            return Err(invalid(&Loc::Sub(loc, &sub.name), "is required"));
        }
    }
    order_object(&attr.sub_attributes, &mut out);
    Ok(Value::Object(out))
}

fn type_phrase(attr: &Attribute) -> String {
    match attr.ty {
        AttributeType::String => "a string".into(),
        AttributeType::Boolean => "a boolean".into(),
        AttributeType::Decimal => "a number".into(),
        AttributeType::Integer => "an integer".into(),
        AttributeType::DateTime => "a dateTime (RFC 3339, e.g. 2011-05-13T04:42:34Z)".into(),
        AttributeType::Reference => "a reference (a URI string)".into(),
        AttributeType::Binary => "base64-encoded binary data".into(),
        AttributeType::Complex => {
            let names: Vec<&str> = attr
                .sub_attributes
                .iter()
                .map(|s| s.name.as_str())
                .collect();
            format!("an object with the sub-attributes {}", names.join(", "))
        }
    }
}

/// Type-checks a value of a simple (non-complex) type.
fn check_simple(attr: &Attribute, loc: &Loc<'_>, value: &Value) -> Result<(), Error> {
    let ok = match (attr.ty, value) {
        (AttributeType::String | AttributeType::Reference, Value::String(_)) => true,
        (AttributeType::Boolean, Value::Bool(_)) => true,
        (AttributeType::Decimal, Value::Number(_)) => true,
        (AttributeType::Integer, Value::Number(n)) => n.is_i64() || n.is_u64(),
        (AttributeType::DateTime, Value::String(s)) => parse_datetime(s).is_some(),
        (AttributeType::Binary, Value::String(s)) => is_base64(s),
        _ => false,
    };
    if ok {
        Ok(())
    } else if value.is_array() {
        Err(invalid(loc, "expected a single value, not an array"))
    } else {
        Err(invalid(loc, format!("expected {}", type_phrase(attr))))
    }
}

/// Whether `s` is base64 (RFC 4648, standard or URL-safe alphabet, padding optional).
/// Checked by hand: a dependency for twenty lines is not worth it.
fn is_base64(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    let padding = s.len() - body.len();
    if padding > 2 || (padding > 0 && !s.len().is_multiple_of(4)) || body.len() % 4 == 1 {
        return false;
    }
    body.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

/// Checks a resource that should be in canonical form (see the module documentation):
/// canonical names, `schemas` listing exactly the core schema and the extensions present,
/// types, no nulls or empty values, required attributes present, at most one primary value,
/// no duplicate members. ReadOnly attributes (`id`, `meta`, `groups`) are allowed, since the
/// service provider sets them, and are type-checked like the rest.
pub fn validate(schema: &ResourceSchema, resource: &Value) -> Result<(), Error> {
    let obj = resource
        .as_object()
        .ok_or_else(|| Error::InvalidSyntax("a resource must be a JSON object".into()))?;
    validate_schemas(schema, obj)?;
    for (key, value) in obj {
        if key == "schemas" {
            continue;
        }
        if let Some((ext, _)) = schema.extensions.iter().find(|(e, _)| e.id == *key) {
            let inner = value
                .as_object()
                .filter(|o| !o.is_empty())
                .ok_or_else(|| Error::invalid_value(key.clone(), "expected a non-empty object"))?;
            for (k, v) in inner {
                let attr = exact_attribute(&ext.attributes, k).ok_or_else(|| {
                    not_canonical(&format!("{}:{k}", ext.id), k, ext.attribute(k))
                })?;
                let path = attribute_path(Some(ext), attr);
                validate_at(attr, &Loc::Root(&path), v)?;
            }
            continue;
        }
        let attr = exact_attribute(common_attributes(), key)
            .or_else(|| exact_attribute(&schema.core.attributes, key))
            .ok_or_else(|| not_canonical(key, key, schema.top_level(key).map(|(_, a)| a)))?;
        validate_at(attr, &Loc::Root(key), value)?;
    }
    check_required(schema, obj)
}

fn exact_attribute<'a>(attrs: &'a [Attribute], name: &str) -> Option<&'a Attribute> {
    attrs.iter().find(|a| a.name == name)
}

fn not_canonical(path: &str, given: &str, found: Option<&Attribute>) -> Error {
    match found {
        Some(a) => Error::invalid_value(
            path,
            format!("{given:?} is not the canonical name {:?}", a.name),
        ),
        None => Error::invalid_value(path, "unknown attribute"),
    }
}

fn validate_schemas(schema: &ResourceSchema, obj: &Map<String, Value>) -> Result<(), Error> {
    let list = obj
        .get("schemas")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::invalid_value("schemas", "expected an array of schema URNs"))?;
    if list.first().and_then(Value::as_str) != Some(schema.core.id.as_str()) {
        return Err(Error::invalid_value(
            "schemas",
            format!("must start with {}", schema.core.id),
        ));
    }
    let mut listed: Vec<&str> = Vec::new();
    for (i, urn) in list.iter().enumerate().skip(1) {
        let urn = urn.as_str().unwrap_or_default();
        let known = schema.extensions.iter().any(|(e, _)| e.id == urn);
        if !known || listed.contains(&urn) {
            return Err(Error::invalid_value(
                format!("schemas[{i}]"),
                "expected the canonical URN of an extension, listed once",
            ));
        }
        if !obj.contains_key(urn) {
            return Err(Error::invalid_value(
                format!("schemas[{i}]"),
                "lists an extension that holds no data",
            ));
        }
        listed.push(urn);
    }
    for (ext, _) in &schema.extensions {
        if obj.contains_key(&ext.id) && !listed.contains(&ext.id.as_str()) {
            return Err(Error::invalid_value(
                "schemas",
                format!("must list {} whose data is present", ext.id),
            ));
        }
    }
    Ok(())
}

fn validate_at(attr: &Attribute, loc: &Loc<'_>, value: &Value) -> Result<(), Error> {
    if !attr.multi_valued {
        return validate_single(attr, loc, value);
    }
    let items = value.as_array().ok_or_else(|| {
        invalid(
            loc,
            format!("expected an array, each value {}", type_phrase(attr)),
        )
    })?;
    if items.is_empty() {
        return Err(invalid(
            loc,
            "an empty array is stored as an absent attribute",
        ));
    }
    for (i, item) in items.iter().enumerate() {
        validate_single(attr, &Loc::Index(loc, i), item)?;
    }
    check_primary(loc, items)?;
    if is_members(attr) {
        let mut ids = HashSet::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(id) = member_value(item)
                && !ids.insert(id)
            {
                return Err(invalid(&Loc::Index(loc, i), "duplicate member"));
            }
        }
    }
    Ok(())
}

fn validate_single(attr: &Attribute, loc: &Loc<'_>, value: &Value) -> Result<(), Error> {
    if value.is_null() {
        return Err(invalid(loc, "null is stored as an absent attribute"));
    }
    if attr.ty != AttributeType::Complex {
        return check_simple(attr, loc, value);
    }
    let obj = value
        .as_object()
        .ok_or_else(|| invalid(loc, format!("expected {}", type_phrase(attr))))?;
    if obj.is_empty() {
        return Err(invalid(
            loc,
            "an empty object is stored as an absent attribute",
        ));
    }
    for (k, v) in obj {
        let sub = exact_attribute(&attr.sub_attributes, k).ok_or_else(|| {
            let here = Loc::Sub(loc, k).to_string();
            not_canonical(&here, k, attr.sub_attribute(k))
        })?;
        validate_at(sub, &Loc::Sub(loc, &sub.name), v)?;
    }
    for sub in &attr.sub_attributes {
        if sub.required && sub.mutability != Mutability::ReadOnly && is_missing(obj.get(&sub.name))
        {
            return Err(invalid(&Loc::Sub(loc, &sub.name), "is required"));
        }
    }
    Ok(())
}

/// Refuses a replace (`new`) that would change an immutable attribute that `old` has a value
/// for (RFC 7643 §7: "If one or more values are already set for the attribute, the input
/// value(s) MUST match"). Leaving such an attribute out of `new` changes it too. Immutable
/// sub-attributes of singular complex attributes are checked the same way; those of
/// multi-valued attributes (a member's `value`) are not, since replacing the list replaces
/// the values wholesale. Values compare under the attribute's rules (`caseExact`).
pub fn check_immutable(schema: &ResourceSchema, old: &Value, new: &Value) -> Result<(), Error> {
    let containers = std::iter::once((None, common_attributes()))
        .chain(std::iter::once((None, schema.core.attributes.as_slice())))
        .chain(
            schema
                .extensions
                .iter()
                .map(|(e, _)| (Some(e.as_ref()), e.attributes.as_slice())),
        );
    for (container, attrs) in containers {
        let get = |res: &'_ Value, name: &str| -> Option<Value> {
            let holder = match container {
                None => Some(res),
                Some(ext) => res.get(&ext.id),
            };
            holder.and_then(|h| h.get(name)).cloned()
        };
        for attr in attrs {
            let (o, n) = (get(old, &attr.name), get(new, &attr.name));
            let path = attribute_path(container, attr);
            check_immutable_value(attr, &path, o.as_ref(), n.as_ref())?;
            if attr.ty == AttributeType::Complex && !attr.multi_valued {
                for sub in &attr.sub_attributes {
                    let os = o.as_ref().and_then(|v| v.get(&sub.name));
                    let ns = n.as_ref().and_then(|v| v.get(&sub.name));
                    check_immutable_value(sub, &format!("{path}.{}", sub.name), os, ns)?;
                }
            }
        }
    }
    Ok(())
}

/// Refuses the change from `old` to `new` when `attr` is immutable and `old` has a value.
pub(crate) fn check_immutable_value(
    attr: &Attribute,
    path: &dyn fmt::Display,
    old: Option<&Value>,
    new: Option<&Value>,
) -> Result<(), Error> {
    if attr.mutability != Mutability::Immutable {
        return Ok(());
    }
    let Some(old) = old.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let same = new.is_some_and(|new| equals(attr, old, new));
    if same {
        Ok(())
    } else {
        Err(Error::Mutability {
            path: path.to_string(),
            mutability: Mutability::Immutable.as_str(),
        })
    }
}

/// Refuses a resource whose name (a User's `userName`, a Group's `displayName`) breaks the
/// rules of [`crate::name::check_name`]: control or invisible characters, white space at the
/// ends, too long. A name equal to the one in `before` (the stored resource, on a replace or
/// after a PATCH) is not checked again, so that a resource stored before these rules can still
/// be deactivated or have other attributes changed; renaming it needs a valid name.
pub fn check_name(
    schema: &ResourceSchema,
    resource: &Value,
    before: Option<&Value>,
) -> Result<(), Error> {
    let attr = match schema.core.id.as_str() {
        crate::schema::USER_SCHEMA => "userName",
        crate::schema::GROUP_SCHEMA => "displayName",
        _ => return Ok(()),
    };
    let Some(name) = resource.get(attr).and_then(Value::as_str) else {
        return Ok(());
    };
    if before.and_then(|b| b.get(attr)).and_then(Value::as_str) == Some(name) {
        return Ok(());
    }
    crate::name::check_name(attr, name)
}
