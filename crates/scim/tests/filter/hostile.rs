//! Hostile inputs: nesting, length and long chains are bounded, and nothing is worse than
//! linear. None of these cases times anything; they are built so that an exponential or
//! stack-hungry parser would not finish or would crash.

use roster_scim::filter::{Filter, FilterErrorKind, MAX_DEPTH, MAX_LEN, PatchPath};
use roster_scim::schema::Registry;

use super::support::user;

/// Inputs that must fail with this kind at this position.
#[test]
fn deep_or_long_inputs_fail_fast() {
    let opens = "(".repeat(8 * 1024);
    let nots = "not (".repeat(1000);
    let chain_of_brackets = "emails[".repeat(100);
    let just_in = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    let one_more = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    let too_long = format!("userName eq \"{}\"", "x".repeat(MAX_LEN));
    let too_long_multibyte = "é".repeat(MAX_LEN);
    // (name, input, the expected failure or None for success)
    type Case<'a> = (&'a str, &'a str, Option<(usize, FilterErrorKind)>);
    let cases: Vec<Case> = vec![
        (
            "8 KiB of '('",
            &opens,
            Some((MAX_DEPTH, FilterErrorKind::TooDeep)),
        ),
        (
            "1000 'not ('",
            &nots,
            Some((5 * MAX_DEPTH + 4, FilterErrorKind::TooDeep)),
        ),
        ("exactly the limit", &just_in, None),
        (
            "one past the limit",
            &one_more,
            Some((MAX_DEPTH, FilterErrorKind::TooDeep)),
        ),
        (
            "over the length limit",
            &too_long,
            Some((MAX_LEN, FilterErrorKind::TooLong)),
        ),
        (
            "multibyte over the limit",
            &too_long_multibyte,
            Some((MAX_LEN, FilterErrorKind::TooLong)),
        ),
    ];
    for (name, input, want) in cases {
        let got = Filter::parse(input);
        match want {
            None => assert!(got.is_ok(), "{name}: {got:?}"),
            Some((position, kind)) => {
                let e = got.expect_err(name);
                assert_eq!((e.position, &e.kind), (position, &kind), "{name}");
                assert!(
                    e.to_string().len() < 200,
                    "{name}: the message quotes the input"
                );
            }
        }
    }
    let e = Filter::parse(&chain_of_brackets).unwrap_err();
    assert_eq!(e.position, 13, "{e}");
    let e = PatchPath::parse(&too_long).unwrap_err();
    assert_eq!(e.kind, FilterErrorKind::TooLong);
}

/// Long flat chains parse (linear: each clause is read once), print back to the input, parse
/// back to the same tree, and evaluate, although the tree is as deep as the chain is long.
#[test]
fn long_chains_parse_print_and_evaluate() {
    let registry = Registry::core();
    let resource = user();
    let cases = [
        ("a eq 1", " and ", 5000, false, false),
        ("id pr", " and ", 6000, true, true),
        ("a pr", " or ", 8000, false, false),
        ("userName eq \"x\"", " or ", 3000, false, true),
        ("(a pr or id pr)", " and ", 3000, true, false),
    ];
    for (clause, joiner, n, expected, valid) in cases {
        let input = vec![clause; n].join(joiner);
        assert!(input.len() <= MAX_LEN, "{clause}: {} bytes", input.len());
        let f = Filter::parse(&input).unwrap_or_else(|e| panic!("{clause}: {}", e.kind));
        assert_eq!(f.to_string(), input, "{clause}");
        let again = Filter::parse(&f.to_string()).unwrap();
        assert!(again == f, "{clause}: round trip differs");
        let copy = f.clone();
        assert!(copy == f);
        assert_eq!(f.matches(&resource, registry.user()), expected, "{clause}");
        let bound = f.bind(registry.user());
        match bound {
            Ok(bound) => {
                assert!(
                    valid,
                    "{clause}: binds though it names an unknown attribute"
                );
                assert_eq!(bound.matches(&resource), expected, "{clause}");
            }
            Err(e) => assert!(!valid, "{clause}: {}", e.kind),
        }
    }
}

/// A value path with a long chain inside, and a long chain of value paths.
#[test]
fn long_chains_inside_brackets() {
    let inner = vec!["value eq \"2819c223-7f76-453a-919d-413861904646\""; 1000].join(" or ");
    let input = format!("members[{inner}]");
    let f = Filter::parse(&input).unwrap();
    assert_eq!(f.to_string(), input);
    let many = vec!["emails[type eq \"work\"]"; 2000].join(" and ");
    let f = Filter::parse(&many).unwrap();
    assert!(f.matches(&user(), Registry::core().user()));
}
