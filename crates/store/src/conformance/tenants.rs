//! Tenants, the first tenant of a new database, and the isolation of one tenant's data from another's.

use super::*;
use crate::TenantHoldings;

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

/// Processes starting at once on an empty database: eight offers of a first tenant through
/// handles of their own (given by the backend: each with its own writer, or its own pool, as
/// separate processes have), exactly one tenant.
pub async fn first_tenant_race(stores: Vec<Arc<dyn Store>>) {
    let offers: Vec<_> = (0..8)
        .map(|i| {
            let store = stores[i % stores.len()].clone();
            async move {
                let tenant = tenant_record(&format!("t-{i}"), "default", BASE);
                store.create_first_tenant(&tenant).await
            }
        })
        .collect();
    let mut created = 0;
    for offer in futures_util::future::join_all(offers).await {
        if ok(offer, "an offer of a first tenant") {
            created += 1;
        }
    }
    assert_eq!(
        created, 1,
        "exactly one of eight racing offers creates the tenant"
    );
    assert_eq!(ok(stores[0].tenants().await, "listing tenants").len(), 1);
}

/// Renaming a tenant, and deleting one: everything it holds goes in one transaction with its
/// event, what was removed is counted, and another tenant keeps all of its own.
pub async fn tenant_removal(store: &dyn Store) {
    let a = new_tenant(store, "t-gone").await;
    let b = new_tenant(store, "t-kept").await;
    let mut renamed = tenant_record("t-gone", "Gone Ltd", BASE);
    ok(store.update_tenant(&renamed).await, "renaming");
    let read = ok(store.tenant(&a).await, "reading the renamed tenant");
    assert_eq!(read.map(|t| t.name), Some("Gone Ltd".to_owned()));
    renamed.id = TenantId::new("t-nobody");
    assert_err(
        store.update_tenant(&renamed).await,
        "NotFound",
        "renaming a tenant that does not exist",
    );
    for (t, prefix) in [(&a, "a"), (&b, "b")] {
        for i in 0..3 {
            let user = user_record(&format!("{prefix}-u{i}"), &format!("u{i}@x.com"), BASE);
            ok(store.insert(t, &user, &[]).await, "inserting a user");
        }
        let group = group_record(&format!("{prefix}-g"), "Sales", BASE);
        let members = [format!("{prefix}-u0"), format!("{prefix}-u1")];
        let members: Vec<MemberRef> = members.iter().map(|m| m.as_str().into()).collect();
        ok(store.insert(t, &group, &members).await, "inserting a group");
        let token = TokenRecord {
            id: format!("tok-{prefix}"),
            tenant_id: t.clone(),
            hash: [if prefix == "a" { 71 } else { 72 }; 32],
            created_at: BASE,
            name: String::new(),
            last4: String::new(),
            expires_at: None,
            last_used_at: None,
            revoked_at: None,
            client_id: None,
            sealed: None,
        };
        ok(
            store.add_token(&token, OtherTokens::Keep).await,
            "adding a token",
        );
    }
    let client = ClientRecord {
        id: "client-gone".into(),
        tenant_id: a.clone(),
        name: "identity provider".into(),
        secret_hash: [73; 32],
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_client(&client).await, "adding an OAuth client");
    let event = NewEvent {
        id: "evt_tenant_deleted".into(),
        event_type: "tenant.deleted".into(),
        occurred_at: BASE,
        data: json!({"id": "t-gone"}),
    };
    assert_eq!(
        ok(store.tenant_holdings(&a).await, "what a holds"),
        Some(TenantHoldings {
            users: 3,
            groups: 1,
            tokens: 1,
            oauth_clients: 1
        })
    );
    let removed = ok(
        store.delete_tenant(&a, std::slice::from_ref(&event)).await,
        "deleting a tenant",
    );
    assert_eq!(
        removed,
        TenantHoldings {
            users: 3,
            groups: 1,
            tokens: 1,
            oauth_clients: 1
        },
        "the removal counts what the tenant held"
    );
    assert_eq!(ok(store.tenant(&a).await, "reading a deleted tenant"), None);
    assert_eq!(
        ok(store.tenant_holdings(&a).await, "what a holds now"),
        None
    );
    assert_eq!(get(store, &a, Kind::User, "a-u0").await, None);
    assert_eq!(
        ok(store.grant(&[71; 32], BASE).await, "a token").map(|_| ()),
        None
    );
    assert_eq!(ok(store.client("client-gone").await, "a client"), None);
    assert_err(
        store.delete_tenant(&a, &[]).await,
        "NotFound",
        "deleting a tenant twice",
    );
    // The other tenant keeps everything, counts included.
    assert_eq!(members(store, &b, "b-g").await.len(), 2);
    assert!(ok(store.grant(&[72; 32], BASE).await, "b's token").is_some());
    let page = list(store, &b, Kind::User, None, 0, EVERYTHING).await;
    assert_eq!(page.total, 3, "b's count is untouched");
    // The deletion's event is in the change log.
    ok(store.sequence_events().await, "positioning events");
    let events = ok(store.events(Some(&a), 0, EVERYTHING).await, "a's events");
    assert_eq!(
        events.last().map(|e| e.event_type.as_str()),
        Some("tenant.deleted")
    );
}

/// Slugs and external ids: each unique among tenants, each finding its tenant; a tenant's
/// external id and plan change, and what its plan includes is read with it.
pub async fn tenant_names(store: &dyn Store) {
    let mut acme = tenant_record("t-acme", "Acme", BASE);
    acme.slug = "acme".into();
    acme.external_id = Some("org_1".into());
    ok(store.create_tenant(&acme).await, "creating acme");
    let mut same_slug = tenant_record("t-acme2", "Acme", BASE);
    same_slug.slug = "acme".into();
    assert_err(
        store.create_tenant(&same_slug).await,
        "Conflict(\"slug\")",
        "a second tenant with a slug in use",
    );
    let mut same_external = tenant_record("t-acme3", "Acme", BASE);
    same_external.external_id = Some("org_1".into());
    assert_err(
        store.create_tenant(&same_external).await,
        "Conflict(\"external_id\")",
        "a second tenant with an external id in use",
    );
    let found = |column, value: &'static str| store.tenant_where(column, value);
    assert_eq!(
        ok(found(TenantColumn::Slug, "acme").await, "by slug"),
        Some(acme.clone())
    );
    assert_eq!(
        ok(
            found(TenantColumn::ExternalId, "org_1").await,
            "by external id"
        ),
        Some(acme.clone())
    );
    assert_eq!(
        ok(
            found(TenantColumn::ExternalId, "ORG_1").await,
            "by another case"
        ),
        None,
        "external ids are exact"
    );
    let other = new_tenant(store, "t-other").await;
    let mut taken = tenant_record(other.as_str(), "Other", BASE);
    taken.external_id = Some("org_1".into());
    assert_err(
        store.update_tenant(&taken).await,
        "Conflict(\"external_id\")",
        "taking another tenant's external id",
    );
    acme.external_id = None;
    acme.plan = Plan::named("professional");
    ok(store.update_tenant(&acme).await, "changing the plan");
    let read = ok(store.tenant(&acme.id).await, "reading").expect("acme");
    assert_eq!(
        read.plan,
        Plan {
            name: "professional".into(),
            provisioning: false,
            sso: false
        }
    );
    assert_eq!(read.external_id, None);
    acme.plan = Plan::named("gone");
    ok(
        store.update_tenant(&acme).await,
        "a plan that does not exist",
    );
    let read = ok(store.tenant(&acme.id).await, "reading").expect("acme");
    assert!(
        !read.plan.provisioning && !read.plan.sso,
        "an unknown plan includes nothing"
    );
}

/// Plans: the two a database starts with, and one the operator makes and changes.
pub async fn plans(store: &dyn Store) {
    let plans = ok(store.plans().await, "the plans");
    assert_eq!(
        plans,
        [
            Plan {
                name: "enterprise".into(),
                provisioning: true,
                sso: true
            },
            Plan {
                name: "professional".into(),
                provisioning: false,
                sso: false
            },
        ]
    );
    let mut basic = Plan {
        name: "basic".into(),
        provisioning: true,
        sso: false,
    };
    ok(store.set_plan(&basic).await, "adding a plan");
    basic.sso = true;
    ok(store.set_plan(&basic).await, "changing it");
    let plans = ok(store.plans().await, "the plans");
    assert_eq!(plans[0], basic);
    assert_eq!(plans.len(), 3);
}
