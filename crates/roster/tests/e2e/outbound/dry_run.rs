//! A dry run of a whole cycle: what it would do, counted and listed with each request, over
//! the tenant API, the command's engine call and the page (Chromium, screenshot
//! `target-5-dry-run`); nothing reaches the target.

use roster_directory::Scope;
use roster_directory::targets::{ScopeMode, TargetChange};
use roster_store::TenantId;
use serde_json::{Value, json};

use super::{Remote, add_target, user_there};
use crate::support::browser::Browser;
use crate::support::{eventually, patch_op, spawn_app};

#[tokio::test]
async fn a_dry_run_says_what_a_cycle_would_send_and_sends_nothing() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let bob = app.create_user(&src, "bob@contoso.com").await;
    let sales = app.create_group(&src, "Sales", &[&ada]).await;
    let target = add_target(&app, &src, &remote, ScopeMode::All).await;
    // Once the first cycle is recorded, a cycle would change nothing.
    let engine = roster_engine::Engine::one_off(&app.directory, "test");
    eventually("the first cycle, recorded", true, async || {
        let run = engine.dry_run(&tenant, &target.id).await.expect("dry run");
        run.counts.get("User unchanged") == Some(&2)
            && run.counts.get("Group unchanged") == Some(&1)
    })
    .await;
    let pause = TargetChange {
        paused: Some(true),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, pause)
        .await
        .expect("paused");

    // While paused: ada renamed, cy new, bob joins Sales.
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada L."}]));
    app.patch(&src, &format!("/Users/{ada}"), rename).await;
    app.create_user(&src, "cy@contoso.com").await;
    let add = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": bob}]}]));
    app.patch(&src, &format!("/Groups/{sales}"), add).await;

    let (_, key) = app
        .directory
        .create_api_key("reader", &[Scope::DirectoryRead])
        .await
        .expect("key");
    let response = crate::support::http_client()
        .post(format!(
            "{}/api/v1/tenants/{}/targets/{}/dry-run",
            app.address, src.id, target.id
        ))
        .bearer_auth(&key)
        .send()
        .await
        .expect("dry run");
    assert_eq!(response.status(), 200);
    let run: Value = response.json().await.expect("json");
    assert_eq!(
        run["counts"],
        json!({"User update": 1, "User create": 1, "User unchanged": 1, "Group members": 1}),
        "{run}"
    );
    let requests = run["requests"].as_array().expect("requests");
    let update = requests
        .iter()
        .find(|r| r["action"] == "update")
        .expect("the update");
    assert_eq!(update["name"], "ada@contoso.com");
    assert_eq!(update["method"], "PATCH");
    assert!(update["path"].as_str().unwrap().starts_with("/Users/"));
    assert!(update["body"].to_string().contains("Ada L."), "{update}");
    let create = requests
        .iter()
        .find(|r| r["action"] == "create")
        .expect("the create");
    assert_eq!(create["method"], "POST");
    assert_eq!(create["body"]["userName"], "cy@contoso.com");
    let members = requests
        .iter()
        .find(|r| r["action"] == "members")
        .expect("the members");
    assert_eq!(members["body"]["Operations"][0]["op"], "add");
    assert_eq!(run["truncated"], false);

    // Nothing was sent.
    assert!(!user_there(&remote, "cy@contoso.com").await.0);
    assert_ne!(user_there(&remote, "ada@contoso.com").await.2, "Ada L.");

    // The page, reached from the application's page.
    let link = app
        .directory
        .create_portal_link(&tenant, None)
        .await
        .expect("a setup link");
    let b = Browser::start(1280, 1300).await;
    b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
        .await;
    b.click("a[href$='/targets']").await;
    b.click(&format!("a[href$='/targets/{}']", target.id)).await;
    b.click("a[href$='/dry-run']").await;
    let text = b.text().await;
    assert!(text.contains("Nothing was sent to app"), "{text}");
    assert!(
        text.contains("create User cy@contoso.com: POST /Users"),
        "{text}"
    );
    b.screenshot("target-5-dry-run").await;
    b.close().await;
    assert!(!user_there(&remote, "cy@contoso.com").await.0);
}
