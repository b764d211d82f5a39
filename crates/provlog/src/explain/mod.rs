//! Why a request was refused or failed, and what to do about it, in words the customer's IT
//! administrator acts on: the attribute and the value, the date a token expired, where the
//! setting is in their identity provider.
//!
//! The catalogue, one function per situation (the module's tests cover each with a request
//! an identity provider sends and Roster's real answer):
//!
//! - `auth`: no token, unknown token, expired token, revoked token, another organisation's
//!   token, expired access token, refused federated token, no trusted issuer; provisioning
//!   turned off, a plan without provisioning, groups turned off, a filter on a discovery
//!   endpoint; at the token endpoint: a wrong client secret, a refused or replayed client
//!   assertion, too many failures, a malformed token request.
//! - `data`: userName taken, group name taken, a required attribute missing, an unknown
//!   attribute, a value of the wrong type (and Entra's string booleans in strict mode), a
//!   name with invisible or control characters, too many values, a resource too large, a
//!   group member that does not exist, an unknown filter attribute, a filter on a hidden
//!   attribute, a malformed filter (and Entra's unquoted values in strict mode), an
//!   unsupported PATCH path, a PATCH that selects nothing, a read-only attribute changed,
//!   `If-Match` out of date.
//! - `request`: no such endpoint, a resource not found (read, updated — Entra updating a user
//!   deleted in Roster — or deleted), a method not allowed, a body too large, too many Bulk
//!   operations, the wrong media type, a body that is not JSON, Entra's PascalCase ops in
//!   strict mode, several Authorization headers, a time-out, the database unavailable,
//!   unreadable settings, and any other server failure.
//!
//! The detail of Roster's answer is parsed, not recomputed: the texts are the protocol
//! crate's and the server's (`roster_scim::Error`, `roster_server::ApiError`); a detail this
//! catalogue does not recognise still gets an explanation (the detail itself) and a hint.

mod auth;
mod data;
mod request;
mod values;

use time::{OffsetDateTime, UtcOffset, macros::format_description};

use crate::client::Client;
use crate::describe::Description;
use crate::view::{Endpoint, Kind, View};

/// Why a request was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Explained {
    /// A few words for the summary (`Refused: {short}`).
    pub(crate) short: String,
    /// What was wrong, specifically.
    pub(crate) explanation: String,
    /// What to do about it.
    pub(crate) hint: String,
}

impl Explained {
    /// The explanation and the hint are sentences: one that starts with a client's name
    /// (`the identity provider`) starts with a capital.
    fn new(
        short: impl Into<String>,
        explanation: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Explained {
            short: short.into(),
            explanation: sentence(explanation.into()),
            hint: sentence(hint.into()),
        }
    }
}

/// The explanation of a request answered with 4xx or 5xx; `None` for any other.
pub(crate) fn explain(v: &View<'_>, d: &Description) -> Option<Explained> {
    let status = v.seen.status;
    if status < 400 {
        return None;
    }
    if v.endpoint == Endpoint::Token {
        return Some(auth::token_endpoint(v));
    }
    Some(match status {
        401 => auth::unauthorized(v),
        403 => auth::forbidden(v),
        404 => request::not_found(v),
        405 => request::method_not_allowed(v),
        409 => data::conflict(v, d),
        412 => data::precondition(v, d),
        413 => request::too_large(v),
        415 => request::media_type(v),
        400 => match v.answer("scimType") {
            Some("invalidValue") => values::invalid_value(v, d),
            Some("invalidFilter") => data::filter(v),
            Some("invalidPath" | "noTarget") => data::path(v, d),
            Some("mutability") => data::mutability(v, d),
            Some("invalidSyntax") => request::syntax(v),
            _ => generic(v),
        },
        500..=599 => request::failure(v),
        _ => generic(v),
    })
}

/// Any other refusal: Roster's detail, and where to look.
fn generic(v: &View<'_>) -> Explained {
    let detail = v.detail();
    let short = match detail.split_once(". ") {
        Some((first, _)) => first,
        None => detail.trim_end_matches('.'),
    };
    let short = if short.is_empty() {
        format!("{} answered", v.seen.status)
    } else {
        short.chars().take(100).collect()
    };
    let explanation = if detail.is_empty() {
        format!("Roster answered {} to this request.", v.seen.status)
    } else {
        detail.to_owned()
    };
    Explained::new(
        short,
        explanation,
        format!(
            "Compare the request below with what {} meant to send; {} shows the same failure.",
            v.client.name(),
            where_logs(v.client)
        ),
    )
}

/// `text` with its first letter in capitals when it starts with a word (`the identity
/// provider …`), not with an attribute's name (`userName`, `emails[0].primary` stay as
/// SCIM spells them).
fn sentence(text: String) -> String {
    match text.strip_prefix("the ") {
        Some(rest) => format!("The {rest}"),
        None => text,
    }
}

/// Where the identity provider takes the Secret Token.
fn where_token(c: Client) -> &'static str {
    match c {
        Client::Entra => {
            "in Entra: Enterprise applications → the app → Provisioning → Admin Credentials → \
             Secret Token, then Test Connection and Save (if the job is in quarantine, Restart \
             provisioning)"
        }
        Client::Okta => {
            "in Okta: the app's Provisioning tab → Integration → Edit → Authentication Mode HTTP \
             Header, Authorization: Bearer, then Test Connector Configuration and Save"
        }
        Client::OneLogin => "in OneLogin: the app's Configuration → SCIM Bearer Token, then Save",
        Client::Other => "where the identity provider takes the bearer token (Secret Token)",
    }
}

/// Where the identity provider takes the Provisioning URL.
fn where_url(c: Client) -> &'static str {
    match c {
        Client::Entra => "Entra's Admin Credentials → Tenant URL",
        Client::Okta => "Okta's Provisioning → Integration → SCIM connector base URL",
        Client::OneLogin => "OneLogin's Configuration → SCIM Base URL",
        Client::Other => "the identity provider's SCIM base URL setting",
    }
}

/// Where the identity provider shows its failures.
fn where_logs(c: Client) -> &'static str {
    match c {
        Client::Entra => "Entra's Provisioning logs (the failed entry)",
        Client::Okta => "Okta's Dashboard → Tasks",
        Client::OneLogin => "OneLogin's Activity → Events",
        Client::Other => "the identity provider's provisioning log",
    }
}

/// How the identity provider stops provisioning.
fn how_to_stop(c: Client) -> &'static str {
    match c {
        Client::Entra => "in Entra, Provisioning → Stop provisioning",
        Client::Okta => {
            "in Okta, the app's Provisioning → To App: turn the provisioning actions off"
        }
        Client::OneLogin => "in OneLogin, the app's Provisioning: untick Enable provisioning",
        Client::Other => "in the identity provider, turn provisioning to this application off",
    }
}

/// `t` as an administrator reads it: `2026-12-04 02:22 UTC`.
fn when(t: OffsetDateTime) -> String {
    t.to_offset(UtcOffset::UTC)
        .format(format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// How long before `now` the instant `then` was: `3 days`, `2 hours`, `5 minutes`.
fn before(then: OffsetDateTime, now: OffsetDateTime) -> String {
    let d = now - then;
    let (n, unit) = if d.whole_days() >= 1 {
        (d.whole_days(), "day")
    } else if d.whole_hours() >= 1 {
        (d.whole_hours(), "hour")
    } else if d.whole_minutes() >= 1 {
        (d.whole_minutes(), "minute")
    } else {
        return "moments".to_owned();
    };
    crate::describe::count(n.unsigned_abs() as usize, unit)
}

/// The noun of the request's resource (`user`, `group`, or `resource`).
pub(super) fn noun(d: &Description) -> &'static str {
    d.kind.map_or("resource", Kind::noun)
}

/// The text between `open` and the next `close` after it.
fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests;
