//! The mass-change hold on the Provisioning & SSO page: a banner while deactivations and
//! deletions are held, with what is held and the two decisions (see
//! `roster_directory::hold`).

use crate::form::PageForm;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use roster_directory::hold::{HOLD_WINDOW_MINUTES, HoldStatus};
use roster_store::HoldEnd;

use crate::pages::not_found;
use crate::portal::{Plain, access, failed, forbidden};
use crate::view::when;
use crate::{ConsoleState, see_other};

/// The banner of an active hold.
pub struct HoldBanner {
    pub since: String,
    pub threshold: String,
    pub removals: u64,
    pub window: i64,
    pub total: u64,
    /// Held events by type, in words.
    pub rows: Vec<(String, u64)>,
}

/// The banner, when the hold is active.
pub fn banner(status: Option<HoldStatus>) -> Option<HoldBanner> {
    let s = status.filter(|s| s.hold.is_active())?;
    Some(HoldBanner {
        since: when(s.hold.started_at),
        threshold: match s.hold.threshold.strip_suffix('%') {
            Some(p) => format!("{p}% of its users"),
            None => format!("{} users", s.hold.threshold),
        },
        removals: s.hold.removals,
        window: HOLD_WINDOW_MINUTES,
        total: s.total(),
        rows: s
            .held
            .iter()
            .map(|(t, n)| (words(t).to_owned(), *n))
            .collect(),
    })
}

fn words(event_type: &str) -> &str {
    match event_type {
        "user.deactivated" => "users deactivated",
        "user.deleted" => "users deleted",
        "user.reactivated" => "users reactivated since",
        "user.updated" => "updates of those users",
        "group.member_removed" => "removals from groups",
        "group.member_added" => "additions to groups",
        other => other,
    }
}

/// `POST /portal/{slug}/hold/{release|discard}`.
pub async fn decide(
    State(state): State<ConsoleState>,
    Path((slug, decision)): Path<(String, String)>,
    headers: HeaderMap,
    PageForm(form): PageForm<Plain>,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    if !viewer.csrf_ok(&form.csrf) {
        return forbidden();
    }
    let end = match decision.as_str() {
        "release" => HoldEnd::Release,
        "discard" => HoldEnd::Discard,
        _ => return not_found(),
    };
    let by = viewer.who();
    match state.directory.end_hold(&tenant.id, end, &by).await {
        Ok(_) => see_other(&format!(
            "/portal/{}?done=hold-{}",
            tenant.slug,
            end.as_str()
        )),
        Err(roster_directory::DirectoryError::NotFound { .. }) => {
            see_other(&format!("/portal/{}", tenant.slug))
        }
        Err(e) => failed(&e),
    }
}
