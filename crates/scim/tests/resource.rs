//! Data-driven tests of resource normalisation and validation: every case in
//! `tests/data/resource_cases.json` is a body, what to do with it (`create`, `replace` over a
//! `current` resource, or `validate`), and the canonical resource or the error expected
//! (`scimType: detail`). In the data, `@user`, `@group`, `@ent`, `@x` and `@gx` stand for the
//! schema URNs below.

use roster_scim::resource::{self, Mode};
use roster_scim::schema::{
    Attribute, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Registry,
    ResourceSchema, Schema, USER_SCHEMA,
};
use roster_scim::{Error, ScimType};
use serde_json::Value;

/// A test extension of User with one attribute of every type and the characteristics the core
/// schemas lack (immutable, required, multi-valued simple).
const X: &str = "urn:example:params:scim:schemas:extension:roster:2.0:User";
/// A test extension that every Group must carry.
const GX: &str = "urn:example:params:scim:schemas:extension:roster:2.0:Group";

const TOKENS: &[(&str, &str)] = &[
    ("@user", USER_SCHEMA),
    ("@group", GROUP_SCHEMA),
    ("@ent", ENTERPRISE_USER_SCHEMA),
    ("@gx", GX),
    ("@x", X),
];

fn custom_registry() -> Registry {
    use AttributeType::*;
    let mut r = Registry::core();
    let user_ext = Schema {
        id: X.into(),
        name: "RosterUser".into(),
        description: "Test extension".into(),
        attributes: vec![
            Attribute::string("badge")
                .required()
                .mutability(Mutability::Immutable),
            Attribute::new("level", Integer),
            Attribute::new("score", Decimal),
            Attribute::new("hired", DateTime),
            Attribute::new("photo", Binary),
            Attribute::string("tags").multi(),
            Attribute::complex(
                "clearance",
                vec![
                    Attribute::new("level", Integer).required(),
                    Attribute::new("granted", DateTime).mutability(Mutability::Immutable),
                ],
            ),
        ],
    };
    r.register_extension("User", user_ext, false)
        .expect("the test extension registers");
    let group_ext = Schema {
        id: GX.into(),
        name: "RosterGroup".into(),
        description: "Test extension".into(),
        attributes: vec![Attribute::string("code")],
    };
    r.register_extension("Group", group_ext, true)
        .expect("the test extension registers");
    r
}

fn schema_for(name: &str, core: &Registry, custom: &Registry) -> ResourceSchema {
    let s = match name {
        "user" => core.user(),
        "group" => core.group(),
        "xuser" => custom.user(),
        "xgroup" => custom.group(),
        other => panic!("unknown schema {other:?} in the test data"),
    };
    (**s).clone()
}

fn expand(text: &str) -> String {
    TOKENS
        .iter()
        .fold(text.to_owned(), |t, (token, urn)| t.replace(token, urn))
}

fn render(e: &Error) -> String {
    format!("{}: {e}", e.scim_type().as_str())
}

#[test]
fn resource_cases() {
    let text = include_str!("data/resource_cases.json");
    let cases: Vec<Value> = serde_json::from_str(&expand(text)).expect("the case file is JSON");
    let (core, custom) = (Registry::core(), custom_registry());
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("every case has a name");
        let schema = schema_for(case["schema"].as_str().unwrap(), &core, &custom);
        let input = &case["input"];
        let got: Result<Option<Value>, Error> = match case["op"].as_str().unwrap() {
            "create" => resource::normalize(&schema, input, Mode::Create).map(Some),
            "replace" => resource::normalize(
                &schema,
                input,
                Mode::Replace {
                    current: &case["current"],
                },
            )
            .map(Some),
            "validate" => resource::validate(&schema, input).map(|()| None),
            other => panic!("{name}: unknown op {other:?}"),
        };
        let outcome = match (&got, case.get("expect"), case.get("error")) {
            (Ok(Some(v)), Some(want), None) if v != want => Err(format!(
                "got {}\nwant {}",
                serde_json::to_string(v).unwrap(),
                serde_json::to_string(want).unwrap()
            )),
            // Equal as JSON; canonical form also fixes the order of keys.
            (Ok(Some(v)), Some(want), None) => {
                let (g, w) = (v.to_string(), want.to_string());
                if g != w {
                    Err(format!("keys out of canonical order:\ngot  {g}\nwant {w}"))
                } else {
                    resource::validate(&schema, v)
                        .map_err(|e| format!("the normalised resource does not validate: {e}"))
                }
            }
            (Ok(None), None, None) => Ok(()),
            (Err(e), None, Some(want)) if render(e) == want.as_str().unwrap() => Ok(()),
            (Err(e), _, _) => Err(format!("unexpected error: {}", render(e))),
            (Ok(v), _, want) => Err(format!("unexpected success {v:?}, wanted error {want:?}")),
        };
        if let Err(msg) = outcome {
            failures.push(format!("{name}:\n  {msg}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert!(cases.len() >= 60, "the table holds {} cases", cases.len());
}

/// Errors keep the scimType the HTTP layer renders; the table checks the text, this checks
/// the mapping for each kind of refusal the module produces.
#[test]
fn resource_errors_map_to_scim_types() {
    let core = Registry::core();
    let user = core.user();
    let cases: [(Value, ScimType); 3] = [
        (serde_json::json!([]), ScimType::InvalidSyntax),
        (serde_json::json!({"userName": "x"}), ScimType::InvalidValue),
        (
            serde_json::json!({"schemas": [USER_SCHEMA], "userName": "x", "nope": 1}),
            ScimType::InvalidValue,
        ),
    ];
    for (input, want) in cases {
        let e = resource::normalize(user, &input, Mode::Create).unwrap_err();
        assert_eq!(e.scim_type(), want, "{input}");
        assert_eq!(e.status(), 400);
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::FileFailurePersistence;
    use serde_json::json;

    const NAMES: &[&str] = &[
        "userName",
        "displayName",
        "name",
        "active",
        "emails",
        "phoneNumbers",
        "addresses",
        "title",
        "password",
        "id",
        "meta",
        "groups",
        "externalId",
        "x509Certificates",
        "profileUrl",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
        "urn:ietf:params:scim:schemas:core:2.0:User:nickName",
        "unknownThing",
    ];

    fn values() -> impl Strategy<Value = Value> {
        prop::sample::select(vec![
            json!("bjensen"),
            json!(""),
            json!(true),
            json!(3),
            Value::Null,
            json!([]),
            json!({}),
            json!(["x"]),
            json!({"givenName": "B", "FamilyName": "J", "formatted": null}),
            json!([{"value": "a@example.com", "Type": "work", "primary": true}, {"value": "b@example.com"}]),
            json!([{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]),
            json!([{"value": "a@example.com"}, {"value": "a@example.com"}, null, {}]),
            json!([{"streetAddress": "1 Main St", "locality": "X", "type": "home"}]),
            json!([{"value": "aGVsbG8="}]),
            json!({"employeeNumber": "7", "manager": {"value": "m", "displayName": "M"}}),
            json!({"resourceType": "User"}),
            json!("https://example.com/u"),
        ])
    }

    /// A key in random letter case, as clients spell attribute names however they like.
    fn key() -> impl Strategy<Value = String> {
        (prop::sample::select(NAMES), any::<u64>()).prop_map(|(name, bits)| {
            name.chars()
                .enumerate()
                .map(|(i, c)| {
                    if bits >> (i % 64) & 1 == 1 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
    }

    fn body() -> impl Strategy<Value = Value> {
        let schemas = prop::sample::select(vec![
            Some(json!([USER_SCHEMA])),
            Some(json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])),
            Some(json!(["urn:ietf:params:scim:schemas:core:2.0:user"])),
            Some(json!([USER_SCHEMA])),
            Some(json!([USER_SCHEMA, ENTERPRISE_USER_SCHEMA])),
            None,
        ]);
        (
            schemas,
            prop::collection::vec((key(), values()), 0..5),
            prop::bool::weighted(0.9),
        )
            .prop_map(|(schemas, pairs, with_user_name)| {
                let mut m = serde_json::Map::new();
                if let Some(s) = schemas {
                    m.insert("schemas".into(), s);
                }
                if with_user_name {
                    m.insert("userName".into(), json!("bjensen"));
                }
                for (k, v) in pairs {
                    m.insert(k, v);
                }
                Value::Object(m)
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 1024,
            failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
                "tests/data/resource.proptest-regressions",
            ))),
            ..ProptestConfig::default()
        })]

        /// Normalising either refuses the body or gives a valid resource that normalises to
        /// itself, keys in the same (canonical) order.
        #[test]
        fn normalize_gives_valid_fixed_points(body in body()) {
            let registry = Registry::core();
            let user = registry.user();
            if let Ok(once) = resource::normalize(user, &body, Mode::Create) {
                prop_assert!(resource::validate(user, &once).is_ok(), "{once} does not validate");
                let twice = resource::normalize(user, &once, Mode::Create)
                    .map_err(|e| TestCaseError::fail(format!("{once} renormalised: {e}")))?;
                prop_assert_eq!(twice.to_string(), once.to_string());
            }
        }
    }
}
