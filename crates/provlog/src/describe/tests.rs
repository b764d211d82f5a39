//! What requests did, as identity providers send them: creates, lookups, PATCHes in each
//! provider's dialect, lists, Bulk, discovery, the token endpoint.

use serde_json::{Value, json};

use super::*;
use crate::testing::{ENTRA, OKTA, ONELOGIN, Req, req};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const LIST: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ADA: &str = "93078bf2-5ef8-43c1-bf79-f8c2d23f3109";
const SALES: &str = "ba61adfb-74aa-4440-842b-f17f697707e9";

fn described(r: Req) -> Description {
    let seen = r.seen();
    describe(&View::new(&seen))
}

fn patch(ops: Value) -> Value {
    json!({"schemas": [PATCH], "Operations": ops})
}

fn list(total: u64, resources: Value) -> Value {
    json!({"schemas": [LIST], "totalResults": total, "itemsPerPage": resources.as_array().map_or(0, Vec::len),
           "startIndex": 1, "Resources": resources})
}

#[test]
fn entra_deactivates_a_user() {
    let d = described(
        req("PATCH", &format!("/Users/{ADA}"))
            .ua(ENTRA)
            .json(patch(json!([{"op": "Replace", "path": "active", "value": "False"}])))
            .answer_json(200, json!({"schemas": [USER], "id": ADA, "userName": "ada@contoso.com", "active": false})),
    );
    assert_eq!(d.summary, "Deactivated user ada@contoso.com");
    assert_eq!(
        (d.action, d.id.as_str(), d.name.as_str()),
        ("update", ADA, "ada@contoso.com")
    );
    assert_eq!(d.kind, Some(Kind::User));
}

#[test]
fn okta_deactivates_a_user_with_a_whole_put() {
    let d = described(
        req("PUT", &format!("/Users/{ADA}"))
            .ua(OKTA)
            .json(json!({
            "schemas": [USER], "id": ADA, "userName": "jane.doe@okta.local",
            "name": {"givenName": "Jane", "familyName": "Doe"}, "active": false}))
            .answer(200, "{}"),
    );
    assert_eq!(d.summary, "Deactivated user jane.doe@okta.local");
    assert_eq!(d.action, "replace");
    let d =
        described(req("PUT", &format!("/Users/{ADA}")).ua(ONELOGIN).json(
            json!({"schemas": [USER], "userName": "kate.jones@example.com", "active": true}),
        ));
    assert_eq!(d.summary, "Replaced user kate.jones@example.com");
}

#[test]
fn a_user_update_names_its_attributes() {
    let d = described(
        req("PATCH", &format!("/Users/{ADA}")).ua(ENTRA).json(patch(json!([
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "ada@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Lovelace"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "R&D"}
        ]))).answer(204, ""),
    );
    assert_eq!(
        d.summary,
        format!("Updated user {ADA}: emails[type eq \"work\"].value, name.familyName, department")
    );
    let d = described(req("PATCH", &format!("/Users/{ADA}")).json(patch(
        json!([{"op": "replace", "path": "userName", "value": "ada.l@contoso.com"}]),
    )));
    assert_eq!(
        d.summary,
        format!("Renamed user {ADA} to ada.l@contoso.com")
    );
    let d = described(req("PATCH", &format!("/Users/{ADA}")).json(patch(json!([
        {"op": "replace", "value": {"active": false, "title": "Former"}}
    ]))));
    assert_eq!(d.summary, format!("Deactivated user {ADA}; changed title"));
}

#[test]
fn group_members_are_counted() {
    let add = |v: &str| json!({"value": v});
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(ENTRA)
            .json(patch(json!([
                {"op": "Add", "path": "members", "value": [add("a"), add("b"), add("c")]},
                {"op": "Remove", "path": "members[value eq \"d\"]"}
            ])))
            .answer_json(
                200,
                json!({"schemas": [GROUP], "id": SALES, "displayName": "Sales"}),
            ),
    );
    assert_eq!(d.summary, "Added 3 members to Sales, removed 1");
    assert_eq!((d.name.as_str(), d.id.as_str()), ("Sales", SALES));
    // Without a body in the answer, the group is named by its id.
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(ENTRA)
            .json(patch(
                json!([{"op": "Remove", "path": "members", "value": [add("a")]}]),
            ))
            .answer(204, ""),
    );
    assert_eq!(d.summary, format!("Removed 1 member from {SALES}"));
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(OKTA)
            .json(patch(
                json!([{"op": "replace", "path": "members", "value": []}]),
            )),
    );
    assert_eq!(d.summary, format!("Removed every member of {SALES}"));
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(OKTA)
            .json(patch(json!([
                {"op": "remove", "path": "members[value eq \"a\"]"},
                {"op": "add", "path": "members", "value": [add("b")]},
                {"op": "replace", "value": {"id": SALES, "displayName": "Test SCIMv2"}}
            ]))),
    );
    assert_eq!(
        d.summary,
        "Added 1 member to Test SCIMv2, removed 1; name set to Test SCIMv2"
    );
}

#[test]
fn a_group_is_renamed() {
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(ENTRA)
            .json(patch(
                json!([{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]),
            ))
            .answer(204, ""),
    );
    assert_eq!(d.summary, format!("Renamed group {SALES} to Sales EMEA"));
    assert_eq!(d.name, "Sales EMEA");
}

#[test]
fn creates_say_what_they_made() {
    let d = described(
        req("POST", "/Groups")
            .ua(OKTA)
            .json(json!({"schemas": [GROUP], "displayName": "Engineering",
                         "members": [{"value": "a"}, {"value": "b"}]}))
            .answer_json(
                201,
                json!({"schemas": [GROUP], "id": SALES, "displayName": "Engineering"}),
            ),
    );
    assert_eq!(d.summary, "Created group Engineering with 2 members");
    assert_eq!((d.action, d.id.as_str()), ("create", SALES));
    let d =
        described(req("POST", "/Users").json(
            json!({"schemas": [USER], "userName": "bjensen@testuser.com", "active": "False"}),
        ));
    assert_eq!(d.summary, "Created user bjensen@testuser.com (inactive)");
}

#[test]
fn lookups_say_what_they_found() {
    let d = described(
        req(
            "GET",
            "/Users?filter=userName+eq+%227fce0092-d52e-4f76-b727-3955bd72c939%22",
        )
        .ua(ENTRA)
        .answer_json(200, list(0, json!([]))),
    );
    assert_eq!(
        d.summary,
        "Looked up userName eq \"7fce0092-d52e-4f76-b727-3955bd72c939\": not found (Entra's Test Connection looks up a random id)"
    );
    assert_eq!(
        (d.action, d.name.as_str()),
        ("search", "7fce0092-d52e-4f76-b727-3955bd72c939")
    );
    let d = described(
        req(
            "GET",
            "/Users?filter=externalId+eq+0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        )
        .ua(ENTRA)
        .answer_json(
            200,
            list(1, json!([{"id": ADA, "userName": "ada@contoso.com"}])),
        ),
    );
    assert_eq!(
        d.summary,
        "Looked up externalId eq \"0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef\": found 1 user (ada@contoso.com)"
    );
    assert_eq!((d.id.as_str(), d.name.as_str()), (ADA, "ada@contoso.com"));
    let d = described(
        req(
            "GET",
            "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100",
        )
        .ua(OKTA)
        .answer_json(200, list(0, json!([]))),
    );
    assert_eq!(
        d.summary,
        "Looked up displayName eq \"Test SCIMv2\": not found"
    );
    let d = described(
        req("GET", "/Users?filter=title+eq+%22x%22+and+active+eq+true")
            .answer_json(200, list(3, json!([{}, {}, {}]))),
    );
    assert_eq!(
        d.summary,
        "Searched users where title eq \"x\" and active eq true: found 3 users"
    );
}

#[test]
fn lists_say_which_page() {
    let d = described(
        req("GET", "/Users?count=1&startIndex=1")
            .ua(OKTA)
            .answer_json(200, list(250, json!([{"id": ADA}]))),
    );
    assert_eq!(d.summary, "Listed users (page of 1 of 250)");
    assert_eq!((d.action, d.id.as_str()), ("list", ""));
    let d = described(
        req("GET", "/Groups?startIndex=101&count=100")
            .answer_json(200, list(150, json!(vec![json!({}); 50]))),
    );
    assert_eq!(d.summary, "Listed groups (page of 50 of 150, from 101)");
}

#[test]
fn reads_deletes_bulk_discovery_and_the_rest() {
    let d = described(
        req("GET", &format!("/Users/{ADA}"))
            .answer_json(200, json!({"id": ADA, "userName": "ada@contoso.com"})),
    );
    assert_eq!(
        (d.action, d.summary.as_str()),
        ("get", "Read user ada@contoso.com")
    );
    let d = described(req("DELETE", &format!("/Groups/{SALES}")).answer(204, ""));
    assert_eq!(
        (d.action, d.summary),
        ("delete", format!("Deleted group {SALES}"))
    );
    let d = described(
        req("POST", "/Bulk")
            .json(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": [
                {"method": "POST", "bulkId": "b1", "path": "/Users", "data": {"userName": "a"}},
                {"method": "DELETE", "path": "/Users/nope"}]}))
            .answer_json(200, json!({"Operations": [{"method": "POST", "status": "201"}, {"method": "DELETE", "status": "404"}]})),
    );
    assert_eq!(
        (d.action, d.summary.as_str()),
        (
            "bulk",
            "Bulk: 2 operations (1 POST, 1 DELETE): 1 succeeded, 1 failed"
        )
    );
    let d = described(req("GET", "/ServiceProviderConfig"));
    assert_eq!(
        (d.action, d.summary.as_str()),
        (
            "discovery",
            "Read the service's configuration (ServiceProviderConfig)"
        )
    );
    let d = described(
        req("POST", "/Users/.search")
            .json(json!({"filter": "userName eq \"a\""}))
            .answer_json(200, list(0, json!([]))),
    );
    assert_eq!(
        (d.action, d.summary.as_str()),
        ("search", "Looked up userName eq \"a\": not found")
    );
    let d = described(req("GET", "/Foo"));
    assert_eq!((d.action, d.summary.as_str()), ("other", "GET /Foo"));
}

#[test]
fn eq_filters_are_read_quoted_or_not() {
    assert_eq!(
        simple_eq(r#"userName eq "a b""#),
        Some(("userName", "a b".to_owned()))
    );
    assert_eq!(
        simple_eq("externalId eq 0a21"),
        Some(("externalId", "0a21".to_owned()))
    );
    assert_eq!(simple_eq(r#"userName eq "a" or userName eq "b""#), None);
    assert_eq!(simple_eq(r#"userName sw "a""#), None);
}

/// A group PATCH answered 204 and a DELETE carry no name: the handler's (`Seen::subject`)
/// names the resource, as an administrator knows it.
#[test]
fn a_resource_is_named_by_the_handler_when_the_answer_does_not() {
    let d = described(
        req("PATCH", &format!("/Groups/{SALES}"))
            .ua(ENTRA)
            .json(patch(json!([
                {"op": "Add", "path": "members", "value": [{"value": "a"}, {"value": "b"}, {"value": "c"}]},
                {"op": "Remove", "path": "members", "value": [{"value": "d"}]}
            ])))
            .answer(204, "")
            .subject("Sales"),
    );
    assert_eq!(d.summary, "Added 3 members to Sales, removed 1");
    assert_eq!((d.id.as_str(), d.name.as_str()), (SALES, "Sales"));
    let d = described(
        req("DELETE", &format!("/Users/{ADA}"))
            .answer(204, "")
            .subject("ada@contoso.com"),
    );
    assert_eq!(d.summary, "Deleted user ada@contoso.com");
    assert_eq!(d.name, "ada@contoso.com");
    let d = described(req("DELETE", &format!("/Users/{ADA}")).answer(404, ""));
    assert_eq!(d.summary, format!("Deleted user {ADA}"));
}
