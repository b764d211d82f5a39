//! The host application's tenant API (`/api/v1/tenants`): onboarding a customer end to end
//! over HTTP, and every refusal as a problem body (RFC 9457).

use reqwest::{Method, StatusCode};
use roster_directory::{Scope, TokenOptions};
use roster_store::TenantId;
use serde_json::{Value, json};

use crate::support::{TestApp, spawn_app};

/// A request to `/api/v1{path}` with `key`; the status, the content type and the body.
async fn call(
    app: &TestApp,
    method: Method,
    key: Option<&str>,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = app
        .http
        .request(method, format!("{}/api/v1{path}", app.address));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap_or("").to_owned())
        .unwrap_or_default();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, kind, body)
}

async fn key(app: &TestApp, scopes: &[Scope]) -> String {
    app.directory
        .create_api_key("host app", scopes)
        .await
        .expect("API key")
        .1
}

/// A problem body: its status member and its code.
#[track_caller]
fn assert_problem(got: &(StatusCode, String, Value), status: StatusCode, code: &str) {
    let (s, kind, body) = got;
    assert_eq!(*s, status, "{body}");
    assert_eq!(kind, "application/problem+json", "{body}");
    assert_eq!(body["status"], status.as_u16(), "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert!(body["type"].as_str().is_some(), "{body}");
}

#[tokio::test]
async fn a_host_app_onboards_a_customer_over_http() {
    let app = spawn_app().await;
    let key = key(&app, &[Scope::TenantsWrite, Scope::DirectoryRead]).await;
    let k = Some(key.as_str());

    let created = call(
        &app,
        Method::POST,
        k,
        "/tenants",
        Some(json!({"name": "Contoso Ltd", "external_id": "org_42", "plan": "professional"})),
    )
    .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.2);
    let t = created.2;
    let id = t["id"].as_str().unwrap().to_owned();
    assert_eq!(t["slug"], "contoso-ltd");
    assert_eq!(t["external_id"], "org_42");
    assert_eq!(t["plan"], "professional");
    assert_eq!(t["includes"], json!({"provisioning": false, "sso": false}));
    assert_eq!(
        t["provisioning_url"],
        format!("{}/scim/v2/{id}", app.address)
    );
    assert_eq!(
        t["portal_url"],
        format!("{}/portal/contoso-ltd", app.address)
    );

    // The same name gets another slug; the same external id is refused.
    let twin = call(
        &app,
        Method::POST,
        k,
        "/tenants",
        Some(json!({"name": "Contoso Ltd"})),
    )
    .await;
    assert_eq!(twin.2["slug"], "contoso-ltd-2", "{}", twin.2);
    let taken = call(
        &app,
        Method::POST,
        k,
        "/tenants",
        Some(json!({"name": "Other", "external_id": "org_42"})),
    )
    .await;
    assert_problem(&taken, StatusCode::CONFLICT, "conflict");
    assert!(taken.2["detail"].as_str().unwrap().contains("org_42"));

    // Found by id and by the host app's id.
    let by_ext = call(&app, Method::GET, k, "/tenants/external_id:org_42", None).await;
    assert_eq!(by_ext.0, StatusCode::OK);
    assert_eq!(by_ext.2["id"], id.as_str());
    assert_eq!(by_ext.2["holds"]["users"], 0);
    assert_eq!(by_ext.2["settings"]["provisioning"], true);

    // A plan without provisioning: the SCIM URL answers 403 saying so.
    let tenant = TenantId::new(&id);
    let (_, token) = app
        .directory
        .issue_token(&tenant, &TokenOptions::default())
        .await
        .expect("a token");
    let scim = |token: String| {
        let (http, url) = (
            app.http.clone(),
            format!("{}/scim/v2/{id}/Users", app.address),
        );
        async move { http.get(url).bearer_auth(token).send().await.unwrap() }
    };
    let refused = scim(token.clone()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let detail = refused.json::<Value>().await.unwrap()["detail"].to_string();
    assert!(
        detail.contains("not part of this organisation's plan"),
        "{detail}"
    );

    // PATCH: name, plan and settings at once; then SCIM works, without groups.
    let changed = call(
        &app,
        Method::PATCH,
        k,
        "/tenants/external_id:org_42",
        Some(json!({"name": "Contoso", "plan": "enterprise",
                    "settings": {"groups": false, "patch-response": "no-content"}})),
    )
    .await;
    assert_eq!(changed.0, StatusCode::OK, "{}", changed.2);
    assert_eq!(changed.2["name"], "Contoso");
    assert_eq!(changed.2["includes"]["provisioning"], true);
    assert_eq!(changed.2["settings"]["groups"], false);
    assert_eq!(scim(token.clone()).await.status(), StatusCode::OK);
    let groups = app
        .http
        .get(format!("{}/scim/v2/{id}/Groups", app.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(groups.status(), StatusCode::FORBIDDEN);

    // A bad setting changes nothing, the name included.
    let bad = call(
        &app,
        Method::PATCH,
        k,
        &format!("/tenants/{id}"),
        Some(json!({"name": "Renamed", "settings": {"groups": "sometimes"}})),
    )
    .await;
    assert_problem(&bad, StatusCode::BAD_REQUEST, "bad_request");
    let now = call(&app, Method::GET, k, &format!("/tenants/{id}"), None).await;
    assert_eq!(now.2["name"], "Contoso");
    // A body that is no object is refused in words, not read as an empty change.
    for body in [json!([]), json!("hello"), json!(3)] {
        let odd = call(
            &app,
            Method::PATCH,
            k,
            &format!("/tenants/{id}"),
            Some(body),
        )
        .await;
        assert_problem(&odd, StatusCode::BAD_REQUEST, "bad_request");
        assert_eq!(odd.2["detail"], "the body must be a JSON object");
    }
    // A setting GET shows as null may be sent back as null.
    assert_eq!(
        now.2["settings"]["hold_threshold"],
        Value::Null,
        "{}",
        now.2
    );
    let unset = call(
        &app,
        Method::PATCH,
        k,
        &format!("/tenants/{id}"),
        Some(json!({"settings": {"hold_threshold": null}})),
    )
    .await;
    assert_eq!(unset.0, StatusCode::OK, "{}", unset.2);

    // Setup links: made, listed (without their URL), revoked.
    let link = call(
        &app,
        Method::POST,
        k,
        &format!("/tenants/{id}/portal-links"),
        Some(json!({"expires_in_minutes": 60})),
    )
    .await;
    assert_eq!(link.0, StatusCode::CREATED, "{}", link.2);
    let url = link.2["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/portal/open/rpl_", app.address)),
        "{url}"
    );
    let listed = call(
        &app,
        Method::GET,
        k,
        &format!("/tenants/{id}/portal-links"),
        None,
    )
    .await;
    assert_eq!(listed.2["data"].as_array().unwrap().len(), 1);
    assert!(listed.2["data"][0].get("url").is_none());
    let link_id = link.2["id"].as_str().unwrap();
    let revoked = call(
        &app,
        Method::DELETE,
        k,
        &format!("/tenants/{id}/portal-links/{link_id}"),
        None,
    )
    .await;
    assert_eq!(revoked.0, StatusCode::NO_CONTENT);
    let again = call(
        &app,
        Method::DELETE,
        k,
        &format!("/tenants/{id}/portal-links/{link_id}"),
        None,
    )
    .await;
    assert_problem(&again, StatusCode::NOT_FOUND, "not_found");

    // DELETE says what it removed; the tenant is gone, its token refused.
    let deleted = call(&app, Method::DELETE, k, "/tenants/external_id:org_42", None).await;
    assert_eq!(deleted.0, StatusCode::OK, "{}", deleted.2);
    assert_eq!(deleted.2["removed"]["tokens"], 1);
    let gone = call(&app, Method::GET, k, &format!("/tenants/{id}"), None).await;
    assert_problem(&gone, StatusCode::NOT_FOUND, "not_found");
    assert_eq!(scim(token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_tenant_api_refuses_with_problem_bodies() {
    let app = spawn_app().await;
    let writer = key(&app, &[Scope::TenantsWrite]).await;
    let reader = key(&app, &[]).await;
    let events_only = key(&app, &[Scope::EventsRead]).await;
    let create = Some(json!({"name": "Fabrikam"}));

    let none = call(&app, Method::POST, None, "/tenants", create.clone()).await;
    assert_problem(&none, StatusCode::UNAUTHORIZED, "unauthorized");
    // What the API lacks is said in its own shape too, not as a SCIM error.
    let nowhere = call(&app, Method::GET, Some(&writer), "/nope", None).await;
    assert_problem(&nowhere, StatusCode::NOT_FOUND, "not_found");
    let deeper = call(&app, Method::GET, Some(&writer), "/tenants/t/users/u", None).await;
    assert_problem(&deeper, StatusCode::NOT_FOUND, "not_found");
    let method = call(&app, Method::DELETE, Some(&writer), "/plans", None).await;
    assert_problem(
        &method,
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
    );
    let wrong = call(
        &app,
        Method::POST,
        Some("rsk_nope"),
        "/tenants",
        create.clone(),
    )
    .await;
    assert_problem(&wrong, StatusCode::UNAUTHORIZED, "unauthorized");

    // A key made without scopes reads, as keys before scopes did, but does not write.
    let read_only = call(
        &app,
        Method::POST,
        Some(&reader),
        "/tenants",
        create.clone(),
    )
    .await;
    assert_problem(&read_only, StatusCode::FORBIDDEN, "forbidden");
    assert!(
        read_only.2["detail"]
            .as_str()
            .unwrap()
            .contains("tenants:write")
    );
    assert_eq!(
        call(&app, Method::GET, Some(&reader), "/tenants", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        call(&app, Method::GET, Some(&reader), "/events", None)
            .await
            .0,
        StatusCode::OK
    );
    let no_reads = call(&app, Method::GET, Some(&events_only), "/tenants", None).await;
    assert_problem(&no_reads, StatusCode::FORBIDDEN, "forbidden");

    let w = Some(writer.as_str());
    for (body, what) in [
        (json!({"name": "  "}), "an empty name"),
        (json!({"name": "X", "plan": "platinum"}), "an unknown plan"),
        (json!({"name": "X", "colour": "red"}), "an unknown field"),
        (json!({"name": 42}), "a name that is not text"),
        (
            json!({"name": "X", "external_id": ""}),
            "an empty external id",
        ),
    ] {
        let got = call(&app, Method::POST, w, "/tenants", Some(body)).await;
        assert_eq!(got.0, StatusCode::BAD_REQUEST, "{what}: {}", got.2);
        assert_problem(&got, StatusCode::BAD_REQUEST, "bad_request");
    }
    let plans = call(
        &app,
        Method::POST,
        w,
        "/tenants",
        Some(json!({"name": "X", "plan": "platinum"})),
    )
    .await;
    assert!(
        plans.2["detail"].as_str().unwrap().contains("enterprise"),
        "{}",
        plans.2
    );
    let raw = app
        .http
        .post(format!("{}/api/v1/tenants", app.address))
        .bearer_auth(&writer)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);

    for path in [
        "/tenants/nope",
        "/tenants/external_id:nope",
        "/tenants/nope/portal-links",
    ] {
        let method = if path.ends_with("links") {
            Method::POST
        } else {
            Method::GET
        };
        let got = call(&app, method, w, path, None).await;
        assert_problem(&got, StatusCode::NOT_FOUND, "not_found");
    }
    let t = call(&app, Method::POST, w, "/tenants", create).await.2;
    let id = t["id"].as_str().unwrap();
    for minutes in [0, 43_201] {
        let got = call(
            &app,
            Method::POST,
            w,
            &format!("/tenants/{id}/portal-links"),
            Some(json!({"expires_in_minutes": minutes})),
        )
        .await;
        assert_problem(&got, StatusCode::BAD_REQUEST, "bad_request");
    }
    // Nothing refused was created: the one tenant made here, and the first-start one if any.
    let all = call(&app, Method::GET, w, "/tenants", None).await.2;
    let names: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Fabrikam"], "{all}");
}
