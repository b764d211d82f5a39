//! `roster-bench`: a SCIM 2.0 load generator printing requests per second and latency per scenario.
//!
//! It speaks plain SCIM over HTTP/1.1 with a bearer token, so it can drive Roster or any other
//! SCIM server for comparison.

// A load generator, not part of Roster: its run ids and request mixes come from the thread's
// generator, which `clippy.toml` refuses only to Roster's own code.
#![allow(clippy::disallowed_methods)]

mod client;
mod payload;
mod report;
mod scenario;
mod seed;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::time::Duration;

use anyhow::{bail, ensure};
use clap::Parser;
use hyper::Method;
use rand::Rng;

use crate::client::Scim;
use crate::scenario::{Scenario, Target};

/// The most users created up front for `add-member` unless `--member-pool` says otherwise.
const MAX_DEFAULT_POOL: usize = 50_000;
/// Expected `add-member` requests per worker and second, to size the default pool.
const POOL_PER_WORKER_SECOND: usize = 500;

const LONG_ABOUT: &str = "\
Load generator for SCIM 2.0 servers (Roster or any other).

It seeds data, then runs each scenario for --duration with --concurrency workers, \
each sending request after request over keep-alive HTTP/1.1, and prints a markdown \
table of throughput and latency on stdout (progress goes to stderr).

Phase 1, seed: creates --seed-users users (userName bench-<runid>-<n>@example.com, \
with name, a work email, active and externalId) with --seed-concurrency parallel \
clients, then a group bench-<runid>-big holding the first --group-size of them, \
added 1000 per PATCH. If add-member runs, a pool of users outside that group is \
created too (--member-pool). The run id is random, so runs against the same \
database never collide. With --skip-seed, existing users are read from GET /Users \
instead of created, and, unless --group-size is given, a big group an earlier run \
made is reused (a new one is made when there is none); the pool is still made fresh.

Phase 2, scenarios:
  create      POST /Users with a fresh userName (the response must carry an id)
  get         GET /Users/{id} of a random seeded user
  filter      GET /Users?filter=userName eq \"...\" of a random seeded user (totalResults must be 1)
  patch       PATCH /Users/{id}: replace displayName and name.givenName
  list        GET /Users?startIndex=<random>&count=100
  add-member  PATCH /Groups/{big group}: add one user that is not yet a member
  rename-group  PATCH /Groups/{big group}: replace displayName (Entra's rename); not run by default

Errors are transport failures, timeouts (30s), non-2xx responses and wrong answers; \
the first one per scenario is printed under the table. req/s and the p50/p99 \
latencies count successful requests only.

Exit status: 0 when every request succeeded, 2 when the table has errors, 1 when \
the bench could not run (bad URL or token, seeding failed).";

/// Command-line options.
#[derive(Parser)]
#[command(name = "roster-bench", version, about, long_about = LONG_ABOUT)]
struct Args {
    /// SCIM base URL (http only), e.g. http://127.0.0.1:8080/scim/v2/<tenant>; several,
    /// comma-separated, are used in turn (one tenant on several processes of one database).
    #[arg(long, env = "ROSTER_BENCH_URL", value_delimiter = ',', required = true)]
    url: Vec<String>,

    /// Bearer token; prefer the environment variable, which `ps` does not show.
    #[arg(long, env = "ROSTER_BENCH_TOKEN", hide_env_values = true)]
    token: String,

    /// Concurrent workers per scenario.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,

    /// How long each scenario runs: seconds, or with a unit (10, 10s, 500ms, 2m).
    #[arg(long, default_value = "10", value_parser = parse_duration)]
    duration: Duration,

    /// Users to create before the scenarios run.
    #[arg(long, default_value_t = 100_000)]
    seed_users: usize,

    /// Seeded users put into the big group [default: --seed-users].
    #[arg(long)]
    group_size: Option<usize>,

    /// Scenarios to run, in order, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "create,get,filter,patch,list,add-member"
    )]
    scenarios: Vec<Scenario>,

    /// Parallel clients while seeding.
    #[arg(long, default_value_t = 32)]
    seed_concurrency: usize,

    /// Reuse up to --seed-users existing users (read via GET /Users) instead of creating them.
    #[arg(long)]
    skip_seed: bool,

    /// Non-member users kept ready for add-member
    /// [default: concurrency × duration-seconds × 500, at most 50000].
    #[arg(long)]
    member_pool: Option<usize>,
}

/// Parses `10`, `10s`, `1.5s`, `500ms` or `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 10, 10s, 500ms or 2m"))?;
    let secs = value * scale;
    if !secs.is_finite() || secs <= 0.0 {
        return Err(format!("{s:?} must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match bench(args).await {
        Ok(Clean::Yes) => ExitCode::SUCCESS,
        // The table is printed, but a run with failures is not a clean measurement.
        Ok(Clean::No) => ExitCode::from(2),
        Err(e) => {
            // One line with the causes, not anyhow's Debug form, which adds a backtrace
            // whenever RUST_BACKTRACE is set.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether every measured request succeeded.
enum Clean {
    Yes,
    No,
}

/// Seeds, runs the scenarios and prints the report.
async fn bench(args: Args) -> anyhow::Result<Clean> {
    ensure!(args.concurrency >= 1, "--concurrency must be at least 1");
    ensure!(
        args.seed_concurrency >= 1,
        "--seed-concurrency must be at least 1"
    );
    ensure!(!args.scenarios.is_empty(), "--scenarios is empty");
    // With --skip-seed the number of users is only known after reading them; seeding checks again.
    if let Some(g) = args.group_size {
        ensure!(
            args.skip_seed || g <= args.seed_users,
            "--group-size {g} is larger than --seed-users {}",
            args.seed_users
        );
    }

    let run_id = format!("{:08x}", rand::rng().random::<u32>());
    let urls = args.url.join(", ");
    let scim = Arc::new(Scim::new(
        &args.url,
        &args.token,
        args.concurrency.max(args.seed_concurrency),
    )?);
    preflight(&scim).await?;

    let adds_members = args.scenarios.contains(&Scenario::AddMember);
    let pool_size = if adds_members {
        args.member_pool.unwrap_or_else(|| {
            let secs = args.duration.as_secs_f64().ceil() as usize;
            (args.concurrency * secs * POOL_PER_WORKER_SECOND).min(MAX_DEFAULT_POOL)
        })
    } else {
        0
    };

    eprintln!("run id {run_id}");
    let data = seed::seed(
        &scim,
        &seed::Plan {
            run_id: &run_id,
            users: args.seed_users,
            group_size: args.group_size,
            pool_size,
            concurrency: args.seed_concurrency,
            reuse_existing: args.skip_seed,
        },
    )
    .await?;
    if data.users.is_empty()
        && let Some(s) = args.scenarios.iter().find(|s| s.needs_users())
    {
        bail!(
            "the {} scenario needs seeded users; raise --seed-users",
            s.name()
        );
    }

    let params = report::Parameters {
        url: &urls,
        run_id: &run_id,
        concurrency: args.concurrency,
        duration_secs: args.duration.as_secs_f64(),
        seed_users: data.users.len(),
        group_size: data.group_size,
        member_pool: data.pool.len(),
        reused: args.skip_seed,
    };
    let member_pool = data.pool.len();
    let target = Arc::new(Target {
        scim,
        run_id: run_id.clone(),
        data,
        next_create: AtomicU64::new(0),
        next_member: AtomicUsize::new(0),
    });

    let mut outcomes = Vec::with_capacity(args.scenarios.len());
    for &s in &args.scenarios {
        if s == Scenario::AddMember && member_pool == 0 {
            eprintln!("skipping add-member: the member pool is empty");
            continue;
        }
        eprintln!(
            "running {} for {:.1}s with {} workers...",
            s.name(),
            args.duration.as_secs_f64(),
            args.concurrency
        );
        let outcome = scenario::run(&target, s, args.concurrency, args.duration).await;
        if outcome.errors > 0 {
            eprintln!("  {} errors", outcome.errors);
        }
        outcomes.push(outcome);
    }

    println!("{}", report::render(&params, &outcomes));
    Ok(if outcomes.iter().any(|o| o.errors > 0) {
        Clean::No
    } else {
        Clean::Yes
    })
}

/// Fails early, with the server's answer, when the URL or token is wrong.
async fn preflight(scim: &Scim) -> anyhow::Result<()> {
    let path = "/Users?count=1";
    match scim.send(Method::GET, path, None).await {
        Ok(resp) if resp.status.is_success() => Ok(()),
        Ok(resp) => bail!("the server rejected GET {path}: {}", resp.describe()),
        Err(e) => bail!("cannot reach the server (GET {path}): {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_consistent() {
        Args::command().debug_assert();
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("ten").is_err());
    }

    #[test]
    fn scenarios_parse_from_a_list() {
        let args = Args::try_parse_from([
            "roster-bench",
            "--url",
            "http://x",
            "--token",
            "t",
            "--scenarios",
            "get,add-member",
        ])
        .expect("valid arguments");
        assert_eq!(args.scenarios, [Scenario::Get, Scenario::AddMember]);
    }
}
