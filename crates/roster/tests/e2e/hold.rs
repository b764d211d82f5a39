//! The inbound mass-change hold, end to end over HTTP: a burst of 1,000 deactivations from an
//! identity provider crosses the tenant's threshold; SCIM answers truthfully, the removals past
//! the threshold are held from the event feed until released (in order), and a second burst is
//! discarded, with corrections for the users restored meanwhile. Runs on SQLite, and on
//! PostgreSQL with `ROSTER_TEST_BACKEND=postgres`.

use futures_util::StreamExt;
use reqwest::StatusCode;
use roster_directory::Scope;
use serde_json::{Value, json};

use crate::support::*;

const USERS: usize = 1_200;
const BURST: usize = 1_000;
const THRESHOLD: usize = 100;
/// Requests in flight at once, as an identity provider's provisioning service sends them.
const CONCURRENCY: usize = 8;

/// Every event of the tenant in the feed, oldest first.
async fn feed(app: &TestApp, key: &str, tenant: &str) -> Vec<Value> {
    crate::support::events_positioned(app).await;
    let mut all = Vec::new();
    let mut cursor = "0".to_owned();
    loop {
        let res = app
            .http
            .get(format!(
                "{}/api/v1/events?after={cursor}&limit=1000&tenant_id={tenant}",
                app.address
            ))
            .bearer_auth(key)
            .send()
            .await
            .expect("feed");
        assert_eq!(res.status(), StatusCode::OK);
        let body: Value = res.json().await.expect("json");
        let page = body["data"].as_array().expect("data").clone();
        if page.is_empty() {
            return all;
        }
        cursor = body["next_cursor"].as_str().expect("cursor").to_owned();
        all.extend(page);
    }
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

fn user_id(e: &Value) -> &str {
    e["data"]["resource"]["id"].as_str().expect("resource id")
}

async fn api(app: &TestApp, key: &str, method: reqwest::Method, path: &str) -> (StatusCode, Value) {
    let res = app
        .http
        .request(method, format!("{}/api/v1{path}", app.address))
        .bearer_auth(key)
        .send()
        .await
        .expect("API");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Sets `active` on each user, CONCURRENCY at a time; every answer is 200.
async fn set_active(app: &TestApp, t: &TestTenant, ids: &[String], active: bool) {
    let body = patch_op(json!([{"op": "replace", "path": "active", "value": active}]));
    let calls: Vec<_> = ids
        .iter()
        .map(|id| {
            let (path, body) = (format!("/Users/{id}"), body.clone());
            async move { app.patch(t, &path, body).await }
        })
        .collect();
    let replies: Vec<Reply> = futures_util::stream::iter(calls)
        .buffered(CONCURRENCY)
        .collect()
        .await;
    for r in replies {
        assert_eq!(
            r.status,
            StatusCode::OK,
            "the identity provider is answered: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn a_burst_of_deactivations_is_held_then_released_or_discarded() {
    let app = spawn_app().await;
    let t = app.tenant("contoso").await;
    let (_, key) = app
        .directory
        .create_api_key("host", &Scope::ALL)
        .await
        .expect("API key");
    let creates: Vec<_> = (0..USERS)
        .map(|i| {
            let (app, t, name) = (&app, &t, format!("u{i:04}@contoso.com"));
            async move { app.create_user(t, &name).await }
        })
        .collect();
    let ids: Vec<String> = futures_util::stream::iter(creates)
        .buffered(CONCURRENCY)
        .collect()
        .await;

    // Off by default; a bad threshold is refused and changes nothing.
    let (status, body) = api(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/tenants/{}/hold", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"hold": null}));
    for bad in ["0", "-5", "101%", "lots"] {
        let res = app
            .http
            .patch(format!("{}/api/v1/tenants/{}", app.address, t.id))
            .bearer_auth(&key)
            .json(&json!({"settings": {"hold-threshold": bad}}))
            .send()
            .await
            .expect("PATCH");
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let res = app
        .http
        .patch(format!("{}/api/v1/tenants/{}", app.address, t.id))
        .bearer_auth(&key)
        .json(&json!({"settings": {"hold-threshold": THRESHOLD}}))
        .send()
        .await
        .expect("PATCH");
    assert_eq!(res.status(), StatusCode::OK);
    let shown: Value = res.json().await.expect("tenant");
    assert_eq!(shown["settings"]["hold_threshold"], "100");

    // The burst: every deactivation is made, and answered 200.
    let before = feed(&app, &key, t.id.as_str()).await.len();
    set_active(&app, &t, &ids[..BURST], false).await;
    let r = app.get(&t, &format!("/Users/{}", ids[BURST - 1])).await;
    assert_eq!(r.body["active"], false, "SCIM shows the truth");

    let events = feed(&app, &key, t.id.as_str()).await;
    let delivered = of_type(&events[before..], "user.deactivated").len();
    // Requests in flight when the threshold is crossed may each have been counted below it.
    assert!(
        (THRESHOLD..=THRESHOLD + CONCURRENCY).contains(&delivered),
        "the removals up to the threshold are delivered, then held: {delivered} delivered"
    );
    let started = of_type(&events, "tenant.hold_started");
    assert_eq!(started.len(), 1, "the host application is told once");
    let data = &started[0]["data"];
    assert_eq!(data["tenant"]["id"], t.id.as_str());
    assert_eq!(data["hold"]["threshold"], "100");
    assert!(
        !data.to_string().contains("contoso.com"),
        "the hold's event carries no user data: {data}"
    );
    let (status, body) = api(
        &app,
        &key,
        reqwest::Method::GET,
        &format!("/tenants/{}/hold", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let hold = &body["hold"];
    assert_eq!(hold["active"], true);
    assert_eq!(hold["held"], (BURST - delivered) as u64);
    assert_eq!(
        hold["heldByType"]["user.deactivated"],
        (BURST - delivered) as u64
    );

    // The operator sees it in /metrics.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.lines().any(|l| l == "roster_tenant_holds_active 1"),
        "{metrics}"
    );

    // Meanwhile: the identity provider restores five held users (held behind their
    // deactivation), and creates a new one (delivered at once).
    let restored: Vec<String> = ids[BURST - 5..BURST].to_vec();
    set_active(&app, &t, &restored, true).await;
    let newcomer = app.create_user(&t, "new@contoso.com").await;
    let events = feed(&app, &key, t.id.as_str()).await;
    assert!(
        of_type(&events, "user.created")
            .iter()
            .any(|e| user_id(e) == newcomer),
        "other changes go on during a hold"
    );
    assert!(of_type(&events, "user.reactivated").is_empty());

    // A read-only key cannot decide.
    let (_, reader) = app
        .directory
        .create_api_key("reader", &[Scope::DirectoryRead])
        .await
        .expect("key");
    let (status, _) = api(
        &app,
        &reader,
        reqwest::Method::POST,
        &format!("/tenants/{}/hold/release", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Released: every held event, in order, each user's deactivation before its reactivation.
    let (status, body) = api(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/tenants/{}/hold/release", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hold"]["active"], false);
    assert_eq!(body["hold"]["outcome"], "released");
    assert_eq!(body["hold"]["endedBy"], "API key host");
    let events = feed(&app, &key, t.id.as_str()).await;
    let deactivated: Vec<&str> = of_type(&events, "user.deactivated")
        .into_iter()
        .map(user_id)
        .collect();
    assert_eq!(
        deactivated.len(),
        BURST,
        "every deactivation is delivered once"
    );
    let mut unique = deactivated.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), BURST);
    let position = |t: &str, id: &str| {
        events
            .iter()
            .position(|e| e["type"] == t && user_id(e) == id)
            .expect("delivered")
    };
    for id in &restored {
        assert!(position("user.deactivated", id) < position("user.reactivated", id));
    }
    assert_eq!(
        events.last().expect("events")["type"],
        "tenant.hold_released"
    );
    let (status, _) = api(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/tenants/{}/hold/release", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no hold is active any more");

    // A second burst (the window counts from the release), discarded: the held deactivations
    // are never delivered; the users restored meanwhile are reported reactivated.
    let second: Vec<String> = ids[BURST..BURST + 150].to_vec();
    let before = events.len();
    set_active(&app, &t, &second, false).await;
    let events = feed(&app, &key, t.id.as_str()).await;
    let delivered: Vec<&str> = of_type(&events[before..], "user.deactivated")
        .into_iter()
        .map(user_id)
        .collect();
    assert!((THRESHOLD..=THRESHOLD + CONCURRENCY).contains(&delivered.len()));
    let held: Vec<String> = second
        .iter()
        .filter(|id| !delivered.contains(&id.as_str()))
        .cloned()
        .collect();
    let back: Vec<String> = held[..10].to_vec();
    set_active(&app, &t, &back, true).await;
    let (status, body) = api(
        &app,
        &key,
        reqwest::Method::POST,
        &format!("/tenants/{}/hold/discard", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["hold"]["outcome"], "discarded");
    let events = feed(&app, &key, t.id.as_str()).await;
    let after: Vec<&Value> = events[before..].iter().collect();
    for id in &held {
        assert!(
            !after
                .iter()
                .any(|e| e["type"] == "user.deactivated" && user_id(e) == id),
            "a discarded deactivation is never delivered"
        );
    }
    let corrections: Vec<&Value> = after
        .iter()
        .copied()
        .filter(|e| e["type"] == "user.reactivated")
        .collect();
    let mut corrected: Vec<&str> = corrections.iter().map(|e| user_id(e)).collect();
    corrected.sort_unstable();
    let mut wanted: Vec<&str> = back.iter().map(String::as_str).collect();
    wanted.sort_unstable();
    assert_eq!(
        corrected, wanted,
        "only the users restored meanwhile are corrected"
    );
    assert!(corrections.iter().all(|e| e["data"]["corrective"] == true));
    assert_eq!(
        after.last().expect("events")["type"],
        "tenant.hold_discarded"
    );
    // The directory still says what the identity provider said.
    let r = app.get(&t, &format!("/Users/{}", held[20])).await;
    assert_eq!(r.body["active"], false);
}

/// The page: the administrator sets the threshold, sees the banner with what is held, and
/// releases. Screenshots `hold-1` and `hold-2`.
#[tokio::test]
async fn an_administrator_sees_the_hold_and_releases_it_from_the_page() {
    let app = spawn_app().await;
    let t = app.tenant("Contoso").await;
    let tenant = roster_store::TenantId::new(&t.id);
    let mut ids = Vec::new();
    for i in 0..8 {
        ids.push(app.create_user(&t, &format!("p{i}@contoso.com")).await);
    }
    let link = app
        .directory
        .create_portal_link(&tenant, None)
        .await
        .expect("a setup link");
    let b = crate::support::browser::Browser::start(1280, 1100).await;
    b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
        .await;
    b.fill("s-hold", "25%").await;
    b.click("form[action$='/settings'] button[type=submit]")
        .await;
    assert!(b.text().await.contains("Settings saved."));
    assert_eq!(b.value("s-hold").await, "25%");
    // 25% of 8 users is 2: the third removal crosses it.
    for id in &ids[..6] {
        set_active(&app, &t, std::slice::from_ref(id), false).await;
    }
    app.delete(&t, &format!("/Users/{}", ids[7])).await;
    let page = b.script("return location.pathname").await;
    b.goto(&format!("{}{}", app.address, page.as_str().expect("path")))
        .await;
    let text = b.text().await;
    assert!(
        text.contains("Deactivations and deletions are on hold"),
        "{text}"
    );
    assert!(text.contains("users deactivated 4"), "{text}");
    assert!(text.contains("users deleted 1"), "{text}");
    b.reveal("hold-heading").await;
    b.screenshot("hold-1-banner").await;
    b.click("form[action$='/hold/release'] button").await;
    let text = b.text().await;
    assert!(text.contains("The held changes are released"), "{text}");
    assert!(!text.contains("are on hold"), "{text}");
    b.screenshot("hold-2-released").await;
    let status = app
        .directory
        .hold_status(&tenant)
        .await
        .expect("status")
        .expect("a hold");
    assert_eq!(status.hold.outcome.as_deref(), Some("released"));
    assert_eq!(
        status.hold.ended_by.as_deref(),
        Some("the organisation's administrator")
    );
    b.close().await;
}
