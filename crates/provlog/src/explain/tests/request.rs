//! Where the request went, its method, size, media type and syntax; Roster's failures.

use roster_store::Outcome;

use super::*;
use crate::testing::{ENTRA, OKTA, ONELOGIN, req};

const REQUEST_ID: &str = "0f6d2a9c-4b1e-4a53-9d7e-2f1c8b3a5e10";

#[test]
fn no_such_endpoint() {
    // The Tenant URL was pasted with a path of its own.
    let e = refused(
        req("GET", "/scim/Users").ua(ENTRA),
        404,
        None,
        "No such endpoint.",
    );
    check(
        &e,
        "Refused: no such endpoint",
        &["no SCIM endpoint at /scim/Users", "adds /Users and /Groups"],
        &["Entra's Admin Credentials → Tenant URL"],
    );
}

#[test]
fn user_not_found() {
    let e = refused(
        req("GET", "/Users/010101010101010101").ua(OKTA),
        404,
        None,
        "User 010101010101010101 not found",
    );
    check(
        &e,
        "Refused: user 010101010101010101 not found",
        &["Okta asked for user 010101010101010101, which does not exist"],
        &["provision it again"],
    );
    assert_eq!(
        (e.action.as_str(), e.resource_id.as_str()),
        ("get", "010101010101010101")
    );
}

#[test]
fn entra_updates_a_user_deleted_in_roster() {
    let e = refused(
        req("PATCH", &format!("/Users/{ADA}"))
            .ua(ENTRA)
            .json(json!({"schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        404,
        None,
        &format!("User {ADA} not found"),
    );
    check(
        &e,
        &format!("Refused: user {ADA} no longer exists"),
        &["tried to update user", "still remembers the id"],
        &["Provision on demand", "Restart provisioning"],
    );
    assert_eq!(e.outcome, Outcome::Refused);
    assert_eq!(e.action, "update");
}

#[test]
fn a_user_deleted_twice() {
    let e = refused(
        req("DELETE", &format!("/Users/{ADA}")).ua(ONELOGIN),
        404,
        None,
        &format!("User {ADA} not found"),
    );
    check(
        &e,
        &format!("Refused: user {ADA} already gone"),
        &["already gone"],
        &["Nothing to do"],
    );
}

#[test]
fn method_not_allowed() {
    let e = refused(
        req("PUT", "/Users")
            .ua(OKTA)
            .json(json!({"schemas": [USER], "userName": "x"})),
        405,
        None,
        "PUT is not allowed on this endpoint.",
    );
    check(
        &e,
        "Refused: PUT not allowed on /Users",
        &["without a resource id"],
        &["SCIM connector base URL"],
    );
}

#[test]
fn payload_too_large() {
    let e = refused(
        req("PATCH", &format!("/Groups/{SALES}")).ua(ENTRA).body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Add","path":"members","value":[{"value":"a"}"#),
        413,
        None,
        "The request body exceeds the limit of 1048576 bytes.",
    );
    check(
        &e,
        "Refused: request too large",
        &[
            "larger than 1,048,576 bytes (1 MiB)",
            "members sent all at once",
        ],
        &["fewer members per PATCH"],
    );
}

#[test]
fn too_many_bulk_operations() {
    let ops: Vec<_> = (0..1001)
        .map(|k| {
            json!({"method": "POST", "bulkId": format!("b{k}"), "path": "/Users",
                        "data": {"schemas": [USER], "userName": format!("bulk{k}@c.com")}})
        })
        .collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": ops}).to_string();
    let mut seen = req("POST", "/Bulk")
        .answer(
            413,
            &error(
                413,
                None,
                "A Bulk request may hold at most 1000 operations (maxOperations).",
            ),
        )
        .seen();
    seen.request_body = body.as_bytes()[..crate::BODY_LIMIT + 1].to_vec();
    let e = crate::entry(seen);
    check(
        &e,
        "Refused: too many Bulk operations",
        &[
            "held at least",
            "at most 1000 per request",
            "bulk.maxOperations",
        ],
        &["fewer operations per Bulk request"],
    );
}

#[test]
fn unsupported_media_type() {
    let e = refused(
        req("POST", "/Users")
            .ua(ONELOGIN)
            .body("userName=kate.jones%40example.com&password=hunter2"),
        415,
        None,
        "Send the body as application/scim+json or application/json, not text/plain.",
    );
    check(
        &e,
        "Refused: body sent as text/plain",
        &["sent as text/plain"],
        &["Content-Type: application/scim+json"],
    );
    assert!(!e.request_body.contains("hunter2"), "{}", e.request_body);
}

#[test]
fn body_that_is_not_json() {
    let e = refused(
        req("POST", "/Users").ua(ONELOGIN).body(r#"{"schemas": ["#),
        400,
        Some("invalidSyntax"),
        "The request body is not valid JSON: EOF while parsing a list at line 1 column 13",
    );
    check(
        &e,
        "Refused: body is not valid JSON",
        &["EOF while parsing a list at line 1 column 13"],
        &["SCIM JSON template"],
    );
}

#[test]
fn entra_pascal_case_ops_in_strict_mode() {
    let e = refused(
        req("PATCH", &format!("/Users/{ADA}"))
            .ua(ENTRA)
            .json(json!({"schemas": [PATCH],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        400,
        Some("invalidSyntax"),
        "Operations[0]: unknown op \"Replace\"; expected \"add\", \"remove\" or \"replace\" (in lower case)",
    );
    check(
        &e,
        "Refused: PATCH op Replace",
        &["\"Replace\"", "strict"],
        &["compatibility auto", "aadOptscim062020"],
    );
}

#[test]
fn several_authorization_headers() {
    let e = refused(
        req("GET", "/Users").ua(OKTA),
        400,
        Some("invalidSyntax"),
        "The request has more than one Authorization header; send exactly one.",
    );
    check(
        &e,
        "Refused: several Authorization headers",
        &["more than one"],
        &["proxy"],
    );
}

#[test]
fn request_timed_out() {
    let e = refused(
        req("POST", "/Users")
            .ua(ENTRA)
            .json(json!({"schemas": [USER], "userName": "ada@contoso.com"})),
        503,
        None,
        "The request took longer than 60 seconds and was abandoned; a write it held may or may not have been made. Try again.",
    );
    assert_eq!(e.outcome, Outcome::Failed);
    check(
        &e,
        "Failed: timed out after 60 s",
        &["after 60 seconds", "may or may not"],
        &["Retry-After", REQUEST_ID],
    );
}

#[test]
fn database_unavailable() {
    let e = refused(
        req("GET", "/Users").ua(OKTA),
        503,
        None,
        "The service is temporarily unavailable; retry later.",
    );
    check(
        &e,
        "Failed: database unavailable",
        &["database"],
        &["Okta retries", REQUEST_ID],
    );
}

#[test]
fn unreadable_settings() {
    let e = refused(
        req("GET", "/Users").ua(ENTRA),
        500,
        None,
        "This organisation's settings cannot be read; the operator has been told.",
    );
    check(
        &e,
        "Failed: organisation's settings unreadable",
        &["stored settings"],
        &[REQUEST_ID],
    );
}

#[test]
fn server_failure() {
    let e = refused(
        req("POST", "/Users")
            .ua(ENTRA)
            .json(json!({"schemas": [USER], "userName": "ada@contoso.com"})),
        500,
        None,
        "An internal error occurred.",
    );
    assert_eq!(e.outcome, Outcome::Failed);
    check(
        &e,
        "Failed: Roster failed",
        &["Roster failed while handling this request", REQUEST_ID],
        &[
            "Microsoft Entra ID retries",
            &format!("tell the operator the request id {REQUEST_ID}"),
        ],
    );
}
