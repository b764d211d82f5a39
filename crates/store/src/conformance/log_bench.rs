//! The provisioning log at scale, the same on every backend: `roster-store-sqlite`'s and
//! `roster-store-postgres`'s `provisioning_log_bench` examples append entries of one tenant
//! with [`fill`], time pages of them as the console asks for them with [`pages`], and time the
//! purge and the tenant's deletion with [`upkeep`] while another tenant writes.
//!
//! Entries are about 10,000 users in turn (each name ~100 times in a million), arrive 2.6 s
//! apart (a million over 30 days), 3% refused and 0.1% failed, with bodies of 300–600 bytes.

use std::time::{Duration as StdDuration, Instant};

use time::Duration;
use time::macros::datetime;

use crate::prelude::*;
use crate::{LogEntry, LogQuery, Outcome, Tenant, TenantId};

const USERS: u64 = 10_000;
/// Entries a batch appends.
pub const BATCH: u64 = 1_000;

/// A deterministic generator (xorshift), so that every run writes the same entries.
struct Xorshift(u64);

impl Xorshift {
    /// The next number.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The id and the `userName` of the `n`th user.
fn user(n: u64) -> (String, String) {
    (format!("u-{n:08x}-4d2a"), format!("User{n:05}@Contoso.com"))
}

/// The `i`th entry of `tenant`'s log.
fn entry(tenant: &TenantId, i: u64, rng: &mut Xorshift) -> LogEntry {
    let start = datetime!(2024-01-01 0:00 UTC);
    let (id, name) = user(i % USERS);
    let roll = rng.next() % 1000;
    let outcome = match roll {
        0 => Outcome::Failed,
        1..=30 => Outcome::Refused,
        _ => Outcome::Succeeded,
    };
    let action = ["update", "get", "replace", "create", "list"][(rng.next() % 5) as usize];
    let padding = "x".repeat((rng.next() % 300) as usize);
    LogEntry {
        seq: 0,
        tenant_id: tenant.clone(),
        at: start + Duration::milliseconds(i as i64 * 2_600),
        request_id: format!("{:032x}", rng.next()),
        duration_ms: (rng.next() % 80) as i64,
        method: "PATCH".into(),
        path: format!("/Users/{id}"),
        query: String::new(),
        status: match outcome {
            Outcome::Succeeded => 200,
            Outcome::Refused => 400,
            Outcome::Failed => 500,
        },
        scim_type: (outcome == Outcome::Refused).then(|| "invalidValue".to_owned()),
        outcome,
        client: "entra".into(),
        user_agent: "Azure-ScimBridge/1.0".into(),
        credential: "token \"Entra\" …q9Zc".into(),
        action: action.into(),
        resource_type: "User".into(),
        resource_id: id.clone(),
        resource_name: name.clone(),
        summary: format!("Updated user {name}"),
        explanation: String::new(),
        hint: String::new(),
        normalizations: vec!["entra-bool-strings".into()],
        request_body: format!(
            "{{\"schemas\":[\"urn:ietf:params:scim:api:messages:2.0:PatchOp\"],\"Operations\":\
             [{{\"op\":\"Replace\",\"path\":\"displayName\",\"value\":\"{name}\"}},\
             {{\"op\":\"Replace\",\"path\":\"active\",\"value\":\"True\"}}],\"note\":\"{padding}\"}}"
        ),
        response_body: format!(
            "{{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:User\"],\"id\":\"{id}\",\
             \"userName\":\"{name}\",\"active\":true,\"meta\":{{\"resourceType\":\"User\",\
             \"version\":\"W/\\\"7\\\"\"}}}}"
        ),
    }
}

/// The p50 and p99 of `samples`, in milliseconds.
fn percentiles(samples: &mut [StdDuration]) -> (f64, f64) {
    samples.sort();
    let at = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    (at(0.50), at(0.99))
}

/// Times `queries` on `tenant`'s log and prints their p50 and p99 as `what`.
async fn time_pages(
    store: &dyn Store,
    tenant: &TenantId,
    what: &str,
    queries: impl Iterator<Item = LogQuery>,
) {
    let mut samples = Vec::new();
    let mut rows = 0;
    for query in queries {
        let start = Instant::now();
        let page = store.log_page(tenant, &query).await.expect("a page");
        samples.push(start.elapsed());
        rows += page.len();
    }
    let n = samples.len();
    let (p50, p99) = percentiles(&mut samples);
    println!(
        "{what}: {n} pages, {:.1} entries each, p50 {p50:.2} ms, p99 {p99:.2} ms",
        rows as f64 / n as f64
    );
}

/// The tenant the log is written for.
pub fn tenant() -> Tenant {
    Tenant {
        id: TenantId::new("t-bench"),
        name: "Bench".into(),
        created_at: datetime!(2024-01-01 0:00 UTC),
        settings: serde_json::json!({}),
        slug: "bench".into(),
        external_id: None,
        plan: crate::Plan {
            name: crate::Plan::DEFAULT.into(),
            provisioning: true,
            sso: true,
        },
    }
}

/// Appends `rows` entries of `tenant` in batches of [`BATCH`], and prints how fast.
pub async fn fill(store: &dyn Store, tenant: &TenantId, rows: u64) {
    let mut rng = Xorshift(0x9e37_79b9_7f4a_7c15);
    let start = Instant::now();
    let mut batch_times = Vec::new();
    for b in 0..rows.div_ceil(BATCH) {
        let batch: Vec<LogEntry> = (b * BATCH..((b + 1) * BATCH).min(rows))
            .map(|i| entry(tenant, i, &mut rng))
            .collect();
        let t = Instant::now();
        store.append_log(batch).await.expect("appending");
        batch_times.push(t.elapsed());
    }
    let elapsed = start.elapsed();
    let (b50, b99) = percentiles(&mut batch_times);
    println!(
        "appended {rows} entries in {:.1} s ({:.0} a second); a batch of {BATCH}: p50 {b50:.1} ms, \
         p99 {b99:.1} ms",
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64()
    );
}

/// Times pages of `tenant`'s log of `rows` entries, and the health summary's counts.
pub async fn pages(store: &dyn Store, tenant: &TenantId, rows: u64) {
    let mut rng = Xorshift(7);
    let name = |rng: &mut Xorshift| user(rng.next() % USERS).1.to_lowercase();
    let by_name: Vec<LogQuery> = (0..200)
        .map(|_| LogQuery {
            limit: 50,
            resource: Some(name(&mut rng)),
            ..LogQuery::default()
        })
        .collect();
    time_pages(
        store,
        tenant,
        "by name (a warm-up)",
        by_name.clone().into_iter(),
    )
    .await;
    time_pages(store, tenant, "by resource name", by_name.into_iter()).await;
    let one = user(42).1.to_uppercase();
    let same = (0..200).map(|_| LogQuery {
        limit: 50,
        resource: Some(one.clone()),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "by one resource name", same).await;
    let by_id = (0..200).map(|_| LogQuery {
        limit: 50,
        resource: Some(user(rng.next() % USERS).0),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "by resource id", by_id).await;
    let newest = (0..200).map(|_| LogQuery {
        limit: 50,
        ..LogQuery::default()
    });
    time_pages(store, tenant, "newest, unfiltered", newest).await;
    let deep = (0..200).map(|_| LogQuery {
        limit: 50,
        before: Some((rng.next() % rows) as i64 + 1),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "unfiltered, at a random cursor", deep).await;
    let refused = (0..200).map(|_| LogQuery {
        limit: 50,
        outcome: Some(Outcome::Refused),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "refused (3%)", refused).await;
    let failed = (0..20).map(|_| LogQuery {
        limit: 50,
        outcome: Some(Outcome::Failed),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "failed (0.1%)", failed).await;
    let none = (0..5).map(|_| LogQuery {
        limit: 50,
        client: Some("okta".into()),
        ..LogQuery::default()
    });
    time_pages(store, tenant, "a client with no entries", none).await;

    let end = datetime!(2024-01-01 0:00 UTC) + Duration::milliseconds(rows as i64 * 2_600);
    let windows = [
        ("last day", None, None),
        ("last 30 days", None, None),
        ("last day, failed", Some(Outcome::Failed), None),
        ("last day, a client with no entries", None, Some("okta")),
        ("last 30 days, a client with no entries", None, Some("okta")),
    ];
    for (what, outcome, client) in windows {
        let days = if what.contains("30") { 30 } else { 1 };
        let queries = (0..20).map(|_| LogQuery {
            limit: 50,
            outcome,
            client: client.map(str::to_owned),
            since: Some(end - Duration::days(days)),
            ..LogQuery::default()
        });
        time_pages(store, tenant, what, queries).await;
    }
    // Windows that end in the past (the page's "From" and "To"): the newer entries are not
    // what they ask for.
    let past = [
        ("a day 29 days back", Some(30), None),
        ("before 29 days back", None, None),
        ("before 29 days back, failed", None, Some(Outcome::Failed)),
    ];
    for (what, from, outcome) in past {
        let queries = (0..20).map(|_| LogQuery {
            limit: 50,
            outcome,
            since: from.map(|days| end - Duration::days(days)),
            until: Some(end - Duration::days(29)),
            ..LogQuery::default()
        });
        time_pages(store, tenant, what, queries).await;
    }
    let about = [
        ("by resource name, the last day", Some(1), None),
        ("by resource name, before 29 days back", None, Some(29)),
    ];
    for (what, since, until) in about {
        let mut rng = Xorshift(11);
        let queries = (0..100).map(|_| LogQuery {
            limit: 50,
            resource: Some(name(&mut rng)),
            since: since.map(|days| end - Duration::days(days)),
            until: until.map(|days| end - Duration::days(days)),
            ..LogQuery::default()
        });
        time_pages(store, tenant, what, queries).await;
    }
    // The health summary's counts; those since the first entry count as many entries as a day
    // of a tenant with a million requests a day would.
    let start = datetime!(2024-01-01 0:00 UTC);
    for (what, since) in [
        ("the last hour", end - Duration::hours(1)),
        ("the last day", end - Duration::days(1)),
        ("every entry", start),
    ] {
        let mut samples = Vec::new();
        let mut counts = None;
        for _ in 0..20 {
            let t = Instant::now();
            counts = Some(store.log_counts(tenant, since).await.expect("counts"));
            samples.push(t.elapsed());
        }
        let (p50, p99) = percentiles(&mut samples);
        println!("counts of {what}: {counts:?}, p50 {p50:.2} ms, p99 {p99:.2} ms");
    }
}

/// Purges the first three days of `tenant`'s log of `rows` entries, then deletes the tenant,
/// while another tenant appends one entry every 5 ms, and prints how long each took and how
/// long the other tenant's writes waited.
pub async fn upkeep<S: Store + Clone + 'static>(store: &S, record: Tenant, rows: u64) {
    let tenant = record.id.clone();
    // Another tenant's requests go on meanwhile: how long does one of its writes wait?
    let other = TenantId::new("t-other");
    store
        .create_tenant(&Tenant {
            id: other.clone(),
            slug: "other".into(),
            ..record
        })
        .await
        .expect("another tenant");
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let writes = tokio::spawn({
        let store = store.clone();
        async move {
            let mut rng = Xorshift(3);
            let mut waits = Vec::new();
            let mut i = 0;
            while stopped.try_recv().is_err() {
                let t = Instant::now();
                let one = vec![entry(&other, i, &mut rng)];
                store.append_log(one).await.expect("another write");
                waits.push(t.elapsed());
                i += 1;
                tokio::time::sleep(StdDuration::from_millis(5)).await;
            }
            waits
        }
    });
    let t = Instant::now();
    let purged = store
        .purge_log(datetime!(2024-01-01 0:00 UTC) + Duration::days(3))
        .await
        .expect("purging");
    println!(
        "purged {purged} entries in {:.2} s",
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    store
        .delete_tenant(&tenant, &[])
        .await
        .expect("deleting the tenant");
    println!(
        "deleted the tenant and its {} entries in {:.2} s",
        rows - purged,
        t.elapsed().as_secs_f64()
    );
    let _ = stop.send(());
    let mut waits = writes.await.expect("the other tenant's writes");
    let n = waits.len();
    let over = waits.iter().filter(|w| w.as_millis() > 50).count();
    let (p50, p99) = percentiles(&mut waits);
    let slowest = waits.last().map_or(0.0, |w| w.as_secs_f64() * 1000.0);
    println!(
        "meanwhile, {n} writes of one entry for another tenant: p50 {p50:.1} ms, p99 {p99:.1} \
         ms, the slowest {slowest:.1} ms, {over} over 50 ms"
    );
}
