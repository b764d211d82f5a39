//! Random filters and query shapes over the [`FilterFixture`](super::FilterFixture) data, for
//! a property test that calls
//! [`FilterFixture::check_with_parts`](super::FilterFixture::check_with_parts) on each
//! ([`random_filters_agree`], run by [`conformance_tests!`](crate::conformance_tests)).
//!
//! The grammar is small on purpose: the attributes of the fixture, every operator (including
//! ones that do not apply), and for each attribute values taken from the data (in other cases,
//! as prefixes and suffixes, as bare SQL wildcards), combined by `and`, `or`, `not` and
//! `emails[...]`/`members[...]`. Drawing each attribute's values from its own pool keeps most
//! random filters selective, which is where a translation and the evaluator can part.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use super::filters::{group_sorts, user_sorts};
use super::{
    CompValue, CompareOp, EVERYTHING, Filter, Kind, QueryShape, SortBy, attr_path, group_id,
    user_id,
};

/// Lists a seeded directory with random filters of `kind` and random shapes, and fails with
/// the first (shrunk) filter for which `check` (a backend's
/// [`FilterFixture::check_with_parts`](super::FilterFixture::check_with_parts), run to
/// completion) finds the backend and the evaluator disagree. 64 cases; synchronous, because
/// proptest's runner is.
pub fn random_filters_agree(
    kind: Kind,
    user_or_group: (BoxedStrategy<RandomFilter>, BoxedStrategy<QueryShape>),
    check: impl Fn(&Filter, &QueryShape) -> Result<(), String>,
) {
    let config = Config {
        cases: 64,
        // The runner has no source file to keep regressions next to; a failure prints the
        // shrunk filter instead, to be added to the suite's table.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let outcome = runner.run(&user_or_group, |(RandomFilter(filter), shape)| {
        check(&filter, &shape).map_err(|e| TestCaseError::fail(format!("{filter} ({shape}): {e}")))
    });
    if let Err(e) = outcome {
        panic!("a random {kind:?} filter disagrees with the evaluator: {e}");
    }
}

/// The random filters and shapes of `kind`.
pub fn of_kind(kind: Kind) -> (BoxedStrategy<RandomFilter>, BoxedStrategy<QueryShape>) {
    match kind {
        Kind::User => (user_filter(), user_shape().boxed()),
        Kind::Group => (group_filter(), group_shape().boxed()),
    }
}

/// A generated filter, shown (in proptest's failure reports too) as filter text rather
/// than as a syntax tree.
#[derive(Clone)]
pub struct RandomFilter(pub Filter);

impl std::fmt::Debug for RandomFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

const OPS: &[CompareOp] = &[
    CompareOp::Eq,
    CompareOp::Ne,
    CompareOp::Co,
    CompareOp::Sw,
    CompareOp::Ew,
    CompareOp::Gt,
    CompareOp::Ge,
    CompareOp::Lt,
    CompareOp::Le,
];

const TIMES: &[&str] = &[
    "2023-12-31T23:59:59Z",
    "2024-01-03T00:00:00Z",
    "2024-01-05T00:00:00Z",
    "2024-01-05T00:00:00.5Z",
    "2024-01-05T02:00:00+02:00",
    "2024-01-10T12:00:00",
    "2024-02-01T03:00:00Z",
    "2024-02-10T09:00:00Z",
    "2024-02-20T00:00:00Z",
    "2024-03-01T00:00:00Z",
    "2024-01-0",
    "not a date",
];

fn strings(values: &[&str]) -> Vec<CompValue> {
    values
        .iter()
        .map(|s| CompValue::String((*s).to_owned()))
        .collect()
}

fn owned(values: Vec<String>) -> Vec<CompValue> {
    values.into_iter().map(CompValue::String).collect()
}

fn bools() -> Vec<CompValue> {
    vec![CompValue::Bool(true), CompValue::Bool(false)]
}

/// Values of the wrong type for most attributes: the store must agree on those too.
fn odd_values() -> Vec<CompValue> {
    vec![
        CompValue::Null,
        CompValue::Bool(true),
        CompValue::Number(1.into()),
        CompValue::String("2024-01-05T00:00:00Z".into()),
    ]
}

/// `path op value` for a path of `paths` and a value of `values`.
fn comparison(paths: &'static [&'static str], values: Vec<CompValue>) -> BoxedStrategy<Filter> {
    (select(paths), select(OPS), select(values))
        .prop_map(|(path, op, value)| Filter::Compare {
            path: attr_path(path),
            op,
            value,
        })
        .boxed()
}

/// A comparison on one of the families of paths, each with its own values.
fn comparisons(families: Vec<(&'static [&'static str], Vec<CompValue>)>) -> BoxedStrategy<Filter> {
    Union::new(
        families
            .into_iter()
            .map(|(paths, values)| comparison(paths, values)),
    )
    .boxed()
}

fn present(paths: &'static [&'static str]) -> BoxedStrategy<Filter> {
    select(paths)
        .prop_map(|p| Filter::Present(attr_path(p)))
        .boxed()
}

/// `attribute[...]` with one or two conditions on its sub-attributes.
fn value_path(attribute: &'static str, inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
    let conditions = prop_oneof![
        2 => inner.clone(),
        1 => (inner.clone(), inner.clone())
            .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
        1 => (inner.clone(), inner)
            .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
    ];
    conditions
        .prop_map(move |f| Filter::ValuePath {
            path: attr_path(attribute),
            filter: Box::new(f),
        })
        .boxed()
}

fn combined(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<RandomFilter> {
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Filter::Not(Box::new(a))),
        ]
    })
    .prop_map(RandomFilter)
    .boxed()
}

fn user_ids() -> Vec<CompValue> {
    let mut ids: Vec<String> = [0, 3, 13, 25, 34].into_iter().map(user_id).collect();
    // Prefixes of real ids in their own case and in upper case (ids are case-exact).
    ids.push(user_id(13)[..1].to_owned());
    ids.push(user_id(13)[..1].to_uppercase());
    ids.push(user_id(34)[..4].to_uppercase());
    ids.extend(["-4000-8000-", "00000000001b", "c", "3"].map(String::from));
    owned(ids)
}

fn email_values() -> Vec<CompValue> {
    strings(&[
        "ada@analytical.example",
        "GRACE.HOPPER@CONTOSO.COM",
        "\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}@contoso.com",
        "fiona@",
        "no\u{eb}l",
        "dmr@contoso.com",
        "contoso",
        "Fabrikam",
        ".example",
        "ken@",
        "%_",
        "t",
        "b",
    ])
}

/// Random filters over the fixture's users.
pub fn user_filter() -> BoxedStrategy<RandomFilter> {
    let texts = comparisons(vec![
        (&["id"], user_ids()),
        (
            &["userName", "USERNAME"],
            strings(&[
                "ada.lovelace@contoso.com",
                "ADA.LOVELACE@CONTOSO.COM",
                "josé.garcía@contoso.com",
                "JOSE\u{301}.GARCI\u{301}A@contoso.com",
                "full.width@contoso.com",
                "\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}",
                "\u{fb01}",
                "fi",
                "e\u{308}l",
                "nora nobreak",
                "\u{ff4e}",
                "contoso",
                "Contoso.COM",
                "@FABRIKAM.COM",
                "a",
                "J",
                "m",
                "_",
                "%",
                "100%_",
                "ø",
                "",
            ]),
        ),
        (
            &["externalId"],
            strings(&[
                "EXT-0001", "ext-0001", "EXT", "ext", "E", "FAB-", "fab", "-00", "3", "",
            ]),
        ),
        (&["emails", "emails.value"], email_values()),
        (
            &["emails.type"],
            strings(&["work", "home", "other", "WORK"]),
        ),
        (
            &["name.givenName", "displayName", "title"],
            strings(&["ada", "J", "Engineer", "professor", "a", "z"]),
        ),
        (
            &[
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "employeeNumber",
            ],
            strings(&["Research", "networking", "1020", "0012", "3"]),
        ),
    ]);
    let email_inner = Union::new_weighted(vec![
        (3, comparison(&["value"], email_values())),
        (
            2,
            comparison(&["type"], strings(&["work", "home", "Other"])),
        ),
        (1, comparison(&["primary"], bools())),
        (1, present(&["value", "type"])),
    ])
    .boxed();
    let leaf = Union::new_weighted(vec![
        (8, texts),
        (2, comparison(&["active"], bools())),
        (
            3,
            comparison(&["meta.created", "meta.lastModified"], strings(TIMES)),
        ),
        (
            1,
            comparison(
                &["userName", "externalId", "active", "emails.value"],
                odd_values(),
            ),
        ),
        (
            2,
            present(&[
                "externalId",
                "emails",
                "emails.value",
                "active",
                "name",
                "title",
                "department",
            ]),
        ),
        (2, value_path("emails", email_inner)),
    ]);
    combined(leaf.boxed())
}

/// Random filters over the fixture's groups.
pub fn group_filter() -> BoxedStrategy<RandomFilter> {
    let member_ids = || {
        let mut ids: Vec<String> = [0, 24, 25, 26].into_iter().map(user_id).collect();
        ids.extend([0, 4].map(group_id));
        ids.push(user_id(25).to_uppercase());
        ids.push("no-such-id".into());
        owned(ids)
    };
    let texts = comparisons(vec![
        (
            &["displayName"],
            strings(&[
                "engineering",
                "ΩMEGA TEAM",
                "e",
                "TEAM",
                "S",
                "m",
                "Empty Group",
                "sales",
            ]),
        ),
        (
            &["externalId"],
            strings(&["grp", "GRP", "grp-eng", "NET", "GRP-NET", "-"]),
        ),
        (
            &["id"],
            owned(vec![
                group_id(3),
                group_id(3)[..1].to_uppercase(),
                "-4000-9000-".into(),
            ]),
        ),
        (&["members", "members.value"], member_ids()),
        (
            &["members.display"],
            strings(&["hopper", "Ada", "dmr", "Engineering"]),
        ),
        (&["members.type"], strings(&["User", "Group", "group"])),
    ]);
    let member_inner = Union::new_weighted(vec![
        (3, comparison(&["value"], member_ids())),
        (
            1,
            comparison(&["display"], strings(&["hopper", "Ada", "research"])),
        ),
        (1, comparison(&["type"], strings(&["User", "Group"]))),
        (1, present(&["value", "display"])),
    ])
    .boxed();
    let leaf = Union::new_weighted(vec![
        (8, texts),
        (
            2,
            comparison(&["meta.created", "meta.lastModified"], strings(TIMES)),
        ),
        (
            1,
            comparison(&["displayName", "members.value"], odd_values()),
        ),
        (2, present(&["externalId", "members", "members.value"])),
        (3, value_path("members", member_inner)),
    ]);
    combined(leaf.boxed())
}

fn shape(sorts: Vec<SortBy>) -> impl Strategy<Value = QueryShape> {
    let sorts: Vec<Option<SortBy>> = std::iter::once(None)
        .chain(sorts.into_iter().map(Some))
        .collect();
    (
        select(sorts),
        0u64..5,
        select(&[0, 2, 5, EVERYTHING][..]),
        any::<bool>(),
    )
        .prop_map(|(sort, offset, limit, with_relations)| {
            QueryShape::new(sort, offset, limit, with_relations)
        })
}

/// Random sorts and pages for user lists.
pub fn user_shape() -> impl Strategy<Value = QueryShape> {
    shape(user_sorts())
}

/// Random sorts and pages for group lists.
pub fn group_shape() -> impl Strategy<Value = QueryShape> {
    shape(group_sorts())
}
