//! Requests as identity providers send them, and Roster's answers, for the tests.

use roster_store::{LogEntry, TenantId};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::datetime;

use crate::{Refusal, Seen, entry};

/// What Entra's provisioning sends (see `client.rs`).
pub(crate) const ENTRA: &str = "Microsoft Azure AD SCIM provisioning 1.0.0";
/// What Okta sends.
pub(crate) const OKTA: &str = "Okta SCIM Client 1.0.0";
/// What OneLogin is set up to send.
pub(crate) const ONELOGIN: &str = "OneLogin SCIM";

/// When the requests of the tests arrive.
pub(crate) const AT: OffsetDateTime = datetime!(2026-12-04 09:30 UTC);

/// A request being built.
pub(crate) struct Req(Seen);

/// A request of `method` to `path` (below the tenant's base URL), answered 200 with nothing.
pub(crate) fn req(method: &str, path: &str) -> Req {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    Req(Seen {
        tenant: TenantId::new("bb95cc0fdeaabe85f34b0d7ecd8170bc"),
        at: AT,
        request_id: "0f6d2a9c-4b1e-4a53-9d7e-2f1c8b3a5e10".into(),
        duration_ms: 12,
        method: method.into(),
        path: path.into(),
        query: query.into(),
        status: 200,
        user_agent: String::new(),
        credential: "Secret Token …9JbY".into(),
        refusal: None,
        normalizations: Vec::new(),
        request_body: Vec::new(),
        response_body: Vec::new(),
        subject: None,
        holder: None,
    })
}

impl Req {
    /// Sent with this User-Agent.
    pub(crate) fn ua(mut self, agent: &str) -> Req {
        self.0.user_agent = agent.into();
        self
    }

    /// With this JSON body.
    pub(crate) fn json(self, body: Value) -> Req {
        self.body(&body.to_string())
    }

    /// With this body.
    pub(crate) fn body(mut self, body: &str) -> Req {
        self.0.request_body = body.as_bytes().to_vec();
        self
    }

    /// Answered so.
    pub(crate) fn answer(mut self, status: u16, body: &str) -> Req {
        self.0.status = status;
        self.0.response_body = body.as_bytes().to_vec();
        self
    }

    /// Answered so, with a JSON body.
    pub(crate) fn answer_json(self, status: u16, body: Value) -> Req {
        self.answer(status, &body.to_string())
    }

    /// The edge refused its credential so.
    pub(crate) fn refused(mut self, refusal: Refusal) -> Req {
        self.0.refusal = Some(refusal);
        self.0.credential.clear();
        self
    }

    /// The credential the edge accepted (or the token endpoint named).
    pub(crate) fn credential(mut self, credential: &str) -> Req {
        self.0.credential = credential.into();
        self
    }

    /// The handler named the resource it changed so.
    pub(crate) fn subject(mut self, name: &str) -> Req {
        self.0.subject = Some(name.into());
        self
    }

    /// The writer found the name it wanted held so.
    pub(crate) fn held_by(mut self, holder: crate::Holder) -> Req {
        self.0.holder = Some(holder);
        self
    }

    /// What the edge saw.
    pub(crate) fn seen(self) -> Seen {
        self.0
    }

    /// Its log entry.
    pub(crate) fn entry(self) -> LogEntry {
        entry(self.0)
    }
}

/// Asserts that `text` holds each of `parts`.
#[track_caller]
pub(crate) fn holds(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{p:?} is not in {text:?}");
    }
}
