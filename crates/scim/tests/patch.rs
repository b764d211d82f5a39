//! PATCH tests. `tests/data/patch_cases.json` holds the table: a fixture from
//! `tests/data/patch_fixtures.json`, the operations (or a whole `message`), and either the
//! top-level attributes of the result that differ from the fixture (`null`: gone) with the
//! change list, or the error (`scimType: detail`). In the data, `@user`, `@group`, `@ent`, `@x`
//! stand for schema URNs and `@babs`, `@mandy`, `@james`, `@boss`, `@guides` for resource ids.
//! Property tests then apply random operation sequences to the fixtures.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use roster_scim::patch::{self, Change, PATCH_OP_SCHEMA, PatchRequest};
use roster_scim::resource;
use roster_scim::schema::{
    Attribute, AttributeType, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Mutability, Registry,
    ResourceSchema, Schema, USER_SCHEMA, common_attributes,
};
use roster_scim::{Error, ScimType};
use serde_json::{Map, Value, json};

const X: &str = "urn:example:params:scim:schemas:extension:roster:2.0:User";

const TOKENS: &[(&str, &str)] = &[
    ("@user", USER_SCHEMA),
    ("@group", GROUP_SCHEMA),
    ("@ent", ENTERPRISE_USER_SCHEMA),
    ("@x", X),
    ("@babs", "2819c223-7f76-453a-919d-413861904646"),
    ("@mandy", "902c246b-6245-4190-8e05-00816be7344a"),
    ("@james", "08e1d05d-121c-4561-8b96-473d93df9210"),
    ("@boss", "26118915-6090-4610-87e4-49d8ca9f808d"),
    ("@guides", "e9e30dba-f08f-4109-8486-d5c6a331660a"),
];

fn expand(text: &str) -> String {
    TOKENS
        .iter()
        .fold(text.to_owned(), |t, (token, v)| t.replace(token, v))
}

/// The core registry plus a User extension with the characteristics the core schemas lack
/// (immutable, required, integer, dateTime, multi-valued string).
fn registry() -> Registry {
    use AttributeType::*;
    let mut r = Registry::core();
    let ext = Schema {
        id: X.into(),
        name: "RosterUser".into(),
        description: "Test extension".into(),
        attributes: vec![
            Attribute::string("badge")
                .required()
                .mutability(Mutability::Immutable),
            Attribute::new("level", Integer),
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
    r.register_extension("User", ext, false)
        .expect("the test extension registers");
    r
}

fn fixtures() -> Map<String, Value> {
    let text = expand(include_str!("data/patch_fixtures.json"));
    match serde_json::from_str(&text).expect("the fixture file is JSON") {
        Value::Object(m) => m,
        _ => panic!("the fixture file holds an object"),
    }
}

fn render(e: &Error) -> String {
    format!("{}: {e}", e.scim_type().as_str())
}

fn message(ops: &Value) -> Value {
    json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})
}

fn parse_and_apply(
    schema: &ResourceSchema,
    resource: &Value,
    msg: &Value,
) -> Result<patch::PatchOutcome, Error> {
    let request = PatchRequest::from_value(msg)?;
    patch::apply(schema, resource, &request)
}

/// Checks that every object's keys follow schema order (canonical form), recursively.
fn check_order(schema: &ResourceSchema, v: &Value) -> Result<(), String> {
    let obj = v.as_object().ok_or("not an object")?;
    let mut order: Vec<&str> = vec!["schemas"];
    order.extend(common_attributes().iter().map(|a| a.name.as_str()));
    order.extend(schema.core.attributes.iter().map(|a| a.name.as_str()));
    order.extend(schema.extensions.iter().map(|(e, _)| e.id.as_str()));
    keys_in_order(obj, &order, "the top level")?;
    for (k, v) in obj {
        if let Some((ext, _)) = schema.extensions.iter().find(|(e, _)| e.id == *k) {
            let inner = v.as_object().ok_or("extension not an object")?;
            let names: Vec<&str> = ext.attributes.iter().map(|a| a.name.as_str()).collect();
            keys_in_order(inner, &names, k)?;
            for a in &ext.attributes {
                if let Some(v) = inner.get(&a.name) {
                    check_value_order(a, v)?;
                }
            }
        } else if let Some(a) = common_attributes()
            .iter()
            .chain(&schema.core.attributes)
            .find(|a| a.name == *k)
        {
            check_value_order(a, v)?;
        }
    }
    Ok(())
}

fn check_value_order(a: &Attribute, v: &Value) -> Result<(), String> {
    let names: Vec<&str> = a.sub_attributes.iter().map(|s| s.name.as_str()).collect();
    let values: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for v in values {
        if let Some(obj) = v.as_object() {
            keys_in_order(obj, &names, &a.name)?;
        }
    }
    Ok(())
}

fn keys_in_order(obj: &Map<String, Value>, order: &[&str], what: &str) -> Result<(), String> {
    let positions: Vec<usize> = obj
        .keys()
        .map(|k| order.iter().position(|o| o == k).unwrap_or(usize::MAX))
        .collect();
    if positions.is_sorted() {
        Ok(())
    } else {
        Err(format!(
            "keys of {what} out of schema order: {:?}",
            obj.keys().collect::<Vec<_>>()
        ))
    }
}

#[test]
fn patch_cases() {
    let cases: Vec<Value> = serde_json::from_str(&expand(include_str!("data/patch_cases.json")))
        .expect("the case file is JSON");
    let fixtures = fixtures();
    let registry = registry();
    let mut failures = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("every case has a name");
        let on = case["on"].as_str().expect("every case names a fixture");
        let fixture = &fixtures[on];
        let schema_name = case
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or(match on {
                "guides" | "ninjas" => "group",
                _ => "user",
            });
        let schema: &ResourceSchema = match schema_name {
            "user" | "xuser" => registry.user(),
            "group" => registry.group(),
            other => panic!("{name}: unknown schema {other}"),
        };
        let msg = match (case.get("message"), case.get("ops")) {
            (Some(m), None) => m.clone(),
            (None, Some(ops)) => message(ops),
            _ => panic!("{name}: give either message or ops"),
        };
        let before = fixture.clone();
        let got = parse_and_apply(schema, fixture, &msg);
        assert_eq!(fixture, &before, "{name}: the input was changed");
        let outcome = match (&got, case.get("result"), case.get("error")) {
            (Ok(out), Some(result), None) => {
                let mut want = fixture.clone();
                let obj = want.as_object_mut().unwrap();
                for (k, v) in result.as_object().expect("result is an object") {
                    if v.is_null() {
                        obj.shift_remove(k);
                    } else {
                        obj.insert(k.clone(), v.clone());
                    }
                }
                let changes: Vec<String> = out.changes.iter().map(Change::to_string).collect();
                let want_changes: Vec<String> =
                    serde_json::from_value(case["changes"].clone()).expect("changes are strings");
                if out.resource != want {
                    Err(format!(
                        "got  {}\nwant {}",
                        serde_json::to_string(&out.resource).unwrap(),
                        serde_json::to_string(&want).unwrap()
                    ))
                } else if changes != want_changes {
                    Err(format!("changes {changes:?}, want {want_changes:?}"))
                } else {
                    resource::validate(schema, &out.resource)
                        .map_err(|e| format!("the result does not validate: {e}"))
                        .and_then(|()| check_order(schema, &out.resource))
                }
            }
            (Err(e), None, Some(want)) if render(e) == want.as_str().unwrap() => Ok(()),
            (Err(e), _, _) => Err(format!("unexpected error: {}", render(e))),
            (Ok(out), _, want) => Err(format!(
                "unexpected success {}, wanted {want:?}",
                serde_json::to_string(&out.resource).unwrap()
            )),
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
    assert!(cases.len() >= 80, "the table holds {} cases", cases.len());
}

/// Each kind of refusal keeps the scimType and status the HTTP layer renders.
#[test]
fn patch_errors_map_to_scim_types() {
    let fixtures = fixtures();
    let registry = registry();
    let user = registry.user();
    let cases = [
        (json!([{"op": "remove"}]), ScimType::NoTarget),
        (
            json!([{"op": "remove", "path": "id"}]),
            ScimType::Mutability,
        ),
        (
            json!([{"op": "remove", "path": "nope"}]),
            ScimType::InvalidPath,
        ),
        (
            json!([{"op": "zap", "path": "title"}]),
            ScimType::InvalidSyntax,
        ),
        (
            json!([{"op": "add", "path": "active", "value": 1}]),
            ScimType::InvalidValue,
        ),
    ];
    for (ops, want) in cases {
        let e = parse_and_apply(user, &fixtures["babs"], &message(&ops)).unwrap_err();
        assert_eq!(e.scim_type(), want, "{ops}");
        assert_eq!(e.status(), 400);
    }
    let e = PatchRequest::from_slice(b"{not json").unwrap_err();
    assert_eq!(e.scim_type(), ScimType::InvalidSyntax);
}

#[test]
fn a_patch_may_not_give_a_refused_name_but_may_change_a_resource_that_has_one() {
    let registry = Registry::core();
    let user = registry.user();
    let ada = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "ada"});
    for ops in [
        json!([{"op": "replace", "path": "userName", "value": "ada\u{200d}"}]),
        json!([{"op": "replace", "value": {"userName": " ada"}}]),
        json!([{"op": "add", "path": "userName", "value": "ada\n"}]),
    ] {
        let e = parse_and_apply(user, &ada, &message(&ops)).unwrap_err();
        assert_eq!(e.scim_type(), ScimType::InvalidValue, "{ops}");
        assert!(e.to_string().starts_with("userName: must not"), "{e}");
    }
    // A user stored before the rules keeps its name through a PATCH of something else, so
    // that an identity provider can still deactivate it.
    let legacy = json!({"schemas": [USER_SCHEMA], "id": "1", "userName": "ada\u{200d}"});
    let ops = json!([{"op": "replace", "path": "active", "value": false}]);
    let out = parse_and_apply(user, &legacy, &message(&ops)).expect("a PATCH of active");
    assert_eq!(out.resource["active"], false);
    let group = registry.group();
    let admins = json!({"schemas": [GROUP_SCHEMA], "id": "2", "displayName": "Admins"});
    let ops = json!([{"op": "replace", "path": "displayName", "value": "Admins\u{202e}"}]);
    let e = parse_and_apply(group, &admins, &message(&ops)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "displayName: must not contain invisible formatting characters (U+202E at position 7)"
    );
}

/// The top-level attributes (canonical names, `urn:...:name` for extensions) whose values
/// differ between two resources.
fn differing(schema: &ResourceSchema, a: &Value, b: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for attr in common_attributes().iter().chain(&schema.core.attributes) {
        if a.get(&attr.name) != b.get(&attr.name) {
            out.insert(attr.name.clone());
        }
    }
    for (ext, _) in &schema.extensions {
        for attr in &ext.attributes {
            let get = |r: &Value| r.get(&ext.id).and_then(|e| e.get(&attr.name)).cloned();
            if get(a) != get(b) {
                out.insert(format!("{}:{}", ext.id, attr.name));
            }
        }
    }
    out
}

const USER_PATHS: &[&str] = &[
    "title",
    "displayName",
    "nickName",
    "userName",
    "active",
    "password",
    "externalId",
    "id",
    "meta",
    "meta.version",
    "groups",
    "name",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.primary",
    "emails[type eq \"work\"]",
    "emails[type eq \"work\"].value",
    "emails[type eq \"home\"].primary",
    "emails[type eq \"other\"].value",
    "emails[value co \"jensen\"]",
    "emails[primary eq true]",
    "phoneNumbers",
    "phoneNumbers[type eq \"mobile\"].value",
    "phoneNumbers[type eq \"work\" or type eq \"fax\"]",
    "addresses[type eq \"work\"].streetAddress",
    "addresses[type eq \"home\"]",
    "addresses.primary",
    "x509Certificates",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    "employeeNumber",
    "urn:example:params:scim:schemas:extension:roster:2.0:User:badge",
    "urn:example:params:scim:schemas:extension:roster:2.0:User:tags",
    "urn:example:params:scim:schemas:extension:roster:2.0:User:clearance.level",
    "urn:example:params:scim:schemas:extension:roster:2.0:User:clearance",
    "members",
    "nope",
    "name.nope",
    "emails[",
    "emails[type eq \"work\"].nope",
    "",
];

fn value_strategy() -> impl Strategy<Value = Option<Value>> {
    let fixed = prop::sample::select(vec![
        json!("Boss"),
        json!(""),
        json!(true),
        json!(false),
        json!(7),
        json!(1.5),
        Value::Null,
        json!([]),
        json!({}),
        json!("x@example.com"),
        json!("2024-01-02T03:04:05Z"),
        json!("B-1"),
        json!(["a", "c"]),
        json!({"givenName": "Barb", "familyName": "J"}),
        json!({"value": "n@example.com", "type": "work", "primary": true}),
        json!({"value": "y@example.com", "type": "other"}),
        json!([{"value": "n@example.com", "type": "work", "primary": true}]),
        json!([{"value": "a@example.com", "primary": true}, {"value": "b@example.com", "primary": true}]),
        json!([{"value": "555", "type": "fax"}]),
        json!({"value": "26118915"}),
        json!({"level": 4}),
        json!({"level": 4, "granted": "2030-01-01T00:00:00Z"}),
        json!({"active": false, "title": "T"}),
        json!({"emails": [{"value": "z@example.com"}], "nickName": "Z"}),
        json!({"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "D"}}),
        json!({"id": "2819c223-7f76-453a-919d-413861904646", "displayName": "Same id"}),
        json!({"userName": null}),
        json!([{"value": "2819c223"}]),
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z]{0,4}".prop_map(Value::String),
    ];
    let random = leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z]{1,6}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop_oneof![
        1 => Just(None),
        6 => fixed.prop_map(Some),
        2 => random.prop_map(Some),
    ]
}

/// Well-formed user operations, each valid on some fixture, so that sequences of them often
/// succeed and exercise the result checks (random ones mostly fail at the first step).
const USER_OPS: &[&str] = &[
    r#"{"op": "replace", "path": "title", "value": "Boss"}"#,
    r#"{"op": "add", "path": "nickName", "value": "N"}"#,
    r#"{"op": "remove", "path": "title"}"#,
    r#"{"op": "replace", "path": "active", "value": false}"#,
    r#"{"op": "replace", "path": "name.givenName", "value": "G"}"#,
    r#"{"op": "remove", "path": "name.familyName"}"#,
    r#"{"op": "add", "path": "emails", "value": [{"value": "n@example.com", "type": "work", "primary": true}]}"#,
    r#"{"op": "remove", "path": "emails[type eq \"home\"]"}"#,
    r#"{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}"#,
    r#"{"op": "add", "path": "emails[type eq \"other\"].value", "value": "o@example.com"}"#,
    r#"{"op": "replace", "path": "emails[type eq \"home\"].primary", "value": true}"#,
    r#"{"op": "replace", "path": "emails.type", "value": "other"}"#,
    r#"{"op": "remove", "path": "emails[value co \"example\"]"}"#,
    r#"{"op": "replace", "path": "phoneNumbers", "value": [{"value": "1", "type": "fax"}]}"#,
    r#"{"op": "remove", "path": "phoneNumbers"}"#,
    r#"{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "D"}"#,
    r#"{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}"#,
    r#"{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m"}}"#,
    r#"{"op": "replace", "value": {"active": true, "displayName": "D"}}"#,
    r#"{"op": "add", "value": {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "C"}}}"#,
    r#"{"op": "add", "path": "urn:example:params:scim:schemas:extension:roster:2.0:User:tags", "value": ["c"]}"#,
    r#"{"op": "replace", "path": "urn:example:params:scim:schemas:extension:roster:2.0:User:level", "value": 3}"#,
    r#"{"op": "remove", "path": "urn:example:params:scim:schemas:extension:roster:2.0:User:tags"}"#,
    r#"{"op": "replace", "path": "externalId", "value": "e"}"#,
    r#"{"op": "remove", "path": "externalId"}"#,
    r#"{"op": "add", "path": "password", "value": "p"}"#,
    r#"{"op": "add", "path": "x509Certificates", "value": [{"value": "aGk="}]}"#,
    r#"{"op": "replace", "path": "userName", "value": "u2"}"#,
    r#"{"op": "add", "path": "addresses[type eq \"work\"].locality", "value": "L"}"#,
    r#"{"op": "replace", "path": "name", "value": {"formatted": "F"}}"#,
];

const GROUP_OPS: &[&str] = &[
    r#"{"op": "add", "path": "members", "value": [{"value": "m1"}]}"#,
    r#"{"op": "add", "path": "members", "value": [{"value": "m2", "display": "M2"}, {"value": "m1"}]}"#,
    r#"{"op": "remove", "path": "members[value eq \"m1\"]"}"#,
    r#"{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}"#,
    r#"{"op": "replace", "path": "members", "value": [{"value": "m3"}]}"#,
    r#"{"op": "replace", "path": "members", "value": [{"value": "902c246b-6245-4190-8e05-00816be7344a"}, {"value": "m4"}, {"value": "2819c223-7f76-453a-919d-413861904646"}]}"#,
    r#"{"op": "replace", "path": "displayName", "value": "G2"}"#,
    r#"{"op": "remove", "path": "members"}"#,
    r#"{"op": "replace", "value": {"displayName": "G3"}}"#,
    r#"{"op": "add", "path": "externalId", "value": "e"}"#,
];

fn op_strategy(
    paths: &'static [&'static str],
    curated: &'static [&'static str],
) -> impl Strategy<Value = Value> {
    let curated = prop::sample::select(curated)
        .prop_map(|op| serde_json::from_str::<Value>(op).expect("curated ops are JSON"));
    prop_oneof![3 => curated, 1 => random_op(paths)]
}

fn random_op(paths: &'static [&'static str]) -> impl Strategy<Value = Value> {
    let op = prop::sample::select(vec!["add", "remove", "replace", "Add", "Replace", "REMOVE"]);
    let path = prop_oneof![1 => Just(None), 6 => prop::sample::select(paths).prop_map(Some)];
    (op, path, value_strategy()).prop_map(|(op, path, value)| {
        let mut o = Map::new();
        o.insert("op".into(), json!(op));
        if let Some(p) = path {
            o.insert("path".into(), json!(p));
        }
        if let Some(v) = value {
            o.insert("value".into(), v);
        }
        Value::Object(o)
    })
}

/// What must hold of any PATCH: an error, or a valid canonical result whose change list
/// names exactly the top-level attributes that differ.
fn check_patch(schema: &ResourceSchema, fixture: &Value, ops: Vec<Value>) -> Result<(), String> {
    let before = fixture.clone();
    let got = parse_and_apply(schema, fixture, &message(&Value::Array(ops)));
    if fixture != &before {
        return Err("the input was changed".into());
    }
    let Ok(out) = got else { return Ok(()) };
    resource::validate(schema, &out.resource).map_err(|e| format!("invalid result: {e}"))?;
    check_order(schema, &out.resource)?;
    let changed = differing(schema, fixture, &out.resource);
    let mut reported = BTreeSet::new();
    let (mut joined, mut left) = (BTreeSet::new(), BTreeSet::new());
    for c in &out.changes {
        match c {
            Change::Set { path } | Change::Cleared { path } => {
                reported.insert(path.clone());
            }
            Change::MemberAdded { value } => {
                joined.insert(value.clone());
            }
            Change::MemberRemoved { value } => {
                left.insert(value.clone());
            }
        }
    }
    let changed_but_members: BTreeSet<String> = changed
        .iter()
        .filter(|p| *p != "members")
        .cloned()
        .collect();
    if reported != changed_but_members {
        return Err(format!("reported {reported:?}, changed {changed:?}"));
    }
    let old_ids = member_ids(fixture);
    let new_ids = member_ids(&out.resource);
    let want_joined: BTreeSet<String> = new_ids.difference(&old_ids).cloned().collect();
    let want_left: BTreeSet<String> = old_ids.difference(&new_ids).cloned().collect();
    if (&joined, &left) != (&want_joined, &want_left) {
        return Err(format!(
            "member changes {:?} for {old_ids:?} -> {new_ids:?}",
            out.changes
        ));
    }
    Ok(())
}

fn member_ids(v: &Value) -> BTreeSet<String> {
    v.get("members")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|m| m["value"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

const GROUP_PATHS: &[&str] = &[
    "displayName",
    "members",
    "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]",
    "members[value eq \"902c246b-6245-4190-8e05-00816be7344a\"].display",
    "members[value eq \"2819c223\"]",
    "members.display",
    "members[display sw \"B\"]",
    "id",
    "externalId",
    "userName",
];

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Tests outside src/ have no source file for proptest to sit the regressions beside.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/data/patch.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    /// Random operations on a full user never panic; they fail without touching the input,
    /// or give a valid result whose change list is exact.
    #[test]
    fn random_user_patches_are_valid_or_refused(
        ops in prop::collection::vec(op_strategy(USER_PATHS, USER_OPS), 1..6)
    ) {
        let registry = registry();
        let fixtures = fixtures();
        for name in ["babs", "minimal", "xavier"] {
            check_patch(registry.user(), &fixtures[name], ops.clone())
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        }
    }

    /// The same for groups and their members.
    #[test]
    fn random_group_patches_are_valid_or_refused(
        ops in prop::collection::vec(op_strategy(GROUP_PATHS, GROUP_OPS), 1..6)
    ) {
        let registry = registry();
        let fixtures = fixtures();
        for name in ["guides", "ninjas"] {
            check_patch(registry.group(), &fixtures[name], ops.clone())
                .map_err(|e| TestCaseError::fail(format!("{name}: {e}")))?;
        }
    }
}

/// What a request does to a group's members, read from the request alone: a rename touches
/// none (a group of 100,000 members was read and rewritten whole for Entra's rename), and
/// changes by id are a list of ids.
#[test]
fn member_changes_are_read_from_the_request() {
    use roster_scim::patch::{MemberDelta, MemberValue};
    let req = |ops: Value| {
        PatchRequest::from_value(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops})).unwrap()
    };
    let m = |id: &str| MemberValue {
        id: id.into(),
        display: None,
    };
    let rename = req(json!([{"op": "replace", "path": "displayName", "value": "Sales"}]));
    assert!(!rename.touches_members());
    assert_eq!(
        rename.member_delta(true),
        None,
        "a rename needs the general path"
    );
    let pathless = req(json!([{"op": "replace", "value": {"displayName": "Sales"}}]));
    assert!(!pathless.touches_members());
    for touching in [
        json!([{"op": "replace", "value": {"displayName": "Sales", "members": []}}]),
        json!([{"op": "add", "value": {"urn:ietf:params:scim:schemas:core:2.0:Group:members": [{"value": "a"}]}}]),
        json!([{"op": "remove", "path": "members[display eq \"Ada\"]"}]),
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:Group:members", "value": []}]),
    ] {
        assert!(req(touching.clone()).touches_members(), "{touching}");
    }

    let add = req(json!([
        {"op": "add", "path": "members", "value": [{"value": "a", "display": "Ada"}, {"$ref": "https://x/scim/v2/t/Users/b"}]},
        {"op": "remove", "path": "members[value eq \"c\"]"},
    ]));
    assert_eq!(
        add.member_delta(true),
        Some(MemberDelta::Change {
            add: vec![
                MemberValue {
                    id: "a".into(),
                    display: Some("Ada".into())
                },
                m("b")
            ],
            remove: vec!["c".into()],
        })
    );
    assert_eq!(
        add.member_delta(false),
        None,
        "removing by id without reading the members is lenient only"
    );
    let replace = req(json!([
        {"op": "add", "path": "members", "value": [{"value": "a"}]},
        {"op": "replace", "path": "members", "value": [{"value": "b"}]},
        {"op": "add", "path": "members", "value": {"value": "c"}},
    ]));
    assert_eq!(
        replace.member_delta(false),
        Some(MemberDelta::Replace(vec![m("b"), m("c")]))
    );
    let cleared = req(json!([{"op": "remove", "path": "members"}]));
    assert_eq!(
        cleared.member_delta(false),
        Some(MemberDelta::Replace(vec![]))
    );
    for general in [
        json!([{"op": "add", "path": "members", "value": [{"value": "a", "extra": 1}]}]),
        json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}]),
        json!([{"op": "add", "path": "members.value", "value": "a"}]),
        json!([{"op": "add", "path": "members", "value": [{"value": "a"}]}, {"op": "replace", "path": "displayName", "value": "x"}]),
    ] {
        assert_eq!(req(general.clone()).member_delta(true), None, "{general}");
    }
}
