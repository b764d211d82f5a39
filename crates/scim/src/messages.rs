//! The protocol messages (RFC 7644 §3.4.2, §3.4.3, §3.7, §3.12): ListResponse, SearchRequest, BulkRequest, BulkResponse and the Error body.
//!
//! Requests are parsed from `serde_json::Value` rather than derived, because SCIM attribute
//! names in messages are case-insensitive (RFC 7643 §2.1) and serde's derive cannot match keys
//! without regard to case. Responses are plain serde structs.
//!
//! Decisions where the RFC is silent:
//!
//! - Unknown keys in a SearchRequest or BulkRequest body are ignored (clients add vendor keys).
//! - A query parameter that is present but blank counts as absent; parameter names match
//!   without regard to case; `attributes` given twice accumulates, any other parameter given
//!   twice keeps the last value.
//! - A count absent from the request means the caller's maximum page size; integers too large
//!   for an `i64` saturate instead of failing, as they would be clamped anyway.
//! - A malformed bulk operation (no method, no path, a POST without `bulkId`, a reference to an
//!   unknown `bulkId`, a circle of references) fails the whole request with `invalidValue`
//!   rather than that one operation: the client's request is wrong, not the data.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};
use std::fmt;

use serde::de::{self, Deserializer};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, ScimType};
use crate::path::AttrPath;
use crate::projection::{Projection, split_list};
use crate::schema::ResourceSchema;
use crate::sort::SortBy;

/// The media type of every SCIM request and response body (RFC 7644 §8.1).
pub const CONTENT_TYPE: &str = "application/scim+json";
/// The schema URN of a ListResponse.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The schema URN of a SearchRequest.
pub const SEARCH_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The schema URN of a BulkRequest.
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// The schema URN of a BulkResponse.
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
/// The schema URN of an Error body.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

// ---------------------------------------------------------------------------------------------
// ListResponse

/// A page of query results (RFC 7644 §3.4.2). `Resources` is always present, as an empty
/// array when nothing matched or `count=0`, because some clients (Microsoft Entra ID among
/// them) read it without checking that it exists.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResponse<T = Value> {
    /// Always `[LIST_RESPONSE]`.
    pub schemas: Vec<String>,
    /// The number of results the whole query matched, across all pages.
    pub total_results: u64,
    /// The number of resources on this page.
    pub items_per_page: u64,
    /// The 1-based index of the first resource on this page.
    pub start_index: u64,
    /// The resources of this page.
    #[serde(rename = "Resources", alias = "resources", default)]
    pub resources: Vec<T>,
}

impl<T> ListResponse<T> {
    /// A page of `resources`, the query having matched `total_results` in all, starting at the
    /// 1-based `start_index`. `itemsPerPage` is the length of the page.
    pub fn new(resources: Vec<T>, total_results: u64, start_index: u64) -> Self {
        ListResponse {
            schemas: vec![LIST_RESPONSE.to_owned()],
            total_results,
            items_per_page: resources.len() as u64,
            start_index: start_index.max(1),
            resources,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SearchRequest and ListQuery

/// The body of `POST /.search` (RFC 7644 §3.4.3), as sent. Turn it into a [`ListQuery`] with
/// [`ListQuery::from_search`] to use it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Contains [`SEARCH_REQUEST`].
    pub schemas: Vec<String>,
    /// Attribute paths to return.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<String>,
    /// Attribute paths not to return.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub excluded_attributes: Vec<String>,
    /// The filter, unparsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    /// The attribute path to sort by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_by: Option<String>,
    /// `ascending` or `descending`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_order: Option<String>,
    /// The 1-based index of the first result, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_index: Option<i64>,
    /// The page size, as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
}

impl SearchRequest {
    /// Reads a SearchRequest body. Keys match without regard to case; `schemas` must contain
    /// [`SEARCH_REQUEST`] (else `invalidSyntax`); a value of the wrong type is `invalidValue`.
    /// `attributes` may be an array or, leniently, one comma-separated string; `startIndex` and
    /// `count` may be numbers or numeric strings.
    pub fn from_json(body: &Value) -> Result<Self, Error> {
        let fields = Fields::of(body, "SearchRequest")?;
        let schemas = fields.schemas(SEARCH_REQUEST)?;
        Ok(SearchRequest {
            schemas,
            attributes: fields.name_list("attributes")?,
            excluded_attributes: fields.name_list("excludedAttributes")?,
            filter: fields.string("filter")?,
            sort_by: fields.string("sortBy")?,
            sort_order: fields.string("sortOrder")?,
            start_index: fields.integer("startIndex")?,
            count: fields.integer("count")?,
        })
    }
}

impl<'de> Deserialize<'de> for SearchRequest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        SearchRequest::from_json(&value).map_err(de::Error::custom)
    }
}

/// A list query, from `GET` parameters or a SearchRequest, with every limit applied: what the
/// storage layer is asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    /// The filter text; parse it with [`crate::Filter::parse`] against the resource type.
    pub filter: Option<String>,
    /// The sort, when `sortBy` was given.
    pub sort: Option<SortBy>,
    /// The 1-based index of the first result; at least 1 (RFC 7644 §3.4.2.4: "a value less
    /// than 1 SHALL be interpreted as 1").
    pub start_index: u64,
    /// The page size: the requested count clamped to `0..=max_page_size`, or `max_page_size`
    /// when none was requested. `0` asks for `totalResults` only.
    pub count: u64,
    /// Attribute paths to return (syntax checked, not yet resolved).
    pub attributes: Vec<String>,
    /// Attribute paths not to return (syntax checked, not yet resolved).
    pub excluded_attributes: Vec<String>,
}

impl ListQuery {
    /// Reads `GET` query parameters (already percent-decoded): `filter`, `sortBy`,
    /// `sortOrder`, `startIndex`, `count`, `attributes`, `excludedAttributes`. Other parameters
    /// are ignored. A non-integer `startIndex` or `count` is `invalidValue`.
    pub fn from_params<I, K, V>(params: I, max_page_size: u64) -> Result<Self, Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut req = SearchRequest::default();
        let mut sort_by = None;
        for (name, value) in params {
            let (name, value) = (name.as_ref(), value.as_ref().trim());
            if value.is_empty() {
                continue;
            }
            let is = |n: &str| name.eq_ignore_ascii_case(n);
            if is("filter") {
                req.filter = Some(value.to_owned());
            } else if is("sortBy") {
                sort_by = Some(value.to_owned());
            } else if is("sortOrder") {
                req.sort_order = Some(value.to_owned());
            } else if is("startIndex") {
                req.start_index = Some(parse_int("startIndex", value)?);
            } else if is("count") {
                req.count = Some(parse_int("count", value)?);
            } else if is("attributes") {
                req.attributes.extend(split_list(value));
            } else if is("excludedAttributes") {
                req.excluded_attributes.extend(split_list(value));
            }
        }
        req.sort_by = sort_by;
        Self::from_search(&req, max_page_size)
    }

    /// Applies the limits to a SearchRequest.
    pub fn from_search(req: &SearchRequest, max_page_size: u64) -> Result<Self, Error> {
        // sortOrder is checked even without sortBy: a misspelt order is a client bug worth
        // reporting rather than silently ignoring.
        let order_given = req.sort_order.as_deref().filter(|o| !o.trim().is_empty());
        if let Some(order) = order_given {
            crate::sort::SortOrder::parse(order)?;
        }
        let sort = match req.sort_by.as_deref().map(str::trim) {
            Some(by) if !by.is_empty() => Some(SortBy::parse(by, order_given)?),
            _ => None,
        };
        let names = |list: &[String]| -> Result<Vec<String>, Error> {
            let names: Vec<String> = list
                .iter()
                .map(|n| n.trim())
                .filter(|n| !n.is_empty())
                .map(str::to_owned)
                .collect();
            for n in &names {
                check_name(n)?;
            }
            Ok(names)
        };
        let start_index = req.start_index.unwrap_or(1).max(1) as u64;
        let count = match req.count {
            Some(c) => (c.max(0) as u64).min(max_page_size),
            None => max_page_size,
        };
        Ok(ListQuery {
            filter: req
                .filter
                .as_deref()
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned),
            sort,
            start_index,
            count,
            attributes: names(&req.attributes)?,
            excluded_attributes: names(&req.excluded_attributes)?,
        })
    }

    /// The 0-based offset of the first result, for storage queries.
    pub fn offset(&self) -> u64 {
        self.start_index - 1
    }

    /// The projection of this query, resolved against one resource type.
    pub fn projection(&self, schema: &ResourceSchema) -> Result<Projection, Error> {
        Projection::from_lists(schema, &self.attributes, &self.excluded_attributes)
    }
}

/// Checks the syntax of an `attributes` entry without a schema. A name starting with `urn:`
/// may be a bare schema URN, whose last segment need not look like an attribute name; it is
/// checked when resolved against the resource type.
fn check_name(name: &str) -> Result<(), Error> {
    if name
        .get(..4)
        .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
    {
        return Ok(());
    }
    AttrPath::parse(name)?;
    Ok(())
}

/// Parses an integer parameter: optional sign, decimal digits, saturating at the `i64` range.
fn parse_int(param: &str, input: &str) -> Result<i64, Error> {
    let s = input.trim();
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid_value(
            param,
            format!("{input:?} is not an integer"),
        ));
    }
    let magnitude = digits.bytes().fold(0i64, |acc, b| {
        acc.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Ok(if negative { -magnitude } else { magnitude })
}

/// Case-insensitive access to the members of a JSON object.
struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn of(body: &'a Value, what: &str) -> Result<Self, Error> {
        match body {
            Value::Object(map) => Ok(Fields { map }),
            _ => Err(Error::InvalidSyntax(format!(
                "a {what} must be a JSON object"
            ))),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map
            .get(name)
            .or_else(|| {
                self.map
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v)
            })
            .filter(|v| !v.is_null())
    }

    /// `schemas`, which must hold `urn` (compared without regard to case).
    fn schemas(&self, urn: &str) -> Result<Vec<String>, Error> {
        let missing = || Error::InvalidSyntax(format!("\"schemas\" must contain {urn:?}"));
        let Some(Value::Array(items)) = self.get("schemas") else {
            return Err(missing());
        };
        let schemas: Vec<String> = items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if schemas.iter().any(|s| s.eq_ignore_ascii_case(urn)) {
            Ok(schemas)
        } else {
            Err(missing())
        }
    }

    fn string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::invalid_value(
                name,
                format!("must be a string, not {other}"),
            )),
        }
    }

    fn integer(&self, name: &str) -> Result<Option<i64>, Error> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Ok(Some(i)),
                (None, Some(_)) => Ok(Some(i64::MAX)),
                _ => Err(Error::invalid_value(name, format!("{n} is not an integer"))),
            },
            Some(Value::String(s)) if !s.trim().is_empty() => parse_int(name, s).map(Some),
            Some(Value::String(_)) => Ok(None),
            Some(other) => Err(Error::invalid_value(
                name,
                format!("must be an integer, not {other}"),
            )),
        }
    }

    fn name_list(&self, name: &str) -> Result<Vec<String>, Error> {
        match self.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(split_list(s)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.trim().to_owned()),
                    other => Err(Error::invalid_value(
                        name,
                        format!("must hold attribute names, not {other}"),
                    )),
                })
                .filter(|r| r.as_ref().map_or(true, |s| !s.is_empty()))
                .collect(),
            Some(other) => Err(Error::invalid_value(
                name,
                format!("must be an array of attribute names, not {other}"),
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Bulk

/// The HTTP method of a bulk operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkMethod {
    /// Create a resource.
    Post,
    /// Replace a resource.
    Put,
    /// Modify a resource.
    Patch,
    /// Delete a resource.
    Delete,
}

impl BulkMethod {
    /// Parses a method name without regard to case.
    pub fn parse(input: &str) -> Option<Self> {
        [
            BulkMethod::Post,
            BulkMethod::Put,
            BulkMethod::Patch,
            BulkMethod::Delete,
        ]
        .into_iter()
        .find(|m| m.as_str().eq_ignore_ascii_case(input.trim()))
    }

    /// The method name in capitals.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }
}

impl fmt::Display for BulkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BulkMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BulkMethod {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        BulkMethod::parse(&s).ok_or_else(|| de::Error::custom(format!("unknown bulk method {s:?}")))
    }
}

/// The prefix of a reference to another operation's resource (RFC 7644 §3.7.2).
pub const BULK_ID_PREFIX: &str = "bulkId:";

/// One operation of a BulkRequest.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperation {
    /// The method.
    pub method: BulkMethod,
    /// The client's transient id for the resource a POST creates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bulk_id: Option<String>,
    /// The version (ETag) the client expects the resource to have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The path relative to the base URL: `/Users` for a POST, `/Users/{id}` otherwise.
    pub path: String,
    /// The body of the POST, PUT or PATCH.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl BulkOperation {
    /// The bulkIds this operation refers to, in its path and its data, each once, in order of
    /// appearance.
    pub fn references(&self) -> Vec<&str> {
        let mut refs: Vec<&str> = self
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix(BULK_ID_PREFIX))
            .collect();
        if let Some(data) = &self.data {
            collect_references(data, &mut refs);
        }
        let mut seen = BTreeSet::new();
        refs.retain(|r| seen.insert(*r));
        refs
    }

    /// This operation with every `bulkId:<id>` reference in its path and data replaced by the
    /// id of the resource created for it. `created` maps bulkIds to resource ids; a reference
    /// missing from it (its operation failed or has not run) is `invalidValue`.
    pub fn resolve(&self, created: &HashMap<String, String>) -> Result<BulkOperation, Error> {
        let mut op = self.clone();
        let mut segments = Vec::new();
        for seg in self.path.split('/') {
            match seg.strip_prefix(BULK_ID_PREFIX) {
                Some(id) => segments.push(lookup(created, id)?.to_owned()),
                None => segments.push(seg.to_owned()),
            }
        }
        op.path = segments.join("/");
        if let Some(data) = &mut op.data {
            substitute_bulk_ids(data, created)?;
        }
        Ok(op)
    }
}

fn lookup<'m>(created: &'m HashMap<String, String>, id: &str) -> Result<&'m str, Error> {
    created.get(id).map(String::as_str).ok_or_else(|| {
        Error::invalid_value(
            format!("{BULK_ID_PREFIX}{id}"),
            "no resource was created for this bulkId",
        )
    })
}

fn collect_references<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                out.push(id);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_references(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_references(v, out)),
        _ => {}
    }
}

/// The bulkIds referenced anywhere in `value` (string values equal to `bulkId:<id>`), each
/// once, in order of appearance.
pub fn bulk_id_references(value: &Value) -> Vec<&str> {
    let mut refs = Vec::new();
    collect_references(value, &mut refs);
    let mut seen = BTreeSet::new();
    refs.retain(|r| seen.insert(*r));
    refs
}

/// Replaces, recursively, every string value equal to `bulkId:<id>` with the id `created`
/// maps `<id>` to. A reference missing from `created` is `invalidValue` and leaves `value`
/// partly substituted; callers discard it then.
pub fn substitute_bulk_ids(
    value: &mut Value,
    created: &HashMap<String, String>,
) -> Result<(), Error> {
    match value {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                *s = lookup(created, id)?.to_owned();
            }
        }
        Value::Array(items) => {
            for v in items {
                substitute_bulk_ids(v, created)?;
            }
        }
        Value::Object(map) => {
            for v in map.values_mut() {
                substitute_bulk_ids(v, created)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The limits a service provider sets on bulk requests, as announced in
/// `/ServiceProviderConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    /// The most operations one request may hold.
    pub max_operations: usize,
    /// The largest request body, in bytes.
    pub max_payload_size: usize,
}

/// Why a bulk request is refused as a whole.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BulkRejection {
    /// More operations than `maxOperations`: HTTP 413 (RFC 7644 §3.7.4).
    #[error("the bulk request holds {got} operations, more than the maxOperations ({max})")]
    TooManyOperations {
        /// The limit.
        max: usize,
        /// What the request held.
        got: usize,
    },
    /// A body larger than `maxPayloadSize`: HTTP 413.
    #[error("the size of the bulk request ({got} bytes) exceeds the maxPayloadSize ({max})")]
    PayloadTooLarge {
        /// The limit.
        max: usize,
        /// The body's size.
        got: usize,
    },
    /// A malformed request: HTTP 400.
    #[error(transparent)]
    Invalid(#[from] Error),
}

impl BulkRejection {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            BulkRejection::TooManyOperations { .. } | BulkRejection::PayloadTooLarge { .. } => 413,
            BulkRejection::Invalid(e) => e.status(),
        }
    }
}

/// A parsed, checked BulkRequest (RFC 7644 §3.7). Executing it is the server's job; this type
/// says in which order ([`BulkRequest::execution_order`]) and resolves references
/// ([`BulkOperation::resolve`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    /// Contains [`BULK_REQUEST`].
    pub schemas: Vec<String>,
    /// How many errors to accept before stopping; `None` means never stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_on_errors: Option<u64>,
    /// The operations, in the order the client sent them.
    #[serde(rename = "Operations")]
    pub operations: Vec<BulkOperation>,
    /// Indices into `operations`, each after the operations it references.
    #[serde(skip)]
    order: Vec<usize>,
}

impl BulkRequest {
    /// Parses a request body: checks its size first, then its JSON, then
    /// [`BulkRequest::from_json`].
    pub fn parse(body: &[u8], limits: &BulkLimits) -> Result<Self, BulkRejection> {
        if body.len() > limits.max_payload_size {
            return Err(BulkRejection::PayloadTooLarge {
                max: limits.max_payload_size,
                got: body.len(),
            });
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Error::InvalidSyntax(format!("the body is not JSON: {e}")))?;
        Self::from_json(&value, limits)
    }

    /// Reads and checks a BulkRequest: its schema, `failOnErrors` (an integer; 0 stops at the
    /// first error, as 1 does),
    /// the number of operations, each operation's method, path, bulkId and data, that bulkIds
    /// are unique, and that every `bulkId:` reference names a POST of this request without a
    /// circle of references. Keys match without regard to case.
    pub fn from_json(body: &Value, limits: &BulkLimits) -> Result<Self, BulkRejection> {
        let fields = Fields::of(body, "BulkRequest")?;
        let schemas = fields.schemas(BULK_REQUEST)?;
        // RFC 7644 §3.7.3 counts errors from 1 but does not forbid 0, which clients send to
        // mean "stop at the first error": it is read as 1.
        let fail_on_errors = match fields.integer("failOnErrors")? {
            None => None,
            Some(n) if n >= 0 => Some((n as u64).max(1)),
            Some(n) => {
                return Err(Error::invalid_value(
                    "failOnErrors",
                    format!("must be 0 or more, not {n}"),
                )
                .into());
            }
        };
        let Some(Value::Array(raw_ops)) = fields.get("Operations") else {
            return Err(
                Error::InvalidSyntax("a BulkRequest needs an \"Operations\" array".into()).into(),
            );
        };
        if raw_ops.len() > limits.max_operations {
            return Err(BulkRejection::TooManyOperations {
                max: limits.max_operations,
                got: raw_ops.len(),
            });
        }
        let operations = raw_ops
            .iter()
            .enumerate()
            .map(|(i, op)| parse_operation(i, op))
            .collect::<Result<Vec<_>, _>>()?;
        let order = execution_order(&operations)?;
        Ok(BulkRequest {
            schemas,
            fail_on_errors,
            operations,
            order,
        })
    }

    /// Indices into [`BulkRequest::operations`] in the order to execute them: the client's
    /// order, except that an operation runs after every POST whose bulkId it references.
    pub fn execution_order(&self) -> &[usize] {
        &self.order
    }

    /// Whether processing must stop after `errors` failed operations (`failOnErrors`).
    pub fn should_stop(&self, errors: u64) -> bool {
        self.fail_on_errors.is_some_and(|max| errors >= max)
    }
}

fn parse_operation(index: usize, raw: &Value) -> Result<BulkOperation, Error> {
    let at = |field: &str| format!("Operations[{index}].{field}");
    let fields = Fields::of(raw, "bulk operation").map_err(|_| {
        Error::invalid_value(format!("Operations[{index}]"), "must be a JSON object")
    })?;
    let text = |name: &str| -> Result<Option<String>, Error> {
        match fields.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::invalid_value(
                at(name),
                format!("must be a string, not {other}"),
            )),
        }
    };
    let method_text =
        text("method")?.ok_or_else(|| Error::invalid_value(at("method"), "is required"))?;
    let method = BulkMethod::parse(&method_text).ok_or_else(|| {
        Error::invalid_value(
            at("method"),
            format!("{method_text:?} is not one of POST, PUT, PATCH, DELETE"),
        )
    })?;
    let path = text("path")?
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::invalid_value(at("path"), "is required"))?;
    if !path.starts_with('/') {
        return Err(Error::invalid_value(
            at("path"),
            format!("{path:?} must start with '/', as in \"/Users\""),
        ));
    }
    let bulk_id = text("bulkId")?;
    if bulk_id.as_deref().is_some_and(str::is_empty) {
        return Err(Error::invalid_value(at("bulkId"), "must not be empty"));
    }
    if method == BulkMethod::Post && bulk_id.is_none() {
        return Err(Error::invalid_value(at("bulkId"), "is required for a POST"));
    }
    let version = text("version")?;
    let data = fields.get("data").cloned();
    match (&data, method) {
        (_, BulkMethod::Delete) | (Some(Value::Object(_)), _) => {}
        (None, _) => {
            return Err(Error::invalid_value(
                at("data"),
                format!("is required for a {method}"),
            ));
        }
        (Some(_), _) => return Err(Error::invalid_value(at("data"), "must be a JSON object")),
    }
    Ok(BulkOperation {
        method,
        bulk_id,
        version,
        path,
        data,
    })
}

/// Orders operations so that each runs after the POSTs it references (Kahn's algorithm, taking
/// the lowest index ready so that unrelated operations keep the client's order), rejecting
/// duplicate bulkIds, unknown references and circles.
fn execution_order(ops: &[BulkOperation]) -> Result<Vec<usize>, Error> {
    let mut creators: HashMap<&str, usize> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        if let Some(id) = op.bulk_id.as_deref()
            && creators.insert(id, i).is_some()
        {
            return Err(Error::invalid_value(
                format!("Operations[{i}].bulkId"),
                format!("{id:?} is used by more than one operation"),
            ));
        }
    }
    // deps[i]: the operations i must wait for; dependents[j]: those waiting for j.
    let mut deps: Vec<Vec<usize>> = Vec::with_capacity(ops.len());
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for (i, op) in ops.iter().enumerate() {
        let mut mine = Vec::new();
        for id in op.references() {
            let Some(&j) = creators.get(id) else {
                return Err(Error::invalid_value(
                    format!("Operations[{i}]"),
                    format!("refers to {BULK_ID_PREFIX}{id}, which no operation defines"),
                ));
            };
            if ops[j].method != BulkMethod::Post {
                return Err(Error::invalid_value(
                    format!("Operations[{i}]"),
                    format!(
                        "refers to {BULK_ID_PREFIX}{id}, whose operation is a {} and creates nothing",
                        ops[j].method
                    ),
                ));
            }
            mine.push(j);
            dependents[j].push(i);
        }
        deps.push(mine);
    }
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut ready: BinaryHeap<Reverse<usize>> = waiting
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == 0)
        .map(|(i, _)| Reverse(i))
        .collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(Reverse(i)) = ready.pop() {
        order.push(i);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    if order.len() == ops.len() {
        return Ok(order);
    }
    // Every operation left waits for another one left, so following dependencies from any of
    // them must come round to an operation already visited: that is the circle to report.
    let start = (0..ops.len())
        .find(|&i| waiting[i] > 0)
        .expect("an operation is left when the order is incomplete");
    let mut trail = vec![start];
    let mut at = start;
    loop {
        let next = deps[at]
            .iter()
            .copied()
            .find(|&j| waiting[j] > 0)
            .expect("an operation left waits for another operation left");
        if let Some(pos) = trail.iter().position(|&t| t == next) {
            let circle: Vec<String> = trail[pos..]
                .iter()
                .chain(std::iter::once(&next))
                .map(|&k| {
                    ops[k]
                        .bulk_id
                        .clone()
                        .unwrap_or_else(|| format!("Operations[{k}]"))
                })
                .collect();
            return Err(Error::invalid_value(
                "Operations",
                format!("circular bulkId references: {}", circle.join(" -> ")),
            ));
        }
        trail.push(next);
        at = next;
    }
}

/// The result of one operation in a BulkResponse.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkOperationResponse {
    /// The resource's URL; absent only when a POST failed.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub location: Option<String>,
    /// The operation's method.
    pub method: BulkMethod,
    /// The operation's bulkId.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub bulk_id: Option<String>,
    /// The resource's version after the operation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// The HTTP status of the operation, serialised as a string (`"201"`).
    #[serde(with = "status_string")]
    pub status: u16,
    /// The error body of a failed operation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub response: Option<Value>,
}

impl BulkOperationResponse {
    /// The response to an operation that succeeded with `status` (201 for a POST, 200 for a PUT
    /// or PATCH, 204 for a DELETE).
    pub fn success(
        op: &BulkOperation,
        status: u16,
        location: String,
        version: Option<String>,
    ) -> Self {
        BulkOperationResponse {
            location: Some(location),
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            version,
            status,
            response: None,
        }
    }

    /// The response to an operation that failed; `location` is `None` for a failed POST.
    pub fn failure(op: &BulkOperation, location: Option<String>, error: &ErrorBody) -> Self {
        BulkOperationResponse {
            location,
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            version: None,
            status: error.status,
            response: Some(serde_json::to_value(error).expect("an error body always serialises")),
        }
    }
}

/// The body answering a BulkRequest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BulkResponse {
    /// Always `[BULK_RESPONSE]`.
    pub schemas: Vec<String>,
    /// One result per operation processed, in the order they were processed.
    #[serde(rename = "Operations", alias = "operations")]
    pub operations: Vec<BulkOperationResponse>,
}

impl BulkResponse {
    /// A response with these results.
    pub fn new(operations: Vec<BulkOperationResponse>) -> Self {
        BulkResponse {
            schemas: vec![BULK_RESPONSE.to_owned()],
            operations,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Error body

/// The error body of RFC 7644 §3.12. `status` is serialised as a string, as the RFC's
/// examples show and clients expect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Always `[ERROR]`.
    pub schemas: Vec<String>,
    /// The HTTP status.
    #[serde(with = "status_string")]
    pub status: u16,
    /// The `scimType`, for the 400 and 409 errors that have one. An unknown value read from
    /// another service provider becomes `None`.
    #[serde(
        skip_serializing_if = "Option::is_none",
        default,
        with = "scim_type_string"
    )]
    pub scim_type: Option<ScimType>,
    /// A human-readable explanation.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

impl ErrorBody {
    /// An error body with any status.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ErrorBody {
            schemas: vec![ERROR.to_owned()],
            status,
            scim_type,
            detail: Some(detail.into()),
        }
    }

    /// 401: the bearer token is missing, malformed, unknown or revoked. The detail does not
    /// say which, so as not to help someone guessing tokens.
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            None,
            "Authorization failure: the bearer token is missing or not valid.",
        )
    }

    /// 403: the token is valid but may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }

    /// 404: no `resource_type` with this id (in this tenant).
    pub fn not_found(resource_type: &str, id: &str) -> Self {
        Self::new(404, None, format!("{resource_type} {id:?} not found"))
    }

    /// 409 `uniqueness`: a value that must be unique is taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }

    /// 412: the `If-Match` version is not the resource's current version.
    pub fn precondition_failed() -> Self {
        Self::new(
            412,
            None,
            "The resource has changed: the version given in If-Match is not its current version.",
        )
    }

    /// 413: the request is larger than the limits.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }

    /// 500: an internal failure. The detail is generic on purpose: the cause is logged, never
    /// sent to the client.
    pub fn internal() -> Self {
        Self::new(500, None, "An internal error occurred.")
    }

    /// 501: an optional feature this service provider does not offer.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }
}

impl From<&Error> for ErrorBody {
    fn from(e: &Error) -> Self {
        ErrorBody::new(e.status(), Some(e.scim_type()), e.to_string())
    }
}

impl From<Error> for ErrorBody {
    fn from(e: Error) -> Self {
        ErrorBody::from(&e)
    }
}

impl From<&BulkRejection> for ErrorBody {
    fn from(r: &BulkRejection) -> Self {
        match r {
            BulkRejection::TooManyOperations { .. } | BulkRejection::PayloadTooLarge { .. } => {
                ErrorBody::payload_too_large(r.to_string())
            }
            BulkRejection::Invalid(e) => ErrorBody::from(e),
        }
    }
}

/// Serialises a status as a string and reads it from a string or a number.
mod status_string {
    use serde::de::{self, Deserializer};
    use serde::{Deserialize, Serializer};

    pub fn serialize<S: Serializer>(status: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(status)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(u16),
            Text(String),
        }
        match Either::deserialize(d)? {
            Either::Number(n) => Ok(n),
            Either::Text(t) => t
                .trim()
                .parse()
                .map_err(|_| de::Error::custom(format!("{t:?} is not an HTTP status"))),
        }
    }
}

/// Serialises a `scimType` by its RFC spelling.
mod scim_type_string {
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::error::ScimType;

    const ALL: [ScimType; 10] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
    ];

    /// Never called: it fails to compile when a variant is added, as a reminder to add it to
    /// [`ALL`] too.
    #[allow(dead_code)]
    fn every_variant_is_listed(t: ScimType) {
        match t {
            ScimType::InvalidFilter
            | ScimType::TooMany
            | ScimType::Uniqueness
            | ScimType::Mutability
            | ScimType::InvalidSyntax
            | ScimType::InvalidPath
            | ScimType::NoTarget
            | ScimType::InvalidValue
            | ScimType::InvalidVers
            | ScimType::Sensitive => {}
        }
    }

    pub fn serialize<S: Serializer>(t: &Option<ScimType>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(t.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ScimType>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        Ok(s.and_then(|s| {
            ALL.into_iter()
                .find(|t| t.as_str().eq_ignore_ascii_case(&s))
        }))
    }
}
