//! The provisioning log end to end: what an identity provider sends is recorded off the
//! request's path, explained, and read back over the tenant API (and, in `console`, on the
//! page); on both backends.

use reqwest::{Method, StatusCode};
use roster_directory::{Scope, TokenOptions};
use serde_json::{Value, json};

use crate::support::{TestApp, TestTenant, eventually, spawn_app, user};

const ENTRA: &str = "Azure AD SCIM Client";

async fn logs(app: &TestApp, key: &str, tenant: &str, query: &str) -> (StatusCode, Value) {
    let res = app
        .http
        .get(format!(
            "{}/api/v1/tenants/{tenant}/provisioning-logs?{query}",
            app.address
        ))
        .bearer_auth(key)
        .send()
        .await
        .expect("the log");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An API key that reads the log.
async fn reader(app: &TestApp) -> String {
    app.directory
        .create_api_key("host app", &[Scope::DirectoryRead])
        .await
        .expect("a key")
        .1
}

async fn entra(app: &TestApp, t: &TestTenant, method: Method, path: &str, body: Option<Value>) {
    app.call_with(t, method, path, body, &[("user-agent", ENTRA)])
        .await;
}

/// The entries (oldest first) once there are `n` of them.
async fn entries(app: &TestApp, key: &str, tenant: &str, n: usize) -> Vec<Value> {
    eventually("the log's entries", true, async || {
        let (_, body) = logs(app, key, tenant, "limit=200").await;
        body["data"].as_array().is_some_and(|d| d.len() >= n)
    })
    .await;
    let (_, body) = logs(app, key, tenant, "limit=200").await;
    body["data"].as_array().cloned().unwrap_or_default()
}

fn find<'a>(entries: &'a [Value], method: &str, status: u16) -> &'a Value {
    entries
        .iter()
        .find(|e| e["method"] == method && e["status"] == status)
        .unwrap_or_else(|| panic!("no {method} answered {status} in {entries:#?}"))
}

#[tokio::test]
async fn no_secret_reaches_the_log_however_it_was_sent() {
    let app = spawn_app().await;
    let t = app.tenant("Contoso").await;
    let key = reader(&app).await;
    // The token in the query string as well as in the header (a client that pastes it in
    // both places), and a password in a body refused for a missing comma.
    let res = app
        .http
        .get(format!("{}/Users?count=1&access_token={}", t.base, t.token))
        .bearer_auth(&t.token)
        .send()
        .await
        .expect("a lookup");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app
        .http
        .post(format!("{}/Users", t.base))
        .bearer_auth(&t.token)
        .header("content-type", "application/scim+json")
        .body(r#"{"userName":"eve@contoso.com" "password":"MalformedPw!9"}"#)
        .send()
        .await
        .expect("a create");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // A refused token: the answer's words are kept as the client received them.
    let res = app
        .http
        .get(format!("{}/Users", t.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("a refusal");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let sent_detail = res.json::<Value>().await.expect("an error")["detail"]
        .as_str()
        .expect("a detail")
        .to_owned();

    let got = entries(&app, &key, &t.id, 3).await;
    let stored = serde_json::to_string(&got).expect("JSON");
    let secret = t.token.trim_start_matches("rst_");
    assert!(!stored.contains(secret), "{stored}");
    assert!(!stored.contains("MalformedPw"), "{stored}");
    assert_eq!(got[0]["query"], "count=1&access_token=[redacted]");
    let refused = find(&got, "GET", 401);
    assert!(
        refused["response_body"]
            .as_str()
            .expect("a body")
            .contains(&sent_detail),
        "{refused:#}"
    );

    // The issue's own template, every parameter empty, reads the whole log.
    let (status, all) = logs(&app, &key, &t.id, "after=&limit=&outcome=&user=").await;
    assert_eq!(status, StatusCode::OK, "{all}");
    assert_eq!(all["data"].as_array().map(Vec::len), Some(3));
    let (status, bad) = logs(&app, &key, &t.id, "action=lookup").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
}

#[tokio::test]
async fn requests_are_recorded_explained_and_read_back() {
    let app = spawn_app().await;
    let t = app.tenant("Contoso").await;
    let other = app.tenant("Fabrikam").await;
    let key = reader(&app).await;

    // What Entra does: Test Connection, a create, the same create again, a deactivation.
    entra(
        &app,
        &t,
        Method::GET,
        "/Users?filter=userName+eq+%227fce0092-d52e-4f76-b727-3955bd72c939%22",
        None,
    )
    .await;
    let mut ada = user("ada@contoso.com");
    ada["password"] = json!("Sup3r-secret-pass");
    entra(&app, &t, Method::POST, "/Users", Some(ada.clone())).await;
    entra(&app, &t, Method::POST, "/Users", Some(ada)).await;
    let id = app
        .call_with(
            &t,
            Method::GET,
            "/Users?filter=userName+eq+%22ada%40contoso.com%22",
            None,
            &[("user-agent", ENTRA)],
        )
        .await
        .body["Resources"][0]["id"]
        .as_str()
        .expect("ada")
        .to_owned();
    entra(
        &app,
        &t,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
    )
    .await;
    // The token rotated without keeping the old one: the identity provider still sends it.
    app.directory
        .issue_token(
            &roster_store::TenantId::new(&t.id),
            &TokenOptions::default(),
        )
        .await
        .expect("a new token");
    entra(&app, &t, Method::GET, "/Users?count=1", None).await;
    // A URL of no tenant is not logged anywhere.
    app.http
        .get(format!("{}/scim/v2/no-such-tenant/Users", app.address))
        .send()
        .await
        .expect("a request");

    let got = entries(&app, &key, &t.id, 6).await;
    assert_eq!(got.len(), 6, "{got:#?}");
    for e in &got {
        assert_eq!(e["client"], "entra", "{e:#}");
        assert!(!e["summary"].as_str().unwrap_or("").is_empty(), "{e:#}");
        assert!(
            e["request_id"].as_str().is_some_and(|r| !r.is_empty()),
            "{e:#}"
        );
    }
    let lookup = find(&got, "GET", 200);
    assert!(
        lookup["summary"].as_str().unwrap().contains("not found"),
        "{lookup:#}"
    );
    let created = find(&got, "POST", 201);
    assert!(
        created["summary"]
            .as_str()
            .unwrap()
            .contains("ada@contoso.com"),
        "{created:#}"
    );
    assert_eq!(created["outcome"], "succeeded");
    assert!(
        created["credential"]
            .as_str()
            .unwrap()
            .starts_with("Secret Token …")
    );
    let request = created["request_body"].as_str().unwrap();
    assert!(
        !request.contains("Sup3r-secret-pass") && request.contains("[redacted]"),
        "{request}"
    );
    let taken = find(&got, "POST", 409);
    assert_eq!(taken["outcome"], "refused");
    // The refusal is about the user holding the name.
    assert_eq!(taken["resource_id"], created["resource_id"], "{taken:#}");
    assert_eq!(taken["scim_type"], "uniqueness");
    assert!(
        !taken["explanation"].as_str().unwrap().is_empty(),
        "{taken:#}"
    );
    assert!(!taken["hint"].as_str().unwrap().is_empty(), "{taken:#}");
    let deactivated = find(&got, "PATCH", 200);
    assert!(
        deactivated["summary"]
            .as_str()
            .unwrap()
            .contains("Deactivated"),
        "{deactivated:#}"
    );
    let revoked = find(&got, "GET", 401);
    assert!(
        revoked["explanation"].as_str().unwrap().contains("revoked"),
        "{revoked:#}"
    );

    // Filters and the cursor.
    let (_, refused) = logs(&app, &key, &t.id, "outcome=refused").await;
    assert_eq!(refused["data"].as_array().unwrap().len(), 2, "{refused:#}");
    let (_, about_ada) = logs(&app, &key, &t.id, "user=ADA%40contoso.com").await;
    assert!(
        about_ada["data"].as_array().unwrap().len() >= 2,
        "{about_ada:#}"
    );
    // By id, too, with the refused create of a name that user holds.
    let (_, by_id) = logs(&app, &key, &t.id, &format!("user={id}")).await;
    let statuses: Vec<_> = by_id["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["status"].clone())
        .collect();
    assert!(statuses.contains(&json!(409)), "{by_id:#}");
    let (_, first) = logs(&app, &key, &t.id, "limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, rest) = logs(&app, &key, &t.id, &format!("after={cursor}")).await;
    assert_eq!(rest["data"].as_array().unwrap().len(), 4);
    let (status, bad) = logs(&app, &key, &t.id, "outcome=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");

    // Another tenant's log holds none of it; a key without directory:read reads nothing.
    let (_, theirs) = logs(&app, &key, &other.id, "").await;
    assert_eq!(theirs["data"], json!([]));
    let writer = app
        .directory
        .create_api_key("writer", &[Scope::TenantsWrite])
        .await
        .expect("a key")
        .1;
    let (status, _) = logs(&app, &writer, &t.id, "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // What was written is counted.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("roster_provisioning_log_written_total"),
        "{metrics}"
    );
}
