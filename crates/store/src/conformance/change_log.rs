//! The change log: events written with their changes, read by position and purged.

use super::*;

fn new_event(id: &str, event_type: &str, n: i64) -> NewEvent {
    NewEvent {
        id: id.to_owned(),
        event_type: event_type.to_owned(),
        occurred_at: BASE + Duration::minutes(n),
        data: json!({"n": n}),
    }
}

/// Every event, after giving positions to the committed ones.
async fn all_events(store: &dyn Store, tenant: Option<&TenantId>) -> Vec<Event> {
    ok(store.sequence_events().await, "positioning events");
    ok(
        store.events(tenant, 0, EVERYTHING).await,
        "reading the change log",
    )
}

/// The position of the tenant's newest event in `events`.
fn newest_of(events: &[Event], tenant: &TenantId) -> i64 {
    events
        .iter()
        .filter(|e| &e.tenant_id == tenant)
        .map(|e| e.position)
        .max()
        .unwrap_or_default()
}

fn event_ids(events: &[Event]) -> Vec<&str> {
    events.iter().map(|e| e.id.as_str()).collect()
}

/// The change log: events are written with their change or not at all, read back whole, in
/// order, per tenant or all together, by pages from any position, and purged by age without
/// their positions ever being reused.
pub async fn change_log(store: &dyn Store) {
    let t = new_tenant(store, "t-log").await;
    let other = new_tenant(store, "t-log-other").await;
    assert!(
        all_events(store, None).await.is_empty(),
        "a new log is empty"
    );
    assert_eq!(
        ok(store.last_position().await, "the last position"),
        0,
        "no position is given before the first event"
    );

    let user = resource(
        Kind::User,
        "user-log",
        json!({"schemas": [USER_SCHEMA], "userName": "log"}),
        BASE,
    );
    ok(
        store
            .insert_recorded(&t, &user, &[], &[new_event("evt_1", "user.created", 1)])
            .await,
        "inserting a user with its event",
    );
    let events = all_events(store, None).await;
    assert_eq!(
        event_ids(&events),
        ["evt_1"],
        "the insert's event is in the log"
    );
    let e = &events[0];
    assert_eq!(e.tenant_id, t, "an event names its tenant");
    assert_eq!(e.event_type, "user.created");
    assert_eq!(e.occurred_at, BASE + Duration::minutes(1));
    assert_eq!(e.data, json!({"n": 1}));
    assert!(
        e.position > 0,
        "positions start above 0, the cursor of an empty reader"
    );

    // Refused writes leave no event behind.
    let dup = resource(
        Kind::User,
        "user-log-dup",
        json!({"schemas": [USER_SCHEMA], "userName": "LOG"}),
        BASE,
    );
    assert_err(
        store
            .insert_recorded(&t, &dup, &[], &[new_event("evt_dup", "user.created", 2)])
            .await,
        r#"Conflict("userName")"#,
        "inserting a taken userName with an event",
    );
    let stale = next_version(&user, user.data.clone(), BASE);
    ok(
        store
            .update_recorded(
                &t,
                &stale,
                1,
                &MembersChange::Keep,
                &[new_event("evt_2", "user.updated", 2)],
            )
            .await,
        "updating with an event",
    );
    assert_err(
        store
            .update_recorded(
                &t,
                &stale,
                1,
                &MembersChange::Keep,
                &[new_event("evt_stale", "user.updated", 3)],
            )
            .await,
        "VersionMismatch",
        "a stale update with an event",
    );
    let group = resource(
        Kind::Group,
        "group-log",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Log"}),
        BASE,
    );
    ok(
        store
            .insert_recorded(
                &t,
                &group,
                &[MemberRef::from("user-log")],
                &[new_event("evt_3", "group.created", 3)],
            )
            .await,
        "inserting a group with a member and its event",
    );
    assert_err(
        store
            .change_members_recorded(
                &t,
                "group-log",
                &MembersChange::Delta {
                    add: refs(&["user-nobody".to_owned()]),
                    remove: vec![],
                },
                None,
                BASE,
                &[new_event("evt_unknown", "group.member_added", 4)],
            )
            .await,
        r#"UnknownMember("user-nobody")"#,
        "adding an unknown member with an event",
    );
    ok(
        store
            .change_members_recorded(
                &t,
                "group-log",
                &MembersChange::Delta {
                    add: vec![],
                    remove: vec!["user-log".to_owned()],
                },
                None,
                BASE,
                &[new_event("evt_4", "group.member_removed", 4)],
            )
            .await,
        "removing a member with its event",
    );
    ok(
        store
            .insert_recorded(
                &other,
                &resource(
                    Kind::User,
                    "user-other",
                    json!({"schemas": [USER_SCHEMA], "userName": "other"}),
                    BASE,
                ),
                &[],
                &[new_event("evt_other", "user.created", 5)],
            )
            .await,
        "another tenant's write",
    );
    assert_err(
        store
            .delete_recorded(
                &t,
                Kind::User,
                "user-log",
                Some(1),
                &[new_event("evt_del_stale", "user.deleted", 6)],
            )
            .await,
        "VersionMismatch",
        "a stale delete with an event",
    );
    ok(
        store
            .delete_recorded(
                &t,
                Kind::User,
                "user-log",
                Some(2),
                &[new_event("evt_5", "user.deleted", 6)],
            )
            .await,
        "deleting with an event",
    );

    let events = all_events(store, None).await;
    assert_eq!(
        event_ids(&events),
        ["evt_1", "evt_2", "evt_3", "evt_4", "evt_other", "evt_5"],
        "every accepted write's event, in the order written, and none of a refused write"
    );
    assert!(
        events.windows(2).all(|w| w[0].position < w[1].position),
        "positions increase"
    );
    assert_eq!(
        event_ids(&all_events(store, Some(&t)).await),
        ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5"],
        "a tenant's events alone"
    );
    // Pages of two from the start rebuild the log exactly.
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(store.events(None, after, 2).await, "a page of events");
        let Some(last) = page.last() else { break };
        after = last.position;
        paged.extend(page);
    }
    assert_eq!(
        paged, events,
        "paging with a cursor returns exactly the log"
    );
    let from_third = ok(
        store.events(None, events[2].position, 100).await,
        "events after one",
    );
    assert_eq!(
        event_ids(&from_third),
        ["evt_4", "evt_other", "evt_5"],
        "reading from a cursor"
    );

    let last = events.last().map(|e| e.position).unwrap_or_default();
    assert_eq!(
        ok(store.last_position().await, "the last position"),
        last,
        "the last position is the newest event's"
    );
    assert_eq!(
        ok(store.tenant_head(&t).await, "a tenant's head"),
        newest_of(&events, &t),
        "a tenant's head is its newest event's position"
    );
    assert_eq!(
        ok(store.tenant_head(&other).await, "a tenant's head"),
        newest_of(&events, &other)
    );
    let purged = ok(
        store.purge_events(BASE + Duration::minutes(100)).await,
        "purging old events",
    );
    assert_eq!(purged, 6, "every event older than the cut is purged");
    assert!(
        all_events(store, None).await.is_empty(),
        "the log is empty after the purge"
    );
    assert_eq!(
        ok(store.last_position().await, "the last position"),
        last,
        "a purge does not lower the last position"
    );
    assert_eq!(
        ok(store.tenant_head(&t).await, "a tenant's head"),
        0,
        "a tenant without events has none"
    );
    ok(
        store
            .insert_recorded(
                &t,
                &resource(
                    Kind::User,
                    "user-after",
                    json!({"schemas": [USER_SCHEMA], "userName": "after"}),
                    BASE,
                ),
                &[],
                &[new_event("evt_6", "user.created", 200)],
            )
            .await,
        "a write after the purge",
    );
    let events = all_events(store, None).await;
    assert_eq!(event_ids(&events), ["evt_6"]);
    assert!(
        events[0].position > last,
        "a position is never reused after a purge"
    );
}

/// A redelivery asked for while a worker holds the stream's lease is not lost when that
/// worker records its progress: the worker's progress is dropped instead (its deliveries are
/// made again from the restart, at least once as always).
pub async fn redelivery_during_a_lease(store: &dyn Store) {
    let t = new_tenant(store, "t-redeliver").await;
    // The endpoint first: it receives the events written after it was added.
    let webhook = crate::WebhookRecord {
        id: "wh_re".into(),
        url: "https://receiver.example/hook".into(),
        tenant_id: Some(t.clone()),
        secret: "whsec_x".into(),
        previous_secret: None,
        previous_until: None,
        created_at: 0,
        allow_link_local: false,
    };
    ok(store.add_webhook(&webhook).await, "adding an endpoint");
    for i in 0..3i64 {
        let user = resource(
            Kind::User,
            &format!("user-re-{i}"),
            json!({"schemas": [USER_SCHEMA], "userName": format!("re{i}")}),
            BASE,
        );
        ok(
            store
                .insert_recorded(
                    &t,
                    &user,
                    &[],
                    &[new_event(&format!("evt_re{i}"), "user.created", i)],
                )
                .await,
            "inserting a user with its event",
        );
    }
    let events = all_events(store, Some(&t)).await;
    let now = crate::sql::epoch_millis(BASE + Duration::days(1));
    let streams = ok(
        store.claim_streams("worker-a", now, now + 30_000, 16).await,
        "claiming streams",
    );
    assert_eq!(streams.len(), 1, "one stream to deliver");
    // While worker-a holds the lease, the operator asks for the second event again...
    ok(
        store.redeliver("wh_re", &events[1].id, now + 1).await,
        "redelivering",
    );
    // ... and worker-a then records that it delivered all three.
    let update = crate::StreamUpdate {
        leased_delivered: streams[0].delivered,
        delivered: events[2].position,
        attempts: 0,
        first_failed_at: None,
        next_attempt_at: now + 2,
        dead_letter: None,
    };
    ok(
        store
            .finish_stream("worker-a", "wh_re", &t, &update, &[])
            .await,
        "finishing the stream",
    );
    let again = ok(
        store
            .claim_streams("worker-b", now + 10, now + 30_000, 16)
            .await,
        "claiming again",
    );
    assert_eq!(again.len(), 1, "the redelivery is still due");
    assert_eq!(
        again[0].delivered, events[0].position,
        "the stream restarts before the event asked for"
    );
}
