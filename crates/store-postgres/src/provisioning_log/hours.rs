//! Each tenant's requests per hour (`provisioning_log_hours`, migration 0020), so that the
//! health summary's counts (the last hour, the last 24 hours) read a day's rows and the
//! entries of one hour, whatever the tenant's traffic: with a million entries a day, counting
//! them one by one took about 100 ms on every view of the page.
//!
//! An hour is a whole number of hours from 1970-01-01 UTC to an entry's `at`. The statement
//! that appends a batch adds to its hours' rows ([`ADD`]); the purge deletes the hours it
//! emptied and counts again the one it cut in two ([`PostgresStore::recount_hours`]); a
//! tenant's deletion takes its rows (the foreign key).

use roster_store::StoreError;
use time::OffsetDateTime;

use crate::{PostgresStore, db_err};

const SECONDS: i64 = 3600;

/// Adds the entries of the statement's `added` (`tenant_id, at, outcome`) to their hours'
/// rows, in key order (two processes appending at once take the rows' locks in the same order,
/// so neither waits on the other in a circle).
pub(super) const ADD: &str =
    "INSERT INTO provisioning_log_hours AS h (tenant_id, hour, total, refused, failed)
     SELECT tenant_id, floor(extract(epoch FROM at) / 3600)::bigint, count(*),
            count(*) FILTER (WHERE outcome = 'refused'), count(*) FILTER (WHERE outcome = 'failed')
     FROM added GROUP BY 1, 2 ORDER BY 1, 2
     ON CONFLICT (tenant_id, hour) DO UPDATE SET
         total = h.total + EXCLUDED.total,
         refused = h.refused + EXCLUDED.refused,
         failed = h.failed + EXCLUDED.failed";

/// A tenant's requests since a time, and how many were refused or failed: the entries from
/// `since` to the start of the first whole hour after it, one by one, and the hours' rows from
/// there on. Binds: tenant, since, the start of that hour, that hour.
pub(super) const COUNTS: &str = "SELECT (e.total + coalesce(h.total, 0))::bigint AS total,
        (e.refused + coalesce(h.refused, 0))::bigint AS refused,
        (e.failed + coalesce(h.failed, 0))::bigint AS failed
    FROM (SELECT count(*) AS total,
                 count(*) FILTER (WHERE outcome = 'refused') AS refused,
                 count(*) FILTER (WHERE outcome = 'failed') AS failed
          FROM provisioning_log WHERE tenant_id = $1 AND at >= $2 AND at < $3) e,
         (SELECT sum(total) AS total, sum(refused) AS refused, sum(failed) AS failed
          FROM provisioning_log_hours WHERE tenant_id = $1 AND hour >= $4) h";

/// The first hour that starts at or after `t`.
pub(super) fn first_whole_hour(t: OffsetDateTime) -> i64 {
    let seconds = t.unix_timestamp();
    let on_the_hour = seconds.rem_euclid(SECONDS) == 0 && t.nanosecond() == 0;
    seconds.div_euclid(SECONDS) + i64::from(!on_the_hour)
}

/// When `hour` starts.
pub(super) fn start(hour: i64) -> Result<OffsetDateTime, StoreError> {
    hour.checked_mul(SECONDS)
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .ok_or_else(|| StoreError::Internal(format!("hour {hour} is out of range")))
}

impl PostgresStore {
    /// After the purge deleted the entries before `before`: deletes the hours that ended by
    /// then, and counts again, tenant by tenant, the hour `before` falls in (the purge took
    /// its first part). The tenants' rows are taken first (`FOR KEY SHARE`, as a batch takes
    /// them), so a tenant's deletion, which deletes its hours in no set order, is either over
    /// or waits; then the hours' rows, in key order, so that two processes purging at once
    /// wait on each other rather than fail. No entry is appended to an hour this old (the
    /// retention is a day at least, and an entry is written within the hour it arrived), so
    /// the count stays right.
    pub(super) async fn recount_hours(&self, before: OffsetDateTime) -> Result<(), StoreError> {
        let cut = before.unix_timestamp().div_euclid(SECONDS);
        let (from, to) = (start(cut)?, start(cut + 1)?);
        let mut tx = self.begin().await?;
        let statements = [
            "SELECT 1 FROM tenants WHERE id IN
                 (SELECT tenant_id FROM provisioning_log_hours WHERE hour <= $1)
             ORDER BY id FOR KEY SHARE",
            "SELECT 1 FROM provisioning_log_hours WHERE hour <= $1
             ORDER BY tenant_id, hour FOR UPDATE",
            "DELETE FROM provisioning_log_hours WHERE hour < $1",
            "UPDATE provisioning_log_hours h
             SET total = c.total, refused = c.refused, failed = c.failed
             FROM (SELECT tenant_id, count(*) AS total,
                          count(*) FILTER (WHERE outcome = 'refused') AS refused,
                          count(*) FILTER (WHERE outcome = 'failed') AS failed
                   FROM provisioning_log WHERE at >= $2 AND at < $3 GROUP BY tenant_id) c
             WHERE h.hour = $1 AND h.tenant_id = c.tenant_id",
            "DELETE FROM provisioning_log_hours h WHERE hour = $1 AND NOT EXISTS
                 (SELECT 1 FROM provisioning_log p
                  WHERE p.tenant_id = h.tenant_id AND p.at >= $2 AND p.at < $3)",
        ];
        for sql in statements {
            let q = sqlx::query(sql).bind(cut);
            let q = if sql.contains("$2") {
                q.bind(from).bind(to)
            } else {
                q
            };
            q.execute(&mut *tx).await.map_err(db_err)?;
        }
        tx.commit().await.map_err(db_err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn the_first_whole_hour_starts_at_or_after_the_time() {
        let hour = |t| first_whole_hour(t);
        let on = datetime!(2024-01-01 5:00 UTC);
        let h = on.unix_timestamp() / SECONDS;
        assert_eq!(hour(on), h, "on the hour: that hour");
        assert_eq!(hour(on + time::Duration::nanoseconds(1)), h + 1);
        assert_eq!(hour(on - time::Duration::microseconds(1)), h);
        assert_eq!(hour(datetime!(2024-01-01 5:59:59.999 UTC)), h + 1);
        assert_eq!(hour(datetime!(2024-01-01 6:00 +01:00)), h, "in any offset");
        assert_eq!(start(h).unwrap(), on);
        assert_eq!(hour(datetime!(1969-12-31 23:30 UTC)), 0, "before 1970 too");
        assert!(start(i64::MAX).is_err());
    }
}
