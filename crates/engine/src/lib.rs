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
//! (its runs slow to once an hour, or what `quarantine_minutes` says; the page says why) until a test connection succeeds.
//!
//! A failed page or change is tried again after 2, 4, 8… seconds, up to five times. A wake (an
//! assignment, a change of settings, a restart) is kept by the store even while a step holds
//! the lease. The cycles are in `cycle.rs`, one object's sync in `object.rs`, the SCIM client in
//! `client.rs`, the provisioning-log entries in `log.rs`, what `/metrics` shows in
//! `progress.rs`, and how a target is shown in `view.rs`.

mod approval;
pub mod client;
mod cycle;
pub mod dry;
pub mod entitlements;
mod log;
pub mod object;
pub mod progress;
mod rule_groups;
pub mod view;
mod write_back;

use std::sync::Arc;

use std::time::Duration;

use roster_directory::targets::Target;
use roster_directory::{Directory, DirectoryError, TenantContext};
use roster_store::{Kind, TargetRun, TenantId};

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

/// The engine of one process.
#[derive(Clone)]
pub struct Engine {
    directory: Directory,
    owner: String,
    allow_link_local: bool,
    progress: Arc<progress::Progress>,
}

impl Engine {
    /// An engine over `directory`; `owner` names this process in leases.
    pub fn new(directory: Directory, owner: String, allow_link_local: bool) -> Engine {
        Engine {
            directory,
            owner,
            allow_link_local,
            progress: Arc::default(),
        }
    }

    /// An engine for one request (a test connection, provision on demand) from `who` (`api`,
    /// `cli`, `console`); it takes no lease.
    pub fn one_off(directory: &Directory, who: &str) -> Engine {
        let owner = format!("{who}-{}", directory.secrets().resource_id());
        Engine::new(directory.clone(), owner, false)
    }

    /// Counts into `progress` (the process's metrics) what it does.
    #[must_use]
    pub fn with_progress(mut self, progress: Arc<progress::Progress>) -> Engine {
        self.progress = progress;
        self
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
        view::now_ms(&self.directory)
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
        let cx = Context::new(&self.directory, &ctx, &target, &client, assigned)?;
        let now = self.now_ms();
        let interval = i64::from(target.settings.interval_minutes) * 60_000;
        // Woken (an assignment, a change of settings) in the middle of a cycle: the cycle goes
        // on, and another follows it at once (marked `!` on the cursor until then).
        let again = run.cursor.ends_with('!')
            || (run.next_at == 0 && run.phase == "initial" && !run.cursor.is_empty());
        run.cursor = run.cursor.trim_end_matches('!').to_owned();
        // Actions approved since the last step go out first.
        self.send_approved(&cx).await?;
        // Whether the step read the change log up to its head (a burst of changes read in
        // several batches is weighed against the threshold whole, once read to its end).
        let mut caught_up = true;
        let (ok, failed, last_error) = if run.phase == "initial" {
            if run.cursor.is_empty() {
                // A new target, or a restart: the changes before its position (the head when
                // it was added or restarted) are covered by going through everything. Not
                // the head now: a first step done again (woken while leased) would pass over
                // a deletion made meanwhile, which going through everything cannot see.
                self.start_cycle(&cx, &mut run).await?;
            }
            self.initial_page(&cx, &mut run).await?
        } else if run.next_at <= now && !run.quarantined && run.failures == 0 {
            // The interval has passed (or the run was woken): a reconciling cycle through
            // everything; the changes after the run's position are applied after it (a
            // deletion is seen only there).
            run.phase = "initial".into();
            self.start_cycle(&cx, &mut run).await?;
            self.initial_page(&cx, &mut run).await?
        } else {
            let (ok, failed, last, read_all) = self.changes(&cx, &mut run).await?;
            caught_up = read_all;
            (ok, failed, last)
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
        // The removals a finished cycle, or the changes up to the log's head, counted.
        if failed == 0 && ((run.phase == "incremental" && caught_up) || run.cursor == "done") {
            self.weigh_removals(&cx, &mut run).await?;
        }
        if run.error.is_none() {
            run.error = self.waiting_words(&cx).await?;
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
            run.next_at = now + i64::from(target.settings.quarantine_minutes) * 60_000;
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
        let (processed, total) = if run.phase == "initial" {
            (run.processed, run.total)
        } else {
            (0, 0)
        };
        self.progress
            .run(&run.target_id, processed, total, run.quarantined);
        self.directory
            .store()
            .save_target_run(&self.owner, &run, true)
            .await?;
        Ok(())
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
        // Every request and its answer are shown with the steps.
        let client = self.client(&target)?.traced();
        let assigned = self.assignments(tenant, &target).await?;
        let cx = Context {
            on_demand: true,
            ..Context::new(&self.directory, &ctx, &target, &client, assigned)?
        };
        let object = match self.directory.get(&ctx, kind, id, true).await {
            Ok(o) => Some(o),
            Err(DirectoryError::NotFound { .. }) => None,
            Err(e) => return Err(e),
        };
        let mut result = cx.sync(kind, id, object.as_ref()).await;
        cx.flush().await?;
        if let Ok(done) = &mut result {
            done.steps.extend(client.exchanges());
        }
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

impl SyncError {
    /// Whether the target refused the credentials.
    pub fn is_credentials(&self) -> bool {
        matches!(self, SyncError::Target(e) if e.is_credentials())
    }
}
