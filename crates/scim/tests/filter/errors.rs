//! Malformed filters: each fails at a known byte with a message saying what was expected.
//! The full messages are kept in a snapshot so that a reviewer can read them all at once.

use std::fmt::Write;

use roster_scim::filter::{Filter, FilterErrorKind};

/// `(input, position, a fragment of the message)`.
const CASES: &[(&str, usize, &str)] = &[
    // Missing pieces.
    ("", 0, "expected a filter"),
    ("   ", 3, "expected a filter"),
    (
        "userName",
        8,
        "expected a space and an operator after userName, found the end",
    ),
    ("userName ", 9, "expected an operator"),
    ("userName eq", 11, "expected a value after 'eq'"),
    ("userName eq ", 12, "expected a value"),
    (r#"userName eq "x" and"#, 19, "expected a filter"),
    (r#"userName eq "x" and "#, 20, "expected a filter"),
    (r#"userName eq "x" or"#, 18, "expected a filter"),
    (r#"and userName eq "x""#, 4, "expected an operator"),
    (
        r#"(userName eq "x""#,
        16,
        "expected 'and', 'or' or ')' to close the '(' at 0",
    ),
    (r#"((userName eq "x")"#, 18, "')' to close the '(' at 0"),
    ("()", 1, "expected a filter"),
    ("not ()", 5, "expected a filter"),
    (
        "not",
        0,
        "'not' must be followed by a filter in parentheses",
    ),
    ("not (a pr", 9, "')' to close the '(' at 4"),
    (r#"emails[type eq "work""#, 21, "']' to close the '[' at 6"),
    ("emails[]", 7, "expected a filter"),
    (r#"emails[type eq "work")"#, 21, "']' to close the '[' at 6"),
    // Operators.
    (
        r#"userName xx "x""#,
        9,
        r#"expected an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr) after userName, found "xx""#,
    ),
    (r#"userName equals "x""#, 9, "expected an operator"),
    (r#"userName = "x""#, 9, "expected an operator"),
    (
        r#"userName=="x""#,
        8,
        "expected a space and an operator after userName, found '='",
    ),
    (
        r#"userName eq"x""#,
        11,
        "expected a space before the value after 'eq'",
    ),
    (r#"userName "x""#, 9, "expected an operator"),
    ("title pr1", 6, "found \"pr1\""),
    (
        r#"not userName eq "x""#,
        0,
        "'not' must be followed by a filter in parentheses",
    ),
    (
        r#"NOT userName eq "x""#,
        0,
        "'not' must be followed by a filter in parentheses",
    ),
    // Values.
    (
        "userName sw O",
        12,
        "expected a value, found \"O\": strings must be in double quotes",
    ),
    (
        "userName eq bjensen",
        12,
        "strings must be in double quotes",
    ),
    ("userName eq 'bjensen'", 12, "expected a value"),
    (
        r#"userName eq "unterminated"#,
        25,
        "expected '\"' to close the string that starts at 12",
    ),
    (
        r#"userName eq "x\"#,
        15,
        "expected an escape after '\\' and then '\"' to close the string",
    ),
    (r#"x eq "\x""#, 6, "invalid escape"),
    (r#"x eq "\'""#, 6, "invalid escape"),
    (r#"x eq "\u12""#, 6, "expected four hex digits"),
    (r#"x eq "\uZZZZ""#, 6, "expected four hex digits"),
    (r#"x eq "\ud83d""#, 6, "unpaired surrogate"),
    (r#"x eq "\ud83dx""#, 6, "unpaired surrogate"),
    (r#"x eq "\ud83d\u0041""#, 12, "unpaired surrogate"),
    (r#"x eq "\ude00""#, 6, "unpaired surrogate"),
    ("x eq \"a\nb\"", 7, "control character U+000A"),
    ("x eq \"ta\tb\"", 8, "control character U+0009"),
    ("x eq 01", 5, "expected a JSON number"),
    ("x eq 1.", 5, "expected a JSON number"),
    ("x eq .5", 5, "expected a value"),
    ("x eq +1", 5, "expected a value"),
    ("x eq -", 5, "expected a JSON number"),
    ("x eq 1e", 5, "expected a JSON number"),
    ("x eq 12abc", 5, "expected a JSON number"),
    ("x eq 1e999", 5, "expected a JSON number"),
    ("x eq truex", 5, "found \"truex\""),
    ("x eq nil", 5, "strings must be in double quotes"),
    // Trailing garbage and unbalanced closers.
    (
        r#"userName eq "x" garbage"#,
        16,
        "expected 'and', 'or' or the end of the filter; found \"garbage\"",
    ),
    (r#"userName eq "x")"#, 15, "')' without a matching '('"),
    (r#"userName eq "x"]"#, 15, "']' without a matching '['"),
    (
        r#"userName eq "x" "y""#,
        16,
        "expected 'and', 'or' or the end",
    ),
    (
        r#"userName eq "x" andy pr"#,
        16,
        "expected 'and', 'or' or the end",
    ),
    ("a pr b pr", 5, "expected 'and', 'or' or the end"),
    ("a pr ; b pr", 5, "expected 'and', 'or' or the end"),
    // Paths.
    ("1abc pr", 0, "must start with a letter"),
    ("name. pr", 5, "an attribute name is missing"),
    (
        "name..x pr",
        5,
        "an attribute name must start with a letter",
    ),
    ("a.b.c pr", 3, "an attribute name holds only"),
    ("http://x pr", 0, "a schema prefix must be a URN"),
    (
        "urn:ietf:params:scim:schemas:core:2.0:User: pr",
        43,
        "an attribute name is missing",
    ),
    (
        "@name pr",
        0,
        "expected a filter: an attribute path, '(' or 'not (', found '@'",
    ),
    (
        "user@name pr",
        4,
        "expected a space and an operator after user, found '@'",
    ),
    // Value paths.
    (
        r#"emails[type[value eq "x"]]"#,
        11,
        "value filters cannot be nested",
    ),
    (
        r#"emails[(type[value eq "x"])]"#,
        12,
        "value filters cannot be nested",
    ),
    (
        r#"name.givenName[value eq "x"]"#,
        14,
        "not to the sub-attribute name.givenName",
    ),
    (
        r#"emails[emails.type eq "work"]"#,
        7,
        "inside '[...]', name a sub-attribute",
    ),
    (
        r#"emails[urn:ietf:params:scim:schemas:core:2.0:User:type eq "work"]"#,
        7,
        "inside '[...]', name a sub-attribute",
    ),
    (
        r#"emails[type eq "work"].value eq "x""#,
        22,
        "only allowed in PATCH paths",
    ),
    (
        r#"emails[type eq "work"]x"#,
        22,
        "expected 'and', 'or' or the end",
    ),
];

#[test]
fn malformed_filters_fail_at_a_position_with_a_reason() {
    assert!(CASES.len() >= 40);
    let mut report = String::new();
    let mut wrong = Vec::new();
    for &(input, position, fragment) in CASES {
        let e = match Filter::parse(input) {
            Ok(f) => {
                wrong.push(format!("{input:?} parsed as {f}"));
                continue;
            }
            Err(e) => e,
        };
        let FilterErrorKind::Syntax(reason) = &e.kind else {
            wrong.push(format!("{input:?}: {:?}", e.kind));
            continue;
        };
        if e.input != input || e.position != position || !reason.contains(fragment) {
            wrong.push(format!(
                "{input:?}: at {} (want {position}): {reason:?} (want {fragment:?})",
                e.position
            ));
        }
        writeln!(
            report,
            "{input:?}\n{}^ {reason}\n",
            " ".repeat(caret(input, e.position))
        )
        .unwrap();
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    insta::assert_snapshot!(report);
}

/// Where the caret goes under the Debug-quoted input: after the opening quote and the
/// escaped form of everything before `position`.
fn caret(input: &str, position: usize) -> usize {
    format!("{:?}", &input[..position]).chars().count() - 1
}

#[test]
fn the_message_names_the_input_and_position() {
    let e = Filter::parse(r#"userName eq "x" garbage"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"invalid filter "userName eq \"x\" garbage" at position 16: expected 'and', 'or' or the end of the filter; found "garbage""#
    );
}
