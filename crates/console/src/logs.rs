//! A tenant's provisioning log on its page: a health summary, the requests newest first,
//! filterable by time, outcome, action, user or group and client; an entry with its
//! explanation, normalisations and both bodies; the filtered rows as JSON Lines.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use roster_store::{LogEntry, LogQuery, Outcome, Tenant};
use serde::Deserialize;
use time::Duration;

use crate::ConsoleState;
use crate::health::{Health, client_name, health};
use crate::pages::{Chrome, not_found, render};
use crate::portal::{access, failed};
use crate::view::{instant, when};

/// Entries per page.
const PAGE: u32 = 50;
/// The most entries one export holds.
const EXPORT_MAX: usize = 10_000;

/// The filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    window: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    q: String,
    #[serde(default)]
    client: String,
    /// The start of a range of its own (UTC, as a `datetime-local` field sends it); it takes
    /// the place of the window.
    #[serde(default)]
    from: String,
    /// The end of that range (UTC).
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: Option<i64>,
}

/// A `datetime-local` field's value (`2026-12-04T09:30`, seconds optional) as a UTC time;
/// `Ok(None)` when empty, `Err` with what to type when it cannot be read.
fn utc_time(field: &str, value: &str) -> Result<Option<time::OffsetDateTime>, String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    let seconds =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(value, minutes)
        .or_else(|_| time::PrimitiveDateTime::parse(value, seconds))
        .map(|t| Some(t.assume_utc()))
        .map_err(|_| {
            format!("{field} is not a date and time (such as 2026-12-04T09:30, in UTC); it was left out.")
        })
}

/// The windows on offer.
pub const WINDOWS: [(&str, &str); 5] = [
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
];
/// The outcomes on offer.
pub const OUTCOMES: [(&str, &str); 4] = [
    ("", "Any outcome"),
    ("succeeded", "Succeeded"),
    ("refused", "Refused"),
    ("failed", "Failed"),
];
/// The actions on offer.
pub const ACTIONS: [(&str, &str); 11] = [
    ("", "Any action"),
    ("create", "Create"),
    ("update", "Update (PATCH)"),
    ("replace", "Replace (PUT)"),
    ("delete", "Delete"),
    ("get", "Read one"),
    ("list", "List (no filter)"),
    ("search", "Look up or search (filter)"),
    ("bulk", "Bulk"),
    ("token", "Token"),
    ("discovery", "Configuration"),
];
/// The clients on offer.
pub const CLIENTS: [(&str, &str); 5] = [
    ("", "Any client"),
    ("entra", "Microsoft Entra ID"),
    ("okta", "Okta"),
    ("onelogin", "OneLogin"),
    ("other", "Other"),
];

/// `v` when it is one of `choices` (none when empty); otherwise none, and what was left out
/// said in `unread` (a link typed by hand, or kept from an older version of the page).
fn offered(
    field: &str,
    choices: &[(&str, &str)],
    v: &str,
    unread: &mut Vec<String>,
) -> Option<String> {
    if v.is_empty() {
        return None;
    }
    if choices.iter().any(|(k, _)| *k == v) {
        return Some(v.to_owned());
    }
    let shown: String = v.chars().take(64).collect();
    unread.push(format!(
        "{field} \"{shown}\" is not one on offer; it was left out."
    ));
    None
}

impl Filters {
    /// The store's query, and what the filters could not read (shown above the list).
    fn query(&self, now: time::OffsetDateTime, limit: u32) -> (LogQuery, Vec<String>) {
        let window = match self.window.as_str() {
            "1h" => Some(Duration::hours(1)),
            "24h" => Some(Duration::hours(24)),
            "7d" => Some(Duration::days(7)),
            "30d" => Some(Duration::days(30)),
            _ => None,
        };
        let mut unread = Vec::new();
        let mut read = |field: &str, value: &str| {
            utc_time(field, value).unwrap_or_else(|why| {
                unread.push(why);
                None
            })
        };
        let (from, to) = (read("From", &self.from), read("To", &self.to));
        let outcome = offered("Outcome", &OUTCOMES, &self.outcome, &mut unread);
        let action = offered("Action", &ACTIONS, &self.action, &mut unread);
        let client = offered("Client", &CLIENTS, &self.client, &mut unread);
        let (since, until) = if from.is_some() || to.is_some() {
            (from, to)
        } else {
            (window.map(|w| now - w), None)
        };
        let q = self.q.trim();
        let query = LogQuery {
            before: self.before,
            after: None,
            limit,
            outcome: outcome.as_deref().and_then(Outcome::parse),
            action,
            resource: (!q.is_empty()).then(|| q.chars().take(500).collect()),
            client,
            since,
            until,
        };
        (query, unread)
    }

    /// The filters as a query string (for the next page's and the export's links).
    fn link(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("window", &self.window)
            .append_pair("outcome", &self.outcome)
            .append_pair("action", &self.action)
            .append_pair("q", &self.q)
            .append_pair("client", &self.client)
            .append_pair("from", &self.from)
            .append_pair("to", &self.to)
            .finish()
    }
}

/// A row of the list.
pub struct Row {
    pub seq: i64,
    /// The day it arrived, and the time of day (see [`instant`]).
    pub day: String,
    pub time: String,
    pub outcome: &'static str,
    pub status: u16,
    pub client: String,
    pub summary: String,
    pub explanation: String,
}

fn row(e: &LogEntry) -> Row {
    let (day, time) = instant(e.at);
    Row {
        seq: e.seq,
        day,
        time,
        outcome: e.outcome.as_str(),
        status: e.status,
        client: client_name(&e.client).to_owned(),
        summary: e.summary.clone(),
        explanation: e.explanation.clone(),
    }
}

/// The log's page.
#[derive(Template)]
#[template(path = "logs.html")]
pub struct LogPage {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub health: Health,
    pub last_when: String,
    pub quiet_minutes: i64,
    pub rows: Vec<Row>,
    pub next: Option<i64>,
    pub link: String,
    /// What the filters could not read, said above the list.
    pub unread: Vec<String>,
    pub f: Filters,
    pub windows: Vec<(&'static str, &'static str)>,
    pub outcomes: Vec<(&'static str, &'static str)>,
    pub actions: Vec<(&'static str, &'static str)>,
    pub clients: Vec<(&'static str, &'static str)>,
}

/// One entry.
#[derive(Template)]
#[template(path = "log_entry.html")]
pub struct EntryPage {
    pub chrome: Chrome,
    pub tenant_name: String,
    pub slug: String,
    pub e: LogEntry,
    pub when: String,
    pub client: String,
    pub outcome: &'static str,
}

async fn summary(state: &ConsoleState, tenant: &Tenant) -> Result<Health, Response> {
    let d = &state.directory;
    let newest = d
        .log_page(
            &tenant.id,
            &LogQuery {
                limit: crate::health::RECENT as u32,
                ..LogQuery::default()
            },
        )
        .await
        .map_err(|e| failed(&e))?;
    let hour = d
        .log_counts(&tenant.id, Duration::hours(1))
        .await
        .map_err(|e| failed(&e))?;
    let day = d
        .log_counts(&tenant.id, Duration::hours(24))
        .await
        .map_err(|e| failed(&e))?;
    Ok(health(&newest, hour, day, d.clock().now()))
}

/// `GET /portal/{slug}/logs`.
pub async fn list(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let health = match summary(&state, &tenant).await {
        Ok(h) => h,
        Err(r) => return r,
    };
    let now = state.directory.clock().now();
    let (query, unread) = f.query(now, PAGE);
    let page = match state.directory.log_page(&tenant.id, &query).await {
        Ok(p) => p,
        Err(e) => return failed(&e),
    };
    let next = (page.len() == PAGE as usize)
        .then(|| page.last().map(|e| e.seq))
        .flatten();
    let page = LogPage {
        chrome: Chrome::of(Some(&viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        last_when: health.last.as_ref().map(|l| when(l.0)).unwrap_or_default(),
        quiet_minutes: health.quiet_for.map_or(0, |d| d.whole_minutes()),
        health,
        rows: page.iter().map(row).collect(),
        next,
        link: f.link(),
        unread,
        f,
        windows: WINDOWS.to_vec(),
        outcomes: OUTCOMES.to_vec(),
        actions: ACTIONS.to_vec(),
        clients: CLIENTS.to_vec(),
    };
    render(StatusCode::OK, &page)
}

/// `GET /portal/{slug}/logs/{seq}`.
pub async fn entry(
    State(state): State<ConsoleState>,
    Path((slug, seq)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let Ok(seq) = seq.parse::<i64>() else {
        return not_found();
    };
    let e = match state.directory.log_entry(&tenant.id, seq).await {
        Ok(Some(e)) => e,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    let page = EntryPage {
        chrome: Chrome::of(Some(&viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        when: {
            let (day, time) = instant(e.at);
            format!("{day} {time}")
        },
        client: client_name(&e.client).to_owned(),
        outcome: e.outcome.as_str(),
        e,
    };
    render(StatusCode::OK, &page)
}

/// `GET /portal/{slug}/logs/export`: the filtered entries as JSON Lines, newest first (at most
/// [`EXPORT_MAX`]).
pub async fn export(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    Query(f): Query<Filters>,
) -> Response {
    let (tenant, _) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let now = state.directory.clock().now();
    let (mut q, unread) = f.query(now, roster_directory::provisioning_log::LOG_PAGE_MAX);
    if !unread.is_empty() {
        // An export of other rows than asked for would mislead: refused, saying why.
        return (StatusCode::BAD_REQUEST, unread.join(" ")).into_response();
    }
    let mut out = String::new();
    let mut n = 0;
    while n < EXPORT_MAX {
        let page = match state.directory.log_page(&tenant.id, &q).await {
            Ok(p) => p,
            Err(e) => return failed(&e),
        };
        for e in &page {
            out.push_str(&roster_provlog::entry_json(e).to_string());
            out.push('\n');
        }
        n += page.len();
        match page.last() {
            Some(last) if page.len() == q.limit as usize => q.before = Some(last.seq),
            _ => break,
        }
    }
    let mut response = out.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jsonl; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"provisioning-log-{}.jsonl\"",
        tenant.slug
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filters(outcome: &str, action: &str, client: &str) -> Filters {
        Filters {
            outcome: outcome.into(),
            action: action.into(),
            client: client.into(),
            ..Filters::default()
        }
    }

    #[test]
    fn filters_on_offer_are_read() {
        let (q, unread) =
            filters("refused", "search", "okta").query(time::OffsetDateTime::UNIX_EPOCH, 50);
        assert!(unread.is_empty(), "{unread:?}");
        assert_eq!(q.outcome, Some(Outcome::Refused));
        assert_eq!(q.action.as_deref(), Some("search"));
        assert_eq!(q.client.as_deref(), Some("okta"));
        let (q, unread) = filters("", "", "").query(time::OffsetDateTime::UNIX_EPOCH, 50);
        assert!(unread.is_empty(), "{unread:?}");
        assert_eq!((q.outcome, q.action, q.client), (None, None, None));
    }

    #[test]
    fn a_filter_not_on_offer_is_left_out_and_said_so() {
        let (q, unread) =
            filters("bogus", "lookup", "Azure").query(time::OffsetDateTime::UNIX_EPOCH, 50);
        assert_eq!((q.outcome, q.action, q.client), (None, None, None));
        assert_eq!(
            unread,
            [
                "Outcome \"bogus\" is not one on offer; it was left out.",
                "Action \"lookup\" is not one on offer; it was left out.",
                "Client \"Azure\" is not one on offer; it was left out.",
            ]
        );
    }
}
