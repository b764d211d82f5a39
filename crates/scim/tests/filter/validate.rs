//! Validation: filters that parse but cannot apply to the resource type are refused with
//! `UnknownAttribute` or `Unsupported`, so that a server answers 400 invalidFilter.

use roster_scim::filter::{Filter, FilterErrorKind};

use super::support::registry;

/// `(filter, on the Group?, expected)`: `""` for valid, else `"unknown: <name>"` or
/// `"unsupported: <fragment of the message>"`.
#[rustfmt::skip]
const CASES: &[(&str, bool, &str)] = &[
    (r#"userName eq "x""#, false, ""),
    (r#"externalId eq "x""#, false, ""),
    (r#"emails[type eq "work"]"#, false, ""),
    (r#"emails co "x""#, false, ""),
    (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, false, ""),
    (r#"meta.created gt "0001-01-03T00:00:00.0000000Z""#, false, ""),
    (r#"meta.created co "2011""#, false, ""),
    (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, false, ""),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x""#, false, ""),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "x""#, false, ""),
    ("title eq null", false, ""),
    ("title ne null", false, ""),
    ("active eq true", false, ""),
    ("name pr", false, ""),
    ("name eq null", false, ""),
    ("score ge 1.5", false, ""),
    ("loginCount lt 10", false, ""),
    (r#"badge eq "AAEC""#, false, ""),
    (r#"tags co "x""#, false, ""),
    (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, false, ""),
    (r#"members[value eq "x"]"#, true, ""),
    (r#"displayName eq "Sales & Marketing""#, true, ""),
    (r#"unknown eq "x""#, false, "unknown: unknown"),
    ("name.nope pr", false, "unknown: name.nope"),
    ("urn:example:x:User:userName pr", false, "unknown: urn:example:x:User:userName"),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber eq "1""#, false, "unknown: urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber"),
    (r#"emails[nope eq "x"]"#, false, "unknown: emails[nope]"),
    (r#"userName eq "x""#, true, "unknown: userName"),
    ("members pr", false, "unknown: members"),
    (r#"title pr and (nope pr or userName eq "x")"#, false, "unknown: nope"),
    ("active gt false", false, "unsupported: 'gt' does not apply to active, which is of type boolean"),
    (r#"active co "t""#, false, "unsupported: 'co' does not apply to active"),
    (r#"active eq "true""#, false, "unsupported: active is of type boolean and cannot be compared with \"true\": expected true or false"),
    ("userName eq 5", false, "unsupported: userName is of type string and cannot be compared with 5"),
    ("userName gt null", false, "unsupported: 'gt' cannot compare with null"),
    (r#"meta.created gt "yesterday""#, false, "unsupported: expected a dateTime"),
    (r#"name eq "x""#, false, "unsupported: name is complex: compare one of its sub-attributes, e.g. name.formatted"),
    (r#"name co "x""#, false, "unsupported: name is complex"),
    (r#"userName[value eq "x"]"#, false, "unsupported: userName is not a complex attribute"),
    ("emails[primary gt true]", false, "unsupported: 'gt' does not apply to primary"),
    (r#"loginCount co "4""#, false, "unsupported: 'co' does not apply to loginCount, which is of type integer"),
    (r#"loginCount eq "4""#, false, "unsupported: expected a number"),
    (r#"badge gt "A""#, false, "unsupported: 'gt' does not apply to badge, which is of type binary"),
    ("not (active lt true)", false, "unsupported: 'lt'"),
    (r#"userName eq "x" or active le true"#, false, "unsupported: 'le'"),
];

#[test]
fn validation_refuses_what_cannot_apply() {
    let registry = registry();
    let mut wrong = Vec::new();
    for &(input, on_group, want) in CASES {
        let f = Filter::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let schema = if on_group {
            registry.group()
        } else {
            registry.user()
        };
        let got = match f.validate(schema) {
            Ok(()) => String::new(),
            Err(e) => {
                assert_eq!((e.position, e.input.as_str()), (0, f.to_string().as_str()));
                match e.kind {
                    FilterErrorKind::UnknownAttribute(a) => format!("unknown: {a}"),
                    FilterErrorKind::Unsupported(m) => format!("unsupported: {m}"),
                    other => format!("{other:?}"),
                }
            }
        };
        let ok = if want.is_empty() {
            got.is_empty()
        } else {
            let (kind, fragment) = want.split_once(": ").unwrap();
            got.starts_with(kind) && got.contains(fragment)
        };
        if !ok {
            wrong.push(format!("{input}: got {got:?}, want {want:?}"));
        }
        // Whatever validation says, evaluation must not panic and bind must agree.
        assert_eq!(f.bind(schema).is_ok(), got.is_empty(), "{input}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
