//! Evaluation: a table of (filter, resource, expected) over realistic resources. Each row is
//! checked through [`Filter::matches`] and, when the filter is valid, through
//! [`Filter::bind`] too, so the two paths cannot drift apart.

use roster_scim::filter::Filter;

use super::support::{group, registry, sloppy_user, sparse_user, user};

#[derive(Clone, Copy, Debug)]
enum On {
    /// The full User (core, enterprise, and the test extension).
    U,
    /// The sparse User: empty strings, nulls, empty arrays.
    S,
    /// The User whose keys are spelled in other cases.
    L,
    /// The Group.
    G,
}
use On::*;

const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

#[rustfmt::skip]
const CASES: &[(&str, On, bool)] = &[
    // eq and case rules: userName is not caseExact, id and externalId are.
    (r#"userName eq "Ada.Lovelace@Contoso.com""#, U, true),
    (r#"userName eq "ada.lovelace@contoso.com""#, U, true),
    (r#"USERNAME EQ "ADA.LOVELACE@CONTOSO.COM""#, U, true),
    (r#"userName eq "ada@contoso.com""#, U, false),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada.lovelace@contoso.com""#, U, true),
    (r#"id eq "2819c223-7f76-453a-919d-413861904646""#, U, true),
    (r#"id eq "2819C223-7F76-453A-919D-413861904646""#, U, false),
    (r#"externalId eq "AdaL-0042""#, U, true),
    (r#"externalId eq "adal-0042""#, U, false),
    (r#"externalId eq "x""#, U, false),
    (r#"name.familyName eq "o'malley-lovelace""#, U, true),
    (r#"name.familyName co "O'Malley""#, U, true),
    (r#"name.givenName sw "a""#, U, true),
    (r#"name.givenName ew "DA""#, U, true),
    (r#"Name.GivenName eq "Ada""#, U, true),
    (r#"displayName co "love""#, U, true),
    (r#"displayName co "loveless""#, U, false),
    (r#"displayName sw "Lovelace""#, U, false),
    (r#"displayName ew "lovelace""#, U, true),
    (r#"displayName co """#, U, true),
    (r#"title eq "Analyst & Engineer (Level 2) [Maths]""#, U, true),
    (r#"title co ") [""#, U, true),
    (r#"title co " and ""#, U, false),
    (r#"userType ne "Employee""#, U, false),
    (r#"userType ne "Intern""#, U, true),
    (r#"nickName ne "ada""#, U, false),
    // Non-ASCII text folds case too.
    (r#"name.honorificSuffix co "école""#, U, true),
    (r#"name.honorificSuffix sw "éco""#, U, true),
    (r#"name.honorificSuffix ew "σοφία""#, U, true),
    (r#"name.honorificSuffix eq "école σοφία""#, U, true),
    (r#"name.honorificSuffix co "ecole""#, U, false),
    // pr, and eq/ne null.
    ("preferredLanguage pr", U, true),
    ("title pr", U, true),
    ("x509Certificates pr", U, false),
    ("entitlements pr", U, false),
    ("roles pr", U, true),
    ("meta pr", U, true),
    ("title eq null", U, false),
    ("title ne null", U, true),
    // Booleans.
    ("active eq true", U, true),
    ("active eq false", U, false),
    ("active ne false", U, true),
    ("active eq TRUE", U, true),
    (r#"active eq "true""#, U, false),
    ("active pr", U, true),
    ("active gt false", U, false),
    ("not (active gt false)", U, true),
    // Multi-valued: any value matches; complex without a sub-attribute means `.value`.
    (r#"emails co "example.org""#, U, true),
    (r#"emails co "example.com""#, U, false),
    (r#"emails.value co "contoso""#, U, true),
    (r#"emails.value eq "ADA@CONTOSO.COM""#, U, true),
    (r#"emails eq "ada@contoso.com""#, U, true),
    (r#"emails.type eq "home""#, U, true),
    (r#"emails.type eq "other""#, U, false),
    (r#"emails.type ne "work""#, U, true),
    ("emails.primary eq true", U, true),
    ("emails.value pr", U, true),
    ("emails pr", U, true),
    (r#"phoneNumbers.value sw "+44 77""#, U, true),
    (r#"roles eq "ADMIN""#, U, true),
    (r#"groups.display eq "analysts""#, U, true),
    (r#"addresses.locality eq "Marylebone""#, U, true),
    ("addresses.postalCode pr", U, true),
    ("addresses pr", U, true),
    // Value paths: one element must satisfy the whole bracket.
    (r#"phoneNumbers[type eq "mobile" and value sw "+44 77"]"#, U, true),
    (r#"phoneNumbers[type eq "work" and value sw "+44 77"]"#, U, false),
    (r#"phoneNumbers.type eq "work" and phoneNumbers.value sw "+44 77""#, U, true),
    (r#"emails[type eq "work" and value co "@contoso.com"]"#, U, true),
    (r#"emails[type eq "work" and value co "@example.org"]"#, U, false),
    (r#"emails[type eq "home" and value ew "example.org"]"#, U, true),
    ("emails[primary eq true]", U, true),
    ("emails[not (primary eq true)]", U, true),
    (r#"emails[primary pr and type eq "home"]"#, U, false),
    (r#"emails[type eq "work" or type eq "other"]"#, U, true),
    (r#"EMAILS[TYPE eq "WORK"]"#, U, true),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]"#, U, true),
    (r#"userType eq "Employee" and emails[type eq "work" and value co "@contoso.com"]"#, U, true),
    (r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#, U, true),
    (r#"ims[type eq "xmpp" and value co "@bar.com"]"#, U, false),
    (r#"addresses[locality eq "london" and country eq "GB"]"#, U, true),
    ("addresses[type eq \"home\" and primary eq true]", U, false),
    (r#"groups[value eq "e9e30dba-f08f-4109-8486-d5c6a331660a"]"#, U, true),
    (r#"name[givenName eq "ada"]"#, U, true),
    (r#"name[givenName eq "bob"]"#, U, false),
    // dateTime: instants, whatever the fraction digits or offset.
    (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, U, true),
    (r#"meta.lastModified gt "2011-05-13T04:42:34.1234567Z""#, U, false),
    (r#"meta.lastModified ge "2011-05-13T04:42:34.1234567Z""#, U, true),
    (r#"meta.lastModified eq "2011-05-13T04:42:34.123456700Z""#, U, true),
    (r#"meta.lastModified eq "2011-05-13T06:42:34.1234567+02:00""#, U, true),
    (r#"meta.lastModified lt "2011-05-13T00:42:35-04:00""#, U, true),
    (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, U, false),
    (r#"meta.created lt "2011-05-13T04:42:34Z""#, U, true),
    (r#"meta.created gt "0001-01-03T00:00:00.0000000Z""#, U, true),
    (r#"meta.created eq "2010-01-23T04:56:22.000Z""#, U, true),
    (r#"meta.created ne "2010-01-23T04:56:22Z""#, U, false),
    (r#"meta.created sw "2010-01""#, U, true),
    (r#"meta.created gt "2010-01-23T04:56:22""#, U, false),
    (r#"meta.resourceType eq "User""#, U, true),
    (r#"meta.resourceType eq "user""#, U, false),
    (r#"meta.version eq "W/\"3694e05e9dff591\"""#, U, true),
    (r#"meta.location co "/Users/""#, U, true),
    // Strings order without regard to case unless caseExact.
    (r#"userName gt "a""#, U, true),
    (r#"userName lt "B""#, U, true),
    (r#"userName ge "ADA.LOVELACE@CONTOSO.COM""#, U, true),
    (r#"userName gt "ADA.LOVELACE@CONTOSO.COM""#, U, false),
    (r#"name.familyName le "N""#, U, false),
    (r#"externalId lt "adal""#, U, true),
    // The enterprise extension, with and without its URN.
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#, U, true),
    (r#"employeeNumber eq "701984""#, U, true),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "tour""#, U, true),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#, U, true),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87E4-49D8CA9F808D""#, U, false),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName sw "john""#, U, true),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr", U, true),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager eq "26118915-6090-4610-87e4-49d8ca9f808d""#, U, true),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value pr]", U, true),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter gt "4000""#, U, true),
    (r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:EMPLOYEENUMBER eq "701984""#, U, true),
    (r#"urn:ietf:params:scim:schemas:core:2.0:User:employeeNumber eq "701984""#, U, false),
    // Precedence: and binds tighter than or; not needs parentheses.
    (r#"userType eq "Intern" and active eq true or title pr"#, U, true),
    (r#"userType eq "Intern" and (active eq true or title pr)"#, U, false),
    (r#"title pr or userType eq "Intern" and active eq false"#, U, true),
    (r#"(title pr or userType eq "Intern") and active eq false"#, U, false),
    (r#"not (userType eq "Intern")"#, U, true),
    (r#"not (userType eq "Employee") and active eq true"#, U, false),
    (r#"not (userType eq "Employee" and active eq false)"#, U, true),
    ("not (not (active eq true))", U, true),
    (r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#, U, false),
    (r#"userType eq "Employee" and not (emails co "example.com")"#, U, true),
    (r#"userType eq "Employee" and (emails.type eq "work")"#, U, true),
    // Unknown attributes match nothing, whatever the operator.
    (r#"unknownAttr eq "x""#, U, false),
    (r#"unknownAttr ne "x""#, U, false),
    (r#"not (unknownAttr eq "x")"#, U, true),
    ("name.unknown pr", U, false),
    (r#"urn:example:unknown:2.0:User:userName eq "x""#, U, false),
    (r#"emails[nothing eq "x"]"#, U, false),
    (r#"userName[value eq "x"]"#, U, false),
    (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, U, true),
    (r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group""#, U, false),
    // Integer, decimal, binary, multi-valued strings (the test extension).
    ("loginCount eq 42", U, true),
    ("loginCount eq 42.0", U, true),
    ("loginCount gt 41", U, true),
    ("loginCount ge 43", U, false),
    ("loginCount lt 1e2", U, true),
    ("loginCount le -1", U, false),
    ("loginCount ne 7", U, true),
    (r#"loginCount eq "42""#, U, false),
    ("score gt 3.25", U, true),
    ("score lt 3", U, false),
    ("score eq 3.5", U, true),
    (r#"tags eq "green""#, U, true),
    (r#"tags co "lu""#, U, true),
    (r#"tags ne "blue""#, U, true),
    (r#"tags sw "red""#, U, false),
    (r#"badge eq "AAEC""#, U, true),
    (r#"lastSeen gt "2024-02-29T22:59:59Z""#, U, true),
    (r#"lastSeen lt "2024-02-29T22:59:59.9991Z""#, U, true),
    ("urn:roster:test:1.0:Stats:verified eq true", U, true),
    (r#"verified co "t""#, U, false),
    // The sparse user: empty strings, nulls and empty arrays are not present.
    ("title pr", S, false),
    ("nickName pr", S, false),
    ("emails pr", S, false),
    ("name pr", S, false),
    ("name.givenName pr", S, false),
    ("title eq null", S, true),
    ("nickName eq null", S, true),
    (r#"title eq """#, S, true),
    (r#"displayName ne "x""#, S, true),
    (r#"emails.value ne "x""#, S, true),
    (r#"emails[type eq "work"]"#, S, false),
    (r#"not (emails[type eq "work"])"#, S, true),
    ("active eq false", S, true),
    ("active ne true", S, true),
    (r#"meta.created eq "2011-05-13T04:42:34Z""#, S, true),
    (r#"meta.lastModified lt "1970-01-01T00:00:00Z""#, S, true),
    (r#"meta.lastModified eq "0001-01-03T00:00:00Z""#, S, true),
    (r#"userName eq "BJENSEN""#, S, true),
    ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr", S, false),
    (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber ne "1""#, S, true),
    (r#"externalId eq "x""#, S, false),
    // Keys spelled in other cases are still found.
    (r#"userName eq "bjensen""#, L, true),
    (r#"id eq "u-3""#, L, true),
    (r#"name.givenName eq "barbara""#, L, true),
    (r#"emails[type eq "work" and value ew "example.com"]"#, L, true),
    (r#"emails.value co "babs""#, L, true),
    (r#"employeeNumber eq "42""#, L, true),
    // The group.
    (r#"displayName eq "Sales & Marketing""#, G, true),
    (r#"displayName eq "sales & marketing""#, G, true),
    (r#"displayName co " & ""#, G, true),
    (r#"displayName eq "Sales""#, G, false),
    (r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#, G, true),
    (r#"members[value eq "2819C223-7F76-453A-919D-413861904646"]"#, G, false),
    (r#"members.value eq "902c246b-6245-4190-8e05-00816be7344a""#, G, true),
    (r#"members eq "902c246b-6245-4190-8e05-00816be7344a""#, G, true),
    (r#"members[value eq "a" or value eq "902c246b-6245-4190-8e05-00816be7344a"]"#, G, true),
    ("members[display pr]", G, true),
    (r#"members[display pr and value ew "344a"]"#, G, false),
    (r#"members.type eq "user""#, G, true),
    (r#"externalId eq "Sales-And-Marketing""#, G, false),
    (r#"externalId eq "sales-and-marketing""#, G, true),
    (r#"userName eq "x""#, G, false),
    ("members pr", G, true),
    (r#"id eq "e9e30dba-f08f-4109-8486-d5c6a331660a" and members[value sw "2819"]"#, G, true),
];

#[test]
fn filters_match_resources() {
    assert!(CASES.len() >= 80);
    let registry = registry();
    let (u, s, l, g) = (user(), sparse_user(), sloppy_user(), group());
    let mut wrong = Vec::new();
    for &(input, on, expected) in CASES {
        let f = Filter::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let resource = match on {
            U => &u,
            S => &s,
            L => &l,
            G => &g,
        };
        let schema = match on {
            G => registry.group(),
            _ => registry.user(),
        };
        let got = f.matches(resource, schema);
        if got != expected {
            wrong.push(format!("{input} on {on:?}: {got}, expected {expected}"));
        }
        if let Ok(bound) = f.bind(schema)
            && bound.matches(resource) != got
        {
            wrong.push(format!("{input} on {on:?}: bound and unbound disagree"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A filter on the enterprise extension does not see the same attribute at the top level.
#[test]
fn extension_attributes_live_under_their_urn() {
    let registry = registry();
    let misplaced = serde_json::json!({"employeeNumber": "701984", ENT: {}});
    let f = Filter::parse(r#"employeeNumber eq "701984""#).unwrap();
    assert!(!f.matches(&misplaced, registry.user()));
    assert!(f.matches(&user(), registry.user()));
}

/// Resources that are not objects, or hold values of the wrong JSON type, match nothing
/// and do not panic.
#[test]
fn odd_resources_do_not_panic() {
    let registry = registry();
    let odd = [
        serde_json::json!(null),
        serde_json::json!([1, 2]),
        serde_json::json!("userName"),
        serde_json::json!({"userName": 5, "emails": "x", "name": [1], "meta": {"created": true}}),
        serde_json::json!({"emails": [null, 1, "x", {"value": null}, {"value": ["a"]}]}),
        serde_json::json!({ENT: "not an object", "members": {"value": "x"}}),
    ];
    let filters = [
        r#"userName eq "5""#,
        "userName gt 4",
        r#"emails co "x""#,
        "emails[value pr]",
        r#"name.givenName sw "a""#,
        r#"meta.created gt "2000-01-01T00:00:00Z""#,
        "employeeNumber pr",
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager[value eq "x"]"#,
        r#"emails.value eq "a""#,
    ];
    for r in &odd {
        for input in filters {
            let f = Filter::parse(input).unwrap();
            let _ = f.matches(r, registry.user());
        }
    }
    let f = Filter::parse(r#"emails.value eq "a""#).unwrap();
    assert!(
        f.matches(&odd[4], registry.user()),
        "an array where a string was expected"
    );
}

/// Value filters against one element, as PATCH applies `emails[type eq "work"]` to each
/// email: `(attribute, filter, element, expected)`.
#[test]
fn value_filters_match_elements() {
    let registry = registry();
    let user = registry.user();
    let group = registry.group();
    let emails = user.core.attribute("emails").unwrap();
    let addresses = user.core.attribute("addresses").unwrap();
    let members = group.core.attribute("members").unwrap();
    let work = serde_json::json!({"value": "ada@contoso.com", "type": "work", "primary": true});
    let home = serde_json::json!({"value": "ada@example.org", "type": "Home"});
    let member =
        serde_json::json!({"value": "2819c223-7f76-453a-919d-413861904646", "type": "User"});
    let address = serde_json::json!({"type": "work", "locality": "London"});
    let cases = [
        (emails, r#"type eq "work""#, &work, true),
        (emails, r#"type eq "work""#, &home, false),
        (emails, r#"type eq "home""#, &home, true),
        (
            emails,
            r#"value ew "@contoso.com" and primary eq true"#,
            &work,
            true,
        ),
        (emails, "primary eq true", &home, false),
        (emails, "not (primary pr)", &home, true),
        (emails, r#"TYPE EQ "WORK""#, &work, true),
        (emails, r#"locality eq "London""#, &work, false),
        (addresses, r#"locality eq "london""#, &address, true),
        (
            members,
            r#"value eq "2819c223-7f76-453a-919d-413861904646""#,
            &member,
            true,
        ),
        (
            members,
            r#"value eq "2819C223-7F76-453A-919D-413861904646""#,
            &member,
            false,
        ),
        (members, r#"type eq "user""#, &member, true),
    ];
    for (attribute, input, element, expected) in cases {
        let f = Filter::parse(input).unwrap();
        assert_eq!(
            f.matches_value(element, attribute),
            expected,
            "{input} on {element}"
        );
        if let Ok(bound) = f.bind_value(attribute) {
            assert_eq!(
                bound.matches(element),
                expected,
                "{input} on {element}, bound"
            );
        }
    }
    let unknown = Filter::parse(r#"locality eq "London""#).unwrap();
    assert!(matches!(
        unknown.bind_value(emails).unwrap_err().kind,
        roster_scim::filter::FilterErrorKind::UnknownAttribute(a) if a == "emails[locality]"
    ));
    let nested = Filter::parse(r#"type eq "work" and value[x pr]"#).unwrap();
    assert!(nested.bind_value(emails).is_err());
    assert!(!nested.matches_value(&work, emails));
}

/// A filter could read the stored password hash one comparison at a time
/// (`password sw "$argon2id$v=19$m=19456"`, `password ge "…"`, `password pr`): attributes that
/// are never returned cannot be filtered on (RFC 7643 §7), in any form.
#[test]
fn password_hash_cannot_be_read_through_a_filter() {
    let registry = roster_scim::Registry::core();
    let schema = registry.resource("User").unwrap();
    for input in [
        r#"password sw "$argon2id$v=19$m=19456""#,
        r#"userName eq "ada" and password ge "$argon2id$v=19$m=19456,t=2,p=1$a""#,
        "password pr",
        "password eq null",
        r#"not (password co "a")"#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:password ew "x""#,
        r#"PASSWORD sw "$""#,
    ] {
        let f = Filter::parse(input).unwrap();
        let err = f.validate(schema).unwrap_err();
        assert!(
            matches!(err.kind, roster_scim::filter::FilterErrorKind::Unsupported(ref m) if m.contains("never returned")),
            "{input}: {err}"
        );
        assert_eq!(
            roster_scim::Error::from(err).scim_type(),
            roster_scim::ScimType::InvalidFilter
        );
    }
    let sort = roster_scim::SortBy::parse("password", None).unwrap();
    assert!(sort.validate(schema).is_err(), "sortBy=password is refused");
    let sort = roster_scim::SortBy::parse("userName", None).unwrap();
    assert!(sort.validate(schema).is_ok());
}
