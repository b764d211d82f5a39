//! What outbound provisioning costs: a Roster server in this process (SQLite in a temporary
//! directory, the engine running beside it as in `roster serve`), a source tenant seeded with
//! USERS users through SCIM, and a second tenant of the same server as the target (scope: all,
//! groups off, a rate limit of 10,000 requests a second). It prints:
//!
//! 1. the initial cycle: users per second into the target (each user looked up by its
//!    matching attributes, then created), and the process's peak resident memory meanwhile;
//! 2. a change reaching the target: after the source's SCIM response to a PATCH, how long
//!    until the target answers with the new value (p50, p99, max, over ROUNDS changes).
//! 3. reapply after a rule change: an entitlement rule that gives a licence to one user in
//!    ten (externalId ending in 7) is set; the reconciling cycle evaluates every user again,
//!    and the bench prints how long it took and how many requests reached the target (only
//!    the differences should).
//!
//! `cargo run --release -p roster --example outbound_bench -- [USERS] [ROUNDS]` (defaults
//! 100000 and 200).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt as _;
use roster::startup::{self, Application, StoreOptions, Workers};
use roster_directory::targets::{Auth, NewTarget, ScopeMode, TargetChange};
use roster_directory::{SystemClock, SystemSecrets};
use roster_server::Config;
use roster_store::TenantId;
use serde_json::{Value, json};

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let users: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let rounds: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(200);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}", dir.path().join("roster.db").display());
    let store = startup::open_store(
        &url,
        StoreOptions {
            may_create: true,
            max_connections: 8,
        },
    )
    .await?;
    let key = roster_directory::sealing::ServerKey::generate(&SystemSecrets);
    let directory = startup::directory(store, Arc::new(SystemClock), Arc::new(SystemSecrets))
        .with_keyring(roster_directory::sealing::Keyring::new(key));
    directory.check_keys().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = format!("http://{}", listener.local_addr()?);
    let state = startup::app_state(directory.clone(), Config::new(&address), true);
    tokio::spawn(Application::new(listener, state, Workers::default()).run(std::future::pending()));

    let source = directory.create_tenant("Contoso").await?;
    let target = directory.create_tenant("Fabrikam").await?;
    let http = reqwest::Client::new();
    let scim = format!("{address}/scim/v2/{}", source.tenant.id);
    let remote = format!("{address}/scim/v2/{}", target.tenant.id);

    // The source, seeded through SCIM by 16 clients.
    let started = Instant::now();
    let created: Vec<anyhow::Result<String>> = futures_util::stream::iter(0..users)
        .map(|i| {
            let (http, scim, token) = (http.clone(), scim.clone(), source.token.clone());
            async move {
                let body = json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": format!("user{i}@contoso.com"),
                    "externalId": format!("ext-{i}"),
                    "name": {"givenName": "User", "familyName": format!("Number {i}")},
                    "displayName": format!("User {i}"),
                    "emails": [{"type": "work", "value": format!("user{i}@contoso.com"), "primary": true}],
                    "active": true,
                });
                let r = http.post(format!("{scim}/Users")).bearer_auth(&token).json(&body).send().await?;
                anyhow::ensure!(r.status() == 201, "seeding: {}", r.status());
                let v: Value = r.json().await?;
                Ok(v["id"].as_str().unwrap_or_default().to_owned())
            }
        })
        .buffered(16)
        .collect()
        .await;
    let ids: Vec<String> = created.into_iter().collect::<anyhow::Result<_>>()?;
    println!(
        "seeded {users} users in {:.1} s; resident memory {:.0} MB",
        started.elapsed().as_secs_f64(),
        rss_mb()
    );

    // The initial cycle into the second tenant.
    let tenant = TenantId::new(source.tenant.id.as_str());
    let before = rss_mb();
    let started = Instant::now();
    let added = directory
        .add_target(
            &tenant,
            NewTarget {
                name: "fabrikam".into(),
                url: remote.clone(),
                auth: Auth::Bearer,
                secret: target.token.clone(),
                scope: ScopeMode::All,
            },
        )
        .await?;
    let added = directory
        .change_target(
            &tenant,
            &added.id,
            TargetChange {
                rate_limit: Some(10_000),
                provision_groups: Some(false),
                ..TargetChange::default()
            },
        )
        .await?;
    let mut peak = before;
    let mut last_print = Instant::now();
    loop {
        let (run, (held, _)) = directory.target_status(&tenant, &added).await?;
        peak = peak.max(rss_mb());
        let run = run.ok_or_else(|| anyhow::anyhow!("no run"))?;
        anyhow::ensure!(!run.quarantined, "quarantined: {:?}", run.error);
        if run.phase == "incremental" && held as usize == users {
            break;
        }
        if last_print.elapsed() > Duration::from_secs(5) {
            println!(
                "  {} of {} ({:.0}/s)",
                run.processed,
                run.total,
                run.processed as f64 / started.elapsed().as_secs_f64()
            );
            last_print = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed().as_secs_f64();
    println!(
        "initial cycle: {users} users in {took:.1} s = {:.0} users/s; resident memory {before:.0} MB before, {peak:.0} MB at most during the cycle",
        users as f64 / took
    );

    // A change reaching the target.
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let i = (round * 7919) % ids.len();
        let name = format!("Changed {round}");
        let r = http
            .patch(format!("{scim}/Users/{}", ids[i]))
            .bearer_auth(&source.token)
            .json(&json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "displayName", "value": name}]
            }))
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "PATCH: {}", r.status());
        let answered = Instant::now();
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("filter", &format!("userName eq \"user{i}@contoso.com\""))
            .append_pair("attributes", "displayName")
            .finish();
        loop {
            let r = http
                .get(format!("{remote}/Users?{query}"))
                .bearer_auth(&target.token)
                .send()
                .await?;
            let v: Value = r.json().await?;
            if v["Resources"][0]["displayName"] == name.as_str() {
                break;
            }
            anyhow::ensure!(
                answered.elapsed() < Duration::from_secs(30),
                "round {round}: the change did not arrive"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        latencies.push(answered.elapsed());
    }
    latencies.sort();
    println!(
        "a change reaching the target ({rounds} changes): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        percentile(&latencies, 1.0)
    );

    // Reapply after a rule change: every user evaluated, only the differences sent.
    let metric = |action: &'static str| {
        let (http, address) = (http.clone(), address.clone());
        async move {
            let text = http
                .get(format!("{address}/metrics"))
                .send()
                .await?
                .text()
                .await?;
            let n = text
                .lines()
                .filter(|l| {
                    l.starts_with("roster_outbound_objects")
                        && l.contains(&format!("action=\"{action}\""))
                })
                .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
                .sum::<f64>();
            anyhow::Ok(n as u64)
        }
    };
    let sent_before = metric("updated").await? + metric("created").await?;
    let since = roster_directory::epoch_millis(directory.now());
    let started = Instant::now();
    let rule: roster_outbound::rules::Rule = serde_json::from_value(json!({
        "name": "licence A", "conditions": [{"clauses": [
            {"attribute": "externalId", "operator": "REGEX_MATCH", "value": "7$"}]}],
        "set": [{"attribute": "entitlements", "values": ["LICENCE-A"]}]}))?;
    let added = directory
        .change_target(
            &tenant,
            &added.id,
            TargetChange {
                rules: Some(vec![rule]),
                ..TargetChange::default()
            },
        )
        .await?;
    loop {
        let (run, _) = directory.target_status(&tenant, &added).await?;
        let run = run.ok_or_else(|| anyhow::anyhow!("no run"))?;
        if run.phase == "incremental" && run.cycle_ended_at >= since {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(1800),
            "reapply did not end"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = started.elapsed().as_secs_f64();
    let sent = metric("updated").await? + metric("created").await? - sent_before;
    let expected = (0..users).filter(|i| i % 10 == 7).count();
    println!(
        "reapply after a rule change: {users} users evaluated in {took:.1} s = {:.0} users/s; {sent} requests sent to the target ({expected} users gain the licence)",
        users as f64 / took
    );
    Ok(())
}
