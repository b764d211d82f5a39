//! Actions that wait for an administrator: the target's approvals (any of create, update,
//! deactivate, delete) and its accidental-deletions threshold (a cycle's removals, counted
//! when the cycle ends or the changes are read up to the log's head, however many batches
//! that took, with those sent within the threshold over the target's interval: within the
//! threshold they are sent at once, past it they all wait for approval as a batch, and none
//! is sent).
//!
//! The store keeps each waiting action with the exact request (`roster_store::approvals`). An
//! approved action is sent when its object is brought in step again and the engine plans the
//! same request (the same digest): a change of the user since the approval makes a new
//! proposal instead, replacing the old one. A provision on demand is not counted against the
//! threshold (an administrator asked for it), but waits for approval like any other.

use roster_directory::DirectoryError;
use roster_outbound::plan::{self, Action};
use roster_store::{Approval, Kind, StoreError};
use serde_json::{Value as Json, json};

use crate::Engine;
use crate::object::{Context, Done, SyncError};

/// Approved actions sent in one step at most.
const BATCH: u64 = 500;

/// Who approves the removals found within the threshold (kept on them once sent, so that
/// those sent in the last interval are counted with the next ones).
const WITHIN: &str = "within the accidental-deletions threshold";

/// What the gate says of an action.
pub(crate) enum Gate {
    /// Send it; mark this approval sent once it is.
    Send(Option<String>),
    /// Hold it: the action's label and the step that says why.
    Hold(&'static str, String),
}

/// What an action sends: its name (`create`, `update`, `deactivate`, `delete`), method,
/// path and body (a password replaced by a mark); `None` for an action that sends nothing.
pub(crate) fn parts(
    action: &Action,
    endpoint: &str,
) -> Option<(&'static str, &'static str, String, Option<Json>)> {
    let patch = |ops: Vec<Json>| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": ops,
        })
    };
    let (name, method, path, mut body) = match action {
        Action::Nothing(_) | Action::Lookup(_) => return None,
        Action::Create(body) => ("create", "POST", endpoint.to_owned(), Some(body.clone())),
        Action::Update { target_id, ops } => (
            "update",
            "PATCH",
            format!("{endpoint}/{target_id}"),
            Some(patch(ops.iter().map(|o| o.to_json()).collect())),
        ),
        Action::Deactivate(target_id) => (
            "deactivate",
            "PATCH",
            format!("{endpoint}/{target_id}"),
            Some(patch(vec![
                json!({"op": "replace", "path": "active", "value": false}),
            ])),
        ),
        Action::Delete(target_id) => ("delete", "DELETE", format!("{endpoint}/{target_id}"), None),
    };
    if let Some(b) = body.as_mut() {
        redact(b);
    }
    Some((name, method, path, body))
}

/// The action's name and its request as an approval keeps it.
fn request(action: &Action, endpoint: &str) -> Option<(&'static str, Json)> {
    let (name, method, path, body) = parts(action, endpoint)?;
    Some((name, json!({"method": method, "path": path, "body": body})))
}

/// A password (a create's, or an update's operation) replaced by a mark: it changes on every
/// change, and is never stored.
fn redact(body: &mut Json) {
    if let Some(o) = body.as_object_mut()
        && o.contains_key("password")
    {
        o.insert("password".into(), json!("(a new random password)"));
    }
    if let Some(ops) = body.get_mut("Operations").and_then(Json::as_array_mut) {
        for op in ops {
            if op.get("path").and_then(Json::as_str) == Some("password") {
                op["value"] = json!("(a new random password)");
            }
        }
    }
}

impl Context<'_> {
    /// Whether `action` of this object may be sent now.
    pub(crate) async fn gate(
        &self,
        kind: Kind,
        id: &str,
        name: &str,
        action: &Action,
        endpoint: &str,
    ) -> Result<Gate, SyncError> {
        let Some((what, request)) = request(action, endpoint) else {
            return Ok(Gate::Send(None));
        };
        let s = &self.target.settings;
        let by_policy = s.approvals.iter().any(|a| a.as_str() == what);
        let removal = matches!(what, "deactivate" | "delete");
        let by_threshold = removal && !self.on_demand && s.deletion_threshold.is_some();
        if !by_policy && !by_threshold {
            return Ok(Gate::Send(None));
        }
        let proposal = Approval {
            id: format!(
                "apr_{}",
                self.directory.secrets().resource_id().replace('-', "")
            ),
            tenant_id: self.tenant.id().clone(),
            target_id: self.target.id.clone(),
            kind,
            source_id: id.to_owned(),
            name: name.to_owned(),
            action: what.to_owned(),
            digest: plan::digest(&json!({"action": what, "request": request})),
            request,
            reason: if by_policy { "policy" } else { "threshold" }.into(),
            state: if by_policy { "pending" } else { "waiting" }.into(),
            created_at: crate::view::now_ms(self.directory),
            decided_at: None,
            decided_by: None,
        };
        let got = self
            .directory
            .store()
            .propose_approval(&proposal)
            .await
            .map_err(DirectoryError::from)?;
        let new = got.id == proposal.id;
        Ok(match got.state.as_str() {
            "approved" => Gate::Send(Some(got.id)),
            "rejected" => Gate::Hold(
                "skipped",
                format!(
                    "{what} rejected by {}: not sent while the change stays the same",
                    got.decided_by.as_deref().unwrap_or("an administrator")
                ),
            ),
            "waiting" => Gate::Hold(
                if new { "waiting" } else { "unchanged" },
                format!(
                    "{what} counted against the accidental-deletions threshold when the cycle ends"
                ),
            ),
            _ => Gate::Hold(
                if new { "pending approval" } else { "unchanged" },
                format!("{what} waits for an administrator's approval"),
            ),
        })
    }

    /// Marks an approved action sent.
    pub(crate) async fn sent(&self, approval: Option<String>) -> Result<(), SyncError> {
        if let Some(id) = approval {
            self.directory
                .store()
                .decide_approvals(
                    self.tenant.id(),
                    &self.target.id,
                    &[id],
                    "approved",
                    "sent",
                    None,
                    crate::view::now_ms(self.directory),
                )
                .await
                .map_err(DirectoryError::from)?;
        }
        Ok(())
    }
}

impl Engine {
    /// At the end of a cycle, or of the changes read up to the log's head: the removals
    /// counted, sent at once when within the threshold, else all held for approval; the
    /// run's error says so.
    pub(crate) async fn weigh_removals(
        &self,
        cx: &Context<'_>,
        run: &mut roster_store::TargetRun,
    ) -> Result<(), DirectoryError> {
        let store = self.directory.store();
        let (tenant, target) = (cx.tenant.id(), &cx.target.id);
        let waiting = store.count_approvals(tenant, target, "waiting").await?;
        if waiting == 0 {
            return Ok(());
        }
        // Woken while this step ran (an assignment taken away, a change of settings): a cycle
        // follows at once, and weighs these removals with its own. (A step that read the
        // assignments after they changed would otherwise weigh part of one change alone.)
        if store
            .target_run(tenant, target)
            .await?
            .is_some_and(|r| r.next_at == 0)
        {
            return Ok(());
        }
        let now = self.now_ms();
        let Some(threshold) = cx.target.settings.deletion_threshold else {
            // Switched off meanwhile: nothing waits for it.
            store
                .decide_approvals(
                    tenant,
                    target,
                    &[],
                    "waiting",
                    "approved",
                    Some("no threshold"),
                    now,
                )
                .await?;
            return self.send_approved(cx).await;
        };
        let (users, groups) = store.count_target_objects(tenant, target).await?;
        // The removals sent within the threshold over the last interval count too, as they
        // would in one cycle of that interval: a burst that arrives a few changes at a time
        // is held once it crosses the threshold.
        let minutes = cx.target.settings.interval_minutes;
        let since = now - i64::from(minutes) * 60_000;
        let recent = store
            .count_approvals_since(tenant, target, "sent", WITHIN, since)
            .await?;
        if threshold.crossed(waiting + recent, users + groups) {
            store
                .decide_approvals(tenant, target, &[], "waiting", "pending", None, now)
                .await?;
            let sent = if recent > 0 {
                format!(", with the {recent} sent in the last {minutes} minutes")
            } else {
                String::new()
            };
            let why = format!(
                "accidental-deletions threshold: {waiting} deletions and deactivations wait for \
                 approval (more than {threshold}{sent}); none was sent"
            );
            tracing::warn!(tenant = %tenant, target = %target, waiting, "{why}");
            self.directory
                .record_sign_in_event(
                    tenant,
                    "target.deletions_held",
                    json!({"target": {"id": target, "name": cx.target.name},
                        "waiting": waiting, "sent_recently": recent,
                        "threshold": threshold.to_string()}),
                )
                .await?;
            run.error = Some(why);
            return Ok(());
        }
        store
            .decide_approvals(
                tenant,
                target,
                &[],
                "waiting",
                "approved",
                Some(WITHIN),
                now,
            )
            .await?;
        self.send_approved(cx).await
    }

    /// What the run says while actions wait for approval.
    pub(crate) async fn waiting_words(
        &self,
        cx: &Context<'_>,
    ) -> Result<Option<String>, DirectoryError> {
        let pending = self
            .directory
            .store()
            .count_approvals(cx.tenant.id(), &cx.target.id, "pending")
            .await?;
        Ok(
            (pending > 0)
                .then(|| format!("{pending} changes wait for an administrator's approval")),
        )
    }

    /// Sends approved actions (up to a batch), each object brought in step again.
    pub(crate) async fn send_approved(&self, cx: &Context<'_>) -> Result<(), DirectoryError> {
        let approved = self
            .directory
            .store()
            .approvals(cx.tenant.id(), Some(&cx.target.id), &["approved"], BATCH)
            .await?;
        for a in approved.iter().rev() {
            let object = match self
                .directory
                .get(cx.tenant, a.kind, &a.source_id, true)
                .await
            {
                Ok(o) => Some(o),
                Err(DirectoryError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            let outcome = cx.sync(a.kind, &a.source_id, object.as_ref()).await;
            cx.flush().await?;
            self.progress.count(outcome.as_ref().ok().map(|d| d.action));
            match outcome {
                Ok(done) if done.worth_logging() => {
                    self.log(cx, a.kind, &a.source_id, &done, None).await
                }
                Ok(_) => {}
                Err(e) => {
                    self.log(cx, a.kind, &a.source_id, &Done::default(), Some(&e))
                        .await
                }
            }
        }
        Ok(())
    }
}

impl From<StoreError> for SyncError {
    fn from(e: StoreError) -> SyncError {
        SyncError::Directory(e.into())
    }
}
