//! The schemas of RFC 7643 §8.7.1 (User, Group) and §4.3 (enterprise User), as data.

use crate::schema::AttributeType::*;
use crate::schema::{
    Attribute, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Returned, Schema, USER_SCHEMA,
    Uniqueness,
};

/// The `value`, `display`, `type` and `primary` sub-attributes shared by the plural
/// attributes of a User (§2.4), with the given canonical types and `value` type.
fn plural(name: &str, value_type: crate::schema::AttributeType, types: &[&str]) -> Attribute {
    let mut value = Attribute::new("value", value_type);
    if value_type == Reference {
        value = value.refs(&["external"]);
    }
    Attribute::complex(
        name,
        vec![
            value,
            Attribute::string("display"),
            Attribute::string("type").canonical(types),
            Attribute::new("primary", Boolean),
        ],
    )
    .multi()
}

/// The core User schema.
pub fn user() -> Schema {
    Schema {
        id: USER_SCHEMA.into(),
        name: "User".into(),
        description: "User Account".into(),
        attributes: vec![
            Attribute::string("userName")
                .required()
                .uniqueness(Uniqueness::Server)
                .describe("Unique identifier for the User, typically used to sign in."),
            Attribute::complex(
                "name",
                vec![
                    Attribute::string("formatted"),
                    Attribute::string("familyName"),
                    Attribute::string("givenName"),
                    Attribute::string("middleName"),
                    Attribute::string("honorificPrefix"),
                    Attribute::string("honorificSuffix"),
                ],
            )
            .describe("The components of the user's real name."),
            Attribute::string("displayName"),
            Attribute::string("nickName"),
            Attribute::new("profileUrl", Reference).refs(&["external"]),
            Attribute::string("title"),
            Attribute::string("userType"),
            Attribute::string("preferredLanguage"),
            Attribute::string("locale"),
            Attribute::string("timezone"),
            Attribute::new("active", Boolean)
                .describe("Whether the user may sign in; false once deactivated."),
            Attribute::string("password")
                .mutability(Mutability::WriteOnly)
                .returned(Returned::Never)
                .describe("The user's cleartext password, never returned."),
            plural("emails", String, &["work", "home", "other"]),
            plural(
                "phoneNumbers",
                String,
                &["work", "home", "mobile", "fax", "pager", "other"],
            ),
            plural(
                "ims",
                String,
                &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"],
            ),
            plural("photos", Reference, &["photo", "thumbnail"]),
            Attribute::complex(
                "addresses",
                vec![
                    Attribute::string("formatted"),
                    Attribute::string("streetAddress"),
                    Attribute::string("locality"),
                    Attribute::string("region"),
                    Attribute::string("postalCode"),
                    Attribute::string("country"),
                    Attribute::string("type").canonical(&["work", "home", "other"]),
                    Attribute::new("primary", Boolean),
                ],
            )
            .multi(),
            Attribute::complex(
                "groups",
                vec![
                    Attribute::string("value").mutability(Mutability::ReadOnly),
                    Attribute::new("$ref", Reference)
                        .refs(&["User", "Group"])
                        .mutability(Mutability::ReadOnly),
                    Attribute::string("display").mutability(Mutability::ReadOnly),
                    Attribute::string("type")
                        .canonical(&["direct", "indirect"])
                        .mutability(Mutability::ReadOnly),
                ],
            )
            .multi()
            .mutability(Mutability::ReadOnly)
            .describe("The groups the user belongs to, managed through the Group resource."),
            plural("entitlements", String, &[]),
            plural("roles", String, &[]),
            plural("x509Certificates", Binary, &[]),
        ],
    }
}

/// The core Group schema. `displayName` is unique within a tenant, as Microsoft Entra ID
/// requires of applications it provisions groups into.
pub fn group() -> Schema {
    Schema {
        id: GROUP_SCHEMA.into(),
        name: "Group".into(),
        description: "Group".into(),
        attributes: vec![
            Attribute::string("displayName")
                .required()
                .uniqueness(Uniqueness::Server)
                .describe("A human-readable name for the Group."),
            Attribute::complex(
                "members",
                vec![
                    Attribute::string("value")
                        .case_exact()
                        .mutability(Mutability::Immutable),
                    Attribute::new("$ref", Reference)
                        .refs(&["User", "Group"])
                        .mutability(Mutability::Immutable),
                    Attribute::string("type")
                        .canonical(&["User", "Group"])
                        .mutability(Mutability::Immutable),
                    Attribute::string("display").mutability(Mutability::Immutable),
                ],
            )
            .multi()
            .describe("A list of members of the Group."),
        ],
    }
}

/// The enterprise User extension.
pub fn enterprise_user() -> Schema {
    Schema {
        id: ENTERPRISE_USER_SCHEMA.into(),
        name: "EnterpriseUser".into(),
        description: "Enterprise User".into(),
        attributes: vec![
            Attribute::string("employeeNumber"),
            Attribute::string("costCenter"),
            Attribute::string("organization"),
            Attribute::string("division"),
            Attribute::string("department"),
            Attribute::complex(
                "manager",
                vec![
                    Attribute::string("value").case_exact(),
                    Attribute::new("$ref", Reference).refs(&["User"]),
                    Attribute::string("displayName").mutability(Mutability::ReadOnly),
                ],
            )
            .describe("The user's manager."),
        ],
    }
}
