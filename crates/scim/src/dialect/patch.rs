//! PatchOp messages as clients send them rewritten into RFC 7644 §3.5.2 form, operation by operation.

use serde_json::{Map, Value};

use super::Normalization;
use super::body::{Fix, Key};
use crate::filter::PatchPath;
use crate::patch::PatchOpKind;
use crate::path::AttrPath;
use crate::resource::is_members;
use crate::schema::{Attribute, Mutability, ResolveError, ResourceSchema};

/// Rewrites a PatchOp message. Anything not understood is passed on as it is, for the core to
/// refuse with the RFC's error.
pub(super) fn rewrite(
    schema: &ResourceSchema,
    body: &Value,
    applied: &mut Vec<Normalization>,
) -> Value {
    let Value::Object(msg) = body else {
        return body.clone();
    };
    let mut p = Patch {
        fix: Fix::new(schema, applied),
        out: Vec::new(),
    };
    let mut message = Map::new();
    for (k, v) in msg {
        if k.eq_ignore_ascii_case("schemas") {
            message.insert(k.clone(), v.clone());
        } else if k.eq_ignore_ascii_case("Operations") {
            let ops = match v {
                Value::Array(ops) => ops.as_slice(),
                Value::Object(_) => {
                    p.fix.note(Normalization::SingleValueArray);
                    std::slice::from_ref(v)
                }
                other => {
                    message.insert(k.clone(), other.clone());
                    continue;
                }
            };
            for op in ops {
                p.operation(op);
            }
            message.insert(k.clone(), Value::Array(std::mem::take(&mut p.out)));
        } else {
            // Microsoft's test collection sends the group's `id` beside `Operations`.
            p.fix.note(Normalization::UnknownPatchMember);
        }
    }
    Value::Object(message)
}

/// What a PATCH path designates, for rewriting its value.
enum Target<'s> {
    /// A whole attribute (`emails`, `manager`): its value is the attribute's whole value.
    Whole(&'s Attribute),
    /// One value selected by a filter (`emails[type eq "work"]`).
    Element(&'s Attribute),
    /// A sub-attribute (`name.givenName`, `emails[type eq "work"].value`).
    Sub(&'s Attribute),
}

/// A path for the core, with its parse when it parses.
struct Path {
    text: String,
    parsed: Option<PatchPath>,
}

struct Patch<'s, 'a> {
    fix: Fix<'s, 'a>,
    /// The rewritten operations so far.
    out: Vec<Value>,
}

/// `""` or `null`: what clients send for "no value".
fn blank(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

/// Whether `v`, given by an `add` or `replace` to a target that is (`list`) or is not a whole
/// multi-valued attribute, asks to clear the target: `""`, or `null` on `add` (which the core
/// would take as "change nothing"; `null` on `replace` already unassigns). Adding nothing to a
/// list is not clearing it: such an `add` goes to the core as it is.
fn clears(kind: PatchOpKind, v: &Value, list: bool) -> bool {
    match kind {
        PatchOpKind::Add => blank(v) && !list,
        PatchOpKind::Replace | PatchOpKind::Remove => matches!(v, Value::String(s) if s.is_empty()),
    }
}

impl<'s> Patch<'s, '_> {
    fn emit(&mut self, kind: &str, path: Option<&str>, value: Option<Value>) {
        let mut op = Map::new();
        op.insert("op".into(), Value::String(kind.to_owned()));
        if let Some(p) = path {
            op.insert("path".into(), Value::String(p.to_owned()));
        }
        if let Some(v) = value {
            op.insert("value".into(), v);
        }
        self.out.push(Value::Object(op));
    }

    fn remove(&mut self, path: &str) {
        self.emit(PatchOpKind::Remove.as_str(), Some(path), None);
    }

    fn operation(&mut self, op: &Value) {
        let Value::Object(obj) = op else {
            self.out.push(op.clone());
            return;
        };
        let (mut kind, mut path, mut value) = (None, None, None);
        for (k, v) in obj {
            let slot = if k.eq_ignore_ascii_case("op") {
                &mut kind
            } else if k.eq_ignore_ascii_case("path") {
                &mut path
            } else if k.eq_ignore_ascii_case("value") {
                &mut value
            } else {
                // Microsoft's test collection names its operations (`"name": "addMember"`).
                self.fix.note(Normalization::UnknownPatchMember);
                continue;
            };
            if slot.replace(v).is_some() {
                // A member given twice: nothing sensible to rewrite; the core refuses it.
                self.out.push(op.clone());
                return;
            }
        }
        let known = match kind {
            Some(Value::String(s)) => [PatchOpKind::Add, PatchOpKind::Remove, PatchOpKind::Replace]
                .into_iter()
                .find(|k| k.as_str().eq_ignore_ascii_case(s))
                .map(|k| (k, k.as_str() != s)),
            _ => None,
        };
        let path_text = match path {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(p)) => Some(Some(p.as_str())),
            Some(_) => None,
        };
        let (Some((kind, recased)), Some(path)) = (known, path_text) else {
            // An unknown op or a path that is not a string: the core refuses it; only the
            // members RFC 7644 does not define are dropped.
            let kept = obj
                .iter()
                .filter(|(k, _)| {
                    ["op", "path", "value"]
                        .iter()
                        .any(|m| k.eq_ignore_ascii_case(m))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            self.out.push(Value::Object(kept));
            return;
        };
        if recased {
            self.fix.note(Normalization::OpCase);
        }
        let path = path.map(|p| self.path(p));
        match (kind, path, value) {
            (PatchOpKind::Remove, Some(path), Some(v)) if !v.is_null() => {
                self.remove_with_value(&path, v);
            }
            (PatchOpKind::Remove, path, _) => {
                self.emit(kind.as_str(), path.as_ref().map(|p| p.text.as_str()), None);
            }
            (_, None, Some(Value::Object(values))) => self.without_path(kind, values),
            (_, path, value) => self.with_path(kind, path.as_ref(), value),
        }
    }

    /// A path as the client sent it → the path for the core: legacy URN prefixes replaced,
    /// unquoted filter values quoted.
    fn path(&mut self, text: &str) -> Path {
        let text = self.fix.legacy(text).into_owned();
        match PatchPath::parse(&text) {
            Ok(parsed) => Path {
                text,
                parsed: Some(parsed),
            },
            Err(_) => match PatchPath::parse_lenient(&text) {
                Ok((parsed, unquoted)) if unquoted > 0 => {
                    self.fix.note(Normalization::UnquotedFilterValue);
                    Path {
                        text: parsed.to_string(),
                        parsed: Some(parsed),
                    }
                }
                _ => Path { text, parsed: None },
            },
        }
    }

    /// What a path designates in the schema, if it resolves.
    fn target(&self, path: &Path) -> Option<Target<'s>> {
        let parsed = path.parsed.as_ref()?;
        let resolved = self.fix.schema.resolve(&parsed.attribute).ok()?;
        let attr = resolved.attribute;
        let sub = match (&parsed.sub_attribute, resolved.sub_attribute) {
            (None, sub) => sub,
            (Some(name), None) => Some(attr.sub_attribute(name)?),
            (Some(_), Some(_)) => return None,
        };
        Some(match (sub, &parsed.filter) {
            (Some(sub), _) => Target::Sub(sub),
            (None, Some(_)) => Target::Element(attr),
            (None, None) => Target::Whole(attr),
        })
    }

    /// `add`/`replace` with a path (or, oddly, without one and without an object value).
    fn with_path(&mut self, kind: PatchOpKind, path: Option<&Path>, value: Option<&Value>) {
        let (Some(path), Some(value)) = (path, value) else {
            let text = path.map(|p| p.text.as_str());
            self.emit(kind.as_str(), text, value.cloned());
            return;
        };
        let target = self.target(path);
        let list = matches!(target, Some(Target::Whole(a)) if a.multi_valued);
        if clears(kind, value, list) {
            // Entra clears the manager with `"value": ""`; RFC 7644 spells that `remove`.
            self.fix.note(Normalization::EmptyClears);
            self.remove(&path.text);
            return;
        }
        let fixed = match target {
            _ if blank(value) => value.clone(),
            Some(Target::Whole(attr)) => self.fix.attribute(attr, value),
            Some(Target::Element(attr)) => self.fix.element(attr, value),
            Some(Target::Sub(sub)) => self.fix.attribute(sub, value),
            None => value.clone(),
        };
        self.emit(kind.as_str(), Some(&path.text), Some(fixed));
    }

    /// `add`/`replace` without a path: plain attributes stay in one operation without a path;
    /// dotted keys (`name.givenName`) and URN-qualified keys become operations with that path,
    /// emitted after it; attributes cleared with `""` become `remove` operations.
    fn without_path(&mut self, kind: PatchOpKind, values: &Map<String, Value>) {
        let schema = self.fix.schema;
        let mut kept = Map::new();
        let mut nested: Vec<(String, &Value)> = Vec::new();
        let mut cleared: Vec<String> = Vec::new();
        for (k, v) in values {
            if k.eq_ignore_ascii_case("schemas") {
                kept.insert(k.clone(), v.clone());
                continue;
            }
            let key = self.fix.legacy(k).into_owned();
            if let Some(ext) = schema.extension(&key) {
                let Value::Object(inner) = v else {
                    kept.insert(key, v.clone());
                    continue;
                };
                let mut attrs = Map::new();
                for (ik, iv) in inner {
                    match ext.attribute(ik) {
                        None => self.fix.note(Normalization::UnknownAttribute),
                        Some(attr)
                            if attr.mutability != Mutability::ReadOnly
                                && clears(kind, iv, attr.multi_valued) =>
                        {
                            cleared.push(format!("{}:{}", ext.id, attr.name));
                        }
                        Some(_) if blank(iv) => {
                            attrs.insert(ik.clone(), iv.clone());
                        }
                        Some(attr) => {
                            let iv = self.fix.attribute(attr, iv);
                            attrs.insert(ik.clone(), iv);
                        }
                    }
                }
                if !attrs.is_empty() {
                    kept.insert(key, Value::Object(attrs));
                }
                continue;
            }
            match self.fix.key(&key) {
                Key::Attribute(attr) if attr.mutability == Mutability::ReadOnly => {
                    // Okta echoes the group's `id` when renaming it; the core checks it.
                    kept.insert(key, v.clone());
                }
                Key::Attribute(_) if key.contains(':') => {
                    self.fix.note(Normalization::PatchUrnKeys);
                    nested.push((key, v));
                }
                Key::Attribute(attr) if clears(kind, v, attr.multi_valued) => {
                    cleared.push(attr.name.clone());
                }
                Key::Attribute(_) if blank(v) => {
                    kept.insert(key, v.clone());
                }
                Key::Attribute(attr) => {
                    let v = self.fix.attribute(attr, v);
                    kept.insert(key, v);
                }
                Key::Unknown => self.fix.note(Normalization::UnknownAttribute),
                Key::Keep => match sub_path(schema, &key) {
                    Some(true) => {
                        if key.contains(':') {
                            self.fix.note(Normalization::PatchUrnKeys);
                        }
                        self.fix.note(Normalization::PatchDottedKeys);
                        nested.push((key, v));
                    }
                    Some(false) => self.fix.note(Normalization::UnknownAttribute),
                    None => {
                        kept.insert(key, v.clone());
                    }
                },
            }
        }
        let has_attributes = kept.keys().any(|k| !k.eq_ignore_ascii_case("schemas"));
        if has_attributes || (nested.is_empty() && cleared.is_empty()) {
            self.emit(kind.as_str(), None, Some(Value::Object(kept)));
        }
        if !cleared.is_empty() {
            self.fix.note(Normalization::EmptyClears);
        }
        for path in &cleared {
            self.remove(path);
        }
        for (path, v) in nested {
            let path = self.path(&path);
            self.with_path(kind, Some(&path), Some(v));
        }
    }

    /// `remove` with a path and a value. Entra removes members so
    /// (`{"op":"Remove","path":"members","value":[{"value":"id"}]}`); each member becomes a
    /// `remove` of `members[value eq "id"]`. Anything else goes to the core as it is, which
    /// refuses a `remove` with a value.
    fn remove_with_value(&mut self, path: &Path, value: &Value) {
        let as_is = |p: &mut Self| {
            p.emit(
                PatchOpKind::Remove.as_str(),
                Some(&path.text),
                Some(value.clone()),
            )
        };
        let Some(Target::Whole(attr)) = self.target(path) else {
            return as_is(self);
        };
        if !is_members(attr) {
            return as_is(self);
        }
        let items = match value {
            Value::Array(items) => items.as_slice(),
            single => std::slice::from_ref(single),
        };
        let mut ids = Vec::with_capacity(items.len());
        let mut bare = false;
        for item in items {
            match item {
                Value::String(id) => {
                    bare = true;
                    ids.push(id.as_str());
                }
                Value::Object(m) => {
                    let id = m
                        .iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case("value"))
                        .and_then(|(_, v)| v.as_str());
                    match id {
                        Some(id) => ids.push(id),
                        None => return as_is(self),
                    }
                }
                Value::Null => {}
                _ => return as_is(self),
            }
        }
        self.fix.note(Normalization::MemberRemoveValue);
        if bare {
            self.fix.note(Normalization::BareMemberValue);
        }
        if !value.is_array() {
            self.fix.note(Normalization::SingleValueArray);
        }
        // The attribute as the client named it, without sub-attribute or filter (`members`,
        // or with the Group URN).
        let attribute = match &path.parsed {
            Some(p) => p.attribute.to_string(),
            None => path.text.clone(),
        };
        if ids.is_empty() {
            // Removing no member must not become the path-only `remove` that removes them
            // all; adding none is the RFC's way to change nothing.
            self.emit(
                PatchOpKind::Add.as_str(),
                Some(&attribute),
                Some(Value::Array(Vec::new())),
            );
            return;
        }
        for id in ids {
            let literal = Value::String(id.to_owned()).to_string();
            self.remove(&format!("{attribute}[value eq {literal}]"));
        }
    }
}

/// Whether a key of a path-less value that is a path with a sub-attribute
/// (`name.givenName`, `urn:...:enterprise:2.0:User:manager.value`) resolves: `Some(true)` if
/// so, `Some(false)` if it names an unknown attribute or sub-attribute (dropped), `None` if it
/// is no path at all or its URN is not a schema of the resource type (the core refuses it).
fn sub_path(schema: &ResourceSchema, key: &str) -> Option<bool> {
    let path = AttrPath::parse(key).ok()?;
    match schema.resolve(&path) {
        Ok(_) => Some(true),
        Err(ResolveError::UnknownSchema(_)) => None,
        Err(_) => Some(false),
    }
}
