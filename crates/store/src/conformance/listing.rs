//! Lists: totals, pages, sorting and the byte budget of a page.

use super::*;

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
        count_at_most: None,
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

    // A filtered list may count its matches only up to a bound (the pages do; SCIM does not).
    let capped = ListQuery {
        filter: Some(compare("userName", CompareOp::Ne, "nobody")),
        sort: None,
        offset: 0,
        limit: 2,
        with_relations: false,
        max_bytes: usize::MAX,
        count_at_most: Some(3),
    };
    let page = list_query(store, &t, Kind::User, &capped).await;
    assert_eq!(page.resources.len(), 2);
    assert_eq!(
        page.total, 3,
        "six match; a capped count stops at its bound"
    );

    // Groups, with and without members.
    let mut query = ListQuery {
        filter: None,
        sort: None,
        offset: 0,
        limit: EVERYTHING,
        with_relations: false,
        max_bytes: usize::MAX,
        count_at_most: None,
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
                count_at_most: None,
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
        count_at_most: None,
    };
    let page = list_query(store, t, Kind::Group, &query).await;
    assert_eq!(
        (page.total, page.resources.len()),
        (2, 1),
        "a group with its members spends a budget too"
    );
}
