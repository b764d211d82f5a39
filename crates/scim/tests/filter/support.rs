//! Shared fixtures: an s-expression view of the AST (independent of the printer under test)
//! and realistic resources.

use roster_scim::filter::Filter;
use roster_scim::schema::{Attribute, AttributeType, Registry, Schema};
use serde_json::{Value, json};

/// The core registry plus a User extension with the types the core schemas lack (integer,
/// decimal, binary, a multi-valued string), for tests of typed comparison.
pub fn registry() -> Registry {
    let mut r = Registry::core();
    let stats = Schema {
        id: "urn:roster:test:1.0:Stats".into(),
        name: "Stats".into(),
        description: String::new(),
        attributes: vec![
            Attribute::new("loginCount", AttributeType::Integer),
            Attribute::new("score", AttributeType::Decimal),
            Attribute::new("verified", AttributeType::Boolean),
            Attribute::string("tags").multi(),
            Attribute::new("badge", AttributeType::Binary),
            Attribute::new("lastSeen", AttributeType::DateTime),
        ],
    };
    r.register_extension("User", stats, false)
        .expect("the test extension registers");
    r
}

/// The AST as an s-expression: `(and (eq userName "x") (pr title))`. Written separately from
/// `Display` so that tests see the tree's shape, not the printer's idea of it.
pub fn sx(f: &Filter) -> String {
    match f {
        Filter::Compare { path, op, value } => format!("({op} {path} {value})"),
        Filter::Present(path) => format!("(pr {path})"),
        Filter::And(a, b) => format!("(and {} {})", sx(a), sx(b)),
        Filter::Or(a, b) => format!("(or {} {})", sx(a), sx(b)),
        Filter::Not(a) => format!("(not {})", sx(a)),
        Filter::ValuePath { path, filter } => format!("({path}[] {})", sx(filter)),
    }
}

/// A User as a normalised resource: canonical names at the top level, the enterprise
/// extension under its URN.
pub fn user() -> Value {
    json!({
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:User",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        ],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "AdaL-0042",
        "userName": "Ada.Lovelace@Contoso.com",
        "name": {
            "formatted": "Ms. Ada King Lovelace",
            "familyName": "O'Malley-Lovelace",
            "givenName": "Ada",
            "middleName": "King",
            "honorificPrefix": "Ms.",
            "honorificSuffix": "ÉCOLE ΣΟΦΊΑ"
        },
        "displayName": "Ada Lovelace",
        "nickName": "Ada",
        "profileUrl": "https://login.example.com/ada",
        "title": "Analyst & Engineer (Level 2) [Maths]",
        "userType": "Employee",
        "preferredLanguage": "en-GB",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "active": true,
        "emails": [
            {"value": "ada@contoso.com", "type": "work", "primary": true},
            {"value": "ada.lovelace@example.org", "type": "home"}
        ],
        "phoneNumbers": [
            {"value": "+44 20 7946 0958", "type": "work"},
            {"value": "+44 7700 900123", "type": "mobile"}
        ],
        "ims": [{"value": "ada@foo.com", "type": "xmpp"}],
        "addresses": [
            {
                "type": "work",
                "streetAddress": "10 Downing St",
                "locality": "London",
                "postalCode": "SW1A 2AA",
                "country": "GB",
                "primary": true
            },
            {"type": "home", "locality": "Marylebone", "country": "GB"}
        ],
        "groups": [
            {"value": "e9e30dba-f08f-4109-8486-d5c6a331660a", "display": "Analysts", "type": "direct"}
        ],
        "roles": [{"value": "admin", "primary": true}],
        "entitlements": [],
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22Z",
            "lastModified": "2011-05-13T04:42:34.1234567Z",
            "version": "W/\"3694e05e9dff591\"",
            "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"
        },
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "costCenter": "4130",
            "organization": "Universal Studios",
            "division": "Theme Park",
            "department": "Tour Operations",
            "manager": {
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                "displayName": "John Smith"
            }
        },
        "urn:roster:test:1.0:Stats": {
            "loginCount": 42,
            "score": 3.5,
            "verified": true,
            "tags": ["blue", "Green"],
            "badge": "AAEC",
            "lastSeen": "2024-02-29T23:59:59.999+01:00"
        }
    })
}

/// A sparse User: empty and null values, no extension, a lastModified with an offset.
pub fn sparse_user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": "u-2",
        "userName": "bjensen",
        "active": false,
        "title": "",
        "nickName": null,
        "emails": [],
        "name": {"givenName": null},
        "meta": {"created": "2011-05-13T06:42:34+02:00", "lastModified": "0001-01-03T00:00:00.0000000Z"}
    })
}

/// A User whose keys a client spelled in other cases.
pub fn sloppy_user() -> Value {
    json!({
        "ID": "u-3",
        "username": "Bjensen",
        "Name": {"GivenName": "Barbara"},
        "Emails": [{"Value": "babs@example.com", "TYPE": "work"}],
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER": {"EmployeeNumber": "42"}
    })
}

/// A Group with two members.
pub fn group() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "externalId": "sales-and-marketing",
        "displayName": "Sales & Marketing",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Ada Lovelace", "type": "User"},
            {"value": "902c246b-6245-4190-8e05-00816be7344a", "type": "User"}
        ],
        "meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z"}
    })
}
