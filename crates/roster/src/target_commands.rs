//! `roster target …`: a tenant's outbound provisioning targets.

use anyhow::{Context as _, Result, bail};
use roster_directory::Directory;
use roster_directory::targets::{Auth, NewTarget, ScopeMode, Target};
use roster_engine::Engine;
use roster_store::Kind;
use serde_json::{Value, json};

use crate::cli::TargetCommand;

fn target_json(t: &Target) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "url": t.settings.url,
        "scope": t.settings.scope.name(),
        "paused": t.paused,
        "provision_groups": t.settings.provision_groups,
        "rate_limit": t.settings.rate_limit,
        "interval_minutes": t.settings.interval_minutes,
        "capabilities": t.settings.capabilities.map(|c| json!({
            "patch": c.patch, "filter": c.filter, "bulk": c.bulk, "etag": c.etag
        })),
    })
}

fn engine(directory: &Directory) -> Engine {
    let owner = format!("cli-{}", directory.secrets().resource_id());
    Engine::new(directory.clone(), owner, false)
}

fn object(user: Option<String>, group: Option<String>) -> Result<(Kind, String)> {
    match (user, group) {
        (Some(u), None) => Ok((Kind::User, u)),
        (None, Some(g)) => Ok((Kind::Group, g)),
        _ => bail!("give --user ID or --group ID"),
    }
}

async fn status_json(directory: &Directory, t: &Target) -> Result<Value> {
    let (run, (users, groups)) = directory.target_status(&t.tenant, t).await?;
    Ok(match run {
        None => json!({"users": users, "groups": groups}),
        Some(r) => json!({
            "phase": r.phase,
            "processed": r.processed,
            "total": r.total,
            "users": users,
            "groups": groups,
            "failures": r.failures,
            "error": r.error,
            "quarantined": r.quarantined,
            "paused": t.paused,
        }),
    })
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
            let (auth, secret) = match (token, client_id, client_secret, token_url) {
                (Some(token), None, None, None) => (Auth::Bearer, token),
                (None, Some(client_id), Some(secret), Some(token_url)) => (
                    Auth::ClientCredentials {
                        token_url,
                        client_id,
                        scope: None,
                    },
                    secret,
                ),
                _ => bail!("give --token TOKEN, or --client-id, --client-secret and --token-url"),
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
            let mut shown = target_json(&t);
            shown["status"] = status_json(directory, &t).await?;
            shown["user_mappings"] = t.settings.user_mappings.clone();
            shown["scoping"] = serde_json::to_value(&t.settings.scoping)?;
            let assigned = directory.target_assignments(&tenant.id, &t).await?;
            shown["assigned"] = json!(
                assigned
                    .iter()
                    .map(|(k, id)| json!({"type": k.as_str(), "id": id}))
                    .collect::<Vec<_>>()
            );
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
                println!(
                    "{} {} {processed}/{total} · users {} · groups {}{}{}",
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
                    roster_outbound::mapping::import(&json)?;
                    if groups {
                        t.settings.group_mappings = json;
                    } else {
                        t.settings.user_mappings = json;
                    }
                    directory.save_target(&t).await?;
                    println!("The mappings of {} are replaced.", t.name);
                }
            }
        }
    }
    Ok(())
}

async fn pause(directory: &Directory, tenant: &str, target: &str, paused: bool) -> Result<()> {
    let tenant = directory.find_tenant(tenant).await?;
    let mut t = directory.target(&tenant.id, target).await?;
    t.paused = paused;
    directory.save_target(&t).await?;
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
