//! The inbound mass-change hold: while a tenant's hold is active, removals (and later events
//! about the same resources) are kept out of the change log, whatever write records them,
//! until the hold is released (delivered in order) or discarded.

use super::*;
use crate::{Hold, HoldEnd};

fn ev(id: &str, event_type: &str, resource: &str, n: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        occurred_at: BASE + Duration::seconds(n),
        data: json!({"resource": {"id": resource}}),
    }
}

fn member_removed(id: &str, member: &str, n: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        event_type: "group.member_removed".into(),
        occurred_at: BASE + Duration::seconds(n),
        data: json!({"group": {"id": "g1"}, "member": {"value": member}}),
    }
}

fn hold(id: &str) -> Hold {
    Hold {
        id: id.to_owned(),
        started_at: BASE + Duration::seconds(2),
        threshold: "1".into(),
        removals: 2,
        ended_at: None,
        outcome: None,
        ended_by: None,
    }
}

async fn log_ids(store: &dyn Store, tenant: &TenantId) -> Vec<String> {
    ok(store.sequence_events().await, "positioning events");
    ok(store.events(Some(tenant), 0, EVERYTHING).await, "the log")
        .into_iter()
        .map(|e| e.id)
        .collect()
}

/// Holds, counted, listed, released in order and discarded.
pub async fn holds(store: &dyn Store) {
    let t = new_tenant(store, "t-hold").await;
    let other = new_tenant(store, "t-hold-other").await;
    assert_eq!(ok(store.hold(&t).await, "no hold yet"), None);
    ok(
        store
            .record_events(&t, &[ev("e1", "user.deactivated", "u1", 1)])
            .await,
        "a removal",
    );
    ok(
        store
            .record_events(&other, &[ev("o1", "user.deleted", "x1", 1)])
            .await,
        "another tenant's removal",
    );
    assert_eq!(
        ok(store.recent_removals(&t, BASE).await, "counted"),
        1,
        "the tenant's removals since a time, not another tenant's"
    );
    assert_eq!(
        ok(
            store.recent_removals(&t, BASE + Duration::seconds(2)).await,
            "counted"
        ),
        0,
        "removals before the window are not counted"
    );

    let started = ev("e-start", "tenant.hold_started", "", 2);
    assert!(ok(
        store.start_hold(&t, &hold("hold_1"), &started).await,
        "starting"
    ));
    assert!(
        !ok(
            store.start_hold(&t, &hold("hold_2"), &started).await,
            "again"
        ),
        "a second hold does not start while one is active"
    );
    assert_eq!(ok(store.count_active_holds().await, "counted"), 1);
    let active = ok(store.hold(&t).await, "the hold").expect("an active hold");
    assert_eq!(active.id, "hold_1");
    assert!(active.is_active());

    // Recorded one by one and through a resource write, as the directory writes them.
    ok(
        store
            .record_events(
                &t,
                &[
                    ev("e2", "user.deactivated", "u2", 3),
                    ev("e3", "user.updated", "u3", 4),
                    ev("e4", "user.reactivated", "u2", 5),
                    member_removed("e5", "u2", 6),
                ],
            )
            .await,
        "events during the hold",
    );
    ok(
        store
            .record_events(&other, &[ev("o2", "user.deactivated", "x2", 3)])
            .await,
        "another tenant's removal",
    );
    let user = user_record("u4", "held-4", BASE);
    ok(
        store
            .insert_recorded(&t, &user, &[], &[ev("e6", "user.created", "u4", 7)])
            .await,
        "a user created during the hold",
    );
    ok(
        store
            .delete_recorded(
                &t,
                Kind::User,
                "u4",
                None,
                &[
                    ev("e7", "user.deleted", "u4", 8),
                    member_removed("e8", "u4", 8),
                ],
            )
            .await,
        "the user deleted during the hold",
    );
    assert!(
        ok(store.get(&t, Kind::User, "u4", false).await, "read").is_none(),
        "the deletion itself is made: the identity provider is answered truthfully"
    );
    assert_eq!(
        log_ids(store, &t).await,
        ["e1", "e-start", "e3", "e6"],
        "removals, and what follows them about the same resources, are held; the rest goes on"
    );
    assert_eq!(
        log_ids(store, &other).await,
        ["o1", "o2"],
        "another tenant's events are not held"
    );
    assert_eq!(
        ok(store.held_counts(&t).await, "counts"),
        [
            ("group.member_removed".to_owned(), 2),
            ("user.deactivated".to_owned(), 1),
            ("user.deleted".to_owned(), 1),
            ("user.reactivated".to_owned(), 1),
        ]
    );
    let held = ok(store.held_events(&t, 0, EVERYTHING).await, "held");
    let ids: Vec<&str> = held.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, ["e2", "e4", "e5", "e7", "e8"], "held in their order");
    let page = ok(store.held_events(&t, held[1].position, 2).await, "paged");
    assert_eq!(page.len(), 2);
    assert_eq!(page[0].id, "e5");

    let at = BASE + Duration::minutes(5);
    let released = ev("e-released", "tenant.hold_released", "", 300);
    assert!(
        matches!(
            store
                .end_hold(&t, "hold_9", HoldEnd::Release, "ops", at, &[])
                .await,
            Err(StoreError::NotFound)
        ),
        "only the active hold can be ended"
    );
    assert_eq!(
        ok(
            store
                .end_hold(&t, "hold_1", HoldEnd::Release, "ops", at, &[released])
                .await,
            "releasing"
        ),
        5
    );
    assert_eq!(
        log_ids(store, &t).await,
        [
            "e1",
            "e-start",
            "e3",
            "e6",
            "e2",
            "e4",
            "e5",
            "e7",
            "e8",
            "e-released"
        ],
        "released: the held events follow, in their order, then the release"
    );
    assert_eq!(ok(store.count_active_holds().await, "counted"), 0);
    let ended = ok(store.hold(&t).await, "the hold").expect("the last hold");
    assert!(!ended.is_active());
    assert_eq!(ended.outcome.as_deref(), Some("released"));
    assert_eq!(ended.ended_by.as_deref(), Some("ops"));
    assert_eq!(ended.ended_at, Some(at));
    assert!(ok(store.held_counts(&t).await, "counts").is_empty());

    ok(
        store
            .record_events(&t, &[ev("e9", "user.deactivated", "u5", 400)])
            .await,
        "a removal after the hold",
    );
    assert_eq!(
        log_ids(store, &t).await.last().map(String::as_str),
        Some("e9")
    );

    // A second hold, discarded: its events are dropped, the corrections appended.
    assert!(ok(
        store
            .start_hold(
                &t,
                &hold("hold_3"),
                &ev("e-start-2", "tenant.hold_started", "", 401)
            )
            .await,
        "a new hold after the last one ended"
    ));
    ok(
        store
            .record_events(&t, &[ev("e10", "user.deactivated", "u6", 402)])
            .await,
        "held",
    );
    let correction = ev("e-fix", "user.reactivated", "u6", 403);
    assert_eq!(
        ok(
            store
                .end_hold(&t, "hold_3", HoldEnd::Discard, "ops", at, &[correction])
                .await,
            "discarding"
        ),
        1
    );
    let ids = log_ids(store, &t).await;
    assert!(
        !ids.contains(&"e10".to_owned()),
        "a discarded event is never delivered"
    );
    assert_eq!(ids.last().map(String::as_str), Some("e-fix"));
    assert!(ok(store.held_events(&t, 0, EVERYTHING).await, "held").is_empty());

    // A tenant removed takes its hold and held events with it.
    assert!(ok(
        store
            .start_hold(
                &t,
                &hold("hold_4"),
                &ev("e-start-3", "tenant.hold_started", "", 500)
            )
            .await,
        "a third hold"
    ));
    ok(
        store
            .record_events(&t, &[ev("e11", "user.deactivated", "u7", 501)])
            .await,
        "held",
    );
    ok(store.delete_tenant(&t, &[]).await, "removing the tenant");
    assert_eq!(ok(store.hold(&t).await, "no hold"), None);
    assert!(ok(store.held_events(&t, 0, EVERYTHING).await, "held").is_empty());
}
