//! The commands other than `serve`: tenants and their tokens and clients, API keys, webhook
//! endpoints, and how each prints what it made.

use std::io::Write;

use anyhow::{Context, Result, bail};
use roster_directory::*;
use roster_server::Config;
use serde_json::json;

use crate::cli::*;

pub(crate) fn millis_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(roster_scim::value::format_datetime)
        .unwrap_or_default()
}

pub(crate) async fn webhook(directory: &Directory, command: WebhookCommand) -> Result<()> {
    match command {
        WebhookCommand::Add {
            url,
            tenant,
            json,
            allow_link_local,
        } => {
            let tenant = match tenant {
                Some(t) => Some(directory.find_tenant(&t).await?.id),
                None => None,
            };
            let w = directory
                .add_webhook(&url, tenant.as_ref(), allow_link_local)
                .await?;
            let tenant_id = w.tenant_id.as_ref().map(|t| t.to_string());
            if json {
                println!(
                    "{}",
                    json!({"id": w.id, "url": w.url, "tenant_id": tenant_id, "secret": w.secret})
                );
            } else {
                println!("Webhook {} -> {}", w.id, w.url);
                println!("Tenants: {}", tenant_id.as_deref().unwrap_or("all"));
                println!("Signing secret: {}", w.secret);
            }
        }
        WebhookCommand::List { json } => {
            let hooks = directory.webhooks().await?;
            if json {
                let list: Vec<_> = hooks
                    .iter()
                    .map(|w| {
                        json!({
                            "id": w.id,
                            "url": w.url,
                            "tenant_id": w.tenant_id.as_ref().map(|t| t.to_string()),
                            "created_at": millis_text(w.created_at),
                            "allow_link_local": w.allow_link_local,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for w in hooks {
                    let tenant = w
                        .tenant_id
                        .map_or("all tenants".to_owned(), |t| t.to_string());
                    let allowing = if w.allow_link_local {
                        "  (link-local allowed)"
                    } else {
                        ""
                    };
                    println!("{}  {}  {tenant}{allowing}", w.id, w.url);
                }
            }
        }
        WebhookCommand::Remove { id } => {
            directory.remove_webhook(&id).await?;
            println!("Removed {id}.");
        }
        WebhookCommand::Rotate {
            id,
            overlap_hours,
            json,
        } => {
            let secret = directory
                .rotate_webhook_secret(&id, time::Duration::hours(i64::from(overlap_hours)))
                .await?;
            if json {
                println!("{}", json!({"id": id, "secret": secret}));
            } else {
                println!("New signing secret: {secret}");
                println!("The previous secret keeps signing for {overlap_hours} hours.");
            }
        }
        WebhookCommand::Redeliver { id, from } => {
            directory.redeliver(&id, &from).await?;
            println!("{id} delivers again from {from}.");
        }
        WebhookCommand::DeadLetters { id, json } => {
            let dead = directory.dead_letters(id.as_deref()).await?;
            if json {
                let list: Vec<_> = dead
                    .iter()
                    .map(|d| {
                        json!({
                            "webhook_id": d.webhook_id,
                            "tenant_id": d.tenant_id.as_str(),
                            "event_id": d.event_id,
                            "at": millis_text(d.at),
                            "error": d.error,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for d in dead {
                    println!(
                        "{}  {}  {}  {}  {}",
                        millis_text(d.at),
                        d.webhook_id,
                        d.tenant_id,
                        d.event_id,
                        d.error
                    );
                }
            }
        }
        WebhookCommand::Attempts { id, limit, json } => {
            if !directory.webhooks().await?.iter().any(|w| w.id == id) {
                bail!("no webhook endpoint {id}: roster webhook list shows them");
            }
            let attempts = directory.delivery_attempts(&id, limit).await?;
            if json {
                let list: Vec<_> = attempts
                    .iter()
                    .map(|a| {
                        json!({
                            "event_id": a.event_id,
                            "tenant_id": a.tenant_id.as_str(),
                            "attempt": a.attempt,
                            "at": millis_text(a.at),
                            "status": a.status,
                            "error": a.error,
                            "latency_ms": a.latency_ms,
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for a in attempts {
                    let outcome = a.error.unwrap_or_else(|| "delivered".to_owned());
                    let status = a.status.map_or("-".to_owned(), |s| s.to_string());
                    println!(
                        "{}  {}  attempt {}  {status}  {} ms  {outcome}",
                        millis_text(a.at),
                        a.event_id,
                        a.attempt,
                        a.latency_ms
                    );
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn issued_json(config: &Config, issued: &IssuedToken) -> serde_json::Value {
    json!({
        "id": issued.tenant.id.as_str(),
        "name": issued.tenant.name,
        "provisioning_url": config.tenant_base(&issued.tenant.id),
        "token": issued.token,
    })
}

pub(crate) fn print_issued(
    config: &Config,
    issued: &IssuedToken,
    as_json: bool,
) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(out, "{}", issued_json(config, issued))
    } else {
        writeln!(
            out,
            "Tenant:           {} ({})",
            issued.tenant.name, issued.tenant.id
        )?;
        writeln!(
            out,
            "Provisioning URL: {}",
            config.tenant_base(&issued.tenant.id)
        )?;
        writeln!(out, "Secret Token:     {}", issued.token)?;
        writeln!(
            out,
            "(Keep it secret. It is stored as a hash and sealed with the server key, so the tenant's page can show it again.)"
        )
    }
}

pub(crate) fn show_tenant(
    config: &Config,
    tenant: &roster_store::Tenant,
    as_json: bool,
) -> Result<()> {
    let settings = TenantSettings::of(tenant).map_err(|error| {
        roster_directory::DirectoryError::UnreadableSetting {
            tenant: tenant.id.to_string(),
            error,
        }
    })?;
    let mut out = std::io::stdout().lock();
    if as_json {
        writeln!(
            out,
            "{}",
            json!({
                "id": tenant.id.as_str(),
                "name": tenant.name,
                "provisioning_url": config.tenant_base(&tenant.id),
                "created_at": roster_scim::value::format_datetime(tenant.created_at),
                "settings": settings,
            })
        )?;
    } else {
        let onoff = |b: bool| if b { "on" } else { "off" };
        let attributes: Vec<String> = settings
            .user_attributes
            .iter()
            .map(|a| {
                format!(
                    "{}:{}{}",
                    a.name,
                    a.ty,
                    if a.multi_valued { "[]" } else { "" }
                )
            })
            .collect();
        let unknown = match settings.unknown_members {
            roster_directory::settings::UnknownMembers::Refuse => "refuse",
            roster_directory::settings::UnknownMembers::Ignore => "ignore",
        };
        let patch = match settings.patch_response {
            roster_directory::settings::PatchResponse::Resource => "resource",
            roster_directory::settings::PatchResponse::NoContent => "no-content",
        };
        let mut lines = vec![
            ("Tenant:", format!("{} ({})", tenant.name, tenant.id)),
            ("Provisioning URL:", config.tenant_base(&tenant.id)),
            ("provisioning", onoff(settings.provisioning).to_owned()),
            ("groups", onoff(settings.groups).to_owned()),
            ("compatibility", settings.compatibility.as_str().to_owned()),
            ("user-attributes", attributes.join(",")),
            (
                "access-token-minutes",
                settings.access_token_minutes.to_string(),
            ),
        ];
        match &settings.federation {
            Some(f) => {
                lines.push(("trusted issuer", f.issuers.join(" ")));
                lines.push(("  audience", f.audience.clone()));
                if let Some(sub) = &f.subject {
                    lines.push(("  subject", sub.clone()));
                }
                for (k, v) in &f.claims {
                    lines.push(("  claim", format!("{k}={v}")));
                }
                if f.allow_link_local {
                    lines.push(("  link-local", "allowed (--allow-link-local)".into()));
                }
            }
            None => lines.push(("trusted issuer", "-".into())),
        }
        lines.push(("unknown-members", unknown.into()));
        lines.push(("patch-response", patch.into()));
        for (label, value) in lines {
            writeln!(out, "{label:<21} {value}")?;
        }
    }
    Ok(())
}

pub(crate) async fn token_command(
    directory: &Directory,
    config: &Config,
    args: TokenArgs,
) -> Result<()> {
    match args.action {
        Some(TokenCommand::List { tenant, json }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            let tokens = directory.tokens(&tenant.id).await?;
            if json {
                let list: Vec<_> = tokens
                    .iter()
                    .map(|t| {
                        json!({
                            "id": t.id,
                            "name": t.name,
                            "last4": t.last4,
                            "created_at": roster_scim::value::format_datetime(t.created_at),
                            "expires_at": t.expires_at.map(roster_scim::value::format_datetime),
                            "last_used_at": t.last_used_at.map(roster_scim::value::format_datetime),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                let now = directory.now();
                for t in tokens {
                    let expired = t.expires_at.is_some_and(|e| e <= now);
                    println!(
                        "{}  …{}  {:<20}  created {}  expires {}{}  last used {}",
                        t.id,
                        t.last4,
                        if t.name.is_empty() { "-" } else { &t.name },
                        roster_scim::value::format_datetime(t.created_at),
                        time_text(t.expires_at),
                        if expired { " (expired)" } else { "" },
                        time_text(t.last_used_at),
                    );
                }
            }
            Ok(())
        }
        Some(TokenCommand::Revoke { tenant, id }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory.revoke_token(&tenant.id, &id).await?;
            println!("Revoked {id}.");
            Ok(())
        }
        None => {
            let tenant = args
                .tenant
                .context("name the tenant: roster tenant token TENANT")?;
            let tenant = directory.find_tenant(&tenant).await?;
            let options = TokenOptions {
                name: args.name,
                expires_in: args.expires_in,
                keep_old: args.keep_old,
                old_expire_in: args.old_expires_in,
            };
            let (record, token) = directory.issue_token(&tenant.id, &options).await?;
            let issued = IssuedToken { tenant, token };
            if args.json {
                let mut out = issued_json(config, &issued);
                out["token_id"] = json!(record.id);
                out["token_name"] = json!(record.name);
                out["expires_at"] =
                    json!(record.expires_at.map(roster_scim::value::format_datetime));
                println!("{out}");
            } else {
                print_issued(config, &issued, false)?;
                println!("Token id:         {}", record.id);
                if let Some(e) = record.expires_at {
                    println!(
                        "Expires:          {}",
                        roster_scim::value::format_datetime(e)
                    );
                }
            }
            Ok(())
        }
    }
}

pub(crate) async fn client_command(
    directory: &Directory,
    config: &Config,
    command: ClientCommand,
) -> Result<()> {
    match command {
        ClientCommand::Create {
            tenant,
            name,
            federated,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let trusts = TenantSettings::of(&tenant)
                .map_err(
                    |error| roster_directory::DirectoryError::UnreadableSetting {
                        tenant: tenant.id.to_string(),
                        error,
                    },
                )?
                .federation
                .is_some();
            if federated && !trusts {
                bail!(
                    "{} trusts no token issuer yet: run roster tenant trust first",
                    tenant.name
                );
            }
            // A federated client's secret is never shown, so nobody can use it.
            let (client, secret) = directory.create_client(&tenant.id, &name).await?;
            let secret = (!federated).then_some(secret);
            if json {
                println!(
                    "{}",
                    json!({
                        "tenant_id": tenant.id.as_str(),
                        "provisioning_url": config.tenant_base(&tenant.id),
                        "client_id": client.id,
                        "client_secret": secret,
                        "token_endpoint": config.token_endpoint(),
                        "name": client.name,
                    })
                );
            } else {
                println!("Tenant:           {} ({})", tenant.name, tenant.id);
                println!("SCIM URL:         {}", config.tenant_base(&tenant.id));
                println!("Token Endpoint:   {}", config.token_endpoint());
                println!("Client Id:        {}", client.id);
                match secret {
                    Some(secret) => {
                        println!("Client Secret:    {secret}");
                        println!("(The secret is shown once; only its hash is stored.)");
                    }
                    None => println!(
                        "(No secret: this client authenticates with a JWT from the trusted issuer.)"
                    ),
                }
            }
            Ok(())
        }
        ClientCommand::List { tenant, json } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let clients = directory.clients(&tenant.id).await?;
            if json {
                let list: Vec<_> = clients
                    .iter()
                    .map(|c| {
                        json!({
                            "client_id": c.id,
                            "name": c.name,
                            "created_at": roster_scim::value::format_datetime(c.created_at),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for c in clients {
                    println!(
                        "{}  {:<20}  created {}",
                        c.id,
                        if c.name.is_empty() { "-" } else { &c.name },
                        roster_scim::value::format_datetime(c.created_at)
                    );
                }
            }
            Ok(())
        }
        ClientCommand::Revoke { tenant, id } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory.revoke_client(&tenant.id, &id).await?;
            println!("Revoked {id} and its access tokens.");
            Ok(())
        }
    }
}

/// `roster apikey …`: the host app's keys to the event feed and the read API.
pub(crate) async fn apikey(directory: &Directory, command: ApiKeyCommand) -> Result<()> {
    match command {
        ApiKeyCommand::Create { name, scopes, json } => {
            let scopes = scopes
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<Result<Vec<_>, _>>()?;
            let (record, key) = directory.create_api_key(&name, &scopes).await?;
            if json {
                println!(
                    "{}",
                    json!({"id": record.id, "name": record.name, "key": key,
                           "scopes": record.scopes})
                );
            } else {
                println!("API key {} ({})", record.id, record.name);
                println!("Scopes: {}", record.scopes.join(" "));
                println!("Key: {key}");
                println!("(The key is shown once; only its hash is stored.)");
            }
            Ok(())
        }
        ApiKeyCommand::List { json } => {
            let keys = directory.api_keys().await?;
            let fmt = roster_scim::value::format_datetime;
            if json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id,
                            "name": k.name,
                            "scopes": k.scopes,
                            "created_at": fmt(k.created_at),
                            "revoked_at": k.revoked_at.map(fmt),
                        })
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for k in keys {
                    let state = k
                        .revoked_at
                        .map_or("live".to_owned(), |t| format!("revoked {}", fmt(t)));
                    println!(
                        "{}  {}  {}  {}  {state}",
                        k.id,
                        k.name,
                        k.scopes.join(" "),
                        fmt(k.created_at)
                    );
                }
            }
            Ok(())
        }
        ApiKeyCommand::Revoke { id } => {
            directory.revoke_api_key(&id).await?;
            println!("Revoked {id}.");
            Ok(())
        }
    }
}

/// `roster tenant list`.
pub(crate) async fn tenant_list(directory: &Directory, config: &Config, json: bool) -> Result<()> {
    let tenants = directory.tenants().await?;
    if json {
        let list: Vec<_> = tenants
            .iter()
            .map(|t| {
                json!({
                    "id": t.id.as_str(),
                    "name": t.name,
                    "provisioning_url": config.tenant_base(&t.id),
                    "created_at": roster_scim::value::format_datetime(t.created_at),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(list));
    } else {
        for t in tenants {
            println!("{}  {}  {}", t.id, t.name, config.tenant_base(&t.id));
        }
    }
    Ok(())
}

/// `tenant delete`: says what the tenant holds, and deletes it with `--yes`.
pub(crate) async fn tenant_delete(
    directory: &Directory,
    tenant: &str,
    yes: bool,
    json: bool,
) -> Result<()> {
    let tenant = directory.find_tenant(tenant).await?;
    let held = directory.tenant_holdings(&tenant.id).await?;
    let what = format!(
        "{} users, {} groups, {} tokens, {} OAuth clients",
        held.users, held.groups, held.tokens, held.oauth_clients
    );
    if !yes {
        bail!(
            "this deletes tenant {} ({}) and everything it holds: {what}; its identity \
             provider can no longer provision. Run it again with --yes to delete.",
            tenant.name,
            tenant.id
        );
    }
    let removed = directory.delete_tenant(&tenant.id).await?;
    if json {
        let out = serde_json::json!({
            "id": tenant.id.as_str(),
            "name": tenant.name,
            "deleted": true,
            "removed": roster_directory::holdings_json(&removed),
        });
        println!("{out}");
    } else {
        println!(
            "Deleted tenant {} ({}): {} users, {} groups, {} tokens, {} OAuth clients.",
            tenant.name,
            tenant.id,
            removed.users,
            removed.groups,
            removed.tokens,
            removed.oauth_clients
        );
    }
    Ok(())
}

/// `tenant hold show|release|discard`.
pub(crate) async fn hold_command(
    directory: &Directory,
    action: HoldAction,
    tenant: &str,
    json: bool,
) -> Result<()> {
    use roster_store::HoldEnd;
    let tenant = directory.find_tenant(tenant).await?;
    let end = match action {
        HoldAction::Show => None,
        HoldAction::Release => Some(HoldEnd::Release),
        HoldAction::Discard => Some(HoldEnd::Discard),
    };
    let status = match end {
        Some(end) => Some(
            directory
                .end_hold(&tenant.id, end, "operator (command line)")
                .await?,
        ),
        None => directory.hold_status(&tenant.id).await?,
    };
    if json {
        let out = status.map_or(serde_json::Value::Null, |s| s.to_json());
        println!("{out}");
        return Ok(());
    }
    match status {
        None => println!("{} has never had a mass-change hold.", tenant.name),
        Some(s) if s.hold.is_active() => {
            println!(
                "{}: hold {} since {} ({} removals within {} minutes, threshold {}), holding {} events:",
                tenant.name,
                s.hold.id,
                s.hold.started_at,
                s.hold.removals,
                hold::HOLD_WINDOW_MINUTES,
                s.hold.threshold,
                s.total()
            );
            for (t, n) in &s.held {
                println!("  {n:>7}  {t}");
            }
            println!(
                "Run `roster tenant hold release|discard {}` to decide.",
                tenant.id
            );
        }
        Some(s) => println!(
            "{}: hold {} {} by {} at {}.",
            tenant.name,
            s.hold.id,
            s.hold.outcome.as_deref().unwrap_or("ended"),
            s.hold.ended_by.as_deref().unwrap_or("?"),
            s.hold.ended_at.map(|t| t.to_string()).unwrap_or_default()
        ),
    }
    Ok(())
}

/// `roster plan list|set`.
pub(crate) async fn plan(directory: &Directory, command: PlanCommand) -> Result<()> {
    match command {
        PlanCommand::List { json } => {
            let plans = directory.plans().await?;
            if json {
                let list: Vec<_> = plans
                    .iter()
                    .map(|p| json!({"name": p.name, "provisioning": p.provisioning, "sso": p.sso}))
                    .collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                let onoff = |b: bool| if b { "on" } else { "off" };
                for p in plans {
                    println!(
                        "{:<16} provisioning {:<3}  sso {}",
                        p.name,
                        onoff(p.provisioning),
                        onoff(p.sso)
                    );
                }
            }
        }
        PlanCommand::Set {
            name,
            provisioning,
            sso,
        } => {
            let plan = roster_store::Plan {
                name: name.clone(),
                provisioning: provisioning == "on",
                sso: sso == "on",
            };
            directory.set_plan(&plan).await?;
            println!("Plan {name}: provisioning {provisioning}, sso {sso}.");
        }
    }
    Ok(())
}

/// `roster tenant portal-link`.
pub(crate) async fn portal_link(
    directory: &Directory,
    config: &Config,
    tenant: &str,
    expires_in: Option<time::Duration>,
    json: bool,
) -> Result<()> {
    let tenant = directory.find_tenant(tenant).await?;
    let issued = directory.create_portal_link(&tenant.id, expires_in).await?;
    let url = format!("{}/portal/open/{}", config.public_url, issued.secret);
    let expires = roster_scim::value::format_datetime(issued.link.expires_at);
    if json {
        println!(
            "{}",
            json!({"id": issued.link.id, "url": url, "expires_at": expires})
        );
    } else {
        println!(
            "Setup link for {} (opens once, until {expires}):",
            tenant.name
        );
        println!("{url}");
    }
    Ok(())
}
