//! Measures how fast the pages render: a tenant's Provisioning & SSO page (opened with a
//! setup link), its users (the first page, and a search) and groups, and, given an
//! operator's credentials, the console's tenant list.
//!
//! ```text
//! roster tenant portal-link TENANT --json        # {"url": ...}
//! roster-page-bench --setup-link URL [--email E --password P] [--requests 2000] [--concurrency 4]
//! ```
//!
//! Prints requests per second and p50/p99/max latency per page. Every answer must be 200
//! with the page's heading, or the run counts it as an error.

// A load generator, not part of Roster: it reads the wall clock through `Instant` only.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};

/// Command-line options.
#[derive(Parser)]
#[command(name = "roster-page-bench", version, about)]
struct Args {
    /// A setup link (`roster tenant portal-link TENANT`); it is used once, to get a session.
    #[arg(long)]
    setup_link: String,
    /// An operator's e-mail, to time the console's tenant list too.
    #[arg(long)]
    email: Option<String>,
    /// The operator's password.
    #[arg(long, env = "ROSTER_BENCH_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Requests per page.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent requests.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
}

/// The value of the first `Set-Cookie` named `name`.
fn cookie_of(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (k, rest) = v.split_once('=')?;
            (k == name || k == format!("__Host-{name}")).then(|| {
                let value = rest.split(';').next().unwrap_or("");
                format!("{k}={value}")
            })
        })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Times `requests` GETs of `url` with `cookie`, `concurrency` at a time; each must answer 200
/// and contain `expect`.
async fn time_page(
    http: &reqwest::Client,
    url: &str,
    cookie: &str,
    expect: &str,
    requests: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (http, url, cookie, expect, next) = (
            http.clone(),
            url.to_owned(),
            cookie.to_owned(),
            expect.to_owned(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut times = Vec::new();
            let mut errors = 0usize;
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < requests {
                let t = Instant::now();
                let ok = match http.get(&url).header(COOKIE, &cookie).send().await {
                    Ok(res) if res.status() == 200 => {
                        res.text().await.is_ok_and(|body| body.contains(&expect))
                    }
                    _ => false,
                };
                if ok {
                    times.push(t.elapsed().as_secs_f64() * 1000.0);
                } else {
                    errors += 1;
                }
            }
            (times, errors)
        }));
    }
    let mut times = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (t, e) = w.await?;
        times.extend(t);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    println!(
        "| {url} | {} | {errors} | {:.1} | {:.2} | {:.2} | {:.2} |",
        times.len(),
        times.len() as f64 / elapsed,
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()?;
    let base = args
        .setup_link
        .split("/portal/open/")
        .next()
        .context("a setup link has /portal/open/ in it")?
        .to_owned();
    let opened = http.get(&args.setup_link).send().await?;
    let page = opened
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (Some(page), Some(cookie)) = (page, cookie_of(&opened, "roster_session")) else {
        bail!(
            "the setup link did not open (HTTP {}): it opens once; make a new one",
            opened.status()
        );
    };
    println!("| page | requests | errors | req/s | p50 ms | p99 ms | max ms |");
    println!("|---|--:|--:|--:|--:|--:|--:|");
    let portal = format!("{base}{page}");
    let pages = [
        (portal.clone(), "Provisioning URL"),
        (format!("{portal}/users"), "users."),
        (format!("{portal}/users?q=bench"), "users."),
        (format!("{portal}/groups"), "group"),
    ];
    for (url, expect) in pages {
        time_page(
            &http,
            &url,
            &cookie,
            expect,
            args.requests,
            args.concurrency,
        )
        .await?;
    }

    if let (Some(email), Some(password)) = (&args.email, &args.password) {
        let form = http.get(format!("{base}/console/login")).send().await?;
        let form_cookie = cookie_of(&form, "roster_form").context("the sign-in form's cookie")?;
        let html = form.text().await?;
        let token = html
            .split("name=\"form_token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .context("the sign-in form's token")?
            .to_owned();
        let signed = http
            .post(format!("{base}/console/login"))
            .header(COOKIE, form_cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("form_token", &token)
                    .append_pair("email", email)
                    .append_pair("password", password)
                    .finish(),
            )
            .send()
            .await?;
        let session = cookie_of(&signed, "roster_session").context("signing in failed")?;
        let list = format!("{base}/console");
        time_page(
            &http,
            &list,
            &session,
            "Tenants",
            args.requests,
            args.concurrency,
        )
        .await?;
    }
    Ok(())
}
