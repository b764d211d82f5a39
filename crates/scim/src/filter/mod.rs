//! The filter language of RFC 7644 §3.4.2.2 as a typed AST, with a parser, a printer (whose
//! output parses back to the same AST) and an evaluator over a resource. The storage layer
//! translates the same AST into SQL.
//!
//! The AST is plain data: every node owns its children and nothing is cached in it, so the
//! SQL translation (and anyone else) can walk it with an ordinary `match`.
//! [`Filter::matches`] evaluates it directly, resolving paths as it goes; [`Filter::bind`]
//! validates it and resolves every path once, giving a [`BoundFilter`] for matching many
//! resources. [`Filter::matches_value`] and [`Filter::bind_value`] do the same for a value
//! filter (the part in brackets, as in a [`PatchPath`]) against one value of a complex
//! attribute.

use std::fmt;

use serde_json::Value;

use crate::path::AttrPath;
use crate::schema::{Attribute, ResourceSchema};

mod eval;
mod parse;
mod print;
mod tree;

pub use eval::BoundFilter;

/// The longest filter (in bytes) that [`Filter::parse`] and [`PatchPath::parse`] accept.
///
/// Larger than a URL usually carries because `POST /.search` puts the filter in a body, and a
/// client checking many members at once sends `members[value eq "..." or value eq "..."]`
/// with hundreds of ids. Parsing is linear, so the limit bounds memory, not time.
pub const MAX_LEN: usize = 64 * 1024;

/// The deepest nesting of parentheses, `not (...)` and `[...]` that the parsers accept.
pub const MAX_DEPTH: usize = 32;

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

impl CompareOp {
    /// Every operator, in the order of RFC 7644 Table 3.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Lt,
        CompareOp::Ge,
        CompareOp::Le,
    ];

    /// The canonical (lowercase) spelling, e.g. `eq`.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Lt => "lt",
            CompareOp::Ge => "ge",
            CompareOp::Le => "le",
        }
    }

    /// The operator spelled `s`, without regard to case (`EQ`, `Eq` and `eq` are all `Eq`).
    /// `pr` is not a comparison and gives `None`.
    pub fn from_name(s: &str) -> Option<CompareOp> {
        CompareOp::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for CompareOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
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
///
/// `and` and `or` are left-associative, so a parsed chain `a and b and c` is a tree as deep
/// as it is long (up to about [`MAX_LEN`]` / 8` nodes). Every walker in this module, and
/// `Clone`, `PartialEq` and `Debug`, loops along such chains instead of recursing, so they
/// need stack only for parentheses and brackets, which [`MAX_DEPTH`] bounds. (The compiler's
/// `Drop` does recurse; it handles the deepest parsable chain on a 2 MiB stack even in a
/// debug build, and a hand-written `Drop` would forbid moving out of a `Filter`.)
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
///
/// The message quotes at most about a hundred bytes of the input around the position, so
/// that a long filter does not make a long error response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid filter {} at position {position}: {kind}", excerpt(input, *position))]
pub struct FilterError {
    /// The filter as given; for [`FilterErrorKind::TooLong`], only its beginning followed by
    /// `...`, so that an oversized input is not copied.
    pub input: String,
    /// Byte offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub kind: FilterErrorKind,
}

/// The input quoted, or for a long input the part around `position`, marked with `...`.
fn excerpt(input: &str, position: usize) -> String {
    const SIDE: usize = 48;
    if input.len() <= 2 * SIDE {
        return format!("{input:?}");
    }
    let floor = |mut i: usize| {
        i = i.min(input.len());
        while !input.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = floor(position.saturating_sub(SIDE));
    let end = floor(position.saturating_add(SIDE));
    let before = if start > 0 { "..." } else { "" };
    let after = if end < input.len() { "..." } else { "" };
    format!("{before}{:?}{after}", &input[start..end])
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
    /// Parses a filter (RFC 7644 §3.4.2.2). Operators, `and`/`or`/`not` and `true`/`false`/
    /// `null` are case-insensitive; values must be JSON literals (strings in double quotes).
    /// Inputs longer than [`MAX_LEN`] or nested deeper than [`MAX_DEPTH`] are refused.
    pub fn parse(input: &str) -> Result<Filter, FilterError> {
        parse::filter(input, &parse::Options::STRICT)
    }

    /// [`Filter::parse`] that also reads unquoted comparison values (`userName sw O`) as
    /// strings, for [`crate::dialect`]. Returns how many values were unquoted strings.
    pub(crate) fn parse_lenient(input: &str) -> Result<(Filter, usize), FilterError> {
        parse::filter_counted(input, &parse::Options::LENIENT).map(|p| (p.value, p.unquoted))
    }

    /// Whether the resource (a normalised resource JSON object) matches.
    ///
    /// Attributes are found without regard to the case of their names. A comparison that
    /// cannot apply (an unknown attribute, `gt` on a boolean, a number compared with a string)
    /// is false, so `not (...)` around it is true; use [`Filter::validate`] to refuse such
    /// filters instead. To match many resources, [`bind`](Filter::bind) once and call
    /// [`BoundFilter::matches`].
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval::matches(self, schema, resource)
    }

    /// Checks that every attribute exists in the resource type and that every operator and
    /// literal applies to its attribute, so that a server can answer `400 invalidFilter`
    /// instead of matching nothing. The error's position is 0: the AST keeps no positions.
    pub fn validate(&self, schema: &ResourceSchema) -> Result<(), FilterError> {
        self.bind(schema).map(drop)
    }

    /// Validates the filter (as [`Filter::validate`]) and resolves every attribute path once,
    /// giving a form that matches resources without further schema look-ups.
    pub fn bind<'s>(&self, schema: &'s ResourceSchema) -> Result<BoundFilter<'s>, FilterError> {
        eval::bind(self, schema).map_err(|kind| FilterError {
            input: self.to_string(),
            position: 0,
            kind,
        })
    }

    /// Whether one value of a complex attribute matches this filter, read as a value filter:
    /// its paths name sub-attributes of `attribute`, as inside `emails[...]` or in
    /// [`PatchPath::filter`]. `value` is one element (an object), e.g.
    /// `{"type": "work", "value": "ada@contoso.com"}` for `attribute` = `emails`. The rules
    /// are those of [`Filter::matches`].
    pub fn matches_value(&self, value: &Value, attribute: &Attribute) -> bool {
        eval::matches_value(self, attribute, value)
    }

    /// Validates this filter as a value filter over the sub-attributes of `attribute` (see
    /// [`Filter::matches_value`]) and binds it; the [`BoundFilter`] then matches elements.
    pub fn bind_value<'s>(&self, attribute: &'s Attribute) -> Result<BoundFilter<'s>, FilterError> {
        eval::bind_value(self, attribute).map_err(|kind| FilterError {
            input: self.to_string(),
            position: 0,
            kind,
        })
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
    /// Parses a PATCH path, with the limits of [`Filter::parse`]. A value filter may not
    /// follow a sub-attribute (`name.givenName[...]`), and its inner paths are plain
    /// sub-attribute names.
    pub fn parse(input: &str) -> Result<PatchPath, FilterError> {
        parse::patch_path(input, &parse::Options::STRICT)
    }

    /// [`PatchPath::parse`] with the unquoted values of [`Filter::parse_lenient`].
    pub(crate) fn parse_lenient(input: &str) -> Result<(PatchPath, usize), FilterError> {
        parse::patch_path_counted(input, &parse::Options::LENIENT).map(|p| (p.value, p.unquoted))
    }
}
