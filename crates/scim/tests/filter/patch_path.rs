//! PATCH paths (RFC 7644 §3.5.2): `attrPath` or `valuePath ["." subAttr]`.

use roster_scim::filter::{FilterErrorKind, MAX_DEPTH, PatchPath};

/// `(input, attribute, value filter or "", sub-attribute or "", canonical text or "" for the
/// input itself)`.
#[rustfmt::skip]
const PATHS: &[(&str, &str, &str, &str, &str)] = &[
    ("userName", "userName", "", "", ""),
    ("name.givenName", "name.givenName", "", "", ""),
    ("emails", "emails", "", "", ""),
    (r#"emails[type eq "work"]"#, "emails", r#"type eq "work""#, "", ""),
    (r#"emails[type eq "work"].value"#, "emails", r#"type eq "work""#, "value", ""),
    (r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#, "members", r#"value eq "2819c223-7f76-453a-919d-413861904646""#, "", ""),
    (r#"members[value eq "2819c223"].display"#, "members", r#"value eq "2819c223""#, "display", ""),
    (r#"members[value eq "2819c223"].$ref"#, "members", r#"value eq "2819c223""#, "$ref", ""),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "", "", ""),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", "", "", ""),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "", "", ""),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"].value"#, "urn:ietf:params:scim:schemas:core:2.0:User:emails", r#"type eq "work""#, "value", ""),
    (r#"addresses[type eq "work" and primary eq true].streetAddress"#, "addresses", r#"type eq "work" and primary eq true"#, "streetAddress", ""),
    (r#"emails[value ew "@example.com" or (type eq "home")].display"#, "emails", r#"value ew "@example.com" or type eq "home""#, "display", r#"emails[value ew "@example.com" or type eq "home"].display"#),
    (r#"emails[not (primary eq true)]"#, "emails", "not (primary eq true)", "", ""),
    (r#"EMAILS[TYPE EQ "work"].VALUE"#, "EMAILS", r#"TYPE eq "work""#, "VALUE", r#"EMAILS[TYPE eq "work"].VALUE"#),
    (r#"  emails[ type eq "work" ].value  "#, "emails", r#"type eq "work""#, "value", r#"emails[type eq "work"].value"#),
    (r#"emails [type eq "work"]"#, "emails", r#"type eq "work""#, "", r#"emails[type eq "work"]"#),
    ("x509Certificates[value pr]", "x509Certificates", "value pr", "", ""),
    (r#"phoneNumbers[type eq "work" and value co "]"].value"#, "phoneNumbers", r#"type eq "work" and value co "]""#, "value", ""),
];

#[test]
fn patch_paths_parse() {
    for &(input, attribute, filter, sub, canonical) in PATHS {
        let p = PatchPath::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(p.attribute.to_string(), attribute, "{input}");
        assert_eq!(
            p.filter
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            filter,
            "{input}"
        );
        assert_eq!(p.sub_attribute.as_deref().unwrap_or(""), sub, "{input}");
        let want = if canonical.is_empty() {
            input
        } else {
            canonical
        };
        assert_eq!(p.to_string(), want, "{input}");
        assert_eq!(PatchPath::parse(&p.to_string()), Ok(p), "{input}");
    }
    let p = PatchPath::parse(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
    )
    .unwrap();
    assert_eq!(
        p.attribute.schema.as_deref(),
        Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
    );
    assert_eq!(
        (
            p.attribute.attribute.as_str(),
            p.attribute.sub_attribute.as_deref()
        ),
        ("manager", Some("value"))
    );
}

/// `(input, position, fragment of the message)`.
#[rustfmt::skip]
const BAD: &[(&str, usize, &str)] = &[
    ("", 0, "expected an attribute path"),
    ("   ", 3, "expected an attribute path"),
    ("(emails)", 0, "expected an attribute path"),
    ("1emails", 0, "must start with a letter"),
    ("emails.", 7, "an attribute name is missing"),
    ("emails[", 7, "expected a filter"),
    (r#"emails[type eq "work""#, 21, "']' to close the '[' at 6"),
    (r#"emails[type eq "work"]."#, 23, "expected a sub-attribute name after '.'"),
    (r#"emails[type eq "work"].1x"#, 23, "expected a sub-attribute name after '.'"),
    (r#"emails[type eq "work"].value.display"#, 28, "expected the end of the path; found '.'"),
    (r#"emails[type eq "work"][value pr]"#, 22, "expected '.' and a sub-attribute, or the end of the path"),
    (r#"emails[type eq "work"] x"#, 23, "expected '.' and a sub-attribute"),
    (r#"name.givenName[value eq "x"]"#, 14, "not to the sub-attribute name.givenName"),
    ("emails[type[value pr]]", 11, "value filters cannot be nested"),
    (r#"emails.value[type eq "work"]"#, 12, "not to the sub-attribute emails.value"),
    (r#"userName eq "x""#, 9, "expected '[' or the end of the path; found 'e'"),
    (r#"emails[type.x eq "work"]"#, 7, "inside '[...]', name a sub-attribute"),
    ("emails]", 6, "expected '[' or the end of the path"),
    ("emails[type eq work]", 15, "strings must be in double quotes"),
    (r#"emails[type eq "work")"#, 21, "']' to close the '[' at 6"),
    ("http://x", 0, "a schema prefix must be a URN"),
];

#[test]
fn bad_patch_paths_fail_at_a_position() {
    let mut wrong = Vec::new();
    for &(input, position, fragment) in BAD {
        match PatchPath::parse(input) {
            Ok(p) => wrong.push(format!("{input:?} parsed as {p}")),
            Err(e) => {
                let reason = e.kind.to_string();
                if e.position != position || !reason.contains(fragment) {
                    wrong.push(format!(
                        "{input:?}: at {} (want {position}): {reason:?} (want {fragment:?})",
                        e.position
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let deep = format!(
        "emails[{}value pr{}]",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    assert_eq!(
        PatchPath::parse(&deep).unwrap_err().kind,
        FilterErrorKind::TooDeep
    );
}
