//! `entry` as a whole: what it keeps of what the edge saw, the outcome, the summary, the
//! redacted bodies, and the JSON the API and the export give.

use serde_json::json;

use super::*;
use crate::testing::{ENTRA, OKTA, holds, req};

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

#[test]
fn a_create_is_recorded_with_its_resource_and_without_the_password() {
    let mut seen = req("POST", "/Users")
        .ua(ENTRA)
        .json(
            json!({"schemas": [USER], "userName": "ada@contoso.com", "active": true,
                     "password": "Sup3r-secret-pass"}),
        )
        .answer_json(
            201,
            json!({"schemas": [USER], "id": "93078bf2-5ef8-43c1-bf79-f8c2d23f3109",
                   "userName": "ada@contoso.com", "active": true,
                   "meta": {"resourceType": "User", "version": "W/\"1\""}}),
        )
        .seen();
    seen.normalizations = vec!["string-boolean".into()];
    let e = entry(seen.clone());
    assert_eq!(e.seq, 0);
    assert_eq!(e.tenant_id, seen.tenant);
    assert_eq!(e.at, seen.at);
    assert_eq!(e.request_id, seen.request_id);
    assert_eq!(
        (e.method.as_str(), e.path.as_str(), e.status),
        ("POST", "/Users", 201)
    );
    assert_eq!(e.outcome, Outcome::Succeeded);
    assert_eq!(e.client, "entra");
    assert_eq!(e.credential, "Secret Token …9JbY");
    assert_eq!(e.action, "create");
    assert_eq!(e.resource_type, "User");
    assert_eq!(e.resource_id, "93078bf2-5ef8-43c1-bf79-f8c2d23f3109");
    assert_eq!(e.resource_name, "ada@contoso.com");
    assert_eq!(e.summary, "Created user ada@contoso.com");
    assert_eq!((e.explanation.as_str(), e.hint.as_str()), ("", ""));
    assert_eq!(e.scim_type, None);
    assert_eq!(e.normalizations, ["string-boolean"]);
    holds(
        &e.request_body,
        &[r#""password":"[redacted]""#, "ada@contoso.com"],
    );
    assert!(!e.request_body.contains("Sup3r"), "{}", e.request_body);
    holds(&e.response_body, &["93078bf2"]);
}

#[test]
fn a_token_sent_in_the_query_is_kept_nowhere_in_the_entry() {
    let token = "rst_pgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY";
    let e = req("GET", &format!("/Users?count=1&access_token={token}"))
        .ua(ENTRA)
        .answer_json(
            200,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                   "totalResults": 0, "Resources": []}),
        )
        .entry();
    assert_eq!(e.query, "count=1&access_token=[redacted]");
    let stored = entry_json(&e).to_string();
    assert!(!stored.contains("pgtXHn5a"), "{stored}");
}

#[test]
fn a_refusal_says_so_with_its_scim_type_explanation_and_hint() {
    let e = req("POST", "/Users")
        .ua(OKTA)
        .json(json!({"schemas": [USER], "userName": "ada@contoso.com"}))
        .answer_json(
            409,
            json!({"schemas": [ERROR], "status": "409",
                   "detail": "userName is already in use in this tenant.", "scimType": "uniqueness"}),
        )
        .entry();
    assert_eq!(e.outcome, Outcome::Refused);
    assert_eq!(e.scim_type.as_deref(), Some("uniqueness"));
    assert_eq!(e.summary, "Refused: userName ada@contoso.com already taken");
    assert_eq!(
        (e.action.as_str(), e.resource_name.as_str()),
        ("create", "ada@contoso.com")
    );
    assert!(!e.explanation.is_empty() && !e.hint.is_empty());
}

#[test]
fn outcomes_follow_the_status() {
    let status = |s: u16, body: &str| req("GET", "/Users/1").answer(s, body).entry().outcome;
    assert_eq!(status(200, "{}"), Outcome::Succeeded);
    assert_eq!(status(204, ""), Outcome::Succeeded);
    // A user that is not there is a refusal with an explanation, not a success.
    let missing = req("GET", "/Users/7fce0092")
        .answer(404, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"404","detail":"User 7fce0092 not found"}"#)
        .entry();
    assert_eq!(missing.outcome, Outcome::Refused);
    assert_eq!(missing.summary, "Refused: user 7fce0092 not found");
    // A lookup that finds nothing is an answer.
    let none = req("GET", "/Users?filter=userName+eq+%22x%22")
        .answer(200, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"itemsPerPage":0,"startIndex":1,"Resources":[]}"#)
        .entry();
    assert_eq!(none.outcome, Outcome::Succeeded);
    assert_eq!(none.summary, r#"Looked up userName eq "x": not found"#);
    let failed = req("GET", "/Users")
        .answer(500, r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"status":"500","detail":"An internal error occurred."}"#)
        .entry();
    assert_eq!(failed.outcome, Outcome::Failed);
    assert_eq!(failed.summary, "Failed: Roster failed");
}

#[test]
fn the_user_agent_is_cut_at_256_characters() {
    let agent = format!("Okta SCIM Client 1.0.0 {}", "é".repeat(300));
    let e = req("GET", "/Users").ua(&agent).entry();
    assert_eq!(e.user_agent.chars().count(), 256);
    assert_eq!(e.client, "okta");
}

#[test]
fn the_token_endpoint_form_is_redacted() {
    let e = req("POST", "/oauth/token")
        .body("grant_type=client_credentials&client_id=rci_dfa00e3d0adddc65a8d725a1f92a7205&client_secret=rcs_z96QvoG4vaiUsHKwfdmocQnTjQw5PWsbCLirLQPq74A&scope=scim")
        .answer(200, r#"{"access_token":"rat_NfhsjlY5J5exK7VjX-UGUVfOBFTjBL4r-WfFcwRxpcw","token_type":"Bearer","expires_in":3600,"scope":"scim"}"#)
        .entry();
    assert_eq!(e.action, "token");
    assert_eq!(
        e.summary,
        "Issued an access token to client rci_dfa00e3d0adddc65a8d725a1f92a7205 (valid for 60 minutes)"
    );
    holds(
        &e.request_body,
        &["client_secret=[redacted]", "client_id=rci_dfa00e3d"],
    );
    holds(&e.response_body, &[r#""access_token":"[redacted]""#]);
    assert!(!e.request_body.contains("rcs_z96") && !e.response_body.contains("rat_Nfhs"));
}

#[test]
fn a_cut_request_is_stored_with_its_marker_and_still_described() {
    let members: Vec<_> = (0..600)
        .map(|i| json!({"value": format!("5e1b2c3d-0000-4000-8000-{i:012}")}))
        .collect();
    let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "members", "value": members}]})
    .to_string();
    assert!(body.len() > BODY_LIMIT);
    let mut seen = req("PATCH", "/Groups/ba61adfb-74aa-4440-842b-f17f697707e9")
        .ua(ENTRA)
        .answer(204, "")
        .seen();
    seen.request_body = body.as_bytes()[..BODY_LIMIT + 1].to_vec();
    let e = entry(seen);
    assert!(e.request_body.ends_with("… [cut at 16 KiB]"));
    assert!(
        e.summary.starts_with("Added at least 3") && e.summary.contains("members to ba61adfb"),
        "{}",
        e.summary
    );
}

#[test]
fn the_json_of_an_entry_has_the_api_shape() {
    let e = req("DELETE", "/Users/93078bf2")
        .ua(OKTA)
        .answer(204, "")
        .entry();
    let j = entry_json(&e);
    assert_eq!(j["cursor"], "0");
    assert_eq!(j["time"], "2026-12-04T09:30:00Z");
    assert_eq!(j["outcome"], "succeeded");
    assert_eq!(
        j["resource"],
        json!({"type": "User", "id": "93078bf2", "name": ""})
    );
    assert_eq!(j["summary"], "Deleted user 93078bf2");
    assert_eq!(j["scim_type"], serde_json::Value::Null);
}

#[test]
fn every_action_and_client_is_one_the_filters_offer() {
    let list = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                      "totalResults": 0, "Resources": []});
    let requests = [
        req("POST", "/Users").json(json!({"userName": "ada"})),
        req("PUT", "/Users/1").json(json!({"userName": "ada"})),
        req("PATCH", "/Groups/1").json(json!({"Operations": []})),
        req("DELETE", "/Users/1").answer(204, ""),
        req("GET", "/Users/1"),
        req("GET", "/Groups").answer_json(200, list.clone()),
        req("GET", "/Users?filter=userName+eq+%22ada%22").answer_json(200, list.clone()),
        req("POST", "/Users/.search").json(json!({"filter": "userName eq \"ada\""})),
        req("POST", "/Bulk").json(json!({"Operations": []})),
        req("POST", "/oauth/token").body("grant_type=client_credentials"),
        req("GET", "/ServiceProviderConfig"),
        req("GET", "/Foo"),
    ];
    let mut actions: Vec<String> = requests.into_iter().map(|r| r.entry().action).collect();
    actions.sort();
    actions.dedup();
    let mut offered = ACTIONS.map(str::to_owned).to_vec();
    offered.sort();
    assert_eq!(actions, offered);
    for agent in [ENTRA, OKTA, "OneLogin SCIM", "curl/8", ""] {
        let client = req("GET", "/Users/1").ua(agent).entry().client;
        assert!(CLIENTS.contains(&client.as_str()), "{agent}: {client}");
    }
}

#[test]
fn what_the_log_writes_from_a_request_repeats_no_secret() {
    // A password of the wrong type: the explanation names the attribute, not the value.
    let e = req("POST", "/Users")
        .ua(OKTA)
        .json(json!({"schemas": [USER], "userName": "ada", "password": ["Sup3r-secret"]}))
        .answer_json(
            400,
            json!({"schemas": [ERROR], "status": "400", "scimType": "invalidValue",
                   "detail": "password: expected a single value, not an array"}),
        )
        .entry();
    let stored = entry_json(&e).to_string();
    assert!(!stored.contains("Sup3r"), "{stored}");
    assert!(e.explanation.contains("password"), "{e:#?}");
    // A search whose filter names a token: the summary and the name lose it.
    let token = "rst_pgtXHn5aGwcTrvPiu2qr5jtOWQebSDVcLpZJAoL9JbY";
    let e = req("POST", "/Users/.search")
        .json(json!({"filter": format!("userName eq \"{token}\"")}))
        .answer_json(
            200,
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                   "totalResults": 0, "Resources": []}),
        )
        .entry();
    let stored = entry_json(&e).to_string();
    assert!(!stored.contains("pgtXHn5a"), "{stored}");
    assert!(e.summary.starts_with("Looked up userName eq"), "{e:#?}");
}
