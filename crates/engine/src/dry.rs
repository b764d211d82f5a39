//! A dry run of a whole cycle: every user and group of the tenant is planned as a reconciling
//! cycle would plan it, against what Roster knows the target holds, and nothing is sent (not
//! even the lookups a create is preceded by: an object Roster does not know the target holds
//! is reported as a create, "unless the target holds a match"). What it gives: counts per
//! action and object kind, and each request that would be sent, up to [`MAX_LISTED`] of them.
//!
//! Deletions at the source are not in it: a cycle learns of them from the change log as they
//! happen, not by going through the directory.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use roster_directory::DirectoryError;
use roster_outbound::plan::Action;
use roster_store::{Kind, StoredResource, TenantId};
use serde::Serialize;
use serde_json::{Value as Json, json};

use crate::Engine;
use crate::object::Context;

/// The most requests a dry run lists (the counts cover everything).
pub const MAX_LISTED: usize = 10_000;

/// One request a cycle would send.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    /// `create`, `update`, `deactivate`, `delete` or `members`.
    pub action: &'static str,
    /// `User` or `Group`.
    pub kind: &'static str,
    /// The object's id at the source.
    pub id: String,
    /// Its userName or displayName.
    pub name: String,
    /// The request: method and path (relative to the target's base URL).
    pub method: &'static str,
    /// The path.
    pub path: String,
    /// Its body, if any.
    pub body: Option<Json>,
    /// Why, in words.
    pub steps: Vec<String>,
}

/// What a dry run collects while it goes.
#[derive(Debug, Default)]
pub struct Planner {
    counts: BTreeMap<String, u64>,
    listed: Vec<Planned>,
    truncated: bool,
}

impl Planner {
    fn count(&mut self, kind: Kind, action: &str) {
        *self
            .counts
            .entry(format!("{} {action}", kind.as_str()))
            .or_default() += 1;
    }

    fn list(&mut self, planned: Planned) {
        if self.listed.len() < MAX_LISTED {
            self.listed.push(planned);
        } else {
            self.truncated = true;
        }
    }

    /// Records what `action` would send; returns the action's name.
    pub(crate) fn add(
        &mut self,
        kind: Kind,
        id: &str,
        name: &str,
        action: &Action,
        endpoint: &str,
        steps: &[String],
    ) -> &'static str {
        let Some((what, method, path, body)) = crate::approval::parts(action, endpoint) else {
            let what = if steps.iter().any(|s| s.starts_with("out of scope")) {
                "skipped"
            } else {
                "unchanged"
            };
            self.count(kind, what);
            return what;
        };
        self.count(kind, what);
        self.list(Planned {
            action: what,
            kind: kind.as_str(),
            id: id.to_owned(),
            name: name.to_owned(),
            method,
            path,
            body,
            steps: steps.to_vec(),
        });
        what
    }

    /// Records a group's member changes.
    pub(crate) fn members(
        &mut self,
        id: &str,
        name: &str,
        path: &str,
        ops: Vec<Json>,
    ) -> &'static str {
        self.count(Kind::Group, "members");
        self.list(Planned {
            action: "members",
            kind: Kind::Group.as_str(),
            id: id.to_owned(),
            name: name.to_owned(),
            method: "PATCH",
            path: path.to_owned(),
            body: Some(patch_body(ops)),
            steps: Vec::new(),
        });
        "members"
    }
}

fn patch_body(ops: Vec<Json>) -> Json {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": ops,
    })
}

/// A dry run's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DryRun {
    /// How many objects each action would concern, keyed `User create`, `Group members`…
    pub counts: BTreeMap<String, u64>,
    /// The requests, in order, up to [`MAX_LISTED`].
    pub requests: Vec<Planned>,
    /// Whether more requests would be sent than are listed.
    pub truncated: bool,
    /// Objects that could not be planned (a mapping that fails on them), with why.
    pub errors: Vec<(String, String)>,
}

impl Engine {
    /// A dry run of a whole cycle of `target` (see the module documentation).
    pub async fn dry_run(&self, tenant: &TenantId, target: &str) -> Result<DryRun, DirectoryError> {
        let target = self.directory.target(tenant, target).await?;
        let (ctx, target) = self.context_parts(tenant, &target.id).await?;
        // Never used: nothing is sent.
        let client = self.client(&target)?;
        let assigned = self.assignments(tenant, &target).await?;
        let cx = Context {
            dry: Some(std::sync::Mutex::default()),
            ..Context::new(&self.directory, &ctx, &target, &client, assigned)?
        };
        let mut errors = Vec::new();
        let mut kinds = vec![Kind::User];
        if target.settings.provision_groups {
            kinds.push(Kind::Group);
        }
        for kind in kinds {
            let mut after = 0;
            loop {
                let keyed = self
                    .directory
                    .resources_after(tenant, kind, after, 500)
                    .await?;
                let Some((last, _)) = keyed.last() else { break };
                after = *last;
                let page: Vec<StoredResource> = keyed.into_iter().map(|(_, o)| o).collect();
                let plans: Vec<_> = page
                    .iter()
                    .map(|o| {
                        let cx = &cx;
                        async move { (o, cx.sync(kind, &o.id, Some(o)).await) }
                    })
                    .collect();
                let outcomes: Vec<_> = futures_util::stream::iter(plans)
                    .buffered(16)
                    .collect()
                    .await;
                for (object, outcome) in outcomes {
                    if let Err(e) = outcome {
                        errors.push((object.id.clone(), e.to_string()));
                    }
                }
                if page.len() < 500 {
                    break;
                }
            }
        }
        let planner = cx
            .dry
            .map(|m| m.into_inner().unwrap_or_else(|e| e.into_inner()))
            .unwrap_or_default();
        Ok(DryRun {
            counts: planner.counts,
            requests: planner.listed,
            truncated: planner.truncated,
            errors,
        })
    }
}

/// What the rules make of one user, nothing sent ("Check rule with users").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// The user's id.
    pub id: String,
    /// Its userName.
    pub name: String,
    /// Its roles, each with why.
    pub roles: Vec<(String, String)>,
    /// Whether the target would receive it, and the action (`create`, `update`,
    /// `unchanged`, `skipped`…).
    pub action: &'static str,
    /// Every step: scope, the rules that matched and what they set, the plan.
    pub steps: Vec<String>,
    /// The request it would send, if any.
    pub request: Option<Planned>,
    /// Why it cannot be planned, if it cannot.
    pub error: Option<String>,
}

impl Engine {
    /// Checks the target's roles and rules with these users (ids), as a dry run does.
    pub async fn check_rules(
        &self,
        tenant: &TenantId,
        target: &str,
        users: &[String],
    ) -> Result<Vec<Check>, DirectoryError> {
        let target = self.directory.target(tenant, target).await?;
        let (ctx, target) = self.context_parts(tenant, &target.id).await?;
        let client = self.client(&target)?;
        let assigned = self.assignments(tenant, &target).await?;
        let cx = Context {
            dry: Some(std::sync::Mutex::default()),
            on_demand: true,
            ..Context::new(&self.directory, &ctx, &target, &client, assigned)?
        };
        let mut out = Vec::new();
        for id in users.iter().take(MAX_CHECKED) {
            let object = self.directory.get(&ctx, Kind::User, id, true).await?;
            let groups = crate::object::memberships(&object);
            let roles = ctx.settings.roles.of(id, &object.data, &groups);
            let outcome = cx.sync(Kind::User, id, Some(&object)).await;
            let request = cx.dry.as_ref().and_then(|d| {
                let mut planner = d.lock().unwrap_or_else(|e| e.into_inner());
                planner.listed.pop().filter(|p| &p.id == id)
            });
            let name = object
                .data
                .get("userName")
                .and_then(Json::as_str)
                .unwrap_or(id)
                .to_owned();
            out.push(match outcome {
                Ok(done) => Check {
                    id: id.clone(),
                    name,
                    roles,
                    action: done.action,
                    steps: done.steps,
                    request,
                    error: None,
                },
                Err(e) => Check {
                    id: id.clone(),
                    name,
                    roles,
                    action: "failed",
                    steps: Vec::new(),
                    request: None,
                    error: Some(e.to_string()),
                },
            });
        }
        Ok(out)
    }
}

/// The most users one check takes.
pub const MAX_CHECKED: usize = 100;
