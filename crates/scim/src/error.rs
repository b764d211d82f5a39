//! The protocol's errors: one enum for everything this crate can refuse, each mapped to the
//! HTTP status and `scimType` of RFC 7644 §3.12.

use crate::filter::FilterError;
use crate::path::PathError;

/// The `scimType` values of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax is invalid or names an unknown attribute.
    InvalidFilter,
    /// The filter yields too many results.
    TooMany,
    /// A value is not unique.
    Uniqueness,
    /// The operation would change an attribute that its mutability forbids changing.
    Mutability,
    /// The request body is not a valid SCIM message.
    InvalidSyntax,
    /// The PATCH path is invalid.
    InvalidPath,
    /// The PATCH path or filter selects nothing.
    NoTarget,
    /// A value has the wrong type or is otherwise unacceptable.
    InvalidValue,
    /// The protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because it would carry sensitive data in the URI.
    Sensitive,
}

impl ScimType {
    /// The RFC's spelling, e.g. `invalidFilter`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// Everything the protocol layer refuses. Every variant is a client error (4xx); the detail
/// is written for the administrator who has to fix the request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A filter that does not parse, or names something that cannot be filtered on.
    #[error(transparent)]
    Filter(#[from] FilterError),
    /// A malformed attribute path in `attributes`, `excludedAttributes` or `sortBy`.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The body is not a SCIM message of the expected shape.
    #[error("{0}")]
    InvalidSyntax(String),
    /// A value has the wrong type, is missing though required, or is not allowed.
    #[error("{path}: {reason}")]
    InvalidValue {
        /// The attribute path, e.g. `emails[0].primary` or `userName`.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A PATCH path that is malformed or names no attribute of the resource.
    #[error("invalid path {path:?}: {reason}")]
    InvalidPath {
        /// The path as the client sent it.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A PATCH `remove`/`replace` whose filter selects nothing, or a `remove` without a path.
    #[error("{0}")]
    NoTarget(String),
    /// A change that the attribute's mutability forbids.
    #[error("{path} is {mutability} and cannot be changed")]
    Mutability {
        /// The attribute path.
        path: String,
        /// The attribute's mutability (`readOnly`, `immutable`).
        mutability: &'static str,
    },
    /// A request bigger than the limits allow (Bulk operations, result sizes).
    #[error("{0}")]
    TooMany(String),
}

impl Error {
    /// A shorthand for [`Error::InvalidValue`].
    pub fn invalid_value(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidValue {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A shorthand for [`Error::InvalidPath`].
    pub fn invalid_path(path: impl Into<String>, reason: impl Into<String>) -> Self {
        Error::InvalidPath {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Error::Filter(_)
            | Error::Path(_)
            | Error::InvalidSyntax(_)
            | Error::InvalidValue { .. }
            | Error::InvalidPath { .. }
            | Error::NoTarget(_)
            | Error::Mutability { .. }
            | Error::TooMany(_) => 400,
        }
    }

    /// The `scimType`.
    pub fn scim_type(&self) -> ScimType {
        match self {
            Error::Filter(_) => ScimType::InvalidFilter,
            Error::Path(_) => ScimType::InvalidPath,
            Error::InvalidSyntax(_) => ScimType::InvalidSyntax,
            Error::InvalidValue { .. } => ScimType::InvalidValue,
            Error::InvalidPath { .. } => ScimType::InvalidPath,
            Error::NoTarget(_) => ScimType::NoTarget,
            Error::Mutability { .. } => ScimType::Mutability,
            Error::TooMany(_) => ScimType::TooMany,
        }
    }
}
