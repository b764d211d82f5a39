//! Phase 1: the users, the big group and the pool of non-members that the scenarios work on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use hyper::{Method, StatusCode};

use crate::client::Scim;
use crate::payload;

/// Members added per group PATCH while seeding: large enough to be quick, small enough
/// (about 50 KB) to stay under common body limits.
const MEMBER_BATCH: usize = 1000;

/// Users read per page when reusing existing users; servers may return fewer.
const LIST_PAGE: usize = 1000;

/// How often seeding progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// How often a create is retried when the server sheds load (429/503) during seeding.
const MAX_RETRIES: u32 = 5;

/// A User the scenarios may read or change.
pub struct User {
    /// The server-assigned id.
    pub id: Box<str>,
    /// The userName, for filters.
    pub user_name: Box<str>,
}

/// What seeding asks for.
pub struct Plan<'a> {
    /// The run id that makes userNames unique across runs.
    pub run_id: &'a str,
    /// How many users to create (or reuse with `reuse_existing`).
    pub users: usize,
    /// How many of them go into the big group; `None` means all.
    pub group_size: Option<usize>,
    /// How many users outside the big group `add-member` needs.
    pub pool_size: usize,
    /// Parallel creates.
    pub concurrency: usize,
    /// Read existing users instead of creating them.
    pub reuse_existing: bool,
}

/// The data the scenarios run against.
pub struct Dataset {
    /// The seeded (or reused) users.
    pub users: Vec<User>,
    /// The big group's id.
    pub group_id: String,
    /// How many users the big group was given.
    pub group_size: usize,
    /// Ids of existing users that are not in the big group, for `add-member`.
    pub pool: Vec<Box<str>>,
}

/// Creates (or reuses) the users, the pool and the big group, printing progress on stderr.
pub async fn seed(scim: &Arc<Scim>, plan: &Plan<'_>) -> anyhow::Result<Dataset> {
    let users = if plan.reuse_existing {
        let users = load_existing(scim, plan.users).await?;
        if users.len() < plan.users {
            eprintln!(
                "warning: --skip-seed found only {} users (wanted {})",
                users.len(),
                plan.users
            );
        }
        users
    } else {
        create_users(scim, plan, "", plan.users, "seed users").await?
    };

    let group_size = match plan.group_size {
        Some(n) => {
            ensure!(
                n <= users.len(),
                "--group-size {n} is larger than the {} available users",
                users.len()
            );
            n
        }
        None => users.len(),
    };

    // Users beyond the group are not members, so they start the pool; the rest is created.
    let mut pool: Vec<Box<str>> = users[group_size..]
        .iter()
        .take(plan.pool_size)
        .map(|u| u.id.clone())
        .collect();
    if pool.len() < plan.pool_size {
        let extra = plan.pool_size - pool.len();
        let created = create_users(scim, plan, "m", extra, "add-member pool").await?;
        pool.extend(created.into_iter().map(|u| u.id));
    }

    // Reading existing users for the whole group reuses a big group an earlier run left, so
    // that runs against the same database neither fill a new group of every user each time (a
    // thousand PATCHes of 1,000 members, which a server then still logs while the scenarios
    // run) nor give every user one more group in every answer.
    let reused = if plan.reuse_existing && plan.group_size.is_none() {
        existing_group(scim).await?
    } else {
        None
    };
    let (group_id, group_size) = match reused {
        Some(found) => found,
        None => (
            create_group(scim, plan.run_id, &users[..group_size]).await?,
            group_size,
        ),
    };
    Ok(Dataset {
        users,
        group_id,
        group_size,
        pool,
    })
}

/// Creates `count` users tagged `<prefix><n>` with `plan.concurrency` parallel clients.
async fn create_users(
    scim: &Arc<Scim>,
    plan: &Plan<'_>,
    prefix: &'static str,
    count: usize,
    label: &'static str,
) -> anyhow::Result<Vec<User>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    eprintln!(
        "creating {count} {label} with {} parallel clients...",
        plan.concurrency
    );
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let progress = tokio::spawn(report_progress(label, count, Arc::clone(&done), started));

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..plan.concurrency.min(count) {
        let scim = Arc::clone(scim);
        let next = Arc::clone(&next);
        let done = Arc::clone(&done);
        let run_id = plan.run_id.to_owned();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= count {
                    break;
                }
                let tag = format!("{prefix}{n}");
                let id = create_user(&scim, &run_id, &tag).await?;
                let user_name = payload::user_name(&run_id, &tag).into_boxed_str();
                mine.push((n, User { id, user_name }));
                done.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(mine)
        });
    }
    let mut all = Vec::with_capacity(count);
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined.context("a seeding task panicked").and_then(|r| r) {
            Ok(mine) => all.extend(mine),
            Err(e) => {
                // Stop the other clients at once: a broken seed makes every scenario meaningless.
                tasks.abort_all();
                failure.get_or_insert(e);
            }
        }
    }
    progress.abort();
    if let Some(e) = failure {
        return Err(e.context(format!("seeding {label} failed")));
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "created {count} {label} in {secs:.1}s ({:.0} users/s)",
        count as f64 / secs.max(1e-9)
    );
    // Index order keeps user n at position n, so "the first --group-size users" means what it says.
    all.sort_unstable_by_key(|(n, _)| *n);
    Ok(all.into_iter().map(|(_, u)| u).collect())
}

/// Prints how far seeding got every few seconds until aborted.
async fn report_progress(label: &str, count: usize, done: Arc<AtomicUsize>, started: Instant) {
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        let n = done.load(Ordering::Relaxed);
        let rate = n as f64 / started.elapsed().as_secs_f64();
        eprintln!("  {label}: {n}/{count} ({rate:.0}/s)");
    }
}

/// Creates one user and returns its id, retrying only when the server asks to back off.
async fn create_user(scim: &Scim, run_id: &str, tag: &str) -> anyhow::Result<Box<str>> {
    let mut attempt = 0;
    loop {
        let body = payload::new_user(run_id, tag);
        let resp = scim
            .send(Method::POST, "/Users", Some(body))
            .await
            .context("POST /Users")?;
        if resp.status.is_success() {
            let created: payload::Created = serde_json::from_slice(&resp.body)
                .with_context(|| format!("POST /Users returned no id: {}", resp.describe()))?;
            return Ok(created.id.into_boxed_str());
        }
        let busy = matches!(
            resp.status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        );
        if !busy || attempt >= MAX_RETRIES {
            bail!("POST /Users: {}", resp.describe());
        }
        attempt += 1;
        tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
    }
}

/// Reads up to `want` existing users (id and userName only) page by page.
async fn load_existing(scim: &Scim, want: usize) -> anyhow::Result<Vec<User>> {
    eprintln!("--skip-seed: reading up to {want} existing users...");
    let mut users = Vec::with_capacity(want);
    while users.len() < want {
        let count = LIST_PAGE.min(want - users.len());
        let path = format!(
            "/Users?attributes=id,userName&startIndex={}&count={count}",
            users.len() + 1
        );
        let resp = scim
            .send(Method::GET, &path, None)
            .await
            .context("GET /Users")?;
        if !resp.status.is_success() {
            bail!("GET {path}: {}", resp.describe());
        }
        let page: payload::UserPage = serde_json::from_slice(&resp.body)
            .with_context(|| format!("GET {path}: not a ListResponse"))?;
        if page.resources.is_empty() {
            break;
        }
        users.extend(page.resources.into_iter().map(|u| User {
            id: u.id.into_boxed_str(),
            user_name: u.user_name.into_boxed_str(),
        }));
        if users.len() as u64 >= page.total_results {
            break;
        }
    }
    users.truncate(want);
    eprintln!("  found {} users", users.len());
    Ok(users)
}

/// A big group an earlier run made (`bench-<runid>-big`, or renamed `…-big-<n>` by
/// rename-group), with how many members it has; `None` when there is none, or when the
/// server cannot be asked.
async fn existing_group(scim: &Scim) -> anyhow::Result<Option<(String, usize)>> {
    let path = "/Groups?filter=displayName%20sw%20%22bench-%22&attributes=displayName&count=100";
    let resp = scim
        .send(Method::GET, path, None)
        .await
        .context("GET /Groups")?;
    if !resp.status.is_success() {
        // A server that cannot filter groups this way (a reference server, say) gets a new one.
        eprintln!(
            "--skip-seed: no group reused (GET {path}: {})",
            resp.describe()
        );
        return Ok(None);
    }
    let page: payload::GroupPage = serde_json::from_slice(&resp.body)
        .with_context(|| format!("GET {path}: not a ListResponse"))?;
    let Some(group) = page
        .resources
        .into_iter()
        .find(|g| is_big_group(&g.display_name))
    else {
        return Ok(None);
    };
    let path = format!("/Groups/{}?attributes=members", group.id);
    let resp = scim
        .send(Method::GET, &path, None)
        .await
        .with_context(|| format!("GET {path}"))?;
    if !resp.status.is_success() {
        bail!("GET {path}: {}", resp.describe());
    }
    let members: payload::Members =
        serde_json::from_slice(&resp.body).with_context(|| format!("GET {path}: not a group"))?;
    eprintln!(
        "--skip-seed: reusing group {} ({} members)",
        group.display_name,
        members.members.len()
    );
    Ok(Some((group.id, members.members.len())))
}

/// Whether `name` is a big group's: `bench-<runid>-big`, or `bench-<runid>-big-<n>`.
fn is_big_group(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("bench-") else {
        return false;
    };
    match rest.split_once("-big") {
        Some((run, tail)) => {
            !run.is_empty()
                && (tail.is_empty()
                    || tail
                        .strip_prefix('-')
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())))
        }
        None => false,
    }
}

/// Creates the group `bench-<runid>-big` holding `members`, added in batches.
async fn create_group(scim: &Scim, run_id: &str, members: &[User]) -> anyhow::Result<String> {
    let name = format!("bench-{run_id}-big");
    let resp = scim
        .send(Method::POST, "/Groups", Some(payload::new_group(&name)))
        .await
        .context("POST /Groups")?;
    if !resp.status.is_success() {
        bail!("POST /Groups: {}", resp.describe());
    }
    let group: payload::Created = serde_json::from_slice(&resp.body)
        .with_context(|| format!("POST /Groups returned no id: {}", resp.describe()))?;
    if members.is_empty() {
        eprintln!("created empty group {name}");
        return Ok(group.id);
    }

    eprintln!(
        "adding {} members to group {name} in batches of {MEMBER_BATCH}...",
        members.len()
    );
    let path = format!("/Groups/{}", group.id);
    let started = Instant::now();
    let mut last_report = started;
    let mut added = 0;
    // One PATCH at a time: concurrent PATCHes of one group would only contend on the same row.
    for batch in members.chunks(MEMBER_BATCH) {
        let body = payload::add_members(batch.iter().map(|u| &*u.id));
        let resp = scim
            .send(Method::PATCH, &path, Some(body))
            .await
            .with_context(|| format!("PATCH {path}"))?;
        if !resp.status.is_success() {
            bail!("PATCH {path} (adding members): {}", resp.describe());
        }
        added += batch.len();
        if last_report.elapsed() >= PROGRESS_EVERY {
            last_report = Instant::now();
            eprintln!("  group members: {added}/{}", members.len());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "added {added} members in {secs:.1}s ({:.0} members/s)",
        added as f64 / secs.max(1e-9)
    );
    Ok(group.id)
}

#[cfg(test)]
mod tests {
    use super::is_big_group;

    #[test]
    fn a_big_group_is_known_by_its_name() {
        assert!(is_big_group("bench-3fa40080-big"));
        assert!(is_big_group("bench-3fa40080-big-17"));
        assert!(!is_big_group("bench--big"));
        assert!(!is_big_group("bench-3fa40080-big-"));
        assert!(!is_big_group("bench-3fa40080-bigger"));
        assert!(!is_big_group("bench-3fa40080-small"));
        assert!(!is_big_group("Sales"));
    }
}
