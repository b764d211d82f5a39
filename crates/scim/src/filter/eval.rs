//! Evaluating filters over normalised resource JSON: directly from the AST (resolving each
//! path as it is met, for [`Filter::matches`]), or through a [`BoundFilter`] in which every
//! path is resolved and every literal prepared once (for [`Filter::bind`]). Both share the
//! resolution ([`test`]) and the comparisons ([`Test::eval`]), so they cannot disagree.
//!
//! The rules, from RFC 7644 §3.4.2.2 and what provisioning clients expect:
//! - a comparison on a multi-valued attribute matches if any value matches;
//! - a comparison on a complex attribute without a sub-attribute applies to its `value`
//!   sub-attribute (`emails co "example.com"` is `emails.value co "example.com"`);
//! - strings compare without regard to case unless the attribute is `caseExact`, dateTimes
//!   as instants, numbers as numbers; `gt`/`ge`/`lt`/`le` do not apply to booleans, binary or
//!   complex values;
//! - `pr` is true when the attribute has a value other than null, `""`, `[]` or `{}`;
//!   `eq null` is "not present" and `ne null` is "present";
//! - `ne` is true when the attribute is absent.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{CompValue, CompareOp, Filter, FilterErrorKind};
use crate::path::AttrPath;
use crate::schema::{Attribute, AttributeType, ResourceSchema};
use crate::value::{compare, compare_str, equals, parse_datetime};

/// A filter bound to one resource type by [`Filter::bind`]: attribute paths are resolved and
/// literals prepared (case-folded, dateTimes parsed), so matching does no schema look-ups and
/// no allocation for ASCII data.
#[derive(Debug, Clone)]
pub struct BoundFilter<'s> {
    node: Node<'s>,
}

impl BoundFilter<'_> {
    /// Whether the resource (a normalised resource JSON object) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        eval(&self.node, resource)
    }
}

#[derive(Debug, Clone)]
enum Node<'s> {
    /// Every child matches; chains of `and` are flattened into one node.
    All(Vec<Node<'s>>),
    /// Some child matches; chains of `or` are flattened into one node.
    Any(Vec<Node<'s>>),
    Not(Box<Node<'s>>),
    Test(Test<'s, 'static>),
    /// `attr[filter]`: some element of the (multi-valued) complex attribute matches.
    Each {
        target: Target<'s>,
        inner: Box<Node<'s>>,
    },
}

/// Where the compared values are, relative to the object being matched (the resource, or an
/// element of a complex attribute inside `[...]`).
#[derive(Debug, Clone, Copy)]
struct Target<'s> {
    /// The key of the extension object holding the attribute, if it is an extension's.
    container: Option<&'s str>,
    /// The attribute read from the object.
    attribute: &'s Attribute,
    /// The sub-attribute read from each of its values.
    sub: Option<&'s Attribute>,
}

/// One comparison, resolved. `'f` is the filter's lifetime: [`Filter::matches`] borrows the
/// literals, a [`BoundFilter`] owns them.
#[derive(Debug, Clone)]
struct Test<'s, 'f> {
    target: Target<'s>,
    /// The definition of the compared values (the sub-attribute if there is one).
    leaf: &'s Attribute,
    cond: Cond<'f>,
}

#[derive(Debug, Clone)]
enum Cond<'f> {
    Present,
    Absent,
    Eq(Lit<'f>),
    Ne(Lit<'f>),
    /// The needle, lowercased unless the attribute is caseExact.
    Contains(Cow<'f, str>),
    StartsWith(Cow<'f, str>),
    EndsWith(Cow<'f, str>),
    Order(CompareOp, Lit<'f>),
}

/// A literal prepared for its attribute.
#[derive(Debug, Clone)]
struct Lit<'f> {
    value: LitValue<'f>,
    /// For dateTime attributes: the instant.
    instant: Option<OffsetDateTime>,
}

#[derive(Debug, Clone)]
enum LitValue<'f> {
    Str(Cow<'f, str>),
    /// `null`, a boolean or a number: cheap to build as a JSON value.
    Scalar(Value),
}

impl Cond<'_> {
    fn into_owned(self) -> Cond<'static> {
        let own = |s: Cow<'_, str>| Cow::Owned(s.into_owned());
        let lit = |l: Lit<'_>| Lit {
            value: match l.value {
                LitValue::Str(s) => LitValue::Str(own(s)),
                LitValue::Scalar(v) => LitValue::Scalar(v),
            },
            instant: l.instant,
        };
        match self {
            Cond::Present => Cond::Present,
            Cond::Absent => Cond::Absent,
            Cond::Eq(l) => Cond::Eq(lit(l)),
            Cond::Ne(l) => Cond::Ne(lit(l)),
            Cond::Contains(s) => Cond::Contains(own(s)),
            Cond::StartsWith(s) => Cond::StartsWith(own(s)),
            Cond::EndsWith(s) => Cond::EndsWith(own(s)),
            Cond::Order(op, l) => Cond::Order(op, lit(l)),
        }
    }
}

/// Binds `filter` to `schema`, refusing anything that cannot apply.
pub(super) fn bind<'s>(
    filter: &Filter,
    schema: &'s ResourceSchema,
) -> Result<BoundFilter<'s>, FilterErrorKind> {
    let node = bind_node(filter, Scope::Resource(schema))?;
    Ok(BoundFilter { node })
}

/// Binds a value filter over the sub-attributes of `attribute`.
pub(super) fn bind_value<'s>(
    filter: &Filter,
    attribute: &'s Attribute,
) -> Result<BoundFilter<'s>, FilterErrorKind> {
    let node = bind_node(filter, Scope::Within(attribute))?;
    Ok(BoundFilter { node })
}

/// Evaluates a value filter against one value of `attribute`, as [`matches`] does.
pub(super) fn matches_value(filter: &Filter, attribute: &Attribute, value: &Value) -> bool {
    eval_filter(filter, Scope::Within(attribute), value)
}

/// Evaluates `filter` directly, resolving each path as it goes: no allocation, and no
/// error, since anything that cannot apply is simply false.
pub(super) fn matches(filter: &Filter, schema: &ResourceSchema, resource: &Value) -> bool {
    eval_filter(filter, Scope::Resource(schema), resource)
}

/// What paths are resolved against.
#[derive(Clone, Copy)]
enum Scope<'s> {
    Resource(&'s ResourceSchema),
    /// Inside `attr[...]`: the sub-attributes of `attr`.
    Within(&'s Attribute),
}

/// Binds a node. Recursion follows `not`, `[...]` and alternations of `and`/`or`, all of which
/// need parentheses in the text, so a parsed filter recurses at most about three times
/// [`super::MAX_DEPTH`]; chains of one operator are walked in a loop.
fn bind_node<'s>(f: &Filter, scope: Scope<'s>) -> Result<Node<'s>, FilterErrorKind> {
    match f {
        Filter::And(..) => Ok(Node::All(bind_chain(f, true, scope)?)),
        Filter::Or(..) => Ok(Node::Any(bind_chain(f, false, scope)?)),
        Filter::Not(inner) => Ok(Node::Not(Box::new(bind_node(inner, scope)?))),
        Filter::Compare { path, op, value } => {
            let t = test(scope, path, Some((*op, value)))?;
            Ok(Node::Test(Test {
                cond: t.cond.into_owned(),
                ..t
            }))
        }
        Filter::Present(path) => {
            let t = test(scope, path, None)?;
            Ok(Node::Test(Test {
                cond: t.cond.into_owned(),
                ..t
            }))
        }
        Filter::ValuePath { path, filter } => {
            let target = value_path_target(scope, path)?;
            let inner = bind_node(filter, Scope::Within(target.attribute))?;
            Ok(Node::Each {
                target,
                inner: Box::new(inner),
            })
        }
    }
}

fn bind_chain<'s>(
    f: &Filter,
    and: bool,
    scope: Scope<'s>,
) -> Result<Vec<Node<'s>>, FilterErrorKind> {
    let mut out = Vec::new();
    let mut stack = vec![f];
    while let Some(n) = stack.pop() {
        match (n, and) {
            (Filter::And(l, r), true) | (Filter::Or(l, r), false) => {
                stack.push(r);
                stack.push(l);
            }
            _ => out.push(bind_node(n, scope)?),
        }
    }
    Ok(out)
}

/// The unbound evaluation behind [`Filter::matches`]. Chains are walked down their left
/// spine in a loop (evaluating right operands on the way: the result does not depend on the
/// order), so only parentheses and brackets recurse.
fn eval_filter(f: &Filter, scope: Scope<'_>, object: &Value) -> bool {
    let mut node = f;
    loop {
        match node {
            Filter::And(l, r) => {
                if !eval_filter(r, scope, object) {
                    return false;
                }
                node = l;
            }
            Filter::Or(l, r) => {
                if eval_filter(r, scope, object) {
                    return true;
                }
                node = l;
            }
            Filter::Not(inner) => return !eval_filter(inner, scope, object),
            Filter::Compare { path, op, value } => {
                return test(scope, path, Some((*op, value))).is_ok_and(|t| t.eval(object));
            }
            Filter::Present(path) => return test(scope, path, None).is_ok_and(|t| t.eval(object)),
            Filter::ValuePath { path, filter } => {
                return value_path_target(scope, path).is_ok_and(|t| {
                    t.any_element(object, |item| {
                        eval_filter(filter, Scope::Within(t.attribute), item)
                    })
                });
            }
        }
    }
}

fn target<'s>(scope: Scope<'s>, path: &AttrPath) -> Result<Target<'s>, FilterErrorKind> {
    let t = resolve_target(scope, path)?;
    if t.attribute.is_hidden() || t.sub.is_some_and(Attribute::is_hidden) {
        return Err(FilterErrorKind::Unsupported(format!(
            "{path} is never returned, so it cannot be filtered on"
        )));
    }
    Ok(t)
}

fn resolve_target<'s>(scope: Scope<'s>, path: &AttrPath) -> Result<Target<'s>, FilterErrorKind> {
    match scope {
        Scope::Resource(schema) => {
            let r = match schema.resolve(path) {
                Ok(r) => r,
                Err(_) if is_schemas(path) => {
                    return Ok(Target {
                        container: None,
                        attribute: schemas_attribute(),
                        sub: None,
                    });
                }
                Err(_) => return Err(FilterErrorKind::UnknownAttribute(path.to_string())),
            };
            Ok(Target {
                container: r.container(),
                attribute: r.attribute,
                sub: r.sub_attribute,
            })
        }
        Scope::Within(outer) => {
            let unknown = || FilterErrorKind::UnknownAttribute(format!("{}[{path}]", outer.name));
            if path.schema.is_some() || path.sub_attribute.is_some() {
                return Err(unknown());
            }
            let attribute = outer.sub_attribute(&path.attribute).ok_or_else(unknown)?;
            Ok(Target {
                container: None,
                attribute,
                sub: None,
            })
        }
    }
}

/// Whether the path is `schemas`, which every resource has (RFC 7643 §3) but which no schema
/// defines, so [`ResourceSchema::resolve`] does not know it. RFC 7644 §3.4.2.2 filters on it
/// (`schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`).
fn is_schemas(path: &AttrPath) -> bool {
    path.schema.is_none()
        && path.sub_attribute.is_none()
        && path.attribute.eq_ignore_ascii_case("schemas")
}

fn schemas_attribute() -> &'static Attribute {
    static SCHEMAS: std::sync::OnceLock<Attribute> = std::sync::OnceLock::new();
    SCHEMAS.get_or_init(|| Attribute::new("schemas", AttributeType::Reference).multi())
}

fn value_path_target<'s>(scope: Scope<'s>, path: &AttrPath) -> Result<Target<'s>, FilterErrorKind> {
    if matches!(scope, Scope::Within(_)) {
        return Err(FilterErrorKind::Unsupported(format!(
            "value filters cannot be nested: {path}[...] inside [...]"
        )));
    }
    let t = target(scope, path)?;
    if t.sub.is_some() || t.attribute.ty != AttributeType::Complex {
        return Err(FilterErrorKind::Unsupported(format!(
            "{path} is not a complex attribute, so it cannot take a value filter [...]"
        )));
    }
    Ok(t)
}

fn unsupported(message: String) -> FilterErrorKind {
    FilterErrorKind::Unsupported(message)
}

/// Resolves `path pr` (no comparison) or `path op value`, checking that it applies.
fn test<'s, 'f>(
    scope: Scope<'s>,
    path: &AttrPath,
    comparison: Option<(CompareOp, &'f CompValue)>,
) -> Result<Test<'s, 'f>, FilterErrorKind> {
    let mut target = target(scope, path)?;
    let mut leaf = target.sub.unwrap_or(target.attribute);
    let Some((op, value)) = comparison else {
        return Ok(Test {
            target,
            leaf,
            cond: Cond::Present,
        });
    };
    // No stored text holds a NUL, and a NUL ends a pattern in some engines' LIKE, where
    // `co "\u0000"` would then match everything.
    if let CompValue::String(text) = value
        && let Some(at) = text.find('\0')
    {
        return Err(unsupported(format!(
            "the value compared with {path} holds a NUL character (at byte {at}), which no \
             attribute can hold"
        )));
    }
    if *value == CompValue::Null {
        let cond = match op {
            CompareOp::Eq => Cond::Absent,
            CompareOp::Ne => Cond::Present,
            _ => {
                return Err(unsupported(format!(
                    "'{op}' cannot compare with null; use 'pr', 'eq null' or 'ne null'"
                )));
            }
        };
        return Ok(Test { target, leaf, cond });
    }
    if leaf.ty == AttributeType::Complex {
        match leaf.sub_attribute("value") {
            Some(v) if target.sub.is_none() => {
                target.sub = Some(v);
                leaf = v;
            }
            _ => {
                let example = leaf
                    .sub_attributes
                    .first()
                    .map_or(String::new(), |s| format!(", e.g. {path}.{}", s.name));
                return Err(unsupported(format!(
                    "{path} is complex: compare one of its sub-attributes{example}"
                )));
            }
        }
    }
    let ty = leaf.ty;
    let text_op = matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew);
    let order_op = matches!(
        op,
        CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le
    );
    let op_applies = match ty {
        AttributeType::Boolean => !text_op && !order_op,
        AttributeType::Binary => !order_op,
        AttributeType::Integer | AttributeType::Decimal => !text_op,
        AttributeType::String
        | AttributeType::Reference
        | AttributeType::DateTime
        | AttributeType::Complex => true,
    };
    if !op_applies {
        return Err(unsupported(format!(
            "'{op}' does not apply to {path}, which is of type {}",
            ty.as_str()
        )));
    }
    let instant = match (ty, value) {
        (AttributeType::DateTime, CompValue::String(s)) if !text_op => parse_datetime(s),
        _ => None,
    };
    let literal_fits = match (ty, value) {
        (AttributeType::Boolean, CompValue::Bool(_)) => true,
        (AttributeType::Integer | AttributeType::Decimal, CompValue::Number(_)) => true,
        (AttributeType::DateTime, CompValue::String(_)) => text_op || instant.is_some(),
        (
            AttributeType::String | AttributeType::Reference | AttributeType::Binary,
            CompValue::String(_),
        ) => true,
        _ => false,
    };
    if !literal_fits {
        let wanted = match ty {
            AttributeType::Boolean => "true or false",
            AttributeType::Integer | AttributeType::Decimal => "a number",
            AttributeType::DateTime => "a dateTime string such as \"2011-05-13T04:42:34Z\"",
            _ => "a string in double quotes",
        };
        return Err(unsupported(format!(
            "{path} is of type {} and cannot be compared with {value}: expected {wanted}",
            ty.as_str()
        )));
    }
    let cond = match (op, value) {
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, CompValue::String(s)) => {
            let needle = if leaf.case_exact
                || (s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()))
            {
                Cow::Borrowed(s.as_str())
            } else {
                Cow::Owned(fold(s))
            };
            match op {
                CompareOp::Co => Cond::Contains(needle),
                CompareOp::Sw => Cond::StartsWith(needle),
                _ => Cond::EndsWith(needle),
            }
        }
        (CompareOp::Eq, _) => Cond::Eq(Lit::new(value, instant)),
        (CompareOp::Ne, _) => Cond::Ne(Lit::new(value, instant)),
        (CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le, _) => {
            Cond::Order(op, Lit::new(value, instant))
        }
        (CompareOp::Co | CompareOp::Sw | CompareOp::Ew, _) => {
            return Err(unsupported(format!(
                "'{op}' needs a string in double quotes, not {value}"
            )));
        }
    };
    Ok(Test { target, leaf, cond })
}

impl<'f> Lit<'f> {
    /// The literal, with its instant when the attribute is a dateTime.
    fn new(value: &'f CompValue, instant: Option<OffsetDateTime>) -> Lit<'f> {
        let value = match value {
            CompValue::Null => LitValue::Scalar(Value::Null),
            CompValue::Bool(b) => LitValue::Scalar(Value::Bool(*b)),
            CompValue::Number(n) => LitValue::Scalar(Value::Number(n.clone())),
            CompValue::String(s) => LitValue::Str(Cow::Borrowed(s)),
        };
        Lit { value, instant }
    }
}

/// Folds as every case-insensitive comparison does ([`crate::value::fold_case`]), so that the
/// evaluator and the stores' keys agree.
fn fold(s: &str) -> String {
    crate::value::fold_case(s)
}

/// Finds `key` in `map`: the canonical spelling first, then without regard to case.
fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

impl Target<'_> {
    /// The attribute's value in `object`, if there is one.
    fn lookup<'v>(&self, object: &'v Value) -> Option<&'v Value> {
        let mut map = object.as_object()?;
        if let Some(urn) = self.container {
            map = get_ci(map, urn)?.as_object()?;
        }
        get_ci(map, &self.attribute.name)
    }

    /// Whether `f` holds for some non-null value at the target within `value` (the
    /// attribute's value): each element of an array, each element's sub-attribute.
    fn any(&self, value: &Value, mut f: impl FnMut(&Value) -> bool) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|item| self.any_in(item, &mut f)),
            _ => self.any_in(value, &mut f),
        }
    }

    /// Whether `f` holds for some element (an object) of the complex attribute in `object`,
    /// or for its one value if it is singular.
    fn any_element(&self, object: &Value, mut f: impl FnMut(&Value) -> bool) -> bool {
        match self.lookup(object) {
            Some(Value::Array(items)) => items.iter().any(|item| item.is_object() && f(item)),
            Some(item @ Value::Object(_)) => f(item),
            _ => false,
        }
    }

    fn any_in(&self, item: &Value, f: &mut impl FnMut(&Value) -> bool) -> bool {
        let Some(sub) = self.sub else {
            return !item.is_null() && f(item);
        };
        match item.as_object().and_then(|m| get_ci(m, &sub.name)) {
            Some(Value::Array(values)) => values.iter().any(|v| !v.is_null() && f(v)),
            Some(Value::Null) | None => false,
            Some(v) => f(v),
        }
    }
}

fn eval(node: &Node<'_>, object: &Value) -> bool {
    match node {
        Node::All(nodes) => nodes.iter().all(|n| eval(n, object)),
        Node::Any(nodes) => nodes.iter().any(|n| eval(n, object)),
        Node::Not(inner) => !eval(inner, object),
        Node::Test(test) => test.eval(object),
        Node::Each { target, inner } => target.any_element(object, |item| eval(inner, item)),
    }
}

impl Test<'_, '_> {
    fn eval(&self, object: &Value) -> bool {
        let Some(value) = self.target.lookup(object) else {
            return matches!(self.cond, Cond::Absent | Cond::Ne(_));
        };
        let leaf = self.leaf;
        let t = &self.target;
        match &self.cond {
            Cond::Present => t.any(value, |v| is_present(v, 2)),
            Cond::Absent => !t.any(value, |v| is_present(v, 2)),
            Cond::Eq(lit) => t.any(value, |v| lit.equals(leaf, v)),
            Cond::Ne(lit) => {
                let mut seen = false;
                let differs = t.any(value, |v| {
                    seen = true;
                    !lit.equals(leaf, v)
                });
                differs || !seen
            }
            Cond::Contains(needle) => t.any(value, |v| {
                v.as_str()
                    .is_some_and(|s| contains(s, needle, leaf.case_exact))
            }),
            Cond::StartsWith(needle) => t.any(value, |v| {
                v.as_str()
                    .is_some_and(|s| starts_with(s, needle, leaf.case_exact))
            }),
            Cond::EndsWith(needle) => t.any(value, |v| {
                v.as_str()
                    .is_some_and(|s| ends_with(s, needle, leaf.case_exact))
            }),
            Cond::Order(op, lit) => t.any(value, |v| {
                lit.compare(leaf, v).is_some_and(|o| match op {
                    CompareOp::Gt => o == Ordering::Greater,
                    CompareOp::Ge => o != Ordering::Less,
                    CompareOp::Lt => o == Ordering::Less,
                    CompareOp::Le => o != Ordering::Greater,
                    _ => false,
                })
            }),
        }
    }
}

impl Lit<'_> {
    /// Orders the resource's value `v` against the literal, by the rules of
    /// [`crate::value::compare`], with fast paths for dateTimes (the literal is parsed once)
    /// and for ASCII strings compared without regard to case.
    fn compare(&self, leaf: &Attribute, v: &Value) -> Option<Ordering> {
        if let (Some(lit), Some(s)) = (self.instant, v.as_str())
            && let Some(t) = parse_datetime(s)
        {
            return Some(t.cmp(&lit));
        }
        match (v, &self.value) {
            (Value::String(a), LitValue::Str(b)) => Some(match ascii_pair(leaf, a, b) {
                Some((a, b)) => ascii_lower(a).cmp(ascii_lower(b)),
                None => compare_str(leaf, a, b),
            }),
            // A string literal orders only strings, as `value::compare` has it.
            (_, LitValue::Str(_)) => None,
            (v, LitValue::Scalar(lit)) => compare(leaf, v, lit),
        }
    }

    fn equals(&self, leaf: &Attribute, v: &Value) -> bool {
        if self.instant.is_some() {
            return self.compare(leaf, v) == Some(Ordering::Equal);
        }
        match (v, &self.value) {
            (Value::String(a), LitValue::Str(b)) => match ascii_pair(leaf, a, b) {
                Some((a, b)) => a.eq_ignore_ascii_case(b),
                None => compare_str(leaf, a, b) == Ordering::Equal,
            },
            (_, LitValue::Str(_)) => false,
            (v, LitValue::Scalar(lit)) => equals(leaf, v, lit),
        }
    }
}

/// The two strings, when both are ASCII and compared without regard to case: then ASCII
/// case folding gives the answer of the general Unicode folding of
/// [`crate::value::cmp_ignore_case`] at a fraction of the cost.
fn ascii_pair<'a>(leaf: &Attribute, a: &'a str, b: &'a str) -> Option<(&'a str, &'a str)> {
    (!leaf.case_exact && a.is_ascii() && b.is_ascii()).then_some((a, b))
}

fn ascii_lower(s: &str) -> impl Iterator<Item = u8> + '_ {
    s.bytes().map(|c| c.to_ascii_lowercase())
}

/// Whether a value counts as present for `pr`: not null, `""`, `[]`, or an object or array
/// with nothing present in it (looked into `depth` levels deep, which is all SCIM values need).
fn is_present(v: &Value, depth: u8) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) if depth == 0 => !items.is_empty(),
        Value::Object(m) if depth == 0 => !m.is_empty(),
        Value::Array(items) => items.iter().any(|i| is_present(i, depth - 1)),
        Value::Object(m) => m.values().any(|i| is_present(i, depth - 1)),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

// The three string operators. `needle` is already lowercased unless `case_exact`; ASCII
// data is compared in place, anything else is folded first.

fn contains(hay: &str, needle: &str, case_exact: bool) -> bool {
    if case_exact {
        hay.contains(needle)
    } else if hay.is_ascii() {
        needle.is_empty()
            || hay
                .as_bytes()
                .windows(needle.len())
                .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
    } else {
        fold(hay).contains(needle)
    }
}

fn starts_with(hay: &str, needle: &str, case_exact: bool) -> bool {
    if case_exact {
        hay.starts_with(needle)
    } else if hay.is_ascii() {
        hay.len() >= needle.len()
            && hay.as_bytes()[..needle.len()].eq_ignore_ascii_case(needle.as_bytes())
    } else {
        fold(hay).starts_with(needle)
    }
}

fn ends_with(hay: &str, needle: &str, case_exact: bool) -> bool {
    if case_exact {
        hay.ends_with(needle)
    } else if hay.is_ascii() {
        hay.len() >= needle.len()
            && hay.as_bytes()[hay.len() - needle.len()..].eq_ignore_ascii_case(needle.as_bytes())
    } else {
        fold(hay).ends_with(needle)
    }
}
