//! The provisioning log's pure part. The HTTP edge sees a request to a tenant's SCIM URL or
//! token endpoint and its answer ([`Seen`]); [`entry`] turns that into the stored
//! [`LogEntry`]: what Roster did in words, which identity provider sent it, and for a
//! refusal an explanation and a hint an administrator acts on. Bodies are redacted
//! (passwords, anything that looks like a secret) and cut at [`BODY_LIMIT`] with a marker.
//!
//! Nothing here does I/O or reads a clock: the recorder (in `roster-server`) calls [`entry`]
//! off the request's path and writes the entries in batches.

mod client;
mod describe;
mod explain;
mod form;
mod json_scan;
mod redact;
#[cfg(test)]
mod testing;
mod view;

use roster_store::{LogEntry, Outcome, TenantId};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::view::{Endpoint, View};

/// How much of each body is kept (and captured by the edge).
pub const BODY_LIMIT: usize = 16 * 1024;

/// Every action an entry may have (`LogEntry::action`): what the API and the page filter by.
/// (`roster-store-sqlite` keeps its own copy, frozen: each name's place there is a bit stored
/// in its blocks.)
pub const ACTIONS: [&str; 11] = [
    "create",
    "replace",
    "update",
    "delete",
    "get",
    "list",
    "search",
    "bulk",
    "token",
    "discovery",
    "other",
];

/// Every client the log tells apart (`LogEntry::client`).
pub const CLIENTS: [&str; 4] = ["entra", "okta", "onelogin", "other"];

/// Why the edge refused a request's credential, as only the edge knows it (the answer itself
/// says the same generic words for all of them, so that a token reveals nothing to a caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization: Bearer …` header.
    NoCredential,
    /// No token anywhere has this value (mistyped, or never issued).
    UnknownToken,
    /// The tenant's token expired at this time.
    ExpiredToken(OffsetDateTime),
    /// The tenant's token was revoked (or replaced by a rotation) at this time.
    RevokedToken(OffsetDateTime),
    /// A live token of another tenant (the administrator pasted another organisation's).
    OtherTenant,
    /// An OAuth access token that expired at this time.
    ExpiredAccessToken(OffsetDateTime),
    /// A JWT from a trusted issuer, refused for this reason (the answer's detail).
    Federated(String),
}

/// Everything the edge saw of one request and its answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Seen {
    /// The tenant of the URL.
    pub tenant: TenantId,
    /// When the request arrived.
    pub at: OffsetDateTime,
    /// The `x-request-id` answered.
    pub request_id: String,
    /// How long the answer took.
    pub duration_ms: i64,
    /// The HTTP method.
    pub method: String,
    /// The path below the tenant's SCIM base URL (`/Users`, `/Users/{id}`, `/Groups/{id}`,
    /// `/Bulk`, `/Schemas`, …), or `/oauth/token` for the token endpoint.
    pub path: String,
    /// The query string without `?` (as sent: Entra encodes spaces as `+`).
    pub query: String,
    /// The status answered.
    pub status: u16,
    /// The `User-Agent` header (empty when absent).
    pub user_agent: String,
    /// The credential the edge accepted, never the secret (`token "Entra" …q9Zc`); empty
    /// when none was.
    pub credential: String,
    /// Why the credential was refused, when it was.
    pub refusal: Option<Refusal>,
    /// The normalisations the dialect applied (`x-roster-normalizations`).
    pub normalizations: Vec<String>,
    /// The request body's first [`BODY_LIMIT`] bytes (and one more when it was longer).
    pub request_body: Vec<u8>,
    /// The response body's first [`BODY_LIMIT`] bytes (and one more when it was longer).
    pub response_body: Vec<u8>,
    /// The name of the resource a PATCH or DELETE changed, as the handler knew it after the
    /// change (the answer to a group PATCH and to a DELETE has no body to read it from).
    pub subject: Option<String>,
    /// For a name already taken (409), who holds it, as the writer found it afterwards.
    pub holder: Option<Holder>,
}

/// The resource that holds a name a request wanted (see [`taken_name`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Its id.
    pub id: String,
    /// Its name as stored (the request's may differ in case or Unicode form).
    pub name: String,
    /// Its `externalId`, if it has one.
    pub external_id: Option<String>,
    /// Whether it is deactivated (a user with `active: false`).
    pub inactive: bool,
}

/// A name a refused request wanted and another resource has: for a `409` on `/Users` or
/// `/Groups`, whether it is a user's, and the `userName` or `displayName` asked for. The
/// writer looks its holder up, so that the explanation names it.
pub fn taken_name(seen: &Seen) -> Option<(bool, String)> {
    if seen.status != 409 {
        return None;
    }
    let v = View::new(seen);
    let kind = v.kind()?;
    let name = v.request_str(kind.name_attribute())?;
    Some((kind == view::Kind::User, name.to_owned()))
}

/// The longest User-Agent kept, in characters.
const USER_AGENT_LIMIT: usize = 256;

/// `text` cut after `chars` characters, in place: the edge has clipped it already, so it is
/// seldom longer and then not copied.
fn at_most(mut text: String, chars: usize) -> String {
    if let Some((end, _)) = text.char_indices().nth(chars) {
        text.truncate(end);
    }
    text
}

/// The log entry of what the edge saw: what the request did in words, which identity
/// provider sent it, for a refusal or failure why and what to do, and both bodies redacted
/// and cut. `seq` is 0 until the entry is stored.
pub fn entry(mut seen: Seen) -> LogEntry {
    // A token in the URL (`?access_token=…`) is redacted before anything reads the URL, so
    // that no summary repeats it either.
    seen.path = redact::stored_target(std::mem::take(&mut seen.path));
    seen.query = redact::stored_target(std::mem::take(&mut seen.query));
    let v = View::new(&seen);
    let d = describe::describe(&v);
    let explained = explain::explain(&v, &d);
    let outcome = match seen.status {
        500.. => Outcome::Failed,
        400..=499 => Outcome::Refused,
        _ => Outcome::Succeeded,
    };
    let summary = match (&explained, outcome) {
        (Some(e), Outcome::Failed) => format!("Failed: {}", e.short),
        (Some(e), _) => format!("Refused: {}", e.short),
        (None, _) => d.summary.clone(),
    };
    // What the log wrote from the request's values (a search's filter, a name, the value an
    // explanation quotes) may hold a credential the bodies lost.
    let summary = redact::scrubbed(summary);
    let (explanation, hint) = explained.map_or_else(Default::default, |e| {
        (redact::scrubbed(e.explanation), redact::scrubbed(e.hint))
    });
    let scim_type = v.answer("scimType").map(str::to_owned);
    let client = v.client.as_str().to_owned();
    let form = v.endpoint == Endpoint::Token;
    let request_body = redact::stored_body(seen.request_body, form);
    let response_body = redact::stored_body(seen.response_body, false);
    LogEntry {
        seq: 0,
        tenant_id: seen.tenant,
        at: seen.at,
        request_id: seen.request_id,
        duration_ms: seen.duration_ms,
        method: seen.method,
        path: seen.path,
        query: seen.query,
        status: seen.status,
        scim_type,
        outcome,
        client,
        user_agent: at_most(seen.user_agent, USER_AGENT_LIMIT),
        credential: seen.credential,
        action: d.action.to_owned(),
        resource_type: d
            .kind
            .map(|k| k.resource_type().to_owned())
            .unwrap_or_default(),
        // A create refused for a name another resource holds has no id of its own: the entry
        // is about the holder, so that a page about that resource (by its id, too) shows it.
        resource_id: redact::scrubbed(match (d.id.is_empty(), &seen.holder) {
            (true, Some(h)) => h.id.clone(),
            _ => d.id,
        }),
        resource_name: redact::scrubbed(d.name),
        summary,
        explanation,
        hint,
        normalizations: seen.normalizations,
        request_body,
        response_body,
    }
}

/// An entry as the tenant API (`/api/v1/tenants/{id}/provisioning-logs`) and the page's
/// JSON Lines export give it: one shape for both.
pub fn entry_json(e: &LogEntry) -> Value {
    json!({
        "cursor": e.seq.to_string(),
        "time": roster_scim::value::format_datetime(e.at),
        "request_id": e.request_id,
        "duration_ms": e.duration_ms,
        "method": e.method,
        "path": e.path,
        "query": e.query,
        "status": e.status,
        "scim_type": e.scim_type,
        "outcome": e.outcome.as_str(),
        "client": e.client,
        "user_agent": e.user_agent,
        "credential": e.credential,
        "action": e.action,
        "resource": {"type": e.resource_type, "id": e.resource_id, "name": e.resource_name},
        "summary": e.summary,
        "explanation": e.explanation,
        "hint": e.hint,
        "normalizations": e.normalizations,
        "request_body": e.request_body,
        "response_body": e.response_body,
    })
}

#[cfg(test)]
mod tests;
