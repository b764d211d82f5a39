//! Users and groups: create, read, replace, PATCH, delete, list, and group members.

use std::collections::HashSet;

use roster_scim::patch::PatchRequest;
use roster_store::*;
use serde_json::Value;

use crate::context::*;
use crate::retry::Attempts;
use crate::*;

impl Directory {
    /// Creates a resource from a client's JSON.
    pub async fn create(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        body: &Value,
        return_members: bool,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let schema = tenant.schema(kind);
        let body = tenant.dialect().resource_body(schema, body, applied);
        let mut data =
            roster_scim::resource::normalize(schema, &body, roster_scim::resource::Mode::Create)?;
        strip_server_attributes(&mut data);
        password::secure(&mut data, None, false, self.secrets.salt()).await?;
        let (data, members) = match kind {
            Kind::Group => split_members(data)?,
            Kind::User => (data, Vec::new()),
        };
        roster_scim::limits::check(&data, None, &self.limits)?;
        let now = self.clock.now();
        let resource = StoredResource {
            id: self.secrets.resource_id(),
            kind,
            version: 1,
            created: now,
            last_modified: now,
            data,
            members: None,
            // A new user belongs to no group yet.
            groups: (kind == Kind::User).then(Vec::new),
        };
        let mut members = members;
        let mut unknown = HashSet::new();
        loop {
            let mut log = events::Recorder::new(self.secrets.as_ref(), now);
            log.created(&resource);
            if kind == Kind::Group {
                let group = events::group_ref(&resource);
                for m in distinct_ids(&members) {
                    log.member(true, &group, m, None);
                }
            }
            match self
                .store
                .insert_recorded(tenant.id(), &resource, &members, &log.events)
                .await
            {
                // Written again without the member, when the tenant ignores unknown members.
                Err(StoreError::UnknownMember(id))
                    if ignores_unknown(tenant) && unknown.insert(id.clone()) =>
                {
                    members.retain(|m| m.id != id);
                }
                done => {
                    done?;
                    break;
                }
            }
        }
        note_unknown(&unknown, applied);
        self.changed();
        self.written(tenant, resource, return_members).await
    }

    /// Reads a resource; group members only when `with_relations`.
    pub async fn get(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        with_relations: bool,
    ) -> Result<StoredResource, DirectoryError> {
        self.store
            .get(tenant.id(), kind, id, with_relations)
            .await?
            .ok_or_else(|| not_found(kind, id))
    }

    /// Replaces a resource with a client's JSON (PUT).
    pub async fn replace(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        body: &Value,
        options: WriteOptions,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let WriteOptions {
            if_match,
            return_members,
            ..
        } = options;
        let schema = tenant.schema(kind);
        let body = &tenant.dialect().resource_body(schema, body, applied);
        let mut unknown = HashSet::new();
        let mut attempts = Attempts::new();
        loop {
            attempts.another()?;
            // A user's groups are returned with it; a group's members are read to tell which
            // members the replacement adds and removes.
            let current = self.get(tenant, kind, id, true).await?;
            check_if_match(&current, if_match)?;
            let view = roster_store::memory_eval::scim_view(&current);
            let mut data = roster_scim::resource::normalize(
                schema,
                body,
                roster_scim::resource::Mode::Replace { current: &view },
            )?;
            strip_server_attributes(&mut data);
            let previous = password::stored(&current.data);
            password::secure(&mut data, previous, true, self.secrets.salt()).await?;
            let (data, mut members) = match kind {
                Kind::Group => split_members(data)?,
                Kind::User => (data, Vec::new()),
            };
            roster_scim::limits::check(&data, Some(&current.data), &self.limits)?;
            members.retain(|m| !unknown.contains(&m.id));
            let next = StoredResource {
                version: current.version + 1,
                last_modified: self.clock.now(),
                data,
                ..current.clone()
            };
            let change = match kind {
                Kind::Group => MembersChange::Replace(members),
                Kind::User => MembersChange::Keep,
            };
            let written = self
                .try_update(tenant, &current, next, &change, if_match, &mut unknown)
                .await?;
            if let Some(next) = written {
                note_unknown(&unknown, applied);
                return self.written(tenant, next, return_members).await;
            }
        }
    }

    /// Applies a PatchOp message to a resource.
    pub async fn patch(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        body: &Value,
        options: WriteOptions,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let WriteOptions {
            if_match,
            return_members,
            no_body,
        } = options;
        let schema = tenant.schema(kind);
        let dialect = tenant.dialect();
        let body = dialect.patch_body(schema, body, applied);
        let request = PatchRequest::from_value(&body)?;
        let options = dialect.patch_options();
        let member_only = match kind {
            Kind::Group => request
                .member_delta(options.remove_unmatched)
                .map(members_change),
            Kind::User => None,
        };
        // A group PATCH that does not touch `members` (Entra's rename) is applied to the group
        // without them and writes no member row, whatever the group's size.
        let with_members = match kind {
            Kind::Group => request.touches_members(),
            Kind::User => true,
        };
        if let Some(change) = member_only {
            // Read back (with its members or not), unless no body is sent.
            let read_back = (return_members || !no_body).then_some(return_members);
            return self
                .change_members(tenant, id, change, if_match, read_back, applied)
                .await;
        }
        let mut unknown = HashSet::new();
        let mut attempts = Attempts::new();
        loop {
            attempts.another()?;
            // A group's members are patched when the request touches them; a user's groups
            // are returned with it.
            let current = self.get(tenant, kind, id, with_members).await?;
            check_if_match(&current, if_match)?;
            let full = roster_store::memory_eval::scim_view(&current);
            let outcome = roster_scim::patch::apply_with(schema, &full, &request, &options)?;
            for n in &outcome.applied {
                if !applied.contains(n) {
                    applied.push(*n);
                }
            }
            let mut data = outcome.resource;
            strip_server_attributes(&mut data);
            let previous = password::stored(&current.data);
            password::secure(&mut data, previous, false, self.secrets.salt()).await?;
            let (data, mut members) = match kind {
                Kind::Group => split_members(data)?,
                Kind::User => (data, Vec::new()),
            };
            roster_scim::limits::check(&data, Some(&current.data), &self.limits)?;
            members.retain(|m| !unknown.contains(&m.id));
            let change = match kind {
                Kind::Group if with_members => MembersChange::Replace(members),
                Kind::Group | Kind::User => MembersChange::Keep,
            };
            let next = StoredResource {
                version: current.version + 1,
                last_modified: self.clock.now(),
                data,
                members: None,
                ..current.clone()
            };
            let written = self
                .try_update(tenant, &current, next, &change, if_match, &mut unknown)
                .await?;
            if let Some(next) = written {
                note_unknown(&unknown, applied);
                return self.written(tenant, next, return_members).await;
            }
        }
    }

    /// Deletes a resource; a deleted user leaves every group. Answers the resource as it was
    /// last (what the provisioning log names it by).
    pub async fn delete(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        id: &str,
        if_match: Option<i64>,
    ) -> Result<StoredResource, DirectoryError> {
        let mut attempts = Attempts::new();
        loop {
            attempts.another()?;
            // The last known state goes into the change log (a user with its groups, which it
            // leaves; a group without its members).
            let last = self.get(tenant, kind, id, kind == Kind::User).await?;
            check_if_match(&last, if_match)?;
            let mut log = events::Recorder::new(self.secrets.as_ref(), self.clock.now());
            log.deleted(&last);
            self.guard_removals(tenant, &log.events).await?;
            match self
                .store
                .delete_recorded(tenant.id(), kind, id, Some(last.version), &log.events)
                .await
            {
                Ok(()) => {
                    self.changed();
                    return Ok(last);
                }
                // Changed since it was read: read it again, unless the client named a version.
                Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
                Err(e) => {
                    return Err(self.write_error(e, kind, id, if_match.unwrap_or_default()));
                }
            }
        }
    }

    /// A group PATCH that only adds or removes members by id, applied as row changes. The
    /// group itself is read without its members (for the events' `displayName`), except when
    /// the whole list is replaced, where the old list tells which members left.
    pub(crate) async fn change_members(
        &self,
        tenant: &TenantContext,
        id: &str,
        mut change: MembersChange,
        if_match: Option<i64>,
        read_back: Option<bool>,
        applied: &mut Vec<Normalization>,
    ) -> Result<StoredResource, DirectoryError> {
        let replacing = matches!(change, MembersChange::Replace(_));
        let mut unknown = HashSet::new();
        let mut attempts = Attempts::new();
        loop {
            attempts.another()?;
            let current = self.get(tenant, Kind::Group, id, replacing).await?;
            check_if_match(&current, if_match)?;
            let group = events::group_ref(&current);
            let now = self.clock.now();
            let mut log = events::Recorder::new(self.secrets.as_ref(), now);
            match &change {
                MembersChange::Keep => {}
                MembersChange::Delta { add, remove } => {
                    for m in distinct_ids(add) {
                        log.member(true, &group, m, None);
                    }
                    for m in remove.iter().collect::<HashSet<_>>() {
                        log.member(false, &group, m, None);
                    }
                }
                MembersChange::Replace(list) => {
                    member_diff(&mut log, &group, current.members.as_deref(), list);
                }
            }
            // Replacing the list was decided on the members read: it must not have changed.
            let expected = if replacing {
                Some(current.version)
            } else {
                if_match
            };
            match self
                .store
                .change_members_recorded(tenant.id(), id, &change, expected, now, &log.events)
                .await
            {
                Ok(version) => {
                    self.changed();
                    note_unknown(&unknown, applied);
                    let Some(with_members) = read_back else {
                        // Nothing but the version is sent back: the write returned it.
                        return Ok(StoredResource {
                            version,
                            last_modified: now,
                            members: None,
                            ..current
                        });
                    };
                    return self.get(tenant, Kind::Group, id, with_members).await;
                }
                Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
                // Written again without the member, when the tenant ignores unknown members.
                Err(StoreError::UnknownMember(member))
                    if ignores_unknown(tenant) && unknown.insert(member.clone()) =>
                {
                    match &mut change {
                        MembersChange::Delta { add, .. } => add.retain(|m| m.id != member),
                        MembersChange::Replace(list) => list.retain(|m| m.id != member),
                        MembersChange::Keep => {}
                    }
                    continue;
                }
                Err(e) => {
                    return Err(self.write_error(e, Kind::Group, id, if_match.unwrap_or_default()));
                }
            }
        }
    }

    /// The events of a replace or general PATCH from `current` to `next`.
    pub(crate) fn update_events(
        &self,
        current: &StoredResource,
        next: &StoredResource,
        change: &MembersChange,
    ) -> Vec<roster_store::NewEvent> {
        let mut log = events::Recorder::new(self.secrets.as_ref(), next.last_modified);
        log.updated(current, next);
        if let MembersChange::Replace(list) = change {
            let group = events::group_ref(next);
            member_diff(&mut log, &group, current.members.as_deref(), list);
        }
        log.events
    }

    /// Lists resources.
    pub async fn list(
        &self,
        tenant: &TenantContext,
        kind: Kind,
        query: &ListQuery,
    ) -> Result<Page, DirectoryError> {
        if let Some(f) = &query.filter {
            f.validate(tenant.schema(kind))
                .map_err(roster_scim::Error::from)?;
        }
        if let Some(sort) = &query.sort {
            sort.validate(tenant.schema(kind))?;
        }
        Ok(self
            .store
            .list(tenant.id(), kind, tenant.schema(kind), query)
            .await?)
    }

    /// The groups each user is a direct member of.
    pub async fn groups_of(
        &self,
        tenant: &TenantContext,
        user_ids: &[String],
    ) -> Result<Vec<(String, roster_store::GroupRef)>, DirectoryError> {
        Ok(self.store.groups_of(tenant.id(), user_ids).await?)
    }

    /// Writes `next` over the version read; `None` when another request changed the resource
    /// in between and the client sent no `If-Match`, so the caller reads it again and retries.
    pub(crate) async fn try_update(
        &self,
        tenant: &TenantContext,
        current: &StoredResource,
        next: StoredResource,
        change: &MembersChange,
        if_match: Option<i64>,
        unknown: &mut HashSet<String>,
    ) -> Result<Option<StoredResource>, DirectoryError> {
        let read_version = current.version;
        let events = self.update_events(current, &next, change);
        self.guard_removals(tenant, &events).await?;
        match self
            .store
            .update_from_recorded(tenant.id(), current, &next, change, &events)
            .await
        {
            Ok(()) => {
                self.changed();
                Ok(Some(next))
            }
            Err(StoreError::VersionMismatch) if if_match.is_none() => Ok(None),
            // Written again without the member, when the tenant ignores unknown members.
            Err(StoreError::UnknownMember(id))
                if ignores_unknown(tenant) && unknown.insert(id.clone()) =>
            {
                Ok(None)
            }
            Err(e) => Err(self.write_error(e, next.kind, &next.id, read_version)),
        }
    }

    /// The resource as just written. Nothing needs reading back unless a group's members are
    /// wanted: their display names and types live in other rows.
    pub(crate) async fn written(
        &self,
        tenant: &TenantContext,
        resource: StoredResource,
        with_relations: bool,
    ) -> Result<StoredResource, DirectoryError> {
        if with_relations && resource.kind == Kind::Group {
            self.get(tenant, resource.kind, &resource.id, true).await
        } else {
            Ok(resource)
        }
    }

    pub(crate) fn write_error(
        &self,
        e: StoreError,
        kind: Kind,
        id: &str,
        version: i64,
    ) -> DirectoryError {
        match e {
            StoreError::VersionMismatch => DirectoryError::PreconditionFailed(version.to_string()),
            other => DirectoryError::about(other, kind.as_str(), id),
        }
    }
}

/// The member ids of a normalised group's `members`, and the group without them. A member
/// naming no id (neither `value` nor a `$ref` ending in `/Users/{id}` or `/Groups/{id}`) is
/// refused rather than dropped, so that a write never changes the group while losing what the
/// client asked for.
pub(crate) fn split_members(mut data: Value) -> Result<(Value, Vec<MemberRef>), DirectoryError> {
    let mut refs = Vec::new();
    if let Some(obj) = data.as_object_mut()
        && let Some(Value::Array(members)) = obj.remove("members")
    {
        let mut seen = HashSet::new();
        for m in members {
            let Some(r) = member_ref(&m) else {
                return Err(roster_scim::Error::invalid_value(
                    "members",
                    format!(
                        "a member needs its id in \"value\" (or a \"$ref\" to a user or group \
                         of this organisation); {m} names none"
                    ),
                )
                .into());
            };
            if seen.insert(r.id.clone()) {
                refs.push(r);
            }
        }
    }
    Ok((data, refs))
}

/// A member value (`{"value": id, "display": ...}`, or a `$ref`) as a member to add.
pub(crate) fn member_ref(m: &Value) -> Option<MemberRef> {
    roster_scim::patch::MemberValue::from_json(m).map(member_of)
}

pub(crate) fn member_of(m: roster_scim::patch::MemberValue) -> MemberRef {
    MemberRef {
        id: m.id,
        display: m.display,
    }
}

/// The store's change for a change of members by id.
pub(crate) fn members_change(delta: roster_scim::patch::MemberDelta) -> MembersChange {
    use roster_scim::patch::MemberDelta;
    match delta {
        MemberDelta::Replace(list) => {
            MembersChange::Replace(list.into_iter().map(member_of).collect())
        }
        MemberDelta::Change { add, remove } => MembersChange::Delta {
            add: add.into_iter().map(member_of).collect(),
            remove,
        },
    }
}

/// Ids in first-seen order, each once.
pub(crate) fn distinct_ids(members: &[MemberRef]) -> Vec<&str> {
    let mut seen = HashSet::new();
    members
        .iter()
        .map(|m| m.id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// Member events for a list that replaces `before`.
pub(crate) fn member_diff(
    log: &mut events::Recorder<'_>,
    group: &Value,
    before: Option<&[roster_store::Member]>,
    after: &[MemberRef],
) {
    let before = before.unwrap_or_default();
    let old: HashSet<&str> = before.iter().map(|m| m.id.as_str()).collect();
    let new: HashSet<&str> = after.iter().map(|m| m.id.as_str()).collect();
    for id in distinct_ids(after) {
        if !old.contains(id) {
            log.member(true, group, id, None);
        }
    }
    for m in before {
        if !new.contains(m.id.as_str()) {
            log.member(false, group, &m.id, Some(m.kind));
        }
    }
}

pub(crate) fn unreadable(tenant: &Tenant, error: settings::UnreadableSetting) -> DirectoryError {
    DirectoryError::UnreadableSetting {
        tenant: tenant.id.to_string(),
        error,
    }
}

pub(crate) fn not_found(kind: Kind, id: &str) -> DirectoryError {
    DirectoryError::NotFound {
        kind: kind.as_str(),
        id: id.to_owned(),
    }
}

pub(crate) fn check_if_match(
    current: &StoredResource,
    if_match: Option<i64>,
) -> Result<(), DirectoryError> {
    match if_match {
        Some(v) if v != current.version => Err(DirectoryError::PreconditionFailed(v.to_string())),
        _ => Ok(()),
    }
}
