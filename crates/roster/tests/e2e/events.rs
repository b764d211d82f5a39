//! The host application's view over real HTTP: every SCIM change becomes an event of the change
//! log, read through `/api/v1/events` with an API key, page by page; and the plain-JSON read
//! API. Runs on SQLite, and on PostgreSQL with `ROSTER_TEST_BACKEND=postgres`.

use std::time::{Duration, Instant};

use crate::support::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// GET on the host API with a key; returns status and JSON.
async fn host_get(app: &TestApp, key: Option<&str>, path: &str) -> (StatusCode, Value) {
    let mut req = app.http.get(format!("{}/api/v1{path}", app.address));
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status();
    let body = res.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Reads the whole log from the start in pages of `limit`, waiting (up to five seconds) until
/// it holds at least `n` events, as the host application would poll.
async fn read_log(app: &TestApp, key: &str, query: &str, limit: u64, n: usize) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let (status, body) = host_get(
                app,
                Some(key),
                &format!("/events?after={cursor}&limit={limit}{query}"),
            )
            .await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let page = body["data"].as_array().expect("data").clone();
            let next = body["next_cursor"]
                .as_str()
                .expect("next_cursor")
                .to_owned();
            if page.is_empty() {
                assert_eq!(
                    next,
                    cursor_or_zero(&cursor),
                    "an empty page keeps the cursor"
                );
                break;
            }
            assert!(page.len() as u64 <= limit);
            cursor = next;
            all.extend(page);
        }
        if all.len() >= n || started.elapsed() > Duration::from_secs(5) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn cursor_or_zero(c: &str) -> String {
    if c.is_empty() { "0".into() } else { c.into() }
}

fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["type"].as_str().expect("type"))
        .collect()
}

#[tokio::test]
async fn every_scim_change_is_an_event_in_order() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("globex").await;
    let (_, key) = app
        .directory
        .create_api_key("host", &[])
        .await
        .expect("API key");

    // Neither no key nor a tenant's SCIM token opens the host API.
    let (status, _) = host_get(&app, None, "/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = host_get(&app, Some(&t.token), "/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let mut ada = user("ada@example.com");
    ada["password"] = json!("Clear-Secret-1");
    let r = app.post(&t, "/Users", ada).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let ada = r.body["id"].as_str().unwrap().to_owned();
    // A refused write leaves no event.
    let r = app.post(&t, "/Users", user("ADA@example.com")).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let grace = app.create_user(&t, "grace@example.com").await;
    let ken = app.create_user(&t, "ken@example.com").await;
    let deactivate = patch_op(json!([{"op": "replace", "value": {"active": false}}]));
    let r = app.patch(&t, &format!("/Users/{ada}"), deactivate).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let reactivate = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
    app.patch(&t, &format!("/Users/{ada}"), reactivate).await;
    let retitle = patch_op(json!([{"op": "add", "path": "title", "value": "Countess"}]));
    app.patch(&t, &format!("/Users/{ada}"), retitle).await;
    let r = app.post(&t, "/Groups", group("Engineering", &[&ada])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let eng = r.body["id"].as_str().unwrap().to_owned();
    let add = patch_op(json!([{"op": "add", "path": "members",
        "value": [{"value": grace}, {"value": ken}, {"value": ada}]}]));
    let r = app.patch(&t, &format!("/Groups/{eng}"), add).await;
    assert!(r.status.is_success(), "{}", r.body);
    let remove =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{ken}\"]")}]));
    let r = app.patch(&t, &format!("/Groups/{eng}"), remove).await;
    assert!(r.status.is_success(), "{}", r.body);
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "R&D"}]));
    let r = app.patch(&t, &format!("/Groups/{eng}"), rename).await;
    assert!(r.status.is_success(), "{}", r.body);
    app.create_user(&other, "someone@globex.example").await;
    assert_eq!(
        app.delete(&t, &format!("/Users/{grace}")).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete(&t, &format!("/Groups/{eng}")).await.status,
        StatusCode::NO_CONTENT
    );

    let expected = [
        "user.created",
        "user.created",
        "user.created",
        "user.deactivated",
        "user.reactivated",
        "user.updated",
        "group.created",
        "group.member_added",
        "group.member_added",
        "group.member_added",
        "group.member_added",
        "group.member_removed",
        "group.updated",
        "user.created",
        "user.deleted",
        "group.member_removed",
        "group.deleted",
    ];
    let log = read_log(&app, &key, "", 1000, expected.len()).await;
    assert_eq!(types(&log), expected, "{log:#?}");
    for limit in [1, 2, 5] {
        assert_eq!(
            read_log(&app, &key, "", limit, expected.len()).await,
            log,
            "pages of {limit} return exactly the change log"
        );
    }
    let ids: std::collections::HashSet<_> = log.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), log.len(), "event ids are unique");

    // What the events say.
    let created = &log[0];
    assert_eq!(created["tenant_id"], t.id.as_str());
    assert_eq!(created["data"]["resource"]["id"], ada.as_str());
    assert_eq!(created["data"]["resource"]["userName"], "ada@example.com");
    assert!(
        created["occurred_at"]
            .as_str()
            .is_some_and(|s| s.ends_with('Z'))
    );
    let text = serde_json::to_string(&log).unwrap();
    assert!(
        !text.contains("Clear-Secret-1") && !text.contains("argon2"),
        "no password in events"
    );
    assert_eq!(log[3]["data"]["changed"], json!(["active"]));
    assert_eq!(log[3]["data"]["resource"]["active"], false);
    assert_eq!(log[5]["data"]["changed"], json!(["title"]));
    assert_eq!(log[7]["data"]["group"]["id"], eng.as_str());
    assert_eq!(log[7]["data"]["member"]["value"], ada.as_str());
    assert_eq!(log[11]["data"]["member"]["value"], ken.as_str());
    assert_eq!(log[12]["data"]["resource"]["displayName"], "R&D");
    assert_eq!(
        log[14]["data"]["resource"]["id"],
        grace.as_str(),
        "the last known resource"
    );
    assert_eq!(
        log[15]["data"]["member"]["value"],
        grace.as_str(),
        "a deleted user leaves its groups"
    );

    // One tenant's events alone.
    let mine = read_log(
        &app,
        &key,
        &format!("&tenant_id={}", t.id),
        3,
        expected.len() - 1,
    )
    .await;
    assert_eq!(mine.len(), expected.len() - 1);
    assert!(mine.iter().all(|e| e["tenant_id"] == t.id.as_str()));
    // Replaying from any cursor continues from there.
    let cut = log[9]["id"].clone();
    let (_, body) = host_get(&app, Some(&key), "/events?limit=1000").await;
    let all = body["data"].as_array().unwrap();
    let i = all.iter().position(|e| e["id"] == cut).unwrap();
    let pos = {
        let (_, page) = host_get(&app, Some(&key), &format!("/events?limit={}", i + 1)).await;
        page["next_cursor"].as_str().unwrap().to_owned()
    };
    let (_, rest) = host_get(&app, Some(&key), &format!("/events?after={pos}&limit=1000")).await;
    assert_eq!(rest["data"].as_array().unwrap()[..], all[i + 1..]);
    // The cursor at the end stays put while nothing happens; one past every position given
    // (a backup restored under a reader, another deployment's cursor) is refused with why,
    // instead of answered empty until new events pass it by.
    let end = rest["next_cursor"].as_str().unwrap().to_owned();
    let (status, page) = host_get(&app, Some(&key), &format!("/events?after={end}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["data"].as_array().unwrap().len(), &page["next_cursor"]),
        (0, &json!(end))
    );
    let past = end.parse::<i64>().unwrap() + 1000;
    let (status, problem) = host_get(&app, Some(&key), &format!("/events?after={past}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!(
            "past the end of the feed (its last position is {end})"
        )),
        "{detail}"
    );

    // A revoked key stops working at once.
    let keys = app.directory.api_keys().await.unwrap();
    app.directory.revoke_api_key(&keys[0].id).await.unwrap();
    let (status, _) = host_get(&app, Some(&key), "/events").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_read_api_pages_tenants_users_groups_and_members() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    app.tenant("globex").await;
    let (_, key) = app
        .directory
        .create_api_key("reconciler", &[])
        .await
        .expect("API key");
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.create_user(&t, &format!("u{i}@example.com")).await);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let r = app.post(&t, "/Groups", group("All", &refs)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let gid = r.body["id"].as_str().unwrap().to_owned();

    let (status, body) = host_get(&app, Some(&key), "/tenants?limit=1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["name"], "acme");
    let next = body["next_cursor"].as_str().unwrap().to_owned();
    let (_, body) = host_get(&app, Some(&key), &format!("/tenants?limit=1&after={next}")).await;
    assert_eq!(body["data"][0]["name"], "globex");
    assert_eq!(body["next_cursor"], Value::Null, "the last page");

    let collect = |path: String| {
        let app = &app;
        let key = key.clone();
        async move {
            let mut out = Vec::new();
            let mut after = String::new();
            loop {
                let (status, body) =
                    host_get(app, Some(&key), &format!("{path}?limit=2&after={after}")).await;
                assert_eq!(status, StatusCode::OK, "{body}");
                out.extend(body["data"].as_array().unwrap().iter().cloned());
                match body["next_cursor"].as_str() {
                    Some(n) => after = n.to_owned(),
                    None => return out,
                }
            }
        }
    };
    let users = collect(format!("/tenants/{}/users", t.id)).await;
    let got: Vec<&str> = users.iter().map(|u| u["id"].as_str().unwrap()).collect();
    assert_eq!(got, refs, "every user once, in creation order");
    assert_eq!(
        users[0]["groups"][0]["value"],
        gid.as_str(),
        "users carry their groups"
    );
    assert!(users[0]["meta"]["location"].is_null());
    let members = collect(format!("/tenants/{}/groups/{gid}/members", t.id)).await;
    let got: Vec<&str> = members
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(got, refs);
    let groups = collect(format!("/tenants/{}/groups", t.id)).await;
    assert_eq!(groups.len(), 1);
    assert!(
        groups[0]["members"].is_null(),
        "groups are listed without members"
    );

    let (status, _) = host_get(&app, Some(&key), "/tenants/nope/users").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = host_get(
        &app,
        Some(&key),
        &format!("/tenants/{}/groups/nope/members", t.id),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = host_get(&app, Some(&key), "/events?after=x").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = host_get(&app, Some(&key), "/events?limit=0").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// Entra renames a group with `replace displayName`; that rewrote every member row (about 2 s
/// for 100,000 members). A rename now touches no member: the members stay, and the log holds
/// one `group.updated`, no member event.
#[tokio::test]
async fn renaming_a_group_touches_no_member() {
    let app = spawn_app().await;
    let t = app.tenant("rename").await;
    let a = app.create_user(&t, "a@contoso.example").await;
    let b = app.create_user(&t, "b@contoso.example").await;
    let group = app.create_group(&t, "Sales", &[&a, &b]).await;
    let tenant = roster_store::TenantId::new(&t.id);
    // On PostgreSQL events are positioned by a sequencer that may be running at this moment;
    // read until the log holds what was written (two users, the group, its two members).
    let logged = |after: i64, n: usize| {
        let (app, tenant) = (&app, &tenant);
        async move {
            let started = Instant::now();
            loop {
                app.directory.sequence_events().await.expect("sequencing");
                let events = app
                    .directory
                    .events(Some(tenant), after, 1000)
                    .await
                    .expect("events");
                if events.len() >= n || started.elapsed() > Duration::from_secs(5) {
                    return events;
                }
                tokio::task::yield_now().await;
            }
        }
    };
    let before = logged(0, 5).await;
    let last = before.last().expect("events").position;
    for body in [
        patch_op(json!([{"op": "replace", "path": "displayName", "value": "Sales EMEA"}])),
        patch_op(json!([{"op": "Replace", "value": {"displayName": "Sales Europe"}}])),
    ] {
        let r = app.patch(&t, &format!("/Groups/{group}"), body).await;
        assert!(r.status.is_success(), "{} {}", r.status, r.body);
    }
    let r = app.get(&t, &format!("/Groups/{group}")).await;
    assert_eq!(r.body["displayName"], "Sales Europe");
    let mut members: Vec<&str> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    members.sort_unstable();
    let mut expected = vec![a.as_str(), b.as_str()];
    expected.sort_unstable();
    assert_eq!(members, expected, "the members stay");
    let after = logged(last, 2).await;
    let types: Vec<&str> = after.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["group.updated", "group.updated"]);
}
