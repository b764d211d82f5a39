//! Schemas as data: attribute definitions (RFC 7643 §2, §7), the core and enterprise schemas,
//! resource types, and a registry that resolves attribute paths against them.
//!
//! Everything else in the crate (validation, filters, PATCH, projection, sorting and the
//! discovery documents) reads attribute characteristics from here; nothing hard-codes them.

use std::collections::HashMap;
use std::sync::Arc;

use crate::path::AttrPath;

/// The URN of the core User schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The URN of the core Group schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The URN of the enterprise User extension.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// The data type of an attribute (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// A sequence of Unicode characters.
    String,
    /// `true` or `false`.
    Boolean,
    /// A real number with at least one digit after the point.
    Decimal,
    /// A whole number.
    Integer,
    /// An `xsd:dateTime` instant.
    DateTime,
    /// A URI for a resource.
    Reference,
    /// A singular or multi-valued attribute whose value holds sub-attributes.
    Complex,
    /// Base64-encoded binary data.
    Binary,
}

impl AttributeType {
    /// The name used in `/Schemas` (`"string"`, `"dateTime"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AttributeType::String => "string",
            AttributeType::Boolean => "boolean",
            AttributeType::Decimal => "decimal",
            AttributeType::Integer => "integer",
            AttributeType::DateTime => "dateTime",
            AttributeType::Reference => "reference",
            AttributeType::Complex => "complex",
            AttributeType::Binary => "binary",
        }
    }
}

/// Whether and how a client may change an attribute (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Set by the service provider only; ignored when a client sends it on create or replace.
    ReadOnly,
    /// Freely updated.
    ReadWrite,
    /// Set on create (or when unset), never changed afterwards.
    Immutable,
    /// Written by clients, never returned (e.g. `password`).
    WriteOnly,
}

impl Mutability {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute appears in responses (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// Always returned, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never returned.
    Never,
    /// Returned unless excluded.
    Default,
    /// Returned only when named in `attributes`.
    Request,
}

impl Returned {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique a value must be (RFC 7643 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// No uniqueness.
    None,
    /// Unique within the service provider's scope (for Roster: within a tenant).
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The name used in `/Schemas`.
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with every characteristic of RFC 7643 §7.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The canonical name, e.g. `userName`.
    pub name: String,
    /// The data type.
    pub ty: AttributeType,
    /// Whether the attribute holds an array of values.
    pub multi_valued: bool,
    /// Human-readable description.
    pub description: String,
    /// Whether the attribute must be present on create and replace.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// Who may change the attribute.
    pub mutability: Mutability,
    /// When the attribute is returned.
    pub returned: Returned,
    /// How unique values must be.
    pub uniqueness: Uniqueness,
    /// Suggested values (`type` of an e-mail: `work`, `home`, `other`). Not enforced.
    pub canonical_values: Vec<String>,
    /// For references: the resource types referred to (`User`, `Group`, `external`, `uri`).
    pub reference_types: Vec<String>,
    /// For complex attributes: the sub-attributes.
    pub sub_attributes: Vec<Attribute>,
}

impl Attribute {
    /// A singular, optional, readWrite, case-insensitive attribute of the given type,
    /// returned by default: the RFC's defaults. Refine with the builder methods below.
    pub fn new(name: &str, ty: AttributeType) -> Self {
        Attribute {
            name: name.to_owned(),
            ty,
            multi_valued: false,
            description: String::new(),
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            sub_attributes: Vec::new(),
        }
    }

    /// A string attribute with the RFC's defaults.
    pub fn string(name: &str) -> Self {
        Self::new(name, AttributeType::String)
    }

    /// A complex attribute with the given sub-attributes.
    pub fn complex(name: &str, subs: Vec<Attribute>) -> Self {
        let mut a = Self::new(name, AttributeType::Complex);
        a.sub_attributes = subs;
        a
    }

    /// Marks the attribute multi-valued.
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }

    /// Marks the attribute required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// Marks string comparison case-sensitive.
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }

    /// Sets the mutability.
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }

    /// Sets when the attribute is returned.
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }

    /// Sets the uniqueness.
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }

    /// Sets the canonical values.
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Sets the reference types.
    pub fn refs(mut self, types: &[&str]) -> Self {
        self.reference_types = types.iter().map(|v| (*v).to_owned()).collect();
        self
    }

    /// Sets the description.
    pub fn describe(mut self, d: &str) -> Self {
        self.description = d.to_owned();
        self
    }

    /// Whether the attribute's values are never shown (`returned: never` or `writeOnly`, like
    /// `password`): RFC 7643 §7 then forbids filtering and sorting on it, which would reveal
    /// the value one comparison at a time.
    pub fn is_hidden(&self) -> bool {
        self.returned == Returned::Never || self.mutability == Mutability::WriteOnly
    }

    /// The sub-attribute named `name`, compared without regard to case.
    pub fn sub_attribute(&self, name: &str) -> Option<&Attribute> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema: a URN and its attributes (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The schema URN, e.g. [`USER_SCHEMA`].
    pub id: String,
    /// Human-readable name, e.g. `User`.
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// The top-level attributes.
    pub attributes: Vec<Attribute>,
}

impl Schema {
    /// The top-level attribute named `name`, compared without regard to case.
    pub fn attribute(&self, name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// A schema extension attached to a resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaExtension {
    /// The extension's schema URN.
    pub schema: String,
    /// Whether every resource of the type must carry the extension.
    pub required: bool,
}

/// A resource type (RFC 7643 §6): a name, an endpoint, a core schema and its extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    /// The resource type's name and id, e.g. `User`.
    pub name: String,
    /// The endpoint relative to the base URL, e.g. `/Users`.
    pub endpoint: String,
    /// Human-readable description.
    pub description: String,
    /// The core schema URN.
    pub schema: String,
    /// The schema extensions.
    pub extensions: Vec<SchemaExtension>,
}

/// Errors in registering a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SchemaError {
    /// Two schemas with one URN.
    #[error("a schema with the URN {0} is already registered")]
    DuplicateSchema(String),
    /// An extension names a resource type that does not exist.
    #[error("no resource type named {0}")]
    UnknownResourceType(String),
    /// The schema URN is not a URN.
    #[error("schema id {0:?} must be a URN (start with \"urn:\")")]
    NotAUrn(String),
    /// An attribute name breaks the ATTRNAME grammar of RFC 7643 §2.1.
    #[error(
        "attribute name {0:?} is not valid: it must start with a letter and hold only letters, digits, '-', '_' and '$'"
    )]
    BadAttributeName(String),
    /// A complex attribute holds a complex sub-attribute (RFC 7643 §2.3.8 forbids it).
    #[error("attribute {0:?} nests a complex attribute inside a complex one")]
    NestedComplex(String),
}

/// The common attributes every resource has (RFC 7643 §3.1): `id`, `externalId`, `meta`.
/// They belong to no schema and are not listed in `/Schemas`.
pub fn common_attributes() -> &'static [Attribute] {
    use std::sync::OnceLock;
    static COMMON: OnceLock<Vec<Attribute>> = OnceLock::new();
    COMMON.get_or_init(|| {
        use AttributeType::*;
        vec![
            Attribute::string("id")
                .case_exact()
                .mutability(Mutability::ReadOnly)
                .returned(Returned::Always)
                .uniqueness(Uniqueness::Server)
                .describe("Unique identifier for the resource, assigned by the service provider."),
            Attribute::string("externalId")
                .case_exact()
                .describe("Identifier of the resource as defined by the provisioning client."),
            Attribute::complex(
                "meta",
                vec![
                    Attribute::string("resourceType")
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                    Attribute::new("created", DateTime).mutability(Mutability::ReadOnly),
                    Attribute::new("lastModified", DateTime).mutability(Mutability::ReadOnly),
                    Attribute::new("location", Reference)
                        .case_exact()
                        .mutability(Mutability::ReadOnly)
                        .refs(&["uri"]),
                    Attribute::string("version")
                        .case_exact()
                        .mutability(Mutability::ReadOnly),
                ],
            )
            .mutability(Mutability::ReadOnly)
            .describe("Resource metadata."),
        ]
    })
}

/// Where a resolved attribute lives in a resource.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Location<'a> {
    /// A common attribute (`id`, `externalId`, `meta`) at the top level.
    Common,
    /// An attribute of the core schema, at the top level.
    Core,
    /// An attribute of an extension schema, inside the object keyed by that schema's URN.
    Extension(&'a Schema),
}

/// An attribute path resolved against a resource type: where it lives and its definitions.
#[derive(Debug, Clone, Copy)]
pub struct Resolved<'a> {
    /// Where the top-level attribute lives.
    pub location: Location<'a>,
    /// The top-level attribute.
    pub attribute: &'a Attribute,
    /// The sub-attribute, when the path names one.
    pub sub_attribute: Option<&'a Attribute>,
}

impl<'a> Resolved<'a> {
    /// The definition the path ends at: the sub-attribute if named, else the attribute.
    pub fn leaf(&self) -> &'a Attribute {
        self.sub_attribute.unwrap_or(self.attribute)
    }

    /// The key under which the attribute's container sits in a resource: `None` for the top
    /// level, the extension URN for an extension attribute.
    pub fn container(&self) -> Option<&'a str> {
        match self.location {
            Location::Common | Location::Core => None,
            Location::Extension(s) => Some(s.id.as_str()),
        }
    }
}

/// Why a path did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The schema URN prefix is not a schema of this resource type.
    #[error("{0:?} is not a schema of this resource type")]
    UnknownSchema(String),
    /// No attribute of that name.
    #[error("no attribute {0:?} in this resource type")]
    UnknownAttribute(String),
    /// No sub-attribute of that name.
    #[error("attribute {attribute:?} has no sub-attribute {sub:?}")]
    UnknownSubAttribute {
        /// The attribute.
        attribute: String,
        /// The missing sub-attribute.
        sub: String,
    },
}

/// One resource type with its schemas looked up: the view every operation on a resource works
/// against.
#[derive(Debug, Clone)]
pub struct ResourceSchema {
    /// The resource type.
    pub resource_type: ResourceType,
    /// The core schema.
    pub core: Arc<Schema>,
    /// The extension schemas, with whether each is required.
    pub extensions: Vec<(Arc<Schema>, bool)>,
}

impl ResourceSchema {
    /// The extension schema with this URN (without regard to case).
    pub fn extension(&self, urn: &str) -> Option<&Schema> {
        self.extensions
            .iter()
            .map(|(s, _)| s.as_ref())
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Whether `urn` is the core schema or one of the extensions (without regard to case).
    pub fn has_schema(&self, urn: &str) -> bool {
        self.core.id.eq_ignore_ascii_case(urn) || self.extension(urn).is_some()
    }

    /// The canonical spelling of a schema URN of this resource type.
    pub fn canonical_schema(&self, urn: &str) -> Option<&str> {
        if self.core.id.eq_ignore_ascii_case(urn) {
            Some(&self.core.id)
        } else {
            self.extension(urn).map(|s| s.id.as_str())
        }
    }

    /// Resolves a top-level attribute name (no URN) in the common attributes and core schema.
    pub fn top_level(&self, name: &str) -> Option<(Location<'_>, &Attribute)> {
        if let Some(a) = common_attributes()
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
        {
            return Some((Location::Common, a));
        }
        self.core.attribute(name).map(|a| (Location::Core, a))
    }

    /// Resolves an attribute path: a URN prefix selects the core or an extension schema;
    /// without one, common and core attributes are searched, then (as RFC 7644 §3.10 allows
    /// for unambiguous names) the extensions.
    pub fn resolve(&self, path: &AttrPath) -> Result<Resolved<'_>, ResolveError> {
        let (location, attribute) = match path.schema.as_deref() {
            Some(urn) if self.core.id.eq_ignore_ascii_case(urn) => {
                match self.top_level(&path.attribute) {
                    Some(found) => found,
                    None => return Err(ResolveError::UnknownAttribute(path.attribute.clone())),
                }
            }
            Some(urn) => {
                let ext = self
                    .extension(urn)
                    .ok_or_else(|| ResolveError::UnknownSchema(urn.to_owned()))?;
                let a = ext
                    .attribute(&path.attribute)
                    .ok_or_else(|| ResolveError::UnknownAttribute(path.to_string()))?;
                (Location::Extension(ext), a)
            }
            None => match self.top_level(&path.attribute) {
                Some(found) => found,
                None => self
                    .extensions
                    .iter()
                    .find_map(|(s, _)| {
                        s.attribute(&path.attribute)
                            .map(|a| (Location::Extension(s), a))
                    })
                    .ok_or_else(|| ResolveError::UnknownAttribute(path.attribute.clone()))?,
            },
        };
        let sub_attribute = match &path.sub_attribute {
            None => None,
            Some(sub) => Some(attribute.sub_attribute(sub).ok_or_else(|| {
                ResolveError::UnknownSubAttribute {
                    attribute: attribute.name.clone(),
                    sub: sub.clone(),
                }
            })?),
        };
        Ok(Resolved {
            location,
            attribute,
            sub_attribute,
        })
    }
}

/// Every schema and resource type the service knows. Starts with the RFC 7643 core and
/// enterprise schemas; extension schemas can be added at run time.
#[derive(Debug, Clone)]
pub struct Registry {
    schemas: Vec<Arc<Schema>>,
    resource_types: Vec<ResourceType>,
    /// Resolved views, rebuilt whenever the registry changes.
    views: HashMap<String, Arc<ResourceSchema>>,
}

impl Default for Registry {
    fn default() -> Self {
        Self::core()
    }
}

impl Registry {
    /// The RFC 7643 registry: `User` (with the enterprise extension, optional) and `Group`.
    pub fn core() -> Self {
        let mut r = Registry {
            schemas: vec![
                Arc::new(crate::core_schemas::user()),
                Arc::new(crate::core_schemas::group()),
                Arc::new(crate::core_schemas::enterprise_user()),
            ],
            resource_types: vec![
                ResourceType {
                    name: "User".into(),
                    endpoint: "/Users".into(),
                    description: "User Account".into(),
                    schema: USER_SCHEMA.into(),
                    extensions: vec![SchemaExtension {
                        schema: ENTERPRISE_USER_SCHEMA.into(),
                        required: false,
                    }],
                },
                ResourceType {
                    name: "Group".into(),
                    endpoint: "/Groups".into(),
                    description: "Group".into(),
                    schema: GROUP_SCHEMA.into(),
                    extensions: vec![],
                },
            ],
            views: HashMap::new(),
        };
        r.rebuild();
        r
    }

    /// Registers an extension schema and attaches it to a resource type.
    pub fn register_extension(
        &mut self,
        resource_type: &str,
        schema: Schema,
        required: bool,
    ) -> Result<(), SchemaError> {
        if !schema.id.to_ascii_lowercase().starts_with("urn:") {
            return Err(SchemaError::NotAUrn(schema.id));
        }
        if self.schema(&schema.id).is_some() {
            return Err(SchemaError::DuplicateSchema(schema.id));
        }
        for a in &schema.attributes {
            check_attribute(a, false)?;
        }
        let rt = self
            .resource_types
            .iter_mut()
            .find(|rt| rt.name.eq_ignore_ascii_case(resource_type))
            .ok_or_else(|| SchemaError::UnknownResourceType(resource_type.to_owned()))?;
        rt.extensions.push(SchemaExtension {
            schema: schema.id.clone(),
            required,
        });
        self.schemas.push(Arc::new(schema));
        self.rebuild();
        Ok(())
    }

    /// This registry without a resource type (and without its core schema, when no other
    /// resource type uses it): what a tenant that does not provision groups advertises.
    pub fn without_resource_type(&self, name: &str) -> Registry {
        let mut r = self.clone();
        if let Some(i) = r
            .resource_types
            .iter()
            .position(|rt| rt.name.eq_ignore_ascii_case(name))
        {
            let removed = r.resource_types.remove(i);
            if !r
                .resource_types
                .iter()
                .any(|rt| rt.schema == removed.schema)
            {
                r.schemas.retain(|s| s.id != removed.schema);
            }
        }
        r.rebuild();
        r
    }

    fn rebuild(&mut self) {
        let mut views = HashMap::new();
        for rt in &self.resource_types {
            let core = self
                .schema(&rt.schema)
                .cloned()
                .expect("a resource type's core schema is registered with it");
            let extensions = rt
                .extensions
                .iter()
                .filter_map(|e| self.schema(&e.schema).cloned().map(|s| (s, e.required)))
                .collect();
            views.insert(
                rt.name.to_ascii_lowercase(),
                Arc::new(ResourceSchema {
                    resource_type: rt.clone(),
                    core,
                    extensions,
                }),
            );
        }
        self.views = views;
    }

    /// Every registered schema, core first.
    pub fn schemas(&self) -> &[Arc<Schema>] {
        &self.schemas
    }

    /// The schema with this URN, without regard to case.
    pub fn schema(&self, urn: &str) -> Option<&Arc<Schema>> {
        self.schemas.iter().find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// Every resource type.
    pub fn resource_types(&self) -> &[ResourceType] {
        &self.resource_types
    }

    /// The resolved view of a resource type by name (`User`, `Group`), without regard to case.
    pub fn resource(&self, name: &str) -> Option<&Arc<ResourceSchema>> {
        self.views.get(&name.to_ascii_lowercase())
    }

    /// The `User` resource type.
    pub fn user(&self) -> &Arc<ResourceSchema> {
        self.resource("User")
            .expect("the User resource type is always registered")
    }

    /// The `Group` resource type.
    pub fn group(&self) -> &Arc<ResourceSchema> {
        self.resource("Group")
            .expect("the Group resource type is always registered")
    }
}

fn check_attribute(a: &Attribute, inside_complex: bool) -> Result<(), SchemaError> {
    let mut chars = a.name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')) {
        return Err(SchemaError::BadAttributeName(a.name.clone()));
    }
    if a.ty == AttributeType::Complex && inside_complex {
        return Err(SchemaError::NestedComplex(a.name.clone()));
    }
    for s in &a.sub_attributes {
        check_attribute(s, true)?;
    }
    Ok(())
}
