//! Client dialects: a tolerant layer in front of the strict core that rewrites what identity providers really send into RFC 7643/7644 form, and names every rewrite for the provisioning log.
//!
//! Microsoft Entra ID, Okta, OneLogin and Microsoft's own SCIM test collection do not send
//! strict RFC 7644. Rather than loosen [`crate::resource`], [`crate::patch`] and the filter
//! parser, which stay strict and keep answering the RFC's errors, a [`Dialect`] rewrites a
//! request before the core sees it:
//!
//! ```text
//! body ──Dialect::resource_body──▶ strict body ──resource::normalize──▶ resource
//! PATCH ─Dialect::patch_body─────▶ PatchOp ─PatchRequest::from_value─▶ patch::apply_with(Dialect::patch_options)
//! ?filter= ─Dialect::filter──────▶ Filter
//! ?attributes= ─Dialect::attribute_list─▶ paths ──Projection::parse──▶ Projection
//! ```
//!
//! Each rewrite pushes a [`Normalization`] (each name once per request, in the order first
//! applied), so that the tenant's administrator can see in the provisioning log what their
//! identity provider sent and what Roster made of it. In [`Compatibility::Strict`] nothing is
//! rewritten and the core answers with the RFC error.
//!
//! What the dialect deliberately does not do:
//!
//! - It never drops the data of a whole schema extension the tenant lacks (an unknown URN key
//!   holding an object): that is a configuration mistake the administrator must see, so the
//!   core's `invalidValue` stands. Only `schemas` entries without data are dropped.
//! - It rewrites values only where the schema says what they should be; an unknown attribute
//!   path in a PATCH `path` stays `invalidPath`, a filter naming an unknown attribute stays
//!   `invalidFilter`.
//! - It guesses no identity provider: every rewrite applies to every client in
//!   [`Compatibility::Auto`]. A request the core accepts comes out unchanged, with two
//!   exceptions, both [`Normalization::EmptyClears`]: in a PATCH, `""` on a string attribute
//!   (which the core would store as an empty string) and `null` on `add` (which the core would
//!   ignore) clear the attribute, since that is what clients sending them mean. (Path-less
//!   URN-qualified keys, which the core also accepts, become equivalent path operations.)

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::filter::{Filter, FilterError};
use crate::patch::ApplyOptions;
use crate::schema::ResourceSchema;

mod body;
mod patch;
mod query;

/// How tolerant a tenant's SCIM endpoint is of its identity provider's quirks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compatibility {
    /// Rewrite the known quirks of real clients into RFC form (the default).
    #[default]
    Auto,
    /// RFC 7643/7644 as written: the request goes to the core unchanged.
    Strict,
}

impl Compatibility {
    /// The configuration spelling: `auto` or `strict`.
    pub fn as_str(self) -> &'static str {
        match self {
            Compatibility::Auto => "auto",
            Compatibility::Strict => "strict",
        }
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A compatibility mode that is neither `auto` nor `strict`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compatibility mode {0:?}: expected \"auto\" or \"strict\"")]
pub struct UnknownCompatibility(pub String);

impl FromStr for Compatibility {
    type Err = UnknownCompatibility;

    /// Reads `auto` or `strict`, without regard to case or surrounding spaces.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        [Compatibility::Auto, Compatibility::Strict]
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(t))
            .ok_or_else(|| UnknownCompatibility(s.to_owned()))
    }
}

/// One kind of rewrite the dialect (or a lenient [`ApplyOptions`]) applied to a request.
/// Serialised as its kebab-case name ([`Normalization::as_str`]), the name the provisioning
/// log shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Normalization {
    /// `"op": "Replace"` lower-cased to `"replace"` (Entra).
    OpCase,
    /// `"True"`/`"false"` (any case) as a boolean where the schema says boolean (Entra).
    StringBoolean,
    /// A path-less PATCH value keyed by `name.givenName` turned into a path operation (Entra).
    PatchDottedKeys,
    /// A path-less PATCH value keyed by a URN-qualified attribute
    /// (`urn:...:enterprise:2.0:User:employeeNumber`) turned into a path operation (Entra).
    PatchUrnKeys,
    /// A `replace` through a value filter that matched nothing created the value
    /// ([`ApplyOptions::replace_creates`]; Entra).
    FilterCreates,
    /// A `remove` through a value filter that matched nothing did nothing
    /// ([`ApplyOptions::remove_unmatched`]).
    RemoveNoMatch,
    /// A bare string id where a complex attribute with a `value` is expected
    /// (`"manager": "abc"`) wrapped as `{"value": "abc"}` (Entra).
    ManagerString,
    /// An empty string (or `null` on `add`) meaning "clear this attribute" turned into a
    /// `remove`, or in a body into an absent attribute (Entra).
    EmptyClears,
    /// `remove` on `members` with a value array turned into one `remove` per member with the
    /// path `members[value eq "id"]` (Entra).
    MemberRemoveValue,
    /// A `schemas` entry the resource type does not have, holding no data, dropped (Entra's
    /// `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`).
    UnknownSchema,
    /// A SCIM 1.x or pre-RFC schema URN (`urn:scim:schemas:core:1.0`) replaced by the RFC
    /// 7643 URN, in `schemas`, as a key or as a path prefix (OneLogin).
    LegacySchemaUrn,
    /// A single value where the schema says multi-valued wrapped in an array.
    SingleValueArray,
    /// A filter value without quotes (`userName sw O`) read as a string (Microsoft's test
    /// collection, older Entra).
    UnquotedFilterValue,
    /// A value filter inside `attributes` (`emails[type eq "work"]`) reduced to its attribute
    /// (Microsoft's test collection).
    FilterInAttributes,
    /// A bare string member id (`"members": ["id"]`, or a PATCH value `"id"`) wrapped as
    /// `{"value": "id"}` (Microsoft's test collection).
    BareMemberValue,
    /// A group member's name sent as `displayName` (the User attribute) instead of the
    /// member's `display`, read as `display` (Microsoft's test collection).
    MemberDisplayName,
    /// An attribute or sub-attribute the schema does not define, dropped from a body or a
    /// PATCH value (Microsoft's test collection, OneLogin templates).
    UnknownAttribute,
    /// A member of the PatchOp message or of an operation that RFC 7644 does not define
    /// (`"id"` beside `Operations`, `"name"` in an operation), dropped (Microsoft's test
    /// collection).
    UnknownPatchMember,
    /// A group member that names no user or group of the organisation left out, where the
    /// tenant is set to ignore such members (`unknown-members ignore`; Microsoft's test
    /// collection adds members "string id 1"). Applied by the directory, not the dialect.
    UnknownMemberIgnored,
}

impl Normalization {
    /// Every normalisation, in declaration order.
    pub const ALL: [Normalization; 19] = [
        Normalization::OpCase,
        Normalization::StringBoolean,
        Normalization::PatchDottedKeys,
        Normalization::PatchUrnKeys,
        Normalization::FilterCreates,
        Normalization::RemoveNoMatch,
        Normalization::ManagerString,
        Normalization::EmptyClears,
        Normalization::MemberRemoveValue,
        Normalization::UnknownSchema,
        Normalization::LegacySchemaUrn,
        Normalization::SingleValueArray,
        Normalization::UnquotedFilterValue,
        Normalization::FilterInAttributes,
        Normalization::BareMemberValue,
        Normalization::MemberDisplayName,
        Normalization::UnknownAttribute,
        Normalization::UnknownPatchMember,
        Normalization::UnknownMemberIgnored,
    ];

    /// Whether the dialect applies it to a request (all but those a tenant setting makes the
    /// directory apply).
    pub fn is_dialect(self) -> bool {
        !matches!(self, Normalization::UnknownMemberIgnored)
    }

    /// The name shown in the provisioning log, e.g. `op-case`.
    pub fn as_str(self) -> &'static str {
        match self {
            Normalization::OpCase => "op-case",
            Normalization::StringBoolean => "string-boolean",
            Normalization::PatchDottedKeys => "patch-dotted-keys",
            Normalization::PatchUrnKeys => "patch-urn-keys",
            Normalization::FilterCreates => "filter-creates",
            Normalization::RemoveNoMatch => "remove-no-match",
            Normalization::ManagerString => "manager-string",
            Normalization::EmptyClears => "empty-clears",
            Normalization::MemberRemoveValue => "member-remove-value",
            Normalization::UnknownSchema => "unknown-schema",
            Normalization::LegacySchemaUrn => "legacy-schema-urn",
            Normalization::SingleValueArray => "single-value-array",
            Normalization::UnquotedFilterValue => "unquoted-filter-value",
            Normalization::FilterInAttributes => "filter-in-attributes",
            Normalization::BareMemberValue => "bare-member-value",
            Normalization::MemberDisplayName => "member-display-name",
            Normalization::UnknownAttribute => "unknown-attribute",
            Normalization::UnknownPatchMember => "unknown-patch-member",
            Normalization::UnknownMemberIgnored => "unknown-member-ignored",
        }
    }

    /// One sentence for the administrator: what the client sent and what Roster did.
    pub fn description(self) -> &'static str {
        match self {
            Normalization::OpCase => {
                "The PATCH operation name was not in lower case (\"Replace\"); it was read as \"replace\"."
            }
            Normalization::StringBoolean => {
                "A boolean was sent as a string (\"False\"); it was read as a boolean."
            }
            Normalization::PatchDottedKeys => {
                "A PATCH value named a sub-attribute with a dot (\"name.givenName\"); it was applied to that sub-attribute."
            }
            Normalization::PatchUrnKeys => {
                "A PATCH value named an attribute with its schema URN; it was applied to that attribute."
            }
            Normalization::FilterCreates => {
                "A replace through a filter that matched no value created the value, as an add would."
            }
            Normalization::RemoveNoMatch => {
                "A remove through a filter that matched no value (already gone) changed nothing."
            }
            Normalization::ManagerString => {
                "A reference such as the manager was sent as a bare id; it was read as {\"value\": id}."
            }
            Normalization::EmptyClears => {
                "An empty value was sent to clear an attribute; the attribute was cleared."
            }
            Normalization::MemberRemoveValue => {
                "Members were removed by listing them in a value; each was removed by its id."
            }
            Normalization::UnknownSchema => {
                "The schemas list named a schema this resource type does not have and sent no data for it; it was ignored."
            }
            Normalization::LegacySchemaUrn => {
                "A SCIM 1.x schema URN was used; it was read as the SCIM 2.0 URN."
            }
            Normalization::SingleValueArray => {
                "A single value was sent where a list is expected; it was read as a list of one."
            }
            Normalization::UnquotedFilterValue => {
                "A filter compared with a value without quotes; it was read as a string."
            }
            Normalization::FilterInAttributes => {
                "The attributes parameter held a filter; the whole attribute was returned."
            }
            Normalization::BareMemberValue => {
                "A group member was sent as a bare id; it was read as {\"value\": id}."
            }
            Normalization::MemberDisplayName => {
                "A group member's name was sent as displayName; it was read as display."
            }
            Normalization::UnknownAttribute => {
                "An attribute this resource type does not define was sent; it was ignored."
            }
            Normalization::UnknownPatchMember => {
                "The PATCH message held a member SCIM does not define (such as \"id\" or \"name\"); it was ignored."
            }
            Normalization::UnknownMemberIgnored => {
                "A group member named no user or group of this organisation; it was left out, as the organisation's unknown-members setting asks."
            }
        }
    }
}

impl fmt::Display for Normalization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`Normalization::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown normalisation {0:?}")]
pub struct UnknownNormalization(pub String);

impl FromStr for Normalization {
    type Err = UnknownNormalization;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Normalization::ALL
            .into_iter()
            .find(|n| n.as_str() == s)
            .ok_or_else(|| UnknownNormalization(s.to_owned()))
    }
}

impl Serialize for Normalization {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Normalization {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Records `n` in `applied` unless it is there already: the log names each kind of rewrite
/// once per request, however many values it touched.
pub(crate) fn note(applied: &mut Vec<Normalization>, n: Normalization) {
    if !applied.contains(&n) {
        applied.push(n);
    }
}

/// A tenant's dialect: the rewrites to apply before the strict core.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Dialect {
    /// How tolerant to be.
    pub mode: Compatibility,
}

impl Dialect {
    /// Rewrites every known quirk.
    pub const AUTO: Dialect = Dialect {
        mode: Compatibility::Auto,
    };

    /// Rewrites nothing.
    pub const STRICT: Dialect = Dialect {
        mode: Compatibility::Strict,
    };

    /// The dialect of a compatibility mode.
    pub fn new(mode: Compatibility) -> Self {
        Dialect { mode }
    }

    /// The POST/PUT body of a resource of type `schema` → a body for
    /// [`crate::resource::normalize`]. In Auto: legacy schema URNs replaced, `schemas` entries
    /// of other resource types without data dropped, unknown attributes dropped, string
    /// booleans, single values of multi-valued attributes, bare member ids and bare manager
    /// ids put in their RFC shape, and `""` for a non-string attribute made absent. Strict:
    /// the body unchanged. Whatever is not understood is left for the core to refuse.
    pub fn resource_body(
        &self,
        schema: &ResourceSchema,
        body: &Value,
        applied: &mut Vec<Normalization>,
    ) -> Value {
        match (self.mode, body) {
            (Compatibility::Auto, Value::Object(obj)) => {
                Value::Object(body::Fix::new(schema, applied).resource(obj))
            }
            _ => body.clone(),
        }
    }

    /// A PATCH body → a PatchOp message for [`crate::patch::PatchRequest::from_value`]. In
    /// Auto, besides what [`Dialect::resource_body`] does to values: `op` lower-cased,
    /// members RFC 7644 does not define dropped, path-less values with dotted or URN-qualified
    /// keys split into path operations, `""` (or `null` on `add`) turned into `remove`, a
    /// `remove` of members listed in a value turned into one `remove` per member by filter,
    /// legacy URNs and unquoted filter values in paths rewritten. Strict: the body unchanged.
    pub fn patch_body(
        &self,
        schema: &ResourceSchema,
        body: &Value,
        applied: &mut Vec<Normalization>,
    ) -> Value {
        match self.mode {
            Compatibility::Auto => patch::rewrite(schema, body, applied),
            Compatibility::Strict => body.clone(),
        }
    }

    /// The options for [`crate::patch::apply_with`]: in Auto, `replace` through a value filter
    /// that matches nothing creates the value, and `remove` through one changes nothing; the
    /// outcome's [`crate::patch::PatchOutcome::applied`] lists them when they were needed.
    /// Strict: [`ApplyOptions::STRICT`].
    pub fn patch_options(&self) -> ApplyOptions {
        match self.mode {
            Compatibility::Auto => ApplyOptions::LENIENT,
            Compatibility::Strict => ApplyOptions::STRICT,
        }
    }

    /// A `filter` query parameter (or SearchRequest member) → a [`Filter`]. In Auto, a
    /// comparison value without quotes is read as a string (`userName sw O`) unless it is
    /// `true`, `false`, `null` or a number. Strict: [`Filter::parse`].
    pub fn filter(
        &self,
        text: &str,
        applied: &mut Vec<Normalization>,
    ) -> Result<Filter, FilterError> {
        match self.mode {
            Compatibility::Auto => query::filter(text, applied),
            Compatibility::Strict => Filter::parse(text),
        }
    }

    /// An `attributes` or `excludedAttributes` parameter → comma-separated attribute paths for
    /// [`crate::Projection::parse`]. In Auto, a value filter in an entry
    /// (`emails[type eq "work"]`, `emails[type eq "work"].value`) is reduced to the attribute
    /// it filters (`emails`, `emails.value`): the whole attribute is returned. Strict: the text
    /// unchanged (and the core refuses such an entry with `invalidPath`).
    pub fn attribute_list(&self, text: &str, applied: &mut Vec<Normalization>) -> String {
        match self.mode {
            Compatibility::Auto => query::attribute_list(text, applied),
            Compatibility::Strict => text.to_owned(),
        }
    }
}
