//! Phase 2: each scenario runs for a fixed time with concurrent workers looping requests.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use hyper::Method;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::client::{Response, Scim, encode_query, snippet};
use crate::payload;
use crate::seed::Dataset;

/// One kind of request, measured on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// POST /Users with a fresh userName.
    Create,
    /// GET /Users/{id} of a random seeded user.
    Get,
    /// GET /Users?filter=userName eq "..." of a random seeded user; exactly one must match.
    Filter,
    /// PATCH /Users/{id}: replace displayName and name.givenName.
    Patch,
    /// GET /Users?startIndex=<random>&count=100.
    List,
    /// PATCH /Groups/{big}: add one user that is not yet a member.
    AddMember,
    /// PATCH /Groups/{big}: replace displayName, as Entra renames a group.
    RenameGroup,
}

impl Scenario {
    /// The name used on the command line and in the report.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Create => "create",
            Scenario::Get => "get",
            Scenario::Filter => "filter",
            Scenario::Patch => "patch",
            Scenario::List => "list",
            Scenario::AddMember => "add-member",
            Scenario::RenameGroup => "rename-group",
        }
    }

    /// Whether the scenario picks from the seeded users.
    pub fn needs_users(self) -> bool {
        !matches!(
            self,
            Scenario::Create | Scenario::AddMember | Scenario::RenameGroup
        )
    }
}

/// Everything the workers share across scenarios.
pub struct Target {
    /// The server.
    pub scim: Arc<Scim>,
    /// The run id, for fresh userNames.
    pub run_id: String,
    /// The seeded data.
    pub data: Dataset,
    /// The next `create` userName number; shared so repeated runs of `create` never collide.
    pub next_create: AtomicU64,
    /// The next unused pool entry for `add-member`.
    pub next_member: AtomicUsize,
}

/// What one scenario run measured.
pub struct Outcome {
    /// Which scenario.
    pub scenario: Scenario,
    /// Latencies of successful requests in microseconds, sorted.
    pub latencies_us: Vec<u32>,
    /// Failed requests: transport errors, timeouts, non-2xx and wrong answers.
    pub errors: u64,
    /// Wall time from the first request to the last response.
    pub elapsed: Duration,
    /// The first failure seen, if any.
    pub first_error: Option<String>,
    /// Why the run ended early, if it did.
    pub note: Option<String>,
}

/// What a worker checks in a response beyond a 2xx status.
#[derive(Clone, Copy)]
enum Check {
    Status,
    HasId,
    ExactlyOne,
}

/// One request to make.
struct Planned {
    method: Method,
    path: String,
    body: Option<Vec<u8>>,
    check: Check,
}

/// State one scenario run shares between its workers.
struct RunShared {
    first_error: OnceLock<String>,
    pool_exhausted: AtomicBool,
}

/// Runs `scenario` with `concurrency` workers for `duration`.
pub async fn run(
    target: &Arc<Target>,
    scenario: Scenario,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let shared = Arc::new(RunShared {
        first_error: OnceLock::new(),
        pool_exhausted: AtomicBool::new(false),
    });
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let target = Arc::clone(target);
        let shared = Arc::clone(&shared);
        // ThreadRng is not Send, so each worker carries its own small, fast generator.
        let rng = SmallRng::from_rng(&mut rand::rng());
        workers.spawn(worker(target, scenario, shared, deadline, rng));
    }

    let mut latencies_us = Vec::new();
    let mut errors = 0;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((lat, errs)) => {
                latencies_us.extend(lat);
                errors += errs;
            }
            Err(e) => {
                errors += 1;
                let _ = shared.first_error.set(format!("worker failed: {e}"));
            }
        }
    }
    let elapsed = started.elapsed();
    latencies_us.sort_unstable();

    let note = shared.pool_exhausted.load(Ordering::Relaxed).then(|| {
        format!(
            "ran out of non-member users after {:.1}s; raise --member-pool",
            elapsed.as_secs_f64()
        )
    });
    Outcome {
        scenario,
        latencies_us,
        errors,
        elapsed,
        first_error: shared.first_error.get().cloned(),
        note,
    }
}

/// Sends request after request until the deadline; returns the successful latencies and the error count.
async fn worker(
    target: Arc<Target>,
    scenario: Scenario,
    shared: Arc<RunShared>,
    deadline: Instant,
    mut rng: SmallRng,
) -> (Vec<u32>, u64) {
    let mut latencies = Vec::with_capacity(16 * 1024);
    let mut errors = 0;
    while Instant::now() < deadline {
        let Some(planned) = plan(&target, scenario, &mut rng) else {
            shared.pool_exhausted.store(true, Ordering::Relaxed);
            break;
        };
        let Planned {
            method,
            path,
            body,
            check,
        } = planned;
        let sent = Instant::now();
        let result = target.scim.send(method.clone(), &path, body).await;
        let micros = u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX);
        // Checking happens after the clock stops: parsing is the bench's cost, not the server's.
        let verdict = match result {
            Ok(resp) => verify(&resp, check),
            Err(e) => Err(e.to_string()),
        };
        match verdict {
            Ok(()) => latencies.push(micros),
            Err(why) => {
                errors += 1;
                if shared.first_error.get().is_none() {
                    let _ = shared.first_error.set(format!("{method} {path}: {why}"));
                }
            }
        }
    }
    (latencies, errors)
}

/// The next request of `scenario`, or `None` when `add-member` has no non-members left.
fn plan(target: &Target, scenario: Scenario, rng: &mut SmallRng) -> Option<Planned> {
    let users = &target.data.users;
    let planned = match scenario {
        Scenario::Create => {
            let n = target.next_create.fetch_add(1, Ordering::Relaxed);
            Planned {
                method: Method::POST,
                path: "/Users".to_owned(),
                body: Some(payload::new_user(&target.run_id, &format!("c{n}"))),
                check: Check::HasId,
            }
        }
        Scenario::Get => {
            let user = &users[rng.random_range(0..users.len())];
            Planned {
                method: Method::GET,
                path: format!("/Users/{}", user.id),
                body: None,
                check: Check::Status,
            }
        }
        Scenario::Filter => {
            let user = &users[rng.random_range(0..users.len())];
            let filter = format!("userName eq \"{}\"", user.user_name);
            Planned {
                method: Method::GET,
                path: format!("/Users?filter={}", encode_query(&filter)),
                body: None,
                check: Check::ExactlyOne,
            }
        }
        Scenario::Patch => {
            let user = &users[rng.random_range(0..users.len())];
            Planned {
                method: Method::PATCH,
                path: format!("/Users/{}", user.id),
                body: Some(payload::rename_user(rng.random())),
                check: Check::Status,
            }
        }
        Scenario::List => {
            let start = rng.random_range(1..=users.len());
            Planned {
                method: Method::GET,
                path: format!("/Users?startIndex={start}&count=100"),
                body: None,
                check: Check::Status,
            }
        }
        Scenario::AddMember => {
            // Each pool entry is handed out once, so every add is a real, not-yet-member user.
            let i = target.next_member.fetch_add(1, Ordering::Relaxed);
            let id = target.data.pool.get(i)?;
            Planned {
                method: Method::PATCH,
                path: format!("/Groups/{}", target.data.group_id),
                body: Some(payload::add_members([&**id])),
                check: Check::Status,
            }
        }
        Scenario::RenameGroup => Planned {
            method: Method::PATCH,
            path: format!("/Groups/{}", target.data.group_id),
            body: Some(payload::rename_group(
                &target.run_id,
                target.next_create.fetch_add(1, Ordering::Relaxed),
            )),
            check: Check::Status,
        },
    };
    Some(planned)
}

/// Whether a response is a success for its scenario; the reason when it is not.
fn verify(resp: &Response, check: Check) -> Result<(), String> {
    if !resp.status.is_success() {
        return Err(resp.describe());
    }
    match check {
        Check::Status => Ok(()),
        Check::HasId => serde_json::from_slice::<payload::Created>(&resp.body)
            .map(drop)
            .map_err(|e| {
                format!(
                    "HTTP {} without an id ({e}): {}",
                    resp.status,
                    snippet(&resp.body)
                )
            }),
        Check::ExactlyOne => match serde_json::from_slice::<payload::Total>(&resp.body) {
            Ok(t) if t.total_results == 1 => Ok(()),
            Ok(t) => Err(format!(
                "filter matched {} users, expected 1: {}",
                t.total_results,
                snippet(&resp.body)
            )),
            Err(e) => Err(format!(
                "HTTP {} without totalResults ({e}): {}",
                resp.status,
                snippet(&resp.body)
            )),
        },
    }
}
