//! Users and groups: their lifecycle, updates from a previous read, e-mail keys and pages by key.

use super::*;

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
