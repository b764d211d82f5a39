//! The applications on a tenant's page, in headless Chromium: an administrator adds one
//! (a bad URL is refused and changes nothing), watches the first cycle, tests the connection,
//! provisions a user on demand and reads each step, assigns a group, and switches deleting
//! off. Screenshots `target-1` to `target-4`.

use roster_store::TenantId;

use super::Remote;
use crate::support::browser::Browser;
use crate::support::{eventually, spawn_app};

#[tokio::test]
async fn an_administrator_provisions_into_an_application_from_the_page() {
    let app = spawn_app().await;
    let src = app.tenant("Contoso").await;
    let dst = app.tenant("Fabrikam").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    app.create_user(&src, "bob@contoso.com").await;
    app.create_group(&src, "Sales", &[&ada]).await;
    let link = app
        .directory
        .create_portal_link(&tenant, None)
        .await
        .expect("a setup link");
    let b = Browser::start(1280, 1100).await;
    b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
        .await;
    b.click("a[href$='/targets']").await;
    assert!(b.text().await.contains("No application yet"));

    // A URL that is not allowed: refused, saying why, nothing added.
    b.fill("t-name", "fabrikam").await;
    b.fill("t-url", "http://169.254.169.254/scim").await;
    b.fill("t-token", &dst.token).await;
    b.click("form[action$='/targets'] button[type=submit]")
        .await;
    let text = b.text().await;
    assert!(text.contains("The application was not added"), "{text}");
    assert!(
        app.directory
            .targets(&tenant)
            .await
            .expect("targets")
            .is_empty()
    );
    b.screenshot("target-1-refused").await;

    // Added: assigned users and groups only (Entra's default), nothing assigned yet.
    b.fill("t-url", &dst.base).await;
    b.fill("t-token", &dst.token).await;
    b.click("form[action$='/targets'] button[type=submit]")
        .await;
    b.wait_for_text("Provision on demand").await;
    b.click("form[action$='/test'] button").await;
    let text = b.text().await;
    assert!(text.contains("answers as a SCIM service"), "{text}");

    // Provision on demand: each step, and ada is in the application.
    b.fill("p-who", "ada@contoso.com").await;
    b.click("form[action$='/provision'] button").await;
    let text = b.text().await;
    assert!(text.contains("out of scope: not assigned"), "{text}");
    b.fill("a-who", "Sales").await;
    b.click("form[action$='/assign'] button").await;
    assert!(b.text().await.contains("Sales is assigned"));
    b.fill("p-who", "ada@contoso.com").await;
    b.click("form[action$='/provision'] button").await;
    let text = b.text().await;
    assert!(text.contains("assigned through the group Sales"), "{text}");
    // Created now, or by the cycle the assignment started (then matched, or unchanged).
    assert!(
        ["created", "updated", "unchanged"]
            .iter()
            .any(|a| text.contains(&format!("ada@contoso.com: {a}."))),
        "{text}"
    );
    b.reveal("demand-heading").await;
    b.screenshot("target-2-provision-on-demand").await;
    let remote = Remote::new(&dst.base, &dst.token);
    assert!(
        remote
            .find("Users", "userName", "ada@contoso.com")
            .await
            .is_some()
    );

    // The cycle brings Sales too; bob is not assigned.
    eventually("Sales in the application", true, async || {
        remote
            .find("Groups", "displayName", "Sales")
            .await
            .is_some()
    })
    .await;
    assert!(
        remote
            .find("Users", "userName", "bob@contoso.com")
            .await
            .is_none()
    );
    let target = &app.directory.targets(&tenant).await.expect("targets")[0];
    // What Roster records of a page's objects is written once the page is done.
    eventually("recorded: ada and Sales", (1, 1), async || {
        app.directory
            .target_status(&tenant, target)
            .await
            .expect("status")
            .1
    })
    .await;
    b.goto(&format!(
        "{}/portal/{}/targets/{}",
        app.address, "contoso", target.id
    ))
    .await;
    let text = b.text().await;
    assert!(text.contains("holds 1 user and 1 group "), "{text}");
    b.screenshot("target-3-status").await;

    // Deleting switched off: saved, and the policy says so.
    b.tick("#s-delete").await;
    b.choose("s-leaving", "nothing").await;
    b.click("form[action$='/settings'] button").await;
    assert!(b.text().await.contains("Saved"));
    let saved = app
        .directory
        .target(&tenant, &target.id)
        .await
        .expect("target");
    assert!(!saved.settings.policy.delete);
    b.reveal("settings-heading").await;
    b.screenshot("target-4-settings").await;

    // Another organisation's session does not open this page.
    let other = app.tenant("Northwind").await;
    let other_link = app
        .directory
        .create_portal_link(&TenantId::new(&other.id), None)
        .await
        .expect("a setup link");
    let b2 = Browser::start(1000, 800).await;
    b2.goto(&format!(
        "{}/portal/open/{}",
        app.address, other_link.secret
    ))
    .await;
    b2.goto(&format!(
        "{}/portal/contoso/targets/{}",
        app.address, target.id
    ))
    .await;
    assert!(b2.text().await.contains("Page not found"));
    b2.close().await;
    b.close().await;
}
