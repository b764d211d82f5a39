//! Projection (RFC 7644 §3.9): attributes and excludedAttributes, honouring each attribute's returned characteristic.
//!
//! A [`Projection`] is parsed once per request from the `attributes` and `excludedAttributes`
//! parameters, resolved against the resource type, and then applied to every resource of the
//! response. Decisions where the RFC is silent or ambiguous:
//!
//! - **Unknown names are ignored**, as RFC 7644 §3.4.2.5 and most service providers do, so that
//!   a client asking for an attribute of an extension this tenant lacks still gets an answer.
//!   A name that is not even a well-formed attribute path is an [`Error::Path`].
//!   `attributes=nosuch` therefore still counts as "attributes given": the response holds the
//!   `always` attributes only.
//! - **A path selects itself and everything beneath it.** `attributes=name` returns every
//!   sub-attribute of `name` (`request` ones too), and a bare schema URN selects every
//!   attribute of that schema (the core URN selects the common and core attributes).
//! - **Both parameters together:** RFC 7644 §3.9 calls them mutually exclusive; rather than
//!   refuse, `attributes` is applied first and `excludedAttributes` then removes from that
//!   set. `always` attributes survive both.
//! - **`always` at any level:** an `always` sub-attribute is returned whenever its parent value
//!   exists, and a default sub-attribute of an `always` attribute comes along with it.
//! - **Keys the schema does not describe are dropped**, so the output holds nothing the
//!   `/Schemas` document does not announce.
//! - **`schemas` is trimmed** of extension URNs whose object is absent from the output:
//!   RFC 7643 §3 says `schemas` names the schemas of the attributes present.

use serde_json::{Map, Value};

use crate::error::Error;
use crate::path::AttrPath;
use crate::schema::{Attribute, AttributeType, Location, ResourceSchema, Returned};

/// Which part of a resource a selector points into.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Container {
    /// The top level: common attributes and the core schema.
    Top,
    /// The object keyed by this extension URN (canonical spelling).
    Extension(String),
}

/// One resolved entry of `attributes` or `excludedAttributes`, in canonical names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    container: Container,
    /// `None` selects the whole container (a bare schema URN).
    attribute: Option<String>,
    /// `Some` selects one sub-attribute of `attribute`.
    sub_attribute: Option<String>,
}

impl Selector {
    /// Whether the selector names the node `(container, attribute, sub)` or one of its
    /// ancestors.
    fn covers(&self, container: &Container, attribute: &str, sub: Option<&str>) -> bool {
        if self.container != *container {
            return false;
        }
        match (&self.attribute, &self.sub_attribute) {
            (None, _) => true,
            (Some(a), None) => a == attribute,
            (Some(a), Some(s)) => a == attribute && sub == Some(s.as_str()),
        }
    }

    /// Whether the selector names exactly the node, not merely an ancestor.
    fn names_exactly(&self, container: &Container, attribute: &str, sub: Option<&str>) -> bool {
        self.container == *container
            && self.attribute.as_deref() == Some(attribute)
            && self.sub_attribute.as_deref() == sub
    }
}

/// A parsed `attributes` / `excludedAttributes` pair, resolved against one resource type.
///
/// [`Projection::default`] is "no parameters": the default set of RFC 7643 §7 (`always` and
/// `default` attributes; no `request` and no `never` ones).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    /// `None` when `attributes` was not given (or was empty).
    attributes: Option<Vec<Selector>>,
    excluded: Vec<Selector>,
    /// Names that parsed but named nothing in the resource type, kept for logging.
    ignored: Vec<String>,
}

impl Projection {
    /// Parses the `attributes` and `excludedAttributes` query parameters (comma-separated
    /// attribute paths, spaces around names tolerated). An absent or blank parameter counts as
    /// not given.
    pub fn parse(
        schema: &ResourceSchema,
        attributes: Option<&str>,
        excluded_attributes: Option<&str>,
    ) -> Result<Self, Error> {
        let attributes = split_list(attributes.unwrap_or(""));
        let excluded = split_list(excluded_attributes.unwrap_or(""));
        Self::from_lists(schema, &attributes, &excluded)
    }

    /// Builds a projection from lists of attribute paths, as a SearchRequest body or a
    /// [`crate::messages::ListQuery`] holds them. An empty `attributes` list counts as not
    /// given.
    pub fn from_lists<S: AsRef<str>>(
        schema: &ResourceSchema,
        attributes: &[S],
        excluded_attributes: &[S],
    ) -> Result<Self, Error> {
        let mut ignored = Vec::new();
        let mut resolve_all = |names: &[S]| -> Result<Vec<Selector>, Error> {
            let mut out = Vec::with_capacity(names.len());
            for name in names {
                let name = name.as_ref().trim();
                if name.is_empty() {
                    continue;
                }
                match resolve_selector(schema, name)? {
                    Some(sel) => out.push(sel),
                    None => ignored.push(name.to_owned()),
                }
            }
            Ok(out)
        };
        let given = attributes.iter().any(|a| !a.as_ref().trim().is_empty());
        let attributes = if given {
            Some(resolve_all(attributes)?)
        } else {
            None
        };
        let excluded = resolve_all(excluded_attributes)?;
        Ok(Projection {
            attributes,
            excluded,
            ignored,
        })
    }

    /// Whether `attributes` was given (then only named and `always` attributes are returned).
    pub fn has_attributes(&self) -> bool {
        self.attributes.is_some()
    }

    /// The names that were well-formed but matched no attribute of the resource type and were
    /// therefore ignored, for the server to log.
    pub fn ignored(&self) -> &[String] {
        &self.ignored
    }

    /// Applies the projection to one resource in canonical form. `schema` must be the resource
    /// type the projection was parsed against. A value that is not an object is returned as is.
    pub fn apply(&self, schema: &ResourceSchema, resource: &Value) -> Value {
        let Value::Object(map) = resource else {
            return resource.clone();
        };
        let mut out = Map::with_capacity(map.len());
        for (key, value) in map {
            if key.eq_ignore_ascii_case("schemas") {
                // Holds the key's place in the output order; filled in once the extensions
                // present are known.
                out.insert(key.clone(), Value::Null);
            } else if let Some(ext) = schema.extension(key) {
                let container = Container::Extension(ext.id.clone());
                let Value::Object(inner) = value else {
                    continue;
                };
                let mut projected = Map::new();
                for (k, v) in inner {
                    if let Some(a) = ext.attribute(k)
                        && let Some(kept) = self.project_attribute(&container, a, v)
                    {
                        projected.insert(k.clone(), kept);
                    }
                }
                if !projected.is_empty() {
                    out.insert(key.clone(), Value::Object(projected));
                }
            } else if let Some((_, a)) = schema.top_level(key)
                && let Some(kept) = self.project_attribute(&Container::Top, a, value)
            {
                out.insert(key.clone(), kept);
            }
        }
        let schemas_key = map.keys().find(|k| k.eq_ignore_ascii_case("schemas"));
        if let Some(key) = schemas_key {
            let trimmed = trim_schemas(schema, &map[key], &out);
            out.insert(key.clone(), trimmed);
        }
        Value::Object(out)
    }

    /// Whether any part of `attribute` can appear in a projected resource, so that a storage
    /// layer can skip loading it (`members` of a group under `excludedAttributes=members` or
    /// `attributes=displayName`). `attribute` is an attribute path (`members`, `emails.value`,
    /// `urn:…:enterprise:2.0:User:manager`) or a bare schema URN. Names that do not resolve
    /// are not needed: they would never be returned.
    pub fn needs(&self, schema: &ResourceSchema, attribute: &str) -> bool {
        let attribute = attribute.trim();
        if let Some(ext) = schema.extension(attribute) {
            let container = Container::Extension(ext.id.clone());
            return ext
                .attributes
                .iter()
                .any(|a| self.needs_attribute(&container, a, None));
        }
        if schema.core.id.eq_ignore_ascii_case(attribute) {
            return true;
        }
        let Ok(path) = AttrPath::parse(attribute) else {
            return false;
        };
        let Ok(resolved) = schema.resolve(&path) else {
            return false;
        };
        let container = container_of(resolved.location);
        self.needs_attribute(&container, resolved.attribute, resolved.sub_attribute)
    }

    fn needs_attribute(
        &self,
        container: &Container,
        attribute: &Attribute,
        sub: Option<&Attribute>,
    ) -> bool {
        match sub {
            Some(s) => self.keeps(container, attribute, Some(s)),
            None if has_subs(attribute) => {
                attribute.returned != Returned::Never
                    && attribute
                        .sub_attributes
                        .iter()
                        .any(|s| self.keeps(container, attribute, Some(s)))
            }
            None => self.keeps(container, attribute, None),
        }
    }

    /// Projects the value of one top-level (or extension) attribute; `None` drops it.
    fn project_attribute(
        &self,
        container: &Container,
        attribute: &Attribute,
        value: &Value,
    ) -> Option<Value> {
        if attribute.returned == Returned::Never {
            return None;
        }
        if !has_subs(attribute) {
            return self
                .keeps(container, attribute, None)
                .then(|| value.clone());
        }
        match value {
            Value::Object(obj) => self
                .project_complex(container, attribute, obj)
                .map(Value::Object),
            Value::Array(items) => {
                let kept: Vec<Value> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::Object(obj) => self
                            .project_complex(container, attribute, obj)
                            .map(Value::Object),
                        // A bare value where an object belongs is not canonical; it follows
                        // the attribute as a whole.
                        other => self
                            .keeps(container, attribute, None)
                            .then(|| other.clone()),
                    })
                    .collect();
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            other => self
                .keeps(container, attribute, None)
                .then(|| other.clone()),
        }
    }

    fn project_complex(
        &self,
        container: &Container,
        attribute: &Attribute,
        obj: &Map<String, Value>,
    ) -> Option<Map<String, Value>> {
        let mut out = Map::new();
        for (k, v) in obj {
            if let Some(sub) = attribute.sub_attribute(k)
                && self.keeps(container, attribute, Some(sub))
            {
                out.insert(k.clone(), v.clone());
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// The heart of the projection: whether the node `attribute[.sub]` is returned.
    fn keeps(&self, container: &Container, attribute: &Attribute, sub: Option<&Attribute>) -> bool {
        let node = sub.unwrap_or(attribute);
        if attribute.returned == Returned::Never || node.returned == Returned::Never {
            return false;
        }
        if node.returned == Returned::Always {
            return true;
        }
        let name = attribute.name.as_str();
        let sub_name = sub.map(|s| s.name.as_str());
        let parent_always = sub.is_some() && attribute.returned == Returned::Always;
        let in_default_set = attribute.returned != Returned::Request
            && sub.is_none_or(|s| s.returned != Returned::Request);
        let selected = match &self.attributes {
            Some(sels) => {
                sels.iter().any(|s| s.covers(container, name, sub_name))
                    || (parent_always && in_default_set)
            }
            None => in_default_set,
        };
        // Excluding an `always` attribute has no effect (RFC 7644 §3.4.2.5), so under such a
        // parent only a selector naming the sub-attribute itself removes it.
        let excluded = self.excluded.iter().any(|s| {
            if parent_always {
                s.names_exactly(container, name, sub_name)
            } else {
                s.covers(container, name, sub_name)
            }
        });
        selected && !excluded
    }
}

/// Removes every `returned: never` attribute and sub-attribute (such as `password`) in place:
/// the cheap path for responses without `attributes`/`excludedAttributes` where `request`
/// attributes the client itself sent may be echoed (RFC 7643 §7 on POST/PUT/PATCH). Keys the
/// schema does not describe are left alone. For a plain GET use [`Projection::default`], which
/// also leaves out `request` attributes.
pub fn strip_never(schema: &ResourceSchema, resource: &mut Value) {
    let Value::Object(map) = resource else {
        return;
    };
    map.retain(|key, value| {
        if let Some(ext) = schema.extension(key) {
            if let Value::Object(inner) = value {
                inner.retain(|k, v| match ext.attribute(k) {
                    Some(a) => strip_never_attribute(a, v),
                    None => true,
                });
            }
            true
        } else {
            match schema.top_level(key) {
                Some((_, a)) => strip_never_attribute(a, value),
                None => true,
            }
        }
    });
}

/// Strips `never` sub-attributes from `value`; returns whether the attribute itself stays.
fn strip_never_attribute(attribute: &Attribute, value: &mut Value) -> bool {
    if attribute.returned == Returned::Never {
        return false;
    }
    if !has_subs(attribute)
        || attribute
            .sub_attributes
            .iter()
            .all(|s| s.returned != Returned::Never)
    {
        return true;
    }
    let strip = |obj: &mut Map<String, Value>| {
        obj.retain(|k, _| {
            attribute
                .sub_attribute(k)
                .is_none_or(|s| s.returned != Returned::Never)
        });
    };
    match value {
        Value::Object(obj) => strip(obj),
        Value::Array(items) => {
            for item in items {
                if let Value::Object(obj) = item {
                    strip(obj);
                }
            }
        }
        _ => {}
    }
    true
}

/// Splits a comma-separated parameter into trimmed, non-empty names.
pub(crate) fn split_list(input: &str) -> Vec<String> {
    input
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn has_subs(attribute: &Attribute) -> bool {
    attribute.ty == AttributeType::Complex && !attribute.sub_attributes.is_empty()
}

fn container_of(location: Location<'_>) -> Container {
    match location {
        Location::Common | Location::Core => Container::Top,
        Location::Extension(s) => Container::Extension(s.id.clone()),
    }
}

/// Resolves one name: `Ok(None)` for a well-formed name that matches nothing.
fn resolve_selector(schema: &ResourceSchema, name: &str) -> Result<Option<Selector>, Error> {
    // A bare schema URN parses as an attribute path whose "attribute" is the URN's last
    // segment, so it is recognised before parsing.
    if schema.core.id.eq_ignore_ascii_case(name) {
        return Ok(Some(Selector {
            container: Container::Top,
            attribute: None,
            sub_attribute: None,
        }));
    }
    if let Some(ext) = schema.extension(name) {
        return Ok(Some(Selector {
            container: Container::Extension(ext.id.clone()),
            attribute: None,
            sub_attribute: None,
        }));
    }
    let path = AttrPath::parse(name)?;
    Ok(schema.resolve(&path).ok().map(|r| Selector {
        container: container_of(r.location),
        attribute: Some(r.attribute.name.clone()),
        sub_attribute: r.sub_attribute.map(|s| s.name.clone()),
    }))
}

/// Keeps in `schemas` the core URN, every URN that is not an extension of this resource type,
/// and the extensions whose object made it into `out`.
fn trim_schemas(schema: &ResourceSchema, schemas: &Value, out: &Map<String, Value>) -> Value {
    let Value::Array(urns) = schemas else {
        return schemas.clone();
    };
    let kept = urns
        .iter()
        .filter(|urn| match urn.as_str() {
            Some(urn) if schema.extension(urn).is_some() => {
                out.keys().any(|k| k.eq_ignore_ascii_case(urn))
            }
            _ => true,
        })
        .cloned()
        .collect();
    Value::Array(kept)
}
