//! One object brought in step with one target: read at the source, in scope or not and why,
//! matched (looked up by its matching attributes before it is ever created), and the action
//! the plan gives, sent; what the target now holds is recorded. Every step is written to a
//! trace, which provision-on-demand shows and the provisioning log keeps.

use roster_directory::targets::{ScopeMode, Target};
use roster_directory::{Directory, DirectoryError, TenantContext};
use roster_outbound::mapping::{self, GROUP, Mapping, USER};
use roster_outbound::plan::{self, Action, AtSource, Known, Lookup};
use roster_outbound::scoping::Membership;
use roster_outbound::source::ObjectEnv;
use roster_store::{Kind, StoredResource, TargetObject};
use serde_json::{Value as Json, json};

use crate::client::{ClientError, ScimClient};
use reqwest::Method;

/// Why an object could not be brought in step.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// The target refused or could not be reached.
    #[error(transparent)]
    Target(#[from] ClientError),
    /// A mapping could not be applied to this object.
    #[error("{0}")]
    Mapping(String),
    /// The directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// What a target's cycle knows while it works: the client, the mappings, the assignments.
pub struct Context<'a> {
    /// The directory.
    pub directory: &'a Directory,
    /// The tenant.
    pub tenant: &'a TenantContext,
    /// The target.
    pub target: &'a Target,
    /// Its client.
    pub client: &'a ScimClient,
    /// Its user mappings.
    pub users: Vec<Mapping>,
    /// Its group mappings.
    pub groups: Vec<Mapping>,
    /// The users and groups assigned to it.
    pub assigned: Vec<(Kind, String)>,
    /// What the target now holds of the objects synced since the last [`Context::flush`],
    /// written together (one transaction for a page: an object whose record a crash loses is
    /// looked up again, and matched, never created twice).
    pub held: std::sync::Mutex<Vec<TargetObject>>,
    /// A dry run: nothing is sent to the target (no lookup either) and nothing is recorded;
    /// what would be sent is collected here instead.
    pub dry: Option<std::sync::Mutex<crate::dry::Planner>>,
    /// A provision on demand (not counted against the accidental-deletions threshold).
    pub on_demand: bool,
}

/// What was done for an object, and the steps.
#[derive(Debug, Clone, Default)]
pub struct Done {
    /// `created`, `updated`, `deactivated`, `deleted`, `unchanged` or `skipped`.
    pub action: &'static str,
    /// The steps, in words.
    pub steps: Vec<String>,
    /// The object's name (userName, displayName).
    pub name: String,
    /// Something an administrator should read even when nothing was sent (a write-back
    /// the target disagrees with): the provisioning log records it.
    pub warning: Option<String>,
}

impl Done {
    /// Whether the provisioning log records it: something was sent or holds for a decision,
    /// or it carries a warning (a cycle does not log what it left as it was, nor a removal
    /// counted for the threshold, which is logged when it is sent).
    pub fn worth_logging(&self) -> bool {
        !matches!(self.action, "unchanged" | "skipped" | "waiting") || self.warning.is_some()
    }
}

/// The groups an object is a member of, as scoping and rules read them.
pub(crate) fn memberships(object: &StoredResource) -> Vec<Membership> {
    object
        .groups
        .iter()
        .flatten()
        .map(|g| Membership {
            id: g.id.clone(),
            display_name: g.display.clone(),
        })
        .collect()
}

fn endpoint(kind: Kind) -> &'static str {
    match kind {
        Kind::User => "/Users",
        Kind::Group => "/Groups",
    }
}

impl<'a> Context<'a> {
    /// A cycle's context: the target's mappings read, nothing recorded yet, not a dry run,
    /// not on demand.
    pub fn new(
        directory: &'a Directory,
        tenant: &'a TenantContext,
        target: &'a Target,
        client: &'a ScimClient,
        assigned: Vec<(Kind, String)>,
    ) -> Result<Context<'a>, DirectoryError> {
        Ok(Context {
            directory,
            tenant,
            target,
            client,
            users: target.settings.users()?,
            groups: target.settings.groups()?,
            assigned,
            held: std::sync::Mutex::default(),
            dry: None,
            on_demand: false,
        })
    }
}

impl Context<'_> {
    /// Writes what was recorded since the last flush.
    pub async fn flush(&self) -> Result<(), DirectoryError> {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|e| e.into_inner()));
        if held.is_empty() {
            return Ok(());
        }
        Ok(self.directory.store().put_target_objects(&held).await?)
    }

    fn record(&self, object: TargetObject) {
        self.held
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(object);
    }

    fn assigned(&self, kind: Kind, id: &str) -> bool {
        self.assigned.iter().any(|(k, i)| *k == kind && i == id)
    }

    /// The first of a user's roles that the target is attached to, and why the user has it.
    fn attached_role(
        &self,
        kind: Kind,
        object: &StoredResource,
        groups: &[Membership],
    ) -> Option<(String, String)> {
        let attached = &self.target.settings.roles;
        if kind != Kind::User || attached.is_empty() {
            return None;
        }
        self.tenant
            .settings
            .roles
            .of(&object.id, &object.data, groups)
            .into_iter()
            .find(|(role, _)| attached.contains(role))
    }

    /// Where an object stands at the source, with the step that says why.
    async fn at_source(
        &self,
        kind: Kind,
        object: Option<&StoredResource>,
        known: bool,
        done: &mut Done,
    ) -> Result<AtSource, SyncError> {
        let Some(object) = object else {
            done.steps.push("deleted at the source".into());
            return Ok(AtSource::Deleted);
        };
        let groups = memberships(object);
        if kind == Kind::Group && !self.target.settings.provision_groups {
            done.steps
                .push("groups are not provisioned to this target".into());
            return Ok(AtSource::OutOfScope);
        }
        if self.target.settings.scope == ScopeMode::Assigned {
            let through_group = groups.iter().find(|g| self.assigned(Kind::Group, &g.id));
            if self.assigned(kind, &object.id) {
                done.steps.push("assigned to the target".into());
            } else if let Some(g) = through_group {
                done.steps
                    .push(format!("assigned through the group {}", g.display_name));
            } else if let Some((role, why)) = self.attached_role(kind, object, &groups) {
                done.steps
                    .push(format!("in scope through the role {role:?} ({why})"));
            } else {
                done.steps
                    .push("out of scope: not assigned to the target".into());
                return Ok(AtSource::OutOfScope);
            }
        }
        if kind == Kind::User {
            let (in_scope, why) = self.target.settings.scoping.check(&object.data, &groups);
            done.steps.push(why);
            if !in_scope {
                return Ok(AtSource::OutOfScope);
            }
        }
        let mappings = match kind {
            Kind::User => &self.users,
            Kind::Group => &self.groups,
        };
        let core = match kind {
            Kind::User => USER,
            Kind::Group => GROUP,
        };
        let mut source = object.data.clone();
        if let Some(o) = source.as_object_mut() {
            o.insert("id".into(), json!(object.id));
        }
        let secrets = self.directory.secrets();
        let mut random = |out: &mut [u8]| {
            for chunk in out.chunks_mut(32) {
                let key = secrets.key();
                chunk.copy_from_slice(&key[..chunk.len()]);
            }
        };
        let fail = |e: mapping::MappingError| SyncError::Mapping(e.to_string());
        // The body to create it with. `SelectUniqueValue` candidates are checked in the target
        // (only for an object it does not hold yet: a value is chosen once, on create): the
        // body is built again without the values found taken, until none is.
        let mut taken: Vec<(String, String)> = Vec::new();
        let create = loop {
            let mut asked: Vec<(String, String)> = Vec::new();
            let body = {
                let mut unique = |attribute: &str, value: &str| {
                    let free = !taken.iter().any(|(a, v)| a == attribute && v == value);
                    if free {
                        asked.push((attribute.to_owned(), value.to_owned()));
                    }
                    free
                };
                let mut env = ObjectEnv {
                    object: &source,
                    now: self.directory.now(),
                    random: &mut random,
                    unique: &mut unique,
                    target: String::new(),
                };
                mapping::build(mappings, &source, &mut env, true, core).map_err(fail)?
            };
            let mut clash = false;
            if !known {
                for (attribute, value) in asked {
                    if let Some((id, _)) =
                        self.client.find(endpoint(kind), &attribute, &value).await?
                    {
                        done.steps.push(format!(
                            "{attribute} \"{value}\" is taken in the target (by {id}): the next candidate"
                        ));
                        taken.push((attribute, value));
                        clash = true;
                    }
                }
            }
            if !clash {
                break body;
            }
        };
        let mut unique = |_: &str, _: &str| true;
        let mut env = ObjectEnv {
            object: &source,
            now: self.directory.now(),
            random: &mut random,
            unique: &mut unique,
            target: String::new(),
        };
        let mut update = mapping::build(mappings, &source, &mut env, false, core).map_err(fail)?;
        let matching = mapping::matching_values(mappings, &source, &mut env).map_err(fail)?;
        let mut create = create;
        if kind == Kind::User {
            let rules = &self.target.settings.rules;
            done.steps.extend(roster_outbound::rules::apply(
                rules,
                &source,
                &groups,
                &mut create,
            ));
            roster_outbound::rules::apply(rules, &source, &groups, &mut update);
        }
        Ok(AtSource::InScope {
            create,
            update,
            matching,
        })
    }

    /// Brings one object in step; `object` is `None` when it was deleted at the source.
    ///
    /// A create the target refuses as taken (409) was raced by another writer of the same
    /// object (a cycle and a provision on demand, or another process): it is done once more,
    /// from the lookup, which now finds the object and updates it.
    pub async fn sync(
        &self,
        kind: Kind,
        id: &str,
        object: Option<&StoredResource>,
    ) -> Result<Done, SyncError> {
        match self.sync_once(kind, id, object).await {
            Err(SyncError::Target(ClientError::Refused { status: 409, .. })) => {
                let mut done = self.sync_once(kind, id, object).await?;
                done.steps.insert(
                    0,
                    "the target answered 409 to a create (another writer created it meanwhile): \
                     looked up again"
                        .into(),
                );
                Ok(done)
            }
            other => other,
        }
    }

    async fn sync_once(
        &self,
        kind: Kind,
        id: &str,
        object: Option<&StoredResource>,
    ) -> Result<Done, SyncError> {
        let mut done = Done {
            name: object
                .and_then(|o| o.data.get(kind.name_attribute()))
                .and_then(Json::as_str)
                .unwrap_or(id)
                .to_owned(),
            ..Done::default()
        };
        let tenant = self.tenant.id();
        let stored = self
            .directory
            .store()
            .target_object(tenant, &self.target.id, kind, id)
            .await
            .map_err(DirectoryError::from)?;
        let at = self
            .at_source(kind, object, stored.is_some(), &mut done)
            .await?;
        let known = stored.as_ref().map(|o| Known {
            target_id: o.remote_id.clone(),
            digest: o.digest.clone(),
            sent: o
                .sent
                .get("attributes")
                .and_then(Json::as_array)
                .into_iter()
                .flatten()
                .filter_map(Json::as_str)
                .map(str::to_owned)
                .collect(),
            deactivated: o.deactivated,
        });
        let plan_kind = match kind {
            Kind::User => plan::Kind::User,
            Kind::Group => plan::Kind::Group,
        };
        let policy = &self.target.settings.policy;
        let planned = |found| {
            let action = plan::plan(plan_kind, &at, known.as_ref(), found);
            plan::restrict(plan_kind, &at, known.as_ref(), action, policy)
        };
        let mut action = planned(Lookup::NotYet);
        if let Action::Lookup(matching) = &action
            && self.dry.is_some()
        {
            for (attribute, value) in matching {
                done.steps.push(format!(
                    "would look {attribute} \"{value}\" up in the target first (a match is \
                     updated instead of created)"
                ));
            }
            action = planned(Lookup::NotFound);
        }
        // What the target answered of the object (a lookup, a create, an update), for
        // write-back.
        let mut reported: Option<Json> = None;
        if let Action::Lookup(matching) = &action {
            let mut found = Lookup::NotFound;
            for (attribute, value) in matching {
                match self.client.find(endpoint(kind), attribute, value).await? {
                    Some((remote, there)) => {
                        reported = Some(there);
                        done.steps.push(format!(
                            "matched {remote} in the target on {attribute} \"{value}\""
                        ));
                        found = Lookup::Found(remote);
                        break;
                    }
                    None => done.steps.push(format!(
                        "no object in the target has {attribute} \"{value}\""
                    )),
                }
            }
            action = planned(found);
        }
        if kind == Kind::User && policy.sync_password {
            let password = match self.dry {
                Some(_) => "(a new random password)".to_owned(),
                None => self.password(),
            };
            action = plan::with_password(action, &password);
            if matches!(action, Action::Create(_) | Action::Update { .. }) {
                done.steps.push("with a new random password".into());
            }
        }
        let members_before: Vec<String> = stored
            .as_ref()
            .and_then(|o| o.sent.get("members"))
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| m.as_str().map(str::to_owned))
            .collect();
        if let Some(dry) = &self.dry {
            let (members, what) = match (&action, object) {
                (Action::Nothing(_), Some(o)) if kind == Kind::Group => {
                    let remote = stored.as_ref().map(|s| s.remote_id.clone());
                    (self.member_changes(o, &members_before).await?, remote)
                }
                _ => (None, None),
            };
            let mut dry = dry.lock().unwrap_or_else(|e| e.into_inner());
            done.action = match (members, what) {
                (Some(ops), Some(remote)) => {
                    dry.members(id, &done.name, &format!("/Groups/{remote}"), ops)
                }
                _ => dry.add(kind, id, &done.name, &action, endpoint(kind), &done.steps),
            };
            return Ok(done);
        }
        let approval = match self
            .gate(kind, id, &done.name, &action, endpoint(kind))
            .await?
        {
            crate::approval::Gate::Send(approval) => approval,
            crate::approval::Gate::Hold(label, step) => {
                done.steps.push(step);
                done.action = label;
                return Ok(done);
            }
        };
        let (remote, deactivated, label) = match action {
            Action::Nothing(why) => {
                done.steps.push(why.to_owned());
                done.action = if matches!(at, AtSource::InScope { .. }) {
                    "unchanged"
                } else {
                    "skipped"
                };
                if kind == Kind::User
                    && let (Some(object), Some(stored)) = (object, stored.as_ref())
                    && matches!(at, AtSource::InScope { .. })
                {
                    let before = crate::rule_groups::before(Some(&stored.sent));
                    let now = self
                        .rule_groups(object, &stored.remote_id, &before, &mut done)
                        .await?;
                    if now != before {
                        let mut kept = stored.clone();
                        kept.sent["rule_groups"] = json!(now);
                        kept.updated_at = self.directory.now();
                        self.record(kept);
                        if done.action == "unchanged" {
                            done.action = "updated";
                        }
                    }
                }
                if kind == Kind::Group
                    && let (Some(object), Some(stored)) = (object, stored.as_ref())
                    && matches!(at, AtSource::InScope { .. })
                {
                    let members = self
                        .members(object, &stored.remote_id, &members_before, &mut done)
                        .await?;
                    if members != members_before {
                        let mut kept = stored.clone();
                        kept.sent["members"] = json!(members);
                        kept.updated_at = self.directory.now();
                        self.record(kept);
                    }
                }
                return Ok(done);
            }
            Action::Lookup(_) => unreachable!("a lookup is answered above"),
            Action::Create(body) => {
                let (remote, answer) = self.client.create(endpoint(kind), &body).await?;
                reported = Some(answer);
                done.steps.push(format!("created as {remote}"));
                (remote, false, "created")
            }
            Action::Update { target_id, ops } => {
                let patch = self.target.settings.capabilities.is_none_or(|c| c.patch);
                if patch {
                    let operations: Vec<Json> = ops.iter().map(|o| o.to_json()).collect();
                    let answer = self
                        .client
                        .patch(endpoint(kind), &target_id, operations)
                        .await?;
                    reported = answer.is_object().then_some(answer).or(reported);
                } else if let AtSource::InScope { update, .. } = &at {
                    self.client
                        .put(
                            endpoint(kind),
                            &target_id,
                            &plan::put_body(update, &target_id),
                        )
                        .await?;
                }
                done.steps.push(format!(
                    "updated {target_id}: {}",
                    ops.iter()
                        .map(|o| format!("{} {}", o.op, o.path))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
                (target_id, false, "updated")
            }
            Action::Deactivate(target_id) => {
                if self.target.settings.capabilities.is_none_or(|c| c.patch) {
                    let op = json!({"op": "replace", "path": "active", "value": false});
                    self.client
                        .patch(endpoint(kind), &target_id, vec![op])
                        .await?;
                } else {
                    // No PATCH: the object as the target holds it, with `active: false`.
                    let path = format!("{}/{target_id}", endpoint(kind));
                    let mut held = self.client.send(Method::GET, &path, None).await?.body;
                    if let Some(o) = held.as_object_mut() {
                        o.remove("meta");
                        o.insert("active".into(), json!(false));
                    }
                    self.client.put(endpoint(kind), &target_id, &held).await?;
                }
                done.steps.push(format!("deactivated {target_id}"));
                (target_id, true, "deactivated")
            }
            Action::Delete(target_id) => {
                self.client.delete(endpoint(kind), &target_id).await?;
                done.steps.push(format!("deleted {target_id}"));
                self.directory
                    .store()
                    .remove_target_object(tenant, &self.target.id, kind, id)
                    .await
                    .map_err(DirectoryError::from)?;
                self.sent(approval).await?;
                done.action = "deleted";
                return Ok(done);
            }
        };
        done.action = label;
        self.sent(approval).await?;
        if let (Some(reported), Some(object)) = (&reported, object)
            && kind == Kind::User
        {
            self.write_back(object, reported, &mut done).await?;
        }
        let (digest, attributes) = match &at {
            AtSource::InScope { update, .. } => (plan::digest(update), plan::attributes(update)),
            _ => (
                known.as_ref().map(|k| k.digest.clone()).unwrap_or_default(),
                known.as_ref().map(|k| k.sent.clone()).unwrap_or_default(),
            ),
        };
        let mut members = members_before.clone();
        if kind == Kind::Group
            && let Some(object) = object
            && matches!(at, AtSource::InScope { .. })
        {
            members = self
                .members(object, &remote, &members_before, &mut done)
                .await?;
        }
        let mut sent = json!({"attributes": attributes});
        if kind == Kind::Group {
            sent["members"] = json!(members);
        }
        if kind == Kind::User
            && let Some(object) = object
        {
            let before = crate::rule_groups::before(stored.as_ref().map(|s| &s.sent));
            let now = if matches!(at, AtSource::InScope { .. }) {
                self.rule_groups(object, &remote, &before, &mut done)
                    .await?
            } else {
                before
            };
            if !now.is_empty() {
                sent["rule_groups"] = json!(now);
            }
        }
        self.record(TargetObject {
            tenant_id: tenant.clone(),
            target_id: self.target.id.clone(),
            kind,
            source_id: id.to_owned(),
            remote_id: remote,
            digest,
            sent,
            deactivated,
            updated_at: self.directory.now(),
        });
        Ok(done)
    }

    /// A random password of 24 characters, with upper- and lower-case letters, digits and
    /// signs, as password rules usually ask.
    fn password(&self) -> String {
        const SETS: [&[u8]; 4] = [
            b"ABCDEFGHJKLMNPQRSTUVWXYZ",
            b"abcdefghijkmnopqrstuvwxyz",
            b"23456789",
            b"!#%+-=?@_",
        ];
        let key = self.directory.secrets().key();
        key.iter()
            .take(24)
            .enumerate()
            .map(|(i, b)| {
                let set = SETS[i % SETS.len()];
                char::from(set[usize::from(*b) % set.len()])
            })
            .collect()
    }

    /// A dry run's member changes of a group the target holds (`None` when there are none).
    async fn member_changes(
        &self,
        group: &StoredResource,
        before: &[String],
    ) -> Result<Option<Vec<Json>>, SyncError> {
        let after = self.held_members(group).await?;
        let ops: Vec<Json> = plan::member_ops(before, &after, usize::MAX)
            .iter()
            .flatten()
            .map(|o| o.to_json())
            .collect();
        Ok((!ops.is_empty()).then_some(ops))
    }

    /// The target ids of a group's members that the target holds.
    async fn held_members(&self, group: &StoredResource) -> Result<Vec<String>, SyncError> {
        let tenant = self.tenant.id();
        let mut after = Vec::new();
        let full;
        let members = match &group.members {
            Some(m) => m,
            None => {
                full = self
                    .directory
                    .get(self.tenant, Kind::Group, &group.id, true)
                    .await?;
                full.members.as_ref().map_or(&[][..], Vec::as_slice)
            }
        };
        for member in members {
            if let Some(o) = self
                .directory
                .store()
                .target_object(tenant, &self.target.id, member.kind, &member.id)
                .await
                .map_err(DirectoryError::from)?
                && !o.deactivated
            {
                after.push(o.remote_id);
            }
        }
        Ok(after)
    }

    /// Sends a group's member changes: its members that the target holds, against those sent
    /// before; returns the members it now has.
    async fn members(
        &self,
        group: &StoredResource,
        remote: &str,
        before: &[String],
        done: &mut Done,
    ) -> Result<Vec<String>, SyncError> {
        let after = self.held_members(group).await?;
        if self.target.settings.capabilities.is_none_or(|c| c.patch) {
            let requests = plan::member_ops(before, &after, 100);
            for ops in &requests {
                let operations: Vec<Json> = ops.iter().map(|o| o.to_json()).collect();
                self.client.patch("/Groups", remote, operations).await?;
            }
        } else if after != before {
            // No PATCH: the group as the target holds it, with its members replaced.
            let path = format!("/Groups/{remote}");
            let mut held = self.client.send(Method::GET, &path, None).await?.body;
            if let Some(o) = held.as_object_mut() {
                o.remove("meta");
                let members: Vec<Json> = after.iter().map(|id| json!({"value": id})).collect();
                o.insert("members".into(), Json::Array(members));
            }
            self.client.put("/Groups", remote, &held).await?;
        }
        let added = after.iter().filter(|m| !before.contains(m)).count();
        let removed = before.iter().filter(|m| !after.contains(m)).count();
        if added + removed > 0 {
            done.steps
                .push(format!("members: added {added}, removed {removed}"));
            if done.action == "unchanged" {
                done.action = "updated";
            }
        }
        Ok(after)
    }
}
