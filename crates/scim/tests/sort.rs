//! Sorting by `sortBy` / `sortOrder`: each case is a list of resources and the order of their
//! ids expected after a stable sort.

use std::cmp::Ordering;

use proptest::prelude::*;
use roster_scim::schema::{Attribute, AttributeType, Registry, ResourceSchema, Schema};
use roster_scim::sort::{SortBy, SortOrder};
use roster_scim::{Error, ScimType};
use serde_json::{Value, json};

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ACME: &str = "urn:example:params:scim:schemas:extension:acme:1.0:User";

/// The core registry plus an extension with numeric, multi-valued and dateTime attributes,
/// which the core User lacks.
fn registry() -> Registry {
    let mut r = Registry::core();
    r.register_extension(
        "User",
        Schema {
            id: ACME.into(),
            name: "AcmeUser".into(),
            description: String::new(),
            attributes: vec![
                Attribute::new("level", AttributeType::Integer),
                Attribute::new("score", AttributeType::Decimal),
                Attribute::string("tags").multi(),
                Attribute::new("hired", AttributeType::DateTime),
                Attribute::string("code").case_exact(),
            ],
        },
        false,
    )
    .expect("the test extension registers");
    r
}

/// A user with this id and these extra attributes.
fn u(id: &str, attrs: Value) -> Value {
    let mut v = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": id});
    for (k, val) in attrs.as_object().expect("attributes are an object") {
        v[k] = val.clone();
    }
    v
}

fn acme(id: &str, attrs: Value) -> Value {
    u(id, json!({ ACME: attrs }))
}

struct Case {
    sort_by: &'static str,
    order: Option<&'static str>,
    input: Vec<Value>,
    expected: &'static [&'static str],
}

fn case(
    sort_by: &'static str,
    order: Option<&'static str>,
    input: Vec<Value>,
    expected: &'static [&'static str],
) -> Case {
    Case {
        sort_by,
        order,
        input,
        expected,
    }
}

fn cases() -> Vec<Case> {
    let names = || {
        vec![
            u("1", json!({"userName": "bob"})),
            u("2", json!({"userName": "Alice"})),
            u("3", json!({"userName": "carol"})),
            u("4", json!({"userName": "ALAN"})),
        ]
    };
    let with_missing = || {
        vec![
            u("1", json!({"displayName": "b"})),
            u("2", json!({})),
            u("3", json!({"displayName": "a"})),
            u("4", json!({"displayName": null})),
            u("5", json!({"displayName": "c"})),
        ]
    };
    let emails = || {
        vec![
            u(
                "1",
                json!({"emails": [{"value": "z@x.example"}, {"value": "a@x.example", "primary": true}]}),
            ),
            u(
                "2",
                json!({"emails": [{"value": "m@x.example"}, {"value": "b@x.example"}]}),
            ),
            u("3", json!({"emails": []})),
            u(
                "4",
                json!({"emails": [{"value": "c@x.example", "primary": false}, {"value": "n@x.example", "primary": true}]}),
            ),
        ]
    };
    let dates = || {
        vec![
            u(
                "1",
                json!({"meta": {"lastModified": "2024-01-01T10:00:00.5Z"}}),
            ),
            u(
                "2",
                json!({"meta": {"lastModified": "2024-01-01T11:00:00+02:00"}}),
            ),
            u(
                "3",
                json!({"meta": {"lastModified": "2024-01-01T10:00:00.4999999Z"}}),
            ),
            u(
                "4",
                json!({"meta": {"lastModified": "2023-12-31T23:59:59-05:00"}}),
            ),
            u(
                "5",
                json!({"meta": {"lastModified": "0001-01-03T00:00:00.0000000Z"}}),
            ),
        ]
    };
    vec![
        // Strings without regard to case.
        case("userName", None, names(), &["4", "2", "1", "3"]),
        case(
            "userName",
            Some("ascending"),
            names(),
            &["4", "2", "1", "3"],
        ),
        case(
            "userName",
            Some("descending"),
            names(),
            &["3", "1", "2", "4"],
        ),
        case(
            "USERNAME",
            Some("DESCENDING"),
            names(),
            &["3", "1", "2", "4"],
        ),
        case(
            "urn:ietf:params:scim:schemas:core:2.0:User:userName",
            None,
            names(),
            &["4", "2", "1", "3"],
        ),
        case(
            "userName",
            None,
            vec![
                u("1", json!({"userName": "ada"})),
                u("2", json!({"userName": "ADA"})),
                u("3", json!({"userName": "Ada"})),
                u("4", json!({"userName": "aaa"})),
            ],
            &["4", "1", "2", "3"],
        ),
        case(
            "displayName",
            None,
            vec![
                u("1", json!({"displayName": "Ärger"})),
                u("2", json!({"displayName": "äpfel"})),
                u("3", json!({"displayName": "Zed"})),
                u("4", json!({"displayName": "apple"})),
            ],
            &["4", "3", "2", "1"],
        ),
        // caseExact: code point order, capitals first.
        case(
            "id",
            None,
            vec![
                u("b", json!({})),
                u("B", json!({})),
                u("a", json!({})),
                u("A", json!({})),
            ],
            &["A", "B", "a", "b"],
        ),
        case(
            "id",
            Some("descending"),
            vec![
                u("b", json!({})),
                u("B", json!({})),
                u("a", json!({})),
                u("A", json!({})),
            ],
            &["b", "a", "B", "A"],
        ),
        case(
            "code",
            None,
            vec![
                acme("1", json!({"code": "x"})),
                acme("2", json!({"code": "X"})),
                acme("3", json!({"code": "x"})),
            ],
            &["2", "1", "3"],
        ),
        case(
            "externalId",
            None,
            vec![
                u("1", json!({"externalId": "e-b"})),
                u("2", json!({"externalId": "E-a"})),
                u("3", json!({"externalId": "e-a"})),
            ],
            &["2", "3", "1"],
        ),
        // Missing values: last ascending, first descending; null counts as missing.
        case(
            "displayName",
            None,
            with_missing(),
            &["3", "1", "5", "2", "4"],
        ),
        case(
            "displayName",
            Some("descending"),
            with_missing(),
            &["2", "4", "5", "1", "3"],
        ),
        case("title", None, with_missing(), &["1", "2", "3", "4", "5"]),
        case(
            "title",
            Some("descending"),
            with_missing(),
            &["1", "2", "3", "4", "5"],
        ),
        // dateTimes as instants, whatever the fraction digits and offsets.
        case(
            "meta.lastModified",
            None,
            dates(),
            &["5", "4", "2", "3", "1"],
        ),
        case(
            "meta.lastModified",
            Some("descending"),
            dates(),
            &["1", "3", "2", "4", "5"],
        ),
        case(
            "meta.created",
            None,
            vec![
                u("1", json!({"meta": {"created": "2024-05-01T12:00:00Z"}})),
                u(
                    "2",
                    json!({"meta": {"created": "2024-05-01T14:00:00+02:00"}}),
                ),
                u(
                    "3",
                    json!({"meta": {"created": "2024-05-01T12:00:00.000Z"}}),
                ),
                u(
                    "4",
                    json!({"meta": {"created": "2024-05-01T11:59:59.999Z"}}),
                ),
            ],
            &["4", "1", "2", "3"],
        ),
        case(
            "hired",
            None,
            vec![
                acme("1", json!({"hired": "not a date"})),
                acme("2", json!({"hired": "2020-01-01T00:00:00Z"})),
                acme("3", json!({"hired": "2019-06-01T00:00:00"})),
                acme("4", json!({})),
            ],
            &["3", "2", "1", "4"],
        ),
        // Multi-valued: the primary value, else the first.
        case("emails.value", None, emails(), &["1", "2", "4", "3"]),
        case(
            "emails.value",
            Some("descending"),
            emails(),
            &["3", "4", "2", "1"],
        ),
        case("emails", None, emails(), &["1", "2", "4", "3"]),
        case("Emails.Value", None, emails(), &["1", "2", "4", "3"]),
        case(
            "emails.type",
            None,
            vec![
                u(
                    "1",
                    json!({"emails": [{"value": "a", "type": "work"}, {"value": "b", "type": "home", "primary": true}]}),
                ),
                u("2", json!({"emails": [{"value": "c", "type": "other"}]})),
                u(
                    "3",
                    json!({"emails": [{"value": "d", "primary": true}, {"value": "e", "type": "aaa"}]}),
                ),
            ],
            &["1", "2", "3"],
        ),
        case(
            "tags",
            None,
            vec![
                acme("1", json!({"tags": ["zeta", "alpha"]})),
                acme("2", json!({"tags": ["beta"]})),
                acme("3", json!({"tags": []})),
            ],
            &["2", "1", "3"],
        ),
        case(
            "groups.display",
            None,
            vec![
                u(
                    "1",
                    json!({"groups": [{"value": "g2", "display": "Sales"}]}),
                ),
                u(
                    "2",
                    json!({"groups": [{"value": "g1", "display": "engineers"}]}),
                ),
            ],
            &["2", "1"],
        ),
        // Complex attributes.
        case(
            "name.givenName",
            None,
            vec![
                u("1", json!({"name": {"givenName": "Grace"}})),
                u("2", json!({"name": {"familyName": "Hopper"}})),
                u("3", json!({"name": {"givenName": "ada"}})),
            ],
            &["3", "1", "2"],
        ),
        case(
            "name",
            None,
            vec![
                u("1", json!({"name": {"givenName": "Grace"}})),
                u("2", json!({"name": {"givenName": "Ada"}})),
            ],
            &["1", "2"],
        ),
        // Extension attributes, with and without the URN.
        case(
            "employeeNumber",
            None,
            vec![
                u("1", json!({ ENT: {"employeeNumber": "9"} })),
                u("2", json!({ ENT: {"employeeNumber": "10"} })),
                u("3", json!({ ENT: {"employeeNumber": "100"} })),
            ],
            &["2", "3", "1"],
        ),
        case(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            None,
            vec![
                u("1", json!({ ENT: {"manager": {"value": "m"}} })),
                u("2", json!({ ENT: {"manager": {"value": "M"}} })),
                u("3", json!({ ENT: {"department": "x"} })),
            ],
            &["2", "1", "3"],
        ),
        case(
            "manager",
            Some("descending"),
            vec![
                u("1", json!({ ENT: {"manager": {"value": "a"}} })),
                u("2", json!({ ENT: {"manager": {"value": "b"}} })),
            ],
            &["2", "1"],
        ),
        // Numbers as numbers, booleans false first.
        case(
            "level",
            None,
            vec![
                acme("1", json!({"level": 10})),
                acme("2", json!({"level": 9})),
                acme("3", json!({"level": 100})),
                acme("4", json!({"level": -1})),
            ],
            &["4", "2", "1", "3"],
        ),
        case(
            "score",
            Some("descending"),
            vec![
                acme("1", json!({"score": 1.5})),
                acme("2", json!({"score": 2})),
                acme("3", json!({"score": 1.25})),
            ],
            &["2", "1", "3"],
        ),
        case(
            "active",
            None,
            vec![
                u("1", json!({"active": true})),
                u("2", json!({"active": false})),
                u("3", json!({})),
                u("4", json!({"active": false})),
            ],
            &["2", "4", "1", "3"],
        ),
        // Values of the wrong JSON type still sort (numbers before strings) rather than panic.
        case(
            "level",
            None,
            vec![
                acme("1", json!({"level": "seven"})),
                acme("2", json!({"level": 7})),
                acme("3", json!({"level": true})),
            ],
            &["3", "2", "1"],
        ),
        // An unknown attribute leaves the caller's order.
        case(
            "nosuch",
            Some("descending"),
            vec![u("2", json!({})), u("1", json!({})), u("3", json!({}))],
            &["2", "1", "3"],
        ),
        case(
            "urn:example:unknown:1.0:User:userName",
            None,
            vec![
                u("2", json!({"userName": "b"})),
                u("1", json!({"userName": "a"})),
            ],
            &["2", "1"],
        ),
    ]
}

fn ids(resources: &[Value]) -> Vec<&str> {
    resources
        .iter()
        .map(|r| r["id"].as_str().expect("every test resource has an id"))
        .collect()
}

#[test]
fn sorts() {
    let registry = registry();
    let schema = registry.user();
    for (i, mut c) in cases().into_iter().enumerate() {
        let sort = SortBy::parse(c.sort_by, c.order)
            .unwrap_or_else(|e| panic!("case {i} ({}): {e}", c.sort_by));
        sort.sort(schema, &mut c.input);
        assert_eq!(
            ids(&c.input),
            c.expected,
            "case {i}: sortBy={} sortOrder={:?}",
            c.sort_by,
            c.order
        );
    }
}

/// `compare` agrees with `sort` on every adjacent pair of every case.
#[test]
fn compare_agrees_with_sort() {
    let registry = registry();
    let schema = registry.user();
    for c in cases() {
        let sort = SortBy::parse(c.sort_by, c.order).unwrap();
        let mut sorted = c.input.clone();
        sort.sort(schema, &mut sorted);
        for pair in sorted.windows(2) {
            assert_ne!(
                sort.compare(schema, &pair[0], &pair[1]),
                Ordering::Greater,
                "sortBy={} {:?}",
                c.sort_by,
                ids(pair)
            );
        }
    }
}

#[test]
fn sort_values() {
    let registry = registry();
    let schema = registry.user();
    let user = u(
        "1",
        json!({
            "userName": "ada",
            "name": {"givenName": "Ada"},
            "emails": [{"value": "w@x", "type": "work"}, {"value": "h@x", "primary": true}],
            ENT: {"manager": {"value": "m1"}}
        }),
    );
    let cases = [
        ("userName", Some(json!("ada"))),
        ("name.givenName", Some(json!("Ada"))),
        ("name.familyName", None),
        ("emails", Some(json!("h@x"))),
        ("emails.type", None),
        ("manager", Some(json!("m1"))),
        ("title", None),
        ("nosuch", None),
    ];
    for (path, want) in cases {
        let sort = SortBy::parse(path, None).unwrap();
        assert_eq!(sort.sort_value(schema, &user).cloned(), want, "{path}");
    }
}

#[test]
fn parses_sort_parameters() {
    let ok = [
        ("userName", None, SortOrder::Ascending),
        ("userName", Some("ascending"), SortOrder::Ascending),
        ("userName", Some("Descending"), SortOrder::Descending),
        ("userName", Some("  DESCENDING "), SortOrder::Descending),
        ("userName", Some(""), SortOrder::Ascending),
        (" name.givenName ", None, SortOrder::Ascending),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
            Some("descending"),
            SortOrder::Descending,
        ),
    ];
    for (by, order, want) in ok {
        let s = SortBy::parse(by, order).unwrap_or_else(|e| panic!("{by} {order:?}: {e}"));
        assert_eq!(s.order, want, "{by} {order:?}");
        assert_eq!(
            s.order.as_str(),
            if want == SortOrder::Ascending {
                "ascending"
            } else {
                "descending"
            }
        );
    }
    let bad = [
        ("userName", Some("desc"), ScimType::InvalidValue),
        ("userName", Some("up"), ScimType::InvalidValue),
        (
            "userName",
            Some("ascending,descending"),
            ScimType::InvalidValue,
        ),
        ("name..givenName", None, ScimType::InvalidPath),
        ("", None, ScimType::InvalidPath),
        ("1st", Some("ascending"), ScimType::InvalidPath),
    ];
    for (by, order, want) in bad {
        let e: Error = SortBy::parse(by, order).expect_err(by);
        assert_eq!(e.scim_type(), want, "{by} {order:?}: {e}");
        assert_eq!(e.status(), 400);
    }
}

fn arbitrary_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(Value::Null)),
        any::<bool>().prop_map(|b| Some(json!(b))),
        (-5i64..5).prop_map(|n| Some(json!(n))),
        (-5.0f64..5.0).prop_map(|n| Some(json!(n))),
        prop::sample::select(vec![
            "2024-01-01T10:00:00Z",
            "2024-01-01T12:00:00+02:00",
            "2024-01-01T10:00:00.5Z",
            "2024-01-01T05:30:00-05:00",
            "2024-01-01T09:00:00",
            "2024-01-01T06 bogus",
            "2024-01-01T11 bogus",
            "abc",
            "ABC",
            "",
        ])
        .prop_map(|s| Some(json!(s))),
    ]
}

fn resource(i: usize, attr: &str, v: &Option<Value>) -> Value {
    match v {
        None => acme(&i.to_string(), json!({})),
        Some(v) => acme(&i.to_string(), json!({ attr: v })),
    }
}

proptest! {
    /// The comparator is a total order on any mix of values (a sort would panic or misorder
    /// otherwise), and sorting is a stable permutation.
    #[test]
    fn comparator_is_a_total_order(
        values in prop::collection::vec(arbitrary_value(), 0..12),
        attr in prop::sample::select(vec!["hired", "level", "tags", "code"]),
        descending in any::<bool>(),
    ) {
        let registry = registry();
        let schema: &ResourceSchema = registry.user();
        let sort = SortBy::parse(attr, Some(if descending { "descending" } else { "ascending" })).unwrap();
        let resources: Vec<Value> = values.iter().enumerate().map(|(i, v)| resource(i, attr, v)).collect();
        for a in &resources {
            prop_assert_eq!(sort.compare(schema, a, a), Ordering::Equal);
            for b in &resources {
                let ab = sort.compare(schema, a, b);
                prop_assert_eq!(ab, sort.compare(schema, b, a).reverse());
                for c in &resources {
                    if ab != Ordering::Greater && sort.compare(schema, b, c) != Ordering::Greater {
                        prop_assert_ne!(sort.compare(schema, a, c), Ordering::Greater);
                    }
                }
            }
        }
        let mut sorted = resources.clone();
        sort.sort(schema, &mut sorted);
        for pair in sorted.windows(2) {
            let o = sort.compare(schema, &pair[0], &pair[1]);
            prop_assert_ne!(o, Ordering::Greater);
            if o == Ordering::Equal {
                let (x, y): (usize, usize) = (pair[0]["id"].as_str().unwrap().parse().unwrap(), pair[1]["id"].as_str().unwrap().parse().unwrap());
                prop_assert!(x < y, "ties keep the caller's order");
            }
        }
    }
}
