//! Projection (`attributes` / `excludedAttributes`) over a realistic user with the enterprise
//! extension and a test extension that exercises every `returned` characteristic.

use std::collections::BTreeSet;

use roster_scim::projection::{Projection, strip_never};
use roster_scim::schema::{
    Attribute, AttributeType, ENTERPRISE_USER_SCHEMA, Registry, ResourceSchema, Returned, Schema,
    USER_SCHEMA,
};
use roster_scim::{Error, ScimType};
use serde_json::{Value, json};

/// The enterprise URN followed by a literal, usable in constant tables.
macro_rules! ent {
    ($s:literal) => {
        concat!(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
            $s
        )
    };
}

/// The test extension's URN followed by a literal.
macro_rules! acme {
    ($s:literal) => {
        concat!(
            "urn:example:params:scim:schemas:extension:acme:1.0:User",
            $s
        )
    };
}

const ACME: &str = acme!("");

/// An extension with one attribute of each `returned` kind, and a complex attribute whose
/// sub-attributes are of each kind too.
fn acme_schema() -> Schema {
    Schema {
        id: ACME.into(),
        name: "AcmeUser".into(),
        description: "Test extension".into(),
        attributes: vec![
            Attribute::string("badge").returned(Returned::Request),
            Attribute::string("secret").returned(Returned::Never),
            Attribute::string("tenantKey").returned(Returned::Always),
            Attribute::string("floor"),
            Attribute::complex(
                "profile",
                vec![
                    Attribute::string("nick"),
                    Attribute::string("note").returned(Returned::Request),
                    Attribute::string("hash").returned(Returned::Never),
                    Attribute::string("key").returned(Returned::Always),
                ],
            ),
            Attribute::complex(
                "seat",
                vec![
                    Attribute::string("desk"),
                    Attribute::string("wing").returned(Returned::Request),
                ],
            )
            .returned(Returned::Always),
            Attribute::new("clearance", AttributeType::Integer).returned(Returned::Request),
        ],
    }
}

fn registry() -> Registry {
    let mut r = Registry::core();
    r.register_extension("User", acme_schema(), false)
        .expect("the test extension registers");
    r
}

fn user() -> Value {
    json!({
        "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ACME],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "ada-7",
        "meta": {
            "resourceType": "User",
            "created": "2024-01-02T03:04:05Z",
            "lastModified": "2024-02-03T04:05:06Z",
            "location": "https://roster.example/scim/v2/Users/2819c223-7f76-453a-919d-413861904646",
            "version": "W/\"3\""
        },
        "userName": "ada@contoso.com",
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "displayName": "Ada Lovelace",
        "title": "Analyst",
        "active": true,
        "password": "hunter2",
        "emails": [
            {"value": "ada@contoso.com", "type": "work", "primary": true},
            {"value": "ada@home.example", "type": "home"}
        ],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        "groups": [{"value": "g1", "$ref": "https://roster.example/scim/v2/Groups/g1", "display": "Engineers"}],
        ent!(""): {
            "employeeNumber": "7",
            "department": "R&D",
            "manager": {"value": "m1", "$ref": "https://roster.example/scim/v2/Users/m1", "displayName": "Charles Babbage"}
        },
        acme!(""): {
            "badge": "B-12",
            "secret": "s3cr3t",
            "tenantKey": "tk-1",
            "floor": "3",
            "profile": {"nick": "ada", "note": "likes engines", "hash": "abc", "key": "k-1"},
            "seat": {"desk": "D4", "wing": "north"},
            "clearance": 2
        }
    })
}

/// Every leaf of a projected resource as `key/sub`, arrays marked `[]`.
fn leaves(v: &Value) -> BTreeSet<String> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    let p = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}/{k}")
                    };
                    walk(&p, v, out);
                }
            }
            Value::Array(items) => {
                for item in items {
                    walk(&format!("{prefix}[]"), item, out);
                }
            }
            _ => {
                out.insert(prefix.to_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk("", v, &mut out);
    out
}

fn contains(leaves: &BTreeSet<String>, path: &str) -> bool {
    leaves.iter().any(|l| {
        l == path
            || l.strip_prefix(path)
                .is_some_and(|rest| rest.starts_with('/') || rest.starts_with("[]"))
    })
}

fn project(schema: &ResourceSchema, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let p = Projection::parse(schema, attributes, excluded)
        .unwrap_or_else(|e| panic!("{attributes:?} / {excluded:?}: {e}"));
    p.apply(schema, &user())
}

struct Case {
    attributes: Option<&'static str>,
    excluded: Option<&'static str>,
    present: &'static [&'static str],
    absent: &'static [&'static str],
}

const CASES: &[Case] = &[
    // No parameters: the default set.
    Case {
        attributes: None,
        excluded: None,
        present: &[
            "id",
            "schemas",
            "externalId",
            "meta/lastModified",
            "userName",
            "name/givenName",
            "emails[]/value",
            "groups[]/display",
            ent!("/manager/displayName"),
            acme!("/tenantKey"),
            acme!("/floor"),
            acme!("/profile/nick"),
            acme!("/profile/key"),
            acme!("/seat/desk"),
        ],
        absent: &[
            "password",
            acme!("/badge"),
            acme!("/secret"),
            acme!("/clearance"),
            acme!("/profile/note"),
            acme!("/profile/hash"),
            acme!("/seat/wing"),
        ],
    },
    // attributes: only what is named, plus always.
    Case {
        attributes: Some("userName"),
        excluded: None,
        present: &[
            "id",
            "schemas",
            "userName",
            acme!("/tenantKey"),
            acme!("/profile/key"),
            acme!("/seat/desk"),
        ],
        absent: &[
            "displayName",
            "name",
            "emails",
            "meta",
            "externalId",
            "password",
            ent!(""),
            acme!("/floor"),
            acme!("/profile/nick"),
        ],
    },
    Case {
        attributes: Some("displayName,emails"),
        excluded: None,
        present: &[
            "displayName",
            "emails[]/value",
            "emails[]/type",
            "emails[]/primary",
            "id",
        ],
        absent: &["userName", "name"],
    },
    Case {
        attributes: Some("  displayName ,  title  "),
        excluded: None,
        present: &["displayName", "title"],
        absent: &["userName"],
    },
    Case {
        attributes: Some("name.givenName"),
        excluded: None,
        present: &["name/givenName"],
        absent: &["name/familyName", "name/formatted", "userName"],
    },
    Case {
        attributes: Some("emails.value"),
        excluded: None,
        present: &["emails[]/value"],
        absent: &["emails[]/type", "emails[]/primary", "phoneNumbers"],
    },
    Case {
        attributes: Some("emails.value,emails.type"),
        excluded: None,
        present: &["emails[]/value", "emails[]/type"],
        absent: &["emails[]/primary"],
    },
    Case {
        attributes: Some("meta.lastModified"),
        excluded: None,
        present: &["meta/lastModified"],
        absent: &["meta/created", "meta/location", "meta/version"],
    },
    Case {
        attributes: Some("meta"),
        excluded: None,
        present: &[
            "meta/created",
            "meta/lastModified",
            "meta/location",
            "meta/version",
            "meta/resourceType",
        ],
        absent: &["userName"],
    },
    Case {
        attributes: Some("id"),
        excluded: None,
        present: &["id", "schemas"],
        absent: &["userName", "externalId", "meta"],
    },
    Case {
        attributes: Some("externalId"),
        excluded: None,
        present: &["externalId", "id"],
        absent: &["userName"],
    },
    // URN-prefixed paths.
    Case {
        attributes: Some(ent!(":manager")),
        excluded: None,
        present: &[
            ent!("/manager/value"),
            ent!("/manager/displayName"),
            ent!("/manager/$ref"),
        ],
        absent: &[ent!("/employeeNumber"), "userName"],
    },
    Case {
        attributes: Some(ent!(":manager.displayName")),
        excluded: None,
        present: &[ent!("/manager/displayName")],
        absent: &[ent!("/manager/value"), ent!("/employeeNumber")],
    },
    Case {
        attributes: Some(ent!(":employeeNumber")),
        excluded: None,
        present: &[ent!("/employeeNumber")],
        absent: &[ent!("/department"), ent!("/manager")],
    },
    Case {
        attributes: Some(ent!("")),
        excluded: None,
        present: &[
            ent!("/employeeNumber"),
            ent!("/department"),
            ent!("/manager/value"),
        ],
        absent: &["userName", "displayName"],
    },
    Case {
        attributes: Some("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        excluded: None,
        present: &["userName"],
        absent: &["displayName"],
    },
    Case {
        attributes: Some("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName"),
        excluded: None,
        present: &["name/familyName"],
        absent: &["name/givenName"],
    },
    Case {
        attributes: Some("urn:ietf:params:scim:schemas:core:2.0:User"),
        excluded: None,
        present: &["userName", "displayName", "meta/created", "externalId"],
        absent: &[ent!(""), "password"],
    },
    // Unprefixed extension attribute names resolve when unambiguous.
    Case {
        attributes: Some("employeeNumber"),
        excluded: None,
        present: &[ent!("/employeeNumber")],
        absent: &[ent!("/department")],
    },
    Case {
        attributes: Some("manager.value"),
        excluded: None,
        present: &[ent!("/manager/value")],
        absent: &[ent!("/manager/displayName")],
    },
    // Case-insensitive names.
    Case {
        attributes: Some("USERNAME,Name.GivenName"),
        excluded: None,
        present: &["userName", "name/givenName"],
        absent: &["name/familyName", "displayName"],
    },
    Case {
        attributes: Some(
            "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Manager.VALUE",
        ),
        excluded: None,
        present: &[ent!("/manager/value")],
        absent: &[ent!("/manager/displayName")],
    },
    Case {
        attributes: Some("urn:ietf:params:scim:schemas:extension:ENTERPRISE:2.0:user"),
        excluded: None,
        present: &[ent!("/department")],
        absent: &["userName"],
    },
    Case {
        attributes: None,
        excluded: Some("EMAILS,Meta"),
        present: &["userName"],
        absent: &["emails", "meta"],
    },
    // returned: never is never returned, even when asked for.
    Case {
        attributes: Some("password"),
        excluded: None,
        present: &["id"],
        absent: &["password"],
    },
    Case {
        attributes: Some(acme!(":secret,userName")),
        excluded: None,
        present: &["userName"],
        absent: &[acme!("/secret")],
    },
    Case {
        attributes: Some(acme!(":profile.hash")),
        excluded: None,
        present: &[acme!("/profile/key")],
        absent: &[acme!("/profile/hash"), acme!("/profile/nick")],
    },
    // returned: request only when named.
    Case {
        attributes: Some(acme!(":badge")),
        excluded: None,
        present: &[acme!("/badge")],
        absent: &[acme!("/floor"), acme!("/clearance")],
    },
    Case {
        attributes: Some("badge,clearance"),
        excluded: None,
        present: &[acme!("/badge"), acme!("/clearance")],
        absent: &[acme!("/floor")],
    },
    Case {
        attributes: Some(acme!(":profile.note")),
        excluded: None,
        present: &[acme!("/profile/note"), acme!("/profile/key")],
        absent: &[acme!("/profile/nick")],
    },
    Case {
        // Naming a complex attribute selects all of it, request sub-attributes included.
        attributes: Some(acme!(":profile")),
        excluded: None,
        present: &[
            acme!("/profile/nick"),
            acme!("/profile/note"),
            acme!("/profile/key"),
        ],
        absent: &[acme!("/profile/hash"), acme!("/badge")],
    },
    Case {
        // Naming a whole extension selects all of it.
        attributes: Some(acme!("")),
        excluded: None,
        present: &[
            acme!("/badge"),
            acme!("/floor"),
            acme!("/clearance"),
            acme!("/profile/note"),
        ],
        absent: &[acme!("/secret"), acme!("/profile/hash"), "userName"],
    },
    Case {
        attributes: None,
        excluded: Some("floor"),
        present: &[acme!("/tenantKey")],
        absent: &[acme!("/badge"), acme!("/floor")],
    },
    // returned: always survives exclusion.
    Case {
        attributes: None,
        excluded: Some("id,schemas"),
        present: &["id", "schemas"],
        absent: &[],
    },
    Case {
        attributes: None,
        excluded: Some(acme!(":tenantKey")),
        present: &[acme!("/tenantKey")],
        absent: &[],
    },
    Case {
        attributes: None,
        excluded: Some(acme!("")),
        present: &[
            acme!("/tenantKey"),
            acme!("/profile/key"),
            acme!("/seat/desk"),
        ],
        absent: &[acme!("/floor"), acme!("/profile/nick")],
    },
    Case {
        // Excluding an always attribute as a whole has no effect...
        attributes: None,
        excluded: Some(acme!(":seat")),
        present: &[acme!("/seat/desk")],
        absent: &[acme!("/seat/wing")],
    },
    Case {
        // ...but a default sub-attribute of it can be excluded by name.
        attributes: None,
        excluded: Some(acme!(":seat.desk")),
        present: &[acme!("/tenantKey")],
        absent: &[acme!("/seat")],
    },
    Case {
        attributes: Some(acme!(":seat.wing")),
        excluded: None,
        present: &[acme!("/seat/desk"), acme!("/seat/wing")],
        absent: &[],
    },
    // excludedAttributes alone.
    Case {
        attributes: None,
        excluded: Some("emails"),
        present: &["userName", "phoneNumbers[]/value", "name/givenName"],
        absent: &["emails", "password"],
    },
    Case {
        attributes: None,
        excluded: Some("name.givenName"),
        present: &["name/familyName", "name/formatted"],
        absent: &["name/givenName"],
    },
    Case {
        attributes: None,
        excluded: Some("emails.type,emails.primary"),
        present: &["emails[]/value"],
        absent: &["emails[]/type", "emails[]/primary"],
    },
    Case {
        attributes: None,
        excluded: Some("meta.version,meta.location"),
        present: &["meta/created", "meta/lastModified"],
        absent: &["meta/version", "meta/location"],
    },
    Case {
        attributes: None,
        excluded: Some(ent!("")),
        present: &["userName", acme!("/floor")],
        absent: &[ent!("")],
    },
    Case {
        attributes: None,
        excluded: Some(ent!(":manager")),
        present: &[ent!("/employeeNumber")],
        absent: &[ent!("/manager")],
    },
    Case {
        attributes: None,
        excluded: Some("manager.displayName"),
        present: &[ent!("/manager/value")],
        absent: &[ent!("/manager/displayName")],
    },
    Case {
        attributes: None,
        excluded: Some("groups,emails,phoneNumbers,name,meta"),
        present: &["id", "userName", "displayName", "active"],
        absent: &["groups", "emails", "phoneNumbers", "name", "meta"],
    },
    // Both: attributes first, then exclusions, always kept.
    Case {
        attributes: Some("emails,displayName"),
        excluded: Some("emails.type"),
        present: &["emails[]/value", "emails[]/primary", "displayName"],
        absent: &["emails[]/type", "userName"],
    },
    Case {
        attributes: Some("displayName,userName"),
        excluded: Some("userName,id"),
        present: &["displayName", "id"],
        absent: &["userName"],
    },
    Case {
        attributes: Some(ent!("")),
        excluded: Some(ent!(":manager")),
        present: &[ent!("/employeeNumber")],
        absent: &[ent!("/manager")],
    },
    // Unknown names are ignored.
    Case {
        attributes: Some("nosuch"),
        excluded: None,
        present: &["id", "schemas"],
        absent: &["userName"],
    },
    Case {
        attributes: Some("userName,nosuch,name.nosuch"),
        excluded: None,
        present: &["userName"],
        absent: &["name", "displayName"],
    },
    Case {
        attributes: None,
        excluded: Some("nosuch,urn:example:unknown:2.0:User:thing"),
        present: &["userName", "emails[]/value"],
        absent: &["password"],
    },
    Case {
        attributes: Some("urn:example:unknown:2.0:User:userName"),
        excluded: None,
        present: &["id"],
        absent: &["userName"],
    },
    // Blank parameters count as absent.
    Case {
        attributes: Some(""),
        excluded: Some(" , "),
        present: &["userName", "emails[]/value"],
        absent: &["password"],
    },
];

#[test]
fn projection_cases() {
    let registry = registry();
    let schema = registry.user();
    for (i, case) in CASES.iter().enumerate() {
        let out = project(schema, case.attributes, case.excluded);
        let got = leaves(&out);
        for p in case.present {
            assert!(
                contains(&got, p),
                "case {i} ({:?} / {:?}): {p} missing from {got:#?}",
                case.attributes,
                case.excluded
            );
        }
        for p in case.absent {
            assert!(
                !contains(&got, p),
                "case {i} ({:?} / {:?}): {p} should be absent from {got:#?}",
                case.attributes,
                case.excluded
            );
        }
    }
}

/// Exact outputs, where the whole result is small enough to read.
#[test]
fn exact_outputs() {
    let registry = registry();
    let schema = registry.user();
    let id = "2819c223-7f76-453a-919d-413861904646";
    let always = json!({"tenantKey": "tk-1", "profile": {"key": "k-1"}, "seat": {"desk": "D4"}});
    let cases: Vec<(Option<&str>, Option<&str>, Value)> = vec![
        (
            Some("userName"),
            None,
            json!({"schemas": [USER_SCHEMA, ACME], "id": id, "userName": "ada@contoso.com", ACME: always}),
        ),
        (
            Some("emails.value"),
            Some(acme!("")),
            json!({
                "schemas": [USER_SCHEMA, ACME],
                "id": id,
                "emails": [{"value": "ada@contoso.com"}, {"value": "ada@home.example"}],
                ACME: always
            }),
        ),
        (
            Some(ent!(":manager.value")),
            None,
            json!({
                "schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ACME],
                "id": id,
                ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m1"}},
                ACME: always
            }),
        ),
        (
            Some("name.givenName,name.familyName,meta.lastModified"),
            None,
            json!({
                "schemas": [USER_SCHEMA, ACME],
                "id": id,
                "meta": {"lastModified": "2024-02-03T04:05:06Z"},
                "name": {"familyName": "Lovelace", "givenName": "Ada"},
                ACME: always
            }),
        ),
    ];
    for (attributes, excluded, want) in cases {
        let got = project(schema, attributes, excluded);
        assert_eq!(got, want, "{attributes:?} / {excluded:?}");
    }
}

/// The core schemas alone, where `schemas` loses the enterprise URN when the extension is
/// projected away.
#[test]
fn schemas_is_trimmed_to_the_extensions_present() {
    let registry = Registry::core();
    let schema = registry.user();
    let mut u = user();
    u.as_object_mut().unwrap().remove(ACME);
    u["schemas"] = json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]);
    let cases = [
        (Some("userName"), None, json!([USER_SCHEMA])),
        (None, None, json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])),
        (None, Some(ent!("")), json!([USER_SCHEMA])),
        (
            Some("employeeNumber"),
            None,
            json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
        ),
        (Some("nosuch"), None, json!([USER_SCHEMA])),
    ];
    for (attributes, excluded, want) in cases {
        let p = Projection::parse(schema, attributes, excluded).unwrap();
        assert_eq!(
            p.apply(schema, &u)["schemas"],
            want,
            "{attributes:?} / {excluded:?}"
        );
    }
}

#[test]
fn default_projection_snapshot() {
    let registry = registry();
    let schema = registry.user();
    insta::assert_json_snapshot!("default_user", Projection::default().apply(schema, &user()));
}

#[test]
fn malformed_names_are_path_errors() {
    let registry = registry();
    let schema = registry.user();
    let cases = [
        (Some("name..givenName"), None),
        (Some("1abc"), None),
        (Some("userName,emails[type eq \"work\"]"), None),
        (None, Some("a.b.c")),
        (None, Some("http://example.com:userName")),
        (Some("userName"), Some("na me")),
    ];
    for (attributes, excluded) in cases {
        let err = Projection::parse(schema, attributes, excluded)
            .expect_err(&format!("{attributes:?} / {excluded:?}"));
        assert!(matches!(err, Error::Path(_)), "{err:?}");
        assert_eq!(err.scim_type(), ScimType::InvalidPath);
        assert_eq!(err.status(), 400);
    }
}

#[test]
fn ignored_names_are_reported() {
    let registry = registry();
    let schema = registry.user();
    let p = Projection::parse(schema, Some("userName,nosuch"), Some("name.nosuch")).unwrap();
    assert_eq!(p.ignored(), ["nosuch", "name.nosuch"]);
    assert!(p.has_attributes());
    assert!(
        !Projection::parse(schema, Some(" "), None)
            .unwrap()
            .has_attributes()
    );
}

/// What a storage layer may skip loading.
#[test]
fn needs() {
    let registry = registry();
    let group = registry.group();
    let user = registry.user();
    // (resource type, attributes, excludedAttributes, attribute asked about, needed)
    type NeedsCase<'a> = (
        &'a ResourceSchema,
        Option<&'a str>,
        Option<&'a str>,
        &'a str,
        bool,
    );
    let cases: &[NeedsCase<'_>] = &[
        (group, None, None, "members", true),
        (group, None, Some("members"), "members", false),
        (group, None, Some("members.display"), "members", true),
        (group, Some("displayName"), None, "members", false),
        (group, Some("members.value"), None, "members", true),
        (group, Some("members"), Some("members"), "members", false),
        (group, Some("displayName"), None, "id", true),
        (group, Some("displayName"), None, "displayName", true),
        (group, Some("MEMBERS"), None, "members", true),
        (group, None, None, "nosuch", false),
        (user, None, None, "password", false),
        (user, Some("password"), None, "password", false),
        (user, None, None, "groups", true),
        (user, Some("userName"), None, "groups", false),
        (user, Some("userName"), None, ENTERPRISE_USER_SCHEMA, false),
        (
            user,
            Some("employeeNumber"),
            None,
            ENTERPRISE_USER_SCHEMA,
            true,
        ),
        (user, None, Some(ent!("")), ent!(":manager"), false),
        (user, None, None, ent!(":manager.value"), true),
        (user, None, None, acme!(":badge"), false),
        (user, Some("badge"), None, acme!(":badge"), true),
        (user, Some("userName"), None, acme!(":tenantKey"), true),
        (user, Some("userName"), None, acme!(""), true),
        (user, None, None, "name.givenName", true),
        (user, None, Some("name"), "name.givenName", false),
        (user, Some("name.familyName"), None, "name", true),
        (user, Some("name.familyName"), None, "name.givenName", false),
    ];
    for (schema, attributes, excluded, attribute, want) in cases {
        let p = Projection::parse(schema, *attributes, *excluded).unwrap();
        assert_eq!(
            p.needs(schema, attribute),
            *want,
            "{attributes:?} / {excluded:?}: needs {attribute}"
        );
    }
}

#[test]
fn group_members_are_projected_per_member() {
    let registry = Registry::core();
    let schema = registry.group();
    let group = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "displayName": "Engineers",
        "members": [
            {"value": "u1", "display": "Ada", "type": "User"},
            {"value": "u2", "display": "Charles", "type": "User"}
        ]
    });
    let cases = [
        (
            Some("members.value"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
                   "members": [{"value": "u1"}, {"value": "u2"}]}),
        ),
        (
            None,
            Some("members"),
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
                   "displayName": "Engineers"}),
        ),
        (
            Some("displayName"),
            None,
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": "g1",
                   "displayName": "Engineers"}),
        ),
    ];
    for (attributes, excluded, want) in cases {
        let p = Projection::parse(schema, attributes, excluded).unwrap();
        assert_eq!(
            p.apply(schema, &group),
            want,
            "{attributes:?} / {excluded:?}"
        );
    }
}

#[test]
fn strip_never_removes_only_never() {
    let registry = registry();
    let schema = registry.user();
    let cases = [
        (
            json!({"id": "1", "userName": "a", "password": "p"}),
            json!({"id": "1", "userName": "a"}),
        ),
        (
            json!({"id": "1", ACME: {"secret": "s", "badge": "b", "profile": {"hash": "h", "note": "n"}}}),
            json!({"id": "1", ACME: {"badge": "b", "profile": {"note": "n"}}}),
        ),
        (
            json!({"id": "1", "vendorThing": {"password": "kept: not described by the schema"}}),
            json!({"id": "1", "vendorThing": {"password": "kept: not described by the schema"}}),
        ),
        (json!("not an object"), json!("not an object")),
    ];
    for (mut input, want) in cases {
        strip_never(schema, &mut input);
        assert_eq!(input, want);
    }
}

/// A projection is parsed once and applied to many resources; it must not depend on any one.
#[test]
fn one_projection_many_resources() {
    let registry = registry();
    let schema = registry.user();
    let p = Projection::parse(schema, Some("userName"), None).unwrap();
    for n in 0..3 {
        let u = json!({"schemas": [USER_SCHEMA], "id": n.to_string(), "userName": format!("u{n}"), "title": "x"});
        assert_eq!(
            p.apply(schema, &u),
            json!({"schemas": [USER_SCHEMA], "id": n.to_string(), "userName": format!("u{n}")})
        );
    }
}
