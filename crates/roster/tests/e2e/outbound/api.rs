//! `/api/v1/tenants/{id}/targets/…` end to end: a host application adds a target, changes
//! its policy, tests the connection, assigns a user, provisions it on demand, reads the
//! progress, and removes the target; secrets never come back, and bad input changes nothing.

use roster_directory::Scope;
use serde_json::{Value, json};

use super::Remote;
use crate::support::{eventually, spawn_app};

#[tokio::test]
async fn a_host_application_manages_targets_through_the_tenant_api() {
    let app = spawn_app().await;
    let src = app.tenant("source").await;
    let dst = app.tenant("destination").await;
    let ada = app.create_user(&src, "ada@contoso.com").await;
    app.create_user(&src, "bob@contoso.com").await;
    let (_, key) = app
        .directory
        .create_api_key("host app", &[Scope::TenantsWrite])
        .await
        .expect("a key");
    let (_, reader) = app
        .directory
        .create_api_key("reader", &[Scope::DirectoryRead])
        .await
        .expect("a key");
    let base = format!("{}/api/v1/tenants/{}/targets", app.address, src.id);
    let http = crate::support::http_client();
    let call = |method: reqwest::Method, path: &str, body: Option<Value>, key: &str| {
        let mut request = http
            .request(method, format!("{base}{path}"))
            .bearer_auth(key);
        if let Some(b) = body {
            request = request.json(&b);
        }
        async move {
            let r = request.send().await.expect("answer");
            let status = r.status().as_u16();
            let text = r.text().await.expect("body");
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
    };
    use reqwest::Method;

    // Bad input is refused by name and adds nothing.
    let (status, refused) = call(
        Method::POST,
        "",
        Some(json!({"name": "app", "url": "http://169.254.169.254/scim", "token": "t"})),
        &key,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    let (status, refused) = call(
        Method::POST,
        "",
        Some(json!({"name": "app", "url": dst.base})),
        &key,
    )
    .await;
    assert_eq!(status, 400, "{refused}");
    assert!(
        refused["detail"].as_str().unwrap().contains("token"),
        "{refused}"
    );
    let (status, _) = call(
        Method::POST,
        "",
        Some(json!({"name": "app", "url": dst.base, "token": dst.token})),
        &reader,
    )
    .await;
    assert_eq!(status, 403, "a read-only key adds nothing");
    let (_, listed) = call(Method::GET, "", None, &reader).await;
    assert_eq!(listed["data"], json!([]));

    // Added (scope: assigned, Entra's default); the token never comes back.
    let (status, added) = call(
        Method::POST,
        "",
        Some(json!({"name": "app", "url": dst.base, "token": dst.token})),
        &key,
    )
    .await;
    assert_eq!(status, 201, "{added}");
    assert_eq!(added["scope"], "assigned");
    assert!(!added.to_string().contains(&dst.token), "{added}");
    let (status, _) = call(
        Method::POST,
        "",
        Some(json!({"name": "app", "url": dst.base, "token": dst.token})),
        &key,
    )
    .await;
    assert_eq!(status, 400, "the name is taken");

    // The policy changes; a bad value is refused and changes nothing.
    let (status, refused) = call(Method::PATCH, "/app", Some(json!({"rate_limit": 0})), &key).await;
    assert_eq!(status, 400, "{refused}");
    let (status, changed) = call(
        Method::PATCH,
        "/app",
        Some(
            json!({"policy": {"create": true, "update": true, "deactivate": true,
            "delete": false, "leaving_scope": "deactivate", "on_source_delete": "deactivate",
            "sync_password": false},
            "rate_limit": 50, "quarantine_minutes": 1440}),
        ),
        &key,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["policy"]["delete"], false);
    assert_eq!(changed["rate_limit"], 50);
    assert_eq!(changed["quarantine_minutes"], 1440);
    let (status, refused) = call(
        Method::PATCH,
        "/app",
        Some(json!({"quarantine_minutes": 1})),
        &key,
    )
    .await;
    assert_eq!(status, 400, "{refused}");

    // The test connection, as Entra does it.
    let (status, tested) = call(Method::POST, "/app/test", None, &key).await;
    assert_eq!(status, 200, "{tested}");
    assert_eq!(tested["ok"], true, "{tested}");
    assert_eq!(tested["capabilities"]["patch"], true);

    // Assigned and provisioned on demand, with its steps and the exact requests and answers
    // (the target paused meanwhile, so that its cycle does not create the user first).
    let (status, _) = call(Method::PATCH, "/app", Some(json!({"paused": true})), &key).await;
    assert_eq!(status, 200);
    let (status, _) = call(
        Method::POST,
        "/app/assignments",
        Some(json!({"user": ada})),
        &key,
    )
    .await;
    assert_eq!(status, 201);
    let (status, done) = call(
        Method::POST,
        "/app/provision",
        Some(json!({"user": ada})),
        &key,
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["action"], "created", "{done}");
    let steps = done["steps"].to_string();
    assert!(steps.contains("assigned to the target"), "{steps}");
    assert!(steps.contains("request: POST /Users"), "{steps}");
    assert!(steps.contains("response: 201"), "{steps}");
    assert!(steps.contains("userName eq"), "the lookup before: {steps}");
    let (status, _) = call(Method::PATCH, "/app", Some(json!({"paused": false})), &key).await;
    assert_eq!(status, 200);
    let remote = Remote::new(&dst.base, &dst.token);
    assert!(
        remote
            .find("Users", "userName", "ada@contoso.com")
            .await
            .is_some()
    );
    assert!(
        remote
            .find("Users", "userName", "bob@contoso.com")
            .await
            .is_none()
    );

    // The status: what the target holds, and the progress of its cycles.
    eventually("the cycle ends", "incremental".to_owned(), async || {
        let (_, shown) = call(Method::GET, "/app", None, &reader).await;
        shown["status"]["phase"].as_str().unwrap_or("").to_owned()
    })
    .await;
    let (_, shown) = call(Method::GET, "/app", None, &reader).await;
    assert_eq!(shown["status"]["users"], 1, "{shown}");
    assert_eq!(shown["status"]["percent"], 100, "{shown}");
    assert_eq!(shown["assigned"], json!([{"type": "User", "id": ada}]));
    assert!(
        shown["user_mappings"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );

    // The engine's counts in /metrics (ada was created by the engine of this process, or by
    // provision on demand, which counts only in the process that runs it).
    let metrics = http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    for series in [
        "roster_outbound_objects{action=\"created\"}",
        "roster_outbound_cycle_objects{state=\"total\"}",
        "roster_outbound_quarantined_targets 0",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }

    // Unassigned, restarted, removed.
    let (status, _) = call(
        Method::DELETE,
        &format!("/app/assignments/User/{ada}"),
        None,
        &key,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(Method::POST, "/app/restart", None, &key).await;
    assert_eq!(status, 202);
    let (status, _) = call(Method::DELETE, "/app", None, &key).await;
    assert_eq!(status, 204);
    let (status, _) = call(Method::GET, "/app", None, &reader).await;
    assert_eq!(status, 404);
}
