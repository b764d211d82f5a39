//! Look-alike names (issue 14, point 7): spellings of one name that differ only in Unicode
//! normalisation, width, ligatures, the kind of space or case are one name; names with
//! invisible or control characters, white space at the ends, or 100,000 characters are
//! refused. Over HTTP on loopback, as an identity provider would find it.

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Percent-encodes a filter for a query string (every byte but the unreserved ones).
fn filter_query(resource: &str, filter: &str) -> String {
    let mut q = String::new();
    for b in filter.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            q.push(char::from(b));
        } else {
            q.push_str(&format!("%{b:02X}"));
        }
    }
    format!("/{resource}?filter={q}")
}

/// `"value"` as a filter's string literal.
fn literal(value: &str) -> String {
    serde_json::to_string(value).expect("a string")
}

/// The ids a filter finds.
async fn found(app: &TestApp, t: &TestTenant, resource: &str, filter: &str) -> Vec<String> {
    let r = app.get(t, &filter_query(resource, filter)).await;
    assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
    r.body["Resources"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["id"].as_str().expect("id").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

async fn total(app: &TestApp, t: &TestTenant, resource: &str) -> u64 {
    let r = app.get(t, &format!("/{resource}")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["totalResults"].as_u64().expect("totalResults")
}

/// ASCII letters and symbols in their full-width forms (U+FF01..U+FF5E).
fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(u32::from(c) + 0xFEE0).expect("a full-width form"),
            c => c,
        })
        .collect()
}

/// The pairs of the issue that are one name: the second spelling of each must find the user
/// created with the first, and must not create another.
fn same_name_pairs() -> Vec<(&'static str, String, String)> {
    vec![
        (
            "NFC and NFD",
            "jos\u{e9}@x.example".into(),
            "jose\u{301}@x.example".into(),
        ),
        (
            "full-width letters",
            "wide@x.example".into(),
            full_width("wide@x.example"),
        ),
        (
            "the fi ligature",
            "finn@x.example".into(),
            "\u{fb01}nn@x.example".into(),
        ),
        (
            "a no-break space",
            "Ada Lovelace".into(),
            "Ada\u{a0}Lovelace".into(),
        ),
        (
            "case and NFD",
            "\u{c9}mile@x.example".into(),
            "e\u{301}MILE@X.EXAMPLE".into(),
        ),
    ]
}

#[tokio::test]
async fn a_look_alike_user_name_is_the_same_user_and_not_created_twice() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    for (what, first, second) in same_name_pairs() {
        let id = app.create_user(&t, &first).await;
        let r = app.post(&t, "/Users", user(&second)).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
        // Entra and Okta look a user up by userName before creating it.
        assert_eq!(
            found(
                &app,
                &t,
                "Users",
                &format!("userName eq {}", literal(&second))
            )
            .await,
            vec![id.clone()],
            "{what}: userName eq the second spelling"
        );
        assert_eq!(
            found(
                &app,
                &t,
                "Users",
                &format!("userName eq {}", literal(&first))
            )
            .await,
            vec![id],
            "{what}: userName eq the first spelling"
        );
    }
    assert_eq!(total(&app, &t, "Users").await, 5);
}

#[tokio::test]
async fn look_alike_spellings_match_in_starts_with_contains_and_ends_with() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let jose = app.create_user(&t, "jos\u{e9}.finley@x.example").await;
    for filter in [
        "userName sw \"JOSE\u{301}\"",
        "userName co \"\u{fb01}n\"",
        "userName co \"E\u{301}.FI\"",
        "userName ew \"\u{ff20}x.example\"",
        "emails.value sw \"jose\u{301}\"",
        "emails[value eq \"JOSE\u{301}.\u{fb01}NLEY@x.example\"]",
    ] {
        assert_eq!(
            found(&app, &t, "Users", filter).await,
            vec![jose.clone()],
            "{filter}"
        );
    }
}

#[tokio::test]
async fn user_names_with_invisible_or_control_characters_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    app.create_user(&t, "ada@x.example").await;
    let refused: Vec<(String, &str)> = vec![
        (
            "ada\u{200d}@x.example".into(),
            "invisible formatting characters (U+200D at position 4)",
        ),
        (
            "ada\u{200b}@x.example".into(),
            "invisible formatting characters (U+200B at position 4)",
        ),
        (
            "\u{200f}ada@x.example".into(),
            "invisible formatting characters (U+200F at position 1)",
        ),
        (
            "\u{202e}ada@x.example".into(),
            "invisible formatting characters (U+202E at position 1)",
        ),
        (
            "\u{feff}ada@x.example".into(),
            "invisible formatting characters (U+FEFF at position 1)",
        ),
        (
            "a\u{ad}da@x.example".into(),
            "invisible formatting characters (U+00AD at position 2)",
        ),
        (
            " ada@x.example".into(),
            "must not begin with white space (U+0020 at position 1)",
        ),
        (
            "ada@x.example ".into(),
            "must not end with white space (U+0020 at position 14)",
        ),
        (
            "\u{a0}ada@x.example".into(),
            "must not begin with white space (U+00A0 at position 1)",
        ),
        (
            "ada@x.example\n".into(),
            "control characters (U+000A at position 14)",
        ),
        (
            "ada\0@x.example".into(),
            "control characters (U+0000 at position 4)",
        ),
        (
            "ada\u{1b}[31m@x.example".into(),
            "control characters (U+001B at position 4)",
        ),
        ("     ".into(), "must not be empty or only white space"),
        (
            "x".repeat(100_000),
            "must be at most 256 characters long (it has 100000)",
        ),
    ];
    for (name, reason) in &refused {
        let r = app.post(&t, "/Users", user(name)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("userName") && detail.contains(reason),
            "{name:?}: {detail}"
        );
    }
    // Nothing of them was stored: only the first user is there.
    assert_eq!(total(&app, &t, "Users").await, 1);

    // Bulk goes through the same rules.
    let r = app
        .post(
            &t,
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("ada\u{200d}@x.example")},
                ]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["Operations"][0]["status"], "400", "{}", r.body);
    assert_eq!(total(&app, &t, "Users").await, 1);
}

#[tokio::test]
async fn renaming_a_user_to_a_refused_name_changes_nothing() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let id = app.create_user(&t, "ada@x.example").await;
    let path = format!("/Users/{id}");
    for bad in ["ada\u{200d}@x.example", "ada@x.example\n", " ada@x.example"] {
        let r = app
            .patch(
                &t,
                &path,
                patch_op(json!([{"op": "replace", "path": "userName", "value": bad}])),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        // Entra's path-less form.
        let r = app
            .patch(
                &t,
                &path,
                patch_op(json!([{"op": "replace", "value": {"userName": bad}}])),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let r = app.put(&t, &path, user(bad)).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    let r = app.get(&t, &path).await;
    assert_eq!(r.body["userName"], "ada@x.example");
    assert_eq!(r.body["meta"]["version"], json!("W/\"1\""), "{}", r.body);

    // Renaming to a look-alike of another user's name is a conflict, like the name itself.
    app.create_user(&t, "jos\u{e9}@x.example").await;
    let r = app
        .patch(
            &t,
            &path,
            patch_op(
                json!([{"op": "replace", "path": "userName", "value": "JOSE\u{301}@x.example"}]),
            ),
        )
        .await;
    assert_scim_error(&r, 409, Some("uniqueness"));
}

#[tokio::test]
async fn look_alike_group_display_names_are_one_group_and_invisible_ones_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let id = app.create_group(&t, "R\u{e9}seau", &[]).await;
    for second in ["Re\u{301}seau", "R\u{c9}SEAU", &full_width("Re\u{301}seau")] {
        let r = app.post(&t, "/Groups", group(second, &[])).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
        assert_eq!(
            found(
                &app,
                &t,
                "Groups",
                &format!("displayName eq {}", literal(second))
            )
            .await,
            vec![id.clone()],
            "{second:?}"
        );
    }
    for (bad, reason) in [
        (
            "R\u{e9}seau\u{200d}",
            "invisible formatting characters (U+200D at position 7)",
        ),
        ("R\u{e9}seau ", "must not end with white space"),
        (
            "Admins\u{202e}",
            "invisible formatting characters (U+202E at position 7)",
        ),
        ("Admins\0", "control characters (U+0000 at position 7)"),
    ] {
        let r = app.post(&t, "/Groups", group(bad, &[])).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("displayName") && detail.contains(reason),
            "{bad:?}: {detail}"
        );
        let r = app
            .patch(
                &t,
                &format!("/Groups/{id}"),
                patch_op(json!([{"op": "replace", "path": "displayName", "value": bad}])),
            )
            .await;
        assert_scim_error(&r, 400, Some("invalidValue"));
    }
    assert_eq!(total(&app, &t, "Groups").await, 1);
    let r = app.get(&t, &format!("/Groups/{id}")).await;
    assert_eq!(r.body["displayName"], Value::from("R\u{e9}seau"));
}
