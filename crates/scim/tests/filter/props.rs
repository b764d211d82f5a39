//! Property tests: every AST prints to text that parses back to it, and no input makes the
//! parsers or the evaluator panic.

use proptest::prelude::*;
use roster_scim::filter::{CompValue, CompareOp, Filter, PatchPath};
use roster_scim::path::AttrPath;

use super::support::{registry, user};

fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z$][a-zA-Z0-9_$-]{0,8}"
}

fn urn() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some("urn:ietf:params:scim:schemas:core:2.0:User".to_owned())),
        1 => Just(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User".to_owned())),
        1 => "urn:[a-zA-Z0-9.:_-]{0,12}".prop_map(Some),
    ]
}

/// A path outside brackets: optional URN, name, optional sub-attribute.
fn path() -> impl Strategy<Value = AttrPath> {
    (urn(), name(), proptest::option::of(name())).prop_map(|(schema, attribute, sub_attribute)| {
        AttrPath {
            schema,
            attribute,
            sub_attribute,
        }
    })
}

/// A path that may take `[...]`: no sub-attribute.
fn complex_path() -> impl Strategy<Value = AttrPath> {
    (urn(), name()).prop_map(|(schema, attribute)| AttrPath {
        schema,
        attribute,
        sub_attribute: None,
    })
}

fn value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|n| CompValue::Number(n.into())),
        any::<u64>().prop_map(|n| CompValue::Number(n.into())),
        any::<f64>()
            .prop_filter_map("finite", serde_json::Number::from_f64)
            .prop_map(CompValue::Number),
        any::<String>().prop_map(CompValue::String),
        "[ -~]{0,12}".prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    proptest::sample::select(CompareOp::ALL.to_vec())
}

fn leaf(path: impl Strategy<Value = AttrPath>) -> impl Strategy<Value = Filter> {
    (path, proptest::option::of((op(), value()))).prop_map(|(path, cmp)| match cmp {
        Some((op, value)) => Filter::Compare { path, op, value },
        None => Filter::Present(path),
    })
}

fn combine(inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    prop_oneof![
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
        (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        inner.prop_map(|a| Filter::Not(Box::new(a))),
    ]
    .boxed()
}

/// A filter inside brackets: plain sub-attribute names, no nested brackets.
fn inner_filter() -> BoxedStrategy<Filter> {
    leaf(name().prop_map(|n| AttrPath::simple(&n)))
        .prop_recursive(4, 24, 2, combine)
        .boxed()
}

fn filter() -> BoxedStrategy<Filter> {
    let base = prop_oneof![
        3 => leaf(path()),
        1 => (complex_path(), inner_filter())
            .prop_map(|(path, f)| Filter::ValuePath { path, filter: Box::new(f) }),
    ];
    base.prop_recursive(6, 48, 2, combine).boxed()
}

/// Fragments that make near-miss filters, so that random inputs reach deep into the grammar.
fn soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(" and ".to_owned()),
        Just(" or ".to_owned()),
        Just("not ".to_owned()),
        Just("userName".to_owned()),
        Just("emails".to_owned()),
        Just("type".to_owned()),
        Just(" eq ".to_owned()),
        Just(" PR".to_owned()),
        Just(" gt ".to_owned()),
        Just("\"x\"".to_owned()),
        Just("\"".to_owned()),
        Just("\\".to_owned()),
        Just("\\u".to_owned()),
        Just("d83d".to_owned()),
        Just(".".to_owned()),
        Just(":".to_owned()),
        Just("urn:a:".to_owned()),
        Just(" ".to_owned()),
        Just("1".to_owned()),
        Just("-".to_owned()),
        Just("e5".to_owned()),
        Just("true".to_owned()),
        Just("null".to_owned()),
        "\\PC".prop_map(|s: String| s),
    ];
    proptest::collection::vec(token, 0..24).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn printed_filters_parse_back(f in filter()) {
        let text = f.to_string();
        let again = Filter::parse(&text);
        prop_assert_eq!(again.as_ref().ok(), Some(&f), "{} -> {:?}", text, again);
    }

    #[test]
    fn printed_patch_paths_parse_back(
        attribute in complex_path(),
        sub in proptest::option::of(name()),
        inner in inner_filter(),
    ) {
        let p = PatchPath { attribute, filter: Some(inner), sub_attribute: sub };
        let text = p.to_string();
        prop_assert_eq!(PatchPath::parse(&text), Ok(p), "{}", text);
    }

    #[test]
    fn no_input_panics(input in prop_oneof![soup(), any::<String>()]) {
        let registry = registry();
        if let Ok(f) = Filter::parse(&input) {
            let text = f.to_string();
            let again = Filter::parse(&text);
            prop_assert_eq!(again.as_ref(), Ok(&f), "{:?} -> {}", input, text);
            let _ = f.matches(&user(), registry.user());
            let _ = f.validate(registry.group());
        }
        if let Ok(p) = PatchPath::parse(&input) {
            prop_assert_eq!(PatchPath::parse(&p.to_string()), Ok(p));
        }
    }
}
