//! Each object's outcome in the tenant's provisioning log (action `outbound`), in words.

use roster_store::{Kind, LogEntry, Outcome};

use crate::Engine;
use crate::object::{Context, Done, SyncError};

impl Engine {
    /// Writes an object's outcome to the tenant's provisioning log (direction: outbound).
    pub(crate) async fn log(
        &self,
        cx: &Context<'_>,
        kind: Kind,
        id: &str,
        done: &Done,
        error: Option<&SyncError>,
    ) {
        self.write_log(&[self.entry(cx, kind, id, done, error)])
            .await;
    }

    /// Writes entries to the provisioning log (one transaction); a failure is logged, and
    /// never stops provisioning.
    pub(crate) async fn write_log(&self, entries: &[LogEntry]) {
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.directory.append_log(entries.to_vec()).await {
            tracing::warn!(error = %e, "writing outbound entries to the provisioning log failed");
        }
    }

    /// An object's outcome as a provisioning-log entry (direction: outbound).
    pub(crate) fn entry(
        &self,
        cx: &Context<'_>,
        kind: Kind,
        id: &str,
        done: &Done,
        error: Option<&SyncError>,
    ) -> LogEntry {
        let (outcome, summary, explanation) = match error {
            None => (
                Outcome::Succeeded,
                format!(
                    "{} {} {} in {}",
                    capitalised(done.action),
                    kind.as_str().to_lowercase(),
                    done.name,
                    cx.target.name
                ),
                done.warning.clone().unwrap_or_default(),
            ),
            Some(e) => (
                Outcome::Failed,
                format!(
                    "Failed to provision {} {id} to {}",
                    kind.as_str().to_lowercase(),
                    cx.target.name
                ),
                e.to_string(),
            ),
        };
        LogEntry {
            seq: 0,
            tenant_id: cx.tenant.id().clone(),
            at: self.directory.now(),
            request_id: String::new(),
            duration_ms: 0,
            method: "OUTBOUND".into(),
            path: format!(
                "{}{}",
                cx.target.settings.url,
                match kind {
                    Kind::User => "/Users",
                    Kind::Group => "/Groups",
                }
            ),
            query: String::new(),
            status: if error.is_some() { 502 } else { 200 },
            scim_type: None,
            outcome,
            client: format!("target {}", cx.target.name),
            user_agent: String::new(),
            credential: format!("target {}", cx.target.name),
            action: "outbound".into(),
            resource_type: kind.as_str().into(),
            resource_id: id.to_owned(),
            resource_name: done.name.clone(),
            summary,
            explanation,
            hint: match error {
                Some(e) if e.is_credentials() => "The target refused Roster's credentials: \
                     paste a new token (`roster target set TENANT TARGET token=…`) and test the connection."
                    .into(),
                _ => String::new(),
            },
            normalizations: Vec::new(),
            request_body: String::new(),
            response_body: done.steps.join("\n"),
        }
    }
}

/// The action as the summary's first words: `Created`, `Updated`, …, and `Held for
/// approval:` for an action that waits.
fn capitalised(word: &str) -> String {
    if word == "pending approval" {
        return "Held for approval:".into();
    }
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
