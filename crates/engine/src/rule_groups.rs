//! The target's groups an entitlement rule puts a user in (`roster_outbound::rules::groups`):
//! the user is added to those it should be in and removed from those a rule put it in
//! before but no longer does; groups the target holds on its own are otherwise left alone.
//! What was put is kept with the object (`sent.rule_groups`), so that only changes are sent.

use roster_outbound::rules;
use roster_store::StoredResource;
use serde_json::{Value as Json, json};

use crate::object::{Context, Done, SyncError};

/// The names a rule put the user in last time.
pub(crate) fn before(sent: Option<&Json>) -> Vec<String> {
    sent.and_then(|s| s.get("rule_groups"))
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(str::to_owned))
        .collect()
}

impl Context<'_> {
    /// Brings the user's rule groups in the target in step; the names it is now in.
    pub(crate) async fn rule_groups(
        &self,
        user: &StoredResource,
        remote: &str,
        before: &[String],
        done: &mut Done,
    ) -> Result<Vec<String>, SyncError> {
        let member_of = crate::object::memberships(user);
        let wanted = rules::groups(&self.target.settings.rules, &user.data, &member_of);
        let mut now: Vec<String> = before
            .iter()
            .filter(|g| wanted.contains(g))
            .cloned()
            .collect();
        for name in wanted.iter().filter(|g| !before.contains(g)) {
            match self.client.find("/Groups", "displayName", name).await? {
                Some((group, _)) => {
                    let add = json!({"op": "add", "path": "members", "value": [{"value": remote}]});
                    self.client.patch("/Groups", &group, vec![add]).await?;
                    done.steps
                        .push(format!("added to the target's group {name:?} (a rule)"));
                    now.push(name.clone());
                }
                None => {
                    let warning = format!(
                        "the target has no group {name:?}, which a rule names: create it there, \
                         or refresh the entitlements"
                    );
                    done.steps.push(warning.clone());
                    done.warning = Some(warning);
                }
            }
        }
        for name in before.iter().filter(|g| !wanted.contains(g)) {
            if let Some((group, _)) = self.client.find("/Groups", "displayName", name).await? {
                let remove = json!({"op": "remove",
                    "path": format!("members[value eq \"{remote}\"]")});
                self.client.patch("/Groups", &group, vec![remove]).await?;
            }
            done.steps.push(format!(
                "removed from the target's group {name:?} (no rule puts it there now)"
            ));
        }
        now.sort();
        Ok(now)
    }
}
