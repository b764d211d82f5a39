//! A target's cycles: the initial (or reconciling) phase a keyset page at a time, several
//! objects at once; the incremental phase, the change log after the run's position; and the
//! assignments, nested groups included.

use roster_directory::DirectoryError;
use roster_directory::targets::{ScopeMode, Target};
use roster_store::{Kind, ListQuery, StoredResource, TargetRun, TenantId};
use serde_json::Value as Json;

use futures_util::StreamExt as _;

use crate::object::{Context, Done, SyncError};
use crate::{CONCURRENCY, EVENTS, Engine, MAX_NESTED, PAGE, PAGE_SECONDS, RETRIES};

impl Engine {
    /// A target's assignments, with every group nested in an assigned group (as far as the
    /// directory nests, at most [`MAX_NESTED`] groups): their members are in scope too.
    pub(crate) async fn assignments(
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

    /// Starts a cycle: how many objects it goes through. The changes after the run's position
    /// are read after it (a deletion is seen only there).
    pub(crate) async fn start_cycle(
        &self,
        cx: &Context<'_>,
        run: &mut TargetRun,
    ) -> Result<(), DirectoryError> {
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
    pub(crate) async fn initial_page(
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
        // What the target holds of the page's objects, in one transaction.
        cx.flush().await?;
        let mut entries = Vec::new();
        let mut stopped = false;
        for (object, outcome) in outcomes {
            self.progress.count(outcome.as_ref().ok().map(|d| d.action));
            match outcome {
                Ok(done) => {
                    ok += 1;
                    if done.worth_logging() {
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

    pub(crate) async fn count(&self, cx: &Context<'_>, kind: Kind) -> Result<u64, DirectoryError> {
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

    /// The tenant's changes after the run's position, each object they name brought in step:
    /// `(ok, failed, last error, whether the batch reached the log's head)`.
    pub(crate) async fn changes(
        &self,
        cx: &Context<'_>,
        run: &mut TargetRun,
    ) -> Result<(i64, i64, Option<SyncError>, bool), DirectoryError> {
        let events = self
            .directory
            .store()
            .events(Some(cx.tenant.id()), run.position, EVENTS)
            .await?;
        let read_all = (events.len() as u64) < EVENTS;
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
            let outcome = cx.sync(*kind, id, object.as_ref()).await;
            // Written at once: a group later in this step reads its members' records.
            cx.flush().await?;
            self.progress.count(outcome.as_ref().ok().map(|d| d.action));
            match outcome {
                Ok(done) => {
                    ok += 1;
                    if done.worth_logging() {
                        self.log(cx, *kind, id, &done, None).await;
                    }
                }
                Err(e) => {
                    failed += 1;
                    self.log(cx, *kind, id, &Done::default(), Some(&e)).await;
                    let stop = e.is_credentials();
                    last = Some(e);
                    if stop {
                        return Ok((ok, failed, last, false));
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
        Ok((ok, failed, last, read_all))
    }
}

/// The objects an event names: the resource, and for a member change the group and the member.
pub(crate) fn affected(event_type: &str, data: &Json) -> Vec<(Kind, String)> {
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
