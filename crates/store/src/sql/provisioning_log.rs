//! The provisioning log's SQL, the same on every SQL backend: the columns a batch writes, a
//! page of a tenant's log under its filters, one entry, the counts of the health summary and
//! the purge, with `?` placeholders ([`numbered`](super::numbered) for PostgreSQL). Rows are
//! read back by [`decode::log_entry`](super::decode::log_entry).
//!
//! Every page is an index range of one tenant (`provisioning_log_tenant (tenant_id, seq)`,
//! `…_resource_key (tenant_id, resource_key, seq)`, `…_resource_id (tenant_id, resource_id,
//! seq)`, `…_client (tenant_id, client, seq)`, `…_action (tenant_id, action, seq)`, and
//! `…_outcome (tenant_id, outcome, seq)` for the outcomes other than `succeeded`), walked in
//! `seq` order from the cursor and stopped by `LIMIT`; the filters the range does not hold are
//! conditions checked on its rows. A page about one resource is the union of two such walks
//! (its name, its id), each at most a page long, so it costs the same whether the resource has
//! ten entries or a million. A time window bounds every walk by `seq` at both ends, each bound
//! one probe of `(tenant_id, at)` ([`REORDERED`]: entries are numbered as they are written,
//! after their request ends, so `seq` order is only nearly time order). `(tenant_id, at)` also
//! serves the counts, `(at)` the purge.
//!
//! These pages are PostgreSQL's. SQLite stores its log in blocks of entries and pages them its
//! own way (`roster-store-sqlite`'s `log_pages`); it shares the columns, the purge's chunk and
//! the resource key with this module.

use crate::{LogEntry, LogQuery, TenantId};

use super::Bind;

/// The most entries one page holds, whatever the caller asks for.
pub const MAX_PAGE: u32 = 1000;

/// How many rows one purge statement deletes: a purge is a loop of such statements, each its
/// own transaction, so that it never holds SQLite's one writer for long (a chunk of 10,000
/// entries held it for about 150 ms, longer than a write's usual p99 of 10 ms; 1,000 for 15).
pub const PURGE_CHUNK: i64 = 1_000;

/// Longer than any request can take from its arrival (its `at`) to its entry's `seq` (the
/// request's time limit, at most 30 minutes, then about a second in the recorder): an entry
/// that arrived this long before another was numbered before it. So the last entry that
/// arrived this long before a window, and the first that arrived this long after it, bound
/// the window's walk.
pub const REORDERED: time::Duration = time::Duration::hours(1);

/// The columns a new entry writes, in the order the backends bind them: every field of a
/// [`LogEntry`] but its `seq`, and [`resource_key`] after the resource's name.
pub const INSERT_COLUMNS: &str = "tenant_id, at, request_id, duration_ms, method, path, query, \
     status, scim_type, outcome, client, user_agent, credential, action, resource_type, \
     resource_id, resource_name, resource_key, summary, explanation, hint, normalizations, \
     request_body, response_body";

/// How many columns [`INSERT_COLUMNS`] names.
pub const INSERT_ARITY: usize = 24;

/// The key a resource's name is found by: its lower-case form, so that `ADA@contoso.com`
/// finds the entries about `Ada@Contoso.com`. Written with the entry and computed again from
/// the query, in Rust on both, so that both backends lower-case alike (SQLite's `lower` only
/// knows ASCII).
pub fn resource_key(name: &str) -> String {
    name.to_lowercase()
}

/// An entry's normalisations as stored: their names separated by spaces.
pub fn normalizations(entry: &LogEntry) -> String {
    entry.normalizations.join(" ")
}

/// One entry of a tenant's log. Binds: tenant, seq.
pub fn entry() -> String {
    format!(
        "SELECT {} FROM provisioning_log WHERE tenant_id = ? AND seq = ?",
        super::decode::LOG_COLUMNS
    )
}

/// A page of `tenant`'s log as `query` asks: the statement and its parameters.
pub fn page(tenant: &TenantId, query: &LogQuery) -> (String, Vec<Bind>) {
    let columns = super::decode::LOG_COLUMNS;
    let tenant = Bind::Text(tenant.as_str().to_owned());
    let limit = Bind::Int(i64::from(query.limit.min(MAX_PAGE)));
    let (order, mut conditions, mut binds) = conditions(query);
    bound_the_window(query, &tenant, &mut conditions, &mut binds);
    match &query.resource {
        None => {
            let mut all = vec![tenant.clone()];
            all.extend(binds);
            all.push(limit);
            let sql = format!(
                "SELECT {columns} FROM provisioning_log WHERE tenant_id = ?{conditions}
                 ORDER BY seq {order} LIMIT ?"
            );
            (sql, all)
        }
        Some(resource) => {
            let walks = vec![
                Walk {
                    condition: "resource_key = ?",
                    binds: vec![Bind::Text(resource_key(resource))],
                },
                Walk {
                    condition: "resource_id = ?",
                    binds: vec![Bind::Text(resource.clone())],
                },
            ];
            page_of_walks(&walks, (order, &conditions, &binds), tenant, limit)
        }
    }
}

/// Bounds the walk of a time window by `seq`, so that it reads the window's entries and not
/// every newer or older one the filters then discard (each bound one probe of the time index):
/// from below the first entry that arrived [`REORDERED`] after the window, down to the last
/// that arrived as long before it. (The smallest `seq` of the window itself is a range of that
/// index as long as the window: 380 ms for a million entries.)
fn bound_the_window(query: &LogQuery, tenant: &Bind, sql: &mut String, binds: &mut Vec<Bind>) {
    if let Some(before) = query.since.and_then(|s| s.checked_sub(REORDERED)) {
        sql.push_str(
            " AND seq >= COALESCE((SELECT seq FROM provisioning_log
               WHERE tenant_id = ? AND at < ? ORDER BY at DESC LIMIT 1), 0)",
        );
        binds.extend([tenant.clone(), Bind::Time(before)]);
    }
    if let Some(after) = query.until.and_then(|u| u.checked_add(REORDERED)) {
        sql.push_str(
            " AND seq < COALESCE((SELECT seq FROM provisioning_log
               WHERE tenant_id = ? AND at >= ? ORDER BY at ASC LIMIT 1), ?)",
        );
        binds.extend([tenant.clone(), Bind::Time(after), Bind::Int(i64::MAX)]);
    }
}

/// One index range a page about a resource walks: a condition on the tenant's entries (with
/// `?` placeholders) and its parameters.
#[derive(Debug, Clone)]
struct Walk {
    /// The condition, e.g. `resource_id = ?`.
    condition: &'static str,
    /// Its parameters.
    binds: Vec<Bind>,
}

/// The union of `walks`, each at most a page long in `seq` order, and the best page of it.
/// (An `OR` of the conditions would gather every entry of the resource, then sort them.)
fn page_of_walks(
    walks: &[Walk],
    (order, conditions, binds): (&str, &str, &[Bind]),
    tenant: Bind,
    limit: Bind,
) -> (String, Vec<Bind>) {
    let columns = super::decode::LOG_COLUMNS;
    let union: Vec<String> = walks
        .iter()
        .enumerate()
        .map(|(n, walk)| {
            format!(
                "SELECT seq FROM (SELECT seq FROM provisioning_log
                   WHERE tenant_id = ? AND {}{conditions}
                   ORDER BY seq {order} LIMIT ?) AS walk{n}",
                walk.condition
            )
        })
        .collect();
    let sql = format!(
        "SELECT {columns} FROM provisioning_log WHERE tenant_id = ? AND seq IN
           ({})
         ORDER BY seq {order} LIMIT ?",
        union.join(" UNION ALL ")
    );
    let mut all = vec![tenant.clone()];
    for walk in walks {
        all.push(tenant.clone());
        all.extend(walk.binds.iter().cloned());
        all.extend(binds.iter().cloned());
        all.push(limit.clone());
    }
    all.push(limit);
    (sql, all)
}

/// The order of a page, and the conditions after the tenant's (and the resource's) with their
/// parameters: the cursor first, then the filters. The outcome is written into the statement,
/// not bound (it is one of three words the code names): the index of refused and failed
/// entries holds only those, and PostgreSQL takes a partial index only for a condition it sees
/// in the statement, never for a parameter of a plan made once for all values.
fn conditions(query: &LogQuery) -> (&'static str, String, Vec<Bind>) {
    let mut sql = String::new();
    let mut binds = Vec::new();
    let order = match (query.after, query.before) {
        (Some(after), _) => {
            sql.push_str(" AND seq > ?");
            binds.push(Bind::Int(after));
            "ASC"
        }
        (None, Some(before)) => {
            sql.push_str(" AND seq < ?");
            binds.push(Bind::Int(before));
            "DESC"
        }
        (None, None) => "DESC",
    };
    if let Some(outcome) = query.outcome {
        sql.push_str(&format!(" AND outcome = '{}'", outcome.as_str()));
    }
    let texts = [("action", &query.action), ("client", &query.client)];
    for (column, value) in texts {
        if let Some(value) = value {
            sql.push_str(&format!(" AND {column} = ?"));
            binds.push(Bind::Text(value.clone()));
        }
    }
    if let Some(since) = query.since {
        sql.push_str(" AND at >= ?");
        binds.push(Bind::Time(since));
    }
    if let Some(until) = query.until {
        sql.push_str(" AND at < ?");
        binds.push(Bind::Time(until));
    }
    (order, sql, binds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Outcome;

    #[test]
    fn a_page_by_resource_binds_each_walk_its_own_parameters() {
        let query = LogQuery {
            before: Some(90),
            limit: 5000,
            outcome: Some(Outcome::Refused),
            resource: Some("Ada@Contoso.com".into()),
            ..LogQuery::default()
        };
        let (sql, binds) = page(&TenantId::new("t"), &query);
        assert_eq!(sql.matches('?').count(), binds.len());
        assert_eq!(sql.matches("AND outcome = 'refused'").count(), 2, "{sql}");
        let text = |s: &str| Bind::Text(s.to_owned());
        let walk = |value: &str| vec![text("t"), text(value), Bind::Int(90), Bind::Int(1000)];
        let mut expected = vec![text("t")];
        expected.extend(walk("ada@contoso.com"));
        expected.extend(walk("Ada@Contoso.com"));
        expected.push(Bind::Int(1000));
        assert_eq!(binds, expected, "the limit is capped at {MAX_PAGE}");
        assert!(sql.contains("ORDER BY seq DESC"));
    }

    #[test]
    fn a_window_bounds_the_walk_at_both_ends() {
        let since = time::macros::datetime!(2024-01-01 0:00 UTC);
        let until = time::macros::datetime!(2024-01-02 0:00 UTC);
        let query = LogQuery {
            limit: 50,
            since: Some(since),
            until: Some(until),
            ..LogQuery::default()
        };
        let (sql, binds) = page(&TenantId::new("t"), &query);
        assert!(sql.contains("AND at >= ? AND at < ?"), "{sql}");
        assert!(sql.contains("seq >= COALESCE((SELECT seq"), "{sql}");
        assert!(sql.contains("seq < COALESCE((SELECT seq"), "{sql}");
        assert_eq!(sql.matches('?').count(), binds.len());
        let text = |s: &str| Bind::Text(s.to_owned());
        assert_eq!(
            binds,
            [
                text("t"),
                Bind::Time(since),
                Bind::Time(until),
                text("t"),
                Bind::Time(since - REORDERED),
                text("t"),
                Bind::Time(until + REORDERED),
                Bind::Int(i64::MAX),
                Bind::Int(50)
            ]
        );
        // At the ends of time there is no bound to add.
        let query = LogQuery {
            limit: 50,
            since: Some(time::PrimitiveDateTime::MIN.assume_utc()),
            until: Some(time::PrimitiveDateTime::MAX.assume_utc()),
            ..LogQuery::default()
        };
        let (sql, _) = page(&TenantId::new("t"), &query);
        assert!(!sql.contains("COALESCE"), "{sql}");
    }

    #[test]
    fn the_insert_names_as_many_columns_as_it_says() {
        assert_eq!(INSERT_COLUMNS.split(',').count(), INSERT_ARITY);
        let read: Vec<&str> = super::super::decode::LOG_COLUMNS.split(", ").collect();
        for column in INSERT_COLUMNS.split(", ").filter(|c| *c != "resource_key") {
            assert!(read.contains(&column), "{column} is written and read back");
        }
    }

    #[test]
    fn after_reads_oldest_first_and_wins_over_before() {
        let query = LogQuery {
            after: Some(3),
            before: Some(9),
            limit: 10,
            ..LogQuery::default()
        };
        let (sql, binds) = page(&TenantId::new("t"), &query);
        assert!(sql.contains("seq > ?") && !sql.contains("seq < ?"));
        assert!(sql.contains("ORDER BY seq ASC"));
        assert_eq!(binds.len(), 3);
    }
}
