//! `roster target …`: a tenant's outbound provisioning targets.

use anyhow::{Context as _, Result, bail};
use roster_directory::Directory;
use roster_directory::targets::{
    ApprovalAction, Auth, NewTarget, ScopeMode, Target, TargetChange, WriteBack,
};
use roster_engine::Engine;
use roster_outbound::plan::Leaving;
use roster_store::Kind;
use serde_json::{Value, json};

use crate::cli::TargetCommand;

fn target_json(t: &Target) -> Value {
    roster_engine::view::target(t)
}

fn engine(directory: &Directory) -> Engine {
    Engine::one_off(directory, "cli")
}

fn object(user: Option<String>, group: Option<String>) -> Result<(Kind, String)> {
    match (user, group) {
        (Some(u), None) => Ok((Kind::User, u)),
        (None, Some(g)) => Ok((Kind::Group, g)),
        _ => bail!("give --user ID or --group ID"),
    }
}

async fn status_json(directory: &Directory, t: &Target) -> Result<Value> {
    Ok(roster_engine::view::detail(directory, t).await?["status"].take())
}

fn on_off(key: &str, value: &str) -> Result<bool> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => bail!("{key} is on or off, not {other:?}"),
    }
}

fn number(key: &str, value: &str) -> Result<u32> {
    value
        .parse()
        .with_context(|| format!("{key} is a whole number, not {value:?}"))
}

/// `KEY=VALUE` pairs read into a change (`roster target set`).
fn change(current: &Target, pairs: &[String]) -> Result<TargetChange> {
    let mut c = TargetChange::default();
    let mut policy = current.settings.policy;
    let mut policy_changed = false;
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("settings are KEY=VALUE, not {pair:?}");
        };
        match key {
            "url" => c.url = Some(value.to_owned()),
            "token" => c.token = Some(value.to_owned()),
            "scope" => c.scope = Some(ScopeMode::parse(value)?),
            "groups" => c.provision_groups = Some(on_off(key, value)?),
            "rate-limit" => c.rate_limit = Some(number(key, value)?),
            "timeout" => c.timeout_seconds = Some(number(key, value)?),
            "interval" => c.interval_minutes = Some(number(key, value)?),
            "quarantine" => c.quarantine_minutes = Some(number(key, value)?),
            "roles" => {
                c.roles = Some(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|r| !r.is_empty() && *r != "none")
                        .map(str::to_owned)
                        .collect(),
                )
            }
            "rules" => {
                let path = value.strip_prefix('@').unwrap_or(value);
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                c.rules = Some(
                    serde_json::from_str(&text)
                        .with_context(|| format!("{path}: not entitlement rules"))?,
                );
            }
            "scoping" => {
                let path = value.strip_prefix('@').unwrap_or(value);
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                c.scoping = Some(
                    serde_json::from_str(&text)
                        .with_context(|| format!("{path}: not scoping filters"))?,
                );
            }
            "create" | "update" | "deactivate" | "delete" | "sync-password" => {
                let on = on_off(key, value)?;
                match key {
                    "create" => policy.create = on,
                    "update" => policy.update = on,
                    "deactivate" => policy.deactivate = on,
                    "delete" => policy.delete = on,
                    _ => policy.sync_password = on,
                }
                policy_changed = true;
            }
            "approvals" => c.approvals = Some(ApprovalAction::parse_list(value)?),
            "write-back" => c.write_back = Some(WriteBack::parse_list(value)?),
            "deletion-threshold" => c.deletion_threshold = Some(value.to_owned()),
            "leaving-scope" | "on-source-delete" | "deprovision" => {
                let leaving = match value {
                    "deactivate" | "suspend" => Leaving::Deactivate,
                    "delete" => Leaving::Delete,
                    "nothing" => Leaving::Nothing,
                    other => {
                        bail!("{key} is delete, suspend (deactivate) or nothing, not {other:?}")
                    }
                };
                if key != "on-source-delete" {
                    policy.leaving_scope = leaving;
                }
                if key != "leaving-scope" {
                    policy.on_source_delete = leaving;
                }
                policy_changed = true;
            }
            other => bail!("{other} is not a target setting (see roster target set --help)"),
        }
    }
    if policy_changed {
        c.policy = Some(policy);
    }
    Ok(c)
}

/// A progress bar of `width` characters.
fn bar(done: i64, total: i64, width: usize) -> String {
    let filled = if total <= 0 {
        width
    } else {
        usize::try_from(done.clamp(0, total) * i64::try_from(width).unwrap_or(0) / total)
            .unwrap_or(0)
    };
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}

pub(crate) async fn target(directory: &Directory, command: TargetCommand) -> Result<()> {
    match command {
        TargetCommand::Add {
            tenant,
            name,
            url,
            token,
            client_id,
            client_secret,
            token_url,
            scope,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let Some((auth, secret)) = Auth::from_given(token, client_id, client_secret, token_url)
            else {
                bail!("give --token TOKEN, or --client-id, --client-secret and --token-url");
            };
            let added = directory
                .add_target(
                    &tenant.id,
                    NewTarget {
                        name,
                        url,
                        auth,
                        secret,
                        scope: ScopeMode::parse(&scope)?,
                    },
                )
                .await?;
            if json {
                println!("{}", target_json(&added));
            } else {
                println!(
                    "Target {} added to {} ({}). `roster serve` starts its first cycle; \
                     `roster target test {} {}` checks the connection.",
                    added.name, tenant.name, added.id, tenant.name, added.name
                );
            }
        }
        TargetCommand::List { tenant, json } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let targets = directory.targets(&tenant.id).await?;
            if json {
                let list: Vec<Value> = targets.iter().map(target_json).collect();
                println!("{}", Value::Array(list));
            } else {
                for t in &targets {
                    println!(
                        "{}\t{}\t{}{}",
                        t.name,
                        t.settings.url,
                        t.settings.scope.name(),
                        if t.paused { "\tpaused" } else { "" }
                    );
                }
            }
        }
        TargetCommand::Show {
            tenant,
            target,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let t = directory.target(&tenant.id, &target).await?;
            let shown = roster_engine::view::detail(directory, &t).await?;
            if json {
                println!("{shown}");
            } else {
                println!("{}", serde_json::to_string_pretty(&shown)?);
            }
        }
        TargetCommand::Status {
            tenant,
            target,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let t = directory.target(&tenant.id, &target).await?;
            let status = status_json(directory, &t).await?;
            if json {
                println!("{status}");
            } else {
                let processed = status["processed"].as_i64().unwrap_or(0);
                let total = status["total"].as_i64().unwrap_or(0);
                let pace = match (
                    status["per_second"].as_f64(),
                    status["seconds_left"].as_f64(),
                ) {
                    (Some(rate), Some(left)) => format!(" · {rate}/s · {left}s left"),
                    _ => String::new(),
                };
                println!(
                    "{} {} {processed}/{total}{pace} · users {} · groups {}{}{}",
                    status["phase"].as_str().unwrap_or("new"),
                    bar(processed, total, 30),
                    status["users"],
                    status["groups"],
                    if status["quarantined"] == json!(true) {
                        " · QUARANTINED"
                    } else {
                        ""
                    },
                    status["error"]
                        .as_str()
                        .map(|e| format!("\nlast failure: {e}"))
                        .unwrap_or_default()
                );
            }
        }
        TargetCommand::Test { tenant, target } => {
            let tenant = directory.find_tenant(&tenant).await?;
            match engine(directory)
                .test_connection(&tenant.id, &target)
                .await?
            {
                Ok(c) => println!(
                    "The target answers as a SCIM service: PATCH {}, filter {}, Bulk {}, ETag {}.",
                    yes(c.patch),
                    yes(c.filter),
                    yes(c.bulk),
                    yes(c.etag)
                ),
                Err(e) => bail!("the test failed: {e}"),
            }
        }
        TargetCommand::Remove { tenant, target } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory.remove_target(&tenant.id, &target).await?;
            println!("Target {target} removed from {}.", tenant.name);
        }
        TargetCommand::Pause { tenant, target } => pause(directory, &tenant, &target, true).await?,
        TargetCommand::Resume { tenant, target } => {
            pause(directory, &tenant, &target, false).await?;
        }
        TargetCommand::Reapply { tenant, target } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let t = directory.target(&tenant.id, &target).await?;
            directory.reconcile_target(&tenant.id, &t).await?;
            println!(
                "Target {}: every user is evaluated again now; only the differences are sent.",
                t.name
            );
        }
        TargetCommand::Check {
            tenant,
            target,
            user,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let checks = engine(directory)
                .check_rules(&tenant.id, &target, &user)
                .await?;
            if json {
                println!("{}", serde_json::to_string(&checks)?);
                return Ok(());
            }
            for c in &checks {
                let roles: Vec<String> = c
                    .roles
                    .iter()
                    .map(|(r, why)| format!("{r} ({why})"))
                    .collect();
                println!(
                    "{} — roles: {}",
                    c.name,
                    if roles.is_empty() {
                        "none".into()
                    } else {
                        roles.join(", ")
                    }
                );
                for step in &c.steps {
                    println!("  ✓ {step}");
                }
                match (&c.request, &c.error) {
                    (_, Some(e)) => println!("  cannot be planned: {e}"),
                    (Some(r), None) => println!(
                        "  would send: {} {}{}",
                        r.method,
                        r.path,
                        r.body
                            .as_ref()
                            .map(|b| format!("\n  {b}"))
                            .unwrap_or_default()
                    ),
                    (None, None) => println!("  would send nothing ({})", c.action),
                }
            }
        }
        TargetCommand::Entitlements {
            tenant,
            target,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            match engine(directory).entitlements(&tenant.id, &target).await? {
                Ok(found) if json => println!("{}", serde_json::to_string(&found)?),
                Ok(found) => {
                    println!("Groups: {}", found.groups.join(", "));
                    for (attribute, values) in &found.values {
                        println!("{attribute}: {}", values.join(", "));
                    }
                }
                Err(e) => bail!("the target cannot be read: {e}"),
            }
        }
        TargetCommand::Restart { tenant, target } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let t = directory.target(&tenant.id, &target).await?;
            directory.restart_target(&tenant.id, &t).await?;
            println!("Target {} starts a new initial cycle.", t.name);
        }
        TargetCommand::Assign {
            tenant,
            target,
            user,
            group,
            remove,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let (kind, id) = object(user, group)?;
            if remove {
                directory
                    .unassign_from_target(&tenant.id, &target, kind, &id)
                    .await?;
                println!("{} {id} is no longer assigned to {target}.", kind.as_str());
            } else {
                directory
                    .assign_to_target(&tenant.id, &target, kind, &id)
                    .await?;
                println!("{} {id} is assigned to {target}.", kind.as_str());
            }
        }
        TargetCommand::Provision {
            tenant,
            target,
            user,
            group,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let (kind, id) = object(user, group)?;
            match engine(directory)
                .provision_now(&tenant.id, &target, kind, &id)
                .await?
            {
                Ok(done) => {
                    for step in &done.steps {
                        println!("✓ {step}");
                    }
                    println!("{}: {}", done.name, done.action);
                }
                Err(e) => bail!("provisioning failed: {e}"),
            }
        }
        TargetCommand::Approvals {
            tenant,
            target,
            state,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let states: Vec<&str> = if state == "all" {
                Vec::new()
            } else {
                state.split(',').collect()
            };
            let list = directory
                .approvals(&tenant.id, Some(&target), &states, 1000)
                .await?;
            if json {
                let data: Vec<_> = list.iter().map(roster_engine::view::approval).collect();
                println!("{}", serde_json::Value::Array(data));
                return Ok(());
            }
            if list.is_empty() {
                println!("No {state} approvals.");
            }
            for a in &list {
                let r = &a.request;
                println!(
                    "{}  {:<10} {:<8} {} {}  {} {}  ({}{})",
                    a.id,
                    a.state,
                    a.action,
                    a.kind.as_str(),
                    a.name,
                    r["method"].as_str().unwrap_or(""),
                    r["path"].as_str().unwrap_or(""),
                    a.reason,
                    a.decided_by
                        .as_deref()
                        .map(|b| format!(", by {b}"))
                        .unwrap_or_default()
                );
            }
        }
        TargetCommand::Approve {
            tenant,
            target,
            id,
            reject,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let n = directory
                .decide_approvals(&tenant.id, &target, &id, !reject, "operator (command line)")
                .await?;
            println!(
                "{n} {} {}.",
                if n == 1 { "action" } else { "actions" },
                if reject {
                    "rejected"
                } else {
                    "approved: the target sends them now"
                }
            );
        }
        TargetCommand::DryRun {
            tenant,
            target,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let run = engine(directory).dry_run(&tenant.id, &target).await?;
            if json {
                println!("{}", serde_json::to_string(&run)?);
                return Ok(());
            }
            println!("A cycle would do (nothing was sent):");
            for (what, n) in &run.counts {
                println!("  {n:>8}  {what}");
            }
            for r in &run.requests {
                println!(
                    "{} {} {}  ({} {})",
                    r.action, r.method, r.path, r.kind, r.name
                );
            }
            if run.truncated {
                println!(
                    "… and more: the first {} requests are listed.",
                    run.requests.len()
                );
            }
            for (id, why) in &run.errors {
                println!("cannot be planned: {id}: {why}");
            }
        }
        TargetCommand::Set {
            tenant,
            target,
            settings,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let t = directory.target(&tenant.id, &target).await?;
            let c = change(&t, &settings)?;
            let t = directory.change_target(&tenant.id, &t.id, c).await?;
            println!("{}", serde_json::to_string_pretty(&target_json(&t))?);
        }
        TargetCommand::Mappings {
            tenant,
            target,
            groups,
            import,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let mut t = directory.target(&tenant.id, &target).await?;
            match import {
                None => {
                    let shown = if groups {
                        &t.settings.group_mappings
                    } else {
                        &t.settings.user_mappings
                    };
                    println!("{}", serde_json::to_string_pretty(shown)?);
                }
                Some(path) => {
                    let text = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    let json: Value = serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?;
                    let change = if groups {
                        TargetChange {
                            group_mappings: Some(json),
                            ..TargetChange::default()
                        }
                    } else {
                        TargetChange {
                            user_mappings: Some(json),
                            ..TargetChange::default()
                        }
                    };
                    t = directory.change_target(&tenant.id, &t.id, change).await?;
                    println!("The mappings of {} are replaced.", t.name);
                }
            }
        }
    }
    Ok(())
}

async fn pause(directory: &Directory, tenant: &str, target: &str, paused: bool) -> Result<()> {
    let tenant = directory.find_tenant(tenant).await?;
    let change = TargetChange {
        paused: Some(paused),
        ..TargetChange::default()
    };
    let t = directory.change_target(&tenant.id, target, change).await?;
    println!(
        "Target {} is {}.",
        t.name,
        if paused { "paused" } else { "running" }
    );
    Ok(())
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}
