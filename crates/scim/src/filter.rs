//! The filter language of RFC 7644 §3.4.2.2 as a typed AST, with a parser, a printer (whose
//! output parses back to the same AST) and an evaluator over a resource. The storage layer
//! translates the same AST into SQL.

use std::fmt;

use serde_json::Value;

use crate::path::AttrPath;
use crate::schema::ResourceSchema;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// `eq`
    Eq,
    /// `ne`
    Ne,
    /// `co`
    Co,
    /// `sw`
    Sw,
    /// `ew`
    Ew,
    /// `gt`
    Gt,
    /// `lt`
    Lt,
    /// `ge`
    Ge,
    /// `le`
    Le,
}

/// A literal on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A JSON number.
    Number(serde_json::Number),
    /// A JSON string (escapes decoded).
    String(String),
}

/// A parsed filter.
///
/// Inside [`Filter::ValuePath`], paths are relative to the complex attribute: in
/// `emails[type eq "work"]` the inner path is the sub-attribute `type`, held as an
/// [`AttrPath`] whose `attribute` is `type`, with no schema and no sub-attribute.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`
    Compare {
        /// The attribute compared.
        path: AttrPath,
        /// The operator.
        op: CompareOp,
        /// The literal.
        value: CompValue,
    },
    /// `path pr`
    Present(AttrPath),
    /// `a and b`
    And(Box<Filter>, Box<Filter>),
    /// `a or b`
    Or(Box<Filter>, Box<Filter>),
    /// `not (a)`
    Not(Box<Filter>),
    /// `attr[filter]`: some value of the multi-valued (or complex) attribute matches `filter`.
    ValuePath {
        /// The complex attribute (no sub-attribute).
        path: AttrPath,
        /// The filter over its sub-attributes.
        filter: Box<Filter>,
    },
}

/// What is wrong with a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterErrorKind {
    /// The text does not follow the grammar; the string says what was expected.
    Syntax(String),
    /// Parentheses or brackets nest deeper than the limit.
    TooDeep,
    /// The filter is longer than the limit.
    TooLong,
    /// An attribute the resource type does not have.
    UnknownAttribute(String),
    /// An operator that does not apply to the attribute's type (e.g. `gt` on a boolean).
    Unsupported(String),
}

/// A filter that cannot be used, with the filter text and where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter {input:?} at position {position}: {kind}")]
pub struct FilterError {
    /// The filter as given.
    pub input: String,
    /// Byte offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub kind: FilterErrorKind,
}

impl fmt::Display for FilterErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterErrorKind::Syntax(s) => write!(f, "{s}"),
            FilterErrorKind::TooDeep => write!(f, "nested too deeply"),
            FilterErrorKind::TooLong => write!(f, "too long"),
            FilterErrorKind::UnknownAttribute(a) => write!(f, "unknown attribute {a:?}"),
            FilterErrorKind::Unsupported(s) => write!(f, "{s}"),
        }
    }
}

impl Filter {
    /// Parses a filter.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        Err(FilterError {
            input: input.to_owned(),
            position: 0,
            kind: FilterErrorKind::Syntax("the filter parser is not written yet".into()),
        })
    }

    /// Whether the resource (a normalised resource JSON object) matches.
    pub fn matches(&self, _resource: &Value, _schema: &ResourceSchema) -> bool {
        false
    }
}

/// A PATCH path (RFC 7644 §3.5.2): `attrPath`, or `valuePath` optionally followed by a
/// sub-attribute: `name.givenName`, `emails[type eq "work"]`,
/// `emails[type eq "work"].value`, `members[value eq "2819c223"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// The attribute, with its sub-attribute when the path is a plain `attr.sub`
    /// (`name.givenName`). When `filter` is set, this names the multi-valued attribute only.
    pub attribute: AttrPath,
    /// The value filter in brackets, relative to the attribute (see [`Filter`]).
    pub filter: Option<Filter>,
    /// The sub-attribute after the brackets (`.value` in `emails[type eq "work"].value`).
    pub sub_attribute: Option<String>,
}

impl PatchPath {
    /// Parses a PATCH path.
    pub fn parse(input: &str) -> Result<PatchPath, FilterError> {
        Err(FilterError {
            input: input.to_owned(),
            position: 0,
            kind: FilterErrorKind::Syntax("the path parser is not written yet".into()),
        })
    }
}
