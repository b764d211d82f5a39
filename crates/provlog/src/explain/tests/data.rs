//! Names taken, filters, PATCH paths, read-only attributes, versions.

use super::*;
use crate::testing::{ENTRA, OKTA, ONELOGIN, req};

const TAKEN: &str = "userName is already in use in this tenant.";

fn create_user(client: &str, user: serde_json::Value) -> crate::testing::Req {
    req("POST", "/Users").ua(client).json(user)
}

fn patch_user(client: &str, ops: serde_json::Value) -> crate::testing::Req {
    req("PATCH", &format!("/Users/{ADA}"))
        .ua(client)
        .json(json!({"schemas": [PATCH], "Operations": ops}))
}

#[test]
fn username_taken_when_entra_creates() {
    let e = refused(
        create_user(
            ENTRA,
            json!({"schemas": [USER], "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
                   "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee", "active": true}),
        ),
        409,
        Some("uniqueness"),
        TAKEN,
    );
    check(
        &e,
        "Refused: userName Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee already taken",
        &[
            "already taken by another user",
            "tried to create a new user",
            "without case",
        ],
        &[
            "Entra matches users on userName by default",
            "Matching precedence",
        ],
    );
}

/// The writer looked the name up: the explanation names the user who holds it, and says
/// when that user is deactivated (the same person, deprovisioned, is the usual story).
#[test]
fn username_taken_names_its_holder() {
    let held = |inactive| crate::Holder {
        id: "2819c223-7f76-453a-919d-413861904646".into(),
        name: "Ada@Contoso.com".into(),
        external_id: Some("701984".into()),
        inactive,
    };
    let ada = json!({"schemas": [USER], "userName": "ada@contoso.com"});
    let e = refused(
        create_user(ENTRA, ada.clone()).held_by(held(false)),
        409,
        Some("uniqueness"),
        TAKEN,
    );
    check(
        &e,
        "Refused: userName ada@contoso.com already taken",
        &[
            "taken by user 2819c223-7f76-453a-919d-413861904646 (Ada@Contoso.com, externalId 701984)",
        ],
        &["Matching precedence"],
    );
    assert!(!e.explanation.contains("deactivated"), "{e:#?}");
    // The entry is about the holder: a page about it, by its id, shows the refusal.
    assert_eq!(e.resource_id, "2819c223-7f76-453a-919d-413861904646");
    assert_eq!(e.resource_name, "ada@contoso.com");
    let e = refused(
        create_user(OKTA, ada).held_by(held(true)),
        409,
        Some("uniqueness"),
        TAKEN,
    );
    check(
        &e,
        "Refused: userName ada@contoso.com already taken",
        &["That user is deactivated"],
        &[],
    );
    // What the writer is asked to look up.
    let seen = create_user(
        OKTA,
        json!({"schemas": [USER], "userName": "ada@contoso.com"}),
    )
    .answer(409, &error(409, Some("uniqueness"), TAKEN))
    .seen();
    assert_eq!(
        crate::taken_name(&seen),
        Some((true, "ada@contoso.com".to_owned()))
    );
    let group = req("POST", "/Groups")
        .json(json!({"schemas": [GROUP], "displayName": "Sales"}))
        .answer(
            409,
            &error(
                409,
                Some("uniqueness"),
                "displayName is already in use in this tenant.",
            ),
        )
        .seen();
    assert_eq!(crate::taken_name(&group), Some((false, "Sales".to_owned())));
    let created = req("POST", "/Groups")
        .json(json!({"schemas": [GROUP], "displayName": "Sales"}))
        .answer(201, "{}")
        .seen();
    assert_eq!(crate::taken_name(&created), None);
}

#[test]
fn username_taken_when_okta_creates() {
    let e = refused(
        create_user(
            OKTA,
            json!({"schemas": [USER], "userName": "test.user@okta.local"}),
        ),
        409,
        Some("uniqueness"),
        TAKEN,
    );
    check(
        &e,
        "Refused: userName test.user@okta.local already taken",
        &["test.user@okta.local"],
        &["Import tab", "confirm the match"],
    );
}

#[test]
fn username_taken_by_a_rename() {
    let e = refused(
        req("PUT", &format!("/Users/{ADA}"))
            .ua(ONELOGIN)
            .json(json!({"schemas": [USER], "userName": "b@contoso.com"})),
        409,
        Some("uniqueness"),
        TAKEN,
    );
    check(
        &e,
        "Refused: userName b@contoso.com already taken",
        &[&format!("tried to rename user {ADA} to it")],
        &["rename or delete that user first"],
    );
}

#[test]
fn group_name_taken() {
    let e = refused(
        req("POST", "/Groups")
            .ua(OKTA)
            .json(json!({"schemas": [GROUP], "displayName": "sales"})),
        409,
        Some("uniqueness"),
        "displayName is already in use in this tenant.",
    );
    check(
        &e,
        "Refused: group name sales already taken",
        &["A group named sales already exists", "create another"],
        &["Push Groups", "link the Okta group"],
    );
}

#[test]
fn filter_on_an_unknown_attribute() {
    let e = refused(
        req("GET", "/Users?filter=foo+eq+%22x%22").ua(ENTRA),
        400,
        Some("invalidFilter"),
        "invalid filter \"foo eq \\\"x\\\"\" at position 0: unknown attribute \"foo\"",
    );
    check(
        &e,
        "Refused: filter on unknown attribute foo",
        &["filtered on foo (foo eq \"x\")"],
        &["Matching precedence"],
    );
}

#[test]
fn filter_on_the_password() {
    let e = refused(
        req("GET", "/Users?filter=password+eq+%22x%22"),
        400,
        Some("invalidFilter"),
        "invalid filter \"password eq \\\"x\\\"\" at position 0: password is never returned, so it cannot be filtered on",
    );
    check(
        &e,
        "Refused: filter or sort on password",
        &[
            "never shows password",
            "sent the filter password eq [redacted].",
        ],
        &["userName or externalId"],
    );
}

#[test]
fn malformed_filter() {
    let e = refused(
        req("GET", "/Users?filter=userName%20equals%20%22x%22").ua(OKTA),
        400,
        Some("invalidFilter"),
        "invalid filter \"userName equals \\\"x\\\"\" at position 9: expected an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr) after userName, found \"equals\"",
    );
    check(
        &e,
        "Refused: malformed filter",
        &["userName equals \"x\" could not be read: at position 9, expected an operator"],
        &["userName eq \"ada@contoso.com\""],
    );
}

#[test]
fn entra_unquoted_filter_value_in_strict_mode() {
    let e = refused(
        req("GET", "/Users?filter=externalId+eq+0a21f0f2").ua(ENTRA),
        400,
        Some("invalidFilter"),
        "invalid filter \"externalId eq 0a21f0f2\" at position 14: expected a JSON number (like 42, -1.5 or 6.02e23), found \"0a21f0f2\"",
    );
    check(
        &e,
        "Refused: filter value without quotes",
        &["unquoted"],
        &["compatibility auto"],
    );
}

#[test]
fn unsupported_patch_path() {
    let e = refused(
        patch_user(
            ENTRA,
            json!([{"op": "Replace", "path": "foo.bar", "value": "x"}]),
        ),
        400,
        Some("invalidPath"),
        "invalid path \"foo.bar\": no attribute \"foo\" in this resource type",
    );
    check(
        &e,
        "Refused: unsupported PATCH path foo.bar",
        &["foo.bar was refused: no attribute \"foo\" in this resource type"],
        &["remove the mapping to foo", "user-attributes"],
    );
}

#[test]
fn malformed_patch_path() {
    let e = refused(
        patch_user(
            OKTA,
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
        ),
        400,
        Some("invalidPath"),
        "invalid path \"emails[type eq\": at position 14: expected a value after 'eq'",
    );
    check(
        &e,
        "Refused: malformed PATCH path",
        &["emails[type eq could not be read: at position 14: expected a value after 'eq'"],
        &["RFC 7644", "Okta"],
    );
}

#[test]
fn patch_that_selects_nothing() {
    let e = refused(
        patch_user(
            OKTA,
            json!([{"op": "remove", "path": "emails[type eq \"work\"]"}]),
        ),
        400,
        Some("noTarget"),
        "emails[type eq \"work\"] selects no value",
    );
    check(
        &e,
        "Refused: PATCH selects nothing",
        &["emails[type eq \"work\"] selects no value"],
        &["Okta believes the user holds a value"],
    );
}

#[test]
fn read_only_attribute_changed() {
    let e = refused(
        patch_user(
            ENTRA,
            json!([{"op": "replace", "path": "id", "value": "x"}]),
        ),
        400,
        Some("mutability"),
        "id is readOnly and cannot be changed",
    );
    check(
        &e,
        "Refused: id cannot be changed",
        &[&format!("change id of user {ADA}, which is readOnly")],
        &["externalId"],
    );
}

#[test]
fn if_match_out_of_date() {
    let e = refused(
        req("PUT", &format!("/Users/{ADA}"))
            .ua(OKTA)
            .json(json!({"schemas": [USER], "userName": "ada@contoso.com"})),
        412,
        None,
        "The resource has changed since the version given in If-Match; read it again.",
    );
    check(
        &e,
        "Refused: changed since it was read",
        &["version of user ada@contoso.com (If-Match)"],
        &["read it again and retry"],
    );
}
