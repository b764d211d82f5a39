//! End-to-end tests of the SCIM API over real HTTP on loopback: every endpoint, authentication,
//! tenant isolation, uniqueness under concurrency, ETags, Bulk and pagination.

use crate::support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn user_lifecycle_create_get_replace_patch_delete() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;

    let created = app.post(&t, "/Users", user("ada@contoso.com")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        created.header("content-type").as_deref(),
        Some("application/scim+json")
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    let location = created.body["meta"]["location"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(location, format!("{}/Users/{id}", t.base));
    assert_eq!(
        created.header("location").as_deref(),
        Some(location.as_str())
    );
    assert_eq!(
        created.header("etag").as_deref(),
        created.body["meta"]["version"].as_str()
    );
    assert_eq!(created.body["meta"]["resourceType"], "User");
    assert_eq!(created.body["userName"], "ada@contoso.com");
    assert!(created.body.get("password").is_none());

    let got = app.get(&t, &format!("/Users/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["name"]["familyName"], "Lovelace");

    let mut replacement = user("ada@contoso.com");
    replacement["displayName"] = json!("Countess of Lovelace");
    replacement["id"] = json!("client-chosen-id-is-ignored");
    let replaced = app.put(&t, &format!("/Users/{id}"), replacement).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    assert_eq!(replaced.body["id"], id.as_str());
    assert_eq!(replaced.body["displayName"], "Countess of Lovelace");
    assert_ne!(
        replaced.body["meta"]["version"],
        created.body["meta"]["version"]
    );

    let patched = app
        .patch(
            &t,
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    assert_eq!(patched.body["active"], false);

    let deleted = app.delete(&t, &format!("/Users/{id}")).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&t, &format!("/Users/{id}")).await;
    assert_scim_error(&gone, 404, None);
    let again = app.delete(&t, &format!("/Users/{id}")).await;
    assert_scim_error(&again, 404, None);
}

#[tokio::test]
async fn authentication_failures_are_401_with_a_scim_body() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;

    let missing = reply(
        app.http
            .get(format!("{}/Users", t.base))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_scim_error(&missing, 401, None);
    assert!(
        missing
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer")
    );

    let wrong = TestTenant {
        token: "rst_wrongwrongwrongwrongwrongwrongwrongwrong123".into(),
        ..t.clone()
    };
    let r = app.get(&wrong, "/Users").await;
    assert_scim_error(&r, 401, None);
    assert!(r.header("www-authenticate").is_some());

    let basic = reply(
        app.http
            .get(format!("{}/Users", t.base))
            .header("authorization", "Basic YTpi")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_scim_error(&basic, 401, None);
}

#[tokio::test]
async fn a_tenant_sees_changes_and_deletes_nothing_of_another() {
    let app = spawn_app().await;
    let a = app.tenant("a").await;
    let b = app.tenant("b").await;
    let user_id = app.create_user(&a, "ada@a.example").await;
    let group_id = app.create_group(&a, "Admins", &[&user_id]).await;

    // B's token on A's URL is refused.
    let crossed = TestTenant {
        token: b.token.clone(),
        ..a.clone()
    };
    assert_scim_error(&app.get(&crossed, "/Users").await, 401, None);
    assert_scim_error(
        &app.get(&crossed, &format!("/Users/{user_id}")).await,
        401,
        None,
    );

    // On its own URL, B sees none of A's resources, by id, list or filter.
    assert_scim_error(&app.get(&b, &format!("/Users/{user_id}")).await, 404, None);
    assert_scim_error(
        &app.get(&b, &format!("/Groups/{group_id}")).await,
        404,
        None,
    );
    let list = app.get(&b, "/Users").await;
    assert_eq!(list.body["totalResults"], 0);
    let filtered = app
        .get(&b, "/Users?filter=userName%20eq%20%22ada@a.example%22")
        .await;
    assert_eq!(filtered.body["totalResults"], 0);

    // B cannot change or delete A's resources, nor add A's user to its own group.
    let p = app
        .patch(
            &b,
            &format!("/Users/{user_id}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_scim_error(&p, 404, None);
    assert_scim_error(
        &app.put(&b, &format!("/Users/{user_id}"), user("x@b.example"))
            .await,
        404,
        None,
    );
    assert_scim_error(
        &app.delete(&b, &format!("/Users/{user_id}")).await,
        404,
        None,
    );
    assert_scim_error(
        &app.delete(&b, &format!("/Groups/{group_id}")).await,
        404,
        None,
    );
    let g = app.post(&b, "/Groups", group("Thieves", &[&user_id])).await;
    assert_scim_error(&g, 400, Some("invalidValue"));

    // The same userName may exist in both tenants.
    app.create_user(&b, "ada@a.example").await;

    // A's data is intact.
    let still = app.get(&a, &format!("/Users/{user_id}")).await;
    assert_eq!(still.status, StatusCode::OK);
    assert_eq!(still.body["active"], true);
    let members = app.get(&a, &format!("/Groups/{group_id}")).await;
    assert_eq!(members.body["members"][0]["value"], user_id.as_str());
}

#[tokio::test]
async fn concurrent_creates_of_one_user_name_give_one_201_and_409s() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let http = app.http.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            // Different cases of one name: userName is unique without regard to case.
            let name = if i % 2 == 0 {
                "Race@Contoso.com"
            } else {
                "race@contoso.com"
            };
            let resp = http
                .post(format!("{}/Users", t.base))
                .bearer_auth(&t.token)
                .header("content-type", "application/scim+json")
                .body(user(name).to_string())
                .send()
                .await
                .unwrap();
            reply(resp).await
        }));
    }
    let mut created = 0;
    let mut conflicts = 0;
    for task in tasks {
        let r = task.await.unwrap();
        match r.status.as_u16() {
            201 => created += 1,
            409 => {
                assert_scim_error(&r, 409, Some("uniqueness"));
                conflicts += 1;
            }
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    assert_eq!((created, conflicts), (1, 7));
    let list = app.get(&t, "/Users").await;
    assert_eq!(list.body["totalResults"], 1);
}

#[tokio::test]
async fn etags_guard_writes_and_spare_reads() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let created = app.post(&t, "/Users", user("etag@x.example")).await;
    let id = created.body["id"].as_str().unwrap();
    let v1 = created.header("etag").unwrap();
    assert!(v1.starts_with("W/\""));

    let not_modified = app
        .call_with(
            &t,
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &v1)],
        )
        .await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);

    let ok = app
        .call_with(
            &t,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "A"}]),
            )),
            &[("if-match", &v1)],
        )
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let v2 = ok.header("etag").unwrap();
    assert_ne!(v1, v2);

    let stale = app
        .call_with(
            &t,
            Method::PATCH,
            &format!("/Users/{id}"),
            Some(patch_op(
                json!([{"op": "replace", "path": "displayName", "value": "B"}]),
            )),
            &[("if-match", &v1)],
        )
        .await;
    assert_scim_error(&stale, 412, None);
    let stale_put = app
        .call_with(
            &t,
            Method::PUT,
            &format!("/Users/{id}"),
            Some(user("etag@x.example")),
            &[("if-match", &v1)],
        )
        .await;
    assert_scim_error(&stale_put, 412, None);
    let stale_delete = app
        .call_with(
            &t,
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", &v1)],
        )
        .await;
    assert_scim_error(&stale_delete, 412, None);

    let modified = app
        .call_with(
            &t,
            Method::GET,
            &format!("/Users/{id}"),
            None,
            &[("if-none-match", &v1)],
        )
        .await;
    assert_eq!(modified.status, StatusCode::OK);
    assert_eq!(modified.body["displayName"], "A");

    let deleted = app
        .call_with(
            &t,
            Method::DELETE,
            &format!("/Users/{id}"),
            None,
            &[("if-match", &v2)],
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn groups_hold_users_and_groups_and_lose_deleted_users() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let u1 = app.create_user(&t, "u1@x.example").await;
    let u2 = app.create_user(&t, "u2@x.example").await;
    let inner = app.create_group(&t, "Inner", &[]).await;
    let outer = app
        .post(
            &t,
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Outer",
                "members": [{"value": u1}, {"value": inner, "type": "Group"}]
            }),
        )
        .await;
    assert_eq!(outer.status, StatusCode::CREATED, "{}", outer.body);
    let outer_id = outer.body["id"].as_str().unwrap().to_owned();
    let members = outer.body["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    let inner_member = members
        .iter()
        .find(|m| m["value"] == inner.as_str())
        .unwrap();
    assert_eq!(inner_member["type"], "Group");
    assert_eq!(inner_member["$ref"], format!("{}/Groups/{inner}", t.base));

    // displayName is unique in a tenant, without regard to case.
    let dup = app.post(&t, "/Groups", group("outer", &[])).await;
    assert_scim_error(&dup, 409, Some("uniqueness"));

    // Members that do not exist are refused.
    let ghost = app
        .patch(
            &t,
            &format!("/Groups/{outer_id}"),
            patch_op(
                json!([{"op": "add", "path": "members", "value": [{"value": "no-such-user"}]}]),
            ),
        )
        .await;
    assert_scim_error(&ghost, 400, Some("invalidValue"));

    // Add, then remove through a value filter; group PATCH answers 204.
    let add = app
        .patch(
            &t,
            &format!("/Groups/{outer_id}"),
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u2}]}])),
        )
        .await;
    assert_eq!(add.status, StatusCode::NO_CONTENT, "{}", add.body);
    let u1_groups = app.get(&t, &format!("/Users/{u1}")).await;
    assert_eq!(u1_groups.body["groups"][0]["value"], outer_id.as_str());
    assert_eq!(u1_groups.body["groups"][0]["display"], "Outer");
    let remove = app
        .patch(
            &t,
            &format!("/Groups/{outer_id}"),
            patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{u1}\"]")}])),
        )
        .await;
    assert_eq!(remove.status, StatusCode::NO_CONTENT, "{}", remove.body);
    let now = app.get(&t, &format!("/Groups/{outer_id}")).await;
    let ids: Vec<&str> = now.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![u2.as_str(), inner.as_str()]);

    // Deleting a user removes it from every group.
    assert_eq!(
        app.delete(&t, &format!("/Users/{u2}")).await.status,
        StatusCode::NO_CONTENT
    );
    let after = app.get(&t, &format!("/Groups/{outer_id}")).await;
    assert_eq!(after.body["members"].as_array().unwrap().len(), 1);

    // excludedAttributes=members leaves them out.
    let slim = app
        .get(
            &t,
            &format!("/Groups/{outer_id}?excludedAttributes=members"),
        )
        .await;
    assert!(slim.body.get("members").is_none(), "{}", slim.body);
    assert_eq!(slim.body["displayName"], "Outer");

    // Filter groups by member.
    let by_member = app
        .get(
            &t,
            &format!("/Groups?filter=members%5Bvalue%20eq%20%22{inner}%22%5D"),
        )
        .await;
    assert_eq!(by_member.body["totalResults"], 1, "{}", by_member.body);
}

#[tokio::test]
async fn filters_sorting_and_projection_on_lists() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    for name in ["carol@x.example", "Alice@x.example", "bob@y.example"] {
        app.create_user(&t, name).await;
    }
    let cases: &[(&str, u64)] = &[
        ("userName eq \"alice@x.example\"", 1),
        ("userName sw \"b\"", 1),
        ("userName ew \"x.example\"", 2),
        ("userName co \"@\"", 3),
        ("emails.value eq \"BOB@y.example\"", 1),
        ("emails[type eq \"work\" and value co \"y.example\"]", 1),
        ("externalId eq \"ext-carol@x.example\"", 1),
        ("externalId eq \"EXT-carol@x.example\"", 0),
        ("active eq true", 3),
        ("not (userName eq \"bob@y.example\")", 2),
        (
            "userName eq \"bob@y.example\" or userName eq \"carol@x.example\"",
            2,
        ),
        ("meta.created gt \"2000-01-01T00:00:00Z\"", 3),
        ("name.givenName eq \"Ada\" and userName sw \"c\"", 1),
        ("title pr", 0),
    ];
    for (filter, expected) in cases {
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
        assert_eq!(r.status, StatusCode::OK, "{filter}: {}", r.body);
        assert_eq!(r.body["totalResults"], *expected, "{filter}: {}", r.body);
    }

    let bad = app.get(&t, "/Users?filter=userName%20eq").await;
    assert_scim_error(&bad, 400, Some("invalidFilter"));

    let sorted = app
        .get(&t, "/Users?sortBy=userName&sortOrder=descending")
        .await;
    let names: Vec<&str> = sorted.body["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["carol@x.example", "bob@y.example", "Alice@x.example"]
    );

    let projected = app.get(&t, "/Users?attributes=userName").await;
    let first = &projected.body["Resources"][0];
    assert!(first.get("id").is_some());
    assert!(first.get("userName").is_some());
    assert!(first.get("emails").is_none(), "{first}");
}

#[tokio::test]
async fn pagination_edges() {
    let app = TestApp::builder()
        .config(|c| c.max_page_size = 5)
        .start()
        .await;
    let t = app.tenant("acme").await;
    for i in 0..7 {
        app.create_user(&t, &format!("u{i}@x.example")).await;
    }
    let page = |q: &'static str| {
        let app = &app;
        let t = &t;
        async move { app.get(t, &format!("/Users{q}")).await }
    };
    let r = page("?startIndex=1&count=2").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "u0@x.example");

    let r = page("?startIndex=0&count=1").await;
    assert_eq!(r.body["startIndex"], 1);
    assert_eq!(r.body["Resources"][0]["userName"], "u0@x.example");

    let r = page("?startIndex=-4&count=1").await;
    assert_eq!(r.body["startIndex"], 1);

    let r = page("?startIndex=6&count=5").await;
    assert_eq!(r.body["itemsPerPage"], 2);
    assert_eq!(r.body["Resources"][1]["userName"], "u6@x.example");

    let r = page("?startIndex=100").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0);
    assert_eq!(r.body["Resources"], json!([]));

    let r = page("?count=0").await;
    assert_eq!(r.body["totalResults"], 7);
    assert_eq!(r.body["itemsPerPage"], 0);

    // Above the advertised maximum, the maximum.
    let r = page("?count=1000").await;
    assert_eq!(r.body["itemsPerPage"], 5);
    let config = app.get(&t, "/ServiceProviderConfig").await;
    assert_eq!(config.body["filter"]["maxResults"], 5);

    let r = page("?count=abc").await;
    assert_scim_error(&r, 400, Some("invalidValue"));

    // Types are integers.
    let r = page("").await;
    assert!(r.body["totalResults"].is_u64());
    assert!(r.body["startIndex"].is_u64());
    assert!(r.body["itemsPerPage"].is_u64());
}

#[tokio::test]
async fn bulk_resolves_bulk_ids_and_enforces_limits() {
    let app = TestApp::builder()
        .config(|c| c.bulk_max_operations = 4)
        .start()
        .await;
    let t = app.tenant("acme").await;
    let r = app
        .post(
            &t,
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulk1@x.example")},
                    {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                        "displayName": "Bulk group",
                        "members": [{"type": "User", "value": "bulkId:u1"}]
                    }},
                    {"method": "PATCH", "path": "/Users/bulkId:u1", "data": patch_op(json!([
                        {"op": "replace", "path": "active", "value": false}
                    ]))}
                ]
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
    );
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 3);
    assert_eq!(ops[0]["status"], "201");
    assert_eq!(ops[1]["status"], "201");
    assert_eq!(ops[2]["status"], "200");
    let user_location = ops[0]["location"].as_str().unwrap();
    let user_id = user_location.rsplit('/').next().unwrap();
    let group_location = ops[1]["location"].as_str().unwrap();
    let group_id = group_location.rsplit('/').next().unwrap();
    let g = app.get(&t, &format!("/Groups/{group_id}")).await;
    assert_eq!(g.body["members"][0]["value"], user_id);
    let u = app.get(&t, &format!("/Users/{user_id}")).await;
    assert_eq!(u.body["active"], false);

    // failOnErrors: 1 stops after the first failure.
    let r = app
        .post(
            &t,
            "/Bulk",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                "failOnErrors": 1,
                "Operations": [
                    {"method": "POST", "path": "/Users", "bulkId": "a", "data": user("bulk1@x.example")},
                    {"method": "POST", "path": "/Users", "bulkId": "b", "data": user("bulk2@x.example")}
                ]
            }),
        )
        .await;
    let ops = r.body["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "{}", r.body);
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    let none = app
        .get(&t, "/Users?filter=userName%20eq%20%22bulk2@x.example%22")
        .await;
    assert_eq!(none.body["totalResults"], 0);

    // More operations than maxOperations: 413.
    let many: Vec<Value> = (0..5)
        .map(|i| json!({"method": "POST", "path": "/Users", "data": user(&format!("m{i}@x.example"))}))
        .collect();
    let r = app
        .post(
            &t,
            "/Bulk",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"], "Operations": many}),
        )
        .await;
    assert_scim_error(&r, 413, None);
    let config = app.get(&t, "/ServiceProviderConfig").await;
    assert_eq!(config.body["bulk"]["maxOperations"], 4);
    assert_eq!(config.body["bulk"]["supported"], true);
}

#[tokio::test]
async fn oversized_and_malformed_bodies() {
    let app = TestApp::builder()
        .config(|c| c.max_body_bytes = 4096)
        .start()
        .await;
    let t = app.tenant("acme").await;
    let mut big = user("big@x.example");
    big["displayName"] = json!("x".repeat(5000));
    let r = app.post(&t, "/Users", big).await;
    assert_scim_error(&r, 413, None);
    let config = app.get(&t, "/ServiceProviderConfig").await;
    assert_eq!(config.body["bulk"]["maxPayloadSize"], 4096);

    let malformed = reply(
        app.http
            .post(format!("{}/Users", t.base))
            .bearer_auth(&t.token)
            .header("content-type", "application/json")
            .body("{\"userName\": ")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_scim_error(&malformed, 400, Some("invalidSyntax"));

    let missing_name = app
        .post(
            &t,
            "/Users",
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]}),
        )
        .await;
    assert_eq!(
        missing_name.status,
        StatusCode::BAD_REQUEST,
        "{}",
        missing_name.body
    );

    let bad_patch = app
        .patch(&t, "/Users/whatever", json!({"Operations": "nope"}))
        .await;
    assert_eq!(bad_patch.status.as_u16() / 100, 4, "{}", bad_patch.body);
}

#[tokio::test]
async fn content_negotiation_accepts_json_and_any() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    for accept in ["application/json", "*/*", "application/scim+json"] {
        let r = reply(
            app.http
                .get(format!("{}/Users", t.base))
                .bearer_auth(&t.token)
                .header("accept", accept)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(
            r.header("content-type").as_deref(),
            Some("application/scim+json")
        );
    }
    let r = reply(
        app.http
            .post(format!("{}/Users", t.base))
            .bearer_auth(&t.token)
            .header("content-type", "application/json")
            .body(user("json@x.example").to_string())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn discovery_endpoints() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let spc = app.get(&t, "/ServiceProviderConfig").await;
    assert_eq!(spc.status, StatusCode::OK);
    assert_eq!(spc.body["patch"]["supported"], true);
    assert_eq!(spc.body["etag"]["supported"], true);
    assert_eq!(spc.body["sort"]["supported"], true);
    assert_eq!(
        spc.body["authenticationSchemes"][0]["type"],
        "oauthbearertoken"
    );

    let rts = app.get(&t, "/ResourceTypes").await;
    assert_eq!(rts.status, StatusCode::OK);
    assert_eq!(rts.body["totalResults"], 2);
    let user_rt = app.get(&t, "/ResourceTypes/User").await;
    assert_eq!(user_rt.body["endpoint"], "/Users");

    let schemas = app.get(&t, "/Schemas").await;
    assert_eq!(schemas.body["totalResults"], 3);
    let one = app
        .get(&t, "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.body["id"], "urn:ietf:params:scim:schemas:core:2.0:User");
    assert_scim_error(&app.get(&t, "/Schemas/urn:nope").await, 404, None);

    for path in ["/ServiceProviderConfig", "/ResourceTypes", "/Schemas"] {
        let post = app.post(&t, path, json!({})).await;
        assert_scim_error(&post, 405, None);
        let filtered = app.get(&t, &format!("{path}?filter=id%20pr")).await;
        assert_scim_error(&filtered, 403, None);
    }
}

#[tokio::test]
async fn root_search_covers_users_and_groups() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    app.create_user(&t, "s1@x.example").await;
    app.create_group(&t, "Searchers", &[]).await;
    let r = app
        .post(
            &t,
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["totalResults"], 2);
    let r = app
        .post(
            &t,
            "/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "displayName eq \"Searchers\""}),
        )
        .await;
    assert_eq!(r.body["totalResults"], 1, "{}", r.body);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    assert_scim_error(&app.get(&t, "/Nope").await, 404, None);
    let r = app.call(&t, Method::DELETE, "/Users", None).await;
    assert_scim_error(&r, 405, None);
}

#[tokio::test]
async fn group_put_replaces_members_and_rename_with_repeated_id_works() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let u1 = app.create_user(&t, "p1@x.example").await;
    let u2 = app.create_user(&t, "p2@x.example").await;
    let g = app.create_group(&t, "Before", &[&u1]).await;
    // A full PUT as Okta sends it: the id repeated, members by value only.
    let put = app
        .put(
            &t,
            &format!("/Groups/{g}"),
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": g,
                "displayName": "After",
                "members": [{"value": u2}]
            }),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["displayName"], "After");
    let ids: Vec<&str> = put.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![u2.as_str()]);

    // A rename through PATCH whose value repeats the id.
    let rename = app
        .patch(
            &t,
            &format!("/Groups/{g}"),
            patch_op(json!([{"op": "replace", "value": {"id": g, "displayName": "Renamed"}}])),
        )
        .await;
    assert_eq!(rename.status, StatusCode::NO_CONTENT, "{}", rename.body);
    let got = app.get(&t, &format!("/Groups/{g}")).await;
    assert_eq!(got.body["displayName"], "Renamed");
    assert_eq!(got.body["members"][0]["value"], u2.as_str());

    // Replacing the member list through PATCH, then removing everyone.
    let replace = app
        .patch(
            &t,
            &format!("/Groups/{g}"),
            patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u2}]}])),
        )
        .await;
    assert_eq!(replace.status, StatusCode::NO_CONTENT, "{}", replace.body);
    let got = app.get(&t, &format!("/Groups/{g}")).await;
    assert_eq!(got.body["members"].as_array().unwrap().len(), 2);
    let clear = app
        .patch(
            &t,
            &format!("/Groups/{g}"),
            patch_op(json!([{"op": "remove", "path": "members"}])),
        )
        .await;
    assert_eq!(clear.status, StatusCode::NO_CONTENT, "{}", clear.body);
    let got = app.get(&t, &format!("/Groups/{g}")).await;
    assert!(got.body.get("members").is_none(), "{}", got.body);
}

#[tokio::test]
async fn user_put_keeps_groups_readonly_and_patch_without_path_works() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let u = app.create_user(&t, "ro@x.example").await;
    let g = app.create_group(&t, "Readers", &[&u]).await;
    let mut body = user("ro@x.example");
    body["id"] = json!(u);
    body["groups"] = json!([{"value": "made-up"}]);
    body["meta"] = json!({"resourceType": "User"});
    let put = app.put(&t, &format!("/Users/{u}"), body).await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.body);
    assert_eq!(put.body["groups"][0]["value"], g.as_str());
    let deactivate = app
        .patch(
            &t,
            &format!("/Users/{u}"),
            patch_op(json!([{"op": "replace", "value": {"active": false}}])),
        )
        .await;
    assert_eq!(deactivate.status, StatusCode::OK, "{}", deactivate.body);
    assert_eq!(deactivate.body["active"], false);
    assert_eq!(deactivate.body["groups"][0]["value"], g.as_str());
    // A deactivated user stays readable and filterable.
    let found = app
        .get(
            &t,
            "/Users?filter=userName%20eq%20%22ro@x.example%22%20and%20active%20eq%20false",
        )
        .await;
    assert_eq!(found.body["totalResults"], 1);
}

#[tokio::test]
async fn tenant_settings_turn_provisioning_and_groups_off_and_add_attributes() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let other = app.tenant("other").await;
    let id = roster_store::TenantId::new(t.id.clone());

    // Groups off: group endpoints refuse with a detail that says what to do, and discovery
    // stops advertising the Group resource type.
    app.directory
        .set_setting(&id, "groups", "off")
        .await
        .unwrap();
    let r = app.get(&t, "/Groups").await;
    assert_scim_error(&r, 403, None);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("Groups are turned off")
    );
    assert_scim_error(&app.post(&t, "/Groups", group("G", &[])).await, 403, None);
    let types = app.get(&t, "/ResourceTypes").await;
    assert_eq!(types.body["totalResults"], 1, "{}", types.body);
    assert_eq!(types.body["Resources"][0]["name"], "User");
    let schemas = app.get(&t, "/Schemas").await;
    assert!(!schemas.body.to_string().contains("core:2.0:Group"));
    assert_eq!(app.get(&t, "/Users").await.status, StatusCode::OK);
    // Another tenant is not affected.
    assert_eq!(app.get(&other, "/Groups").await.status, StatusCode::OK);

    // Extra user attributes: advertised, stored, returned and filterable.
    app.directory
        .set_setting(&id, "user-attributes", "username,badge:integer")
        .await
        .unwrap();
    let ext = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
    let schema = app.get(&t, &format!("/Schemas/{ext}")).await;
    assert_eq!(schema.status, StatusCode::OK, "{}", schema.body);
    assert_eq!(schema.body["attributes"][0]["name"], "username");
    let mut body = user("nick@x.example");
    body["schemas"] = json!(["urn:ietf:params:scim:schemas:core:2.0:User", ext]);
    body[ext] = json!({"username": "nick", "badge": 7});
    let created = app.post(&t, "/Users", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body[ext]["username"], "nick");
    let found = app
        .get(
            &t,
            &format!("/Users?filter={ext}:username%20eq%20%22NICK%22"),
        )
        .await;
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    // The other tenant has no such attribute.
    let mut elsewhere = user("nick@x.example");
    elsewhere[ext] = json!({"username": "nick"});
    let refused = app.post(&other, "/Users", elsewhere).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);

    // Provisioning off: every SCIM request is refused with a detail saying so.
    app.directory
        .set_setting(&id, "provisioning", "off")
        .await
        .unwrap();
    let off = app.get(&t, "/Users").await;
    assert_scim_error(&off, 403, None);
    assert!(
        off.body["detail"]
            .as_str()
            .unwrap()
            .contains("Provisioning is turned off")
    );
    app.directory
        .set_setting(&id, "provisioning", "on")
        .await
        .unwrap();
    assert_eq!(app.get(&t, "/Users").await.status, StatusCode::OK);

    // Bad settings are refused.
    assert!(
        app.directory
            .set_setting(&id, "compatibility", "loose")
            .await
            .is_err()
    );
    assert!(
        app.directory
            .set_setting(&id, "nonsense", "on")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn service_configuration_is_an_alias() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let a = app.get(&t, "/serviceConfiguration").await;
    let b = app.get(&t, "/ServiceProviderConfig").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, b.body);
}

#[tokio::test]
async fn passwords_and_tokens_are_never_stored_or_returned_in_clear() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let secret = "Pl41n-T3xt-Secret-Value";
    let mut body = user("pw@x.example");
    body["password"] = json!(secret);
    let created = app.post(&t, "/Users", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert!(created.body.get("password").is_none(), "{}", created.body);
    let got = app
        .get(&t, &format!("/Users/{id}?attributes=password,userName"))
        .await;
    assert!(got.body.get("password").is_none(), "{}", got.body);
    let listed = app.get(&t, "/Users").await;
    assert!(
        !listed.body.to_string().contains("password"),
        "{}",
        listed.body
    );
    // Okta changes a password with PATCH; the new one is hashed too.
    let changed = "An0ther-Clear-Secret";
    let r = app
        .patch(
            &t,
            &format!("/Users/{id}"),
            patch_op(json!([{"op": "replace", "path": "password", "value": changed}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.get("password").is_none());

    // Neither the passwords nor the token appear anywhere in the database.
    let text = app.stored_text();
    for clear in [secret, changed, t.token.as_str()] {
        assert!(!text.contains(clear), "{clear} stored in clear");
    }
    assert!(text.contains("$argon2id$"), "no argon2id hash stored");
}

#[tokio::test]
async fn endpoint_names_are_matched_without_regard_to_case_or_trailing_slash() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let id = app.create_user(&t, "case@x.example").await;
    for path in [
        "/users",
        "/Users/",
        "/USERS?count=1",
        "/serviceconfiguration",
        "/schemas",
    ] {
        let r = app.get(&t, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    let r = app.get(&t, &format!("/users/{id}")).await;
    assert_eq!(r.status, StatusCode::OK);
    // Ids are not endpoint names: they keep their case.
    let r = app.get(&t, &format!("/Users/{}", id.to_uppercase())).await;
    assert_scim_error(&r, 404, None);
}

#[tokio::test]
async fn an_empty_group_can_be_renamed_and_patched() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let g = app.create_group(&t, "Empty", &[]).await;
    let got = app.get(&t, &format!("/Groups/{g}")).await;
    assert!(got.body.get("members").is_none(), "{}", got.body);
    let r = app
        .patch(
            &t,
            &format!("/Groups/{g}"),
            patch_op(json!([
                {"op": "replace", "path": "displayName", "value": "Still empty"},
                {"op": "add", "path": "externalId", "value": "ext-g"}
            ])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = app.get(&t, &format!("/Groups/{g}")).await;
    assert_eq!(got.body["displayName"], "Still empty");
    assert_eq!(got.body["externalId"], "ext-g");
}

#[tokio::test]
async fn strict_tenants_get_rfc_errors_where_auto_tenants_get_normalised() {
    let app = spawn_app().await;
    let auto = app.tenant("auto").await;
    let strict = app.tenant("strict").await;
    app.directory
        .set_setting(
            &roster_store::TenantId::new(strict.id.clone()),
            "compatibility",
            "strict",
        )
        .await
        .unwrap();
    let entra = patch_op(json!([{"op": "Replace", "path": "active", "value": "False"}]));
    for (t, name) in [(&auto, "auto"), (&strict, "strict")] {
        let id = app.create_user(t, &format!("{name}@x.example")).await;
        let r = app.patch(t, &format!("/Users/{id}"), entra.clone()).await;
        if name == "auto" {
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(r.body["active"], false);
            let noted = r.header("x-roster-normalizations").unwrap_or_default();
            assert!(
                noted.contains("op-case") && noted.contains("string-boolean"),
                "{noted}"
            );
        } else {
            assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
            assert!(r.header("x-roster-normalizations").is_none());
            let still = app.get(t, &format!("/Users/{id}")).await;
            assert_eq!(
                still.body["active"], true,
                "a refused PATCH changed nothing"
            );
        }
        let unquoted = app.get(t, "/Users?filter=userName%20sw%20a").await;
        let expected = if name == "auto" { 200 } else { 400 };
        assert_eq!(
            unquoted.status.as_u16(),
            expected,
            "{name}: {}",
            unquoted.body
        );
    }
}

#[tokio::test]
async fn a_member_display_the_client_sent_is_echoed_back() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let u1 = app.create_user(&t, "d1@x.example").await;
    let u2 = app.create_user(&t, "d2@x.example").await;
    let g = app
        .post(
            &t,
            "/Groups",
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "Labelled",
                "members": [{"value": u1, "display": "Label One"}, {"value": u2}]
            }),
        )
        .await;
    assert_eq!(g.status, StatusCode::CREATED, "{}", g.body);
    let gid = g.body["id"].as_str().unwrap().to_owned();
    let display_of = |body: &Value, id: &str| {
        body["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["value"] == id)
            .map(|m| m["display"].clone())
            .unwrap()
    };
    assert_eq!(display_of(&g.body, &u1), "Label One");
    // Without a label, the member's own name.
    assert_eq!(display_of(&g.body, &u2), "Ada Lovelace");
    let r = app
        .patch(
            &t,
            &format!("/Groups/{gid}"),
            patch_op(json!([{"op": "add", "path": "members", "value": [{"value": u2, "display": "Label Two"}]}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let got = app.get(&t, &format!("/Groups/{gid}")).await;
    assert_eq!(display_of(&got.body, &u2), "Label Two");
    assert_eq!(display_of(&got.body, &u1), "Label One");
}

/// Every attribute of the Entra mapping table in the setup guides (`001_*.txt`), plus the
/// enterprise attributes Entra maps by default: each round-trips through create, PUT, PATCH
/// and a filter.
#[tokio::test]
async fn the_attributes_entra_maps_round_trip() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    let manager = app.create_user(&t, "boss@x.example").await;
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ent],
        "userName": "mapped@x.example",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "active": true,
        "displayName": "Mapped User",
        "emails": [{"type": "work", "value": "mapped@x.example", "primary": true}],
        "preferredLanguage": "en-GB",
        "name": {"givenName": "Mapped", "familyName": "User", "formatted": "Mapped User"},
        "locale": "en-GB",
        "timezone": "Europe/London",
        "userType": "Member",
        ent: {
            "employeeNumber": "1042",
            "department": "Research",
            "costCenter": "CC-7",
            "organization": "Contoso",
            "division": "Labs",
            "manager": {"value": manager}
        }
    });
    let created = app.post(&t, "/Users", body.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    // (path in the resource, filter attribute, value after create, value to PUT, value to PATCH)
    let core = [
        (
            "/externalId",
            "externalId",
            "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "ext-2",
            "ext-3",
        ),
        (
            "/displayName",
            "displayName",
            "Mapped User",
            "Put Name",
            "Patched Name",
        ),
        (
            "/preferredLanguage",
            "preferredLanguage",
            "en-GB",
            "fr-FR",
            "de-DE",
        ),
        (
            "/name/givenName",
            "name.givenName",
            "Mapped",
            "Put",
            "Patched",
        ),
        (
            "/name/familyName",
            "name.familyName",
            "User",
            "Putter",
            "Patcher",
        ),
        (
            "/name/formatted",
            "name.formatted",
            "Mapped User",
            "Put Putter",
            "Patched Patcher",
        ),
        ("/locale", "locale", "en-GB", "fr-FR", "de-DE"),
        (
            "/timezone",
            "timezone",
            "Europe/London",
            "Europe/Paris",
            "Europe/Berlin",
        ),
        ("/userType", "userType", "Member", "Guest", "Contractor"),
        (
            "/emails/0/value",
            "emails[type eq \"work\"].value",
            "mapped@x.example",
            "put@x.example",
            "patched@x.example",
        ),
    ];
    let enterprise = [
        ("employeeNumber", "1042", "2042", "3042"),
        ("department", "Research", "Sales", "Support"),
        ("costCenter", "CC-7", "CC-8", "CC-9"),
        ("organization", "Contoso", "Fabrikam", "Northwind"),
        ("division", "Labs", "Field", "Office"),
    ];
    let mut rows: Vec<(String, String, [Value; 3])> = core
        .iter()
        .map(|(p, a, c, u, x)| {
            (
                (*p).to_owned(),
                (*a).to_owned(),
                [json!(c), json!(u), json!(x)],
            )
        })
        .collect();
    rows.push((
        "/active".into(),
        "active".into(),
        [json!(true), json!(false), json!(true)],
    ));
    for (a, c, u, x) in enterprise {
        rows.push((
            format!("/{ent}/{a}"),
            format!("{ent}:{a}"),
            [json!(c), json!(u), json!(x)],
        ));
    }
    let filter_of = |attr: &str, v: &Value| -> String {
        // `emails[type eq "work"].value` filters as `emails[type eq "work" and value eq ...]`.
        let f = match attr.strip_suffix("].value") {
            Some(head) => format!("{head} and value eq {v}]"),
            None => format!("{attr} eq {v}"),
        };
        // The manager is a user too: the lookup names the mapped user.
        let f = format!("({f}) and userName eq \"mapped@x.example\"");
        f.replace(' ', "%20")
            .replace('"', "%22")
            .replace('[', "%5B")
            .replace(']', "%5D")
    };
    // Stage 0: after create, 1: after PUT, 2: after PATCH.
    let check = |stage: usize, got: &Value| {
        for (pointer, _, values) in &rows {
            assert_eq!(
                got.pointer(pointer),
                Some(&values[stage]),
                "stage {stage}: {pointer} in {got}"
            );
        }
    };
    check(0, &created.body);
    for (_, attr, values) in &rows {
        let found = app
            .get(
                &t,
                &format!("/Users?filter={}", filter_of(attr, &values[0])),
            )
            .await;
        assert_eq!(
            found.body["totalResults"], 1,
            "filter on {attr} after create: {}",
            found.body
        );
    }

    let mut put = body.clone();
    for (pointer, _, values) in &rows {
        *put.pointer_mut(pointer).unwrap() = values[1].clone();
    }
    let replaced = app.put(&t, &format!("/Users/{id}"), put).await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.body);
    check(1, &replaced.body);

    // PATCH as Entra sends it: one replace per attribute, with its path.
    let ops: Vec<Value> = rows
        .iter()
        .map(|(_, attr, values)| json!({"op": "Replace", "path": attr, "value": values[2]}))
        .collect();
    let patched = app
        .patch(&t, &format!("/Users/{id}"), patch_op(json!(ops)))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
    check(2, &patched.body);
    for (_, attr, values) in &rows {
        let found = app
            .get(
                &t,
                &format!("/Users?filter={}", filter_of(attr, &values[2])),
            )
            .await;
        assert_eq!(
            found.body["totalResults"], 1,
            "filter on {attr} after PATCH: {}",
            found.body
        );
    }
    assert_eq!(patched.body[ent]["manager"]["value"], manager.as_str());
}

#[tokio::test]
async fn meta_timestamps_in_a_write_response_match_later_reads() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let created = app.post(&t, "/Users", user("time@x.example")).await;
    let id = created.body["id"].as_str().unwrap();
    let read = app.get(&t, &format!("/Users/{id}")).await;
    assert_eq!(created.body["meta"], read.body["meta"]);
}

/// The two settings Microsoft's SCIM validation needs: members that name nothing left out
/// (noted in the normalisations header) instead of refused, and 204 for a user PATCH; by
/// default both are as RFC 7644 and Okta want them.
#[tokio::test]
async fn unknown_members_and_patch_response_follow_the_tenant_settings() {
    let app = spawn_app().await;
    let t = app.tenant("acme").await;
    let ada = app.create_user(&t, "ada@acme.test").await;
    let engineering = app.create_group(&t, "Engineering", &[]).await;
    let add = |ids: &[&str]| {
        patch_op(json!([{
            "op": "add",
            "path": "members",
            "value": ids.iter().map(|id| json!({"value": id})).collect::<Vec<_>>(),
        }]))
    };
    let members = |r: &Reply| {
        r.body["members"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x["value"].as_str().unwrap_or("").to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };

    // Default: refused, nothing changes; a user PATCH answers 200 with the user.
    let r = app
        .patch(
            &t,
            &format!("/Groups/{engineering}"),
            add(&[&ada, "string id 1"]),
        )
        .await;
    assert_scim_error(&r, 400, Some("invalidValue"));
    let r = app.get(&t, &format!("/Groups/{engineering}")).await;
    assert!(
        members(&r).is_empty(),
        "a refused add changes nothing: {}",
        r.body
    );
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada"}]));
    let r = app
        .patch(&t, &format!("/Users/{ada}"), rename.clone())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "Ada");

    let id = roster_store::TenantId::new(t.id.clone());
    app.directory
        .set_setting(&id, "unknown-members", "ignore")
        .await
        .expect("setting");
    app.directory
        .set_setting(&id, "patch-response", "no-content")
        .await
        .expect("setting");

    // Ignored: the known member is added, the unknown ones left out and noted.
    let r = app
        .patch(
            &t,
            &format!("/Groups/{engineering}"),
            add(&[&ada, "string id 1", "string id 2"]),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(
        r.header("x-roster-normalizations")
            .unwrap_or_default()
            .contains("unknown-member-ignored")
    );
    let r = app.get(&t, &format!("/Groups/{engineering}")).await;
    assert_eq!(members(&r), vec![ada.clone()]);
    // The same on create and on replace.
    let r = app
        .post(&t, "/Groups", group("Sales", &[&ada, "nobody"]))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(members(&r), vec![ada.clone()]);
    let sales = r.body["id"].as_str().expect("id").to_owned();
    let r = app
        .put(
            &t,
            &format!("/Groups/{sales}"),
            group("Sales", &["nobody", &ada]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(members(&r), vec![ada.clone()]);
    // A replace of the whole list through the general PATCH path too.
    let r = app
        .call_with(
            &t,
            Method::PATCH,
            &format!("/Groups/{sales}?attributes=members"),
            Some(patch_op(json!([{"op": "replace", "path": "members", "value": [{"value": "ghost"}, {"value": ada}]}]))),
            &[],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(members(&r), vec![ada.clone()]);

    // A user PATCH answers 204, unless attributes ask for the resource.
    let r = app
        .patch(&t, &format!("/Users/{ada}"), rename.clone())
        .await;
    assert_eq!(r.status, 204);
    assert!(r.header("etag").is_some());
    let r = app
        .patch(&t, &format!("/Users/{ada}?attributes=displayName"), rename)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["displayName"], "Ada");
}
