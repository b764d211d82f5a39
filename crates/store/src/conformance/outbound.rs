//! Outbound provisioning's storage: targets per tenant, assignments, what targets hold, and
//! runs under a lease.

use super::*;
use crate::{TargetObject, TargetRecord};

pub(super) fn target(tenant: &TenantId, id: &str, name: &str) -> TargetRecord {
    TargetRecord {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        name: name.to_owned(),
        settings: json!({"url": "https://app.example/scim/v2", "scope": "assigned"}),
        sealed: vec![9, 8, 7],
        paused: false,
        created_at: BASE,
        updated_at: BASE,
    }
}

fn held(tenant: &TenantId, target: &str, source: &str, remote: &str) -> TargetObject {
    TargetObject {
        tenant_id: tenant.clone(),
        target_id: target.to_owned(),
        kind: Kind::User,
        source_id: source.to_owned(),
        remote_id: remote.to_owned(),
        digest: "d1".to_owned(),
        sent: json!(["userName", "active"]),
        deactivated: false,
        updated_at: BASE,
    }
}

/// Targets: by id or name in their tenant only, names unique per tenant, updated, removed
/// with what they hold, and gone with their tenant; assignments and objects never cross
/// tenants.
pub async fn outbound_targets(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let first = target(&a, "x-1", "crm");
    ok(store.add_target(&first, 0).await, "adding a target");
    ok(
        store.add_target(&target(&b, "x-2", "crm"), 0).await,
        "the same name in another tenant",
    );
    assert_err(
        store.add_target(&target(&a, "x-3", "crm"), 0).await,
        "Conflict(\"name\")",
        "a name taken in the tenant",
    );
    assert_eq!(
        ok(store.target(&a, "crm").await, "by name"),
        Some(first.clone())
    );
    assert_eq!(
        ok(store.target(&a, "x-1").await, "by id"),
        Some(first.clone())
    );
    assert_eq!(
        ok(store.target(&b, "x-1").await, "another tenant's id"),
        None,
        "a tenant never reads another's target"
    );
    let mut paused = first.clone();
    paused.paused = true;
    paused.settings = json!({"url": "https://app.example/scim/v2", "scope": "all"});
    ok(store.update_target(&paused).await, "updating");
    assert_eq!(ok(store.targets(&a).await, "listing"), vec![paused.clone()]);
    assert_err(
        store.update_target(&target(&b, "x-1", "crm")).await,
        "NotFound",
        "updating another tenant's target",
    );

    ok(store.assign(&a, "x-1", Kind::User, "u1").await, "assigning");
    ok(
        store.assign(&a, "x-1", Kind::User, "u1").await,
        "assigning again",
    );
    ok(store.assign(&a, "x-1", Kind::Group, "g1").await, "a group");
    assert_err(
        store.assign(&b, "x-1", Kind::User, "u9").await,
        "NotFound",
        "assigning to another tenant's target",
    );
    assert_eq!(
        ok(store.assignments(&a, "x-1").await, "assignments"),
        vec![
            (Kind::Group, "g1".to_owned()),
            (Kind::User, "u1".to_owned())
        ]
    );
    assert!(ok(store.assignments(&b, "x-1").await, "another tenant's").is_empty());
    ok(
        store.unassign(&a, "x-1", Kind::Group, "g1").await,
        "unassigning",
    );
    assert_err(
        store.unassign(&a, "x-1", Kind::Group, "g1").await,
        "NotFound",
        "unassigning what is not assigned",
    );

    let object = held(&a, "x-1", "u1", "r1");
    ok(
        store.put_target_object(&object).await,
        "recording an object",
    );
    let mut changed = object.clone();
    changed.digest = "d2".into();
    changed.deactivated = true;
    ok(
        store.put_target_object(&changed).await,
        "recording it again",
    );
    assert_eq!(
        ok(
            store.target_object(&a, "x-1", Kind::User, "u1").await,
            "reading it"
        ),
        Some(changed.clone())
    );
    assert_eq!(
        ok(
            store.target_object(&b, "x-1", Kind::User, "u1").await,
            "from another tenant"
        ),
        None
    );
    assert_err(
        store.put_target_object(&held(&b, "x-1", "u2", "r2")).await,
        "NotFound",
        "recording into another tenant's target",
    );
    ok(
        store.put_target_object(&held(&a, "x-1", "u3", "r3")).await,
        "a second",
    );
    assert_eq!(
        ok(store.count_target_objects(&a, "x-1").await, "counting"),
        (2, 0)
    );
    ok(
        store
            .remove_target_object(&a, "x-1", Kind::User, "u3")
            .await,
        "forgetting one",
    );
    assert_eq!(
        ok(store.count_target_objects(&a, "x-1").await, "counting"),
        (1, 0)
    );
    ok(store.clear_target_objects(&a, "x-1").await, "a restart");
    assert_eq!(
        ok(store.count_target_objects(&a, "x-1").await, "counting"),
        (0, 0)
    );

    ok(store.put_target_object(&object).await, "again");
    ok(
        store
            .put_target_objects(&[held(&a, "x-1", "u4", "r4"), held(&a, "x-1", "u5", "r5")])
            .await,
        "a page of objects",
    );
    for (source, remote) in [("u4", "r4"), ("u5", "r5")] {
        let kept = ok(
            store.target_object(&a, "x-1", Kind::User, source).await,
            "a page's object",
        )
        .expect("recorded");
        assert_eq!(kept.remote_id, remote);
    }
    ok(store.remove_target(&a, "x-1").await, "removing");
    assert_eq!(ok(store.target(&a, "x-1").await, "removed"), None);
    assert_eq!(
        ok(
            store.target_object(&a, "x-1", Kind::User, "u1").await,
            "its objects"
        ),
        None
    );
    assert_err(
        store.remove_target(&a, "x-1").await,
        "NotFound",
        "removing twice",
    );
    ok(store.delete_tenant(&b, &[]).await, "deleting a tenant");
    assert!(ok(store.targets(&b).await, "deleted tenant").is_empty());
}

/// Runs: made with the target, due at once, leased to one owner at a time, saved only by
/// their owner, not claimed while paused, and claimed again when the tenant has changes
/// after their position.
pub async fn outbound_runs(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    ok(
        store.add_target(&target(&a, "x-1", "crm"), 5).await,
        "adding a target",
    );
    let run = ok(store.target_run(&a, "x-1").await, "its run").expect("a run");
    assert_eq!(
        (run.phase.as_str(), run.position, run.next_at),
        ("initial", 5, 0)
    );
    let claimed = ok(
        store.claim_target_runs("p1", 1_000, 61_000, 10).await,
        "claiming",
    );
    assert_eq!(claimed, vec![run.clone()]);
    assert!(
        ok(
            store.claim_target_runs("p2", 2_000, 62_000, 10).await,
            "claiming again"
        )
        .is_empty(),
        "one owner at a time"
    );
    let mut progressed = run.clone();
    progressed.phase = "incremental".into();
    progressed.processed = 3;
    progressed.total = 3;
    progressed.position = 1_000_000;
    progressed.next_at = 10_000_000;
    assert!(
        !ok(
            store.save_target_run("p2", &progressed, true).await,
            "another owner saving"
        ),
        "only the owner saves"
    );
    assert!(ok(
        store.save_target_run("p1", &progressed, true).await,
        "saving"
    ));
    assert_eq!(
        ok(store.target_run(&a, "x-1").await, "saved"),
        Some(progressed.clone())
    );
    assert!(
        ok(
            store.claim_target_runs("p2", 3_000, 63_000, 10).await,
            "not due"
        )
        .is_empty(),
        "not due and no change after its position"
    );
    let mut behind = progressed.clone();
    behind.position = 0;
    ok(
        store
            .claim_target_runs("p1", 10_000_000, 10_060_000, 10)
            .await,
        "due",
    );
    assert!(ok(
        store.save_target_run("p1", &behind, true).await,
        "behind the log"
    ));
    let user = user_record("u1", "ada", BASE);
    ok(
        store
            .insert_recorded(
                &a,
                &user,
                &[],
                &[NewEvent {
                    id: "e1".into(),
                    event_type: "user.created".into(),
                    occurred_at: BASE,
                    data: json!({}),
                }],
            )
            .await,
        "a change in the tenant",
    );
    ok(store.sequence_events().await, "positions given");
    let claimed = ok(
        store.claim_target_runs("p2", 3_000, 63_000, 10).await,
        "a change",
    );
    assert_eq!(claimed.len(), 1, "a change after its position makes it due");
    assert!(ok(
        store.save_target_run("p2", &progressed, true).await,
        "released"
    ));
    // A wake while leased stands: the step's state is not recorded, and the lease is let go.
    ok(store.wake_target_run(&a, "x-1", None).await, "woken");
    let claimed = ok(
        store
            .claim_target_runs("p1", 30_000_000, 30_060_000, 10)
            .await,
        "woken: due",
    );
    assert_eq!(claimed.len(), 1);
    ok(
        store.wake_target_run(&a, "x-1", Some(7)).await,
        "woken again",
    );
    assert!(ok(
        store.save_target_run("p1", &progressed, true).await,
        "the lease was ours"
    ));
    let kept = ok(store.target_run(&a, "x-1").await, "kept").expect("a run");
    assert_eq!(
        (
            kept.phase.as_str(),
            kept.cursor.as_str(),
            kept.next_at,
            kept.position
        ),
        ("initial", "", 0, 7),
        "the restart stands, from the position it was given"
    );
    assert_eq!(
        ok(
            store
                .claim_target_runs("p2", 30_000_001, 30_060_001, 10)
                .await,
            "claimable again"
        )
        .len(),
        1
    );
    ok(
        store.save_target_run("p2", &progressed, true).await,
        "released",
    );
    let mut t = target(&a, "x-1", "crm");
    t.paused = true;
    ok(store.update_target(&t).await, "pausing");
    assert!(
        ok(
            store
                .claim_target_runs("p1", 20_000_000, 20_060_000, 10)
                .await,
            "paused"
        )
        .is_empty(),
        "a paused target is not worked"
    );
}
