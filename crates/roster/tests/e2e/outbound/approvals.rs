//! Approvals and the accidental-deletions threshold, end to end: a create that waits for an
//! administrator (with its exact request, replaced by a later change, approved over the
//! tenant API and then sent), a rejection that sticks; and a cycle of 600 deletions stopped
//! before any is sent, shown on the page (Chromium, screenshot `target-6-approvals`) and
//! approved there as a batch; removals that arrive in two batches of the change log, weighed
//! together; and removals that arrive a few at a time, counted with those sent over the
//! target's interval.

use roster_directory::Scope;
use roster_directory::targets::{ApprovalAction, ScopeMode, Target, TargetChange};
use roster_outbound::plan::Leaving;
use roster_store::{Kind, TenantId};
use serde_json::{Value, json};

use super::{Remote, add_target, first_cycle_ended, user_there};
use crate::support::browser::Browser;
use crate::support::{
    TestApp, TestTenant, events_positioned, eventually, eventually_explained, patch_op, spawn_app,
};

async fn api(url: &str, key: &str, body: Option<Value>) -> Value {
    let http = crate::support::http_client();
    let request = match body {
        Some(b) => http.post(url).json(&b),
        None => http.get(url),
    };
    let r = request.bearer_auth(key).send().await.expect("answer");
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.expect("json")
}

#[tokio::test]
async fn a_create_waits_for_approval_and_a_rejection_sticks() {
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let ada = app.create_user(&src, "ada@contoso.com").await;
    let bob = app.create_user(&src, "bob@contoso.com").await;
    let cy = app.create_user(&src, "cy@contoso.com").await;
    let target = add_target(&app, &src, &remote, ScopeMode::Assigned).await;
    let change = TargetChange {
        approvals: Some(vec![ApprovalAction::Create]),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, change)
        .await
        .expect("approvals");
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::User, &ada)
        .await
        .expect("assigned");
    let (_, key) = app
        .directory
        .create_api_key("host", &[Scope::TenantsWrite])
        .await
        .expect("key");
    let list = format!(
        "{}/api/v1/tenants/{}/approvals?state=pending",
        app.address, src.id
    );
    let pending = async || api(&list, &key, None).await["data"].clone();
    eventually("ada's create waits", 1, async || {
        pending().await.as_array().map_or(0, Vec::len)
    })
    .await;
    let waiting = pending().await[0].clone();
    assert_eq!(waiting["action"], "create");
    assert_eq!(waiting["reason"], "policy");
    assert_eq!(waiting["request"]["method"], "POST");
    assert_eq!(waiting["request"]["path"], "/Users");
    assert_eq!(waiting["request"]["body"]["userName"], "ada@contoso.com");
    assert!(
        !user_there(&remote, "ada@contoso.com").await.0,
        "nothing sent"
    );

    // A later change replaces the pending action rather than queueing a second.
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Ada L."}]));
    app.patch(&src, &format!("/Users/{ada}"), rename).await;
    eventually(
        "the pending create carries the change",
        "Ada L.".to_owned(),
        async || {
            let p = pending().await;
            assert!(p.as_array().is_some_and(|a| a.len() == 1), "{p}");
            p[0]["request"]["body"]["displayName"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        },
    )
    .await;
    let id = pending().await[0]["id"].as_str().expect("id").to_owned();

    // Approved over the API: sent, and recorded with who.
    let decide = format!(
        "{}/api/v1/tenants/{}/targets/{}/approvals/approve",
        app.address, src.id, target.id
    );
    let decided = api(&decide, &key, Some(json!({"ids": [id]}))).await;
    assert_eq!(decided["decided"], 1);
    eventually("ada sent", (true, "Ada L.".to_owned()), async || {
        let (there, _, name) = user_there(&remote, "ada@contoso.com").await;
        (there, name)
    })
    .await;
    // The engine marks the approval sent once the target has answered, a moment after the
    // target holds the user.
    let sent_list = format!(
        "{}/api/v1/tenants/{}/approvals?state=sent",
        app.address, src.id
    );
    eventually(
        "ada's approval recorded sent",
        "API key host".to_owned(),
        async || {
            let sent = api(&sent_list, &key, None).await;
            sent["data"][0]["decided_by"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        },
    )
    .await;
    let sent = api(&sent_list, &key, None).await;
    assert!(sent["data"][0]["decided_at"].is_string(), "{sent}");

    // Rejected: not sent, and not proposed again while the change stays the same.
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::User, &bob)
        .await
        .expect("assigned");
    eventually("bob waits", 1, async || {
        pending().await.as_array().map_or(0, Vec::len)
    })
    .await;
    let reject = decide.replace("/approve", "/reject");
    assert_eq!(api(&reject, &key, Some(json!({}))).await["decided"], 1);
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::User, &cy)
        .await
        .expect("assigned");
    eventually(
        "cy waits, bob does not",
        vec!["cy@contoso.com".to_owned()],
        async || {
            pending()
                .await
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| a["name"].as_str().unwrap_or_default().to_owned())
                .collect::<Vec<_>>()
        },
    )
    .await;
    assert!(!user_there(&remote, "bob@contoso.com").await.0);
}

#[tokio::test]
async fn a_cycle_of_600_deletions_stops_at_the_threshold_until_approved() {
    const STAFF: usize = 600;
    let app = spawn_app().await;
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let mut ids = Vec::new();
    for i in 0..STAFF {
        ids.push(app.create_user(&src, &format!("s{i:03}@contoso.com")).await);
    }
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let staff = app.create_group(&src, "Staff", &refs).await;
    let target = add_target(&app, &src, &remote, ScopeMode::Assigned).await;
    let mut policy = target.settings.policy;
    policy.leaving_scope = Leaving::Delete;
    let change = TargetChange {
        policy: Some(policy),
        rate_limit: Some(2_000),
        provision_groups: Some(false),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, change)
        .await
        .expect("policy");
    assert_eq!(
        target.settings.deletion_threshold.map(|t| t.to_string()),
        Some("500".to_owned()),
        "on by default, at Entra's 500"
    );
    app.directory
        .assign_to_target(&tenant, &target.id, Kind::Group, &staff)
        .await
        .expect("assigned");
    let count = async || remote.get("/Users?count=1").await["totalResults"].as_u64();
    eventually("600 users pushed", Some(STAFF as u64), count).await;
    // The first cycle recorded whole (its last page is not in flight).
    first_cycle_ended(&app, &tenant, &target).await;

    // The group unassigned: a cycle would delete all 600. It stops; none is sent.
    app.directory
        .unassign_from_target(&tenant, &target.id, Kind::Group, &staff)
        .await
        .expect("unassigned");
    let in_state = async |state: &str| {
        app.directory
            .store()
            .count_approvals(&tenant, &target.id, state)
            .await
            .expect("count")
    };
    let explain = async || {
        let mut states = Vec::new();
        for state in ["waiting", "pending", "approved", "sent", "superseded"] {
            states.push(format!("{state} {}", in_state(state).await));
        }
        let run = app.directory.store().target_run(&tenant, &target.id).await;
        format!(
            "; approvals: {}; in the target: {:?}; the run: {run:?}",
            states.join(", "),
            count().await
        )
    };
    eventually_explained(
        "600 deletions wait",
        STAFF as u64,
        async || in_state("pending").await,
        explain,
    )
    .await;
    assert_eq!(count().await, Some(STAFF as u64), "none was sent");
    // The batch is held before the run that held it is saved with its words.
    eventually("the run says why", true, async || {
        let (run, _) = app
            .directory
            .target_status(&tenant, &target)
            .await
            .expect("status");
        let error = run.and_then(|r| r.error).unwrap_or_default();
        error.contains("accidental-deletions threshold") || error.contains("600 changes wait")
    })
    .await;
    // The run may say "600 changes wait" (a cycle that found them pending) before the cycle
    // that held them has recorded its event: wait for the event rather than read it once.
    eventually("the hold is an event", true, async || {
        app.directory.sequence_events().await.expect("sequenced");
        let events = app
            .directory
            .events(Some(&tenant), 0, 10_000)
            .await
            .expect("events");
        events
            .iter()
            .any(|e| e.event_type == "target.deletions_held")
    })
    .await;

    let metrics = crate::support::http_client()
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics
            .lines()
            .any(|l| l == "roster_outbound_approvals_pending 600"),
        "{metrics}"
    );

    // The page shows the batch; approving it there sends the deletions.
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
    let text = b.text().await;
    assert!(text.contains("Waiting for approval: 600"), "{text}");
    assert!(
        text.contains("past the accidental-deletions threshold"),
        "{text}"
    );
    b.reveal("approvals-heading").await;
    b.screenshot("target-6-approvals").await;
    b.click("#approvals form button[type=submit]").await;
    assert!(b.text().await.contains("Approved 600"));
    b.close().await;
    eventually("600 deleted", Some(0), count).await;
}

/// Waits until `n` of the target's removals are held for approval; when it gives up, says
/// how many users `count` finds in the target.
async fn held_until(
    what: &str,
    n: u64,
    app: &TestApp,
    tenant: &TenantId,
    target: &Target,
    count: impl AsyncFn() -> Option<u64>,
) {
    let pending = async || {
        app.directory
            .store()
            .count_approvals(tenant, &target.id, "pending")
            .await
            .expect("count")
    };
    eventually_explained(what, n, pending, async || {
        format!("; in the target: {:?}", count().await)
    })
    .await;
}

/// A source tenant's users, pushed into another tenant of the app.
struct Pushed {
    src: TestTenant,
    tenant: TenantId,
    remote: Remote,
    ids: Vec<String>,
    target: Target,
}

/// `n` users, each assigned to a target (without groups) whose deletions threshold is
/// `threshold`, pushed, and the target's first cycle ended.
async fn users_pushed(app: &TestApp, n: usize, threshold: &str) -> Pushed {
    let dst = app.tenant("destination").await;
    let remote = Remote::new(&dst.base, &dst.token);
    let src = app.tenant("source").await;
    let tenant = TenantId::new(&src.id);
    let mut ids = Vec::new();
    for i in 0..n {
        ids.push(app.create_user(&src, &format!("u{i}@contoso.com")).await);
    }
    let target = add_target(app, &src, &remote, ScopeMode::Assigned).await;
    let change = TargetChange {
        deletion_threshold: Some(threshold.into()),
        provision_groups: Some(false),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, change)
        .await
        .expect("threshold");
    for id in &ids {
        app.directory
            .assign_to_target(&tenant, &target.id, Kind::User, id)
            .await
            .expect("assigned");
    }
    let count = async || remote.get("/Users?count=1").await["totalResults"].as_u64();
    eventually("the users pushed", Some(n as u64), count).await;
    first_cycle_ended(app, &tenant, &target).await;
    Pushed {
        src,
        tenant,
        remote,
        ids,
        target,
    }
}

/// Deletions at the source read from the change log in two batches (of 500 changes) are
/// weighed together once the log is read to its head: two in each batch, four against a
/// threshold of three, and none is sent. (Weighed per batch, two and two went through.)
#[tokio::test]
async fn removals_read_in_two_batches_of_changes_are_weighed_together() {
    let app = spawn_app().await;
    let Pushed {
        src,
        tenant,
        remote,
        ids,
        target,
    } = users_pushed(&app, 4, "3").await;
    let count = async || remote.get("/Users?count=1").await["totalResults"].as_u64();
    let other = app.create_user(&src, "other@contoso.com").await;
    first_cycle_ended(&app, &tenant, &target).await;

    // Paused while the changes are made, so that the run reads them in two batches: two
    // deletions and 498 changes of a user out of scope, then two more deletions.
    let paused = |paused| TargetChange {
        paused: Some(paused),
        ..TargetChange::default()
    };
    app.directory
        .change_target(&tenant, &target.id, paused(true))
        .await
        .expect("paused");
    let delete = async |id: &str| {
        let r = app.delete(&src, &format!("/Users/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
    };
    delete(&ids[0]).await;
    delete(&ids[1]).await;
    for i in 0..498 {
        let r = app
            .patch(
                &src,
                &format!("/Users/{other}"),
                patch_op(json!([{"op": "replace", "path": "displayName", "value": format!("Other {i}")}])),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.body);
    }
    delete(&ids[2]).await;
    delete(&ids[3]).await;
    events_positioned(&app).await;
    let run = app
        .directory
        .store()
        .target_run(&tenant, &target.id)
        .await
        .expect("run")
        .expect("a run");
    let after = app
        .directory
        .events(Some(&tenant), run.position, 10_000)
        .await
        .expect("events");
    let deleted: Vec<usize> = after
        .iter()
        .enumerate()
        .filter(|(_, e)| e.event_type == "user.deleted")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        deleted,
        [0, 1, 500, 501],
        "two deletions in each batch of 500"
    );
    app.directory
        .change_target(&tenant, &target.id, paused(false))
        .await
        .expect("resumed");

    held_until("4 deletions wait", 4, &app, &tenant, &target, count).await;
    assert_eq!(count().await, Some(4), "none was sent");
}

/// Removals that arrive a few at a time count with those sent over the target's interval, as
/// they would in one cycle of it: against a threshold of two, two deletions at the source go
/// through, and a third, minutes later in a step of its own, is held.
#[tokio::test]
async fn removals_sent_over_the_interval_count_toward_the_threshold() {
    let app = spawn_app().await;
    let Pushed {
        src,
        tenant,
        remote,
        ids,
        target,
    } = users_pushed(&app, 3, "2").await;
    let count = async || remote.get("/Users?count=1").await["totalResults"].as_u64();

    for id in &ids[..2] {
        let r = app.delete(&src, &format!("/Users/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    eventually("2 deletions sent, within the threshold", Some(1), count).await;
    let r = app.delete(&src, &format!("/Users/{}", ids[2])).await;
    assert_eq!(r.status, 204, "{}", r.body);
    held_until("the third waits", 1, &app, &tenant, &target, count).await;
    assert_eq!(count().await, Some(1), "the third was not sent");
    // The hold says what it counted (the run's words say it too until its next step).
    events_positioned(&app).await;
    let events = app
        .directory
        .events(Some(&tenant), 0, 10_000)
        .await
        .expect("events");
    let held: Vec<_> = events
        .iter()
        .filter(|e| e.event_type == "target.deletions_held")
        .map(|e| (e.data["waiting"].clone(), e.data["sent_recently"].clone()))
        .collect();
    assert_eq!(held, [(json!(1), json!(2))]);
}
