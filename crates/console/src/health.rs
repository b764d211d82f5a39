//! The provisioning log's health summary, worked out from the newest entries and the counts
//! of the last hour and day (pure: the page reads them, this decides what to say).

use std::collections::HashMap;

use roster_store::{LogCounts, LogEntry, Outcome};
use time::{Duration, OffsetDateTime};

/// How many of the newest requests decide whether provisioning is failing.
pub const RECENT: usize = 20;
/// The share of those failing past which the page warns (Entra quarantines an application
/// whose requests mostly fail).
pub const FAILING_SHARE: f64 = 0.8;
/// How long a quiet spell may last before the page warns: Entra's cycle is about 40
/// minutes, Okta and OneLogin push changes as they happen.
pub const QUIET: Duration = Duration::minutes(45);

/// What the summary says.
#[derive(Debug, Clone, PartialEq)]
pub struct Health {
    /// The last request: when, from which client, what it did.
    pub last: Option<(OffsetDateTime, String, String)>,
    /// Requests and refusals (refused or failed) in the last hour.
    pub hour: (u64, u64),
    /// Requests and refusals in the last 24 hours.
    pub day: (u64, u64),
    /// Most recent requests fail: the top reason and its hint.
    pub failing: Option<(String, String)>,
    /// Requests had been coming, and none came for this long.
    pub quiet_for: Option<Duration>,
}

/// A client's name as an administrator knows it.
pub fn client_name(client: &str) -> &str {
    match client {
        "entra" => "Microsoft Entra ID",
        "okta" => "Okta",
        "onelogin" => "OneLogin",
        _ => "another client",
    }
}

/// The summary of a tenant's log at `now`, from its newest entries (newest first) and its
/// counts over the last hour and day.
pub fn health(newest: &[LogEntry], hour: LogCounts, day: LogCounts, now: OffsetDateTime) -> Health {
    let last = newest
        .first()
        .map(|e| (e.at, client_name(&e.client).to_owned(), e.summary.clone()));
    let recent = &newest[..newest.len().min(RECENT)];
    let bad: Vec<&LogEntry> = recent
        .iter()
        .filter(|e| e.outcome != Outcome::Succeeded)
        .collect();
    let failing = (recent.len() >= 5 && bad.len() as f64 >= FAILING_SHARE * recent.len() as f64)
        .then(|| {
            // By the reason's short words ("Refused: token revoked"), which name the same
            // reason alike; its explanation names times and values, and would split it. The
            // newest entry's explanation and hint are shown.
            let mut reasons: HashMap<&str, (usize, &LogEntry)> = HashMap::new();
            for e in &bad {
                reasons.entry(&e.summary).or_insert((0, e)).0 += 1;
            }
            reasons
                .into_iter()
                .max_by_key(|(reason, (n, _))| (*n, std::cmp::Reverse(*reason)))
                .map(|(_, (_, e))| (e.explanation.clone(), e.hint.clone()))
        })
        .flatten();
    let quiet_for = newest.first().and_then(|e| {
        let quiet = now - e.at;
        (quiet > QUIET && day.total >= 2).then_some(quiet)
    });
    Health {
        last,
        hour: (hour.total, hour.refused + hour.failed),
        day: (day.total, day.refused + day.failed),
        failing,
        quiet_for,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use roster_store::TenantId;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-12-04 12:00 UTC);

    fn entry(minutes_ago: i64, outcome: Outcome, explanation: &str) -> LogEntry {
        LogEntry {
            seq: 0,
            tenant_id: TenantId::new("t"),
            at: NOW - Duration::minutes(minutes_ago),
            request_id: String::new(),
            duration_ms: 1,
            method: "GET".into(),
            path: "/Users".into(),
            query: String::new(),
            status: if outcome == Outcome::Succeeded {
                200
            } else {
                401
            },
            scim_type: None,
            outcome,
            client: "entra".into(),
            user_agent: String::new(),
            credential: String::new(),
            action: "list".into(),
            resource_type: "User".into(),
            resource_id: String::new(),
            resource_name: String::new(),
            summary: if outcome == Outcome::Succeeded {
                "Listed users".into()
            } else {
                format!("Refused: {explanation}")
            },
            explanation: explanation.into(),
            hint: format!("fix {explanation}"),
            normalizations: Vec::new(),
            request_body: String::new(),
            response_body: String::new(),
        }
    }

    fn counts(total: u64, refused: u64) -> LogCounts {
        LogCounts {
            total,
            refused,
            failed: 0,
        }
    }

    #[test]
    fn a_healthy_log_says_when_and_who_last() {
        let newest = vec![
            entry(1, Outcome::Succeeded, ""),
            entry(2, Outcome::Refused, "x"),
        ];
        let h = health(&newest, counts(2, 1), counts(10, 1), NOW);
        assert_eq!(
            h.last,
            Some((
                NOW - Duration::minutes(1),
                "Microsoft Entra ID".into(),
                "Listed users".into()
            ))
        );
        assert_eq!((h.hour, h.day), ((2, 1), (10, 1)));
        assert_eq!((h.failing, h.quiet_for), (None, None));
    }

    #[test]
    fn mostly_failing_requests_warn_with_the_top_reason() {
        let mut newest: Vec<LogEntry> = (0..16)
            .map(|i| entry(i, Outcome::Refused, "token revoked"))
            .collect();
        newest.extend((16..18).map(|i| entry(i, Outcome::Refused, "bad filter")));
        newest.extend((18..20).map(|i| entry(i, Outcome::Succeeded, "")));
        let h = health(&newest, counts(20, 18), counts(20, 18), NOW);
        assert_eq!(
            h.failing,
            Some(("token revoked".into(), "fix token revoked".into()))
        );
        // Three in four failing is not yet "most".
        let mixed: Vec<LogEntry> = (0..20)
            .map(|i| {
                entry(
                    i,
                    if i % 4 == 0 {
                        Outcome::Succeeded
                    } else {
                        Outcome::Refused
                    },
                    "r",
                )
            })
            .collect();
        assert_eq!(
            health(&mixed, counts(0, 0), counts(0, 0), NOW).failing,
            None
        );
        // Too few requests to judge.
        let few = vec![entry(1, Outcome::Refused, "r"); 3];
        assert_eq!(health(&few, counts(0, 0), counts(0, 0), NOW).failing, None);
    }

    #[test]
    fn one_reason_in_different_words_is_one_reason() {
        // The same refusal explained with the time since the revocation, which differs entry
        // by entry, outnumbers another refusal explained alike each time.
        let mut newest: Vec<LogEntry> = (0..10)
            .map(|i| {
                let mut e = entry(i, Outcome::Refused, "token revoked");
                e.explanation = format!("revoked {} minutes before this request", 30 + i);
                e
            })
            .collect();
        newest.extend((10..16).map(|i| entry(i, Outcome::Refused, "bad filter")));
        let h = health(&newest, counts(16, 16), counts(16, 16), NOW);
        assert_eq!(
            h.failing,
            Some((
                "revoked 30 minutes before this request".into(),
                "fix token revoked".into()
            )),
            "the newest entry's words"
        );
    }

    #[test]
    fn silence_after_requests_warns_but_a_new_tenant_does_not() {
        let newest = vec![entry(50, Outcome::Succeeded, "")];
        let h = health(&newest, counts(0, 0), counts(5, 0), NOW);
        assert_eq!(h.quiet_for, Some(Duration::minutes(50)));
        let h = health(&[], counts(0, 0), counts(0, 0), NOW);
        assert_eq!((h.quiet_for, h.last), (None, None));
        let h = health(
            &[entry(30, Outcome::Succeeded, "")],
            counts(0, 0),
            counts(5, 0),
            NOW,
        );
        assert_eq!(h.quiet_for, None, "within the cycle");
    }
}
