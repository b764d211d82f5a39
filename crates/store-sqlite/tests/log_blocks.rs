//! The provisioning log in blocks on SQLite, against the plain reading of what was appended:
//! many flushes of two tenants' entries, interleaved, more than a block each, read back page
//! by page both ways, under every filter, one entry at a time, counted, and purged.

use roster_store::conformance;
use roster_store::prelude::*;
use roster_store::{LogEntry, LogQuery, Outcome, TenantId};
use roster_store_sqlite::SqliteStore;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const START: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

/// Which entries a filter keeps, read plainly.
type Keep = Box<dyn Fn(&LogEntry) -> bool>;

/// The `n`th entry appended: its tenant, time, outcome and resource vary with `n`, and its
/// time is out of order now and then (entries are numbered as they are written, after their
/// request ends).
fn nth(tenants: &[TenantId; 2], n: i64) -> LogEntry {
    let tenant = &tenants[(n % 3 == 0) as usize];
    let outcome = match n % 11 {
        0 => Outcome::Failed,
        1 | 5 => Outcome::Refused,
        _ => Outcome::Succeeded,
    };
    let users = [
        ("u-0", "Ada@Contoso.com"),
        ("u-1", "bob@contoso.com"),
        ("u-2", "Chen@Contoso.com"),
        ("", "dana@contoso.com"),
    ];
    let action = ["create", "update", "get", "list"][(n % 4) as usize];
    let client = ["entra", "okta"][(n % 5 == 0) as usize];
    let mut e = conformance::log_entry(
        tenant,
        0,
        action,
        outcome,
        users[(n % 7 % 4) as usize],
        client,
    );
    let minute = if n % 13 == 0 { n - 3 } else { n };
    e.at = START + Duration::minutes(minute) + Duration::microseconds(n);
    e.request_id = format!("r{n}");
    e
}

/// Every page of `query`, following its cursor until a page is empty.
async fn all_pages(store: &SqliteStore, tenant: &TenantId, query: &LogQuery) -> Vec<LogEntry> {
    let mut all = Vec::new();
    let mut query = query.clone();
    loop {
        let page = store.log_page(tenant, &query).await.expect("a page");
        let Some(last) = page.last() else {
            return all;
        };
        if query.after.is_some() {
            query.after = Some(last.seq);
        } else {
            query.before = Some(last.seq);
        }
        all.extend(page);
    }
}

#[tokio::test]
async fn blocks_read_back_as_the_plain_log_under_every_filter() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = SqliteStore::open(&url).await.expect("opening");
    let tenants = [TenantId::new("t-a"), TenantId::new("t-b")];
    for t in &tenants {
        let record = conformance::tenant_record(t.as_str(), t.as_str(), START);
        store.create_tenant(&record).await.expect("a tenant");
    }
    // Three flushes, each tenant's part of the first and last spanning several blocks; then
    // twenty small ones, a block each (more than a page's walk keeps at once).
    let mut appended = Vec::new();
    let small = (0..20).map(|k| 1500 + k * 10..1510 + k * 10);
    for range in [0..700, 700..705, 705..1500].into_iter().chain(small) {
        let batch: Vec<LogEntry> = range.map(|n| nth(&tenants, n)).collect();
        appended.extend(batch.clone());
        store.append_log(batch).await.expect("appending");
    }
    let a = &tenants[0];
    let newest_first = |q: LogQuery| LogQuery { limit: 37, ..q };
    let everything = all_pages(&store, a, &newest_first(LogQuery::default())).await;
    let expected: Vec<&LogEntry> = appended.iter().filter(|e| &e.tenant_id == a).collect();
    assert_eq!(everything.len(), expected.len());
    assert!(everything.windows(2).all(|w| w[0].seq > w[1].seq));
    // Newest first is the reverse of the order appended, each entry as it went in.
    for (read, went) in everything.iter().rev().zip(&expected) {
        let mut went = (*went).clone();
        went.seq = read.seq;
        assert_eq!(read, &went);
    }
    let oldest_first = all_pages(
        &store,
        a,
        &LogQuery {
            after: Some(0),
            limit: 41,
            ..LogQuery::default()
        },
    )
    .await;
    let reversed: Vec<LogEntry> = everything.iter().rev().cloned().collect();
    assert_eq!(oldest_first, reversed);

    // Each filter, paged, is the plain log filtered.
    let at = |minute: i64| START + Duration::minutes(minute);
    let filters: Vec<(LogQuery, Keep)> = vec![
        (
            LogQuery {
                outcome: Some(Outcome::Refused),
                ..LogQuery::default()
            },
            Box::new(|e| e.outcome == Outcome::Refused),
        ),
        (
            LogQuery {
                action: Some("update".into()),
                client: Some("okta".into()),
                ..LogQuery::default()
            },
            Box::new(|e| e.action == "update" && e.client == "okta"),
        ),
        (
            LogQuery {
                since: Some(at(400)),
                until: Some(at(1100)),
                ..LogQuery::default()
            },
            Box::new(move |e| e.at >= at(400) && e.at < at(1100)),
        ),
        (
            LogQuery {
                resource: Some("CHEN@contoso.com".into()),
                ..LogQuery::default()
            },
            Box::new(|e| e.resource_name.eq_ignore_ascii_case("chen@contoso.com")),
        ),
        (
            LogQuery {
                resource: Some("u-0".into()),
                outcome: Some(Outcome::Succeeded),
                since: Some(at(300)),
                ..LogQuery::default()
            },
            Box::new(move |e| {
                e.resource_id == "u-0" && e.outcome == Outcome::Succeeded && e.at >= at(300)
            }),
        ),
        (
            LogQuery {
                resource: Some("Dana@Contoso.com".into()),
                ..LogQuery::default()
            },
            Box::new(|e| e.resource_name == "dana@contoso.com"),
        ),
    ];
    for (query, keep) in &filters {
        let plain: Vec<i64> = everything
            .iter()
            .filter(|e| keep(e))
            .map(|e| e.seq)
            .collect();
        assert!(!plain.is_empty(), "{query:?} matches something");
        let paged: Vec<i64> = all_pages(&store, a, &newest_first(query.clone()))
            .await
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(paged, plain, "{query:?}");
        let ascending = LogQuery {
            after: Some(0),
            limit: 29,
            ..query.clone()
        };
        let mut forward: Vec<i64> = all_pages(&store, a, &ascending)
            .await
            .iter()
            .map(|e| e.seq)
            .collect();
        forward.reverse();
        assert_eq!(forward, plain, "{query:?}, oldest first");
    }

    // One entry at a time; another tenant's seq is not this tenant's.
    for e in everything.iter().step_by(17) {
        let one = store.log_entry(a, e.seq).await.expect("reading");
        assert_eq!(one.as_ref(), Some(e));
        assert_eq!(
            store.log_entry(&tenants[1], e.seq).await.expect("reading"),
            None
        );
    }

    // The counts since a time cut a block.
    let counts = store.log_counts(a, at(777)).await.expect("counting");
    let since: Vec<&LogEntry> = everything.iter().filter(|e| e.at >= at(777)).collect();
    let of = |o: Outcome| since.iter().filter(|e| e.outcome == o).count() as u64;
    assert_eq!(
        (counts.total, counts.refused, counts.failed),
        (
            since.len() as u64,
            of(Outcome::Refused),
            of(Outcome::Failed)
        )
    );

    // The purge cuts blocks at a time, for both tenants, and leaves the rest as it was.
    let before = all_pages(&store, &tenants[1], &newest_first(LogQuery::default())).await;
    let purged = store.purge_log(at(650)).await.expect("purging");
    let older = |list: &[LogEntry]| list.iter().filter(|e| e.at < at(650)).count() as u64;
    assert_eq!(purged, older(&everything) + older(&before));
    let kept = all_pages(&store, a, &newest_first(LogQuery::default())).await;
    let plain: Vec<LogEntry> = everything
        .iter()
        .filter(|e| e.at >= at(650))
        .cloned()
        .collect();
    assert_eq!(kept, plain);
    let by_name = LogQuery {
        resource: Some("ada@contoso.com".into()),
        ..LogQuery::default()
    };
    let plain: Vec<i64> = plain
        .iter()
        .filter(|e| e.resource_id == "u-0")
        .map(|e| e.seq)
        .collect();
    let paged: Vec<i64> = all_pages(&store, a, &newest_first(by_name))
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(paged, plain, "a purged entry is found by no page");
}
