//! `roster sso …` and `roster app …`: tenants' sign-in connections and the host applications
//! that receive signed-in users.

use std::io::Read as _;

use anyhow::{Context as _, Result};
use roster_directory::Directory;
use roster_directory::sso::{
    Connection, Matched, NewOidcConnection, NewSamlConnection, Preset, UserKey,
};
use roster_directory::sso_changes::ConnectionChange;
use roster_server::Config;
use roster_signin::SignIn;
use serde_json::{Value, json};

use crate::cli::{AppCommand, SsoCommand};

fn connection_json(signin: &SignIn, slug: &str, c: &Connection) -> Value {
    roster_signin::connection_json(signin.public_url(), slug, c)
}

/// The user key asked for, over the preset's.
fn user_key(
    base: UserKey,
    match_on: Option<String>,
    claim: Option<String>,
) -> Result<Option<UserKey>> {
    if match_on.is_none() && claim.is_none() {
        return Ok(None);
    }
    Ok(Some(UserKey {
        claim: claim.unwrap_or(base.claim),
        attribute: match match_on {
            Some(m) => Matched::parse(&m)?,
            None => base.attribute,
        },
    }))
}

fn read_metadata(path: &std::path::Path) -> Result<String> {
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the metadata from standard input")?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
            .with_context(|| format!("reading the metadata from {}", path.display()))
    }
}

/// `roster sso …`.
pub(crate) async fn sso(directory: &Directory, config: &Config, command: SsoCommand) -> Result<()> {
    let signin = SignIn::new(directory.clone(), &config.public_url);
    match command {
        SsoCommand::AddSaml {
            tenant,
            name,
            preset,
            metadata,
            metadata_url,
            match_on,
            claim,
            idp_initiated,
            default,
            json,
        } => {
            let xml = match (&metadata, &metadata_url) {
                (Some(path), _) => read_metadata(path)?,
                (None, Some(url)) => signin.fetch_metadata(url).await?,
                (None, None) => anyhow::bail!("give --metadata or --metadata-url"),
            };
            let tenant = directory.find_tenant(&tenant).await?;
            let preset = Preset::parse(&preset)?;
            let user_key = user_key(preset.user_key(), match_on, claim)?;
            let connection = directory
                .add_saml_connection(
                    &tenant.id,
                    NewSamlConnection {
                        name,
                        preset,
                        metadata: xml,
                        user_key,
                        idp_initiated: idp_initiated.map(|v| v == "on"),
                        is_default: default,
                        metadata_url,
                    },
                )
                .await?;
            let shown = connection_json(&signin, &tenant.slug, &connection);
            if json {
                println!("{shown}");
            } else {
                println!("Connection {} added to {}.", connection.name, tenant.name);
                println!("Paste into {}:", preset.title());
                println!(
                    "  Identifier (Entity ID):  {}",
                    shown["entity_id"].as_str().unwrap_or_default()
                );
                println!(
                    "  Reply URL (ACS URL):     {}",
                    shown["acs_url"].as_str().unwrap_or_default()
                );
                println!(
                    "  Sign-on URL:             {}",
                    shown["sign_on_url"].as_str().unwrap_or_default()
                );
                println!(
                    "  Roster's metadata:       {}",
                    shown["metadata_url"].as_str().unwrap_or_default()
                );
            }
        }
        SsoCommand::AddOidc {
            tenant,
            name,
            preset,
            issuer,
            client_id,
            client_secret,
            scopes,
            match_on,
            claim,
            default,
            json,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let preset = Preset::parse(&preset)?;
            let user_key = user_key(preset.oidc_user_key(), match_on, claim)?;
            let connection = directory
                .add_oidc_connection(
                    &tenant.id,
                    NewOidcConnection {
                        name,
                        preset,
                        issuer,
                        client_id,
                        client_secret,
                        scopes: (!scopes.is_empty()).then_some(scopes),
                        user_key,
                        is_default: default,
                    },
                )
                .await?;
            let shown = connection_json(&signin, &tenant.slug, &connection);
            if json {
                println!("{shown}");
            } else {
                println!("Connection {} added to {}.", connection.name, tenant.name);
                println!("Register in {}:", preset.title());
                println!(
                    "  Redirect URI:  {}",
                    shown["redirect_uri"].as_str().unwrap_or_default()
                );
                println!(
                    "  Sign-on URL:   {}",
                    shown["sign_on_url"].as_str().unwrap_or_default()
                );
            }
        }
        SsoCommand::List { tenant, json } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let connections = directory.sso_connections(&tenant.id).await?;
            if json {
                let list: Vec<Value> = connections
                    .iter()
                    .map(|c| connection_json(&signin, &tenant.slug, c))
                    .collect();
                println!("{}", Value::Array(list));
            } else {
                for c in &connections {
                    println!(
                        "{:<20} {:<5} {:<9} {}{}",
                        c.name,
                        c.protocol_name(),
                        c.preset.name(),
                        signin.sign_on_url(&tenant.slug, Some(&c.name)),
                        if c.is_default { "  (default)" } else { "" }
                    );
                }
            }
        }
        SsoCommand::Remove { tenant, connection } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory
                .remove_sso_connection(&tenant.id, &connection)
                .await?;
            println!("Connection {connection} removed from {}.", tenant.name);
        }
        SsoCommand::AddDomain { tenant, domain } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let domain = directory.add_domain(&tenant.id, &domain).await?;
            println!(
                "{domain} belongs to {}: {}/auth/login?email=someone@{domain} signs its users in.",
                tenant.name,
                signin.public_url()
            );
        }
        SsoCommand::VerifyDomain {
            tenant,
            domain,
            check,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            if check {
                let domain = directory.verify_domain(&tenant.id, &domain).await?;
                println!(
                    "{domain} is verified through DNS and belongs to {}: \
                     {}/auth/login?email=someone@{domain} signs its users in.",
                    tenant.name,
                    signin.public_url()
                );
            } else {
                let record = directory.domain_challenge(&tenant.id, &domain)?;
                println!(
                    "To verify {} for {}, publish this TXT record, then run this command again \
                     with --check:\n  name:  {}\n  value: {}",
                    record.domain, tenant.name, record.name, record.value
                );
            }
        }
        SsoCommand::Domains { tenant } => {
            let tenant = directory.find_tenant(&tenant).await?;
            for domain in directory.domains(&tenant.id).await? {
                println!("{domain}");
            }
        }
        SsoCommand::RemoveDomain { tenant, domain } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory.remove_domain(&tenant.id, &domain).await?;
            println!("{domain} no longer belongs to {}.", tenant.name);
        }
        SsoCommand::BindEntra {
            tenant,
            directory_id,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory
                .bind_entra_directory(&tenant.id, &directory_id)
                .await?;
            println!(
                "Entra directory {} is bound to {}: its users sign in at {}/auth/request-access/ms365.",
                directory_id.trim(),
                tenant.name,
                signin.public_url()
            );
        }
        SsoCommand::Set {
            tenant,
            connection,
            default,
            idp_initiated,
            match_on,
            claim,
            metadata,
            client_secret,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            let current = directory
                .sso_connection(&tenant.id, Some(&connection))
                .await?;
            let change = ConnectionChange {
                is_default: default.map(|d| d == "on"),
                idp_initiated: idp_initiated.map(|d| d == "on"),
                user_key: user_key(current.user_key().clone(), match_on, claim)?,
                metadata: metadata.as_deref().map(read_metadata).transpose()?,
                client_secret,
            };
            let changed = directory
                .change_sso_connection(&tenant.id, &connection, change)
                .await?;
            println!(
                "Connection {} of {} changed{}.",
                changed.name,
                tenant.name,
                if changed.is_default {
                    " (the default)"
                } else {
                    ""
                }
            );
        }
        SsoCommand::Jit {
            tenant,
            connection,
            state,
        } => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory
                .set_jit(&tenant.id, &connection, state == "on")
                .await?;
            println!(
                "Just-in-time creation is {state} for {connection} of {}.",
                tenant.name
            );
        }
        SsoCommand::RotateKey => {
            let kid = directory.rotate_signing_key().await?;
            println!(
                "Key {kid} is published now and signs ID tokens in an hour; the previous key stays published until its tokens have expired."
            );
        }
    }
    Ok(())
}

/// `roster app …`.
pub(crate) async fn app(directory: &Directory, config: &Config, command: AppCommand) -> Result<()> {
    match command {
        AppCommand::Create {
            name,
            redirect_uris,
            login_uri,
            json,
        } => {
            let made = directory
                .create_host_app(&name, &redirect_uris, login_uri.as_deref())
                .await?;
            let issuer = config.public_url.trim_end_matches('/');
            if json {
                println!(
                    "{}",
                    json!({
                        "client_id": made.app.id,
                        "client_secret": made.client_secret,
                        "name": made.app.name,
                        "redirect_uris": made.app.redirect_uris,
                        "login_uri": made.app.login_uri,
                        "issuer": issuer,
                    })
                );
            } else {
                println!("Application {} registered.", made.app.name);
                println!("  Issuer:         {issuer}");
                println!("  Client id:      {}", made.app.id);
                println!("  Client secret:  {} (shown once)", made.client_secret);
            }
        }
        AppCommand::List { json } => {
            let apps = directory.host_apps().await?;
            if json {
                let list: Vec<Value> = apps
                    .iter()
                    .map(|a| {
                        json!({"client_id": a.id, "name": a.name, "redirect_uris": a.redirect_uris,
                               "login_uri": a.login_uri, "revoked": a.revoked_at.is_some()})
                    })
                    .collect();
                println!("{}", Value::Array(list));
            } else {
                for a in apps {
                    println!(
                        "{:<40} {}{}",
                        a.id,
                        a.name,
                        if a.revoked_at.is_some() {
                            " (revoked)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        AppCommand::Revoke { client_id } => {
            directory.revoke_host_app(&client_id).await?;
            println!("Application {client_id} revoked.");
        }
    }
    Ok(())
}
