//! The provisioning log's records: one row per request an identity provider sent to a
//! tenant's SCIM URL or token endpoint, with what Roster did and, for a refusal, why.

use time::OffsetDateTime;

use crate::TenantId;

/// How a logged request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// 2xx (a list or filter that finds nothing is a 200: it succeeded).
    Succeeded,
    /// 4xx: the request was refused; the row says why and what to do.
    Refused,
    /// 5xx: Roster failed.
    Failed,
}

impl Outcome {
    /// Its stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
        }
    }

    /// The outcome named `name`.
    pub fn parse(name: &str) -> Option<Outcome> {
        [Outcome::Succeeded, Outcome::Refused, Outcome::Failed]
            .into_iter()
            .find(|o| o.as_str() == name)
    }
}

/// One logged request.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    /// Its place in the tenant's log: increasing, the cursor of readers (0 before it is
    /// stored).
    pub seq: i64,
    /// The tenant whose URL was called.
    pub tenant_id: TenantId,
    /// When the request arrived.
    pub at: OffsetDateTime,
    /// The `x-request-id` answered.
    pub request_id: String,
    /// How long Roster took, in milliseconds.
    pub duration_ms: i64,
    /// The HTTP method.
    pub method: String,
    /// The path below the tenant's base URL (`/Users/…`), or `/oauth/token`.
    pub path: String,
    /// The query string, without the `?` (empty when none).
    pub query: String,
    /// The HTTP status answered.
    pub status: u16,
    /// The SCIM `scimType` of an error answer.
    pub scim_type: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// The identity provider, as the User-Agent tells it (`entra`, `okta`, `onelogin`,
    /// `other`).
    pub client: String,
    /// The User-Agent as sent (cut at 256 characters).
    pub user_agent: String,
    /// The credential used, never the secret: `token "Entra" …q9Zc`, `OAuth client rci_…`,
    /// `federated https://…`; empty when none was accepted.
    pub credential: String,
    /// What kind of operation it was: `create`, `replace`, `update`, `delete`, `get`,
    /// `list`, `search`, `bulk`, `token`, `discovery`, `other`.
    pub action: String,
    /// `User`, `Group`, or empty.
    pub resource_type: String,
    /// The resource's id, when known.
    pub resource_id: String,
    /// Its userName or displayName, when known.
    pub resource_name: String,
    /// What Roster did, in words ("Created user ada@contoso.com").
    pub summary: String,
    /// For a refusal or failure: what was wrong.
    pub explanation: String,
    /// For a refusal or failure: what to do about it.
    pub hint: String,
    /// The normalisations the dialect applied (as `x-roster-normalizations` names them).
    pub normalizations: Vec<String>,
    /// The request body, secrets redacted, cut at 16 KiB with a marker.
    pub request_body: String,
    /// The response body, secrets redacted, cut at 16 KiB with a marker.
    pub response_body: String,
}

/// Which of a tenant's log entries to read, newest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LogQuery {
    /// Only entries before this `seq` (the next page's cursor), newest first; from the newest
    /// when `None`. Ignored when `after` is given.
    pub before: Option<i64>,
    /// Only entries after this `seq`, oldest first (a reader catching up, as with the event
    /// feed's `after`).
    pub after: Option<i64>,
    /// At most this many (the caller caps it).
    pub limit: u32,
    /// Only entries that ended so.
    pub outcome: Option<Outcome>,
    /// Only this kind of operation.
    pub action: Option<String>,
    /// Only entries about this resource: its id, or its userName or displayName, compared
    /// without case.
    pub resource: Option<String>,
    /// Only entries of this client (`entra`, `okta`, `onelogin`, `other`).
    pub client: Option<String>,
    /// Only entries at or after this time.
    pub since: Option<OffsetDateTime>,
    /// Only entries before this time.
    pub until: Option<OffsetDateTime>,
}

/// Counts of a tenant's requests since a time, for the page's health summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCounts {
    /// Requests.
    pub total: u64,
    /// Of which refused.
    pub refused: u64,
    /// Of which failed.
    pub failed: u64,
}
