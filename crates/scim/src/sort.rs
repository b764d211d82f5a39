//! Sorting (RFC 7644 §3.4.2.3): a comparator for sortBy and sortOrder over resources.
//!
//! What is implemented, following the RFC text:
//!
//! - Values compare by the attribute's type ([`crate::value::compare`]): strings without
//!   regard to case unless the attribute is `caseExact`, dateTimes as instants whatever their
//!   fraction digits or offset, numbers as numbers.
//! - A multi-valued attribute sorts by its value marked `primary`, else by its first value. A
//!   complex attribute named without a sub-attribute sorts by its `value` sub-attribute.
//! - A resource without a value "is ordered last if ascending and first if descending": the
//!   missing value compares greater than any value, and `descending` reverses the whole order.
//! - Ties compare [`Ordering::Equal`]; with a stable sort ([`SortBy::sort`]) they keep the
//!   caller's order.
//!
//! Decisions where the RFC is silent: a `sortBy` naming no attribute of the resource type
//! sorts nothing (every resource ties), like the projection ignores unknown names; values of
//! different JSON types (which a canonical resource does not hold) are ordered booleans,
//! numbers, instants, strings, then anything else, so that the comparator stays a total order.

use std::cmp::Ordering;

use serde_json::Value;

use crate::error::Error;
use crate::path::AttrPath;
use crate::schema::{Attribute, AttributeType, ResourceSchema};
use crate::value::{compare, parse_datetime};

/// The `sortOrder` parameter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum SortOrder {
    /// `ascending`, the default.
    #[default]
    Ascending,
    /// `descending`.
    Descending,
}

impl SortOrder {
    /// Parses `ascending` or `descending`, without regard to case or surrounding spaces.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let s = input.trim();
        if s.eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if s.eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(Error::invalid_value(
                "sortOrder",
                format!("{input:?} is neither \"ascending\" nor \"descending\""),
            ))
        }
    }

    /// The RFC's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        }
    }
}

/// A parsed `sortBy` / `sortOrder` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortBy {
    /// The attribute sorted by, as the client spelled it.
    pub path: AttrPath,
    /// The direction.
    pub order: SortOrder,
}

/// The definitions a sort path resolved to, looked up once per sort.
struct Key<'s> {
    container: Option<&'s str>,
    attribute: &'s Attribute,
    sub: Option<&'s Attribute>,
}

impl SortBy {
    /// Parses `sortBy` (an attribute path) and the optional `sortOrder`. A bad path is an
    /// [`Error::Path`]; a `sortOrder` other than `ascending`/`descending` an
    /// [`Error::InvalidValue`].
    pub fn parse(sort_by: &str, sort_order: Option<&str>) -> Result<Self, Error> {
        let path = AttrPath::parse(sort_by.trim())?;
        let order = match sort_order {
            Some(o) if !o.trim().is_empty() => SortOrder::parse(o)?,
            _ => SortOrder::Ascending,
        };
        Ok(SortBy { path, order })
    }

    /// Refuses a sort on an attribute whose values are never shown (`password`): the order
    /// of results would reveal them. An attribute the schema does not know is not refused
    /// (RFC 7644 §3.4.2.3 leaves the order unspecified then).
    pub fn validate(&self, schema: &ResourceSchema) -> Result<(), Error> {
        let Ok(resolved) = schema.resolve(&self.path) else {
            return Ok(());
        };
        if resolved.attribute.is_hidden()
            || resolved.sub_attribute.is_some_and(Attribute::is_hidden)
        {
            return Err(Error::Filter(crate::filter::FilterError {
                input: self.path.to_string(),
                position: 0,
                kind: crate::filter::FilterErrorKind::Unsupported(format!(
                    "sortBy {} names an attribute that is never returned, so results cannot be \
                     sorted by it",
                    self.path
                )),
            }));
        }
        Ok(())
    }

    /// Compares two resources (canonical form) for this sort. Resolving the path costs a little
    /// on every call; to sort a whole page use [`SortBy::sort`], which resolves it once.
    pub fn compare(&self, schema: &ResourceSchema, a: &Value, b: &Value) -> Ordering {
        match self.key(schema) {
            Some(key) => self.compare_with(&key, a, b),
            None => Ordering::Equal,
        }
    }

    /// Sorts resources in place, stably: ties keep the order they came in.
    pub fn sort(&self, schema: &ResourceSchema, resources: &mut [Value]) {
        if let Some(key) = self.key(schema) {
            resources.sort_by(|a, b| self.compare_with(&key, a, b));
        }
    }

    /// The value a resource is sorted by: the attribute's (or sub-attribute's) value, taken from
    /// the primary or first element of a multi-valued attribute. `None` when it has none.
    pub fn sort_value<'v>(
        &self,
        schema: &ResourceSchema,
        resource: &'v Value,
    ) -> Option<&'v Value> {
        let key = self.key(schema)?;
        extract(&key, resource)
    }

    fn key<'s>(&self, schema: &'s ResourceSchema) -> Option<Key<'s>> {
        let resolved = schema.resolve(&self.path).ok()?;
        let sub = match resolved.sub_attribute {
            Some(s) => Some(s),
            // A complex attribute sorts by its `value` (RFC 7643 §2.4 makes `value` the
            // significant part of a multi-valued attribute).
            None if resolved.attribute.ty == AttributeType::Complex => {
                Some(resolved.attribute.sub_attribute("value")?)
            }
            None => None,
        };
        Some(Key {
            container: resolved.container(),
            attribute: resolved.attribute,
            sub,
        })
    }

    fn compare_with(&self, key: &Key<'_>, a: &Value, b: &Value) -> Ordering {
        let leaf = key.sub.unwrap_or(key.attribute);
        let ascending = match (extract(key, a), extract(key, b)) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => compare_values(leaf, x, y),
        };
        match self.order {
            SortOrder::Ascending => ascending,
            SortOrder::Descending => ascending.reverse(),
        }
    }
}

/// Finds the value to sort a resource by; `null` counts as missing.
fn extract<'v>(key: &Key<'_>, resource: &'v Value) -> Option<&'v Value> {
    let container = match key.container {
        Some(urn) => get_ci(resource, urn)?,
        None => resource,
    };
    let mut value = get_ci(container, &key.attribute.name)?;
    if let Value::Array(items) = value {
        value = items
            .iter()
            .find(|item| get_ci(item, "primary") == Some(&Value::Bool(true)))
            .or_else(|| items.first())?;
    }
    if let Some(sub) = key.sub {
        value = get_ci(value, &sub.name)?;
    }
    (!value.is_null()).then_some(value)
}

/// Looks up a key in an object: the canonical spelling first, then without regard to case.
fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// A total order over values of one attribute: values of one kind compare by the attribute's
/// rules, values of different kinds by kind.
fn compare_values(attr: &Attribute, x: &Value, y: &Value) -> Ordering {
    let (kx, ky) = (kind(attr, x), kind(attr, y));
    if kx != ky {
        return kx.cmp(&ky);
    }
    compare(attr, x, y).unwrap_or(Ordering::Equal)
}

/// The rank of a value's kind. A dateTime string that does not parse ranks apart from those
/// that do: comparing it by text with one and by instant with another would break transitivity.
fn kind(attr: &Attribute, v: &Value) -> u8 {
    match v {
        Value::Bool(_) => 0,
        Value::Number(_) => 1,
        Value::String(s) if attr.ty == AttributeType::DateTime && parse_datetime(s).is_some() => 2,
        Value::String(_) => 3,
        _ => 4,
    }
}
