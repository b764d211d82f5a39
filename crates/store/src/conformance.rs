//! The storage conformance suite: behaviour every backend must show, run by each backend's tests.
//!
//! Each `pub async fn` below takes a fresh, empty store and panics, saying what a user of the
//! directory would see go wrong, when the backend misbehaves. The module owns no runtime and
//! uses no test macro: a backend's `tests/` gives every function a database of its own from
//! whatever async harness it uses, one test per function so that failures are reported apart:
//!
//! ```text
//! #[tokio::test]
//! async fn membership() {
//!     let db = fresh().await; // an empty database of this backend
//!     roster_store::conformance::membership(&db.store).await;
//! }
//! ```
//!
//! The suite: [`ping`], [`tenants`], [`tokens`], [`user_lifecycle`], [`group_lifecycle`],
//! [`name_uniqueness`], [`tenant_isolation`], [`membership`], [`listing`], [`used_assertions`]
//! and
//! [`filters_agree_with_evaluator`].
//!
//! The last one is the heart of it. A backend turns part of a SCIM filter into its own query
//! language and leaves the rest to [`memory_eval`]; [`FilterFixture`] seeds a directory and
//! checks that a list through the backend returns exactly what the protocol crate's evaluator
//! (`Filter::matches` over [`memory_eval::scim_view`]) selects, in the same order, with the
//! same total. With the `proptest` feature, [`strategy`] generates random filters over the
//! same data for a property test doing the same check.
//!
//! Every timestamp is a fixed instant, never the clock, so filters on `meta.created` give the
//! same answer on every run.

use std::fmt;
use std::sync::Arc;

use roster_scim::filter::{CompValue, CompareOp, Filter};
use roster_scim::path::AttrPath;
use roster_scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResourceSchema, USER_SCHEMA,
};
use roster_scim::sort::{SortBy, SortOrder};
use serde_json::{Map, Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use crate::{
    ApiKeyRecord, ClientRecord, Event, GroupRef, Kind, ListQuery, Member, MemberRef, MembersChange,
    NewEvent, Page, Store, StoreError, StoredResource, Tenant, TenantId, TokenRecord, memory_eval,
};

/// The instant every fixture's timestamps count from.
const BASE: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

/// A limit larger than any fixture, for "the whole list" without relying on huge numbers.
const EVERYTHING: u64 = 1000;

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/// `ping` answers on a working database.
pub async fn ping(store: &dyn Store) {
    ok(store.ping().await, "ping on a freshly opened database");
}

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
    let purged = ok(
        store.purge_events(BASE + Duration::minutes(100)).await,
        "purging old events",
    );
    assert_eq!(purged, 6, "every event older than the cut is purged");
    assert!(
        all_events(store, None).await.is_empty(),
        "the log is empty after the purge"
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

/// API keys: stored by hash, found while live, revoked once, listed with their state.
pub async fn api_keys(store: &dyn Store) {
    let key = ApiKeyRecord {
        id: "key-1".into(),
        name: "reconciler".into(),
        hash: [7; 32],
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_api_key(&key).await, "adding an API key");
    assert_eq!(
        ok(store.api_key(&[7; 32]).await, "looking up a key"),
        Some(key.clone()),
        "a live key is found by its hash"
    );
    assert_eq!(
        ok(store.api_key(&[8; 32]).await, "looking up a wrong key"),
        None
    );
    ok(
        store
            .revoke_api_key("key-1", BASE + Duration::hours(1))
            .await,
        "revoking",
    );
    assert_eq!(
        ok(store.api_key(&[7; 32]).await, "a revoked key"),
        None,
        "revoked keys are not found"
    );
    assert_err(
        store.revoke_api_key("key-1", BASE).await,
        "NotFound",
        "revoking a revoked key",
    );
    let listed = ok(store.api_keys().await, "listing keys");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(BASE + Duration::hours(1)));
}

/// Keyset pages of a tenant's resources and of a group's members, in creation order.
pub async fn pages_after_a_key(store: &dyn Store) {
    let t = new_tenant(store, "t-pages").await;
    let other = new_tenant(store, "t-pages-other").await;
    for i in 0..5 {
        let u = resource(
            Kind::User,
            &format!("u{i}"),
            json!({"schemas": [USER_SCHEMA], "userName": format!("u{i}")}),
            BASE,
        );
        ok(store.insert(&t, &u, &[]).await, "inserting a user");
    }
    let o = resource(
        Kind::User,
        "o",
        json!({"schemas": [USER_SCHEMA], "userName": "o"}),
        BASE,
    );
    ok(store.insert(&other, &o, &[]).await, "another tenant's user");
    let ids: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
    let g = resource(
        Kind::Group,
        "g",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "g"}),
        BASE,
    );
    ok(store.insert(&t, &g, &refs(&ids)).await, "a group of five");

    let mut seen = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(
            store.resources_after(&t, Kind::User, after, 2).await,
            "a page of users",
        );
        let Some((key, _)) = page.last() else { break };
        after = *key;
        seen.extend(page.into_iter().map(|(_, r)| r.id));
    }
    assert_eq!(
        seen, ids,
        "every user of the tenant once, in creation order, and no other's"
    );
    let mut members = Vec::new();
    let mut after = 0;
    loop {
        let page = ok(
            store.members_after(&t, "g", after, 3).await,
            "a page of members",
        );
        let Some((key, _)) = page.last() else { break };
        after = *key;
        members.extend(page.into_iter().map(|(_, m)| m.id));
    }
    assert_eq!(members, ids, "every member once, in creation order");
    assert_err(
        store.members_after(&other, "g", 0, 10).await,
        "NotFound",
        "another tenant's group",
    );
}

/// The e-mail index follows every update: a changed address is found by its new value and not
/// by its old one, an update that keeps the addresses keeps them findable, and removing them
/// removes them from the index.
pub async fn emails_follow_updates(store: &dyn Store) {
    let t = new_tenant(store, "t-emails").await;
    let by = |value: &str| Filter::parse(&format!("emails.value eq \"{value}\"")).ok();
    let found = |page: Page| page.resources.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let v1 = resource(
        Kind::User,
        "user-mail",
        json!({"schemas": [USER_SCHEMA], "userName": "mail",
               "emails": [{"value": "Old@Contoso.com"}, {"value": "b@contoso.com"}]}),
        BASE,
    );
    ok(
        store.insert(&t, &v1, &[]).await,
        "inserting a user with e-mails",
    );
    assert_eq!(
        found(list(store, &t, Kind::User, by("old@contoso.com"), 0, 10).await),
        ["user-mail"],
        "an inserted address is found without regard to case"
    );
    // The same addresses in another order, with another attribute changed.
    let v2 = next_version(
        &v1,
        json!({"schemas": [USER_SCHEMA], "userName": "mail", "title": "Engineer",
               "emails": [{"value": "b@contoso.com"}, {"value": "old@contoso.com"}]}),
        BASE + Duration::hours(1),
    );
    ok(
        store.update(&t, &v2, 1, &MembersChange::Keep).await,
        "updating the title",
    );
    for value in ["old@contoso.com", "b@contoso.com"] {
        assert_eq!(
            found(list(store, &t, Kind::User, by(value), 0, 10).await),
            ["user-mail"],
            "{value} is still found after an update that keeps it"
        );
    }
    let v3 = next_version(
        &v2,
        json!({"schemas": [USER_SCHEMA], "userName": "mail",
               "emails": [{"value": "new@contoso.com"}, {"value": "b@contoso.com"}]}),
        BASE + Duration::hours(2),
    );
    ok(
        store.update(&t, &v3, 2, &MembersChange::Keep).await,
        "changing an address",
    );
    assert!(
        found(list(store, &t, Kind::User, by("old@contoso.com"), 0, 10).await).is_empty(),
        "a replaced address is no longer found"
    );
    assert_eq!(
        found(list(store, &t, Kind::User, by("new@contoso.com"), 0, 10).await),
        ["user-mail"],
        "the new address is found"
    );
    let v4 = next_version(
        &v3,
        json!({"schemas": [USER_SCHEMA], "userName": "mail"}),
        BASE + Duration::hours(3),
    );
    ok(
        store.update(&t, &v4, 3, &MembersChange::Keep).await,
        "removing every address",
    );
    for value in ["new@contoso.com", "b@contoso.com"] {
        assert!(
            found(list(store, &t, Kind::User, by(value), 0, 10).await).is_empty(),
            "{value} is no longer found once the user has no e-mails"
        );
    }
    assert!(
        found(
            list(
                store,
                &t,
                Kind::User,
                Filter::parse("emails pr").ok(),
                0,
                10
            )
            .await
        )
        .is_empty(),
        "emails pr is false once the user has no e-mails"
    );
}

/// The first start's tenant: created only while no tenant exists. (Backends also race several
/// handles on one database in their own tests; this suite has no runtime to spawn them on.)
pub async fn first_tenant(store: &dyn Store) {
    let first = tenant_record("t-first", "default", datetime!(2024-03-01 9:30 UTC));
    let second = tenant_record("t-second", "default", datetime!(2024-03-01 9:31 UTC));
    assert!(
        ok(
            store.create_first_tenant(&first).await,
            "creating the first tenant of an empty database"
        ),
        "an empty database gets its first tenant"
    );
    assert!(
        !ok(
            store.create_first_tenant(&second).await,
            "offering a first tenant to a database that has one"
        ),
        "a database with a tenant gets no other first tenant"
    );
    assert_eq!(
        ok(store.tenants().await, "listing tenants"),
        vec![first],
        "only the first offer is stored"
    );
}

/// Tenants: created, read back whole, listed oldest first whatever the order of creation.
pub async fn tenants(store: &dyn Store) {
    assert_eq!(
        ok(
            store.tenants().await,
            "listing the tenants of an empty database"
        ),
        Vec::<Tenant>::new(),
        "a fresh database has no tenants"
    );
    // Created out of age order, so that a backend listing in insertion order is caught.
    let acme = tenant_record("t-acme", "Acme", datetime!(2024-03-01 9:30 UTC));
    let initech = tenant_record("t-initech", "Initech", datetime!(2024-01-15 12:00 UTC));
    // An offset other than UTC: the instant is what must survive.
    let umbrella = tenant_record(
        "t-umbrella",
        "Umbrella",
        datetime!(2024-02-01 10:00:00.25 +02:00),
    );
    for t in [&acme, &initech, &umbrella] {
        ok(
            store.create_tenant(t).await,
            &format!("creating tenant {}", t.name),
        );
    }
    assert_eq!(
        ok(store.tenants().await, "listing tenants"),
        vec![initech.clone(), umbrella.clone(), acme.clone()],
        "tenants are listed oldest first, each as created"
    );
    assert_eq!(
        ok(store.tenant(&umbrella.id).await, "reading a tenant"),
        Some(umbrella.clone()),
        "a tenant reads back as created (name, and creation instant to the microsecond)"
    );
    assert_eq!(
        ok(
            store.tenant(&TenantId::new("t-nobody")).await,
            "reading a missing tenant"
        ),
        None,
        "a tenant that was never created is not found"
    );
    let twin = tenant_record("t-acme", "Acme again", datetime!(2024-04-01 0:00 UTC));
    assert!(
        store.create_tenant(&twin).await.is_err(),
        "creating a second tenant with an id already in use must fail"
    );
    assert_eq!(
        ok(store.tenant(&acme.id).await, "reading a tenant"),
        Some(acme),
        "a refused duplicate tenant leaves the first one as it was"
    );
    assert_eq!(
        ok(store.tenants().await, "listing tenants").len(),
        3,
        "a refused duplicate tenant is not listed"
    );
}

/// Tokens: a token resolves to its own tenant only, an unknown one to nothing, and issuing a
/// token with `revoke_others` makes the tenant's earlier tokens stop working (and nobody
/// else's).
pub async fn tokens(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let token = |id: &str, tenant: &TenantId, byte: u8, minutes: i64| TokenRecord {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        hash: [byte; 32],
        created_at: BASE + Duration::minutes(minutes),
        name: String::new(),
        last4: String::new(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        client_id: None,
    };
    let a1 = token("tok-a1", &a, 1, 1);
    let a2 = token("tok-a2", &a, 2, 2);
    let b1 = token("tok-b1", &b, 3, 3);
    ok(
        store.add_token(&a1, false).await,
        "issuing a first token for tenant A",
    );
    ok(
        store.add_token(&a2, false).await,
        "issuing a second token for tenant A",
    );
    ok(
        store.add_token(&b1, false).await,
        "issuing a token for tenant B",
    );
    let resolve = |hash: [u8; 32]| async move {
        ok(
            store.grant(&hash, BASE).await,
            "looking a token up by its hash",
        )
        .map(|g| g.tenant.id)
    };
    assert_eq!(
        resolve(a1.hash).await,
        Some(a.clone()),
        "A's first token opens tenant A"
    );
    assert_eq!(
        resolve(a2.hash).await,
        Some(a.clone()),
        "a second token without revoke_others leaves the first working and opens A"
    );
    assert_eq!(
        resolve(b1.hash).await,
        Some(b.clone()),
        "B's token opens tenant B, not A"
    );
    assert_eq!(
        resolve([9; 32]).await,
        None,
        "a token nobody issued opens nothing"
    );

    let a3 = token("tok-a3", &a, 4, 4);
    ok(
        store.add_token(&a3, true).await,
        "rotating tenant A's token (revoke_others)",
    );
    assert_eq!(
        resolve(a1.hash).await,
        None,
        "after rotation, A's first old token is refused"
    );
    assert_eq!(
        resolve(a2.hash).await,
        None,
        "after rotation, A's second old token is refused"
    );
    assert_eq!(
        resolve(a3.hash).await,
        Some(a.clone()),
        "the rotated-in token opens tenant A"
    );
    assert_eq!(
        resolve(b1.hash).await,
        Some(b.clone()),
        "rotating tenant A's token must not revoke tenant B's"
    );
    let a4 = token("tok-a4", &a, 5, 5);
    ok(
        store.add_token(&a4, true).await,
        "rotating tenant A's token again",
    );
    assert_eq!(
        resolve(a3.hash).await,
        None,
        "a second rotation revokes the first rotated-in token"
    );
    assert_eq!(
        resolve(a4.hash).await,
        Some(a),
        "the newest token opens tenant A"
    );
}

/// Client assertions: the first use of an issuer's `jti` is accepted, a second refused until
/// the record expires, the same `jti` of another issuer is another assertion, and expired
/// records are purged.
pub async fn used_assertions(store: &dyn Store) {
    let remember = |issuer: &'static str, jti: &'static str, expires_in: i64, now: i64| async move {
        ok(
            store
                .remember_assertion(
                    issuer,
                    jti,
                    BASE + Duration::minutes(expires_in),
                    BASE + Duration::minutes(now),
                )
                .await,
            "remembering an assertion",
        )
    };
    assert!(remember("https://a", "j1", 10, 0).await, "a first use");
    assert!(
        !remember("https://a", "j1", 10, 1).await,
        "a second use of one assertion is a replay"
    );
    assert!(
        remember("https://b", "j1", 10, 0).await,
        "the same jti from another issuer is another assertion"
    );
    assert!(remember("https://a", "j2", 10, 0).await, "another jti");
    assert!(
        remember("https://a", "j1", 30, 11).await,
        "an expired record no longer counts"
    );
    let purged = ok(
        store.purge_assertions(BASE + Duration::minutes(12)).await,
        "purging",
    );
    assert_eq!(
        purged, 2,
        "the records of https://b j1 and https://a j2 expired; https://a j1 was renewed"
    );
    assert!(
        !remember("https://a", "j1", 30, 12).await,
        "a renewed record is kept"
    );
}

/// Token lifecycle: several named static tokens with expiry and last use, listing and
/// revocation of one, and OAuth clients whose revocation ends their access tokens; expired
/// access tokens are purged.
pub async fn token_lifecycle(store: &dyn Store) {
    let a = new_tenant(store, "t-life-a").await;
    let b = new_tenant(store, "t-life-b").await;
    let token =
        |id: &str, tenant: &TenantId, byte: u8, expires: Option<i64>, client: Option<&str>| {
            TokenRecord {
                id: id.to_owned(),
                tenant_id: tenant.clone(),
                hash: [byte; 32],
                created_at: BASE,
                name: format!("name of {id}"),
                last4: format!("{byte:04}"),
                expires_at: expires.map(|m| BASE + Duration::minutes(m)),
                last_used_at: None,
                revoked_at: None,
                client_id: client.map(str::to_owned),
            }
        };
    let forever = token("life-1", &a, 11, None, None);
    let hourly = token("life-2", &a, 12, Some(60), None);
    let other = token("life-3", &b, 13, None, None);
    for t in [&forever, &hourly, &other] {
        ok(store.add_token(t, false).await, "issuing a static token");
    }
    let live = |hash: [u8; 32], minutes: i64| async move {
        ok(
            store.grant(&hash, BASE + Duration::minutes(minutes)).await,
            "looking a token up",
        )
        .map(|g| (g.tenant.id, g.token.id))
    };
    assert_eq!(
        live(hourly.hash, 59).await,
        Some((a.clone(), "life-2".to_owned())),
        "a token works before it expires, and the grant names the token"
    );
    assert_eq!(
        live(hourly.hash, 60).await,
        None,
        "a token stops working at its expiry"
    );
    assert_eq!(
        live(forever.hash, 100_000).await,
        Some((a.clone(), "life-1".to_owned())),
        "a token without expiry keeps working"
    );
    let listed = ok(store.tokens(&a).await, "listing tenant A's tokens");
    assert_eq!(
        listed,
        vec![forever.clone(), hourly.clone()],
        "a tenant lists its own static tokens, whole, and none of another tenant's"
    );

    ok(
        store
            .touch_token("life-1", BASE + Duration::minutes(5))
            .await,
        "recording a use",
    );
    ok(
        store
            .touch_token("life-1", BASE + Duration::minutes(2))
            .await,
        "recording an older use",
    );
    let listed = ok(store.tokens(&a).await, "listing after a use");
    assert_eq!(
        listed[0].last_used_at,
        Some(BASE + Duration::minutes(5)),
        "last use is the latest recorded, never moved backwards"
    );

    assert!(
        matches!(
            store.revoke_token(&b, "life-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "tenant B cannot revoke tenant A's token"
    );
    ok(
        store
            .revoke_token(&a, "life-1", BASE + Duration::minutes(6))
            .await,
        "revoking one token",
    );
    assert_eq!(live(forever.hash, 7).await, None, "a revoked token stops");
    assert!(
        live(hourly.hash, 7).await.is_some(),
        "revoking one token leaves the tenant's other token working"
    );
    assert!(
        matches!(
            store.revoke_token(&a, "life-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "revoking a revoked token is NotFound"
    );
    assert_eq!(
        ok(store.tokens(&a).await, "listing after a revocation")
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        vec!["life-2".to_owned()],
        "a revoked token is no longer listed"
    );

    let client = ClientRecord {
        id: "client-1".into(),
        tenant_id: a.clone(),
        name: "identity provider".into(),
        secret_hash: [21; 32],
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_client(&client).await, "adding an OAuth client");
    assert_eq!(
        ok(store.client("client-1").await, "reading a client"),
        Some(client.clone())
    );
    assert_eq!(
        ok(store.clients(&a).await, "listing clients"),
        vec![client.clone()]
    );
    assert_eq!(
        ok(store.clients(&b).await, "listing another tenant's clients"),
        vec![],
        "a tenant sees none of another tenant's clients"
    );
    let access = token("life-4", &a, 14, Some(60), Some("client-1"));
    let stale = token("life-5", &a, 15, Some(1), Some("client-1"));
    ok(
        store.add_token(&access, false).await,
        "issuing an access token",
    );
    ok(
        store.add_token(&stale, false).await,
        "issuing a short access token",
    );
    assert_eq!(
        live(access.hash, 1).await,
        Some((a.clone(), "life-4".to_owned())),
        "an access token opens its client's tenant"
    );
    assert_eq!(
        ok(store.tokens(&a).await, "listing static tokens").len(),
        1,
        "access tokens are not listed among static tokens"
    );
    let rotated = token("life-6", &a, 16, None, None);
    ok(
        store.add_token(&rotated, true).await,
        "rotating the static tokens",
    );
    assert!(
        live(access.hash, 1).await.is_some(),
        "rotating static tokens leaves access tokens working"
    );
    assert_eq!(
        ok(
            store
                .purge_access_tokens(BASE + Duration::minutes(30))
                .await,
            "purging expired access tokens",
        ),
        1,
        "only the access token that expired before the cut-off is purged"
    );
    assert!(
        matches!(
            store.revoke_client(&b, "client-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "tenant B cannot revoke tenant A's client"
    );
    ok(
        store
            .revoke_client(&a, "client-1", BASE + Duration::minutes(2))
            .await,
        "revoking the client",
    );
    assert_eq!(
        live(access.hash, 3).await,
        None,
        "revoking a client ends its access tokens"
    );
    assert_eq!(
        ok(store.client("client-1").await, "reading a revoked client"),
        None
    );
    assert_eq!(
        ok(store.clients(&a).await, "listing after revocation"),
        vec![]
    );
    assert!(
        live(rotated.hash, 3).await.is_some(),
        "revoking a client leaves static tokens working"
    );
}

/// Updates told the resource as it was read (`update_from_recorded`): an update that keeps
/// userName and externalId leaves them findable, a rename moves them, a rename onto a taken
/// userName is a conflict, and a stale read is refused, each exactly as `update_recorded`.
pub async fn update_from_previous(store: &dyn Store) {
    let t = &new_tenant(store, "t-update-from").await;
    let user = |name: &str, external: &str, display: &str| {
        json!({
            "schemas": [USER_SCHEMA],
            "userName": name,
            "externalId": external,
            "displayName": display,
        })
    };
    let ada = resource(
        Kind::User,
        "u-ada",
        user("ada@x.test", "ext-ada", "Ada"),
        BASE,
    );
    let bob = resource(
        Kind::User,
        "u-bob",
        user("bob@x.test", "ext-bob", "Bob"),
        BASE,
    );
    ok(store.insert(t, &ada, &[]).await, "inserting ada");
    ok(store.insert(t, &bob, &[]).await, "inserting bob");
    let found = |text: &'static str| async move {
        ids_of(
            &list(
                store,
                t,
                Kind::User,
                Filter::parse(text).ok(),
                0,
                EVERYTHING,
            )
            .await,
        )
    };

    // Only the display name changes: userName and externalId stay as they were.
    let renamed = next_version(
        &ada,
        user("ada@x.test", "ext-ada", "Countess"),
        BASE + Duration::minutes(1),
    );
    ok(
        store
            .update_from_recorded(t, &ada, &renamed, &MembersChange::Keep, &[])
            .await,
        "updating ada's display name",
    );
    assert_eq!(
        get(store, t, Kind::User, "u-ada").await,
        Some(renamed.clone())
    );
    assert_eq!(
        found("userName eq \"ADA@x.test\"").await,
        vec!["u-ada".to_owned()]
    );
    assert_eq!(
        found("externalId eq \"ext-ada\"").await,
        vec!["u-ada".to_owned()]
    );

    // A stale read is refused and changes nothing.
    let stale = next_version(&ada, user("ada@x.test", "ext-ada", "Stale"), BASE);
    assert!(
        matches!(
            store
                .update_from_recorded(t, &ada, &stale, &MembersChange::Keep, &[])
                .await,
            Err(StoreError::VersionMismatch)
        ),
        "an update from a stale read is a version mismatch"
    );
    assert_eq!(
        get(store, t, Kind::User, "u-ada").await,
        Some(renamed.clone())
    );

    // userName and externalId change: the old values find nothing, the new ones find her.
    let moved = next_version(
        &renamed,
        user("lovelace@x.test", "ext-2", "Countess"),
        BASE + Duration::minutes(2),
    );
    ok(
        store
            .update_from_recorded(t, &renamed, &moved, &MembersChange::Keep, &[])
            .await,
        "renaming ada",
    );
    assert_eq!(
        found("userName eq \"ada@x.test\"").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found("externalId eq \"ext-ada\"").await,
        Vec::<String>::new()
    );
    assert_eq!(
        found("userName eq \"lovelace@x.test\"").await,
        vec!["u-ada".to_owned()]
    );
    assert_eq!(
        found("externalId eq \"ext-2\"").await,
        vec!["u-ada".to_owned()]
    );

    // One of the two at a time: each statement binds what it sets, in order.
    let external_only = next_version(
        &moved,
        user("lovelace@x.test", "ext-3", "Countess"),
        BASE + Duration::minutes(3),
    );
    ok(
        store
            .update_from_recorded(t, &moved, &external_only, &MembersChange::Keep, &[])
            .await,
        "changing only ada's externalId",
    );
    let name_only = next_version(
        &external_only,
        user("ada.lovelace@x.test", "ext-3", "Countess"),
        BASE + Duration::minutes(4),
    );
    ok(
        store
            .update_from_recorded(t, &external_only, &name_only, &MembersChange::Keep, &[])
            .await,
        "changing only ada's userName",
    );
    assert_eq!(
        get(store, t, Kind::User, "u-ada").await,
        Some(name_only.clone())
    );
    assert_eq!(
        found("externalId eq \"ext-3\"").await,
        vec!["u-ada".to_owned()]
    );
    assert_eq!(found("externalId eq \"ext-2\"").await, Vec::<String>::new());
    assert_eq!(
        found("userName eq \"ada.lovelace@x.test\"").await,
        vec!["u-ada".to_owned()]
    );
    assert_eq!(
        found("userName eq \"lovelace@x.test\"").await,
        Vec::<String>::new()
    );
    let moved = name_only;

    // Onto bob's userName (in another case): a conflict, and nothing changes.
    let clash = next_version(
        &moved,
        user("BOB@x.test", "ext-3", "Countess"),
        BASE + Duration::minutes(5),
    );
    assert!(
        matches!(
            store
                .update_from_recorded(t, &moved, &clash, &MembersChange::Keep, &[])
                .await,
            Err(StoreError::Conflict(_))
        ),
        "a rename onto a taken userName is a conflict"
    );
    assert_eq!(get(store, t, Kind::User, "u-ada").await, Some(moved));
    assert_eq!(
        found("userName eq \"bob@x.test\"").await,
        vec!["u-bob".to_owned()]
    );
}

/// Users: insert, get (whole, with timestamps to the microsecond), update with the current
/// version, refusal of a stale version or of a missing id, delete with and without a version.
pub async fn user_lifecycle(store: &dyn Store) {
    let t = new_tenant(store, "t-users").await;
    let mut ada = resource(
        Kind::User,
        "user-ada",
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada@contoso.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@contoso.com", "type": "work", "primary": true}],
            "active": true,
        }),
        // Microseconds and a non-UTC offset: both must survive the round trip.
        datetime!(2024-05-01 12:00:00.123456 +02:00),
    );
    ok(store.insert(&t, &ada, &[]).await, "inserting a user");
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        Some(ada.clone()),
        "a user reads back exactly as inserted (data, version, meta.created, meta.lastModified)"
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::Group, "user-ada", true).await,
            "reading a user as a group"
        ),
        None,
        "a user is not found at /Groups"
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-nobody").await,
        None,
        "an id that was never inserted is not found"
    );

    let v2 = next_version(
        &ada,
        json!({
            "schemas": [USER_SCHEMA],
            "userName": "ada.lovelace@contoso.com",
            "title": "Countess",
            "active": false,
        }),
        datetime!(2024-05-02 08:00 UTC),
    );
    ok(
        store.update(&t, &v2, 1, &MembersChange::Keep).await,
        "updating a user with its current version",
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        Some(v2.clone()),
        "an update replaces the data, version and meta.lastModified and keeps meta.created"
    );

    let stale = next_version(
        &ada,
        json!({"schemas": [USER_SCHEMA], "userName": "stale"}),
        BASE,
    );
    assert_err(
        store.update(&t, &stale, 1, &MembersChange::Keep).await,
        "VersionMismatch",
        "updating a user with the version it had before the last update",
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        Some(v2.clone()),
        "a refused stale update changes nothing"
    );

    let mut ghost = v2.clone();
    ghost.id = "user-nobody".into();
    assert_err(
        store.update(&t, &ghost, 2, &MembersChange::Keep).await,
        "NotFound",
        "updating a user that does not exist",
    );
    let mut as_group = next_version(&v2, v2.data.clone(), BASE);
    as_group.kind = Kind::Group;
    assert_err(
        store.update(&t, &as_group, 2, &MembersChange::Keep).await,
        "NotFound",
        "updating a user's id through /Groups",
    );
    assert_err(
        store.delete(&t, Kind::Group, "user-ada", None).await,
        "NotFound",
        "deleting a user's id through /Groups",
    );
    assert_err(
        store.delete(&t, Kind::User, "user-ada", Some(1)).await,
        "VersionMismatch",
        "deleting a user with a stale version",
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        Some(v2),
        "a refused delete leaves the user in place"
    );
    ok(
        store.delete(&t, Kind::User, "user-ada", Some(2)).await,
        "deleting with the current version",
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        None,
        "a deleted user is gone"
    );
    assert_err(
        store.delete(&t, Kind::User, "user-ada", None).await,
        "NotFound",
        "deleting a user twice",
    );
    assert_err(
        store
            .update(
                &t,
                &next_version(&ada, ada.data.clone(), BASE),
                2,
                &MembersChange::Keep,
            )
            .await,
        "NotFound",
        "updating a deleted user",
    );

    // Without a version, a delete is unconditional.
    ada.id = "user-bob".into();
    ada.data = json!({"schemas": [USER_SCHEMA], "userName": "bob@contoso.com"});
    ok(store.insert(&t, &ada, &[]).await, "inserting a second user");
    ok(
        store.delete(&t, Kind::User, "user-bob", None).await,
        "deleting without a version",
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-bob").await,
        None,
        "the user is gone"
    );
    assert_eq!(
        list(store, &t, Kind::User, None, 0, EVERYTHING).await.total,
        0,
        "no user is listed once every user is deleted"
    );
}

/// Groups: the same life cycle as users, and members read only when asked for.
pub async fn group_lifecycle(store: &dyn Store) {
    let t = new_tenant(store, "t-groups").await;
    let ada = user_record("user-ada", "ada@contoso.com", BASE);
    ok(store.insert(&t, &ada, &[]).await, "inserting a user");
    let eng = resource(
        Kind::Group,
        "group-eng",
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "externalId": "g-1"}),
        datetime!(2024-05-01 12:00:00.5 UTC),
    );
    ok(
        store.insert(&t, &eng, &["user-ada".into()]).await,
        "inserting a group with a member",
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::Group, "group-eng", false).await,
            "reading a group"
        ),
        Some(eng.clone()),
        "a group read without members reads back as inserted, with members: None"
    );
    let with = ok(
        store.get(&t, Kind::Group, "group-eng", true).await,
        "reading a group",
    )
    .expect("the group just inserted is there");
    assert_eq!(
        with.members.as_deref(),
        Some(&[member_user("user-ada", "ada@contoso.com")][..]),
        "a group read with members lists its member"
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::User, "group-eng", false).await,
            "reading a group as a user"
        ),
        None,
        "a group is not found at /Users"
    );

    let v2 = next_version(
        &eng,
        json!({"schemas": [GROUP_SCHEMA], "displayName": "Engineers"}),
        datetime!(2024-05-03 0:00 UTC),
    );
    ok(
        store.update(&t, &v2, 1, &MembersChange::Keep).await,
        "renaming a group",
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::Group, "group-eng", false).await,
            "reading a group"
        ),
        Some(v2.clone()),
        "a group update replaces data, version and meta.lastModified"
    );
    assert_err(
        store
            .update(
                &t,
                &next_version(&eng, eng.data.clone(), BASE),
                1,
                &MembersChange::Keep,
            )
            .await,
        "VersionMismatch",
        "updating a group with a stale version",
    );
    let mut ghost = v2.clone();
    ghost.id = "group-nobody".into();
    assert_err(
        store
            .update(&t, &ghost, 2, &MembersChange::Replace(vec![]))
            .await,
        "NotFound",
        "updating a group that does not exist",
    );
    assert_err(
        store.delete(&t, Kind::Group, "group-nobody", None).await,
        "NotFound",
        "deleting a group that does not exist",
    );
    assert_err(
        store.delete(&t, Kind::Group, "group-eng", Some(1)).await,
        "VersionMismatch",
        "deleting a group with a stale version",
    );
    assert_eq!(
        member_ids(store, &t, "group-eng").await,
        vec!["user-ada".to_owned()],
        "refused writes leave the members alone"
    );
    ok(
        store.delete(&t, Kind::Group, "group-eng", Some(2)).await,
        "deleting a group",
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::Group, "group-eng", true).await,
            "reading a deleted group"
        ),
        None,
        "a deleted group is gone"
    );
    assert_eq!(
        get(store, &t, Kind::User, "user-ada").await,
        Some(ada),
        "deleting a group leaves its members in place"
    );
    assert_eq!(
        ok(
            store.groups_of(&t, &["user-ada".into()]).await,
            "reading a user's groups"
        ),
        vec![],
        "a user is in no group once its group is deleted"
    );
}

/// userName and group displayName are unique per tenant without regard to case; the same name
/// in another tenant, or a user and a group of one name, are fine; a name is free again once
/// its holder is deleted or renamed.
pub async fn name_uniqueness(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    ok(
        store
            .insert(&a, &user_record("a-ada", "Ada@Contoso.com", BASE), &[])
            .await,
        "inserting ada",
    );
    assert_err(
        store
            .insert(&a, &user_record("a-ada2", "ada@contoso.COM", BASE), &[])
            .await,
        "Conflict(\"userName\")",
        "inserting a second user whose userName differs only by case",
    );
    assert_eq!(
        get(store, &a, Kind::User, "a-ada2").await,
        None,
        "the refused user was not stored"
    );
    ok(
        store
            .insert(&a, &group_record("a-eng", "Engineering", BASE), &[])
            .await,
        "inserting Engineering",
    );
    assert_err(
        store
            .insert(&a, &group_record("a-eng2", "ENGINEERING", BASE), &[])
            .await,
        "Conflict(\"displayName\")",
        "inserting a second group whose displayName differs only by case",
    );
    assert_eq!(
        list(store, &a, Kind::Group, None, 0, EVERYTHING)
            .await
            .total,
        1,
        "the refused group was not stored"
    );

    ok(
        store
            .insert(&b, &user_record("b-ada", "ada@contoso.com", BASE), &[])
            .await,
        "the same userName in another tenant is not a conflict",
    );
    ok(
        store
            .insert(&b, &group_record("b-eng", "engineering", BASE), &[])
            .await,
        "the same group displayName in another tenant is not a conflict",
    );
    ok(
        store
            .insert(&a, &user_record("a-eng-user", "engineering", BASE), &[])
            .await,
        "a user may have the displayName of a group as userName: they are different attributes",
    );

    // Renames.
    let bob = user_record("a-bob", "bob@contoso.com", BASE);
    ok(store.insert(&a, &bob, &[]).await, "inserting bob");
    let bob_as_ada = next_version(
        &bob,
        user_data("ADA@contoso.com"),
        BASE + Duration::hours(1),
    );
    assert_err(
        store.update(&a, &bob_as_ada, 1, &MembersChange::Keep).await,
        "Conflict(\"userName\")",
        "renaming a user to another user's userName in other case",
    );
    assert_eq!(
        get(store, &a, Kind::User, "a-bob").await,
        Some(bob.clone()),
        "a refused rename leaves the user as it was"
    );
    let ada = get(store, &a, Kind::User, "a-ada")
        .await
        .expect("ada is there");
    let ada_upper = next_version(
        &ada,
        user_data("ADA@CONTOSO.COM"),
        BASE + Duration::hours(1),
    );
    ok(
        store.update(&a, &ada_upper, 1, &MembersChange::Keep).await,
        "changing the case of a user's own userName is not a conflict",
    );
    assert_eq!(
        get(store, &a, Kind::User, "a-ada").await.map(|r| r.data),
        Some(user_data("ADA@CONTOSO.COM")),
        "the new case of the userName is kept"
    );
    let eng2 = group_record("a-ops", "Operations", BASE);
    ok(store.insert(&a, &eng2, &[]).await, "inserting Operations");
    assert_err(
        store
            .update(
                &a,
                &next_version(&eng2, group_data("engineering"), BASE),
                1,
                &MembersChange::Keep,
            )
            .await,
        "Conflict(\"displayName\")",
        "renaming a group to another group's displayName in other case",
    );

    // Look-alike spellings of one name are one name (the fold of `fold_case`): NFC and NFD,
    // full-width letters, ligatures, the no-break space; a filter with either spelling finds
    // the stored one.
    for (i, (first, second)) in [
        ("jos\u{e9}@contoso.com", "JOSE\u{301}@contoso.com"),
        (
            "wide@contoso.com",
            "\u{ff57}\u{ff49}\u{ff44}\u{ff45}@contoso.com",
        ),
        ("\u{fb01}nn@contoso.com", "FINN@contoso.com"),
        ("ada lovelace", "ada\u{a0}lovelace"),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("a-look-{i}");
        ok(
            store.insert(&a, &user_record(&id, first, BASE), &[]).await,
            &format!("inserting {first:?}"),
        );
        assert_err(
            store
                .insert(&a, &user_record(&format!("{id}-2"), second, BASE), &[])
                .await,
            "Conflict(\"userName\")",
            &format!("inserting {second:?} beside {first:?}"),
        );
        for spelling in [first, second] {
            let filter = Filter::parse(&format!(
                "userName eq {}",
                serde_json::to_string(spelling).expect("a string")
            ))
            .expect("a filter");
            let page = list(store, &a, Kind::User, Some(filter), 0, EVERYTHING).await;
            assert_eq!(
                page.resources
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>(),
                vec![id.as_str()],
                "userName eq {spelling:?} finds {first:?}"
            );
        }
    }
    ok(
        store
            .insert(&a, &group_record("a-fr", "R\u{e9}seau", BASE), &[])
            .await,
        "inserting R\u{e9}seau",
    );
    assert_err(
        store
            .insert(&a, &group_record("a-fr2", "RE\u{301}SEAU", BASE), &[])
            .await,
        "Conflict(\"displayName\")",
        "inserting a group whose displayName is the NFD spelling of another's",
    );
    // Look-alikes in different scripts are different names: Cyrillic 'а' is not Latin 'a'.
    ok(
        store
            .insert(
                &a,
                &user_record("a-cyrillic", "\u{430}da@contoso.com", BASE),
                &[],
            )
            .await,
        "a userName with a Cyrillic a beside the same with a Latin a",
    );

    // A freed name can be taken again.
    ok(
        store.delete(&a, Kind::User, "a-ada", None).await,
        "deleting ada",
    );
    ok(
        store
            .insert(&a, &user_record("a-ada3", "ada@contoso.com", BASE), &[])
            .await,
        "a deleted user's userName can be given to a new user",
    );
    let bob_renamed = next_version(
        &bob,
        user_data("robert@contoso.com"),
        BASE + Duration::hours(2),
    );
    ok(
        store
            .update(&a, &bob_renamed, 1, &MembersChange::Keep)
            .await,
        "renaming bob",
    );
    ok(
        store
            .insert(&a, &user_record("a-bob2", "Bob@Contoso.com", BASE), &[])
            .await,
        "a renamed user's former userName can be given to a new user",
    );
}

/// A row as the first fold (simple lowercase, before `FOLD_VERSION` 2) left it, for the test
/// of a backend's start-up refold: the backend's test writes `data`, `name_key` and the one
/// e-mail `value_key` of the resource `id` of `tenant` as given, with SQL of its own, and
/// sets `key_fold.version` back to 1.
#[derive(Debug, Clone)]
pub struct FirstFoldRow {
    /// The resource's tenant.
    pub tenant: TenantId,
    /// The resource's id.
    pub id: String,
    /// Its JSON, as text.
    pub data: String,
    /// Its `name_key` under the first fold.
    pub name_key: String,
    /// Its e-mail's `value_key` under the first fold, if it has one.
    pub email_key: Option<String>,
}

/// The first fold: simple lowercase, character by character.
fn first_fold(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Seeds the store for the refold test and returns the rows the backend's test must turn back
/// into what the first fold wrote: a user "Ｊosé" (a full-width J) with a full-width e-mail, a
/// group "RÉSEAU" in NFD, and a second user that was created as "JOSÉ" in NFD, a true
/// duplicate under the new fold, created later.
pub async fn refold_seed(store: &dyn Store) -> Vec<FirstFoldRow> {
    let t = new_tenant(store, "t-refold").await;
    let jose = json!({
        "schemas": [USER_SCHEMA],
        "userName": "\u{ff2a}os\u{e9}@contoso.com",
        "emails": [{"value": "\u{ff2a}OSE@contoso.com"}],
    });
    let duplicate = json!({"schemas": [USER_SCHEMA], "userName": "JOSE\u{301}@contoso.com"});
    let group = group_data("RE\u{301}SEAU");
    ok(
        store
            .insert(&t, &resource(Kind::User, "u-jose", jose.clone(), BASE), &[])
            .await,
        "inserting jose",
    );
    ok(
        store
            .insert(&t, &group_record("g-fr", "R\u{e9}seau", BASE), &[])
            .await,
        "inserting the group",
    );
    // Stored under another name first: the store refuses the duplicate itself.
    ok(
        store
            .insert(
                &t,
                &user_record("u-dup", "placeholder", BASE + Duration::minutes(1)),
                &[],
            )
            .await,
        "inserting the duplicate's placeholder",
    );
    let row = |id: &str, data: &Value, name: &str, email: Option<&str>| FirstFoldRow {
        tenant: t.clone(),
        id: id.to_owned(),
        data: data.to_string(),
        name_key: first_fold(name),
        email_key: email.map(first_fold),
    };
    vec![
        row(
            "u-jose",
            &jose,
            "\u{ff2a}os\u{e9}@contoso.com",
            Some("\u{ff2a}OSE@contoso.com"),
        ),
        row("g-fr", &group, "RE\u{301}SEAU", None),
        row("u-dup", &duplicate, "JOSE\u{301}@contoso.com", None),
    ]
}

/// Checks a store reopened over the rows of [`refold_seed`] turned back to the first fold:
/// look-alike spellings find the refolded rows and cannot be created beside them, and the
/// duplicate, whose key stayed as it was, can still be read and written.
pub async fn refold_check(store: &dyn Store, rows: &[FirstFoldRow]) {
    let t = &rows[0].tenant;
    let find = |kind: Kind, filter: &str| {
        let filter = Filter::parse(filter).expect("a filter");
        async move {
            list(store, t, kind, Some(filter), 0, EVERYTHING)
                .await
                .resources
                .into_iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    for filter in [
        "userName eq \"jose\u{301}@CONTOSO.COM\"",
        "userName eq \"jos\u{e9}@contoso.com\"",
        "userName sw \"\u{ff2a}\u{ff2f}\u{ff33}\u{ff25}\u{301}\"",
        "emails.value eq \"jose@contoso.com\"",
    ] {
        assert_eq!(
            find(Kind::User, filter).await,
            vec!["u-jose".to_owned()],
            "{filter} after the keys were folded again"
        );
    }
    assert_eq!(
        find(Kind::Group, "displayName eq \"r\u{e9}seau\"").await,
        vec!["g-fr".to_owned()],
        "a group's NFC spelling after the keys were folded again"
    );
    assert_err(
        store
            .insert(
                t,
                &user_record("u-new", "jose\u{301}@contoso.com", BASE),
                &[],
            )
            .await,
        "Conflict(\"userName\")",
        "creating a look-alike of a refolded userName",
    );
    assert_err(
        store
            .insert(t, &group_record("g-new", "r\u{e9}seau", BASE), &[])
            .await,
        "Conflict(\"displayName\")",
        "creating a look-alike of a refolded group displayName",
    );
    // The duplicate kept its old key: it is still there and can be changed without a rename.
    let dup = get(store, t, Kind::User, "u-dup")
        .await
        .expect("the duplicate is still there");
    assert_eq!(dup.data["userName"], "JOSE\u{301}@contoso.com");
    let mut data = dup.data.clone();
    data["active"] = json!(false);
    let next = next_version(&dup, data, BASE + Duration::hours(1));
    ok(
        store
            .update_from_recorded(t, &dup, &next, &MembersChange::Keep, &[])
            .await,
        "deactivating the duplicate, which keeps its name",
    );
    ok(
        store
            .update_from_recorded(
                t,
                &next,
                &next_version(
                    &next,
                    user_data("jose.2@contoso.com"),
                    BASE + Duration::hours(2),
                ),
                &MembersChange::Keep,
                &[],
            )
            .await,
        "renaming the duplicate",
    );
    assert_eq!(
        find(Kind::User, "userName eq \"JOSE.2@contoso.com\"").await,
        vec!["u-dup".to_owned()],
        "the renamed duplicate is found by its new name"
    );
}

/// Nothing of tenant A can be read, changed or referenced through tenant B.
pub async fn tenant_isolation(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let a_ada = user_record("a-ada", "ada@contoso.com", BASE);
    let a_eng = group_record("a-eng", "Engineering", BASE + Duration::minutes(1));
    let b_carol = user_record("b-carol", "carol@contoso.com", BASE);
    let b_ops = group_record("b-ops", "Operations", BASE + Duration::minutes(1));
    ok(store.insert(&a, &a_ada, &[]).await, "inserting A's user");
    ok(
        store.insert(&a, &a_eng, &["a-ada".into()]).await,
        "inserting A's group",
    );
    ok(store.insert(&b, &b_carol, &[]).await, "inserting B's user");
    ok(
        store.insert(&b, &b_ops, &["b-carol".into()]).await,
        "inserting B's group",
    );

    // Reads.
    assert_eq!(
        get(store, &b, Kind::User, "a-ada").await,
        None,
        "B cannot read A's user"
    );
    assert_eq!(
        ok(
            store.get(&b, Kind::Group, "a-eng", true).await,
            "reading A's group through B"
        ),
        None,
        "B cannot read A's group"
    );
    assert_eq!(
        ids(&list(store, &b, Kind::User, None, 0, EVERYTHING).await),
        ["b-carol"],
        "B's user list holds B's users only"
    );
    assert_eq!(
        ids(&list(store, &b, Kind::Group, None, 0, EVERYTHING).await),
        ["b-ops"],
        "B's group list holds B's groups only"
    );
    let by_id = compare("id", CompareOp::Eq, "a-ada");
    assert_eq!(
        list(store, &b, Kind::User, Some(by_id), 0, EVERYTHING)
            .await
            .total,
        0,
        "B filtering on A's user id finds nothing"
    );
    let by_member = compare("members.value", CompareOp::Eq, "a-ada");
    assert_eq!(
        list(store, &b, Kind::Group, Some(by_member), 0, EVERYTHING)
            .await
            .total,
        0,
        "B filtering its groups on A's user as member finds nothing"
    );
    let by_name = compare("userName", CompareOp::Eq, "ada@contoso.com");
    assert_eq!(
        list(store, &b, Kind::User, Some(by_name), 0, EVERYTHING)
            .await
            .total,
        0,
        "B filtering on A's userName finds nothing"
    );
    assert_eq!(
        ok(
            store.groups_of(&b, &["a-ada".into()]).await,
            "reading A's user's groups through B"
        ),
        vec![],
        "B sees no group of A's user"
    );

    // Writes.
    assert_err(
        store
            .update(
                &b,
                &next_version(&a_ada, user_data("mallory"), BASE),
                1,
                &MembersChange::Keep,
            )
            .await,
        "NotFound",
        "B updating A's user",
    );
    assert_err(
        store
            .update(
                &b,
                &next_version(&a_eng, group_data("Pwned"), BASE),
                1,
                &MembersChange::Replace(vec![]),
            )
            .await,
        "NotFound",
        "B updating A's group",
    );
    assert_err(
        store.delete(&b, Kind::User, "a-ada", None).await,
        "NotFound",
        "B deleting A's user",
    );
    assert_err(
        store.delete(&b, Kind::Group, "a-eng", Some(1)).await,
        "NotFound",
        "B deleting A's group",
    );

    // Membership across tenants.
    let b_ops_v2 = next_version(&b_ops, b_ops.data.clone(), BASE + Duration::hours(1));
    let add_ada = MembersChange::Delta {
        add: vec!["a-ada".into()],
        remove: vec![],
    };
    assert_err(
        store.update(&b, &b_ops_v2, 1, &add_ada).await,
        "UnknownMember(\"a-ada\")",
        "B adding A's user to B's group",
    );
    assert_err(
        store
            .update(
                &b,
                &b_ops_v2,
                1,
                &MembersChange::Replace(vec!["a-ada".into()]),
            )
            .await,
        "UnknownMember(\"a-ada\")",
        "B replacing its group's members with A's user",
    );
    assert_err(
        store
            .update(
                &b,
                &b_ops_v2,
                1,
                &MembersChange::Replace(vec!["a-eng".into()]),
            )
            .await,
        "UnknownMember(\"a-eng\")",
        "B nesting A's group in B's group",
    );
    assert_err(
        store
            .insert(
                &b,
                &group_record("b-spies", "Spies", BASE),
                &["a-ada".into()],
            )
            .await,
        "UnknownMember(\"a-ada\")",
        "B creating a group with A's user as member",
    );
    assert_eq!(
        ok(
            store.get(&b, Kind::Group, "b-spies", false).await,
            "reading a refused group"
        ),
        None,
        "a group refused for a foreign member is not stored"
    );
    assert_eq!(
        get_group(store, &b, "b-ops").await.version,
        1,
        "refused membership changes do not bump the version"
    );
    assert_eq!(
        member_ids(store, &b, "b-ops").await,
        ["b-carol"],
        "refused membership changes leave B's group as it was"
    );
    let remove_ada = MembersChange::Delta {
        add: vec![],
        remove: vec!["a-ada".into()],
    };
    ok(
        store.update(&b, &b_ops_v2, 1, &remove_ada).await,
        "B removing an id it does not have from its group is not an error",
    );
    assert_eq!(
        member_ids(store, &b, "b-ops").await,
        ["b-carol"],
        "B's group keeps its member"
    );

    // A is untouched by all of the above.
    assert_eq!(
        get(store, &a, Kind::User, "a-ada").await,
        Some(a_ada),
        "A's user is unchanged"
    );
    assert_eq!(
        get_group(store, &a, "a-eng").await.version,
        1,
        "A's group is unchanged"
    );
    assert_eq!(
        member_ids(store, &a, "a-eng").await,
        ["a-ada"],
        "A's group keeps its member"
    );
    assert_eq!(
        ok(
            store.groups_of(&a, &["a-ada".into()]).await,
            "reading groups"
        ),
        vec![(
            "a-ada".to_owned(),
            GroupRef {
                id: "a-eng".into(),
                display: "Engineering".into()
            }
        )],
        "A's user is still in A's group"
    );
}

/// Group members: set on insert, changed by delta (idempotent adds, removing an absent member
/// is fine) and by replacement, refused atomically when one id is unknown, nested groups,
/// names that follow renames, a stable order, and deletions that clean up every membership.
pub async fn membership(store: &dyn Store) {
    let t = new_tenant(store, "t-members").await;
    let mut ada = user_record("u-ada", "ada@contoso.com", BASE);
    ada.data["displayName"] = json!("Ada Lovelace");
    let bob = user_record("u-bob", "bob@contoso.com", BASE + Duration::minutes(1));
    let carol = user_record("u-carol", "carol@contoso.com", BASE + Duration::minutes(2));
    let dave = user_record("u-dave", "dave@contoso.com", BASE + Duration::minutes(3));
    for u in [&ada, &bob, &carol, &dave] {
        ok(store.insert(&t, u, &[]).await, "inserting a user");
    }

    // Insert with members; what each member looks like.
    let mut eng = group_record("g-eng", "Engineering", BASE + Duration::hours(1));
    ok(
        store
            .insert(&t, &eng, &["u-carol".into(), "u-ada".into()])
            .await,
        "inserting a group with two members",
    );
    let first = members(store, &t, "g-eng").await;
    assert_eq!(
        sorted(first.iter().map(|m| m.id.clone())),
        ["u-ada", "u-carol"],
        "a group holds the members it was created with"
    );
    assert!(
        first.contains(&Member {
            id: "u-ada".into(),
            kind: Kind::User,
            display: Some("Ada Lovelace".into()),
        }),
        "a member user is shown with its displayName: {first:?}"
    );
    assert!(
        first.contains(&member_user("u-carol", "carol@contoso.com")),
        "a member user without displayName is shown with its userName: {first:?}"
    );
    assert_eq!(
        members(store, &t, "g-eng").await,
        first,
        "members come back in the same order on every read"
    );
    assert_members_listed_as_read(store, &t).await;

    // Delta: adding a present member again changes nothing; new ones join.
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Delta {
            add: vec!["u-bob".into(), "u-ada".into(), "u-bob".into()],
            remove: vec![],
        },
        "adding bob, and ada who is already a member",
    )
    .await;
    let after_add = member_ids(store, &t, "g-eng").await;
    assert_eq!(
        sorted(after_add.clone()),
        ["u-ada", "u-bob", "u-carol"],
        "adding present members again does not duplicate them"
    );
    assert_eq!(
        after_add
            .iter()
            .filter(|id| *id != "u-bob")
            .collect::<Vec<_>>(),
        first.iter().map(|m| &m.id).collect::<Vec<_>>(),
        "adding a member does not reorder the members already there"
    );
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Delta {
            add: vec![],
            remove: vec!["u-carol".into(), "u-dave".into(), "u-nobody".into()],
        },
        "removing carol, and dave and an unknown id who are not members",
    )
    .await;
    assert_eq!(
        sorted(member_ids(store, &t, "g-eng").await),
        ["u-ada", "u-bob"],
        "removing absent members is not an error and removes only who was there"
    );
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Delta {
            add: vec!["u-dave".into()],
            remove: vec!["u-ada".into()],
        },
        "adding dave and removing ada in one change",
    )
    .await;
    assert_eq!(
        sorted(member_ids(store, &t, "g-eng").await),
        ["u-bob", "u-dave"],
        "one change adds and removes"
    );

    // Keep: data changes, members stay.
    let before = member_ids(store, &t, "g-eng").await;
    let mut renamed = next_version(
        &eng,
        eng.data.clone(),
        eng.last_modified + Duration::minutes(1),
    );
    renamed.data["externalId"] = json!("eng-1");
    ok(
        store
            .update(&t, &renamed, eng.version, &MembersChange::Keep)
            .await,
        "changing data only",
    );
    eng = renamed;
    assert_eq!(
        get_group(store, &t, "g-eng").await.data["externalId"],
        json!("eng-1"),
        "Keep still writes the data"
    );
    assert_eq!(
        member_ids(store, &t, "g-eng").await,
        before,
        "Keep leaves the members as they were"
    );

    // Replace.
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Replace(vec!["u-carol".into()]),
        "replacing the members",
    )
    .await;
    assert_eq!(
        member_ids(store, &t, "g-eng").await,
        ["u-carol"],
        "Replace sets exactly the given members"
    );
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Replace(vec![]),
        "emptying the group",
    )
    .await;
    assert_eq!(
        member_ids(store, &t, "g-eng").await,
        Vec::<String>::new(),
        "Replace with nothing empties the group"
    );

    // An unknown member refuses the whole change: no member, no data, no version.
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Replace(vec!["u-ada".into()]),
        "setting ada as the member",
    )
    .await;
    let settled = get_group(store, &t, "g-eng").await;
    let mut attempt = next_version(
        &eng,
        eng.data.clone(),
        eng.last_modified + Duration::minutes(1),
    );
    attempt.data["displayName"] = json!("Renamed by a refused change");
    for (members_change, what) in [
        (
            MembersChange::Delta {
                add: vec!["u-bob".into(), "u-nobody".into()],
                remove: vec!["u-ada".into()],
            },
            "a delta adding an unknown id",
        ),
        (
            MembersChange::Replace(vec!["u-bob".into(), "u-nobody".into()]),
            "a replacement with an unknown id",
        ),
    ] {
        assert_err(
            store
                .update(&t, &attempt, eng.version, &members_change)
                .await,
            "UnknownMember(\"u-nobody\")",
            what,
        );
        assert_eq!(
            get_group(store, &t, "g-eng").await,
            settled,
            "{what} is refused as a whole: members, data and version stay as they were"
        );
    }
    assert_err(
        store
            .insert(
                &t,
                &group_record("g-ghosts", "Ghosts", BASE),
                &["u-ada".into(), "u-nobody".into()],
            )
            .await,
        "UnknownMember(\"u-nobody\")",
        "inserting a group with an unknown member",
    );
    assert_eq!(
        ok(
            store.get(&t, Kind::Group, "g-ghosts", true).await,
            "reading a refused group"
        ),
        None,
        "a group refused for an unknown member is not stored"
    );
    assert_eq!(
        ok(
            store.groups_of(&t, &["u-ada".into()]).await,
            "reading ada's groups"
        )
        .len(),
        1,
        "the refused group left no membership behind"
    );
    ok(
        store
            .insert(
                &t,
                &group_record("g-ghosts", "Ghosts", BASE + Duration::hours(2)),
                &["u-ada".into()],
            )
            .await,
        "the refused group's name and id are free",
    );

    // A group can contain a group.
    change_members(
        store,
        &t,
        &mut eng,
        MembersChange::Replace(vec!["u-ada".into(), "u-bob".into()]),
        "setting ada and bob as members",
    )
    .await;
    let everyone = group_record("g-all", "Everyone", BASE + Duration::hours(3));
    ok(
        store
            .insert(&t, &everyone, &["g-eng".into(), "u-dave".into()])
            .await,
        "inserting a group holding a group and a user",
    );
    let all_members = members(store, &t, "g-all").await;
    assert!(
        all_members.contains(&Member {
            id: "g-eng".into(),
            kind: Kind::Group,
            display: Some("Engineering".into()),
        }),
        "a member group is shown as a Group with its displayName: {all_members:?}"
    );
    assert_eq!(
        all_members.len(),
        2,
        "the nested group counts as one member: {all_members:?}"
    );
    assert_members_listed_as_read(store, &t).await;

    // groups_of: the direct groups of each user asked about.
    assert_eq!(
        groups_of(store, &t, &["u-ada", "u-bob", "u-carol", "u-dave"]).await,
        [
            ["u-ada", "g-eng", "Engineering"],
            ["u-ada", "g-ghosts", "Ghosts"],
            ["u-bob", "g-eng", "Engineering"],
            ["u-dave", "g-all", "Everyone"],
        ],
        "each user's direct groups, and none for a user in no group"
    );

    // Names follow renames.
    let ada_now = get(store, &t, Kind::User, "u-ada")
        .await
        .expect("ada is there");
    let mut ada_renamed = next_version(&ada_now, ada_now.data.clone(), BASE + Duration::days(1));
    ada_renamed.data["displayName"] = json!("Countess of Lovelace");
    ok(
        store
            .update(&t, &ada_renamed, 1, &MembersChange::Keep)
            .await,
        "renaming ada",
    );
    assert!(
        members(store, &t, "g-eng").await.contains(&Member {
            id: "u-ada".into(),
            kind: Kind::User,
            display: Some("Countess of Lovelace".into()),
        }),
        "a member's shown name follows the user's new displayName"
    );
    let mut eng_renamed = next_version(&eng, group_data("Engineers"), BASE + Duration::days(1));
    eng_renamed.data["externalId"] = json!("eng-1");
    ok(
        store
            .update(&t, &eng_renamed, eng.version, &MembersChange::Keep)
            .await,
        "renaming the group",
    );
    assert_eq!(
        groups_of(store, &t, &["u-bob"]).await,
        [["u-bob", "g-eng", "Engineers"]],
        "a user's groups show the group's new displayName"
    );
    assert!(
        members(store, &t, "g-all").await.contains(&Member {
            id: "g-eng".into(),
            kind: Kind::Group,
            display: Some("Engineers".into()),
        }),
        "a member group's shown name follows its new displayName"
    );

    // Deleting a user takes it out of every group; deleting a group out of its parents.
    ok(
        store.delete(&t, Kind::User, "u-ada", None).await,
        "deleting ada",
    );
    assert_eq!(
        member_ids(store, &t, "g-eng").await,
        ["u-bob"],
        "a deleted user leaves its groups"
    );
    assert_eq!(
        member_ids(store, &t, "g-ghosts").await,
        Vec::<String>::new(),
        "a deleted user leaves every group it was in"
    );
    assert!(
        groups_of(store, &t, &["u-ada"]).await.is_empty(),
        "a deleted user is in no group"
    );
    ok(
        store.delete(&t, Kind::Group, "g-eng", None).await,
        "deleting the nested group",
    );
    assert_eq!(
        member_ids(store, &t, "g-all").await,
        ["u-dave"],
        "a deleted group leaves its parent group"
    );
    assert!(
        groups_of(store, &t, &["u-bob"]).await.is_empty(),
        "the members of a deleted group are in no group"
    );
    assert_members_listed_as_read(store, &t).await;
}

/// Listing: creation order by default (kept across updates), paging with the full total,
/// `limit` 0 for the total alone, sorting by userName either way without regard to case, and
/// members only when asked for.
pub async fn listing(store: &dyn Store) {
    let t = new_tenant(store, "t-list").await;
    let names = ["carol", "Bob", "alice", "Dave", "eve", "frank", "Grace"];
    let ids: Vec<String> = (0..names.len()).map(|i| format!("u{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        let created = BASE + Duration::minutes(i64::try_from(i).unwrap_or(0));
        ok(
            store
                .insert(&t, &user_record(&ids[i], name, created), &[])
                .await,
            "inserting a user",
        );
    }
    let g1 = group_record("g1", "Readers", BASE + Duration::hours(1));
    let g2 = group_record("g2", "Writers", BASE + Duration::hours(2));
    ok(
        store.insert(&t, &g1, &["u1".into(), "u0".into()]).await,
        "inserting a group",
    );
    ok(store.insert(&t, &g2, &[]).await, "inserting an empty group");

    let page = list(store, &t, Kind::User, None, 0, EVERYTHING).await;
    assert_eq!(page.total, 7, "every user is counted, no group");
    assert_eq!(ids_of(&page), ids, "users are listed in creation order");
    assert!(
        page.resources
            .iter()
            .all(|r| r.kind == Kind::User && r.members.is_none()),
        "a user list holds users, without members"
    );

    for (offset, limit, expected) in [
        (0, 3, &ids[0..3]),
        (3, 3, &ids[3..6]),
        (6, 3, &ids[6..7]),
        (7, 3, &ids[7..7]),
        (100, 3, &ids[7..7]),
        (u64::MAX, 3, &ids[7..7]),
        (2, u64::MAX, &ids[2..7]),
        (0, 0, &ids[0..0]),
        (5, 0, &ids[0..0]),
    ] {
        let page = list(store, &t, Kind::User, None, offset, limit).await;
        assert_eq!(
            (page.total, ids_of(&page)),
            (7, expected.to_vec()),
            "offset {offset}, limit {limit}: the page and the total of all matches"
        );
    }

    let by_name = |order| ListQuery {
        filter: None,
        sort: Some(SortBy {
            path: AttrPath::simple("userName"),
            order,
        }),
        offset: 0,
        limit: EVERYTHING,
        with_relations: false,
        max_bytes: usize::MAX,
    };
    let alphabetical = ["u2", "u1", "u0", "u3", "u4", "u5", "u6"];
    let page = list_query(store, &t, Kind::User, &by_name(SortOrder::Ascending)).await;
    assert_eq!(
        ids_of(&page),
        alphabetical,
        "sorted by userName ascending, without regard to case (alice, Bob, carol, Dave, ...)"
    );
    let page = list_query(store, &t, Kind::User, &by_name(SortOrder::Descending)).await;
    let mut reversed = alphabetical.to_vec();
    reversed.reverse();
    assert_eq!(ids_of(&page), reversed, "sorted by userName descending");
    let mut paged = by_name(SortOrder::Ascending);
    paged.offset = 2;
    paged.limit = 2;
    let page = list_query(store, &t, Kind::User, &paged).await;
    assert_eq!(
        (page.total, ids_of(&page)),
        (7, vec!["u0".to_owned(), "u3".to_owned()]),
        "a sorted page is a slice of the sorted list"
    );

    // An update keeps a resource's place; a delete closes the gap.
    let carol = get(store, &t, Kind::User, "u0")
        .await
        .expect("carol is there");
    let carol2 = next_version(
        &carol,
        user_data("carol.2@contoso.com"),
        BASE + Duration::days(9),
    );
    ok(
        store.update(&t, &carol2, 1, &MembersChange::Keep).await,
        "updating the first user",
    );
    ok(
        store.delete(&t, Kind::User, "u3", None).await,
        "deleting a user",
    );
    let page = list(store, &t, Kind::User, None, 0, EVERYTHING).await;
    assert_eq!(
        (page.total, ids_of(&page)),
        (
            6,
            vec!["u0", "u1", "u2", "u4", "u5", "u6"]
                .into_iter()
                .map(String::from)
                .collect()
        ),
        "an updated user keeps its place in creation order, a deleted one is gone"
    );

    // Groups, with and without members.
    let mut query = ListQuery {
        filter: None,
        sort: None,
        offset: 0,
        limit: EVERYTHING,
        with_relations: false,
        max_bytes: usize::MAX,
    };
    let page = list_query(store, &t, Kind::Group, &query).await;
    assert_eq!(
        (page.total, ids_of(&page)),
        (2, vec!["g1".into(), "g2".into()]),
        "groups in creation order"
    );
    assert!(
        page.resources.iter().all(|r| r.members.is_none()),
        "groups listed without members have members: None"
    );
    query.with_relations = true;
    let page = list_query(store, &t, Kind::Group, &query).await;
    assert_eq!(
        page.resources
            .iter()
            .map(|r| r
                .members
                .as_ref()
                .map(|m| sorted(m.iter().map(|m| m.id.clone()))))
            .collect::<Vec<_>>(),
        vec![Some(vec!["u0".to_owned(), "u1".to_owned()]), Some(vec![])],
        "groups listed with members carry them, an empty group an empty list"
    );
    query.limit = 0;
    let page = list_query(store, &t, Kind::Group, &query).await;
    assert_eq!(
        (page.total, page.resources.len()),
        (2, 0),
        "limit 0 gives the total alone"
    );
    assert_members_listed_as_read(store, &t).await;
    page_budget(store, &t).await;
}

/// A page ends where its byte budget is spent, holds at least one resource, and still tells
/// the total of all matches; on every path (creation order, a sort, an exact filter, a filter
/// decided in memory).
async fn page_budget(store: &dyn Store, t: &TenantId) {
    let all = list(store, t, Kind::User, None, 0, EVERYTHING).await;
    let one = roster_scim::limits::json_len(&all.resources[0].data);
    let filters = [
        None,
        Some(Filter::parse("userName pr").expect("a filter")),
        // Not translatable to SQL: decided in memory.
        Some(Filter::parse("name.givenName pr or userName pr").expect("a filter")),
    ];
    let by_name = SortBy {
        path: AttrPath::simple("userName"),
        order: SortOrder::Ascending,
    };
    for filter in filters {
        for sort in [None, Some(by_name.clone())] {
            let mut query = ListQuery {
                filter: filter.clone(),
                sort: sort.clone(),
                offset: 1,
                limit: EVERYTHING,
                with_relations: false,
                max_bytes: usize::MAX,
            };
            let whole = list_query(store, t, Kind::User, &query).await;
            let sizes: Vec<usize> = whole
                .resources
                .iter()
                .map(|r| roster_scim::limits::json_len(&r.data))
                .collect();
            for budget in [1, one, one * 2, one * 3, usize::MAX] {
                query.max_bytes = budget;
                let page = list_query(store, t, Kind::User, &query).await;
                let n = page.resources.len();
                let context = format!(
                    "a budget of {budget} bytes, filter {filter:?}, sort {sort:?}, sizes {sizes:?}"
                );
                assert_eq!(page.total, all.total, "the total is all matches: {context}");
                assert_eq!(
                    ids_of(&page),
                    ids_of(&whole)[..n].to_vec(),
                    "a cut page is the start of the whole one: {context}"
                );
                assert!(n >= 1, "a page holds at least one resource: {context}");
                assert!(
                    sizes[..n - 1].iter().sum::<usize>() < budget,
                    "nothing is read past the budget: {context}"
                );
                assert!(
                    n == sizes.len() || sizes[..n].iter().sum::<usize>() >= budget,
                    "a page is cut only when its budget is spent: {context}"
                );
            }
        }
    }
    let query = ListQuery {
        filter: None,
        sort: None,
        offset: 0,
        limit: EVERYTHING,
        with_relations: true,
        max_bytes: 1,
    };
    let page = list_query(store, t, Kind::Group, &query).await;
    assert_eq!(
        (page.total, page.resources.len()),
        (2, 1),
        "a group with its members spends a budget too"
    );
}

/// The key test: for a seeded directory (see [`FilterFixture`]), a table of filters over every
/// operator on the indexed attributes, non-indexed ones, and mixes of both, each listed five
/// ways (everything, a page, the total alone, and two sorts): the backend must return what the
/// protocol crate's evaluator selects, in the same order, with the same total.
pub async fn filters_agree_with_evaluator(store: &dyn Store) {
    let fixture = FilterFixture::seed(store).await;
    let mut failures = Vec::new();
    let mut cases = 0;
    for (kind, table, sorts) in [
        (Kind::User, USER_FILTERS, user_sorts()),
        (Kind::Group, GROUP_FILTERS, group_sorts()),
    ] {
        let all = fixture.resources(kind).len() as u64;
        let mut selective = 0;
        for (i, text) in table.iter().enumerate() {
            let text = expand_ids(text);
            let filter = match Filter::parse(&text) {
                Ok(f) => f,
                Err(e) => {
                    failures.push(format!("{kind:?} filter {text}: does not parse: {e}"));
                    continue;
                }
            };
            for shape in table_shapes(i, &sorts) {
                cases += 1;
                match fixture.check(store, kind, &filter, &shape).await {
                    Ok(total) if shape.limit > 0 && shape.sort.is_none() && shape.offset == 0 => {
                        if total > 0 && total < all {
                            selective += 1;
                        }
                    }
                    Ok(_) => {}
                    Err(e) => failures.push(format!("{kind:?} filter {text} ({shape}):\n    {e}")),
                }
            }
        }
        // A table whose filters select nothing, or everything, would agree with any backend.
        if selective * 3 < table.len() * 2 {
            failures.push(format!(
                "the {kind:?} table is too weak: only {selective} of {} filters select some but not all \
                 resources, by the evaluator",
                table.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} filtered lists disagree with the evaluator:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// The filter fixture
// ---------------------------------------------------------------------------------------------

/// The users of the filter fixture, one a line:
/// `userName | externalId | active | givenName/familyName | displayName | title |
/// emails (type:value, the first primary) | department | employeeNumber`, `-` for absent.
/// Names vary in case, script and punctuation (`%` and `_` are LIKE wildcards in SQL), and the
/// last four are spelt with full-width letters, ligatures, a combining diaeresis (NFD) and a
/// no-break space, which fold to the same keys as their plain spellings.
const USERS: &str = "
ada.lovelace@contoso.com | EXT-0001 | true | Ada/Lovelace | Ada Lovelace | Engineer | work:ada.lovelace@contoso.com home:ada@analytical.example | Research | 1001
Alan.Turing@Contoso.com | EXT-0002 | true | Alan/Turing | - | Cryptanalyst | work:alan.turing@contoso.com | Research | 1002
GRACE.HOPPER@CONTOSO.COM | ext-0003 | false | Grace/Hopper | Grace Hopper | Rear Admiral | work:Grace.Hopper@Contoso.com other:grace@navy.example | Engineering | 1003
linus | - | - | Linus/Torvalds | - | - | - | - | -
margaret.hamilton@contoso.com | EXT-0005 | true | Margaret/Hamilton | Margaret Hamilton | Engineer | work:margaret.hamilton@contoso.com | Engineering | 1005
katherine_johnson | EXT-0006 | true | Katherine/Johnson | - | Mathematician | home:kj@example.org | Research | 1006
dennis.ritchie@contoso.com | EXT-0007 | false | Dennis/Ritchie | dmr | - | work:dmr@contoso.com | Engineering | 1007
Ken.Thompson@contoso.com | - | true | Ken/Thompson | - | Engineer | work:ken@contoso.com home:ken@home.example | Engineering | 1008
barbara.liskov@fabrikam.com | FAB-1 | true | Barbara/Liskov | Barbara Liskov | Professor | work:barbara.liskov@fabrikam.com | - | -
edsger@fabrikam.com | FAB-2 | - | Edsger/Dijkstra | - | - | work:edsger@fabrikam.com | - | -
john.mccarthy | EXT-0011 | true | John/McCarthy | - | - | - | Research | 1011
frances.allen@contoso.com | EXT-0012 | true | Frances/Allen | Fran Allen | Fellow | work:frances.allen@contoso.com | Research | 0012
tony.hoare@contoso.com | ext-0013 | true | Tony/Hoare | - | Professor | work:tony.hoare@contoso.com | Research | 1013
donald.knuth@stanford.example | - | true | Donald/Knuth | Don Knuth | Professor | home:knuth@stanford.example | - | -
BJARNE | EXT-0015 | false | Bjarne/Stroustrup | - | Engineer | work:bjarne@contoso.com | Engineering | 1015
guido@contoso.com | EXT-0016 | true | Guido/van Rossum | Guido van Rossum | BDFL | work:guido@contoso.com home:guido@python.example | Engineering | 1016
james.gosling@contoso.com | EXT-0017 | true | James/Gosling | - | - | work:james.gosling@contoso.com | Engineering | 1017
anders@fabrikam.com | FAB-3 | true | Anders/Hejlsberg | - | Architect | work:anders@fabrikam.com | Engineering | 2001
rob.pike@contoso.com | EXT-0019 | - | Rob/Pike | - | - | work:rob.pike@contoso.com | Engineering | 1019
radia.perlman@contoso.com | EXT-0020 | true | Radia/Perlman | Radia Perlman | Engineer | work:radia.perlman@contoso.com | Networking | 1020
vint.cerf@contoso.com | EXT-0021 | true | Vint/Cerf | - | Evangelist | work:vint.cerf@contoso.com | Networking | 1021
bob.kahn@contoso.com | EXT-0022 | false | Bob/Kahn | - | - | work:bob.kahn@contoso.com | Networking | 1022
tim.berners-lee@contoso.com | EXT-0023 | true | Tim/Berners-Lee | TimBL | Director | work:tim.berners-lee@contoso.com | Networking | 1023
zoë.ødegaard@contoso.com | EXT-0024 | true | Zoë/Ødegaard | Zoë Ødegaard | Engineer | work:zoe.odegaard@contoso.com | Research | 1024
JOSÉ.GARCÍA@CONTOSO.COM | EXT-0025 | true | José/García | - | - | work:jose.garcia@contoso.com | Sales | 1025
ΟΔΥΣΣΕΥΣ@olympus.example | EXT-0026 | true | Οδυσσεύς/- | - | Navigator | - | Sales | 1026
sales.bot | svc-sales | false | - | Sales Bot | - | - | Sales | -
100%_match | EXT-0028 | true | Percent/Underscore | - | - | work:100%_match@contoso.com | - | -
hedy.lamarr@contoso.com | EXT-0029 | true | Hedy/Lamarr | - | Inventor | work:hedy.lamarr@contoso.com | Research | 1029
annie.easley@contoso.com | EXT-0030 | - | Annie/Easley | - | - | work:annie.easley@contoso.com | Research | 1030
claude.shannon@contoso.com | EXT-0031 | true | Claude/Shannon | - | Engineer | work:claude.shannon@contoso.com home:claude@juggling.example | Research | 1031
Ivan.Sutherland@Fabrikam.com | FAB-4 | true | Ivan/Sutherland | - | - | work:ivan.sutherland@fabrikam.com | - | 3001
lynn.conway@contoso.com | EXT-0033 | true | Lynn/Conway | Lynn Conway | Engineer | work:lynn.conway@contoso.com | Engineering | 1033
ward.cunningham | - | false | Ward/Cunningham | - | - | home:ward@c2.example | - | -
sophie.wilson@contoso.com | EXT-0035 | true | Sophie/Wilson | - | Architect | work:sophie.wilson@contoso.com | Engineering | 1035
mary.kenneth.keller@contoso.com | EXT-0036 | true | Mary Kenneth/Keller | - | - | work:mary.keller@contoso.com | Research | 1036
joan.clarke@contoso.com | EXT-0037 | false | Joan/Clarke | - | Cryptanalyst | work:joan.clarke@contoso.com | Research | 1037
Niklaus.Wirth@contoso.com | EXT-0038 | true | Niklaus/Wirth | - | Professor | work:niklaus.wirth@contoso.com | Engineering | 1038
adele.goldberg@contoso.com | EXT-0039 | true | Adele/Goldberg | Adele Goldberg | - | work:adele.goldberg@contoso.com | Engineering | 1039
xavier | EXT-0040 | - | - | - | - | - | - | -
\u{ff26}\u{ff55}\u{ff4c}\u{ff4c}.\u{ff37}\u{ff49}\u{ff44}\u{ff54}\u{ff48}@contoso.com | EXT-0041 | true | Full/Width | - | - | work:\u{ff46}\u{ff55}\u{ff4c}\u{ff4c}@contoso.com | - | -
\u{fb01}ona.\u{fb02}ynn@contoso.com | EXT-0042 | true | Fiona/Flynn | - | - | work:\u{fb01}ona@contoso.com | - | -
noe\u{308}l.nfd@contoso.com | EXT-0043 | true | Noe\u{308}l/- | - | - | work:noe\u{308}l@contoso.com | - | -
nora\u{a0}nobreak | EXT-0044 | true | Nora/- | - | - | - | - | -
";

/// The groups of the filter fixture: `displayName | externalId | members`, where `u7` is the
/// user on line 7 of [`USERS`] (from 0) and `g0` the group on line 0 of this table.
const GROUPS: &str = "
Engineering | grp-eng | u2 u4 u6 u7 u14 u15 u16 u17 u18 u32 u34 u37
Research | grp-res | u0 u1 u5 u10 u11 u12 u23 u28 u29 u30 u35 u36
Networking | GRP-NET | u19 u20 u21 u22
all-staff | - | g0 g1 g2 u26
Empty Group | - | -
Ωmega team | grp-omega | u25 u23
sales | grp-sales | u24 u25 u26
Admins | - | u0 g4 u3
Re\u{301}seau \u{ff26}\u{ff32} | grp-fr | u41 u43
";

/// Filters over users. `{u7}` stands for the id of user 7, `{g3}` for that of group 3.
///
/// Creation times: user `i` was created at 2024-01-01 plus `i / 2` days (so pairs share an
/// instant), plus half a second when `i % 5 == 4`. Users with `i % 3 == 0` were written under
/// a placeholder and updated to their data at 2024-02-10 plus `i` hours (version 2).
const USER_FILTERS: &[&str] = &[
    // id: indexed, case-exact.
    r#"id eq "{u7}""#,
    r#"id ne "{u7}""#,
    r#"id co "-4000-8000-""#,
    r#"id co "-4000-9000-""#,
    r#"id co "-4000-8000-00000000001""#,
    r#"id sw "a""#,
    r#"id sw "A""#,
    r#"id ew "00000000000b""#,
    r#"id gt "c""#,
    r#"id le "3c6ef362-0000-4000-8000-000000000001""#,
    r#"id pr"#,
    // userName: indexed, case-insensitive.
    r#"userName eq "ada.lovelace@contoso.com""#,
    r#"userName eq "ADA.LOVELACE@CONTOSO.COM""#,
    r#"USERNAME eq "grace.hopper@contoso.com""#,
    r#"userName ne "linus""#,
    r#"userName co "contoso""#,
    r#"userName co "CONTOSO.COM""#,
    r#"userName sw "a""#,
    r#"userName sw "J""#,
    r#"userName ew "@FABRIKAM.COM""#,
    r#"userName gt "m""#,
    r#"userName ge "Margaret.Hamilton@contoso.com""#,
    r#"userName lt "B""#,
    r#"userName le "bjarne""#,
    r#"userName pr"#,
    r#"userName co "%""#,
    r#"userName co "_""#,
    r#"userName sw "100%_""#,
    r#"userName co "Ø""#,
    r#"userName eq "josé.garcía@contoso.com""#,
    r#"userName eq "ΟΔΥΣΣΕΥΣ@olympus.example""#,
    r#"userName co "Σ@""#,
    // Look-alike spellings: NFD against NFC, full-width, ligatures, the no-break space.
    "userName eq \"JOSE\u{301}.GARCI\u{301}A@contoso.com\"",
    r#"userName eq "full.width@CONTOSO.COM""#,
    "userName sw \"\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}\"",
    r#"userName eq "fiona.flynn@contoso.com""#,
    "userName co \"\u{fb02}ynn\"",
    r#"userName eq "noël.nfd@contoso.com""#,
    "userName ew \"E\u{308}L.NFD@CONTOSO.COM\"",
    r#"userName eq "nora nobreak""#,
    "userName eq \"nora\u{a0}nobreak\"",
    "userName gt \"\u{ff4e}\"",
    "emails.value eq \"\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}@contoso.com\"",
    r#"emails[value sw "fiona@"]"#,
    "emails.value co \"e\u{308}l@\"",
    // externalId: indexed, case-exact.
    r#"externalId eq "EXT-0001""#,
    r#"externalId eq "ext-0001""#,
    r#"externalId ne "EXT-0001""#,
    r#"externalId sw "EXT""#,
    r#"externalId sw "ext""#,
    r#"externalId co "-00""#,
    r#"externalId ew "3""#,
    r#"externalId gt "FAB""#,
    r#"externalId lt "EXT-0010""#,
    r#"externalId pr"#,
    r#"not (externalId pr)"#,
    // emails: indexed values, case-insensitive; types are not indexed.
    r#"emails.value eq "ada@analytical.example""#,
    r#"emails.value eq "GRACE.HOPPER@CONTOSO.COM""#,
    r#"emails co "fabrikam""#,
    r#"emails.value sw "ken@""#,
    r#"emails.value ew ".example""#,
    r#"emails.value gt "t""#,
    r#"emails.value le "b""#,
    r#"emails.value pr"#,
    r#"emails pr"#,
    r#"emails.value ne "ken@contoso.com""#,
    r#"emails[value eq "dmr@contoso.com"]"#,
    r#"emails[value co "%_"]"#,
    r#"emails[type eq "work" and value co "contoso"]"#,
    r#"emails[type eq "home"]"#,
    r#"emails.type eq "other""#,
    r#"emails[primary eq true and value ew "fabrikam.com"]"#,
    r#"not (emails.value co "contoso")"#,
    // active: indexed boolean, sometimes absent.
    r#"active eq true"#,
    r#"active eq false"#,
    r#"active ne true"#,
    r#"active ne false"#,
    r#"active pr"#,
    r#"not (active pr)"#,
    r#"not (active eq true)"#,
    r#"active gt false"#,
    // meta: indexed instants.
    r#"meta.created eq "2024-01-03T00:00:00Z""#,
    r#"meta.created ne "2024-01-03T00:00:00Z""#,
    r#"meta.created gt "2024-01-05T00:00:00Z""#,
    r#"meta.created ge "2024-01-05T00:00:00Z""#,
    r#"meta.created lt "2024-01-05T00:00:00.5Z""#,
    r#"meta.created le "2024-01-05T00:00:00.5Z""#,
    r#"meta.created lt "2024-01-05T02:00:00+02:00""#,
    r#"meta.created gt "2024-01-10T12:00:00""#,
    r#"meta.created le "2024-01-03T00:00:00.000000000Z""#,
    r#"meta.lastModified gt "2024-02-01T00:00:00Z""#,
    r#"meta.lastModified ge "2024-02-11T09:00:00Z""#,
    r#"meta.lastModified lt "2024-01-10T00:00:00Z""#,
    r#"meta.lastModified le "2024-02-10T00:00:00Z""#,
    r#"meta.created co "2024-01-0""#,
    r#"meta.created gt "not a date""#,
    // Not indexed: evaluated in memory.
    r#"name.givenName eq "ada""#,
    r#"name.givenName sw "J""#,
    r#"name.familyName co "van""#,
    r#"name pr"#,
    r#"title pr"#,
    r#"not (title pr)"#,
    r#"title eq "engineer""#,
    r#"displayName co "a""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "Research""#,
    r#"department eq "networking""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber gt "1020""#,
    r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber pr"#,
    r#"meta.version eq "W/\"2\"""#,
    r#"meta.resourceType eq "User""#,
    r#"nickName pr"#,
    // Indexed and not, mixed.
    r#"userName sw "a" and title pr"#,
    r#"userName co "contoso" and not (title pr)"#,
    r#"active eq true and department eq "Research""#,
    r#"active eq false or title eq "Professor""#,
    r#"externalId pr and name.givenName sw "B""#,
    r#"not (userName co "contoso" or department pr)"#,
    r#"(active eq true or externalId sw "FAB") and meta.created lt "2024-01-12T00:00:00Z""#,
    r#"emails[type eq "work" and value co "contoso"] and not (active eq false)"#,
    r#"userName sw "a" or userName sw "b" or userName sw "z""#,
    r#"not (not (active eq true))"#,
    r#"not (active eq true and title pr)"#,
    r#"(userName ew ".com" and active eq true) or (title pr and not (emails pr))"#,
    r#"id eq "{u3}" or id eq "{u27}" or userName eq "linus""#,
    r#"emails.value co "contoso" and emails.value co "example""#,
    r#"meta.lastModified gt "2024-02-01T00:00:00Z" and not (externalId sw "EXT")"#,
    r#"title eq "Engineer" and (emails.value ew "contoso.com" or meta.created gt "2024-01-15T00:00:00Z")"#,
];

/// Filters over groups; see [`USER_FILTERS`] for `{u7}`. Group `j` was created at 2024-02-01
/// plus `j` hours; groups 0 and 2 got their final members by an update at 2024-02-20 plus `j`
/// hours.
const GROUP_FILTERS: &[&str] = &[
    r#"displayName eq "engineering""#,
    r#"displayName eq "ΩMEGA TEAM""#,
    r#"displayName sw "e""#,
    r#"displayName co "TEAM""#,
    r#"displayName ew "S""#,
    r#"displayName gt "m""#,
    r#"displayName le "Empty Group""#,
    r#"displayName ne "sales""#,
    r#"displayName pr"#,
    r#"displayName eq "RÉSEAU FR""#,
    "displayName sw \"r\u{e9}s\"",
    "displayName ew \"\u{ff46}\u{ff52}\"",
    r#"externalId eq "grp-eng""#,
    r#"externalId sw "grp""#,
    r#"externalId co "NET""#,
    r#"externalId pr"#,
    r#"not (externalId pr)"#,
    r#"id eq "{g3}""#,
    r#"id ne "{g3}""#,
    r#"members[value eq "{u25}"]"#,
    r#"members.value eq "{u0}""#,
    r#"members eq "{g4}""#,
    r#"members[value eq "{g0}"]"#,
    r#"members pr"#,
    r#"not (members pr)"#,
    r#"members[type eq "Group"]"#,
    r#"members.type eq "User""#,
    r#"members.display co "hopper""#,
    r#"members[display sw "Ada" or value eq "{u24}"]"#,
    r#"members.value ne "{u0}""#,
    r#"members[value eq "{u26}"] or members[value eq "{u0}"]"#,
    r#"members.value eq "{u0}" and displayName sw "a""#,
    r#"not (members.value eq "{u0}")"#,
    r#"meta.created ge "2024-02-01T03:00:00Z""#,
    r#"meta.created lt "2024-02-01T02:00:00+01:00""#,
    r#"meta.lastModified gt "2024-02-10T00:00:00Z""#,
    r#"meta.lastModified le "2024-02-01T05:00:00Z""#,
    r#"displayName co "e" and not (members pr)"#,
    r#"externalId sw "grp" or members[type eq "Group"]"#,
];

/// The sorts the table tries, in turn, on the user filters.
fn user_sorts() -> Vec<SortBy> {
    sorts(&[
        ("userName", SortOrder::Ascending),
        ("userName", SortOrder::Descending),
        ("meta.created", SortOrder::Ascending),
        ("meta.created", SortOrder::Descending),
        ("externalId", SortOrder::Ascending),
        ("externalId", SortOrder::Descending),
        ("id", SortOrder::Ascending),
        ("active", SortOrder::Ascending),
        ("name.givenName", SortOrder::Descending),
        ("title", SortOrder::Ascending),
        ("emails", SortOrder::Ascending),
        ("meta.lastModified", SortOrder::Descending),
        ("department", SortOrder::Ascending),
    ])
}

/// The sorts the table tries, in turn, on the group filters.
fn group_sorts() -> Vec<SortBy> {
    sorts(&[
        ("displayName", SortOrder::Ascending),
        ("displayName", SortOrder::Descending),
        ("meta.created", SortOrder::Descending),
        ("externalId", SortOrder::Ascending),
        ("id", SortOrder::Ascending),
        ("meta.lastModified", SortOrder::Descending),
    ])
}

fn sorts(list: &[(&str, SortOrder)]) -> Vec<SortBy> {
    list.iter()
        .map(|(path, order)| SortBy {
            path: attr_path(path),
            order: *order,
        })
        .collect()
}

/// The five ways the table lists each filter.
fn table_shapes(i: usize, sorts: &[SortBy]) -> [QueryShape; 5] {
    let sort = |k: usize| Some(sorts[(i + k) % sorts.len()].clone());
    [
        QueryShape::new(None, 0, EVERYTHING, true),
        QueryShape::new(None, 2, 3, false),
        QueryShape::new(None, 0, 0, false),
        QueryShape::new(sort(0), 0, EVERYTHING, false),
        QueryShape::new(sort(1), 1, 4, true),
    ]
}

/// The id of user `i` of the filter fixture. Ids look like UUIDs whose order is not creation
/// order, so that sorting by id or creation cannot pass by accident.
pub fn user_id(i: usize) -> String {
    format!("{:08x}-0000-4000-8000-{i:012x}", scramble(i))
}

/// The id of group `j` of the filter fixture.
pub fn group_id(j: usize) -> String {
    format!("{:08x}-0000-4000-9000-{j:012x}", scramble(j + 100))
}

fn scramble(i: usize) -> u32 {
    // Fibonacci hashing: consecutive numbers land far apart.
    u32::try_from(i + 1)
        .unwrap_or(u32::MAX)
        .wrapping_mul(0x9E37_79B1)
}

/// Replaces `{u7}` and `{g3}` in a filter of the table by fixture ids.
fn expand_ids(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = open + rest[open..].find('}').expect("a placeholder closes with }");
        let key = &rest[open + 1..close];
        let n: usize = key[1..].parse().expect("a placeholder is u<n> or g<n>");
        out.push_str(&match &key[..1] {
            "u" => user_id(n),
            "g" => group_id(n),
            other => panic!("unknown placeholder kind {other} in {text}"),
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// How a filtered list is asked for, besides the filter.
#[derive(Clone)]
pub struct QueryShape {
    /// The sort, if any.
    pub sort: Option<SortBy>,
    /// How many matches to skip.
    pub offset: u64,
    /// How many to return at most.
    pub limit: u64,
    /// Whether group members are asked for.
    pub with_relations: bool,
}

impl QueryShape {
    /// A shape from its parts.
    pub fn new(sort: Option<SortBy>, offset: u64, limit: u64, with_relations: bool) -> Self {
        QueryShape {
            sort,
            offset,
            limit,
            with_relations,
        }
    }
}

/// As [`fmt::Display`]: property tests print failing inputs with `Debug`.
impl fmt::Debug for QueryShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for QueryShape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sort {
            Some(s) => write!(f, "sorted by {} {}", s.path, s.order.as_str())?,
            None => f.write_str("unsorted")?,
        }
        write!(f, ", offset {}, limit {}", self.offset, self.limit)?;
        if self.with_relations {
            f.write_str(", with members")?;
        }
        Ok(())
    }
}

/// A seeded directory for filter tests: 44 users and 9 groups (see the `USERS` and `GROUPS`
/// tables in this module's source) in one tenant, and look-alikes in a tenant next door that
/// no list may return. [`FilterFixture::check`] compares a backend's list with the evaluator.
#[derive(Debug, Clone)]
pub struct FilterFixture {
    /// The tenant holding the data.
    pub tenant: TenantId,
    users: Vec<StoredResource>,
    groups: Vec<StoredResource>,
    user_schema: Arc<ResourceSchema>,
    group_schema: Arc<ResourceSchema>,
}

impl FilterFixture {
    /// Seeds an empty store and reads every resource back (one `get` each, not through `list`,
    /// which is what gets checked), asserting that each reads back as written.
    pub async fn seed(store: &dyn Store) -> FilterFixture {
        let registry = Registry::core();
        let tenant = new_tenant(store, "t-filters").await;
        let next_door = new_tenant(store, "t-next-door").await;

        let user_rows: Vec<Value> = rows(USERS).map(user_row).collect();
        for (i, data) in user_rows.iter().enumerate() {
            let hours = i64::try_from(i).unwrap_or(0);
            let mut created = BASE + Duration::days(hours / 2);
            if i % 5 == 4 {
                created += Duration::milliseconds(500);
            }
            if i % 3 == 0 {
                // Written under a placeholder first, so that what the filters see of these
                // users went through `update`, which must index the new data as insert does.
                let first = resource(
                    Kind::User,
                    &user_id(i),
                    json!({"schemas": [USER_SCHEMA], "userName": format!("pending-{i}"), "active": true}),
                    created,
                );
                ok(store.insert(&tenant, &first, &[]).await, "seeding a user");
                let modified = datetime!(2024-02-10 0:00 UTC) + Duration::hours(hours);
                let second = next_version(&first, data.clone(), modified);
                ok(
                    store
                        .update(&tenant, &second, 1, &MembersChange::Keep)
                        .await,
                    "seeding a user's final data",
                );
            } else {
                let r = resource(Kind::User, &user_id(i), data.clone(), created);
                ok(store.insert(&tenant, &r, &[]).await, "seeding a user");
            }
        }

        let group_rows: Vec<(Value, Vec<String>)> = rows(GROUPS).map(group_row).collect();
        for (j, (data, members)) in group_rows.iter().enumerate() {
            let hours = i64::try_from(j).unwrap_or(0);
            let created = datetime!(2024-02-01 0:00 UTC) + Duration::hours(hours);
            let modified = datetime!(2024-02-20 0:00 UTC) + Duration::hours(hours);
            let r = resource(Kind::Group, &group_id(j), data.clone(), created);
            match j {
                // Members arrive in two steps, by delta.
                0 => {
                    let (early, late) = members.split_at(members.len() / 2);
                    ok(
                        store.insert(&tenant, &r, &refs(early)).await,
                        "seeding a group",
                    );
                    let change = MembersChange::Delta {
                        add: refs(late),
                        remove: vec![],
                    };
                    let next = next_version(&r, data.clone(), modified);
                    ok(
                        store.update(&tenant, &next, 1, &change).await,
                        "seeding a group's members",
                    );
                }
                // Members replaced wholesale.
                2 => {
                    let wrong = [user_id(0), user_id(1)];
                    ok(
                        store.insert(&tenant, &r, &refs(&wrong)).await,
                        "seeding a group",
                    );
                    let change = MembersChange::Replace(refs(members));
                    let next = next_version(&r, data.clone(), modified);
                    ok(
                        store.update(&tenant, &next, 1, &change).await,
                        "seeding a group's members",
                    );
                }
                _ => ok(
                    store.insert(&tenant, &r, &refs(members)).await,
                    "seeding a group",
                ),
            }
        }

        // Next door: the same names, other ids. Any of them in a list is a leak.
        for (i, data) in user_rows.iter().take(6).enumerate() {
            let r = resource(Kind::User, &format!("next-door-{i}"), data.clone(), BASE);
            ok(
                store.insert(&next_door, &r, &[]).await,
                "seeding the tenant next door",
            );
        }
        let (eng, _) = &group_rows[0];
        let r = resource(Kind::Group, "next-door-group", eng.clone(), BASE);
        let members = ["next-door-0".to_owned(), "next-door-2".to_owned()];
        ok(
            store.insert(&next_door, &r, &refs(&members)).await,
            "seeding the tenant next door",
        );

        let mut users = Vec::new();
        for (i, data) in user_rows.iter().enumerate() {
            // Read with relations: a user's groups come with it when a list asks for them.
            let r = ok(
                store.get(&tenant, Kind::User, &user_id(i), true).await,
                "reading a seeded user",
            );
            let r = r.unwrap_or_else(|| panic!("seeded user {i} is not found"));
            assert_eq!(&r.data, data, "seeded user {i} reads back as written");
            users.push(r);
        }
        let mut groups = Vec::new();
        for (j, (data, members)) in group_rows.iter().enumerate() {
            let r = get_group(store, &tenant, &group_id(j)).await;
            assert_eq!(&r.data, data, "seeded group {j} reads back as written");
            let got = r.members.iter().flatten().map(|m| m.id.clone());
            assert_eq!(
                sorted(got),
                sorted(members.iter().cloned()),
                "seeded group {j} has the members it was given"
            );
            groups.push(r);
        }
        FilterFixture {
            tenant,
            users,
            groups,
            user_schema: registry.user().clone(),
            group_schema: registry.group().clone(),
        }
    }

    fn resources(&self, kind: Kind) -> &[StoredResource] {
        match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        }
    }

    /// The resource type schema of a kind.
    pub fn schema(&self, kind: Kind) -> &ResourceSchema {
        match kind {
            Kind::User => &self.user_schema,
            Kind::Group => &self.group_schema,
        }
    }

    /// Lists `kind` through the backend with `filter` and `shape`, and compares the page with
    /// what the evaluator selects among the seeded resources (in creation order, then stably
    /// sorted by the protocol crate's comparator, then paged). Returns the total on agreement,
    /// and on disagreement what differs, naming resources by userName or displayName.
    pub async fn check(
        &self,
        store: &dyn Store,
        kind: Kind,
        filter: &Filter,
        shape: &QueryShape,
    ) -> Result<u64, String> {
        let schema = self.schema(kind);
        let mut matched: Vec<(&StoredResource, Value)> = self
            .resources(kind)
            .iter()
            .map(|r| (r, memory_eval::scim_view(r)))
            .filter(|(_, view)| filter.matches(view, schema))
            .collect();
        if let Some(sort) = &shape.sort {
            // `sort_by` is stable: ties keep creation order, as a backend must.
            matched.sort_by(|a, b| sort.compare(schema, &a.1, &b.1));
        }
        let total = matched.len() as u64;
        let expected: Vec<StoredResource> = matched
            .into_iter()
            .skip(usize::try_from(shape.offset).unwrap_or(usize::MAX))
            .take(usize::try_from(shape.limit).unwrap_or(usize::MAX))
            .map(|(r, _)| {
                let mut r = r.clone();
                if !shape.with_relations {
                    r.members = None;
                    r.groups = None;
                }
                r
            })
            .collect();

        let query = ListQuery {
            filter: Some(filter.clone()),
            sort: shape.sort.clone(),
            offset: shape.offset,
            limit: shape.limit,
            with_relations: shape.with_relations,
            max_bytes: usize::MAX,
        };
        let page = store
            .list(&self.tenant, kind, schema, &query)
            .await
            .map_err(|e| format!("the list failed: {e} ({e:?})"))?;
        let names = |rs: &[StoredResource]| rs.iter().map(label).collect::<Vec<_>>();
        if page.total != total
            || ids(&page) != expected.iter().map(|r| r.id.as_str()).collect::<Vec<_>>()
        {
            let want = names(&expected);
            let got = names(&page.resources);
            let missing: Vec<_> = want.iter().filter(|n| !got.contains(n)).collect();
            let extra: Vec<_> = got.iter().filter(|n| !want.contains(n)).collect();
            return Err(format!(
                "expected total {total} and {want:?}\n    got total {} and {got:?}\n    \
                 missing {missing:?}, unexpected {extra:?}",
                page.total
            ));
        }
        if let Some((want, got)) = expected.iter().zip(&page.resources).find(|(a, b)| a != b) {
            return Err(format!(
                "{} comes back different from a get: expected {want:?}, got {got:?}",
                label(want)
            ));
        }
        Ok(total)
    }

    /// [`FilterFixture::check`] on each part of `filter` (the operands of every `and`, `or`
    /// and `not`) and then on the whole, so that a disagreement in one part is found even where
    /// the whole filter hides it (`x and false`). Parts are checked innermost first: the part
    /// an error names is a smallest one that disagrees. Returns the whole filter's total.
    pub async fn check_with_parts(
        &self,
        store: &dyn Store,
        kind: Kind,
        filter: &Filter,
        shape: &QueryShape,
    ) -> Result<u64, String> {
        // Pre-order: every part comes before its own parts; reversed, after them.
        let mut parts = Vec::new();
        let mut stack = vec![filter];
        while let Some(part) = stack.pop() {
            parts.push(part);
            match part {
                Filter::And(a, b) | Filter::Or(a, b) => stack.extend([&**b, &**a]),
                Filter::Not(a) => stack.push(a),
                Filter::Compare { .. } | Filter::Present(_) | Filter::ValuePath { .. } => {}
            }
        }
        let mut total = 0;
        for part in parts.into_iter().rev() {
            total = self
                .check(store, kind, part, shape)
                .await
                .map_err(|e| format!("the part `{part}` disagrees: {e}"))?;
        }
        Ok(total)
    }
}

/// The lines of a fixture table, without blanks.
fn rows(table: &'static str) -> impl Iterator<Item = &'static str> {
    table.lines().map(str::trim).filter(|l| !l.is_empty())
}

fn fields(line: &str, count: usize) -> Vec<Option<&str>> {
    let f: Vec<Option<&str>> = line
        .split('|')
        .map(str::trim)
        .map(|s| (s != "-").then_some(s))
        .collect();
    assert_eq!(f.len(), count, "fixture row {line:?} has {count} fields");
    f
}

/// A user's canonical JSON from a row of [`USERS`].
fn user_row(line: &str) -> Value {
    let f = fields(line, 9);
    let enterprise = f[7].is_some() || f[8].is_some();
    let mut schemas = vec![json!(USER_SCHEMA)];
    if enterprise {
        schemas.push(json!(ENTERPRISE_USER_SCHEMA));
    }
    let mut data = Map::new();
    data.insert("schemas".into(), Value::Array(schemas));
    data.insert(
        "userName".into(),
        json!(f[0].expect("every user has a userName")),
    );
    if let Some(x) = f[1] {
        data.insert("externalId".into(), json!(x));
    }
    if let Some(x) = f[2] {
        data.insert("active".into(), json!(x == "true"));
    }
    if let Some(x) = f[3] {
        let (given, family) = x.split_once('/').expect("a name is given/family");
        let mut name = Map::new();
        name.insert("givenName".into(), json!(given));
        if family != "-" {
            name.insert("familyName".into(), json!(family));
        }
        data.insert("name".into(), Value::Object(name));
    }
    if let Some(x) = f[4] {
        data.insert("displayName".into(), json!(x));
    }
    if let Some(x) = f[5] {
        data.insert("title".into(), json!(x));
    }
    if let Some(x) = f[6] {
        let emails: Vec<Value> = x
            .split_whitespace()
            .enumerate()
            .map(|(n, e)| {
                let (ty, value) = e.split_once(':').expect("an e-mail is type:value");
                json!({"value": value, "type": ty, "primary": n == 0})
            })
            .collect();
        data.insert("emails".into(), Value::Array(emails));
    }
    if enterprise {
        let mut ext = Map::new();
        if let Some(x) = f[8] {
            ext.insert("employeeNumber".into(), json!(x));
        }
        if let Some(x) = f[7] {
            ext.insert("department".into(), json!(x));
        }
        data.insert(ENTERPRISE_USER_SCHEMA.into(), Value::Object(ext));
    }
    Value::Object(data)
}

/// A group's canonical JSON and member ids from a row of [`GROUPS`].
fn group_row(line: &str) -> (Value, Vec<String>) {
    let f = fields(line, 3);
    let mut data = group_data(f[0].expect("every group has a displayName"));
    if let Some(x) = f[1] {
        data["externalId"] = json!(x);
    }
    let members = f[2]
        .unwrap_or("")
        .split_whitespace()
        .map(|m| expand_ids(&format!("{{{m}}}")))
        .collect();
    (data, members)
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: failed with {e} ({e:?})"))
}

/// Asserts that `result` is the error whose `Debug` form is `expected`, e.g.
/// `Conflict("userName")`.
#[track_caller]
fn assert_err<T: fmt::Debug>(result: Result<T, StoreError>, expected: &str, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected {expected}, but it succeeded ({v:?})"),
        Err(e) => assert_eq!(format!("{e:?}"), expected, "{what}: wrong error ({e})"),
    }
}

/// A tenant record with no settings.
pub fn tenant_record(id: &str, name: &str, created_at: OffsetDateTime) -> Tenant {
    Tenant {
        id: TenantId::new(id),
        name: name.to_owned(),
        created_at,
        settings: serde_json::json!({}),
    }
}

async fn new_tenant(store: &dyn Store, id: &str) -> TenantId {
    let t = tenant_record(id, id, BASE);
    ok(
        store.create_tenant(&t).await,
        &format!("creating tenant {id}"),
    );
    t.id
}

/// A resource at version 1, created and last modified at `at`.
fn resource(kind: Kind, id: &str, data: Value, at: OffsetDateTime) -> StoredResource {
    StoredResource {
        id: id.to_owned(),
        kind,
        version: 1,
        created: at,
        last_modified: at,
        data,
        members: None,
        groups: None,
    }
}

/// The next version of `r` with new data, modified at `at`.
fn next_version(r: &StoredResource, data: Value, at: OffsetDateTime) -> StoredResource {
    StoredResource {
        version: r.version + 1,
        last_modified: at,
        data,
        ..r.clone()
    }
}

fn user_data(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name})
}

fn group_data(display_name: &str) -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": display_name})
}

fn user_record(id: &str, user_name: &str, at: OffsetDateTime) -> StoredResource {
    resource(Kind::User, id, user_data(user_name), at)
}

fn group_record(id: &str, display_name: &str, at: OffsetDateTime) -> StoredResource {
    resource(Kind::Group, id, group_data(display_name), at)
}

fn member_user(id: &str, display: &str) -> Member {
    Member {
        id: id.to_owned(),
        kind: Kind::User,
        display: Some(display.to_owned()),
    }
}

fn attr_path(text: &str) -> AttrPath {
    AttrPath::parse(text).unwrap_or_else(|e| panic!("{text} is a valid path: {e}"))
}

/// `path op "value"` as a filter, built without the parser.
fn compare(path: &str, op: CompareOp, value: &str) -> Filter {
    Filter::Compare {
        path: attr_path(path),
        op,
        value: CompValue::String(value.to_owned()),
    }
}

async fn get(store: &dyn Store, t: &TenantId, kind: Kind, id: &str) -> Option<StoredResource> {
    ok(
        store.get(t, kind, id, false).await,
        &format!("reading {id}"),
    )
}

async fn get_group(store: &dyn Store, t: &TenantId, id: &str) -> StoredResource {
    ok(
        store.get(t, Kind::Group, id, true).await,
        &format!("reading group {id}"),
    )
    .unwrap_or_else(|| panic!("group {id} is not found"))
}

async fn members(store: &dyn Store, t: &TenantId, group: &str) -> Vec<Member> {
    get_group(store, t, group)
        .await
        .members
        .unwrap_or_else(|| panic!("group {group} read with members has members: None"))
}

/// Writes the next version of a group (same data) with a membership change, and tracks it.
async fn change_members(
    store: &dyn Store,
    t: &TenantId,
    group: &mut StoredResource,
    change: MembersChange,
    what: &str,
) {
    let next = next_version(
        group,
        group.data.clone(),
        group.last_modified + Duration::minutes(1),
    );
    ok(store.update(t, &next, group.version, &change).await, what);
    *group = next;
}

async fn member_ids(store: &dyn Store, t: &TenantId, group: &str) -> Vec<String> {
    members(store, t, group)
        .await
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// `groups_of` as sorted `[user, group id, group display]` triples: the trait promises no order.
async fn groups_of(store: &dyn Store, t: &TenantId, users: &[&str]) -> Vec<[String; 3]> {
    let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
    let pairs = ok(store.groups_of(t, &users).await, "reading users' groups");
    sorted(pairs.into_iter().map(|(u, g)| [u, g.id, g.display]))
}

/// Every group's members as listed equal its members as read, order included.
async fn assert_members_listed_as_read(store: &dyn Store, t: &TenantId) {
    let query = ListQuery {
        filter: None,
        sort: None,
        offset: 0,
        limit: EVERYTHING,
        with_relations: true,
        max_bytes: usize::MAX,
    };
    for listed in list_query(store, t, Kind::Group, &query).await.resources {
        let read = get_group(store, t, &listed.id).await;
        assert_eq!(
            listed.members, read.members,
            "group {} lists its members as a get reads them, in the same order",
            listed.id
        );
    }
}

async fn list(
    store: &dyn Store,
    t: &TenantId,
    kind: Kind,
    filter: Option<Filter>,
    offset: u64,
    limit: u64,
) -> Page {
    let query = ListQuery {
        filter,
        sort: None,
        offset,
        limit,
        with_relations: false,
        max_bytes: usize::MAX,
    };
    list_query(store, t, kind, &query).await
}

async fn list_query(store: &dyn Store, t: &TenantId, kind: Kind, query: &ListQuery) -> Page {
    let registry = Registry::core();
    let schema = match kind {
        Kind::User => registry.user(),
        Kind::Group => registry.group(),
    };
    ok(
        store.list(t, kind, schema, query).await,
        &format!("listing {kind:?}s with {query:?}"),
    )
}

/// Members to add, by id, without display names.
fn refs(ids: &[String]) -> Vec<MemberRef> {
    ids.iter().map(MemberRef::from).collect()
}

fn ids(page: &Page) -> Vec<&str> {
    page.resources.iter().map(|r| r.id.as_str()).collect()
}

fn ids_of(page: &Page) -> Vec<String> {
    page.resources.iter().map(|r| r.id.clone()).collect()
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort();
    v
}

/// What a person would call a resource: its userName or displayName.
fn label(r: &StoredResource) -> String {
    ["userName", "displayName"]
        .iter()
        .find_map(|k| r.data.get(*k).and_then(Value::as_str))
        .unwrap_or(&r.id)
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Random filters
// ---------------------------------------------------------------------------------------------

/// Random filters and query shapes over the [`FilterFixture`] data, for a property test that
/// calls [`FilterFixture::check`] on each (enabled by the `proptest` feature, so that the
/// library does not carry proptest otherwise).
///
/// The grammar is small on purpose: the attributes of the fixture, every operator (including
/// ones that do not apply), and for each attribute values taken from the data (in other cases,
/// as prefixes and suffixes, as bare SQL wildcards), combined by `and`, `or`, `not` and
/// `emails[...]`/`members[...]`. Drawing each attribute's values from its own pool keeps most
/// random filters selective, which is where a translation and the evaluator can part.
#[cfg(feature = "proptest")]
pub mod strategy {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::strategy::Union;

    use super::{
        CompValue, CompareOp, EVERYTHING, Filter, QueryShape, SortBy, attr_path, group_id,
        group_sorts, user_id, user_sorts,
    };

    /// A generated filter, shown (in proptest's failure reports too) as filter text rather
    /// than as a syntax tree.
    #[derive(Clone)]
    pub struct RandomFilter(pub Filter);

    impl std::fmt::Debug for RandomFilter {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{}", self.0)
        }
    }

    const OPS: &[CompareOp] = &[
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    const TIMES: &[&str] = &[
        "2023-12-31T23:59:59Z",
        "2024-01-03T00:00:00Z",
        "2024-01-05T00:00:00Z",
        "2024-01-05T00:00:00.5Z",
        "2024-01-05T02:00:00+02:00",
        "2024-01-10T12:00:00",
        "2024-02-01T03:00:00Z",
        "2024-02-10T09:00:00Z",
        "2024-02-20T00:00:00Z",
        "2024-03-01T00:00:00Z",
        "2024-01-0",
        "not a date",
    ];

    fn strings(values: &[&str]) -> Vec<CompValue> {
        values
            .iter()
            .map(|s| CompValue::String((*s).to_owned()))
            .collect()
    }

    fn owned(values: Vec<String>) -> Vec<CompValue> {
        values.into_iter().map(CompValue::String).collect()
    }

    fn bools() -> Vec<CompValue> {
        vec![CompValue::Bool(true), CompValue::Bool(false)]
    }

    /// Values of the wrong type for most attributes: the store must agree on those too.
    fn odd_values() -> Vec<CompValue> {
        vec![
            CompValue::Null,
            CompValue::Bool(true),
            CompValue::Number(1.into()),
            CompValue::String("2024-01-05T00:00:00Z".into()),
        ]
    }

    /// `path op value` for a path of `paths` and a value of `values`.
    fn comparison(paths: &'static [&'static str], values: Vec<CompValue>) -> BoxedStrategy<Filter> {
        (select(paths), select(OPS), select(values))
            .prop_map(|(path, op, value)| Filter::Compare {
                path: attr_path(path),
                op,
                value,
            })
            .boxed()
    }

    /// A comparison on one of the families of paths, each with its own values.
    fn comparisons(
        families: Vec<(&'static [&'static str], Vec<CompValue>)>,
    ) -> BoxedStrategy<Filter> {
        Union::new(
            families
                .into_iter()
                .map(|(paths, values)| comparison(paths, values)),
        )
        .boxed()
    }

    fn present(paths: &'static [&'static str]) -> BoxedStrategy<Filter> {
        select(paths)
            .prop_map(|p| Filter::Present(attr_path(p)))
            .boxed()
    }

    /// `attribute[...]` with one or two conditions on its sub-attributes.
    fn value_path(attribute: &'static str, inner: BoxedStrategy<Filter>) -> BoxedStrategy<Filter> {
        let conditions = prop_oneof![
            2 => inner.clone(),
            1 => (inner.clone(), inner.clone())
                .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
            1 => (inner.clone(), inner)
                .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
        ];
        conditions
            .prop_map(move |f| Filter::ValuePath {
                path: attr_path(attribute),
                filter: Box::new(f),
            })
            .boxed()
    }

    fn combined(leaf: BoxedStrategy<Filter>) -> BoxedStrategy<RandomFilter> {
        leaf.prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
        .prop_map(RandomFilter)
        .boxed()
    }

    fn user_ids() -> Vec<CompValue> {
        let mut ids: Vec<String> = [0, 3, 13, 25, 34].into_iter().map(user_id).collect();
        // Prefixes of real ids in their own case and in upper case (ids are case-exact).
        ids.push(user_id(13)[..1].to_owned());
        ids.push(user_id(13)[..1].to_uppercase());
        ids.push(user_id(34)[..4].to_uppercase());
        ids.extend(["-4000-8000-", "00000000001b", "c", "3"].map(String::from));
        owned(ids)
    }

    fn email_values() -> Vec<CompValue> {
        strings(&[
            "ada@analytical.example",
            "GRACE.HOPPER@CONTOSO.COM",
            "\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}@contoso.com",
            "fiona@",
            "no\u{eb}l",
            "dmr@contoso.com",
            "contoso",
            "Fabrikam",
            ".example",
            "ken@",
            "%_",
            "t",
            "b",
        ])
    }

    /// Random filters over the fixture's users.
    pub fn user_filter() -> BoxedStrategy<RandomFilter> {
        let texts = comparisons(vec![
            (&["id"], user_ids()),
            (
                &["userName", "USERNAME"],
                strings(&[
                    "ada.lovelace@contoso.com",
                    "ADA.LOVELACE@CONTOSO.COM",
                    "josé.garcía@contoso.com",
                    "JOSE\u{301}.GARCI\u{301}A@contoso.com",
                    "full.width@contoso.com",
                    "\u{ff26}\u{ff35}\u{ff2c}\u{ff2c}",
                    "\u{fb01}",
                    "fi",
                    "e\u{308}l",
                    "nora nobreak",
                    "\u{ff4e}",
                    "contoso",
                    "Contoso.COM",
                    "@FABRIKAM.COM",
                    "a",
                    "J",
                    "m",
                    "_",
                    "%",
                    "100%_",
                    "ø",
                    "",
                ]),
            ),
            (
                &["externalId"],
                strings(&[
                    "EXT-0001", "ext-0001", "EXT", "ext", "E", "FAB-", "fab", "-00", "3", "",
                ]),
            ),
            (&["emails", "emails.value"], email_values()),
            (
                &["emails.type"],
                strings(&["work", "home", "other", "WORK"]),
            ),
            (
                &["name.givenName", "displayName", "title"],
                strings(&["ada", "J", "Engineer", "professor", "a", "z"]),
            ),
            (
                &[
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                    "employeeNumber",
                ],
                strings(&["Research", "networking", "1020", "0012", "3"]),
            ),
        ]);
        let email_inner = Union::new_weighted(vec![
            (3, comparison(&["value"], email_values())),
            (
                2,
                comparison(&["type"], strings(&["work", "home", "Other"])),
            ),
            (1, comparison(&["primary"], bools())),
            (1, present(&["value", "type"])),
        ])
        .boxed();
        let leaf = Union::new_weighted(vec![
            (8, texts),
            (2, comparison(&["active"], bools())),
            (
                3,
                comparison(&["meta.created", "meta.lastModified"], strings(TIMES)),
            ),
            (
                1,
                comparison(
                    &["userName", "externalId", "active", "emails.value"],
                    odd_values(),
                ),
            ),
            (
                2,
                present(&[
                    "externalId",
                    "emails",
                    "emails.value",
                    "active",
                    "name",
                    "title",
                    "department",
                ]),
            ),
            (2, value_path("emails", email_inner)),
        ]);
        combined(leaf.boxed())
    }

    /// Random filters over the fixture's groups.
    pub fn group_filter() -> BoxedStrategy<RandomFilter> {
        let member_ids = || {
            let mut ids: Vec<String> = [0, 24, 25, 26].into_iter().map(user_id).collect();
            ids.extend([0, 4].map(group_id));
            ids.push(user_id(25).to_uppercase());
            ids.push("no-such-id".into());
            owned(ids)
        };
        let texts = comparisons(vec![
            (
                &["displayName"],
                strings(&[
                    "engineering",
                    "ΩMEGA TEAM",
                    "e",
                    "TEAM",
                    "S",
                    "m",
                    "Empty Group",
                    "sales",
                ]),
            ),
            (
                &["externalId"],
                strings(&["grp", "GRP", "grp-eng", "NET", "GRP-NET", "-"]),
            ),
            (
                &["id"],
                owned(vec![
                    group_id(3),
                    group_id(3)[..1].to_uppercase(),
                    "-4000-9000-".into(),
                ]),
            ),
            (&["members", "members.value"], member_ids()),
            (
                &["members.display"],
                strings(&["hopper", "Ada", "dmr", "Engineering"]),
            ),
            (&["members.type"], strings(&["User", "Group", "group"])),
        ]);
        let member_inner = Union::new_weighted(vec![
            (3, comparison(&["value"], member_ids())),
            (
                1,
                comparison(&["display"], strings(&["hopper", "Ada", "research"])),
            ),
            (1, comparison(&["type"], strings(&["User", "Group"]))),
            (1, present(&["value", "display"])),
        ])
        .boxed();
        let leaf = Union::new_weighted(vec![
            (8, texts),
            (
                2,
                comparison(&["meta.created", "meta.lastModified"], strings(TIMES)),
            ),
            (
                1,
                comparison(&["displayName", "members.value"], odd_values()),
            ),
            (2, present(&["externalId", "members", "members.value"])),
            (3, value_path("members", member_inner)),
        ]);
        combined(leaf.boxed())
    }

    fn shape(sorts: Vec<SortBy>) -> impl Strategy<Value = QueryShape> {
        let sorts: Vec<Option<SortBy>> = std::iter::once(None)
            .chain(sorts.into_iter().map(Some))
            .collect();
        (
            select(sorts),
            0u64..5,
            select(&[0, 2, 5, EVERYTHING][..]),
            any::<bool>(),
        )
            .prop_map(|(sort, offset, limit, with_relations)| {
                QueryShape::new(sort, offset, limit, with_relations)
            })
    }

    /// Random sorts and pages for user lists.
    pub fn user_shape() -> impl Strategy<Value = QueryShape> {
        shape(user_sorts())
    }

    /// Random sorts and pages for group lists.
    pub fn group_shape() -> impl Strategy<Value = QueryShape> {
        shape(group_sorts())
    }
}
