//! Write-back: the id the target assigns to a user is kept on the source user, in one of the
//! tenant's extra attributes (where SSO matching and other targets can read it); a later
//! different report from the target keeps the stored value and says so in the log.

use roster_directory::targets::{ScopeMode, TargetChange, WriteBack};
use roster_store::TenantId;
use serde_json::json;

use super::{Remote, add_target};
use crate::support::{eventually, patch_op, spawn_app};

const EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

#[tokio::test]
async fn the_target_id_is_written_back_and_kept() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    app.directory
        .set_setting(&tenant, "user-attributes", "appId")
        .await
        .expect("an extra attribute");
    let target = add_target(&app, &src, &remote, ScopeMode::All).await;
    let into = |to: &str| TargetChange {
        write_back: Some(vec![WriteBack {
            from: "id".into(),
            to: to.into(),
        }]),
        ..TargetChange::default()
    };
    // Only into an extra attribute: never over what the identity provider sends.
    let refused = app
        .directory
        .change_target(&tenant, &target.id, into("title"))
        .await;
    assert!(
        refused.is_err_and(|e| e.to_string().contains("extra user attributes")),
        "a SCIM attribute is refused"
    );
    app.directory
        .change_target(&tenant, &target.id, into("appId"))
        .await
        .expect("write-back");
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let there = async || {
        remote
            .find("Users", "userName", "ada@contoso.com")
            .await
            .and_then(|u| u["id"].as_str().map(str::to_owned))
    };
    eventually("ada pushed", true, async || there().await.is_some()).await;
    let remote_id = there().await.expect("ada there");
    eventually(
        "the target's id kept on ada",
        Some(remote_id.clone()),
        async || {
            app.get(&src, &format!("/Users/{ada}")).await.body[EXTENSION]["appId"]
                .as_str()
                .map(str::to_owned)
        },
    )
    .await;

    // A sign-in can be matched on it (a connection's key: `--match appId`).
    use roster_directory::sso::{Matched, UserKey};
    let ctx = app
        .directory
        .tenant_context(&tenant)
        .await
        .expect("context")
        .expect("the tenant");
    let key = UserKey {
        claim: "oid".into(),
        attribute: Matched::parse("appId").expect("an extra attribute"),
    };
    assert_eq!(
        serde_json::to_value(&key.attribute).expect("json"),
        json!(format!("{EXTENSION}:appId")),
        "stored by its full path"
    );
    let found = app
        .directory
        .user_for_sign_in(&ctx, &key, &remote_id)
        .await
        .expect("a lookup");
    assert_eq!(found.map(|u| u.id), Some(ada.clone()));
    assert!(
        Matched::parse("badge")
            .expect("a name")
            .check(&ctx.settings)
            .is_err(),
        "an attribute the organisation does not have is refused"
    );

    // The identity provider overwrites it, with a change the target is sent: the target
    // reports its own id, the stored one is kept, and the log says so.
    let change = patch_op(json!([
        {"op": "replace", "path": format!("{EXTENSION}:appId"), "value": "from-the-idp"},
        {"op": "replace", "path": "displayName", "value": "Ada L."}
    ]));
    let r = app.patch(&src, &format!("/Users/{ada}"), change).await;
    assert_eq!(r.status, 200, "{}", r.body);
    eventually("the difference logged", true, async || {
        app.directory
            .log_page(
                &tenant,
                &roster_store::LogQuery {
                    limit: 100,
                    action: Some("outbound".into()),
                    ..Default::default()
                },
            )
            .await
            .expect("log")
            .iter()
            .any(|e| e.explanation.contains("the stored value is kept"))
    })
    .await;
    assert_eq!(
        app.get(&src, &format!("/Users/{ada}")).await.body[EXTENSION]["appId"],
        "from-the-idp",
        "never silently overwritten"
    );
}
