//! The discovery documents (RFC 7644 §4): /Schemas, /ResourceTypes and /ServiceProviderConfig, generated from the schema registry.
//!
//! Every document is serialised from the [`Registry`] model and a typed
//! [`ServiceProviderConfig`] through serde structs: nothing here is hand-written JSON, so the
//! documents cannot drift from what validation, filtering and projection enforce.
//!
//! Decisions where the RFC is silent: each Schema and ResourceType resource carries `schemas`
//! (RFC 7643 §3 requires it of every resource, though the §8.7 examples leave it out);
//! `description` is always present, empty when the model has none; `canonicalValues`,
//! `referenceTypes`, `subAttributes` and `schemaExtensions` appear only when they have
//! something to say; the common attributes (`id`, `externalId`, `meta`) are in no schema
//! (RFC 7643 §3.1) and are not listed.

use serde::Serialize;
use serde_json::Value;

use crate::messages::{BulkLimits, ListResponse};
use crate::schema::{Attribute, Registry, ResourceType, Schema};

/// The schema URN of a Schema resource.
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// The schema URN of a ResourceType resource.
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// The schema URN of the ServiceProviderConfig resource.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// What a service provider supports, with its real limits (RFC 7643 §5).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceProviderConfig {
    /// A page of human-readable help, if any.
    pub documentation_uri: Option<String>,
    /// Whether PATCH is supported.
    pub patch: bool,
    /// The bulk limits; `None` when `/Bulk` is not offered.
    pub bulk: Option<BulkLimits>,
    /// The most resources a query returns (`maxResults`); `None` when filtering is not offered.
    pub filter_max_results: Option<u64>,
    /// Whether a client may change a password.
    pub change_password: bool,
    /// Whether `sortBy` is supported.
    pub sort: bool,
    /// Whether ETags (`meta.version`, `If-Match`) are supported.
    pub etag: bool,
    /// How clients authenticate.
    pub authentication_schemes: Vec<AuthenticationScheme>,
}

/// One authentication scheme of the ServiceProviderConfig.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationScheme {
    /// `oauthbearertoken`, `httpbasic`, `oauth`, `oauth2`, `httpdigest`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Human-readable name.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// The specification of the scheme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec_uri: Option<String>,
    /// Help on using the scheme with this service provider.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub documentation_uri: Option<String>,
    /// Whether this is the preferred scheme.
    pub primary: bool,
}

impl AuthenticationScheme {
    /// The OAuth bearer token scheme of RFC 6750, which Roster's SCIM tokens are.
    pub fn oauth_bearer_token(primary: bool) -> Self {
        AuthenticationScheme {
            kind: "oauthbearertoken".into(),
            name: "OAuth Bearer Token".into(),
            description: "Authentication scheme using the OAuth Bearer Token Standard".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".into()),
            documentation_uri: None,
            primary,
        }
    }

    /// OAuth 2.0 client credentials (RFC 6749 §4.4): an access token from `token_endpoint`,
    /// sent as a bearer token.
    pub fn oauth2_client_credentials(token_endpoint: &str, primary: bool) -> Self {
        AuthenticationScheme {
            kind: "oauth2".into(),
            name: "OAuth 2.0 Client Credentials".into(),
            description: format!(
                "Access tokens from the token endpoint {token_endpoint} (grant_type=client_credentials), sent as bearer tokens"
            ),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6749".into()),
            documentation_uri: Some(token_endpoint.to_owned()),
            primary,
        }
    }

    /// A JWT signed by an issuer the service trusts (workload identity federation), sent as
    /// a bearer token.
    pub fn federated_token(issuer: &str) -> Self {
        AuthenticationScheme {
            kind: "oauthbearertoken".into(),
            name: "Federated Token".into(),
            description: format!("A JSON Web Token signed by the trusted issuer {issuer}"),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc7523".into()),
            documentation_uri: None,
            primary: false,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    resource_type: &'static str,
    location: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AttributeDoc<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: &'static str,
    multi_valued: bool,
    description: &'a str,
    required: bool,
    case_exact: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    canonical_values: &'a [String],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    reference_types: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    sub_attributes: Vec<AttributeDoc<'a>>,
}

impl<'a> AttributeDoc<'a> {
    fn new(a: &'a Attribute) -> Self {
        AttributeDoc {
            name: &a.name,
            ty: a.ty.as_str(),
            multi_valued: a.multi_valued,
            description: &a.description,
            required: a.required,
            case_exact: a.case_exact,
            mutability: a.mutability.as_str(),
            returned: a.returned.as_str(),
            uniqueness: a.uniqueness.as_str(),
            canonical_values: &a.canonical_values,
            reference_types: &a.reference_types,
            sub_attributes: a.sub_attributes.iter().map(AttributeDoc::new).collect(),
        }
    }
}

#[derive(Serialize)]
struct SchemaDoc<'a> {
    schemas: [&'static str; 1],
    id: &'a str,
    name: &'a str,
    description: &'a str,
    attributes: Vec<AttributeDoc<'a>>,
    meta: Meta,
}

#[derive(Serialize)]
struct ExtensionDoc<'a> {
    schema: &'a str,
    required: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceTypeDoc<'a> {
    schemas: [&'static str; 1],
    id: &'a str,
    name: &'a str,
    endpoint: &'a str,
    description: &'a str,
    schema: &'a str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    schema_extensions: Vec<ExtensionDoc<'a>>,
    meta: Meta,
}

#[derive(Serialize)]
struct Supported {
    supported: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BulkDoc {
    supported: bool,
    max_operations: usize,
    max_payload_size: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FilterDoc {
    supported: bool,
    max_results: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceProviderConfigDoc<'a> {
    schemas: [&'static str; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    documentation_uri: Option<&'a str>,
    patch: Supported,
    bulk: BulkDoc,
    filter: FilterDoc,
    change_password: Supported,
    sort: Supported,
    etag: Supported,
    authentication_schemes: &'a [AuthenticationScheme],
    meta: Meta,
}

fn to_value<T: Serialize>(doc: &T) -> Value {
    serde_json::to_value(doc).expect("discovery documents hold only strings, numbers and booleans")
}

/// The base URL without a trailing slash, so that `{base}/Schemas` has exactly one.
fn base(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

fn schema_doc<'a>(schema: &'a Schema, base_url: &str) -> SchemaDoc<'a> {
    SchemaDoc {
        schemas: [SCHEMA_SCHEMA],
        id: &schema.id,
        name: &schema.name,
        description: &schema.description,
        attributes: schema.attributes.iter().map(AttributeDoc::new).collect(),
        meta: Meta {
            resource_type: "Schema",
            location: format!("{}/Schemas/{}", base(base_url), schema.id),
        },
    }
}

fn resource_type_doc<'a>(rt: &'a ResourceType, base_url: &str) -> ResourceTypeDoc<'a> {
    ResourceTypeDoc {
        schemas: [RESOURCE_TYPE_SCHEMA],
        id: &rt.name,
        name: &rt.name,
        endpoint: &rt.endpoint,
        description: &rt.description,
        schema: &rt.schema,
        schema_extensions: rt
            .extensions
            .iter()
            .map(|e| ExtensionDoc {
                schema: &e.schema,
                required: e.required,
            })
            .collect(),
        meta: Meta {
            resource_type: "ResourceType",
            location: format!("{}/ResourceTypes/{}", base(base_url), rt.name),
        },
    }
}

/// `GET /Schemas`: a ListResponse of every registered schema (RFC 7643 §7).
pub fn schemas_document(registry: &Registry, base_url: &str) -> Value {
    let docs: Vec<SchemaDoc<'_>> = registry
        .schemas()
        .iter()
        .map(|s| schema_doc(s, base_url))
        .collect();
    let total = docs.len() as u64;
    to_value(&ListResponse::new(docs, total, 1))
}

/// `GET /Schemas/{id}`: one schema, its URN matched without regard to case; `None` is a 404.
pub fn schema_document(registry: &Registry, id: &str, base_url: &str) -> Option<Value> {
    registry
        .schema(id)
        .map(|s| to_value(&schema_doc(s, base_url)))
}

/// `GET /ResourceTypes`: a ListResponse of every resource type (RFC 7643 §6).
pub fn resource_types_document(registry: &Registry, base_url: &str) -> Value {
    let docs: Vec<ResourceTypeDoc<'_>> = registry
        .resource_types()
        .iter()
        .map(|rt| resource_type_doc(rt, base_url))
        .collect();
    let total = docs.len() as u64;
    to_value(&ListResponse::new(docs, total, 1))
}

/// `GET /ResourceTypes/{name}`: one resource type, its name matched without regard to case;
/// `None` is a 404.
pub fn resource_type_document(registry: &Registry, name: &str, base_url: &str) -> Option<Value> {
    registry
        .resource_types()
        .iter()
        .find(|rt| rt.name.eq_ignore_ascii_case(name))
        .map(|rt| to_value(&resource_type_doc(rt, base_url)))
}

/// `GET /ServiceProviderConfig` (RFC 7643 §5). An unsupported bulk or filter feature is
/// announced with limits of 0, since the RFC makes the limit attributes required.
pub fn service_provider_config(config: &ServiceProviderConfig, base_url: &str) -> Value {
    let bulk = match config.bulk {
        Some(limits) => BulkDoc {
            supported: true,
            max_operations: limits.max_operations,
            max_payload_size: limits.max_payload_size,
        },
        None => BulkDoc {
            supported: false,
            max_operations: 0,
            max_payload_size: 0,
        },
    };
    let filter = FilterDoc {
        supported: config.filter_max_results.is_some(),
        max_results: config.filter_max_results.unwrap_or(0),
    };
    to_value(&ServiceProviderConfigDoc {
        schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
        documentation_uri: config.documentation_uri.as_deref(),
        patch: Supported {
            supported: config.patch,
        },
        bulk,
        filter,
        change_password: Supported {
            supported: config.change_password,
        },
        sort: Supported {
            supported: config.sort,
        },
        etag: Supported {
            supported: config.etag,
        },
        authentication_schemes: &config.authentication_schemes,
        meta: Meta {
            resource_type: "ServiceProviderConfig",
            location: format!("{}/ServiceProviderConfig", base(base_url)),
        },
    })
}
