//! Outbound provisioning's engine: it keeps each tenant's targets in step with the tenant's
//! directory, with `roster-outbound`'s rules (mappings, scoping, plans) and a SCIM client.
//!
//! A target's run is leased from the store by one process at a time. Its **initial** phase
//! goes through every user, then every group, a page at a time, recording its position after
//! each page (a run resumed after a crash goes on from there, and creates nothing twice: a
//! create is always preceded by the matching lookup). Its **incremental** phase then applies
//! each change of the tenant's change log as it comes, and every `interval_minutes` a new
//! reconciling cycle goes through everything again. Failures are counted: when most of a
//! page's operations fail, or the target refuses the credentials, the target is **quarantined**
//! (its runs slow to once an hour, the page says why) until a test connection succeeds.

pub mod client;
pub mod object;
pub mod view;

use std::sync::Arc;

use futures_util::StreamExt as _;
use std::time::Duration;

use roster_directory::targets::{ScopeMode, Target};
use roster_directory::{Directory, DirectoryError, TenantContext};
use roster_store::{Kind, ListQuery, LogEntry, Outcome, StoredResource, TargetRun, TenantId};
use serde_json::Value as Json;

use crate::client::{ClientError, ScimClient};
use crate::object::{Context, Done, SyncError};

/// How many objects of a page are brought in step at once.
const CONCURRENCY: usize = 64;
/// How many objects a page of the initial phase holds at most.
const PAGE: u64 = 500;
/// How many change-log events one step of the incremental phase applies.
const EVENTS: u64 = 500;
/// How long a lease lasts: a step fits in it (a page is as long as the target's rate limit
/// allows in [`PAGE_SECONDS`]), and a process that died holding one delays its target by at
/// most this much.
const LEASE_MS: i64 = 30_000;
/// About how long a page of the initial phase takes at the target's rate limit (up to three
/// requests an object: the lookup, the create, a group's members).
const PAGE_SECONDS: u64 = 4;
/// How many times in a row a page or a change whose object failed is tried again, after a
/// backoff of 2, 4, 8, … seconds, before the run goes on (the next cycle tries it again).
const RETRIES: i64 = 5;
/// The most groups an assignment reaches through nesting.
const MAX_NESTED: usize = 10_000;
/// How long a quarantined target waits between tries.
const QUARANTINE_MS: i64 = 3_600_000;

/// The engine of one process.
#[derive(Clone)]
pub struct Engine {
    directory: Directory,
    owner: String,
    allow_link_local: bool,
}

impl Engine {
    /// An engine over `directory`; `owner` names this process in leases.
    pub fn new(directory: Directory, owner: String, allow_link_local: bool) -> Engine {
        Engine {
            directory,
            owner,
            allow_link_local,
        }
    }

    /// Works due targets until `stop` resolves: every second, or at once when the directory
    /// records a change.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        let changes = self.directory.changes();
        loop {
            match self.step().await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "outbound provisioning failed a step"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = changes.notified() => {}
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    fn now_ms(&self) -> i64 {
        i64::try_from(self.directory.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
    }

    /// Claims due runs and does one step of each; `true` when there was work.
    pub async fn step(&self) -> Result<bool, DirectoryError> {
        let now = self.now_ms();
        let runs = self
            .directory
            .store()
            .claim_target_runs(&self.owner, now, now + LEASE_MS, 4)
            .await?;
        let worked = !runs.is_empty();
        for run in runs {
            let tenant = run.tenant_id.clone();
            let target_id = run.target_id.clone();
            if let Err(e) = self.work(run).await {
                tracing::warn!(tenant = %tenant, target = %target_id, error = %e,
                    "a target's step failed");
            }
        }
        Ok(worked)
    }

    fn client(&self, target: &Target) -> Result<ScimClient, DirectoryError> {
        let secret = self.directory.target_secret(target)?;
        let s = &target.settings;
        ScimClient::new(
            &s.url,
            s.auth.clone(),
            secret,
            s.rate_limit,
            Duration::from_secs(u64::from(s.timeout_seconds)),
            self.allow_link_local,
        )
        .map_err(|e| DirectoryError::Setting(e.to_string()))
    }

    async fn context_parts(
        &self,
        tenant: &TenantId,
        target_id: &str,
    ) -> Result<(Arc<TenantContext>, Target), DirectoryError> {
        let ctx = self
            .directory
            .tenant_context(tenant)
            .await?
            .ok_or_else(|| DirectoryError::NotFound {
                kind: "Tenant",
                id: tenant.to_string(),
            })?;
        let target = self.directory.target(tenant, target_id).await?;
        Ok((ctx, target))
    }

    /// One step of a run: a page of the initial phase, or a batch of changes.
    async fn work(&self, mut run: TargetRun) -> Result<(), DirectoryError> {
        let (ctx, target) = self.context_parts(&run.tenant_id, &run.target_id).await?;
        let client = self.client(&target)?;
        let assigned = self.assignments(ctx.id(), &target).await?;
        let cx = Context {
            directory: &self.directory,
            tenant: &ctx,
            target: &target,
            client: &client,
            users: target.settings.users()?,
            groups: target.settings.groups()?,
            assigned,
        };
        let now = self.now_ms();
        let interval = i64::from(target.settings.interval_minutes) * 60_000;
        // Woken (an assignment, a change of settings) in the middle of a cycle: the cycle goes
        // on, and another follows it at once (marked `!` on the cursor until then).
        let again = run.cursor.ends_with('!')
            || (run.next_at == 0 && run.phase == "initial" && !run.cursor.is_empty());
        run.cursor = run.cursor.trim_end_matches('!').to_owned();
        let (ok, failed, last_error) = if run.phase == "initial" {
            if run.cursor.is_empty() {
                // A new target, or a restart: what it holds is forgotten, so the changes before
                // now are covered by going through everything.
                self.start_cycle(&cx, &mut run, true).await?;
            }
            self.initial_page(&cx, &mut run).await?
        } else if run.next_at <= now && !run.quarantined && run.failures == 0 {
            // The interval has passed (or the run was woken): a reconciling cycle through
            // everything; the changes after the run's position are applied after it (a
            // deletion is seen only there).
            run.phase = "initial".into();
            self.start_cycle(&cx, &mut run, false).await?;
            self.initial_page(&cx, &mut run).await?
        } else {
            self.changes(&cx, &mut run).await?
        };
        run.failures = if failed == 0 {
            0
        } else {
            run.failures + failed
        };
        if let Some(e) = &last_error {
            run.error = Some(e.to_string());
        } else if ok > 0 {
            run.error = None;
        }
        let credentials = last_error.as_ref().is_some_and(SyncError::is_credentials);
        if credentials || (failed > 0 && failed >= ok.max(1) && run.failures >= 10) {
            if !run.quarantined {
                tracing::warn!(tenant = %run.tenant_id, target = %run.target_id,
                    error = ?run.error, "a target is quarantined");
                self.directory
                    .record_sign_in_event(
                        &run.tenant_id,
                        "target.quarantined",
                        serde_json::json!({"target": {"id": target.id, "name": target.name},
                            "reason": run.error}),
                    )
                    .await?;
            }
            run.quarantined = true;
            run.next_at = now + QUARANTINE_MS;
        } else if failed > 0 {
            // Tried again after a backoff (changes alone do not make a failing run due).
            run.next_at = now + 1000 * (1 << run.failures.clamp(1, 8));
        } else if run.phase == "initial" {
            // The cycle goes on at the next look (a wake sets 0, which `again` reads).
            run.next_at = now.max(1);
        } else if run.phase == "incremental" && run.cursor.is_empty() && run.next_at <= now {
            run.next_at = now + interval;
        }
        if run.phase == "initial" && run.cursor == "done" {
            run.phase = "incremental".into();
            run.cursor = String::new();
            run.cycle_ended_at = now;
            if !run.quarantined {
                run.next_at = if again { 0 } else { now + interval };
            }
        } else if again && run.phase == "initial" {
            run.cursor.push('!');
        }
        self.directory
            .store()
            .save_target_run(&self.owner, &run, true)
            .await?;
        Ok(())
    }

    /// A target's assignments, with every group nested in an assigned group (as far as the
    /// directory nests, at most [`MAX_NESTED`] groups): their members are in scope too.
    async fn assignments(
        &self,
        tenant: &TenantId,
        target: &Target,
    ) -> Result<Vec<(Kind, String)>, DirectoryError> {
        let mut out = self.directory.target_assignments(tenant, target).await?;
        if target.settings.scope == ScopeMode::All {
            return Ok(out);
        }
        let mut queue: Vec<String> = out
            .iter()
            .filter(|(k, _)| *k == Kind::Group)
            .map(|(_, id)| id.clone())
            .collect();
        let mut seen: std::collections::HashSet<String> = queue.iter().cloned().collect();
        while let Some(group) = queue.pop() {
            let mut after = 0;
            loop {
                let page = match self
                    .directory
                    .members_after(tenant, &group, after, 1000)
                    .await
                {
                    Ok(page) => page,
                    Err(DirectoryError::NotFound { .. }) => break,
                    Err(e) => return Err(e),
                };
                for (_, member) in &page {
                    if member.kind == Kind::Group
                        && seen.len() < MAX_NESTED
                        && seen.insert(member.id.clone())
                    {
                        out.push((Kind::Group, member.id.clone()));
                        queue.push(member.id.clone());
                    }
                }
                match page.last() {
                    Some((key, _)) if page.len() == 1000 => after = *key,
                    _ => break,
                }
            }
        }
        Ok(out)
    }

    /// Starts a cycle: how many objects it goes through, and (`from_head`) the position of the
    /// tenant's latest change, the changes before it being covered by the cycle.
    async fn start_cycle(
        &self,
        cx: &Context<'_>,
        run: &mut TargetRun,
        from_head: bool,
    ) -> Result<(), DirectoryError> {
        if from_head {
            run.position = self.directory.log_head(cx.tenant.id()).await?;
        }
        let users = self.count(cx, Kind::User).await?;
        let groups = if cx.target.settings.provision_groups {
            self.count(cx, Kind::Group).await?
        } else {
            0
        };
        run.total = i64::try_from(users + groups).unwrap_or(i64::MAX);
        run.processed = 0;
        run.cursor = "User:0".into();
        run.cycle_started_at = self.now_ms();
        Ok(())
    }

    /// A page of users (then groups) after the run's cursor: `(ok, failed, last error)`.
    async fn initial_page(
        &self,
        cx: &Context<'_>,
        run: &mut TargetRun,
    ) -> Result<(i64, i64, Option<SyncError>), DirectoryError> {
        // The cursor is `User:KEY` or `Group:KEY`, the key of the last object done (keyset
        // paging, in creation order: a page costs the same at the end as at the start).
        let unreadable = || {
            DirectoryError::Internal(format!(
                "target {}: its run's cursor {:?} does not read",
                run.target_id, run.cursor
            ))
        };
        let (kind, after) = match run.cursor.split_once(':') {
            Some(("User", n)) => (Kind::User, n.parse::<i64>().map_err(|_| unreadable())?),
            Some(("Group", n)) => (Kind::Group, n.parse::<i64>().map_err(|_| unreadable())?),
            _ if run.cursor == "done" => return Ok((0, 0, None)),
            _ => return Err(unreadable()),
        };
        let page_size = (u64::from(cx.target.settings.rate_limit) * PAGE_SECONDS).clamp(20, PAGE);
        let keyed = self
            .directory
            .resources_after(cx.tenant.id(), kind, after, page_size)
            .await?;
        let next_key = keyed.last().map_or(after, |(key, _)| *key);
        let page: Vec<StoredResource> = keyed.into_iter().map(|(_, o)| o).collect();
        let (mut ok, mut failed, mut last) = (0, 0, None);
        let processed_before = run.processed;
        // The page's objects, several at a time (each is independent of the others: users
        // before groups, a page holds one kind).
        // (The futures are made first: a stream's closure would make the step's future
        // not `Send`, a known limit of the compiler with higher-ranked lifetimes.)
        let syncs: Vec<_> = page
            .iter()
            .map(|object| async move { (object, cx.sync(kind, &object.id, Some(object)).await) })
            .collect();
        let outcomes: Vec<_> = futures_util::stream::iter(syncs)
            .buffered(CONCURRENCY)
            .collect()
            .await;
        let mut entries = Vec::new();
        let mut stopped = false;
        for (object, outcome) in outcomes {
            match outcome {
                Ok(done) => {
                    ok += 1;
                    if done.action != "unchanged" && done.action != "skipped" {
                        entries.push(self.entry(cx, kind, &object.id, &done, None));
                    }
                }
                Err(e) => {
                    failed += 1;
                    entries.push(self.entry(cx, kind, &object.id, &Done::default(), Some(&e)));
                    stopped |= e.is_credentials();
                    last = Some(e);
                }
            }
            run.processed += 1;
        }
        self.write_log(&entries).await;
        if stopped {
            // Nothing more will pass: the page is tried again after the quarantine.
            run.processed = processed_before;
            return Ok((ok, failed, last));
        }
        if failed > 0 && run.failures + failed <= RETRIES {
            // The page is tried again after a backoff (what passed is not sent twice).
            run.processed = processed_before;
            return Ok((ok, failed, last));
        }
        let read = u64::try_from(page.len()).unwrap_or(0);
        run.cursor = if read < page_size {
            match kind {
                Kind::User if cx.target.settings.provision_groups => "Group:0".into(),
                _ => "done".into(),
            }
        } else {
            format!("{}:{next_key}", kind.as_str())
        };
        Ok((ok, failed, last))
    }

    async fn count(&self, cx: &Context<'_>, kind: Kind) -> Result<u64, DirectoryError> {
        let query = ListQuery {
            filter: None,
            sort: None,
            offset: 0,
            limit: 0,
            with_relations: false,
            max_bytes: usize::MAX,
            count_at_most: None,
        };
        Ok(self.directory.list(cx.tenant, kind, &query).await?.total)
    }

    /// The tenant's changes after the run's position, each object they name brought in step.
    async fn changes(
        &self,
        cx: &Context<'_>,
        run: &mut TargetRun,
    ) -> Result<(i64, i64, Option<SyncError>), DirectoryError> {
        let events = self
            .directory
            .store()
            .events(Some(cx.tenant.id()), run.position, EVENTS)
            .await?;
        // Each object named, with the position just before its first event (where the run
        // goes back to when it fails).
        let mut touched: Vec<(Kind, String)> = Vec::new();
        let mut before: Vec<i64> = Vec::new();
        let mut previous = run.position;
        for event in &events {
            for named in affected(&event.event_type, &event.data) {
                if !touched.contains(&named) {
                    touched.push(named);
                    before.push(previous);
                }
            }
            previous = event.position;
        }
        let mut order: Vec<usize> = (0..touched.len()).collect();
        // Users before groups, so that a group's new members are in the target first.
        order.sort_by_key(|i| touched[*i].0 == Kind::Group);
        let (mut ok, mut failed, mut last) = (0, 0, None);
        let mut retry_from: Option<i64> = None;
        for i in order {
            let (kind, id) = (&touched[i].0, &touched[i].1);
            let object = match self.directory.get(cx.tenant, *kind, id, true).await {
                Ok(o) => Some(o),
                Err(DirectoryError::NotFound { .. }) => None,
                Err(e) => return Err(e),
            };
            match cx.sync(*kind, id, object.as_ref()).await {
                Ok(done) => {
                    ok += 1;
                    if done.action != "unchanged" && done.action != "skipped" {
                        self.log(cx, *kind, id, &done, None).await;
                    }
                }
                Err(e) => {
                    failed += 1;
                    self.log(cx, *kind, id, &Done::default(), Some(&e)).await;
                    let stop = e.is_credentials();
                    last = Some(e);
                    if stop {
                        return Ok((ok, failed, last));
                    }
                    retry_from = Some(retry_from.map_or(before[i], |p| p.min(before[i])));
                }
            }
        }
        if let Some(e) = events.last() {
            run.position = e.position;
        }
        // A failed object is tried again (after a backoff) from its first event, up to
        // `RETRIES` times; after that the run goes on, and the next cycle tries it again.
        if let Some(p) = retry_from
            && run.failures + failed <= RETRIES
        {
            run.position = p;
        }
        Ok((ok, failed, last))
    }

    /// Writes an object's outcome to the tenant's provisioning log (direction: outbound).
    async fn log(
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
    async fn write_log(&self, entries: &[LogEntry]) {
        if entries.is_empty() {
            return;
        }
        if let Err(e) = self.directory.append_log(entries).await {
            tracing::warn!(error = %e, "writing outbound entries to the provisioning log failed");
        }
    }

    /// An object's outcome as a provisioning-log entry (direction: outbound).
    fn entry(
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
                String::new(),
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

    /// Provision on demand: one object now, whatever the run is doing, with its steps.
    pub async fn provision_now(
        &self,
        tenant: &TenantId,
        target: &str,
        kind: Kind,
        id: &str,
    ) -> Result<Result<Done, SyncError>, DirectoryError> {
        let target = self.directory.target(tenant, target).await?;
        let (ctx, target) = self.context_parts(tenant, &target.id).await?;
        let client = self.client(&target)?;
        let assigned = self.assignments(tenant, &target).await?;
        let cx = Context {
            directory: &self.directory,
            tenant: &ctx,
            target: &target,
            client: &client,
            users: target.settings.users()?,
            groups: target.settings.groups()?,
            assigned,
        };
        let object = match self.directory.get(&ctx, kind, id, true).await {
            Ok(o) => Some(o),
            Err(DirectoryError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let result = cx.sync(kind, id, object.as_ref()).await;
        match &result {
            Ok(done) => self.log(&cx, kind, id, done, None).await,
            Err(e) => self.log(&cx, kind, id, &Done::default(), Some(e)).await,
        }
        Ok(result)
    }

    /// Tests the connection as Entra does; on success, records what the target supports and
    /// ends a quarantine.
    pub async fn test_connection(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Result<roster_directory::targets::Capabilities, ClientError>, DirectoryError> {
        let mut target = self.directory.target(tenant, target).await?;
        let client = self.client(&target)?;
        let random = format!("roster-test-{}", self.directory.secrets().resource_id());
        let tested = client.test(&random).await;
        if let Ok(capabilities) = &tested {
            target.settings.capabilities = Some(*capabilities);
            self.directory.save_target(&target).await?;
            self.directory.end_quarantine(tenant, &target).await?;
        }
        Ok(tested)
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The objects an event names: the resource, and for a member change the group and the member.
fn affected(event_type: &str, data: &Json) -> Vec<(Kind, String)> {
    let id = |v: Option<&Json>| v.and_then(Json::as_str).map(str::to_owned);
    let mut out = Vec::new();
    if let Some(resource) = data.get("resource")
        && let Some(rid) = id(resource.get("id"))
    {
        if event_type.starts_with("user.") {
            out.push((Kind::User, rid));
        } else if event_type.starts_with("group.") {
            out.push((Kind::Group, rid));
        }
    }
    if let Some(group) = data.get("group")
        && let Some(gid) = id(group.get("id"))
    {
        out.push((Kind::Group, gid));
        if let Some(member) = data.get("member")
            && let Some(mid) = id(member.get("value"))
        {
            let kind = match member.get("type").and_then(Json::as_str) {
                Some("Group") => Kind::Group,
                _ => Kind::User,
            };
            out.push((kind, mid));
        }
    }
    out
}

impl SyncError {
    /// Whether the target refused the credentials.
    pub fn is_credentials(&self) -> bool {
        matches!(self, SyncError::Target(e) if e.is_credentials())
    }
}
