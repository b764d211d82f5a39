//! Phase 3: the markdown report of parameters and per-scenario throughput and latency.

use std::fmt::Write as _;

use crate::scenario::Outcome;

/// The run's parameters, printed above the table so results can be compared.
pub struct Parameters<'a> {
    /// The SCIM base URL.
    pub url: &'a str,
    /// The run id in the seeded userNames.
    pub run_id: &'a str,
    /// Workers per scenario.
    pub concurrency: usize,
    /// Seconds per scenario.
    pub duration_secs: f64,
    /// Users the scenarios pick from.
    pub seed_users: usize,
    /// Members of the big group before the scenarios ran.
    pub group_size: usize,
    /// Non-members available to `add-member`.
    pub member_pool: usize,
    /// Whether existing users were reused instead of created.
    pub reused: bool,
}

/// The `q`-quantile (0..=1) of sorted samples by nearest rank.
fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Microseconds as milliseconds for the table, or `-` when nothing succeeded.
fn ms(us: Option<u32>) -> String {
    us.map_or_else(
        || "-".to_owned(),
        |us| format!("{:.2}", f64::from(us) / 1000.0),
    )
}

/// The whole report as markdown.
pub fn render(params: &Parameters<'_>, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let seeded = if params.reused { " (existing)" } else { "" };
    let _ = writeln!(out, "## roster-bench\n");
    let _ = writeln!(out, "- url: {}", params.url);
    let _ = writeln!(out, "- run id: {}", params.run_id);
    let _ = writeln!(out, "- concurrency: {}", params.concurrency);
    let _ = writeln!(out, "- duration: {}s per scenario", params.duration_secs);
    let _ = writeln!(out, "- seed users: {}{seeded}", params.seed_users);
    let _ = writeln!(out, "- group size: {}", params.group_size);
    let _ = writeln!(out, "- add-member pool: {}", params.member_pool);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "| scenario | requests | errors | req/s | p50 ms | p99 ms |"
    );
    let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|");
    for o in outcomes {
        let ok = o.latencies_us.len() as u64;
        let rate = ok as f64 / o.elapsed.as_secs_f64().max(1e-9);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.1} | {} | {} |",
            o.scenario.name(),
            ok + o.errors,
            o.errors,
            rate,
            ms(quantile(&o.latencies_us, 0.50)),
            ms(quantile(&o.latencies_us, 0.99)),
        );
    }
    let notes: Vec<String> = outcomes
        .iter()
        .flat_map(|o| {
            let error = o
                .first_error
                .as_ref()
                .map(|e| format!("- {} first error: {e}", o.scenario.name()));
            let note = o
                .note
                .as_ref()
                .map(|n| format!("- {}: {n}", o.scenario.name()));
            error.into_iter().chain(note)
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let v: Vec<u32> = (1..=100).collect();
        assert_eq!(quantile(&v, 0.5), Some(50));
        assert_eq!(quantile(&v, 0.99), Some(99));
        assert_eq!(quantile(&[7], 0.99), Some(7));
        assert_eq!(quantile(&[], 0.5), None);
    }
}
