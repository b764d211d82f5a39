//! Group members: adding, removing, replacing, and a user's groups.

use super::*;

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
