//! The SCIM 2.0 protocol (RFC 7643, RFC 7644) as data and pure functions: schemas, resource
//! validation, the filter grammar, PATCH, projection, sorting and the protocol messages, and
//! the client dialects that rewrite what real identity providers send into RFC form.
//!
//! **Architecture Invariant:** this crate does no I/O. It knows nothing of HTTP, databases,
//! clocks or randomness; callers pass in what it needs (ids, timestamps, base URLs).

pub mod core_schemas;
pub mod dialect;
pub mod discovery;
pub mod error;
pub mod filter;
pub mod limits;
pub mod messages;
pub mod name;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod sort;
pub mod value;

pub use dialect::{Compatibility, Dialect, Normalization};
pub use error::{Error, ScimType};
pub use filter::{Filter, FilterError};
pub use messages::{BulkRequest, BulkResponse, ErrorBody, ListQuery, ListResponse, SearchRequest};
pub use path::AttrPath;
pub use projection::Projection;
pub use schema::{Attribute, AttributeType, Registry, ResourceSchema, Schema};
pub use sort::{SortBy, SortOrder};
