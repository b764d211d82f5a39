//! Outbound provisioning end to end: a tenant's directory pushed by the engine of the running
//! server into SCIM applications the project did not write (python-scim's scim2-server, a
//! SCIMMY server) and into another Roster tenant; for each of them, faults (429, 500) and a
//! revoked token (quarantine, then recovery after a new token and a test connection).

use roster_directory::targets::{Auth, NewTarget, ScopeMode, Target, TargetChange};
use roster_engine::Engine;
use roster_store::{Kind, TenantId};
use serde_json::{Value, json};

use crate::support::faulty::Faulty;
use crate::support::{TestApp, TestTenant, eventually, patch_op, spawn_app};

mod api;
mod approvals;
mod dry_run;
mod onelogin;
mod pages;
mod process;
mod remote;
mod write_back;

pub use remote::Remote;

/// A target of `source` at `remote`, with `scope`.
async fn add_target(
    app: &TestApp,
    source: &TestTenant,
    remote: &Remote,
    scope: ScopeMode,
) -> Target {
    app.directory
        .add_target(
            &TenantId::new(&source.id),
            NewTarget {
                name: "app".into(),
                url: remote.base.clone(),
                auth: Auth::Bearer,
                secret: remote.token.clone(),
                scope,
            },
        )
        .await
        .expect("a target")
}

/// Waits until the target's first cycle has ended, recorded whole (its run is incremental),
/// and its run has read the change log up to its head.
async fn first_cycle_ended(app: &TestApp, tenant: &TenantId, target: &Target) {
    eventually("the first cycle ended", true, async || {
        let (run, _) = app
            .directory
            .target_status(tenant, target)
            .await
            .expect("status");
        // On PostgreSQL the changes made just before the target was added may be numbered
        // after its starting position: they are read after the first cycle, and a change
        // made while they are would be read by a step of its own.
        crate::support::events_positioned(app).await;
        let head = app.directory.log_head(tenant).await.expect("head");
        if run.as_ref().is_some_and(|r| r.position < head) {
            return false;
        }
        // And not due again at once: a cycle woken while it ran (by an assignment, a change
        // of settings) is followed by another at once (`next_at` 0, then 1 while claimed),
        // and a change made during that one would be split across two cycles.
        run.is_some_and(|r| r.phase == "incremental" && r.cycle_ended_at > 0 && r.next_at > 1)
    })
    .await;
}

/// The target's user `user_name`: `(present, active, displayName)`.
async fn user_there(remote: &Remote, user_name: &str) -> (bool, bool, String) {
    match remote.find("Users", "userName", user_name).await {
        None => (false, false, String::new()),
        Some(u) => (
            true,
            u["active"].as_bool().unwrap_or(true),
            u["displayName"].as_str().unwrap_or_default().to_owned(),
        ),
    }
}

/// The target's group `name`: its members' userNames there, sorted.
async fn members_there(remote: &Remote, name: &str) -> Option<Vec<String>> {
    let group = remote.find("Groups", "displayName", name).await?;
    let mut names = Vec::new();
    for m in group["members"].as_array().into_iter().flatten() {
        let id = m["value"].as_str().expect("a member's value");
        let user = remote.get(&format!("/Users/{id}")).await;
        names.push(user["userName"].as_str().unwrap_or("?").to_owned());
    }
    names.sort();
    Some(names)
}

/// The scenario every target goes through: an initial cycle of the assigned group's members,
/// an attribute change, a deactivation, a scope change (assigned, then unassigned), a group
/// membership change, a deletion, and provision on demand.
pub async fn pushes_a_tenant_into(app: &TestApp, remote: &Remote) {
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let bob = app.create_user(&src, "bob@contoso.com").await;
    let cy = app.create_user(&src, "cy@contoso.com").await;
    let sales = app.create_group(&src, "Sales", &[&ada, &bob]).await;
    let target = add_target(app, &src, remote, ScopeMode::Assigned).await;
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::Group, &sales)
        .await
        .expect("assign");

    // The initial cycle: the group's members and the group, nobody else.
    let ada_name = "Ada Lovelace".to_owned();
    eventually("the initial cycle", (true, true), async || {
        (
            user_there(remote, "ada@contoso.com").await.0,
            members_there(remote, "Sales").await
                == Some(vec!["ada@contoso.com".into(), "bob@contoso.com".into()]),
        )
    })
    .await;
    assert_eq!(
        user_there(remote, "ada@contoso.com").await,
        (true, true, ada_name)
    );
    assert!(
        !user_there(remote, "cy@contoso.com").await.0,
        "cy is not assigned"
    );

    // An attribute change, then a deactivation, each applied from the change log.
    let r = app
        .patch(
            &src,
            &format!("/Users/{ada}"),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada King"}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    eventually(
        "the new displayName",
        (true, true, "Ada King".to_owned()),
        async || user_there(remote, "ada@contoso.com").await,
    )
    .await;
    let r = app
        .patch(
            &src,
            &format!("/Users/{bob}"),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    eventually("bob deactivated", (true, false), async || {
        let (there, active, _) = user_there(remote, "bob@contoso.com").await;
        (there, active)
    })
    .await;

    // Scope: cy assigned comes in; unassigned, is deactivated (Entra's soft delete).
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::User, &cy)
        .await
        .expect("assign cy");
    eventually("cy provisioned", (true, true), async || {
        let (there, active, _) = user_there(remote, "cy@contoso.com").await;
        (there, active)
    })
    .await;
    app.directory
        .unassign_from_target(&tenant, &target.id, Kind::User, &cy)
        .await
        .expect("unassign cy");
    eventually("cy deactivated", (true, false), async || {
        let (there, active, _) = user_there(remote, "cy@contoso.com").await;
        (there, active)
    })
    .await;

    // Membership: cy joins Sales (and is in scope again through it); bob leaves.
    let r = app
        .patch(
            &src,
            &format!("/Groups/{sales}"),
            patch_op(json!([
                {"op": "add", "path": "members", "value": [{"value": cy}]},
                {"op": "remove", "path": format!("members[value eq \"{bob}\"]")}
            ])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    eventually(
        "Sales is ada and cy",
        Some(vec![
            "ada@contoso.com".to_owned(),
            "cy@contoso.com".to_owned(),
        ]),
        async || members_there(remote, "Sales").await,
    )
    .await;
    assert!(
        user_there(remote, "cy@contoso.com").await.1,
        "cy active again"
    );

    // A deletion at the source deletes in the target.
    let r = app.delete(&src, &format!("/Users/{ada}")).await;
    assert!(r.status.is_success(), "{}", r.body);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while user_there(remote, "ada@contoso.com").await.0 {
        if std::time::Instant::now() > deadline {
            dump(app, &tenant).await;
            let (run, _) = app
                .directory
                .target_status(&tenant, &target)
                .await
                .expect("status");
            panic!("ada not deleted: {run:?}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    eventually(
        "Sales is cy",
        Some(vec!["cy@contoso.com".to_owned()]),
        async || members_there(remote, "Sales").await,
    )
    .await;

    // Provision on demand, with its steps; the target already holds the user.
    let engine = Engine::new(app.directory.clone(), "test".into(), false);
    let done = engine
        .provision_now(&tenant, "app", Kind::User, &cy)
        .await
        .expect("directory")
        .expect("provisioned");
    assert_eq!(done.action, "unchanged", "{:?}", done.steps);
    assert!(
        done.steps
            .iter()
            .any(|s| s.contains("assigned through the group Sales")),
        "{:?}",
        done.steps
    );
    // Bob and cy (ada was deleted), and Sales.
    eventually("what the target holds", (2, 1), async || {
        app.directory
            .target_status(&tenant, &target)
            .await
            .expect("status")
            .1
    })
    .await;
    let (run, _) = app
        .directory
        .target_status(&tenant, &target)
        .await
        .expect("status");
    let run = run.expect("a run");
    assert!(!run.quarantined, "{run:?}");
    // Every object's outcome is in the provisioning log, direction outbound.
    let log = app
        .directory
        .log_page(
            &tenant,
            &roster_store::LogQuery {
                limit: 500,
                action: Some("outbound".into()),
                ..Default::default()
            },
        )
        .await
        .expect("log");
    let outbound: Vec<&str> = log
        .iter()
        .filter(|e| e.action == "outbound")
        .map(|e| e.summary.as_str())
        .collect();
    assert!(
        outbound
            .iter()
            .any(|s| s.starts_with("Created user ada@contoso.com")),
        "{outbound:?}"
    );
    assert!(
        outbound
            .iter()
            .any(|s| s.starts_with("Deactivated user cy@contoso.com")),
        "{outbound:?}"
    );
}

#[tokio::test]
async fn a_tenant_is_pushed_into_another_roster_tenant() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    pushes_a_tenant_into(&app, &remote).await;
}

#[tokio::test]
async fn members_of_groups_nested_in_an_assigned_group_are_in_scope() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let dan = app.create_user(&src, "dan@contoso.com").await;
    app.create_user(&src, "eve@contoso.com").await;
    let platform = app.create_group(&src, "Platform", &[&dan]).await;
    let engineering = app.create_group(&src, "Engineering", &[&platform]).await;
    let target = add_target(&app, &src, &remote, ScopeMode::Assigned).await;
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::Group, &engineering)
        .await
        .expect("assign");
    eventually("dan, through Platform in Engineering", true, async || {
        user_there(&remote, "dan@contoso.com").await.0
            && remote
                .find("Groups", "displayName", "Platform")
                .await
                .is_some()
    })
    .await;
    assert!(
        !user_there(&remote, "eve@contoso.com").await.0,
        "eve is in no group"
    );
    let engine = Engine::new(app.directory.clone(), "test".into(), false);
    let done = engine
        .provision_now(&tenant, "app", Kind::User, &dan)
        .await
        .expect("directory")
        .expect("provisioned");
    assert!(
        done.steps
            .iter()
            .any(|s| s.contains("assigned through the group Platform")),
        "{:?}",
        done.steps
    );
}

/// A target that takes OAuth 2.0 client credentials (another Roster tenant's client): the
/// engine gets an access token at the token endpoint and provisions with it; the client
/// revoked, the target is quarantined with the token endpoint's refusal.
#[tokio::test]
async fn a_target_with_oauth_client_credentials() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let dst_id = TenantId::new(&dst.id);
    let (client, secret) = app
        .directory
        .create_client(&dst_id, "outbound")
        .await
        .expect("a client");
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let target = app
        .directory
        .add_target(
            &tenant,
            NewTarget {
                name: "app".into(),
                url: dst.base.clone(),
                auth: Auth::ClientCredentials {
                    token_url: format!("{}/oauth/token", app.address),
                    client_id: client.id.clone(),
                    scope: None,
                },
                secret,
                scope: ScopeMode::All,
            },
        )
        .await
        .expect("a target");
    let engine = Engine::new(app.directory.clone(), "test".into(), false);
    engine
        .test_connection(&tenant, "app")
        .await
        .expect("directory")
        .expect("the test connection gets a token and succeeds");
    app.create_user(&src, "ada@contoso.com").await;
    let remote = Remote::new(&dst.base, &dst.token);
    eventually("ada, sent with an access token", true, async || {
        user_there(&remote, "ada@contoso.com").await.0
    })
    .await;
    app.directory
        .revoke_client(&dst_id, &client.id)
        .await
        .expect("revoked");
    app.create_user(&src, "bob@contoso.com").await;
    eventually("quarantined", true, async || {
        let (run, _) = app
            .directory
            .target_status(&tenant, &target)
            .await
            .expect("status");
        run.is_some_and(|r| r.quarantined)
    })
    .await;
}

/// A target whose `/ServiceProviderConfig` says it has no PATCH gets PUT with the whole
/// object instead.
#[tokio::test]
async fn a_target_without_patch_gets_put() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let proxy = Faulty::start(&dst.base, &dst.token).await;
    let remote = Remote::new(&proxy.base, &proxy.token());
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let mut target = add_target(&app, &src, &remote, ScopeMode::All).await;
    target.settings.capabilities = Some(roster_directory::targets::Capabilities {
        patch: false,
        filter: true,
        bulk: false,
        etag: false,
    });
    app.directory.save_target(&target).await.expect("saved");
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let direct = Remote::new(&dst.base, &dst.token);
    eventually("ada", true, async || {
        user_there(&direct, "ada@contoso.com").await.0
    })
    .await;
    let r = app
        .patch(
            &src,
            &format!("/Users/{ada}"),
            patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada King"}])),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    eventually("the change, by PUT", "Ada King".to_owned(), async || {
        user_there(&direct, "ada@contoso.com").await.2
    })
    .await;
    // A group and its members, by PUT too.
    app.create_group(&src, "Sales", &[&ada]).await;
    eventually("Sales with ada, by PUT", 1, async || {
        direct
            .find("Groups", "displayName", "Sales")
            .await
            .and_then(|g| g["members"].as_array().map(Vec::len))
            .unwrap_or(0)
    })
    .await;
    // Deactivated (out of scope: the scope becomes "assigned", nothing assigned): by PUT too.
    app.directory
        .change_target(
            &tenant,
            &target.id,
            TargetChange {
                scope: Some(ScopeMode::Assigned),
                ..TargetChange::default()
            },
        )
        .await
        .expect("the scope");
    eventually("deactivated, by PUT", false, async || {
        user_there(&direct, "ada@contoso.com").await.1
    })
    .await;
    let methods: Vec<String> = proxy
        .seen()
        .iter()
        .map(|(line, _)| line.split(' ').next().unwrap_or_default().to_owned())
        .collect();
    assert!(methods.iter().any(|m| m == "PUT"), "{methods:?}");
    assert!(!methods.iter().any(|m| m == "PATCH"), "{methods:?}");
}

/// `SelectUniqueValue` on a mapping applied on create: its first candidate is taken in the
/// target, so the second is used; a mapping that would apply it on update is refused.
#[tokio::test]
async fn select_unique_value_checks_its_candidates_in_the_target() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    app.create_user(&dst, "ada.lovelace@fabrikam.com").await;
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let target = add_target(&app, &src, &remote, ScopeMode::All).await;
    let unique = "SelectUniqueValue(\
        Join(\"@\", Join(\".\", ToLower([givenName]), ToLower([surname])), \"fabrikam.com\"), \
        Join(\"@\", Join(\".\", ToLower(Left([givenName], 1)), ToLower([surname])), \"fabrikam.com\"))";
    let mut mappings = target.settings.user_mappings.clone();
    let list = mappings.as_array_mut().expect("mappings");
    let user_name = list
        .iter_mut()
        .find(|m| m["target"] == "userName")
        .expect("a userName mapping");
    *user_name = json!({"target": "userName", "expression": unique});
    let refused = app
        .directory
        .change_target(
            &tenant,
            &target.id,
            TargetChange {
                user_mappings: Some(mappings.clone()),
                ..TargetChange::default()
            },
        )
        .await
        .expect_err("applied on update");
    assert!(refused.to_string().contains("only on create"), "{refused}");
    let list = mappings.as_array_mut().expect("mappings");
    let user_name = list
        .iter_mut()
        .find(|m| m["target"] == "userName")
        .expect("a userName mapping");
    user_name["apply"] = json!("on_create");
    app.directory
        .change_target(
            &tenant,
            &target.id,
            TargetChange {
                user_mappings: Some(mappings),
                ..TargetChange::default()
            },
        )
        .await
        .expect("the mappings");
    app.create_user(&src, "ada@contoso.com").await;
    eventually("a.lovelace@fabrikam.com", true, async || {
        remote
            .find("Users", "userName", "a.lovelace@fabrikam.com")
            .await
            .is_some()
    })
    .await;
}

#[tokio::test]
async fn a_tenant_is_pushed_into_python_scims_scim2_server() {
    let app = spawn_app().await;
    let server = remote::Scim2Server::start().await;
    pushes_a_tenant_into(&app, &server.remote).await;
}

#[tokio::test]
async fn a_tenant_is_pushed_into_a_scimmy_server() {
    let app = spawn_app().await;
    let server = remote::Scimmy::start().await;
    pushes_a_tenant_into(&app, &server.remote).await;
}

/// Faults and a revoked token, in front of `upstream` (the target's own URL and token): 429
/// (with `Retry-After`) and 500 for a while, and the objects still arrive; the token revoked,
/// the next change quarantines the target; a new token and a test connection end it.
async fn faults_and_a_revoked_token(app: &TestApp, upstream: &Remote) {
    let proxy = Faulty::start(&upstream.base, &upstream.token).await;
    let remote = Remote::new(&proxy.base, &proxy.token());
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    proxy.fail_with(&[429, 500, 500, 429]);
    let target = add_target(app, &src, &remote, ScopeMode::All).await;
    app.create_user(&src, "ada@contoso.com").await;
    eventually("ada arrives despite the faults", true, async || {
        user_there(upstream, "ada@contoso.com").await.0
    })
    .await;
    assert_eq!(proxy.faults_left(), 0);
    let faults: Vec<u16> = proxy
        .seen()
        .iter()
        .map(|(_, s)| *s)
        .filter(|s| *s >= 429)
        .collect();
    assert_eq!(faults, [429, 500, 500, 429]);

    // The target's token is revoked (a new one issued): the next change quarantines it.
    let new_token = proxy.rotate_token();
    app.create_user(&src, "bob@contoso.com").await;
    eventually("quarantined", true, async || {
        let (run, _) = app
            .directory
            .target_status(&tenant, &target)
            .await
            .expect("status");
        run.is_some_and(|r| r.quarantined)
    })
    .await;
    let (run, _) = app
        .directory
        .target_status(&tenant, &target)
        .await
        .expect("status");
    let error = run.and_then(|r| r.error).unwrap_or_default();
    assert!(error.contains("401"), "{error}");
    // On PostgreSQL an event is read once a sequencer has positioned it: this one, or the
    // server's own, which holds the sequencer's lock while it runs (then this one skips).
    eventually("the host app is told", true, async || {
        app.directory.sequence_events().await.expect("sequenced");
        let events = app
            .directory
            .store()
            .events(Some(&tenant), 0, 1000)
            .await
            .expect("events");
        events.iter().any(|e| e.event_type == "target.quarantined")
    })
    .await;
    assert!(!user_there(upstream, "bob@contoso.com").await.0);

    // A new token, a successful test connection: the quarantine ends and bob arrives.
    app.directory
        .change_target(
            &tenant,
            &target.id,
            TargetChange {
                token: Some(new_token),
                ..TargetChange::default()
            },
        )
        .await
        .expect("the new token");
    let engine = Engine::new(app.directory.clone(), "test".into(), false);
    let tested = engine
        .test_connection(&tenant, "app")
        .await
        .expect("directory");
    let capabilities = tested.expect("the test connection succeeds");
    assert!(capabilities.patch, "{capabilities:?}");
    eventually("bob arrives after the quarantine", true, async || {
        user_there(upstream, "bob@contoso.com").await.0
    })
    .await;
    let (run, _) = app
        .directory
        .target_status(&tenant, &target)
        .await
        .expect("status");
    assert!(!run.expect("a run").quarantined);
}

#[tokio::test]
async fn faults_and_a_revoked_token_at_a_roster_target() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    faults_and_a_revoked_token(&app, &Remote::new(&dst.base, &dst.token)).await;
}

#[tokio::test]
async fn faults_and_a_revoked_token_at_scim2_server() {
    let app = spawn_app().await;
    let server = remote::Scim2Server::start().await;
    faults_and_a_revoked_token(&app, &server.remote).await;
}

#[tokio::test]
async fn faults_and_a_revoked_token_at_a_scimmy_server() {
    let app = spawn_app().await;
    let server = remote::Scimmy::start().await;
    faults_and_a_revoked_token(&app, &server.remote).await;
}

/// What a user and its JSON look like in a target (for the remote helpers).
pub fn first(list: &Value) -> Option<Value> {
    list["Resources"].as_array()?.first().cloned()
}

async fn dump(app: &TestApp, tenant: &TenantId) {
    let log = app
        .directory
        .log_page(
            tenant,
            &roster_store::LogQuery {
                limit: 500,
                ..Default::default()
            },
        )
        .await
        .expect("log");
    for e in log {
        eprintln!(
            "{} | {} | {} | {}",
            e.summary,
            e.explanation,
            e.response_body.replace('\n', " / "),
            e.status
        );
    }
}

/// A first step done again (its state not recorded: the run was woken while leased) starts
/// from the position the target was added at, not from the head then: a user deleted in
/// between is still deleted in the target (a cycle cannot see a deletion; only the changes
/// after the run's position do).
#[tokio::test]
async fn a_first_step_done_again_does_not_pass_over_a_deletion() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    app.create_user(&src, "bob@contoso.com").await;
    let target = add_target(&app, &src, &remote, ScopeMode::All).await;
    let store = app.directory.store();
    let first = store
        .target_run(&tenant, &target.id)
        .await
        .expect("run")
        .expect("a run");
    assert_eq!(
        (first.phase.as_str(), first.cursor.as_str()),
        ("initial", "")
    );
    first_cycle_ended(&app, &tenant, &target).await;
    assert!(user_there(&remote, "ada@contoso.com").await.0);

    // The run leased here, as a process would hold it for its step; ada deleted meanwhile;
    // then the run put back as it was before its first step (that step's state lost).
    let held = async || {
        app.directory
            .end_quarantine(&tenant, &target)
            .await
            .expect("woken");
        let now = roster_engine::view::now_ms(&app.directory);
        store
            .claim_target_runs("test", now, now + 600_000, 10)
            .await
            .expect("claim")
            .iter()
            .any(|r| r.target_id == target.id)
    };
    eventually("leased here", true, held).await;
    let r = app.delete(&src, &format!("/Users/{ada}")).await;
    assert!(r.status.is_success(), "{}", r.body);
    assert!(
        store
            .save_target_run("test", &first, true)
            .await
            .expect("saved"),
        "the lease is ours"
    );
    eventually("ada deleted in the target", false, async || {
        user_there(&remote, "ada@contoso.com").await.0
    })
    .await;
}

/// The deprovision policy, as OneLogin's "Deprovisioning action": with suspend, a user deleted
/// at the source is deactivated in the target, not deleted; with nothing, left as it is.
#[tokio::test]
async fn deprovision_by_suspend_or_nothing() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let bob = app.create_user(&src, "bob@contoso.com").await;
    let target = add_target(&app, &src, &remote, ScopeMode::All).await;
    let mut policy = target.settings.policy;
    policy.on_source_delete = roster_outbound::plan::Leaving::Deactivate;
    let change = TargetChange {
        policy: Some(policy),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, change)
        .await
        .expect("suspend");
    eventually("both pushed", (true, true), async || {
        (
            user_there(&remote, "ada@contoso.com").await.0,
            user_there(&remote, "bob@contoso.com").await.0,
        )
    })
    .await;
    app.delete(&src, &format!("/Users/{ada}")).await;
    eventually("ada suspended, not deleted", (true, false), async || {
        let (there, active, _) = user_there(&remote, "ada@contoso.com").await;
        (there, active)
    })
    .await;

    policy.on_source_delete = roster_outbound::plan::Leaving::Nothing;
    let change = TargetChange {
        policy: Some(policy),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, change)
        .await
        .expect("nothing");
    app.delete(&src, &format!("/Users/{bob}")).await;
    let marker = app.create_user(&src, "cy@contoso.com").await;
    // cy arrives after bob's deletion was applied (changes are applied in order).
    eventually("cy pushed", true, async || {
        user_there(&remote, "cy@contoso.com").await.0
    })
    .await;
    assert!(!marker.is_empty());
    assert_eq!(
        user_there(&remote, "bob@contoso.com").await,
        (true, true, "Ada Lovelace".to_owned()),
        "bob is left as he is"
    );
}
