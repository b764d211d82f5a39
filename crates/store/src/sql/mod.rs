//! SCIM filters and sorts as SQL, for every SQL backend: one translation, so that SQLite and
//! PostgreSQL narrow, decide and order exactly alike.
//!
//! Both backends keep the same indexed columns on `resources r` (`id`, `name_key`,
//! `external_id`, `active`, `created`, `last_modified`) and the same side tables (`emails e`,
//! `members x`). The SQL uses `?` placeholders in the order of [`Sql::binds`]; a backend with
//! numbered placeholders rewrites them with [`numbered`]. Timestamps and booleans are bound as
//! [`Bind::Time`] and [`Bind::Bool`], which each backend encodes as its columns store them.

use roster_scim::filter::{CompValue, CompareOp, Filter};
use roster_scim::schema::{Location, ResourceSchema};
use roster_scim::sort::{SortBy, SortOrder};
use roster_scim::value::fold_case;
use time::OffsetDateTime;

use serde_json::Value;

use crate::{Kind, StoreError, StoredResource};

pub mod decode;
pub mod key_fold;
pub mod list;
pub mod provisioning_log;

/// A bound parameter of a translated filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    /// Text, compared as it is.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// A point in time (a `meta.created` or `meta.lastModified` bound).
    Time(OffsetDateTime),
    /// An integer (a cursor, a limit).
    Int(i64),
}

/// The parameters a translation binds, in the order of its placeholders.
#[derive(Debug, Default)]
pub struct Sql {
    /// The parameters.
    pub binds: Vec<Bind>,
}

/// A translated filter: SQL that selects a superset of the matching rows, and whether it
/// selects exactly them.
#[derive(Debug)]
pub struct Translated {
    /// A boolean SQL expression over `resources r`.
    pub sql: String,
    /// Whether the expression decides the filter alone (else it must still be evaluated).
    pub exact: bool,
}

/// Which column an indexed attribute lives in, and how its values compare.
enum Column {
    /// A text column compared exactly (`id`, `externalId`).
    Exact(&'static str),
    /// A lower-cased text column (`userName`, group `displayName`).
    Folded(&'static str),
    /// A timestamp column.
    Time(&'static str),
    /// A boolean column.
    Bool(&'static str),
    /// The lower-cased e-mail values.
    Email,
    /// The ids of a group's members.
    Member,
}

fn column(path: &roster_scim::AttrPath, kind: Kind, schema: &ResourceSchema) -> Option<Column> {
    let resolved = schema.resolve(path).ok()?;
    let attr = resolved.attribute.name.as_str();
    let sub = resolved.sub_attribute.map(|a| a.name.as_str());
    match (resolved.location, kind, attr, sub) {
        (Location::Common, _, "id", None) => Some(Column::Exact("r.id")),
        (Location::Common, _, "externalId", None) => Some(Column::Exact("r.external_id")),
        (Location::Common, _, "meta", Some("created")) => Some(Column::Time("r.created")),
        (Location::Common, _, "meta", Some("lastModified")) => {
            Some(Column::Time("r.last_modified"))
        }
        (Location::Core, Kind::User, "userName", None) => Some(Column::Folded("r.name_key")),
        (Location::Core, Kind::Group, "displayName", None) => Some(Column::Folded("r.name_key")),
        (Location::Core, Kind::User, "active", None) => Some(Column::Bool("r.active")),
        (Location::Core, Kind::User, "emails", None | Some("value")) => Some(Column::Email),
        (Location::Core, Kind::Group, "members", None | Some("value")) => Some(Column::Member),
        _ => None,
    }
}

fn like_pattern(value: &str, op: CompareOp) -> String {
    let escaped = value
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    match op {
        CompareOp::Co => format!("%{escaped}%"),
        CompareOp::Sw => format!("{escaped}%"),
        _ => format!("%{escaped}"),
    }
}

/// The SQL operator of an ordering or equality comparison.
fn operator(op: CompareOp) -> &'static str {
    match op {
        CompareOp::Eq => "=",
        CompareOp::Gt => ">",
        CompareOp::Ge => ">=",
        CompareOp::Lt => "<",
        CompareOp::Le => "<=",
        CompareOp::Ne | CompareOp::Co | CompareOp::Sw | CompareOp::Ew => "<>",
    }
}

/// A comparison of `col` with a bound value: `ne` also holds where the column is NULL, as an
/// absent attribute is "not equal" to anything.
fn comparison(col: &str, op: CompareOp, value: Bind, sql: &mut Sql) -> String {
    sql.binds.push(value);
    match op {
        CompareOp::Ne => format!("({col} IS NULL OR {col} <> ?)"),
        _ => format!("{col} {} ?", operator(op)),
    }
}

/// Translates a text comparison on `col` (already holding comparable text) to SQL. Both
/// backends compare text by bytes (SQLite's `case_sensitive_like`, PostgreSQL's `C` collation
/// on the key columns), which is the protocol crate's order for folded text.
fn text_comparison(col: &str, op: CompareOp, value: String, sql: &mut Sql) -> String {
    match op {
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => {
            sql.binds.push(Bind::Text(like_pattern(&value, op)));
            format!("{col} LIKE ? ESCAPE '\\'")
        }
        _ => comparison(col, op, Bind::Text(value), sql),
    }
}

/// Translates a filter to SQL over `resources r`. Returns `None` when nothing of it can be
/// expressed (the caller then reads every resource of the tenant and kind). The SQL uses only
/// indexed columns; `exact` is false when parts must still be checked in memory.
pub fn translate(
    f: &Filter,
    kind: Kind,
    schema: &ResourceSchema,
    sql: &mut Sql,
) -> Option<Translated> {
    let exact = |sql: String| Some(Translated { sql, exact: true });
    match f {
        Filter::And(..) => {
            // Every translatable side narrows; the others are left to the in-memory check.
            let mut parts = Vec::new();
            let mut all = true;
            for operand in chain(f, true) {
                let mark = sql.binds.len();
                match translate(operand, kind, schema, sql) {
                    Some(t) => {
                        all &= t.exact;
                        parts.push(t.sql);
                    }
                    None => {
                        sql.binds.truncate(mark);
                        all = false;
                    }
                }
            }
            (!parts.is_empty()).then(|| Translated {
                sql: balanced(&parts, "AND"),
                exact: all,
            })
        }
        Filter::Or(..) => {
            let mark = sql.binds.len();
            let mut parts = Vec::new();
            let mut all = true;
            for operand in chain(f, false) {
                let Some(t) = translate(operand, kind, schema, sql) else {
                    sql.binds.truncate(mark);
                    return None;
                };
                all &= t.exact;
                parts.push(t.sql);
            }
            Some(Translated {
                sql: balanced(&parts, "OR"),
                exact: all,
            })
        }
        Filter::Not(inner) => {
            let mark = sql.binds.len();
            match translate(inner, kind, schema, sql) {
                // NOT over NULL is NULL; an absent attribute makes the inner filter false,
                // so its negation must be true.
                Some(t) if t.exact => exact(format!("NOT COALESCE(({}), FALSE)", t.sql)),
                _ => {
                    sql.binds.truncate(mark);
                    None
                }
            }
        }
        Filter::Present(path) => match column(path, kind, schema)? {
            Column::Exact(c) | Column::Folded(c) => {
                exact(format!("({c} IS NOT NULL AND {c} <> '')"))
            }
            Column::Time(c) | Column::Bool(c) => exact(format!("{c} IS NOT NULL")),
            Column::Email => {
                exact("EXISTS (SELECT 1 FROM emails e WHERE e.resource_seq = r.seq)".into())
            }
            Column::Member => {
                exact("EXISTS (SELECT 1 FROM members x WHERE x.group_seq = r.seq)".into())
            }
        },
        Filter::Compare { path, op, value } => {
            compare(column(path, kind, schema)?, *op, value, sql)
        }
        Filter::ValuePath { path, filter } => {
            // `emails[value eq "x"]` and `members[value eq "x"]`: only conditions on `value`
            // are indexed.
            let Filter::Compare {
                path: inner,
                op,
                value,
            } = filter.as_ref()
            else {
                return None;
            };
            if !inner.attribute.eq_ignore_ascii_case("value") || inner.sub_attribute.is_some() {
                return None;
            }
            let mut full = path.clone();
            full.sub_attribute = Some("value".into());
            compare(column(&full, kind, schema)?, *op, value, sql)
        }
    }
}

/// The operands of a chain of `and` (or `or`) in order, however it is grouped: a filter of
/// a thousand `or`s is a tree a thousand deep, walked here without recursion.
fn chain(f: &Filter, and: bool) -> Vec<&Filter> {
    let mut out = Vec::new();
    let mut stack = vec![f];
    while let Some(node) = stack.pop() {
        match (node, and) {
            (Filter::And(a, b), true) | (Filter::Or(a, b), false) => {
                stack.push(b);
                stack.push(a);
            }
            _ => out.push(node),
        }
    }
    out
}

/// `parts` joined by `op` as a balanced tree of parentheses: the expression is as deep as the
/// logarithm of its length, where a chain would pass the engines' depth limits (SQLite's
/// 1,000) for filters of a thousand `or`s.
fn balanced(parts: &[String], op: &str) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        _ => {
            let (left, right) = parts.split_at(parts.len() / 2);
            format!("({}) {op} ({})", balanced(left, op), balanced(right, op))
        }
    }
}

fn compare(col: Column, op: CompareOp, value: &CompValue, sql: &mut Sql) -> Option<Translated> {
    let exact = |sql: String| Some(Translated { sql, exact: true });
    match (col, value) {
        (Column::Exact(c), CompValue::String(s)) => exact(text_comparison(c, op, s.clone(), sql)),
        (Column::Folded(c), CompValue::String(s)) => {
            exact(text_comparison(c, op, fold_case(s), sql))
        }
        (Column::Time(c), CompValue::String(s)) => {
            let t = roster_scim::value::parse_datetime(s)?;
            match op {
                CompareOp::Co | CompareOp::Sw | CompareOp::Ew => None,
                _ => exact(comparison(c, op, Bind::Time(t), sql)),
            }
        }
        (Column::Bool(c), CompValue::Bool(b)) => match op {
            CompareOp::Eq | CompareOp::Ne => exact(comparison(c, op, Bind::Bool(*b), sql)),
            _ => None,
        },
        (Column::Email, CompValue::String(s)) if op != CompareOp::Ne => {
            let inner = text_comparison("e.value_key", op, fold_case(s), sql);
            exact(format!(
                "EXISTS (SELECT 1 FROM emails e WHERE e.resource_seq = r.seq AND {inner})"
            ))
        }
        (Column::Member, CompValue::String(s)) if op == CompareOp::Eq => {
            sql.binds.push(Bind::Text(s.clone()));
            exact(
                "EXISTS (SELECT 1 FROM members x JOIN resources m ON m.seq = x.member_seq
                         WHERE x.group_seq = r.seq AND m.id = ?)"
                    .into(),
            )
        }
        _ => None,
    }
}

/// The ORDER BY terms of a sort on an indexed column, or `None` when the sort must be done in
/// memory. As in the protocol crate's comparator, a resource without the attribute sorts last
/// when ascending, and descending reverses the whole order.
pub fn sort_column(sort: &SortBy, kind: Kind, schema: &ResourceSchema) -> Option<String> {
    let c = match column(&sort.path, kind, schema)? {
        // Never NULL: the index's order is the answer's (a NULL-first term would make the
        // database sort every row a filter admits, for one page).
        Column::Folded(c) | Column::Time(c) => {
            return Some(match sort.order {
                SortOrder::Ascending => format!("{c} ASC"),
                SortOrder::Descending => format!("{c} DESC"),
            });
        }
        Column::Exact(c) | Column::Bool(c) => c,
        Column::Email | Column::Member => return None,
    };
    Some(match sort.order {
        SortOrder::Ascending => format!("({c} IS NULL) ASC, {c} ASC"),
        SortOrder::Descending => format!("({c} IS NULL) DESC, {c} DESC"),
    })
}

/// The columns a resource's JSON contributes to indexes, the same on every SQL backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Indexed {
    /// The userName (users) or displayName (groups) folded by [`fold_case`]: unique per
    /// tenant and kind.
    pub name_key: String,
    /// The name members and groups are shown by.
    pub display: Option<String>,
    /// `externalId`.
    pub external_id: Option<String>,
    /// A user's `active`.
    pub active: Option<bool>,
    /// The e-mail values folded by [`fold_case`].
    pub emails: Vec<String>,
}

/// The indexed columns of a resource.
pub fn indexed(resource: &StoredResource) -> Indexed {
    let data = &resource.data;
    let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    let display = match resource.kind {
        Kind::User => s("displayName").or_else(|| s("userName")),
        Kind::Group => s("displayName"),
    };
    Indexed {
        name_key: name_key(resource.kind, data),
        display,
        external_id: s("externalId"),
        active: data.get("active").and_then(Value::as_bool),
        emails: email_keys(data),
    }
}

/// The `name_key` of a resource of `kind` whose JSON is `data`.
pub fn name_key(kind: Kind, data: &Value) -> String {
    let name = match kind {
        Kind::User => data.get("userName"),
        Kind::Group => data.get("displayName"),
    };
    fold_case(name.and_then(Value::as_str).unwrap_or_default())
}

/// The `emails.value_key` rows of a resource whose JSON is `data`.
pub fn email_keys(data: &Value) -> Vec<String> {
    data.get("emails")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|e| e.get("value").and_then(Value::as_str))
                .map(fold_case)
                .collect()
        })
        .unwrap_or_default()
}

/// The attribute a uniqueness conflict of a kind is about.
pub fn conflict_attribute(kind: Kind) -> &'static str {
    kind.name_attribute()
}

/// A user's groups as the backends' `groups_json` column holds them: a JSON array of
/// `[id, display]` pairs, gathered by a subquery beside the user's row.
pub fn groups_from_json(json: &str) -> Result<Vec<crate::GroupRef>, crate::StoreError> {
    let pairs: Vec<(String, Option<String>)> = serde_json::from_str(json)
        .map_err(|e| crate::StoreError::Internal(format!("bad groups: {e}")))?;
    Ok(pairs
        .into_iter()
        .map(|(id, display)| crate::GroupRef {
            id,
            display: display.unwrap_or_default(),
        })
        .collect())
}

/// Milliseconds since the Unix epoch, as webhook delivery state keeps time.
pub fn epoch_millis(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub mod tenants {
    //! Deleting a tenant. The statements number their one parameter (`$1`, the tenant's id),
    //! which SQLite reads as PostgreSQL does.

    use crate::sql::decode::Columns;
    use crate::{StoreError, TenantHoldings};

    /// What a tenant holds, or no row if there is no such tenant. Users and groups are read
    /// from the counts the triggers keep (`resource_counts`), not counted: a tenant of 100,000
    /// users costs what an empty one does.
    pub const HOLDINGS: &str = "SELECT
        (SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM resource_counts
            WHERE tenant_id = $1 AND kind = 'User')
            AS users,
        (SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM resource_counts
            WHERE tenant_id = $1 AND kind = 'Group')
            AS groups,
        (SELECT count(*) FROM tokens WHERE tenant_id = $1 AND client_id IS NULL
            AND revoked_at IS NULL) AS tokens,
        (SELECT count(*) FROM oauth_clients WHERE tenant_id = $1 AND revoked_at IS NULL)
            AS oauth_clients
        FROM tenants WHERE id = $1";

    /// Reads a row of [`HOLDINGS`].
    pub fn holdings(row: &impl Columns) -> Result<TenantHoldings, StoreError> {
        let count = |column| row.int(column).map(|n| u64::try_from(n).unwrap_or(0));
        Ok(TenantHoldings {
            users: count("users")?,
            groups: count("groups")?,
            tokens: count("tokens")?,
            oauth_clients: count("oauth_clients")?,
        })
    }

    /// The statements that delete a tenant, in order: its resources first (their memberships
    /// and e-mail keys go with them, and the count triggers run while the tenant is still
    /// there), then the tenant, whose tokens, clients and counts go with it.
    pub const DELETE: [&str; 2] = [
        "DELETE FROM resources WHERE tenant_id = $1",
        "DELETE FROM tenants WHERE id = $1",
    ];
}

/// Client assertions already used (their replay is refused), the same on every SQL backend
/// (times are epoch milliseconds).
pub mod assertions {
    /// Records an assertion's use; a row that has expired is taken over, one that has not is
    /// left alone (no row changed: a replay). Binds: issuer, jti, expires_at, now.
    pub const REMEMBER: &str = "INSERT INTO used_assertions (issuer, jti, expires_at)
        VALUES (?, ?, ?)
        ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at
        WHERE used_assertions.expires_at < ?";

    /// Whether an assertion's use is remembered and not expired. Binds: issuer, jti, now.
    pub const USED: &str = "SELECT count(*) FROM used_assertions
        WHERE issuer = ? AND jti = ? AND expires_at >= ?";

    /// Forgets assertions that expired. Binds: before.
    pub const PURGE: &str = "DELETE FROM used_assertions WHERE expires_at < ?";
}

/// Webhook delivery state, the same on every SQL backend (times are epoch milliseconds).
pub mod webhooks {
    /// The columns of a webhook, in [`crate::WebhookRecord`] order.
    pub const COLUMNS: &str =
        "id, url, tenant_id, secret, previous_secret, previous_until, created_at, allow_link_local";

    /// Adds a webhook starting after the last positioned event. Binds: id, url, tenant_id,
    /// secret, created_at, allow_link_local.
    pub const ADD: &str = "INSERT INTO webhooks (id, url, tenant_id, secret, created_at,
            allow_link_local, start_position, scanned_position)
        SELECT ?, ?, ?, ?, ?, ?, m.p, m.p FROM (SELECT coalesce(max(position), 0) AS p FROM events) m";

    /// Whether a claim would find work: events an endpoint has not scanned, or a stream with
    /// an event to deliver that is due and free. Read-only, so that an idle worker writes
    /// nothing. Binds: now, now.
    pub const ANY_WORK: &str = "SELECT EXISTS (SELECT 1 FROM webhooks w WHERE EXISTS
            (SELECT 1 FROM events e WHERE e.position > w.scanned_position))
        OR EXISTS (SELECT 1 FROM webhook_streams s
            WHERE s.next_attempt_at <= ? AND (s.lease_until IS NULL OR s.lease_until < ?)
              AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = s.tenant_id
                          AND e.position > s.delivered))";

    /// Creates the streams of tenants with events an endpoint has not scanned yet, up to a
    /// position read before (`max`). Binds: now, max.
    pub const DISCOVER: &str = "INSERT INTO webhook_streams (webhook_id, tenant_id, delivered,
            next_attempt_at)
        SELECT w.id, e.tenant_id, w.start_position, ?
        FROM webhooks w JOIN events e ON e.position > w.scanned_position AND e.position <= ?
             AND (w.tenant_id IS NULL OR e.tenant_id = w.tenant_id)
        GROUP BY w.id, e.tenant_id, w.start_position
        ON CONFLICT (webhook_id, tenant_id) DO NOTHING";

    /// Moves every endpoint's scan cursor to `max`. Binds: max, max.
    pub const SCANNED: &str = "UPDATE webhooks SET scanned_position = ? WHERE scanned_position < ?";

    /// The streams that have an event to deliver and are due. Binds: now, now, limit.
    pub const DUE: &str = "SELECT s.webhook_id, s.tenant_id FROM webhook_streams s
        WHERE s.next_attempt_at <= ? AND (s.lease_until IS NULL OR s.lease_until < ?)
          AND EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = s.tenant_id
                      AND e.position > s.delivered)
        ORDER BY s.next_attempt_at LIMIT ?";

    /// Leases one stream if it is still free. Binds: owner, lease_until, webhook_id,
    /// tenant_id, now.
    pub const LEASE: &str = "UPDATE webhook_streams SET lease_owner = ?, lease_until = ?
        WHERE webhook_id = ? AND tenant_id = ? AND (lease_until IS NULL OR lease_until < ?)
        RETURNING delivered, attempts, first_failed_at";

    /// Records progress and releases the lease, if still held; a stream restarted during the
    /// lease (a redelivery: `delivered` is no longer where the lease found it) keeps the
    /// restart and only its lease is released. Every expression reads the row as it was.
    /// Binds: leased, attempts, leased, first_failed_at, leased, next_attempt_at, leased,
    /// delivered, webhook_id, tenant_id, owner.
    pub const FINISH: &str = "UPDATE webhook_streams SET
            attempts = CASE WHEN delivered = ? THEN ? ELSE attempts END,
            first_failed_at = CASE WHEN delivered = ? THEN ? ELSE first_failed_at END,
            next_attempt_at = CASE WHEN delivered = ? THEN ? ELSE next_attempt_at END,
            delivered = CASE WHEN delivered = ? THEN ? ELSE delivered END,
            lease_owner = NULL, lease_until = NULL
        WHERE webhook_id = ? AND tenant_id = ? AND lease_owner = ?";

    /// Records an attempt. Binds: webhook_id, tenant_id, event_id, position, attempt, at,
    /// status, error, latency_ms.
    pub const ATTEMPT: &str = "INSERT INTO webhook_attempts (webhook_id, tenant_id, event_id,
            position, attempt, at, status, error, latency_ms)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

    /// An endpoint's latest attempts, newest first. Binds: webhook_id, limit.
    pub const ATTEMPTS: &str =
        "SELECT webhook_id, tenant_id, event_id, position, attempt, at, status, error,
                    latency_ms FROM webhook_attempts WHERE webhook_id = ? ORDER BY id DESC LIMIT ?";

    /// Records a dead letter. Binds: webhook_id, tenant_id, event_id, position, at, error.
    pub const DEAD: &str = "INSERT INTO webhook_dead_letters (webhook_id, tenant_id, event_id,
            position, at, error) VALUES (?, ?, ?, ?, ?, ?)
        ON CONFLICT (webhook_id, position) DO UPDATE SET at = excluded.at, error = excluded.error";

    /// Restarts a stream before an event. Binds: webhook_id, tenant_id, delivered, now.
    pub const RESTART: &str = "INSERT INTO webhook_streams (webhook_id, tenant_id, delivered,
            next_attempt_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (webhook_id, tenant_id) DO UPDATE SET delivered = excluded.delivered,
            attempts = 0, first_failed_at = NULL, next_attempt_at = excluded.next_attempt_at";
}

/// Which migrations a database has applied: the latest, as sqlx's migrator records them.
pub const APPLIED_MIGRATION: &str =
    "SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success";

/// Whether a database at migration `applied` serves a build whose latest migration is
/// `latest`: a database behind is unavailable (a newer one serves an older build).
pub fn schema_serves(applied: i64, latest: i64) -> Result<(), StoreError> {
    if applied < latest {
        return Err(StoreError::Unavailable(format!(
            "the database schema is at migration {applied}, this Roster needs {latest}"
        )));
    }
    Ok(())
}

/// The rule of every write that names one row: a write that changed no row found none.
pub fn found(changed: u64) -> Result<(), StoreError> {
    if changed == 0 {
        Err(StoreError::NotFound)
    } else {
        Ok(())
    }
}

/// Rewrites `?` placeholders as `$1`, `$2`, … for PostgreSQL. The statements built here hold
/// no `?` other than placeholders: every value, LIKE patterns included, is bound.
pub fn numbered(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut n = 0;
    for c in sql.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            numbered("a = ? AND (b IS NULL OR b <> ?) AND c LIKE ? ESCAPE '\\'"),
            "a = $1 AND (b IS NULL OR b <> $2) AND c LIKE $3 ESCAPE '\\'"
        );
        assert_eq!(numbered("no placeholders"), "no placeholders");
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("a%b_c\\", CompareOp::Sw), "a\\%b\\_c\\\\%");
        assert_eq!(like_pattern("x", CompareOp::Co), "%x%");
        assert_eq!(like_pattern("x", CompareOp::Ew), "%x");
    }
}
