//! Measures webhook delivery: the latency from a SCIM response to the webhook's arrival, and
//! the sustained delivery rate through a backlog.
//!
//! Register its receiver first, for the tenant whose URL and token you pass:
//!
//! ```text
//! roster webhook add http://127.0.0.1:9797/hook --tenant TENANT
//! roster-webhook-bench --url http://127.0.0.1:8080/scim/v2/TENANT --token rst_...
//! ```
//!
//! Phase 1 creates users one at a time and times each from its 201 to its `user.created`
//! webhook. Phase 2 has the receiver answer 503 while `--backlog` users are created, then
//! accept: the rate is the backlog divided by the time from its first to its last delivery.

// A load generator, not part of Roster: its run ids and request mixes come from the thread's
// generator, which `clippy.toml` refuses only to Roster's own code.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use clap::Parser;
use serde_json::{Value, json};

/// Command-line options.
#[derive(Parser)]
#[command(name = "roster-webhook-bench", version, about)]
struct Args {
    /// The tenant's SCIM base URL.
    #[arg(long)]
    url: String,
    /// The tenant's bearer token.
    #[arg(long, env = "ROSTER_BENCH_TOKEN", hide_env_values = true)]
    token: String,
    /// Where the receiver listens (register http://THIS/hook as the webhook).
    #[arg(long, default_value = "127.0.0.1:9797")]
    listen: String,
    /// Users created one at a time for the latency figures.
    #[arg(long, default_value_t = 500)]
    latency_samples: usize,
    /// Users created while the receiver refuses, for the delivery rate.
    #[arg(long, default_value_t = 10_000)]
    backlog: usize,
    /// Concurrent creates while building the backlog.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
}

#[derive(Default)]
struct Receiver {
    accepting: AtomicBool,
    /// userName → first arrival.
    arrivals: Mutex<HashMap<String, Instant>>,
}

async fn receive(State(r): State<Arc<Receiver>>, body: Bytes) -> StatusCode {
    let now = Instant::now();
    if !r.accepting.load(Ordering::Relaxed) {
        return StatusCode::SERVICE_UNAVAILABLE;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(&body)
        && let Some(name) = v["data"]["resource"]["userName"].as_str()
    {
        r.arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .entry(name.to_owned())
            .or_insert(now);
    }
    StatusCode::NO_CONTENT
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn create(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
) -> anyhow::Result<Instant> {
    let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
    let r = http
        .post(format!("{}/Users", base.trim_end_matches('/')))
        .bearer_auth(token)
        .header("content-type", "application/scim+json")
        .body(body.to_string())
        .send()
        .await?;
    let at = Instant::now();
    if r.status() != reqwest::StatusCode::CREATED {
        bail!("creating {name}: {}", r.status());
    }
    Ok(at)
}

async fn arrival(r: &Receiver, name: &str, limit: Duration) -> Option<Instant> {
    let started = Instant::now();
    loop {
        if let Some(at) = r
            .arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
        {
            return Some(*at);
        }
        if started.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let receiver = Arc::new(Receiver::default());
    receiver.accepting.store(true, Ordering::Relaxed);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    // reqwest is built without a TLS crypto provider of its own: install the build's one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let run = format!("{:08x}", rand::random::<u32>());

    // Phase 1: latency, one change at a time.
    let mut latencies = Vec::with_capacity(args.latency_samples);
    for i in 0..args.latency_samples {
        let name = format!("wh-lat-{run}-{i}@example.com");
        let responded = create(&http, &args.url, &args.token, &name).await?;
        match arrival(&receiver, &name, Duration::from_secs(10)).await {
            Some(at) => latencies.push(at.saturating_duration_since(responded).as_secs_f64() * 1e3),
            None => bail!(
                "the webhook for {name} did not arrive within 10 s; is http://{}/hook registered for this tenant?",
                args.listen
            ),
        }
    }
    latencies.sort_by(f64::total_cmp);

    // Phase 2: a backlog built while the receiver refuses, then delivered.
    receiver.accepting.store(false, Ordering::Relaxed);
    let names: Vec<String> = (0..args.backlog)
        .map(|i| format!("wh-rate-{run}-{i}@example.com"))
        .collect();
    let chunks: Vec<Vec<String>> = names
        .chunks(args.backlog.div_ceil(args.concurrency.max(1)).max(1))
        .map(<[String]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (http, base, token) = (http.clone(), args.url.clone(), args.token.clone());
        tasks.push(tokio::spawn(async move {
            for name in chunk {
                create(&http, &base, &token, &name).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    receiver.accepting.store(true, Ordering::Relaxed);
    let mut last = None;
    for name in &names {
        match arrival(&receiver, name, Duration::from_secs(120)).await {
            Some(at) => last = Some(last.map_or(at, |l: Instant| l.max(at))),
            None => bail!("{name} was not delivered within two minutes"),
        }
    }
    let first = {
        let arrivals = receiver
            .arrivals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names.iter().filter_map(|n| arrivals.get(n)).min().copied()
    };
    let span = match (first, last) {
        (Some(f), Some(l)) => l.saturating_duration_since(f).as_secs_f64(),
        _ => f64::NAN,
    };

    println!("## roster-webhook-bench\n");
    println!("- url: {}", args.url);
    println!(
        "- receiver: http://{}/hook (answers 204 at once)\n",
        args.listen
    );
    println!("| measurement | value |");
    println!("|---|--:|");
    println!(
        "| latency from SCIM 201 to webhook arrival, p50 ({} samples) | {:.2} ms |",
        latencies.len(),
        percentile(&latencies, 0.50)
    );
    println!("| latency, p99 | {:.2} ms |", percentile(&latencies, 0.99));
    println!(
        "| latency, max | {:.2} ms |",
        latencies.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "| sustained delivery rate ({} backlogged events in {:.2} s) | {:.0} /s |",
        args.backlog,
        span,
        args.backlog as f64 / span
    );
    Ok(())
}
