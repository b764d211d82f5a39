//! What counts as the same name: uniqueness under the fold, and keys of an older fold folded again.

use super::*;

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
