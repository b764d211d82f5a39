//! Regression tests for what an attacker on the internet, or one careless tenant, could do to
//! Roster: unbounded metrics, resources and pages, a readable password hash, connections held
//! for ever, 500s for client errors, and smaller gaps at the edge. Each test is named after
//! what broke.

use std::time::Duration;

use crate::support::{TestApp, assert_scim_error, patch_op, spawn_app, user};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends raw bytes on a new connection to the app and returns what the server wrote before
/// closing (or until `wait` passes).
async fn raw(address: &str, request: &[u8], wait: Duration) -> String {
    let addr = address.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(wait, s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn invented_http_methods_do_not_grow_metrics() {
    let app = spawn_app().await;
    let metrics = |app: &crate::support::TestApp| {
        let url = format!("{}/metrics", app.address);
        let http = app.http.clone();
        async move { http.get(url).send().await.unwrap().text().await.unwrap() }
    };
    // Warm the series a normal request makes.
    let _ = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await;
    let before = metrics(&app).await.len();
    for i in 0..200 {
        let method = format!("X{i}{}", "M".repeat(1000));
        let r = app
            .http
            .request(
                Method::from_bytes(method.as_bytes()).unwrap(),
                format!("{}/healthz", app.address),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let after = metrics(&app).await;
    assert!(
        !after.contains("MMMMMMMMMM"),
        "a client's method became a label"
    );
    assert!(
        after.contains(r#"method="other""#),
        "unknown methods count as other"
    );
    assert!(
        after.len() < before + 4096,
        "/metrics grew from {before} to {} bytes",
        after.len()
    );
}

#[tokio::test]
async fn a_user_with_thousands_of_emails_is_refused_naming_the_limit() {
    let app = spawn_app().await;
    let t = app.tenant("fat").await;
    let mut body = user("fat@fat.example");
    body["emails"] = (0..16_000)
        .map(|i| json!({"value": format!("a{i}@fat.example")}))
        .collect();
    let r = app
        .call_with(&t, Method::POST, "/Users", Some(body.clone()), &[])
        .await;
    // 16,000 e-mails once made SQLite fail with "too many SQL variables" (500); the body limit
    // may refuse it first, which is fine too: either way a client error.
    assert!(r.status.is_client_error(), "{} {}", r.status, r.body);
    body["emails"] = (0..101)
        .map(|i| json!({"value": format!("a{i}@fat.example")}))
        .collect();
    let r = app.post(&t, "/Users", body.clone()).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("emails") && detail.contains("at most 100"),
        "{detail}"
    );

    // Grown by PATCH, one request at a time, it stops at the same limit.
    let id = app.create_user(&t, "grow@fat.example").await;
    let values: Vec<Value> = (0..100)
        .map(|i| json!({"value": format!("g{i}@fat.example")}))
        .collect();
    let r = app
        .patch(
            &t,
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "add", "path": "emails", "value": values}])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.get(&t, &format!("/Users/{id}")).await;
    assert_eq!(
        r.body["emails"].as_array().unwrap().len(),
        1,
        "nothing changed"
    );

    // Bytes: a single attribute too large for a resource.
    let mut big = user("big@fat.example");
    big["title"] = json!("x".repeat(70 * 1024));
    let r = app.post(&t, "/Users", big).await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    assert!(
        r.body["detail"].as_str().unwrap().contains("65536 bytes"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_page_of_large_users_is_cut_to_its_byte_budget() {
    let app = TestApp::builder()
        .config(|c| c.max_page_bytes = 16 * 1024)
        .start()
        .await;
    let t = app.tenant("pages").await;
    for i in 0..12 {
        let mut body = user(&format!("u{i}@fat.example"));
        body["emails"] = (0..90)
            .map(|j| json!({"value": format!("user{i}.alias{j}@fat.example")}))
            .collect();
        let r = app.post(&t, "/Users", body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let r = app
            .get(
                &t,
                &format!(
                    "/Users?filter=userName%20ew%20%22%40fat.example%22&count=1000&startIndex={start}"
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["totalResults"], 12, "the total is all matches");
        let items = r.body["itemsPerPage"].as_u64().unwrap();
        let resources = r.body["Resources"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            items as usize,
            resources.len(),
            "itemsPerPage says how many"
        );
        assert!(items >= 1, "a page holds at least one resource");
        assert!(items < 12, "a 16 KiB budget cannot hold twelve 4 KiB users");
        seen.extend(resources.iter().map(|u| u["userName"].clone()));
        start += items;
        if start > 12 {
            break;
        }
    }
    assert_eq!(
        seen.len(),
        12,
        "paging by itemsPerPage reaches every user once"
    );
}

#[tokio::test]
async fn the_password_hash_cannot_be_read_through_filters_or_sorting() {
    let app = spawn_app().await;
    let t = app.tenant("pw").await;
    let mut body = user("ada@contoso.example");
    body["password"] = json!("correct horse battery staple");
    let r = app.post(&t, "/Users", body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    for filter in [
        "password%20sw%20%22%24argon2id%24v%3D19%24m%3D19456%22",
        "userName%20eq%20%22ada%40contoso.example%22%20and%20password%20ge%20%22%24%22",
        "password%20pr",
    ] {
        let r = app.get(&t, &format!("/Users?filter={filter}")).await;
        assert_scim_error(&r, 400, Some("invalidFilter"));
    }
    let r = app.get(&t, "/Users?sortBy=password").await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app
        .post(
            &t,
            "/Users/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "password sw \"$argon2id\""
            }),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
    let r = app
        .post(
            &t,
            "/.search",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "password pr"
            }),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn a_filter_of_a_thousand_ors_is_answered_not_a_500() {
    let app = spawn_app().await;
    let t = app.tenant("ors").await;
    let id = app.create_user(&t, "needle@contoso.example").await;
    for n in [998, 2500] {
        let mut clauses: Vec<String> = (0..n).map(|i| format!("userName eq \"n{i}\"")).collect();
        clauses.push("userName eq \"needle@contoso.example\"".into());
        let filter = clauses.join(" or ");
        let r = app
            .post(
                &t,
                "/Users/.search",
                json!({
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                    "filter": filter
                }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{n} ors: {}", r.body);
        assert_eq!(r.body["totalResults"], 1);
        assert_eq!(r.body["Resources"][0]["id"], id.as_str());
    }
}

#[tokio::test]
async fn a_nul_in_a_filter_value_matches_nothing_it_is_refused() {
    let app = spawn_app().await;
    let t = app.tenant("nul").await;
    app.create_user(&t, "ada@contoso.example").await;
    let r = app
        .get(&t, "/Users?filter=userName%20co%20%22%5Cu0000%22")
        .await;
    assert_scim_error(&r, 400, Some("invalidFilter"));
}

#[tokio::test]
async fn a_member_given_only_as_a_ref_is_added_or_refused_never_dropped() {
    let app = spawn_app().await;
    let t = app.tenant("refs").await;
    let ada = app.create_user(&t, "ada@contoso.example").await;
    let group = app.create_group(&t, "Sales", &[]).await;
    let r = app
        .patch(
            &t,
            &format!("/Groups/{group}"),
            patch_op(json!([{
                "op": "add",
                "path": "members",
                "value": [{"$ref": format!("{}/Users/{ada}", t.base)}]
            }])),
        )
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    let r = app.get(&t, &format!("/Groups/{group}")).await;
    assert_eq!(r.body["members"][0]["value"], ada.as_str(), "{}", r.body);

    // A reference that names no user or group is refused, and the group is unchanged.
    let version = r.body["meta"]["version"].clone();
    let r = app
        .patch(
            &t,
            &format!("/Groups/{group}"),
            patch_op(json!([{
                "op": "add",
                "path": "members",
                "value": [{"$ref": "https://elsewhere.example/nothing"}]
            }])),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.get(&t, &format!("/Groups/{group}")).await;
    assert_eq!(
        r.body["meta"]["version"], version,
        "the group did not change"
    );
    assert_eq!(r.body["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn idle_and_silent_connections_are_closed() {
    let app = TestApp::builder()
        .config(|c| {
            c.serve.header_read_timeout = Duration::from_millis(300);
            c.serve.idle_timeout = Duration::from_millis(600);
        })
        .start()
        .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // A connection that sends nothing is closed by the header-read timeout.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf))
        .await
        .expect("the server closes a silent connection");
    assert_eq!(n.unwrap_or(0), 0, "closed without a response");

    // A half-sent request head is closed too.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), slow.read_to_end(&mut out))
        .await
        .expect("the server closes a connection whose head never ends")
        .ok();

    // A kept-alive connection that goes quiet after a request is closed after the idle time.
    let mut kept = tokio::net::TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), kept.read_to_end(&mut out))
        .await
        .expect("the server closes an idle kept-alive connection")
        .ok();
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let app = TestApp::builder()
        .config(|c| {
            c.serve.max_connections = 2;
            c.serve.header_read_timeout = Duration::from_secs(60);
        })
        .start()
        .await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    // Two silent connections hold both slots.
    let first = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let second = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let http = app.http.clone();
    let url = format!("{}/healthz", app.address);
    let mut request = tokio::spawn(async move { http.get(url).send().await });
    assert!(
        tokio::time::timeout(Duration::from_millis(300), &mut request)
            .await
            .is_err(),
        "a third connection was served beside two held ones"
    );
    // A slot frees: the waiting client is served.
    drop(first);
    let r = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("served once a slot is free")
        .unwrap()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    drop(second);
}

#[tokio::test]
async fn a_slow_request_is_answered_503_at_the_request_timeout() {
    let app = TestApp::builder()
        .config(|c| c.request_timeout = Duration::from_millis(300))
        .start()
        .await;
    let t = app.tenant("slow").await;
    let addr = app.address.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // The head promises a body that never comes.
    let head = format!(
        "POST /scim/v2/{}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n{{",
        t.id, t.token
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), s.read(&mut buf))
        .await
        .expect("answered within the timeout")
        .unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 503"), "{text}");
}

#[tokio::test]
async fn a_client_request_id_is_kept_only_when_short_and_safe() {
    let app = spawn_app().await;
    let id_of = |value: &'static str| {
        let http = app.http.clone();
        let url = format!("{}/healthz", app.address);
        async move {
            http.get(url)
                .header("x-request-id", value)
                .send()
                .await
                .unwrap()
                .headers()
                .get("x-request-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(id_of("entra-7f3c.42:1").await, "entra-7f3c.42:1");
    let long: &'static str = Box::leak("a".repeat(5000).into_boxed_str());
    let replaced = id_of(long).await;
    assert!(replaced.len() <= 64 && replaced != long, "{replaced}");
    let quoted = id_of(r#"x" injected="1"#).await;
    assert!(!quoted.contains('"'), "{quoted}");
}

#[tokio::test]
async fn responses_with_personal_data_are_not_cached_or_sniffed() {
    let app = spawn_app().await;
    let t = app.tenant("headers").await;
    let id = app.create_user(&t, "ada@contoso.example").await;
    for r in [
        app.get(&t, &format!("/Users/{id}")).await,
        app.get(&t, "/Users").await,
        app.get(&t, "/Users/nobody").await,
    ] {
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    }
}

#[tokio::test]
async fn two_authorization_headers_are_refused() {
    let app = spawn_app().await;
    let t = app.tenant("twice").await;
    let request = format!(
        "GET /scim/v2/{}/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Authorization: Bearer wrong\r\nConnection: close\r\n\r\n",
        t.id, t.token
    );
    let text = raw(&app.address, request.as_bytes(), Duration::from_secs(10)).await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(
        text.contains("more than one Authorization header"),
        "{text}"
    );
    // The token endpoint and the host app's API too.
    for (method, path) in [("POST", "/oauth/token"), ("GET", "/api/v1/events")] {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\r\n\
             Authorization: Bearer b\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        );
        let text = raw(&app.address, request.as_bytes(), Duration::from_secs(10)).await;
        assert!(text.starts_with("HTTP/1.1 400"), "{path}: {text}");
    }
}

/// One unreadable stored setting reset every setting to its default (provisioning back on, the
/// trusted issuer gone), and the next `tenant set` saved those defaults. Now the tenant is
/// refused with an error naming the key, a change of another key is refused the same way, and
/// setting the broken key again repairs it, keeping every other stored value.
#[tokio::test]
async fn an_unreadable_setting_fails_closed_and_names_its_key() {
    let app = spawn_app().await;
    let t = app.tenant("corrupt").await;
    let id = roster_store::TenantId::new(&t.id);
    app.directory
        .set_setting(&id, "groups", "off")
        .await
        .expect("a setting");
    app.directory
        .store()
        .set_tenant_settings(&id, &json!({"provisioning": "maybe", "groups": false}))
        .await
        .expect("stored");
    // The token cache trusts a lookup for a second: a fresh token is looked up now.
    let (_, token) = app
        .directory
        .issue_token(&id, &roster_directory::TokenOptions::default())
        .await
        .expect("token");
    let t = crate::support::TestTenant { token, ..t };
    let r = app.get(&t, "/Users").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("settings cannot be read"),
        "{}",
        r.body
    );
    let e = app
        .directory
        .set_setting(&id, "compatibility", "strict")
        .await
        .expect_err("refused");
    assert!(e.to_string().contains("provisioning"), "{e}");
    let repaired = app
        .directory
        .set_setting(&id, "provisioning", "on")
        .await
        .expect("setting the broken key again repairs it");
    assert!(repaired.provisioning);
    assert!(
        !repaired.groups,
        "the other stored values are kept, not defaults"
    );
    let r = app.get(&t, "/Users").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// A user's `groups` made a page as large as its groups, whatever the budget: 5,000 groups of
/// the same 1,000 users gave pages of 400 MB. A user's groups count against the budget now.
#[tokio::test]
async fn a_users_groups_count_against_the_page_budget() {
    let app = TestApp::builder()
        .config(|c| c.max_page_bytes = 2048)
        .start()
        .await;
    let t = app.tenant("joiners").await;
    let mut users = Vec::new();
    for i in 0..3 {
        users.push(app.create_user(&t, &format!("u{i}@contoso.example")).await);
    }
    let members: Vec<&str> = users.iter().map(String::as_str).collect();
    for g in 0..40 {
        app.create_group(&t, &format!("Group {g}"), &members).await;
    }
    let r = app.get(&t, "/Users?count=10").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 3);
    assert_eq!(r.body["itemsPerPage"], 1, "{}", r.body["itemsPerPage"]);
    assert_eq!(
        r.body["Resources"][0]["groups"].as_array().unwrap().len(),
        40
    );
}
