//! How a target and its progress are shown, alike in the CLI (`roster target show|status
//! --json`), the tenant API (`/api/v1/tenants/{id}/targets/…`) and the console: never a
//! secret, always the numbers an administrator watches (objects processed of total, the rate,
//! the time left).

use roster_directory::targets::{Auth, Target};
use roster_directory::{Directory, DirectoryError};
use roster_store::TargetRun;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The directory's clock in milliseconds since the epoch, as runs store their times.
pub fn now_ms(directory: &Directory) -> i64 {
    i64::try_from(directory.now().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

/// An approval as the API and `roster target approvals --json` show it.
pub fn approval(a: &roster_store::Approval) -> Value {
    json!({
        "id": a.id,
        "target_id": a.target_id,
        "kind": a.kind.as_str(),
        "id_at_source": a.source_id,
        "name": a.name,
        "action": a.action,
        "request": a.request,
        "reason": a.reason,
        "state": a.state,
        "created_at": at(a.created_at),
        "decided_at": a.decided_at.map(at),
        "decided_by": a.decided_by,
    })
}

fn at(ms: i64) -> Value {
    if ms <= 1 {
        return Value::Null;
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .map_or(Value::Null, Value::String)
}

/// A target's settings, without its secret.
pub fn target(t: &Target) -> Value {
    let s = &t.settings;
    json!({
        "id": t.id,
        "name": t.name,
        "url": s.url,
        "auth": match &s.auth {
            Auth::Bearer => json!({"kind": "bearer"}),
            Auth::ClientCredentials { token_url, client_id, scope } => json!({
                "kind": "client_credentials", "token_url": token_url,
                "client_id": client_id, "scope": scope,
            }),
        },
        "scope": s.scope.name(),
        "scoping": s.scoping,
        "paused": t.paused,
        "provision_groups": s.provision_groups,
        "policy": s.policy,
        "approvals": s.approvals,
        "deletion_threshold": s.deletion_threshold.map(|t| t.to_string()),
        "write_back": s.write_back,
        "rate_limit": s.rate_limit,
        "timeout_seconds": s.timeout_seconds,
        "interval_minutes": s.interval_minutes,
        "quarantine_minutes": s.quarantine_minutes,
        "capabilities": s.capabilities.map(|c| json!({
            "patch": c.patch, "filter": c.filter, "bulk": c.bulk, "etag": c.etag
        })),
        "created_at": t.created_at.format(&Rfc3339).ok(),
    })
}

/// Where a target's run stands at `now_ms`: phase, progress with rate and time left, what
/// it holds, failures and quarantine.
pub fn status(
    t: &Target,
    run: Option<&TargetRun>,
    (users, groups): (u64, u64),
    now_ms: i64,
) -> Value {
    let Some(r) = run else {
        return json!({"phase": "new", "users": users, "groups": groups, "paused": t.paused});
    };
    let cycling = r.phase == "initial";
    let elapsed = (now_ms - r.cycle_started_at).max(1);
    let rate = if cycling && r.cycle_started_at > 0 && r.processed > 0 {
        // Objects per second since the cycle started.
        Some((r.processed as f64) * 1000.0 / (elapsed as f64))
    } else {
        None
    };
    let left = rate.map(|per_second| {
        let remaining = (r.total - r.processed).max(0) as f64;
        (remaining / per_second).ceil()
    });
    json!({
        "phase": r.phase,
        "processed": r.processed,
        "total": r.total,
        "percent": if r.total > 0 { (r.processed * 100 / r.total).clamp(0, 100) } else { 100 },
        "per_second": rate.map(|x| (x * 10.0).round() / 10.0),
        "seconds_left": left,
        "users": users,
        "groups": groups,
        "failures": r.failures,
        "error": r.error,
        "quarantined": r.quarantined,
        "paused": t.paused,
        "cycle_started_at": at(r.cycle_started_at),
        "last_cycle_ended_at": at(r.cycle_ended_at),
        "next_cycle_at": if cycling { Value::Null } else { at(r.next_at) },
    })
}

/// Everything about a target: its settings, its status, its mappings and its assignments.
pub async fn detail(directory: &Directory, t: &Target) -> Result<Value, DirectoryError> {
    let (run, counts) = directory.target_status(&t.tenant, t).await?;
    let now = now_ms(directory);
    let assigned = directory.target_assignments(&t.tenant, t).await?;
    let mut shown = target(t);
    shown["status"] = status(t, run.as_ref(), counts, now);
    shown["user_mappings"] = t.settings.user_mappings.clone();
    shown["group_mappings"] = t.settings.group_mappings.clone();
    shown["assigned"] = json!(
        assigned
            .iter()
            .map(|(k, id)| json!({"type": k.as_str(), "id": id}))
            .collect::<Vec<_>>()
    );
    Ok(shown)
}
