//! The provisioning log: batches appended in order, pages newest first and oldest first, every
//! filter, tenants kept apart, the health counts, the purge, a deleted tenant's log.

use super::*;
use crate::{LogCounts, LogEntry, LogQuery, Outcome};

/// An entry of `tenant`, `minute` minutes (and as many milliseconds and microseconds, so that
/// times round-trip to the microsecond) after January 1, 2024, about `resource` (`(id, name)`).
pub fn entry(
    tenant: &TenantId,
    minute: i64,
    action: &str,
    outcome: Outcome,
    resource: (&str, &str),
    client: &str,
) -> LogEntry {
    let (status, scim_type, normalizations) = match outcome {
        Outcome::Succeeded => (200, None, vec![]),
        Outcome::Refused => (
            400,
            Some("invalidValue".to_owned()),
            vec![
                "entra-bool-strings".to_owned(),
                "okta-empty-emails".to_owned(),
            ],
        ),
        Outcome::Failed => (500, None, vec!["entra-bool-strings".to_owned()]),
    };
    let (id, name) = resource;
    LogEntry {
        seq: 0,
        tenant_id: tenant.clone(),
        at: BASE + Duration::minutes(minute) + Duration::microseconds(minute * 1_001),
        request_id: format!("req-{tenant}-{minute}"),
        duration_ms: minute * 7,
        method: "POST".into(),
        path: format!("/Users/{id}"),
        query: if minute % 2 == 0 {
            String::new()
        } else {
            "filter=userName%20eq%20%22x%22".into()
        },
        status,
        scim_type,
        outcome,
        client: client.into(),
        user_agent: format!("{client}/1.0 (agent)"),
        credential: "token \"Entra\" …q9Zc".into(),
        action: action.into(),
        resource_type: if id.is_empty() { "" } else { "User" }.into(),
        resource_id: id.into(),
        resource_name: name.into(),
        summary: format!("{action} {name}"),
        explanation: if outcome == Outcome::Succeeded {
            String::new()
        } else {
            "“active” was \"True\", a string".into()
        },
        hint: if outcome == Outcome::Succeeded {
            String::new()
        } else {
            "Send a boolean.\nSee the mapping.".into()
        },
        normalizations,
        request_body: format!("{{\"userName\": \"{name}\", \"note\": \"line\\nbreak ü\"}}"),
        response_body: format!("{{\"id\": \"{id}\"}}"),
    }
}

async fn page(store: &dyn Store, tenant: &TenantId, query: LogQuery) -> Vec<LogEntry> {
    ok(
        store.log_page(tenant, &query).await,
        &format!("reading a page of {tenant}'s log with {query:?}"),
    )
}

/// The request ids of a page, in its order: what a reader of the log tells entries apart by.
fn requests(page: &[LogEntry]) -> Vec<String> {
    page.iter().map(|e| e.request_id.clone()).collect()
}

fn named(tenant: &str, minutes: &[i64]) -> Vec<String> {
    minutes
        .iter()
        .map(|m| format!("req-{tenant}-{m}"))
        .collect()
}

/// A query of at most `limit` entries and nothing else.
fn limited(limit: u32) -> LogQuery {
    LogQuery {
        limit,
        ..LogQuery::default()
    }
}

/// Appended entries read back whole and in order, page by page both ways; each filter; one
/// tenant's entries never in another's pages.
pub async fn provisioning_log(store: &dyn Store) {
    let a = new_tenant(store, "t-log-a").await;
    let b = new_tenant(store, "t-log-b").await;
    let ada = ("u-ada", "Ada@Contoso.com");
    let a_entries = [
        entry(&a, 1, "create", Outcome::Succeeded, ada, "entra"),
        entry(&a, 2, "get", Outcome::Succeeded, ("u-ada", ""), "entra"),
        entry(
            &a,
            3,
            "update",
            Outcome::Refused,
            ("u-ada", "ada@contoso.com"),
            "okta",
        ),
        entry(&a, 4, "list", Outcome::Failed, ("", ""), "entra"),
        // Its id is its name lower-cased: found once by a search for either.
        entry(
            &a,
            5,
            "create",
            Outcome::Succeeded,
            ("admins", "Admins"),
            "onelogin",
        ),
        entry(&a, 6, "token", Outcome::Refused, ("", ""), "other"),
    ];
    let b_entries = [
        entry(&b, 1, "create", Outcome::Refused, ada, "entra"),
        entry(&b, 7, "get", Outcome::Succeeded, ada, "entra"),
    ];
    let [a1, a2, a3, a4, a5, a6] = a_entries.clone();
    let [b1, b2] = b_entries.clone();
    ok(
        store.append_log(vec![a1, b1, a2, a3]).await,
        "appending a batch",
    );
    ok(
        store.append_log(vec![a4, a5, b2, a6]).await,
        "appending a second batch",
    );
    ok(store.append_log(vec![]).await, "appending nothing");

    // Everything, newest first, whole: every field round-trips.
    let all = page(store, &a, limited(100)).await;
    assert_eq!(all.len(), 6, "the tenant's six entries, and only them");
    for (read, written) in all.iter().rev().zip(&a_entries) {
        assert_eq!(
            read,
            &LogEntry {
                seq: read.seq,
                ..written.clone()
            },
            "an entry reads back as it was written"
        );
    }
    assert!(
        all.windows(2).all(|w| w[0].seq > w[1].seq),
        "entries are numbered in the order they were appended: {:?}",
        all.iter().map(|e| e.seq).collect::<Vec<_>>()
    );
    let seq = |minute: usize| all[6 - minute].seq;

    // Newest first, page by page below the last entry seen.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let query = LogQuery {
            before,
            ..limited(2)
        };
        let p = page(store, &a, query).await;
        let Some(last) = p.last() else { break };
        before = Some(last.seq);
        pages.push(requests(&p));
    }
    assert_eq!(
        pages,
        vec![
            named("t-log-a", &[6, 5]),
            named("t-log-a", &[4, 3]),
            named("t-log-a", &[2, 1])
        ],
        "paging newest first with `before`"
    );
    // Oldest first above a cursor.
    let after = |after, limit| LogQuery {
        after: Some(after),
        ..limited(limit)
    };
    assert_eq!(
        requests(&page(store, &a, after(0, 3)).await),
        named("t-log-a", &[1, 2, 3])
    );
    assert_eq!(
        requests(&page(store, &a, after(seq(3), 10)).await),
        named("t-log-a", &[4, 5, 6]),
        "`after` reads oldest first"
    );
    assert_eq!(page(store, &a, after(seq(6), 10)).await, vec![]);
    let both = LogQuery {
        before: Some(seq(2)),
        ..after(seq(4), 10)
    };
    assert_eq!(
        requests(&page(store, &a, both).await),
        named("t-log-a", &[5, 6]),
        "`after` wins over `before`"
    );
    assert_eq!(page(store, &a, limited(0)).await, vec![], "a limit of 0");

    filters(store, &a, &seq).await;
    tenants_apart(store, &a, &b, seq(1)).await;
}

/// Each filter of a page, alone and together, with the cursors.
async fn filters(store: &dyn Store, a: &TenantId, seq: &impl Fn(usize) -> i64) {
    let check = |query: LogQuery, minutes: &'static [i64], what: &'static str| async move {
        let p = page(store, a, query).await;
        assert_eq!(requests(&p), named("t-log-a", minutes), "{what}");
    };
    let q = limited(10);
    let by = |resource: &str| LogQuery {
        resource: Some(resource.to_owned()),
        ..limited(10)
    };
    let outcome = |o| LogQuery {
        outcome: Some(o),
        ..limited(10)
    };
    check(outcome(Outcome::Refused), &[6, 3], "refused entries").await;
    check(outcome(Outcome::Failed), &[4], "failed entries").await;
    check(outcome(Outcome::Succeeded), &[5, 2, 1], "succeeded").await;
    let action = LogQuery {
        action: Some("create".into()),
        ..q.clone()
    };
    check(action, &[5, 1], "one kind of operation").await;
    let client = LogQuery {
        client: Some("okta".into()),
        ..q.clone()
    };
    check(client, &[3], "one client").await;
    check(by("u-ada"), &[3, 2, 1], "a resource by its id").await;
    check(
        by("ADA@contoso.COM"),
        &[3, 1],
        "a resource by its name, any case",
    )
    .await;
    check(by("ada@contoso.com"), &[3, 1], "a resource by its name").await;
    check(by("Admins"), &[5], "a group by its name").await;
    check(by("admins"), &[5], "found by name and by id: once").await;
    check(by("U-ADA"), &[], "ids are compared exactly").await;
    check(by("Ada"), &[], "names are compared whole").await;
    let refused_ada = LogQuery {
        outcome: Some(Outcome::Refused),
        ..by("u-ada")
    };
    check(refused_ada, &[3], "a resource's refusals").await;
    let ada_pages = LogQuery {
        before: Some(seq(3)),
        ..by("u-ada")
    };
    check(ada_pages, &[2, 1], "a resource's entries below a cursor").await;
    let ada_oldest = LogQuery {
        after: Some(seq(1)),
        limit: 1,
        ..by("u-ada")
    };
    check(ada_oldest, &[2], "a resource's entries above a cursor").await;
    let ada_first = LogQuery {
        limit: 2,
        ..by("u-ada")
    };
    check(ada_first, &[3, 2], "a resource's newest entries").await;
    let window = |since: i64, until: i64| LogQuery {
        since: Some(BASE + Duration::minutes(since) + Duration::microseconds(since * 1_001)),
        until: Some(BASE + Duration::minutes(until) + Duration::microseconds(until * 1_001)),
        ..limited(10)
    };
    check(window(3, 5), &[4, 3], "at or after `since`, before `until`").await;
    let since = LogQuery {
        until: None,
        ..window(5, 0)
    };
    check(since, &[6, 5], "since a time").await;
    let until = LogQuery {
        since: None,
        ..window(0, 2)
    };
    check(until, &[1], "until a time").await;
    let everything = LogQuery {
        before: Some(seq(6)),
        outcome: Some(Outcome::Refused),
        action: Some("update".into()),
        client: Some("okta".into()),
        ..LogQuery {
            limit: 10,
            ..window(1, 6)
        }
    };
    check(everything, &[3], "every filter at once").await;
    let none = LogQuery {
        client: Some("entra".into()),
        ..outcome(Outcome::Refused)
    };
    check(none, &[], "filters that nothing matches").await;
}

/// Another tenant's entries appear in no page of this one's, even about a resource of the same
/// id; nor does one of its entries by number.
async fn tenants_apart(store: &dyn Store, a: &TenantId, b: &TenantId, a1: i64) {
    assert_eq!(
        requests(&page(store, b, limited(10)).await),
        named("t-log-b", &[7, 1])
    );
    let by_id = LogQuery {
        resource: Some("u-ada".into()),
        ..limited(10)
    };
    assert_eq!(
        requests(&page(store, b, by_id).await),
        named("t-log-b", &[7, 1]),
        "a resource of the same id in another tenant is that tenant's"
    );
    let first = ok(store.log_entry(a, a1).await, "reading an entry");
    assert_eq!(
        first.map(|e| e.request_id),
        Some("req-t-log-a-1".to_owned())
    );
    assert_eq!(
        ok(store.log_entry(b, a1).await, "another tenant's entry"),
        None,
        "an entry is read only through its own tenant"
    );
    assert_eq!(
        ok(store.log_entry(a, a1 + 1_000_000).await, "no entry"),
        None
    );
}

/// The health counts, the purge of old entries across tenants, and a deleted tenant's log.
pub async fn provisioning_log_upkeep(store: &dyn Store) {
    let a = new_tenant(store, "t-log-a").await;
    let b = new_tenant(store, "t-log-b").await;
    let ada = ("u-ada", "Ada@Contoso.com");
    ok(
        store
            .append_log(vec![
                entry(&a, 1, "create", Outcome::Succeeded, ada, "entra"),
                entry(&b, 1, "create", Outcome::Refused, ada, "entra"),
                entry(&a, 2, "update", Outcome::Refused, ada, "entra"),
                entry(&a, 3, "update", Outcome::Failed, ada, "entra"),
                entry(&b, 4, "get", Outcome::Succeeded, ada, "okta"),
                entry(&a, 5, "token", Outcome::Refused, ("", ""), "okta"),
            ])
            .await,
        "appending",
    );
    let at =
        |minute: i64| BASE + Duration::minutes(minute) + Duration::microseconds(minute * 1_001);
    let counts = |t: &TenantId, since| {
        let t = t.clone();
        async move { ok(store.log_counts(&t, since).await, "counting") }
    };
    let counted = |total, refused, failed| LogCounts {
        total,
        refused,
        failed,
    };
    assert_eq!(counts(&a, BASE).await, counted(4, 2, 1));
    assert_eq!(
        counts(&a, at(2)).await,
        counted(3, 2, 1),
        "counted from `since`, included"
    );
    assert_eq!(counts(&a, at(6)).await, counted(0, 0, 0));
    assert_eq!(
        counts(&b, BASE).await,
        counted(2, 1, 0),
        "each tenant its own"
    );

    // Entries are numbered as they are written, after their request: one that arrived later
    // can come first. A time window still holds every entry that arrived in it.
    let d = new_tenant(store, "t-log-d").await;
    ok(
        store
            .append_log(vec![
                entry(&d, 3, "get", Outcome::Succeeded, ada, "entra"),
                entry(&d, 1, "get", Outcome::Succeeded, ada, "entra"),
                entry(&d, 2, "get", Outcome::Succeeded, ada, "entra"),
            ])
            .await,
        "appending entries out of time order",
    );
    let window = LogQuery {
        since: Some(at(2)),
        ..limited(10)
    };
    assert_eq!(
        requests(&page(store, &d, window).await),
        named("t-log-d", &[2, 3]),
        "since a time: newest first by number, whatever order they arrived in"
    );
    let window = LogQuery {
        until: Some(at(3)),
        ..limited(10)
    };
    assert_eq!(
        requests(&page(store, &d, window).await),
        named("t-log-d", &[2, 1]),
        "until a time"
    );

    // A page never holds more than a thousand entries, whatever is asked.
    let c = new_tenant(store, "t-log-c").await;
    let many: Vec<LogEntry> = (0..1_005)
        .map(|i| entry(&c, 10_000 + i, "get", Outcome::Succeeded, ada, "entra"))
        .collect();
    ok(store.append_log(many).await, "appending a large batch");
    let stored = page(store, &c, limited(u32::MAX)).await;
    assert_eq!(stored.len(), 1_000);
    // Numbered in the batch's order (a backend may store it several entries per statement).
    let newest: Vec<i64> = (0..1_000).map(|i| 10_000 + 1_004 - i).collect();
    assert_eq!(requests(&stored), named("t-log-c", &newest));
    assert!(stored.windows(2).all(|w| w[0].seq > w[1].seq));

    // The purge takes every tenant's older entries, and only them.
    let purged = ok(store.purge_log(at(3)).await, "purging");
    assert_eq!(purged, 5, "a's two, b's one and d's two before minute 3");
    assert_eq!(
        requests(&page(store, &a, limited(10)).await),
        named("t-log-a", &[5, 3])
    );
    assert_eq!(
        requests(&page(store, &b, limited(10)).await),
        named("t-log-b", &[4])
    );
    assert_eq!(ok(store.purge_log(at(3)).await, "purging again"), 0);

    // A tenant deleted takes its log; an entry of a tenant that is gone is dropped, the rest
    // of its batch stored.
    let b4 = page(store, &b, limited(10)).await[0].seq;
    ok(store.delete_tenant(&b, &[]).await, "deleting a tenant");
    assert_eq!(page(store, &b, limited(10)).await, vec![]);
    assert_eq!(
        ok(store.log_entry(&b, b4).await, "a deleted tenant's entry"),
        None
    );
    assert_eq!(counts(&b, BASE).await, counted(0, 0, 0));
    ok(
        store
            .append_log(vec![
                entry(&b, 8, "get", Outcome::Succeeded, ada, "entra"),
                entry(&a, 8, "get", Outcome::Succeeded, ada, "entra"),
            ])
            .await,
        "appending a batch with an entry of a deleted tenant",
    );
    assert_eq!(
        requests(&page(store, &a, limited(10)).await),
        named("t-log-a", &[8, 5, 3]),
        "the other tenant's entry of the batch is stored"
    );
    assert_eq!(page(store, &b, limited(10)).await, vec![]);
    // A log longer than a backend deletes at once goes whole.
    let e = new_tenant(store, "t-log-e").await;
    let long: Vec<LogEntry> = (0..1_001)
        .map(|i| entry(&e, 20_000 + i, "get", Outcome::Succeeded, ada, "entra"))
        .collect();
    ok(store.append_log(long).await, "appending a long log");
    ok(
        store.delete_tenant(&e, &[]).await,
        "deleting a tenant with a long log",
    );
    assert_eq!(page(store, &e, limited(10)).await, vec![]);

    // Numbers never go back, even when the newest entries are all gone: a reader's `after`
    // still finds what comes next.
    let newest = page(store, &a, limited(1)).await[0].seq;
    let everything = ok(store.purge_log(at(1_000_000)).await, "purging everything");
    assert_eq!(everything, 3 + 1 + 1_005);
    ok(
        store
            .append_log(vec![entry(&a, 9, "get", Outcome::Succeeded, ada, "entra")])
            .await,
        "appending to an empty log",
    );
    let next = LogQuery {
        after: Some(newest),
        ..limited(10)
    };
    assert_eq!(
        requests(&page(store, &a, next).await),
        named("t-log-a", &[9]),
        "an entry appended after a purge comes after the cursor"
    );
}

/// The health counts over many hours: from any time (on an hour's start, just before it, in
/// the middle of one), over entries appended in several batches that share hours, after a
/// purge that cuts an hour in two and one on an hour's start, and for a tenant deleted: always
/// what counting the entries one by one gives. (A backend may keep counts per hour; this is
/// what they must agree with.)
pub async fn provisioning_log_counts(store: &dyn Store) {
    let a = new_tenant(store, "t-count-a").await;
    let b = new_tenant(store, "t-count-b").await;
    let c = new_tenant(store, "t-count-c").await;
    let ada = ("u-ada", "Ada@Contoso.com");
    let hour = Duration::hours(1);
    let outcome = |i: usize| match i % 7 {
        0 => Outcome::Failed,
        1 | 4 => Outcome::Refused,
        _ => Outcome::Succeeded,
    };
    // Six hours of entries, some exactly on an hour's start and some a microsecond before one.
    let mut times: Vec<OffsetDateTime> = (0..360)
        .step_by(7)
        .map(|m| BASE + Duration::minutes(m))
        .collect();
    for h in 1..6 {
        times.push(BASE + hour * h);
        times.push(BASE + hour * h - Duration::microseconds(1));
    }
    let entries: Vec<LogEntry> = times
        .iter()
        .enumerate()
        .map(|(i, at)| {
            let tenant = if i % 5 == 3 { &b } else { &a };
            let mut e = entry(tenant, i as i64, "get", outcome(i), ada, "entra");
            e.at = *at;
            e
        })
        .collect();
    let (first, second) = entries.split_at(entries.len() / 2);
    ok(store.append_log(second.to_vec()).await, "appending");
    ok(
        store.append_log(first.to_vec()).await,
        "appending the earlier half after",
    );
    // A third tenant whose entries of the hour the first purge cuts all come before the cut.
    let early: Vec<LogEntry> = [5, 125, 140]
        .into_iter()
        .map(|m| {
            let mut e = entry(&c, 500 + m, "get", Outcome::Refused, ada, "entra");
            e.at = BASE + Duration::minutes(m);
            e
        })
        .collect();
    ok(store.append_log(early.clone()).await, "appending");
    let mut kept = entries.clone();
    kept.extend(early);

    let expected = |kept: &[LogEntry], tenant: &TenantId, since: OffsetDateTime| {
        let mut n = LogCounts::default();
        for e in kept
            .iter()
            .filter(|e| &e.tenant_id == tenant && e.at >= since)
        {
            n.total += 1;
            n.refused += u64::from(e.outcome == Outcome::Refused);
            n.failed += u64::from(e.outcome == Outcome::Failed);
        }
        n
    };
    let sinces: Vec<OffsetDateTime> = [
        BASE - hour,
        BASE,
        BASE + Duration::minutes(1),
        BASE + Duration::minutes(59),
        BASE + hour - Duration::microseconds(1),
        BASE + hour,
        BASE + hour + Duration::microseconds(1),
        BASE + Duration::minutes(150),
        BASE + hour * 4,
        BASE + Duration::minutes(359),
        BASE + hour * 7,
    ]
    .into();
    let check = |kept: Vec<LogEntry>, when: &'static str| {
        let sinces = sinces.clone();
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        async move {
            for since in sinces {
                for t in [&a, &b, &c] {
                    assert_eq!(
                        ok(store.log_counts(t, since).await, "counting"),
                        expected(&kept, t, since),
                        "{t} since {since} {when}"
                    );
                }
            }
        }
    };
    check(kept.clone(), "as appended").await;

    // A purge in the middle of an hour, then one on an hour's start.
    for before in [BASE + Duration::minutes(150), BASE + hour * 4] {
        let gone = kept.iter().filter(|e| e.at < before).count() as u64;
        assert_eq!(ok(store.purge_log(before).await, "purging"), gone);
        kept.retain(|e| e.at >= before);
        check(kept.clone(), "after a purge").await;
    }

    // A tenant deleted counts nothing; the other is as it was.
    ok(store.delete_tenant(&b, &[]).await, "deleting a tenant");
    kept.retain(|e| e.tenant_id != b);
    check(kept.clone(), "after a tenant was deleted").await;
    // Entries appended later land in the hours already counted.
    let late: Vec<LogEntry> = (0..3)
        .map(|i| {
            let mut e = entry(&a, 1_000 + i, "get", Outcome::Refused, ada, "okta");
            e.at = BASE + hour * 5 + Duration::minutes(i);
            e
        })
        .collect();
    ok(store.append_log(late.clone()).await, "appending more");
    kept.extend(late);
    check(kept, "after more were appended").await;
}
