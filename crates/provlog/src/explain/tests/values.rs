//! Values refused: missing, unknown, of the wrong type, invisible characters, limits,
//! unknown group members.

use super::*;
use crate::testing::{ENTRA, OKTA, ONELOGIN, Req, req};

const NOBODY: &str = "00000000-0000-0000-0000-000000000001";

fn create_user(client: &str, user: serde_json::Value) -> Req {
    req("POST", "/Users").ua(client).json(user)
}

fn patch_user(client: &str, ops: serde_json::Value) -> Req {
    req("PATCH", &format!("/Users/{ADA}"))
        .ua(client)
        .json(json!({"schemas": [PATCH], "Operations": ops}))
}

#[test]
fn required_username_missing_from_entra() {
    let e = refused(
        create_user(
            ENTRA,
            json!({"schemas": [USER], "displayName": "Ada Lovelace"}),
        ),
        400,
        Some("invalidValue"),
        "userName: is required",
    );
    check(
        &e,
        "Refused: userName missing",
        &["has no userName"],
        &["userPrincipalName → userName"],
    );
}

#[test]
fn required_username_missing_from_onelogin() {
    let e = refused(
        create_user(
            ONELOGIN,
            json!({"schemas": [USER], "userName": null, "name": {"givenName": "Kate"}}),
        ),
        400,
        Some("invalidValue"),
        "userName: is required",
    );
    check(
        &e,
        "Refused: userName missing",
        &["user has no userName"],
        &["SCIM JSON template", "scimusername"],
    );
}

#[test]
fn wrong_type_names_the_attribute_and_the_value() {
    let e = refused(
        patch_user(
            ENTRA,
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
        ),
        400,
        Some("invalidValue"),
        "active: expected a boolean",
    );
    check(
        &e,
        "Refused: active has the wrong type",
        &["active has the wrong type: Roster expects a boolean, and the request sent \"maybe\""],
        &["Provisioning → Mappings → the target attribute active"],
    );
}

#[test]
fn wrong_type_inside_a_multi_valued_attribute() {
    let e = refused(
        create_user(
            OKTA,
            json!({"schemas": [USER], "userName": "e@c.com",
                                 "emails": [{"value": "e@c.com", "primary": "yes"}]}),
        ),
        400,
        Some("invalidValue"),
        "emails[0].primary: expected a boolean",
    );
    check(
        &e,
        "Refused: emails[0].primary has the wrong type",
        &["the request sent \"yes\""],
        &["Profile Editor"],
    );
}

#[test]
fn wrong_type_of_an_extension_attribute() {
    let enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let e = refused(
        create_user(
            ONELOGIN,
            json!({"schemas": [USER, enterprise], "userName": "m@c.com",
                                     enterprise: {"manager": "bob"}}),
        ),
        400,
        Some("invalidValue"),
        &format!(
            "{enterprise}:manager: expected an object with the sub-attributes value, $ref, displayName"
        ),
    );
    check(
        &e,
        &format!("Refused: {enterprise}:manager has the wrong type"),
        &[
            "Roster expects an object with the sub-attributes value, $ref, displayName, and the request sent \"bob\"",
        ],
        &["SCIM JSON template"],
    );
}

#[test]
fn entra_string_booleans_in_strict_mode() {
    let e = refused(
        patch_user(
            ENTRA,
            json!([{"op": "replace", "path": "active", "value": "False"}]),
        ),
        400,
        Some("invalidValue"),
        "active: expected a boolean",
    );
    check(
        &e,
        "Refused: active is a string, not a boolean",
        &["sent the string \"False\"", "compatibility is strict"],
        &["compatibility auto", "aadOptscim062020"],
    );
}

#[test]
fn invisible_character_in_a_username() {
    let e = refused(
        create_user(
            OKTA,
            json!({"schemas": [USER], "userName": "b\u{200d}@c.com"}),
        ),
        400,
        Some("invalidValue"),
        "userName: must not contain invisible formatting characters (U+200D at position 2)",
    );
    check(
        &e,
        "Refused: userName with invisible formatting characters",
        &[
            "userName \"b<U+200D>@c.com\"",
            "U+200D (a zero-width joiner) at position 2",
        ],
        &["retype it without the invisible character"],
    );
}

#[test]
fn white_space_at_the_start_of_a_username() {
    let e = refused(
        create_user(ENTRA, json!({"schemas": [USER], "userName": " lead@c.com"})),
        400,
        Some("invalidValue"),
        "userName: must not begin with white space (U+0020 at position 1)",
    );
    check(
        &e,
        "Refused: userName with white space at its beginning",
        &["U+0020 (a space) at position 1"],
        &["Provision on demand"],
    );
}

#[test]
fn name_too_long() {
    let e = refused(
        create_user(
            OKTA,
            json!({"schemas": [USER], "userName": "a".repeat(300)}),
        ),
        400,
        Some("invalidValue"),
        "userName: must be at most 256 characters long (it has 300)",
    );
    check(
        &e,
        "Refused: userName refused",
        &["must be at most 256 characters long (it has 300)"],
        &["Okta"],
    );
}

#[test]
fn too_many_values() {
    let emails: Vec<_> = (0..101)
        .map(|k| json!({"value": format!("a{k}@c.com")}))
        .collect();
    let e = refused(
        create_user(
            ENTRA,
            json!({"schemas": [USER], "userName": "many@c.com", "emails": emails}),
        ),
        400,
        Some("invalidValue"),
        "emails: 101 values were given; at most 100 are accepted per multi-valued attribute",
    );
    check(
        &e,
        "Refused: too many values in emails",
        &["emails has 101 values; Roster accepts at most 100"],
        &["ROSTER_MAX_VALUES_PER_ATTRIBUTE"],
    );
}

#[test]
fn resource_too_large() {
    let e = refused(
        create_user(
            OKTA,
            json!({"schemas": [USER], "userName": "big@c.com", "displayName": "x".repeat(70_000)}),
        ),
        400,
        Some("invalidValue"),
        ": the resource is 70098 bytes of JSON; at most 65536 bytes are accepted per resource",
    );
    check(
        &e,
        "Refused: user too large",
        &["70098 bytes as stored JSON", "at most 65536 bytes per user"],
        &["ROSTER_MAX_RESOURCE_BYTES"],
    );
}

#[test]
fn unknown_group_member_from_entra() {
    let e = refused(
        req("POST", "/Groups")
            .ua(ENTRA)
            .json(json!({"schemas": [GROUP], "displayName": "Ops",
                                                     "members": [{"value": NOBODY}]})),
        400,
        Some("invalidValue"),
        &format!("members: {NOBODY} is not a user or group of this tenant"),
    );
    check(
        &e,
        &format!("Refused: unknown member {NOBODY}"),
        &[
            &format!("{NOBODY} to be a member of group Ops"),
            "never provisioned here",
        ],
        &["assigned to the app", "unknown-members"],
    );
}

#[test]
fn unknown_group_member_added_by_okta() {
    let e = refused(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(OKTA)
            .json(json!({"schemas": [PATCH],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": NOBODY}]}]})),
        400,
        Some("invalidValue"),
        &format!("members: {NOBODY} is not a user or group of this tenant"),
    );
    check(
        &e,
        &format!("Refused: unknown member {NOBODY}"),
        &[&format!("member of group {SALES}")],
        &["Assignments", "Push Now"],
    );
}

#[test]
fn unknown_attribute_in_strict_mode() {
    let e = refused(
        create_user(
            ENTRA,
            json!({"schemas": [USER], "userName": "q@c.com", "foo": "bar"}),
        ),
        400,
        Some("invalidValue"),
        "foo: unknown attribute",
    );
    check(
        &e,
        "Refused: unknown attribute foo",
        &["sets foo"],
        &["user-attributes"],
    );
}

#[test]
fn an_unrecognised_invalid_value_still_names_the_value() {
    let e = refused(
        req("GET", "/Users?count=abc"),
        400,
        Some("invalidValue"),
        "count: \"abc\" is not an integer",
    );
    check(
        &e,
        "Refused: count: \"abc\" is not an integer",
        &["count was refused"],
        &["count"],
    );
}
