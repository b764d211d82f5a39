//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp message and applying it atomically to a resource, with the list of what changed.
//!
//! [`PatchRequest::from_value`] parses the message once at the edge; [`apply`] runs every
//! operation on a copy of a canonical resource (see [`crate::resource`]), validates the
//! result and reports the [`Change`]s, or fails without touching anything. [`apply_with`] does
//! the same with [`ApplyOptions`], the few leniencies that depend on the stored resource and so
//! cannot be rewritten into the request beforehand by [`crate::dialect`].
//!
//! Decisions where RFC 7644 leaves room (the core is strict; [`crate::dialect`] sits above it
//! and rewrites what real clients send):
//!
//! - `op` is `"add"`, `"remove"` or `"replace"`, in lower case as RFC 7644 §3.5.2 spells them;
//!   `Add`/`Replace`/`Remove` (Entra) are `invalidSyntax` here and lower-cased by the dialect.
//!   The member names `Operations`, `op`, `path`, `value` are matched without regard to case,
//!   as RFC 7643 §2.1 makes attribute names case-insensitive. Unknown members are
//!   `invalidSyntax`, so a typo such as `vaule` is not silently an operation without a value.
//! - `remove` takes its target from the path alone (RFC 7644 §3.5.2.2 defines no value for
//!   it); a `remove` with a value is `invalidSyntax` (`null` counts as no value). Entra's
//!   `{"op":"Remove","path":"members","value":[{"value":"id"}]}` is rewritten by the dialect
//!   into `members[value eq "id"]`.
//! - A value of `null` (or `[]`) on `add` changes nothing and on `replace` unassigns the
//!   target, since RFC 7643 §2.5 makes null, empty and absent equivalent.
//! - Removing or unassigning a required attribute is `mutability`, as the last paragraph of
//!   RFC 7644 §3.5.2.2 says; so is touching a readOnly attribute and changing an immutable
//!   one that has a value.
//! - In an operation without a path, a readOnly attribute whose value equals the stored one
//!   is ignored (Okta renames a group with `{"op":"replace","value":{"id":...,
//!   "displayName":...}}`); with a different value it is `mutability`.
//! - Unknown attributes in a `path` are `invalidPath`; unknown attributes inside a `value`
//!   are `invalidValue`, as in a POST body.
//! - `add` and `replace` on a singular complex attribute merge the given sub-attributes into
//!   the existing value (RFC 7644 §3.5.2.3); `replace` through a value filter replaces each
//!   matching value whole.
//! - `add` through a value filter that matches nothing appends a new value built from the
//!   filter's equalities (`emails[type eq "work"].value` adds `{"type":"work","value":...}`):
//!   RFC 7644 §3.5.2.1 adds a target that does not exist. `replace` and `remove` through such a
//!   filter are `noTarget` (§3.5.2.2, §3.5.2.3) unless [`ApplyOptions`] say otherwise.
//! - A sub-attribute of a multi-valued attribute without a filter (`emails.type`) applies to
//!   every value.
//! - `remove` of an attribute that has no value is a no-op.

mod members;

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::dialect::{Normalization, note};
use crate::error::Error;
use crate::filter::{BoundFilter, CompValue, CompareOp, Filter, PatchPath};
use crate::path::AttrPath;
use crate::resource::{
    AttrName, Loc, attribute_path, canonicalize_top, check_immutable_value, is_members, is_primary,
    member_value, normalize_at, normalize_partial, normalize_single_at, order_object, resolve_key,
    validate,
};
use crate::schema::{Attribute, AttributeType, Location, Mutability, ResourceSchema, Schema};
use crate::value::equals;

pub use members::{MemberDelta, MemberValue};

/// The URN of the PatchOp message (RFC 7644 §3.5.2).
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The kind of a PATCH operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOpKind {
    /// `add`
    Add,
    /// `remove`
    Remove,
    /// `replace`
    Replace,
}

impl PatchOpKind {
    /// The RFC's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOpKind::Add => "add",
            PatchOpKind::Remove => "remove",
            PatchOpKind::Replace => "replace",
        }
    }

    /// The kind spelled exactly `s`. RFC 7644 §3.5.2 spells the operations in lower case;
    /// other spellings are the dialect's to rewrite.
    fn parse(s: &str) -> Option<Self> {
        [Self::Add, Self::Remove, Self::Replace]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: PatchOpKind,
    /// Where; `None` means the resource itself (then `value` is an object of attributes).
    pub path: Option<PatchPath>,
    /// The value, as the client sent it; normalised when applied.
    pub value: Option<Value>,
}

/// A parsed PatchOp message: the operations, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    /// The operations, applied in order, all or none.
    pub operations: Vec<PatchOperation>,
}

fn syntax(msg: impl Into<String>) -> Error {
    Error::InvalidSyntax(msg.into())
}

impl PatchRequest {
    /// Parses a PatchOp message body. Malformed JSON is `invalidSyntax`.
    pub fn from_slice(body: &[u8]) -> Result<Self, Error> {
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| syntax(format!("the body is not valid JSON: {e}")))?;
        Self::from_value(&v)
    }

    /// Parses a PatchOp message: `schemas` must list [`PATCH_OP_SCHEMA`], `Operations` must be
    /// a non-empty array of `{op, path?, value?}`. A bad message is `invalidSyntax`, a bad
    /// path `invalidPath`.
    pub fn from_value(msg: &Value) -> Result<Self, Error> {
        let obj = msg
            .as_object()
            .ok_or_else(|| syntax("a PatchOp message must be a JSON object"))?;
        let (mut schemas, mut ops) = (None, None);
        for (k, v) in obj {
            let slot = if k.eq_ignore_ascii_case("schemas") {
                &mut schemas
            } else if k.eq_ignore_ascii_case("Operations") {
                &mut ops
            } else {
                return Err(syntax(format!(
                    "unexpected member {k:?} in a PatchOp message"
                )));
            };
            if slot.replace(v).is_some() {
                return Err(syntax(format!("{k:?} is given more than once")));
            }
        }
        let listed = schemas.and_then(Value::as_array).is_some_and(|l| {
            l.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
        if !listed {
            return Err(syntax(format!("\"schemas\" must list {PATCH_OP_SCHEMA}")));
        }
        let ops = ops
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| syntax("\"Operations\" must be a non-empty array"))?;
        let operations = ops
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(i, op))
            .collect::<Result<_, _>>()?;
        Ok(PatchRequest { operations })
    }
}

fn parse_operation(i: usize, op: &Value) -> Result<PatchOperation, Error> {
    let here = |msg: &str| syntax(format!("Operations[{i}]: {msg}"));
    let obj = op
        .as_object()
        .ok_or_else(|| here("an operation must be a JSON object"))?;
    let (mut kind, mut path, mut value) = (None, None, None);
    for (k, v) in obj {
        let slot = if k.eq_ignore_ascii_case("op") {
            &mut kind
        } else if k.eq_ignore_ascii_case("path") {
            &mut path
        } else if k.eq_ignore_ascii_case("value") {
            &mut value
        } else {
            return Err(here(&format!("unexpected member {k:?}")));
        };
        if slot.replace(v).is_some() {
            return Err(here(&format!("{k:?} is given more than once")));
        }
    }
    let op = match kind {
        None => return Err(here("\"op\" is missing")),
        Some(Value::String(s)) => PatchOpKind::parse(s).ok_or_else(|| {
            here(&format!(
                "unknown op {s:?}; expected \"add\", \"remove\" or \"replace\" (in lower case)"
            ))
        })?,
        Some(_) => return Err(here("\"op\" must be a string")),
    };
    let path = match path {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s).map_err(|e| {
            Error::invalid_path(s.clone(), format!("at position {}: {}", e.position, e.kind))
        })?),
        Some(_) => return Err(here("\"path\" must be a string")),
    };
    if op == PatchOpKind::Remove {
        if value.is_some_and(|v| !v.is_null()) {
            return Err(here(REMOVE_TAKES_NO_VALUE));
        }
    } else {
        match (&path, value) {
            (_, None) => return Err(here(&format!("{} needs a \"value\"", op.as_str()))),
            (None, Some(v)) if !v.is_object() => {
                return Err(here(&format!(
                    "{} without a \"path\" needs an object of attributes as its \"value\"",
                    op.as_str()
                )));
            }
            _ => {}
        }
    }
    Ok(PatchOperation {
        op,
        path,
        value: value
            .filter(|v| !(op == PatchOpKind::Remove && v.is_null()))
            .cloned(),
    })
}

const REMOVE_TAKES_NO_VALUE: &str = "remove takes no \"value\" (RFC 7644 §3.5.2.2): name what to remove in the path, e.g. members[value eq \"2819c223\"]";

/// One change a PATCH made, for the change feed. Paths are top-level attributes: the
/// canonical name for core and common attributes, `urn:...:name` for extension attributes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Change {
    /// The attribute has a new value (or its values changed).
    Set {
        /// The attribute.
        path: String,
    },
    /// The attribute had a value and now has none.
    Cleared {
        /// The attribute.
        path: String,
    },
    /// A member joined the group.
    MemberAdded {
        /// The member's id.
        value: String,
    },
    /// A member left the group.
    MemberRemoved {
        /// The member's id.
        value: String,
    },
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Set { path } => write!(f, "set {path}"),
            Change::Cleared { path } => write!(f, "cleared {path}"),
            Change::MemberAdded { value } => write!(f, "member added {value}"),
            Change::MemberRemoved { value } => write!(f, "member removed {value}"),
        }
    }
}

/// The result of a PATCH: the new resource (canonical, valid) and what changed. A request that
/// changes nothing gives an empty `changes`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The resource after every operation.
    pub resource: Value,
    /// What changed, one entry per attribute touched (per member for Group `members`), in
    /// the order the operations first touched them.
    pub changes: Vec<Change>,
    /// The leniencies of [`ApplyOptions`] that this request actually needed, each once, in the
    /// order first needed: for the provisioning log, beside what [`crate::dialect`] recorded
    /// while rewriting the request. Always empty with the default (strict) options.
    pub applied: Vec<Normalization>,
}

/// Leniencies of [`apply_with`] that depend on the stored resource, so that the tolerant layer
/// ([`crate::dialect::Dialect::patch_options`]) cannot rewrite them into the request. The
/// default is RFC 7644 as written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ApplyOptions {
    /// `replace` through a value filter that matches nothing creates the value from the
    /// filter's equalities, as `add` does, instead of `noTarget`: Entra sends
    /// `{"op":"Replace","path":"addresses[type eq \"work\"].locality",...}` for a user without
    /// a work address. Recorded as [`Normalization::FilterCreates`]. Several such operations in
    /// one request build one value: the first creates it, the next ones match it.
    pub replace_creates: bool,
    /// `remove` through a value filter that matches nothing changes nothing, instead of
    /// `noTarget`: removing a member who already left (a deleted user leaves every group) is
    /// what the client wanted. Recorded as [`Normalization::RemoveNoMatch`].
    pub remove_unmatched: bool,
}

impl ApplyOptions {
    /// RFC 7644 as written: no leniency.
    pub const STRICT: ApplyOptions = ApplyOptions {
        replace_creates: false,
        remove_unmatched: false,
    };

    /// Every leniency.
    pub const LENIENT: ApplyOptions = ApplyOptions {
        replace_creates: true,
        remove_unmatched: true,
    };
}

/// Applies a PATCH to a canonical resource (as [`crate::resource::normalize`] makes and the
/// store keeps, with `id`, `meta` and `groups` if it has them), strictly:
/// [`apply_with`] and [`ApplyOptions::STRICT`]. All or nothing: on error the input is
/// untouched (it is borrowed) and nothing is returned. The result passes
/// [`crate::resource::validate`].
pub fn apply(
    schema: &ResourceSchema,
    resource: &Value,
    request: &PatchRequest,
) -> Result<PatchOutcome, Error> {
    apply_with(schema, resource, request, &ApplyOptions::STRICT)
}

/// [`apply`] with the given leniencies; [`PatchOutcome::applied`] lists those it needed.
pub fn apply_with(
    schema: &ResourceSchema,
    resource: &Value,
    request: &PatchRequest,
    options: &ApplyOptions,
) -> Result<PatchOutcome, Error> {
    let res = resource
        .as_object()
        .cloned()
        .ok_or_else(|| syntax("a resource must be a JSON object"))?;
    let mut p = Patcher {
        schema,
        res,
        touched: Vec::new(),
        options: *options,
        applied: Vec::new(),
    };
    for op in &request.operations {
        p.operation(op)?;
    }
    let Patcher {
        mut res,
        touched,
        applied,
        ..
    } = p;
    canonicalize_top(schema, &mut res);
    let out = Value::Object(res);
    validate(schema, &out)?;
    crate::resource::check_name(schema, &out, Some(resource))?;
    let changes = diff(resource, &out, &touched);
    Ok(PatchOutcome {
        resource: out,
        changes,
        applied,
    })
}

/// What an operation's path designates, resolved against the schema.
struct Target<'s, 'o> {
    /// The extension holding the attribute, or `None` for the top level.
    container: Option<&'s Schema>,
    /// The top-level attribute.
    attr: &'s Attribute,
    /// The value filter, for `attr[filter]`.
    filter: Option<ValueFilter<'s, 'o>>,
    /// The sub-attribute, from `attr.sub` or `attr[filter].sub`.
    sub: Option<&'s Attribute>,
    /// The path as the client sent it, if the operation has one.
    path: Option<&'o PatchPath>,
}

impl<'s, 'o> Target<'s, 'o> {
    /// The attribute's path, printed in errors and changes (`emails`, `urn:...:User:manager`).
    fn attr_path(&self) -> AttrName<'s> {
        AttrName {
            container: self.container,
            attr: self.attr,
        }
    }

    /// The whole target as printed in errors: the client's path (`emails[type eq "work"].value`)
    /// or, for an attribute of a value without a path, its name.
    fn shown(&self) -> Shown<'s, 'o> {
        Shown {
            path: self.path,
            name: self.attr_path(),
        }
    }
}

/// See [`Target::shown`]; printing is deferred to the error that needs it.
struct Shown<'s, 'o> {
    path: Option<&'o PatchPath>,
    name: AttrName<'s>,
}

impl fmt::Display for Shown<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.path {
            Some(p) => p.fmt(f),
            None => self.name.fmt(f),
        }
    }
}

/// The filter of a value path, as parsed and bound to the resource type for evaluation.
struct ValueFilter<'s, 'o> {
    /// The filter over the attribute's sub-attributes, as parsed.
    filter: &'o Filter,
    /// The filter bound to the attribute's sub-attributes, to match its values.
    bound: BoundFilter<'s>,
}

struct Patcher<'s> {
    schema: &'s ResourceSchema,
    res: Map<String, Value>,
    /// The attributes the operations touched, in first-touch order; only these are diffed.
    touched: Vec<(Option<&'s Schema>, &'s Attribute)>,
    options: ApplyOptions,
    /// The leniencies of `options` used so far.
    applied: Vec<Normalization>,
}

fn read_only(path: impl fmt::Display) -> Error {
    Error::Mutability {
        path: path.to_string(),
        mutability: Mutability::ReadOnly.as_str(),
    }
}

fn required(path: impl fmt::Display) -> Error {
    Error::Mutability {
        path: path.to_string(),
        mutability: "required",
    }
}

fn lookup<'v>(res: &'v Value, container: Option<&Schema>, name: &str) -> Option<&'v Value> {
    match container {
        None => res.get(name),
        Some(ext) => res.get(&ext.id)?.get(name),
    }
}

impl<'s> Patcher<'s> {
    fn operation(&mut self, op: &PatchOperation) -> Result<(), Error> {
        match &op.path {
            None => match (op.op, &op.value) {
                (PatchOpKind::Remove, _) => Err(Error::NoTarget(
                    "a remove operation needs a \"path\"".into(),
                )),
                (kind, Some(Value::Object(values))) => self.without_path(kind, values),
                (kind, _) => Err(syntax(format!(
                    "{} without a \"path\" needs an object of attributes as its \"value\"",
                    kind.as_str()
                ))),
            },
            Some(path) if self.whole_extension(path).is_some() => {
                let ext = self.whole_extension(path).expect("checked by the guard");
                self.extension_op(op.op, ext, op.value.as_ref())
            }
            Some(path) => {
                let t = self.target(path)?;
                if t.attr.mutability == Mutability::ReadOnly {
                    return Err(read_only(t.attr_path()));
                }
                if let Some(sub) = t.sub
                    && sub.mutability == Mutability::ReadOnly
                {
                    return Err(read_only(format_args!("{}.{}", t.attr_path(), sub.name)));
                }
                match (op.op, &op.value) {
                    (PatchOpKind::Remove, Some(v)) if !v.is_null() => {
                        return Err(syntax(REMOVE_TAKES_NO_VALUE));
                    }
                    (PatchOpKind::Add | PatchOpKind::Replace, None) => {
                        return Err(syntax(format!("{} needs a \"value\"", op.op.as_str())));
                    }
                    _ => {}
                }
                self.touch(t.container, t.attr);
                self.with_path(op.op, &t, op.value.as_ref())
            }
        }
    }

    /// The extension a path names as a whole (`urn:...:enterprise:2.0:User`): the path parser
    /// reads the URN's last segment as an attribute name, so the two are joined back here.
    fn whole_extension(&self, path: &PatchPath) -> Option<&'s Schema> {
        let prefix = path.attribute.schema.as_deref()?;
        if path.filter.is_some()
            || path.sub_attribute.is_some()
            || path.attribute.sub_attribute.is_some()
        {
            return None;
        }
        let schema = self.schema;
        schema.extension(&format!("{prefix}:{}", path.attribute.attribute))
    }

    /// `add`, `replace` or `remove` on a whole extension: `add` merges the attributes given,
    /// `replace` makes them the extension's only values, `remove` clears it.
    fn extension_op(
        &mut self,
        kind: PatchOpKind,
        ext: &'s Schema,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        if matches!(kind, PatchOpKind::Replace | PatchOpKind::Remove) {
            if kind == PatchOpKind::Remove && value.is_some_and(|v| !v.is_null()) {
                return Err(syntax(REMOVE_TAKES_NO_VALUE));
            }
            for attr in &ext.attributes {
                if attr.mutability != Mutability::ReadOnly
                    && self.get(Some(ext), &attr.name).is_some()
                {
                    self.touch(Some(ext), attr);
                    self.attribute_op(PatchOpKind::Replace, Some(ext), attr, &Value::Null)?;
                }
            }
        }
        match (kind, value) {
            (PatchOpKind::Remove, _) => Ok(()),
            (_, Some(Value::Object(values))) => {
                // A client may echo `schemas` inside the value; the result's list is recomputed.
                let values: Map<String, Value> = values
                    .iter()
                    .filter(|(k, _)| !k.eq_ignore_ascii_case("schemas"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut wrapped = Map::new();
                wrapped.insert(ext.id.clone(), Value::Object(values));
                self.without_path(PatchOpKind::Add, &wrapped)
            }
            (_, _) => Err(Error::invalid_value(
                ext.id.clone(),
                "expected an object holding the extension's attributes",
            )),
        }
    }

    fn touch(&mut self, container: Option<&'s Schema>, attr: &'s Attribute) {
        if !self.touched.iter().any(|(_, a)| std::ptr::eq(*a, attr)) {
            self.touched.push((container, attr));
        }
    }

    /// Resolves a PATCH path: unknown names, and filters that name no sub-attribute of the
    /// attribute or compare in ways its types do not allow, are `invalidPath`.
    fn target<'o>(&self, path: &'o PatchPath) -> Result<Target<'s, 'o>, Error> {
        let bad = |reason: String| Error::invalid_path(path.to_string(), reason);
        let resolved = self
            .schema
            .resolve(&path.attribute)
            .map_err(|e| bad(e.to_string()))?;
        let container = match resolved.location {
            Location::Common | Location::Core => None,
            Location::Extension(s) => Some(s),
        };
        let attr = resolved.attribute;
        let mut sub = resolved.sub_attribute;
        let mut value_filter = None;
        if let Some(filter) = &path.filter {
            if sub.is_some() {
                return Err(bad(
                    "a value filter follows the attribute, not a sub-attribute".into(),
                ));
            }
            if !attr.multi_valued || attr.ty != AttributeType::Complex {
                return Err(bad(format!(
                    "{} is not a multi-valued complex attribute, so it takes no value filter",
                    attr.name
                )));
            }
            let bound = filter
                .bind_value(attr)
                .map_err(|e| bad(e.kind.to_string()))?;
            value_filter = Some(ValueFilter { filter, bound });
        }
        if let Some(name) = &path.sub_attribute {
            if sub.is_some() {
                return Err(bad("a path names at most one sub-attribute".into()));
            }
            sub = Some(
                attr.sub_attribute(name)
                    .ok_or_else(|| bad(format!("{} has no sub-attribute {name:?}", attr.name)))?,
            );
        }
        Ok(Target {
            container,
            attr,
            filter: value_filter,
            sub,
            path: Some(path),
        })
    }

    fn get(&self, container: Option<&Schema>, name: &str) -> Option<&Value> {
        match container {
            None => self.res.get(name),
            Some(ext) => self.res.get(&ext.id)?.get(name),
        }
    }

    /// The object holding the attribute: the resource, or its extension's object (created
    /// empty if need be; empty ones are removed at the end).
    fn slot_mut(&mut self, container: Option<&Schema>) -> Result<&mut Map<String, Value>, Error> {
        match container {
            None => Ok(&mut self.res),
            Some(ext) => self
                .res
                .entry(ext.id.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .ok_or_else(|| Error::invalid_value(ext.id.clone(), "expected an object")),
        }
    }

    /// An `add` or `replace` without a path: each attribute of the value is an operation of
    /// its own, extension URNs hold objects of their attributes.
    fn without_path(
        &mut self,
        kind: PatchOpKind,
        values: &Map<String, Value>,
    ) -> Result<(), Error> {
        let schema = self.schema;
        for (key, value) in values {
            // A client may echo `schemas` in the value; the result's list is recomputed.
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some(ext) = schema.extension(key) {
                match value {
                    Value::Object(inner) => {
                        for (k, v) in inner {
                            let attr = ext.attribute(k).ok_or_else(|| {
                                Error::invalid_value(format!("{}:{k}", ext.id), "unknown attribute")
                            })?;
                            self.attribute_op(kind, Some(ext), attr, v)?;
                        }
                    }
                    Value::Null if kind == PatchOpKind::Replace => {
                        for attr in &ext.attributes {
                            if attr.mutability != Mutability::ReadOnly {
                                self.attribute_op(kind, Some(ext), attr, &Value::Null)?;
                            }
                        }
                    }
                    Value::Null => {}
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
            self.attribute_op(kind, container, attr, value)?;
        }
        Ok(())
    }

    fn attribute_op(
        &mut self,
        kind: PatchOpKind,
        container: Option<&'s Schema>,
        attr: &'s Attribute,
        value: &Value,
    ) -> Result<(), Error> {
        let name = AttrName { container, attr };
        if attr.mutability == Mutability::ReadOnly {
            // Echoing the stored value (Okta sends the group's `id` when renaming it) is not
            // an attempt to change it.
            let unchanged = match self.get(container, &attr.name) {
                Some(current) => equals(attr, current, value),
                None => value.is_null(),
            };
            return if unchanged {
                Ok(())
            } else {
                Err(read_only(name))
            };
        }
        self.touch(container, attr);
        let t = Target {
            container,
            attr,
            filter: None,
            sub: None,
            path: None,
        };
        self.with_path(kind, &t, Some(value))
    }

    /// Applies one operation to its target, then enforces what holds whatever the shape of the
    /// operation: an immutable attribute (or sub-attribute of a singular complex attribute)
    /// that had a value keeps it, and a required one keeps a value.
    fn with_path(
        &mut self,
        kind: PatchOpKind,
        t: &Target<'s, '_>,
        value: Option<&Value>,
    ) -> Result<(), Error> {
        let attr = t.attr;
        let watch_subs = !attr.multi_valued
            && attr
                .sub_attributes
                .iter()
                .any(|s| s.mutability == Mutability::Immutable || s.required);
        let before = if attr.mutability == Mutability::Immutable || watch_subs {
            self.get(t.container, &attr.name).cloned()
        } else {
            None
        };
        let null = Value::Null;
        let value = value.unwrap_or(&null);
        match (&t.filter, t.sub) {
            (Some(filter), _) => self.filtered(kind, t, filter, value)?,
            (None, Some(sub)) => self.sub_everywhere(kind, t, sub, value)?,
            (None, None) => self.whole(kind, t, value)?,
        }
        let after = self.get(t.container, &attr.name);
        check_immutable_value(attr, &t.attr_path(), before.as_ref(), after)?;
        if watch_subs {
            for sub in &attr.sub_attributes {
                let was = before.as_ref().and_then(|v| v.get(&sub.name));
                let now = after.and_then(|v| v.get(&sub.name));
                let path = Loc::Sub(&Loc::Show(&t.attr_path()), &sub.name).to_string();
                check_immutable_value(sub, &path, was, now)?;
                if sub.required && was.is_some() && now.is_none() && after.is_some() {
                    return Err(required(&path));
                }
            }
        }
        if attr.required && after.is_none() {
            return Err(required(t.attr_path()));
        }
        Ok(())
    }

    /// The whole attribute: `emails`, `title`, `name`, `members`.
    fn whole(&mut self, kind: PatchOpKind, t: &Target<'s, '_>, value: &Value) -> Result<(), Error> {
        let attr = t.attr;
        if kind == PatchOpKind::Remove {
            self.slot_mut(t.container)?.shift_remove(&attr.name);
            return Ok(());
        }
        let new = if attr.ty == AttributeType::Complex && !attr.multi_valued {
            normalize_partial(attr, &Loc::Show(&t.shown()), value)?
        } else {
            normalize_at(attr, &Loc::Show(&t.shown()), value)?
        };
        let slot = self.slot_mut(t.container)?;
        match new {
            Value::Null => {
                if kind == PatchOpKind::Replace {
                    slot.shift_remove(&attr.name);
                }
            }
            Value::Array(values) if kind == PatchOpKind::Add => append(attr, slot, values)?,
            Value::Object(subs) if !attr.multi_valued => {
                // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged.
                let current = slot
                    .entry(attr.name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !current.is_object() {
                    *current = Value::Object(Map::new());
                }
                let obj = current.as_object_mut().expect("just made an object");
                merge_into(attr, obj, subs);
            }
            new => {
                slot.insert(attr.name.clone(), new);
            }
        }
        Ok(())
    }

    /// `attr.sub` without a filter: the sub-attribute of a singular complex attribute, or of
    /// every value of a multi-valued one.
    fn sub_everywhere(
        &mut self,
        kind: PatchOpKind,
        t: &Target<'s, '_>,
        sub: &'s Attribute,
        value: &Value,
    ) -> Result<(), Error> {
        let attr = t.attr;
        let new = match kind {
            PatchOpKind::Remove => Value::Null,
            _ => normalize_at(sub, &Loc::Show(&t.shown()), value)?,
        };
        if new.is_null() && kind == PatchOpKind::Add {
            return Ok(());
        }
        let slot = self.slot_mut(t.container)?;
        if !attr.multi_valued {
            if new.is_null() {
                if let Some(Value::Object(obj)) = slot.get_mut(&attr.name) {
                    obj.shift_remove(&sub.name);
                    if obj.is_empty() {
                        slot.shift_remove(&attr.name);
                    }
                }
            } else {
                let current = slot
                    .entry(attr.name.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                if !current.is_object() {
                    *current = Value::Object(Map::new());
                }
                let obj = current.as_object_mut().expect("just made an object");
                let mut subs = Map::new();
                subs.insert(sub.name.clone(), new);
                merge_into(attr, obj, subs);
            }
            return Ok(());
        }
        let Some(Value::Array(values)) = slot.get_mut(&attr.name) else {
            if !new.is_null() {
                // Nothing to apply it to: the sub-attribute becomes the attribute's one value.
                let mut obj = Map::new();
                obj.insert(sub.name.clone(), new);
                let one = normalize_single_at(attr, &Loc::Show(&t.shown()), &Value::Object(obj))?;
                slot.insert(attr.name.clone(), Value::Array(vec![one]));
            }
            return Ok(());
        };
        for (i, v) in values.iter_mut().enumerate() {
            let name = t.attr_path();
            let here = Loc::Sub(&Loc::Index(&Loc::Show(&name), i), &sub.name);
            set_sub(sub, v, &new, &here)?;
            if let Some(obj) = v.as_object_mut() {
                order_object(&attr.sub_attributes, obj);
            }
        }
        values.retain(|v| v.as_object().is_some_and(|o| !o.is_empty()));
        if values.is_empty() {
            slot.shift_remove(&attr.name);
        }
        Ok(())
    }

    /// `attr[filter]` and `attr[filter].sub`.
    fn filtered(
        &mut self,
        kind: PatchOpKind,
        t: &Target<'s, '_>,
        filter: &ValueFilter<'s, '_>,
        value: &Value,
    ) -> Result<(), Error> {
        let attr = t.attr;
        // The value is checked first, so that a bad value is reported whether or not the
        // filter matches.
        let new = match (kind, t.sub) {
            (PatchOpKind::Remove, _) => Value::Null,
            (_, Some(sub)) => normalize_at(sub, &Loc::Show(&t.shown()), value)?,
            // `replace` puts a whole new value in place of each selected one; `add` merges
            // into them, so the given part may lack required sub-attributes.
            (PatchOpKind::Replace, None) => {
                normalize_single_at(attr, &Loc::Show(&t.shown()), value)?
            }
            (PatchOpKind::Add, None) => normalize_partial(attr, &Loc::Show(&t.shown()), value)?,
        };
        let options = self.options;
        let slot = self.slot_mut(t.container)?;
        // The values are taken out, leaving the key where it is, so the map need not shift.
        let mut values = match slot.get_mut(&attr.name) {
            Some(Value::Array(values)) => std::mem::take(values),
            _ => Vec::new(),
        };
        let hits: Vec<usize> = (0..values.len())
            .filter(|&i| filter.bound.matches(&values[i]))
            .collect();
        let (result, used) = if hits.is_empty() {
            match no_match(kind, t, filter.filter, &new, &mut values, &options) {
                Ok(used) => (Ok(()), used),
                Err(e) => (Err(e), None),
            }
        } else {
            (on_matches(kind, t, &new, &hits, &mut values), None)
        };
        match slot.get_mut(&attr.name) {
            _ if values.is_empty() => {
                slot.shift_remove(&attr.name);
            }
            Some(place) => *place = Value::Array(values),
            None => {
                slot.insert(attr.name.clone(), Value::Array(values));
            }
        }
        if let Some(n) = used {
            note(&mut self.applied, n);
        }
        result
    }
}

/// Appends values to a multi-valued attribute, skipping those already present (members by id,
/// in constant time per value, so adding one member to a large group stays linear); a new
/// primary value takes the mark from the others.
fn append(attr: &Attribute, slot: &mut Map<String, Value>, new: Vec<Value>) -> Result<(), Error> {
    let current = slot
        .entry(attr.name.clone())
        .or_insert_with(|| Value::Array(Vec::new()));
    if !current.is_array() {
        *current = Value::Array(Vec::new());
    }
    let values = current.as_array_mut().expect("just made an array");
    let fresh: Vec<Value> = if is_members(attr) && new.len() <= 16 {
        // A few members (the usual request adds one): comparing each with the existing ids
        // costs less than hashing them all, and stays linear in the group.
        new.into_iter()
            .filter(|v| {
                member_value(v).is_none_or(|id| values.iter().all(|e| member_value(e) != Some(id)))
            })
            .collect()
    } else if is_members(attr) {
        let ids: HashSet<&str> = values.iter().filter_map(member_value).collect();
        new.into_iter()
            .filter(|v| member_value(v).is_none_or(|id| !ids.contains(id)))
            .collect()
    } else {
        new.into_iter().filter(|v| !values.contains(v)).collect()
    };
    let start = values.len();
    values.extend(fresh);
    let added: Vec<usize> = (start..values.len()).collect();
    settle_primary(values, &added);
    Ok(())
}

/// Merges sub-attributes into the value of a singular complex attribute. When that changes
/// the value, its readOnly sub-attributes go: the service provider derives them from the rest
/// (a new `manager.value` makes the old `manager.displayName` wrong) and fills them in again.
fn merge_into(attr: &Attribute, current: &mut Map<String, Value>, subs: Map<String, Value>) {
    let changes = subs.iter().any(|(k, v)| current.get(k) != Some(v));
    if changes {
        current.retain(|k, _| {
            attr.sub_attribute(k)
                .is_none_or(|s| s.mutability != Mutability::ReadOnly)
        });
    }
    for (k, v) in subs {
        current.insert(k, v);
    }
    order_object(&attr.sub_attributes, current);
}

/// When one of the `favored` values (sorted indices) is now primary, the others lose the mark
/// (RFC 7643 §2.4: at most one primary value).
fn settle_primary(values: &mut [Value], favored: &[usize]) {
    let Some(&keep) = favored.iter().find(|&&i| is_primary(&values[i])) else {
        return;
    };
    for (j, v) in values.iter_mut().enumerate() {
        if j != keep
            && favored.binary_search(&j).is_err()
            && is_primary(v)
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("primary".into(), Value::Bool(false));
        }
    }
}

/// Sets (or with `Value::Null`, removes) a sub-attribute of one value of a multi-valued
/// attribute, refusing to change an immutable sub-attribute that has a value (a member's
/// `display`) and to remove a required one.
fn set_sub(sub: &Attribute, v: &mut Value, new: &Value, path: &Loc<'_>) -> Result<(), Error> {
    let Some(obj) = v.as_object_mut() else {
        return Ok(());
    };
    let old = obj.get(&sub.name);
    let new_opt = (!new.is_null()).then_some(new);
    check_immutable_value(sub, path, old, new_opt)?;
    if new.is_null() {
        if sub.required && old.is_some() {
            return Err(required(path));
        }
        obj.shift_remove(&sub.name);
    } else {
        obj.insert(sub.name.clone(), new.clone());
    }
    Ok(())
}

/// What `add`, `replace` and `remove` do to the values a filter selected.
fn on_matches(
    kind: PatchOpKind,
    t: &Target<'_, '_>,
    new: &Value,
    hits: &[usize],
    values: &mut Vec<Value>,
) -> Result<(), Error> {
    let attr = t.attr;
    match (kind, t.sub) {
        (PatchOpKind::Add, _) if new.is_null() => {}
        (PatchOpKind::Remove | PatchOpKind::Replace, None) if new.is_null() => {
            remove_indices(values, hits);
        }
        (PatchOpKind::Replace, None) => {
            for &i in hits {
                values[i] = new.clone();
            }
            settle_primary(values, hits);
        }
        (_, None) => {
            // `add` to selected values merges the given sub-attributes into each.
            let subs = new.as_object().expect("a complex value is an object");
            for &i in hits {
                for (k, v) in subs {
                    let sub = attr.sub_attribute(k).expect("normalised names are known");
                    let name = t.attr_path();
                    let path = Loc::Sub(&Loc::Index(&Loc::Show(&name), i), k);
                    set_sub(sub, &mut values[i], v, &path)?;
                }
                if let Some(obj) = values[i].as_object_mut() {
                    order_object(&attr.sub_attributes, obj);
                }
            }
            settle_primary(values, hits);
        }
        (_, Some(sub)) => {
            for &i in hits {
                let name = t.attr_path();
                let path = Loc::Sub(&Loc::Index(&Loc::Show(&name), i), &sub.name);
                set_sub(sub, &mut values[i], new, &path)?;
                if let Some(obj) = values[i].as_object_mut() {
                    order_object(&attr.sub_attributes, obj);
                }
            }
            let emptied: Vec<usize> = hits
                .iter()
                .copied()
                .filter(|&i| values[i].as_object().is_some_and(Map::is_empty))
                .collect();
            remove_indices(values, &emptied);
            if !new.is_null() {
                settle_primary(values, hits);
            }
        }
    }
    Ok(())
}

/// A filter that selects nothing. For `add`, a filter made of equalities describes the value
/// to create (`emails[type eq "work"].value`); anything else is `noTarget` (RFC 7644
/// §3.5.2.2–3), unless `options` make `replace` create like `add` and `remove` do nothing.
/// Returns the leniency used, if any.
fn no_match(
    kind: PatchOpKind,
    t: &Target<'_, '_>,
    filter: &Filter,
    new: &Value,
    values: &mut Vec<Value>,
    options: &ApplyOptions,
) -> Result<Option<Normalization>, Error> {
    let none = || Error::NoTarget(format!("{} selects no value", t.shown()));
    let used = match kind {
        PatchOpKind::Add => None,
        PatchOpKind::Replace if options.replace_creates => Some(Normalization::FilterCreates),
        PatchOpKind::Remove if options.remove_unmatched => {
            return Ok(Some(Normalization::RemoveNoMatch));
        }
        PatchOpKind::Replace | PatchOpKind::Remove => return Err(none()),
    };
    if new.is_null() {
        return Ok(None);
    }
    let mut eqs = Vec::new();
    if !equalities(filter, &mut eqs) {
        return Err(none());
    }
    let mut obj = Map::new();
    for (path, lit) in eqs {
        let sub = t
            .attr
            .sub_attribute(&path.attribute)
            .expect("filter names were checked");
        obj.insert(sub.name.clone(), literal(lit));
    }
    match (t.sub, new) {
        (Some(sub), v) => {
            obj.insert(sub.name.clone(), v.clone());
        }
        (None, Value::Object(subs)) => {
            for (k, v) in subs {
                obj.insert(k.clone(), v.clone());
            }
        }
        (None, _) => return Err(none()),
    }
    let one = normalize_single_at(t.attr, &Loc::Show(&t.shown()), &Value::Object(obj))?;
    if one.is_null() {
        return Ok(None);
    }
    values.push(one);
    let added = [values.len() - 1];
    settle_primary(values, &added);
    Ok(used)
}

fn remove_indices(values: &mut Vec<Value>, sorted: &[usize]) {
    if sorted.is_empty() {
        return;
    }
    let mut i = 0;
    values.retain(|_| {
        let keep = sorted.binary_search(&i).is_err();
        i += 1;
        keep
    });
}

fn literal(v: &CompValue) -> Value {
    match v {
        CompValue::Null => Value::Null,
        CompValue::Bool(b) => Value::Bool(*b),
        CompValue::Number(n) => Value::Number(n.clone()),
        CompValue::String(s) => Value::String(s.clone()),
    }
}

/// The operands of a chain of one operator (`a and b and c`), left to right. A parsed chain is
/// a tree as deep as the chain is long, so it is walked in a loop, not by recursion; what
/// remains recursive (parentheses, `not`) is bounded by the parser's nesting limit.
fn chain(filter: &Filter) -> Option<(bool, Vec<&Filter>)> {
    let and = match filter {
        Filter::And(..) => true,
        Filter::Or(..) => false,
        _ => return None,
    };
    let mut operands = Vec::new();
    let mut node = filter;
    while let (Filter::And(l, r), true) | (Filter::Or(l, r), false) = (node, and) {
        operands.push(r.as_ref());
        node = l;
    }
    operands.push(node);
    operands.reverse();
    Some((and, operands))
}

/// Collects the `sub eq literal` terms of a filter made only of them joined by `and`.
fn equalities<'f>(filter: &'f Filter, out: &mut Vec<(&'f AttrPath, &'f CompValue)>) -> bool {
    match filter {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value,
        } if !matches!(value, CompValue::Null) => {
            out.push((path, value));
            true
        }
        Filter::And(..) => match chain(filter) {
            Some((_, operands)) => operands.into_iter().all(|f| equalities(f, out)),
            None => false,
        },
        _ => false,
    }
}

/// The member ids that left (in their old order) and joined (in their new order), given the
/// ids before and after, each list without duplicates (valid resources have none).
///
/// Most PATCHes append members or remove some and keep the others in order; one walk in step
/// over both lists finds those changes without hashing 100,000 ids twice. When the walk's
/// answer is inconsistent (members were reordered), sets decide.
fn member_changes<'a>(old: &[&'a str], new: &[&'a str]) -> (Vec<&'a str>, Vec<&'a str>) {
    let mut matched = 0;
    let mut removed = Vec::new();
    for &id in old {
        if new.get(matched) == Some(&id) {
            matched += 1;
        } else {
            removed.push(id);
        }
    }
    let added = &new[matched..];
    // With no duplicates in either list, the walk is right unless an id it calls removed
    // reappears among those it calls added.
    let overlap = if removed.len().saturating_mul(added.len()) <= 4096 {
        removed.iter().any(|r| added.contains(r))
    } else {
        let gone: HashSet<&str> = removed.iter().copied().collect();
        added.iter().any(|a| gone.contains(a))
    };
    if !overlap {
        return (removed, added.to_vec());
    }
    let old_set: HashSet<&str> = old.iter().copied().collect();
    let new_set: HashSet<&str> = new.iter().copied().collect();
    (
        old.iter()
            .copied()
            .filter(|id| !new_set.contains(id))
            .collect(),
        new.iter()
            .copied()
            .filter(|id| !old_set.contains(id))
            .collect(),
    )
}

/// The changes between the stored resource and the result, over the attributes touched.
fn diff(old: &Value, new: &Value, touched: &[(Option<&Schema>, &Attribute)]) -> Vec<Change> {
    let mut changes = Vec::new();
    for &(container, attr) in touched {
        let (o, n) = (
            lookup(old, container, &attr.name),
            lookup(new, container, &attr.name),
        );
        if container.is_none() && is_members(attr) {
            let old_ids: Vec<&str> = o
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(member_value).collect())
                .unwrap_or_default();
            let new_ids: Vec<&str> = n
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(member_value).collect())
                .unwrap_or_default();
            let (removed, added) = member_changes(&old_ids, &new_ids);
            changes.extend(removed.into_iter().map(|id| Change::MemberRemoved {
                value: id.to_owned(),
            }));
            changes.extend(added.into_iter().map(|id| Change::MemberAdded {
                value: id.to_owned(),
            }));
            continue;
        }
        if o == n {
            continue;
        }
        let path = attribute_path(container, attr);
        changes.push(match n {
            None => Change::Cleared { path },
            Some(_) => Change::Set { path },
        });
    }
    changes
}
