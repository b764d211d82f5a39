//! `GET /api/v1/tenants/{tenant}/provisioning-logs`: a tenant's provisioning log for the host
//! application, cursor-paged like the event feed (oldest first after `after`), filtered by
//! outcome, action, user or group, and client.

use axum::Json;
use axum::extract::{Path, Query, State};
use roster_directory::Scope;
use roster_store::{LogQuery, Outcome};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HostApp, HostError, tenant_ref};
use crate::AppState;

/// The most entries a page holds.
const MAX_LIMIT: u32 = 200;

/// The query's parameters.
#[derive(Debug, Deserialize)]
pub(super) struct LogParams {
    after: Option<String>,
    limit: Option<String>,
    outcome: Option<String>,
    action: Option<String>,
    user: Option<String>,
    client: Option<String>,
}

fn query(p: &LogParams) -> Result<LogQuery, HostError> {
    let bad = |what: String| HostError::BadRequest(what);
    let after = match p.after.as_deref() {
        None | Some("") => 0,
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| bad(format!("after: {c:?} is not a cursor")))?,
    };
    let limit = match p.limit.as_deref() {
        None | Some("") => 100,
        Some(l) => l
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| bad(format!("limit must be a number from 1 to {MAX_LIMIT}")))?,
    };
    let outcome = one_of(&p.outcome, "outcome", &["succeeded", "refused", "failed"])?
        .map(|o| Outcome::parse(&o).ok_or_else(|| bad(format!("outcome: {o:?} is unknown"))))
        .transpose()?;
    let short = |v: &Option<String>, name: &str| -> Result<Option<String>, HostError> {
        match v.as_deref() {
            None | Some("") => Ok(None),
            Some(s) if s.len() <= 512 => Ok(Some(s.to_owned())),
            Some(_) => Err(bad(format!("{name} is longer than 512 bytes"))),
        }
    };
    Ok(LogQuery {
        after: Some(after),
        limit,
        outcome,
        action: one_of(&p.action, "action", &roster_provlog::ACTIONS)?,
        resource: short(&p.user, "user")?,
        client: one_of(&p.client, "client", &roster_provlog::CLIENTS)?,
        ..LogQuery::default()
    })
}

/// A parameter that takes one of `names` (in any case, given as stored); empty or absent is
/// none. A value the log never stores is refused, rather than answered with an empty page.
fn one_of(v: &Option<String>, name: &str, names: &[&str]) -> Result<Option<String>, HostError> {
    match v.as_deref() {
        None | Some("") => Ok(None),
        Some(s) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(s))
            .map(|n| Some((*n).to_owned()))
            .ok_or_else(|| {
                let shown: String = s.chars().take(64).collect();
                HostError::BadRequest(format!(
                    "{name}: {shown:?} is not one of {}",
                    names.join(", ")
                ))
            }),
    }
}

/// `GET /api/v1/tenants/{tenant}/provisioning-logs?after=&limit=&outcome=&action=&user=&client=`.
pub(super) async fn provisioning_logs(
    app: HostApp,
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Query(params): Query<LogParams>,
) -> Result<Json<Value>, HostError> {
    app.require(Scope::DirectoryRead)?;
    let tenant = tenant_ref(&state, &tenant).await?.id;
    let q = query(&params)?;
    let page = state.directory.log_page(&tenant, &q).await?;
    let next = match page.last() {
        Some(last) => last.seq.to_string(),
        None => q.after.unwrap_or(0).to_string(),
    };
    Ok(Json(json!({
        "data": page.iter().map(roster_provlog::entry_json).collect::<Vec<_>>(),
        "next_cursor": next,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> LogParams {
        let uri: axum::http::Uri = format!("/?{q}").parse().expect("a URI");
        Query::<LogParams>::try_from_uri(&uri)
            .expect("parameters")
            .0
    }

    fn refused(q: &str) -> String {
        match query(&params(q)) {
            Err(HostError::BadRequest(why)) => why,
            other => panic!("{q}: {other:?}"),
        }
    }

    #[test]
    fn empty_parameters_are_absent_ones() {
        let q = query(&params("after=&limit=&outcome=&action=&user=&client=")).expect("a query");
        assert_eq!(
            (q.after, q.limit, q.outcome, q.action, q.resource, q.client),
            (Some(0), 100, None, None, None, None)
        );
    }

    #[test]
    fn values_are_read_in_any_case_as_stored() {
        let q =
            query(&params("outcome=Refused&action=SEARCH&client=Okta&limit=5")).expect("a query");
        assert_eq!(q.outcome, Some(Outcome::Refused));
        assert_eq!(q.action.as_deref(), Some("search"));
        assert_eq!(q.client.as_deref(), Some("okta"));
        assert_eq!(q.limit, 5);
    }

    #[test]
    fn a_value_the_log_never_stores_is_refused_by_name() {
        assert!(refused("outcome=bogus").starts_with("outcome: \"bogus\" is not one of succeeded"));
        assert!(refused("action=bogus").contains("is not one of create, replace"));
        assert!(refused("client=azure").contains("is not one of entra, okta, onelogin, other"));
        assert!(refused(&format!("client={}", "x".repeat(5000))).len() < 200);
        assert!(refused("limit=0").contains("limit"));
        assert!(refused("after=-1").contains("after"));
    }
}
