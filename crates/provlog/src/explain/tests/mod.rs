//! The catalogue, one test per situation: a request as the identity provider sends it, and
//! Roster's real answer (the bodies were taken from a running `roster serve`).

mod auth;
mod data;
mod request;
mod values;

use roster_store::LogEntry;
use serde_json::json;

use crate::testing::Req;

const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ADA: &str = "93078bf2-5ef8-43c1-bf79-f8c2d23f3109";
const SALES: &str = "ba61adfb-74aa-4440-842b-f17f697707e9";

/// Roster's error body, as the server writes it (members in this order).
fn error(status: u16, scim_type: Option<&str>, detail: &str) -> String {
    let mut body = json!({"schemas": [ERROR], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    body.to_string()
}

/// The entry of `r` answered with Roster's error.
fn refused(r: Req, status: u16, scim_type: Option<&str>, detail: &str) -> LogEntry {
    r.answer(status, &error(status, scim_type, detail)).entry()
}

/// Asserts the entry's summary, and what its explanation and hint hold.
#[track_caller]
fn check(e: &LogEntry, summary: &str, explanation: &[&str], hint: &[&str]) {
    assert_eq!(e.summary, summary, "{e:#?}");
    crate::testing::holds(&e.explanation, explanation);
    crate::testing::holds(&e.hint, hint);
}
