//! The trace of one sign-in attempt: its steps in order and how it ended, written to the
//! tenant's provisioning log (where the administrator reads it) and, for its end, to the
//! change log (`user.signed_in`, `sso.failed`).

use std::time::Instant;

use axum::http::HeaderMap;
use roster_directory::sso::Connection;
use roster_sso::sign_in::Failure;
use roster_store::{LogEntry, Outcome, TenantId};
use serde_json::json;
use time::OffsetDateTime;

use crate::SignIn;

/// A sign-in attempt being traced.
pub struct Trace {
    started: Instant,
    at: OffsetDateTime,
    request_id: String,
    user_agent: String,
    path: String,
    steps: Vec<String>,
}

/// The user a sign-in ended with.
pub struct SignedIn<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

impl Trace {
    /// A trace of the request at `path`.
    pub fn start(signin: &SignIn, headers: &HeaderMap, path: String) -> Trace {
        let text = |name: &str, max: usize| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(max).collect::<String>())
                .unwrap_or_default()
        };
        Trace {
            started: Instant::now(),
            at: signin.directory().now(),
            request_id: text("x-request-id", 64),
            user_agent: text("user-agent", 256),
            path,
            steps: Vec::new(),
        }
    }

    /// Notes a step that passed.
    pub fn step(&mut self, text: impl Into<String>) {
        self.steps.push(format!("✓ {}", text.into()));
    }

    /// Writes the attempt's end: a log entry with its steps, and an event; returns the steps.
    pub async fn finish(
        mut self,
        signin: &SignIn,
        tenant: &TenantId,
        connection: &Connection,
        end: Result<SignedIn<'_>, &Failure>,
    ) -> Vec<String> {
        let vendor = connection.preset.vendor();
        let (outcome, status, summary, explanation, hint, user) = match end {
            Ok(user) => {
                self.steps
                    .push(format!("✓ handed to the application as user {}", user.id));
                (
                    Outcome::Succeeded,
                    303,
                    format!("Signed in {} through {}", user.name, connection.name),
                    String::new(),
                    String::new(),
                    Some((user.id.to_owned(), user.name.to_owned())),
                )
            }
            Err(failure) => {
                self.steps.push(format!("✗ {failure}"));
                (
                    Outcome::Refused,
                    403,
                    format!(
                        "Refused sign-in through {}: {}",
                        connection.name,
                        failure.code()
                    ),
                    failure.to_string(),
                    failure.hint(vendor),
                    None,
                )
            }
        };
        let (resource_id, resource_name) = user.clone().unwrap_or_default();
        let explanation: String = explanation.chars().take(1000).collect();
        let entry = LogEntry {
            seq: 0,
            tenant_id: tenant.clone(),
            at: self.at,
            request_id: self.request_id.clone(),
            duration_ms: i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX),
            method: "POST".into(),
            path: self.path.clone(),
            query: String::new(),
            status,
            scim_type: None,
            outcome,
            client: connection.preset.name().into(),
            user_agent: self.user_agent.clone(),
            credential: format!("SSO connection {}", connection.name),
            action: "sign-in".into(),
            resource_type: if user.is_some() {
                "User".into()
            } else {
                String::new()
            },
            resource_id,
            resource_name,
            summary,
            explanation: explanation.clone(),
            hint: hint.clone(),
            normalizations: Vec::new(),
            request_body: String::new(),
            response_body: self.steps.join("\n"),
        };
        if let Err(e) = signin.directory().append_log(vec![entry]).await {
            tracing::warn!(error = %e, "writing a sign-in's trace to the provisioning log failed");
        }
        let (event_type, data) = match &user {
            Some((id, name)) => (
                "user.signed_in",
                json!({"user": {"id": id, "userName": name}, "connection": connection.name, "protocol": connection.protocol_name()}),
            ),
            None => (
                "sso.failed",
                json!({"connection": connection.name, "reason": explanation, "hint": hint}),
            ),
        };
        if let Err(e) = signin
            .directory()
            .record_sign_in_event(tenant, event_type, data)
            .await
        {
            tracing::warn!(error = %e, "recording a sign-in's event failed");
        }
        self.steps
    }
}
