//! Dialect tests. `tests/data/dialect_cases.json` holds the table: what a client sent (`kind`:
//! a `post` or `put` body, a `patch` message or its operations, a `filter`, an `attributes`
//! list), where the shape comes from (`source`), and for each mode (`auto`, `strict`) what the
//! dialect makes of it (`output`, `applied`) and what the strict core then does with that
//! output: the resource (`result`; for `patch` only the top-level attributes that differ from
//! the fixture, `null` for gone; for `filter` the fixtures it `matches`) or the error
//! (`scimType`, or `scimType: detail`). Resources come from `tests/data/dialect_fixtures.json`.
//! In the data, `@user`, `@group`, `@ent`, `@patchop` stand for schema URNs and `@babs`,
//! `@mandy`, `@james`, `@boss`, `@guides`, `@ninjas` for resource ids.
//!
//! In Strict the dialect must hand the input over unchanged and record nothing, so every
//! strict row shows what the RFC core answers to the client's own request.

use roster_scim::dialect::{Compatibility, Dialect, Normalization};
use roster_scim::patch::{self, Change, PATCH_OP_SCHEMA, PatchRequest};
use roster_scim::resource::{self, Mode};
use roster_scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResourceSchema, USER_SCHEMA,
};
use roster_scim::{Error, Filter, Projection};
use serde_json::{Map, Value, json};

const TOKENS: &[(&str, &str)] = &[
    ("@user", USER_SCHEMA),
    ("@group", GROUP_SCHEMA),
    ("@ent", ENTERPRISE_USER_SCHEMA),
    ("@patchop", PATCH_OP_SCHEMA),
    ("@babs", "2819c223-7f76-453a-919d-413861904646"),
    ("@mandy", "902c246b-6245-4190-8e05-00816be7344a"),
    ("@james", "08e1d05d-121c-4561-8b96-473d93df9210"),
    ("@boss", "26118915-6090-4610-87e4-49d8ca9f808d"),
    ("@guides", "e9e30dba-f08f-4109-8486-d5c6a331660a"),
    ("@ninjas", "acbf3ae7-8463-4692-b4fd-9b4da3f908ce"),
];

fn expand(text: &str) -> String {
    TOKENS
        .iter()
        .fold(text.to_owned(), |t, (token, v)| t.replace(token, v))
}

fn fixtures() -> Map<String, Value> {
    match serde_json::from_str(&expand(include_str!("data/dialect_fixtures.json")))
        .expect("the fixture file is JSON")
    {
        Value::Object(m) => m,
        _ => panic!("the fixture file holds an object"),
    }
}

fn cases() -> Vec<Value> {
    serde_json::from_str(&expand(include_str!("data/dialect_cases.json")))
        .expect("the case file is JSON")
}

fn render(e: &Error) -> String {
    format!("{}: {e}", e.scim_type().as_str())
}

/// Whether the error is the one wanted: `wanted` is a scimType, or a scimType and its detail.
fn error_is(e: &Error, wanted: &str) -> bool {
    if wanted.contains(':') {
        render(e) == wanted
    } else {
        e.scim_type().as_str() == wanted
    }
}

fn names(applied: &[Normalization]) -> Vec<String> {
    applied.iter().map(|n| n.to_string()).collect()
}

/// A PATCH input is either the whole message or its operations.
fn message(input: &Value) -> Value {
    match input {
        Value::Array(_) => json!({"schemas": [PATCH_OP_SCHEMA], "Operations": input}),
        other => other.clone(),
    }
}

/// The part of a dialect output a case compares: the operations for a PATCH given as
/// operations, the whole value otherwise.
fn comparable(input: &Value, output: &Value) -> Value {
    match input {
        Value::Array(_) => output["Operations"].clone(),
        _ => output.clone(),
    }
}

/// What the core made of a request: a value to compare with `result`, or an error.
enum Core {
    Value(Value),
    Patched(patch::PatchOutcome),
}

struct Env {
    registry: Registry,
    fixtures: Map<String, Value>,
}

impl Env {
    fn schema(&self, case: &Value) -> &ResourceSchema {
        let name = case
            .get("schema")
            .and_then(Value::as_str)
            .unwrap_or_else(|| match case.get("on").and_then(Value::as_str) {
                Some("guides" | "group1") => "group",
                _ => "user",
            });
        match name {
            "user" => self.registry.user(),
            "group" => self.registry.group(),
            other => panic!("unknown schema {other}"),
        }
    }

    fn fixture(&self, case: &Value) -> &Value {
        let on = case["on"]
            .as_str()
            .expect("this kind of case names a fixture in `on`");
        &self.fixtures[on]
    }

    /// Runs one mode of one case; `Err` describes a failure.
    fn run(&self, case: &Value, mode: Compatibility, want: &Value) -> Result<Vec<String>, String> {
        let dialect = Dialect::new(mode);
        let schema = self.schema(case);
        let kind = case["kind"].as_str().expect("every case has a kind");
        let input = &case["input"];
        let mut applied = Vec::new();
        // The dialect's output in the form the case compares, whether the dialect handed the
        // input over untouched, and what the core did with the output.
        let (output, untouched, core): (Value, bool, Result<Core, Error>) = match kind {
            "post" | "put" => {
                let out = dialect.resource_body(schema, input, &mut applied);
                let mode = match kind {
                    "post" => Mode::Create,
                    _ => Mode::Replace {
                        current: self.fixture(case),
                    },
                };
                let core = resource::normalize(schema, &out, mode).map(Core::Value);
                (out.clone(), out == *input, core)
            }
            "patch" => {
                let msg = message(input);
                let out = dialect.patch_body(schema, &msg, &mut applied);
                let core = PatchRequest::from_value(&out).and_then(|request| {
                    patch::apply_with(
                        schema,
                        self.fixture(case),
                        &request,
                        &dialect.patch_options(),
                    )
                });
                let core = core.map(|outcome| {
                    for n in &outcome.applied {
                        if !applied.contains(n) {
                            applied.push(*n);
                        }
                    }
                    Core::Patched(outcome)
                });
                (comparable(input, &out), out == msg, core)
            }
            "filter" => {
                let text = input.as_str().expect("a filter is a string");
                let parsed = dialect.filter(text, &mut applied).map_err(Error::from);
                let out = match &parsed {
                    Ok(f) => Value::String(f.to_string()),
                    Err(_) => Value::Null,
                };
                // A filter is parsed, not rewritten: nothing to hand over untouched.
                let core = parsed.map(|f| Core::Value(self.matching(&f, schema)));
                (out, true, core)
            }
            "attributes" => {
                let text = input.as_str().expect("an attributes list is a string");
                let out = dialect.attribute_list(text, &mut applied);
                let core = Projection::parse(schema, Some(&out), None)
                    .map(|p| Core::Value(p.apply(schema, self.fixture(case))));
                (Value::String(out.clone()), out == text, core)
            }
            other => panic!("unknown kind {other}"),
        };
        let got_names = names(&applied);
        if mode == Compatibility::Strict && !untouched {
            return Err(format!("strict changed the input into {output}"));
        }
        if mode == Compatibility::Strict && !applied.is_empty() {
            return Err(format!("strict recorded {got_names:?}"));
        }
        if let Some(wanted) = want.get("output")
            && output != *wanted
        {
            return Err(format!("output\n    got  {output}\n    want {wanted}"));
        }
        let want_names: Vec<String> = want
            .get("applied")
            .map(|a| serde_json::from_value(a.clone()).expect("applied lists names"))
            .unwrap_or_default();
        if got_names != want_names {
            return Err(format!("applied {got_names:?}, want {want_names:?}"));
        }
        match (
            core,
            want.get("result"),
            want.get("matches"),
            want.get("error"),
        ) {
            (Err(e), _, _, Some(w)) if error_is(&e, w.as_str().expect("error is a string")) => {}
            (Err(e), ..) => return Err(format!("unexpected error {}", render(&e))),
            (Ok(_), _, _, Some(w)) => return Err(format!("succeeded, wanted the error {w}")),
            (Ok(Core::Value(v)), Some(result), None, None)
            | (Ok(Core::Value(v)), None, Some(result), None) => {
                if v != *result {
                    return Err(format!("result\n    got  {v}\n    want {result}"));
                }
            }
            (Ok(Core::Patched(outcome)), Some(result), None, None) => {
                self.check_patched(case, &outcome, result, want.get("changes"))?;
            }
            (Ok(_), None, None, None) => {
                return Err("the case gives neither result, matches nor error".into());
            }
            (Ok(_), ..) => return Err("the case's expectation does not fit its kind".into()),
        }
        Ok(got_names)
    }

    /// The user (or group) fixtures a filter matches, by name, in file order.
    fn matching(&self, filter: &Filter, schema: &ResourceSchema) -> Value {
        let group = schema.resource_type.name == "Group";
        let names = self
            .fixtures
            .iter()
            .filter(|(name, _)| matches!(name.as_str(), "guides" | "group1") == group)
            .filter(|(_, r)| filter.matches(r, schema))
            .map(|(name, _)| Value::String(name.clone()))
            .collect();
        Value::Array(names)
    }

    fn check_patched(
        &self,
        case: &Value,
        outcome: &patch::PatchOutcome,
        result: &Value,
        changes: Option<&Value>,
    ) -> Result<(), String> {
        let mut want = self.fixture(case).clone();
        let obj = want.as_object_mut().expect("fixtures are objects");
        for (k, v) in result.as_object().expect("a PATCH result is an object") {
            if v.is_null() {
                obj.shift_remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
        if outcome.resource != want {
            return Err(format!(
                "result\n    got  {}\n    want {}",
                outcome.resource, want
            ));
        }
        if let Some(changes) = changes {
            let got: Vec<String> = outcome.changes.iter().map(Change::to_string).collect();
            let wanted: Vec<String> =
                serde_json::from_value(changes.clone()).expect("changes are strings");
            if got != wanted {
                return Err(format!("changes {got:?}, want {wanted:?}"));
            }
        }
        resource::validate(self.schema(case), &outcome.resource)
            .map_err(|e| format!("the result does not validate: {e}"))
    }
}

#[test]
fn dialect_cases() {
    let env = Env {
        registry: Registry::core(),
        fixtures: fixtures(),
    };
    let cases = cases();
    let mut failures = Vec::new();
    let mut rows = 0;
    // Per normalisation: whether some Auto row applies it, and whether one of those rows is
    // refused by the core in Strict (the RFC error the normalisation spares the client).
    let mut auto_seen: Vec<Normalization> = Vec::new();
    let mut strict_refused: Vec<Normalization> = Vec::new();
    for case in &cases {
        let name = case["name"].as_str().expect("every case has a name");
        assert!(
            case.get("source").and_then(Value::as_str).is_some(),
            "{name}: say where the shape comes from in `source`"
        );
        let mut auto_names = Vec::new();
        for (key, mode) in [
            ("auto", Compatibility::Auto),
            ("strict", Compatibility::Strict),
        ] {
            let Some(want) = case.get(key) else {
                continue;
            };
            rows += 1;
            match env.run(case, mode, want) {
                Ok(got) if mode == Compatibility::Auto => auto_names = got,
                Ok(_) => {
                    if want.get("error").is_some() {
                        for n in &auto_names {
                            let n: Normalization = n.parse().expect("names parse");
                            if !strict_refused.contains(&n) {
                                strict_refused.push(n);
                            }
                        }
                    }
                }
                Err(msg) => failures.push(format!("{name} [{key}]:\n  {msg}")),
            }
        }
        for n in &auto_names {
            let n: Normalization = n.parse().expect("names parse");
            if !auto_seen.contains(&n) {
                auto_seen.push(n);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {rows} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(rows >= 80, "the table holds {rows} rows");
    let untested: Vec<&str> = Normalization::ALL
        .iter()
        .filter(|n| n.is_dialect() && !auto_seen.contains(n))
        .map(|n| n.as_str())
        .collect();
    assert!(untested.is_empty(), "no Auto row applies {untested:?}");
    let unrefused: Vec<&str> = Normalization::ALL
        .iter()
        .filter(|n| n.is_dialect() && !strict_refused.contains(n))
        .map(|n| n.as_str())
        .collect();
    assert!(
        unrefused.is_empty(),
        "no row shows the core refusing in Strict what Auto rewrites with {unrefused:?}"
    );
}

/// The names are the log's vocabulary: kebab-case, distinct, and read back by `FromStr` and
/// serde; the modes read and print as configuration spells them.
#[test]
fn names_round_trip() {
    let mut seen = std::collections::HashSet::new();
    for n in Normalization::ALL {
        let s = n.as_str();
        assert!(
            s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
            "{s} is not kebab-case"
        );
        assert!(seen.insert(s), "{s} is used twice");
        assert_eq!(n.to_string(), s);
        assert_eq!(s.parse::<Normalization>(), Ok(n));
        assert_eq!(serde_json::to_value(n).unwrap(), json!(s));
        assert_eq!(
            serde_json::from_value::<Normalization>(json!(s)).unwrap(),
            n
        );
        assert!(
            n.description().ends_with('.'),
            "{s}: describe it in a sentence"
        );
    }
    assert!("op_case".parse::<Normalization>().is_err());
    for (text, mode) in [
        ("auto", Compatibility::Auto),
        ("strict", Compatibility::Strict),
        (" Strict ", Compatibility::Strict),
    ] {
        assert_eq!(text.parse::<Compatibility>(), Ok(mode));
    }
    assert_eq!(Compatibility::default(), Compatibility::Auto);
    assert_eq!(Compatibility::Strict.to_string(), "strict");
    let e = "lenient".parse::<Compatibility>().unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown compatibility mode \"lenient\": expected \"auto\" or \"strict\""
    );
}

/// A request the core accepts as it is comes out of the Auto dialect meaning the same: the
/// dialect rewrites only what the core would refuse (or, for `""`, what it would store as an
/// empty string), so a strict client is not affected by a tenant being in Auto.
#[test]
fn auto_leaves_strict_requests_alone() {
    let registry = Registry::core();
    let fixtures = fixtures();
    let requests = [
        (
            "jensen",
            json!([{"op": "replace", "path": "title", "value": "Boss"}]),
        ),
        (
            "jensen",
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@example.com"}]),
        ),
        (
            "jensen",
            json!([{"op": "replace", "value": {"active": false, "name": {"givenName": "B"}}}]),
        ),
        (
            "jensen",
            json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}]),
        ),
        (
            "guides",
            json!([{"op": "remove", "path": "members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}]),
        ),
        (
            "guides",
            json!([{"op": "add", "path": "members", "value": [{"value": "m1", "display": "M"}]}]),
        ),
        (
            "guides",
            json!([{"op": "replace", "value": {"id": "e9e30dba-f08f-4109-8486-d5c6a331660a", "displayName": "G"}}]),
        ),
    ];
    for (on, ops) in requests {
        let schema = if on == "guides" {
            registry.group()
        } else {
            registry.user()
        };
        let msg = message(&ops);
        let mut applied = Vec::new();
        let out = Dialect::AUTO.patch_body(schema, &msg, &mut applied);
        assert_eq!(out, msg, "{ops}");
        assert!(applied.is_empty(), "{ops}: {applied:?}");
        let request = PatchRequest::from_value(&msg).unwrap();
        let strict = patch::apply(schema, &fixtures[on], &request).unwrap();
        let auto = patch::apply_with(
            schema,
            &fixtures[on],
            &request,
            &Dialect::AUTO.patch_options(),
        )
        .unwrap();
        assert_eq!(strict, auto, "{ops}");
    }
    let body = json!({"schemas": [USER_SCHEMA, ENTERPRISE_USER_SCHEMA], "userName": "u",
        "emails": [{"value": "u@example.com", "primary": true}],
        ENTERPRISE_USER_SCHEMA: {"manager": {"value": "m"}}});
    let mut applied = Vec::new();
    assert_eq!(
        Dialect::AUTO.resource_body(registry.user(), &body, &mut applied),
        body
    );
    assert!(applied.is_empty());
    let mut applied = Vec::new();
    let f = Dialect::AUTO
        .filter("userName eq \"O\" and active eq true", &mut applied)
        .unwrap();
    assert_eq!(
        f,
        Filter::parse("userName eq \"O\" and active eq true").unwrap()
    );
    assert!(applied.is_empty());
}

/// Keys and values that touch every rewrite, for the property tests below.
const KEYS: &[&str] = &[
    "schemas",
    "userName",
    "active",
    "emails",
    "members",
    "value",
    "Value",
    "primary",
    "type",
    "display",
    "displayName",
    "name",
    "name.givenName",
    "givenName",
    "manager",
    "title",
    "id",
    "meta",
    "nosuch",
    "department",
    "$ref",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    "urn:ietf:params:scim:schemas:core:2.0:User:title",
    "urn:scim:schemas:core:1.0",
    "urn:scim:schemas:extension:enterprise:1.0",
    "urn:example:ext:2.0:User:badge",
];

const PATHS: &[&str] = &[
    "members",
    "members[value eq x]",
    "members[value eq \"x\"]",
    "urn:ietf:params:scim:schemas:core:2.0:Group:members",
    "emails",
    "emails[type eq \"work\"].value",
    "emails[type eq work]",
    "addresses[type eq \"work\"].locality",
    "active",
    "title",
    "name",
    "name.givenName",
    "displayName",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "urn:scim:schemas:extension:enterprise:1.0:department",
    "nosuch",
    "emails[",
    "",
];

fn quirky_value() -> impl Strategy<Value = Value> {
    let leaf = prop::sample::select(vec![
        Value::Null,
        json!(""),
        json!("True"),
        json!("false"),
        json!("x"),
        json!(1),
        json!(true),
        json!(USER_SCHEMA),
        json!(GROUP_SCHEMA),
        json!("http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"),
        json!({"value": "v"}),
        json!([]),
    ]);
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..4).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

fn quirky_body() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(KEYS), quirky_value(), 0..6)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn quirky_patch() -> impl Strategy<Value = Value> {
    let op = (
        prop::sample::select(vec![
            "add", "Add", "remove", "Remove", "REPLACE", "replace", "merge",
        ]),
        prop::option::of(prop::sample::select(PATHS)),
        prop::option::of(quirky_value()),
        any::<bool>(),
    )
        .prop_map(|(op, path, value, named)| {
            let mut o = Map::new();
            o.insert("op".into(), json!(op));
            if let Some(p) = path {
                o.insert("path".into(), json!(p));
            }
            if let Some(v) = value {
                o.insert("value".into(), v);
            }
            if named {
                o.insert("name".into(), json!("addMember"));
            }
            Value::Object(o)
        });
    (prop::collection::vec(op, 1..4), any::<bool>()).prop_map(|(ops, with_id)| {
        let mut msg = json!({"schemas": [PATCH_OP_SCHEMA], "Operations": ops});
        if with_id {
            msg["id"] = json!("g1");
        }
        msg
    })
}

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // Tests outside src/ have no source file for proptest to sit the regressions beside.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/data/dialect.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    /// What the Auto dialect makes of a body is a fixed point (rewriting it again changes
    /// nothing and records nothing), and the core judges it without panicking.
    #[test]
    fn body_rewrites_are_final(body in quirky_body()) {
        let registry = Registry::core();
        for schema in [registry.user(), registry.group()] {
            let mut applied = Vec::new();
            let once = Dialect::AUTO.resource_body(schema, &body, &mut applied);
            let mut again = Vec::new();
            let twice = Dialect::AUTO.resource_body(schema, &once, &mut again);
            prop_assert_eq!(&twice, &once);
            prop_assert!(again.is_empty(), "rewriting {} again applied {:?}", once, again);
            if let Ok(r) = resource::normalize(schema, &once, Mode::Create) {
                prop_assert!(resource::validate(schema, &r).is_ok());
            }
        }
    }

    /// The same for PATCH messages, applied to a user and to a group.
    #[test]
    fn patch_rewrites_are_final(msg in quirky_patch()) {
        let registry = Registry::core();
        let fixtures = fixtures();
        for (schema, on) in [(registry.user(), "jensen"), (registry.group(), "guides")] {
            let mut applied = Vec::new();
            let once = Dialect::AUTO.patch_body(schema, &msg, &mut applied);
            let mut again = Vec::new();
            let twice = Dialect::AUTO.patch_body(schema, &once, &mut again);
            prop_assert_eq!(&twice, &once);
            prop_assert!(again.is_empty(), "rewriting {} again applied {:?}", once, again);
            if let Ok(request) = PatchRequest::from_value(&once) {
                let options = Dialect::AUTO.patch_options();
                let _ = patch::apply_with(schema, &fixtures[on], &request, &options);
            }
        }
    }
}
