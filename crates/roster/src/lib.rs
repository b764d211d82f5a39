//! The `roster` program as a library: [`startup`] (open the store from its URL, build and run
//! the application), which `main` and the end-to-end tests share, and the command line
//! (`cli` for its definitions, `commands` and `serve` for what each command does).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, bail};
use clap::Parser;
use roster_directory::{Directory, Federation, SystemClock, SystemSecrets};
use roster_server::Config;

mod cli;
mod commands;
mod keys;
mod serve;
mod sso_commands;
pub mod startup;
mod target_commands;

use cli::*;
use commands::*;
use serve::serve;
use startup::StoreOptions;

impl Global {
    /// The public URL, defaulting to http:// and the address actually listened on (which
    /// differs from `--listen` when it asks for port 0).
    fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    /// The directory over the database, with the server keys when this process has them
    /// (and where they come from).
    async fn directory(&self, may_create: bool) -> Result<(Directory, keys::KeySource)> {
        let options = StoreOptions {
            may_create,
            max_connections: self.database_max_connections,
        };
        let store = startup::open_store(&self.database, options).await?;
        let (ring, source) = keys::load(&self.database, may_create, &SystemSecrets)?;
        let directory = startup::directory(store, Arc::new(SystemClock), Arc::new(SystemSecrets));
        Ok(match ring {
            Some(ring) => (directory.with_keyring(ring), source),
            None => (directory, source),
        })
    }
}

/// Parses the command line and runs the command it names.
pub async fn run() -> Result<()> {
    let cli = Cli::parse();
    // Only these create a database that does not exist yet; any other command on a
    // mistyped path would otherwise create an empty one and report nothing.
    let may_create = matches!(
        cli.command,
        Command::Serve(_) | Command::Tenant(TenantCommand::Create { .. })
    );
    if let Some(url) = &cli.global.public_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        bail!(
            "--public-url / ROSTER_PUBLIC_URL must start with https:// or http://, not {url:?} \
             (for example https://roster.example.com)"
        );
    }
    if let Command::Key(KeyCommand::Generate) = cli.command {
        keys::generate(&SystemSecrets);
        return Ok(());
    }
    let (directory, key_source) = cli.global.directory(may_create).await?;
    // Commands other than serve print URLs for the configured listen address.
    let config = Config::new(&cli.global.public_url(cli.global.listen));
    match cli.command {
        Command::Serve(args) => {
            if matches!(key_source, keys::KeySource::Missing) {
                bail!(
                    "roster serve on PostgreSQL needs the server key that seals the tokens it \
                     can show again, the same on every process: run `roster key generate` and \
                     set {} to what it prints",
                    keys::KEY_VARIABLE
                );
            }
            directory.check_keys().await?;
            serve(&cli.global, &args, directory).await
        }
        Command::Key(KeyCommand::Rotate) => {
            let (ring, source) = keys::load(&cli.global.database, false, &SystemSecrets)?;
            keys::rotate(directory, source, ring, &SystemSecrets).await
        }
        Command::Key(KeyCommand::Generate) => Ok(()),
        Command::Plan(command) => plan(&directory, command).await,
        Command::Sso(command) => sso_commands::sso(&directory, &config, command).await,
        Command::App(command) => sso_commands::app(&directory, &config, command).await,
        Command::Target(command) => target_commands::target(&directory, command).await,
        Command::Operator(OperatorCommand::Create { email }) => {
            let secret = directory.operator_invite().await?;
            let email: String = form_urlencoded::byte_serialize(email.as_bytes()).collect();
            println!(
                "Open this link within 30 minutes to create the operator (it works once):\n{}/console/setup/{secret}?email={email}",
                config.public_url
            );
            Ok(())
        }
        Command::Operator(OperatorCommand::ResetTwoStep { email }) => {
            directory.reset_totp(&email).await?;
            println!(
                "Two-step sign-in is off for {email}: it signs in with its password, and can \
                 set two-step sign-in up again on the console's Account page."
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::Create {
            name,
            external_id,
            plan,
            json,
        }) => {
            let issued = if external_id.is_some() || plan.is_some() {
                let new = roster_directory::NewTenant {
                    name,
                    external_id,
                    plan,
                };
                let tenant = directory.create_tenant_with(&new).await?;
                directory.first_token(tenant).await?
            } else {
                directory.create_tenant(&name).await?
            };
            print_issued(&config, &issued, json)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::PortalLink {
            tenant,
            expires_in,
            json,
        }) => portal_link(&directory, &config, &tenant, expires_in, json).await,
        Command::Webhook(command) => webhook(&directory, command).await,
        Command::Apikey(command) => apikey(&directory, command).await,
        Command::Tenant(TenantCommand::List { json }) => {
            tenant_list(&directory, &config, json).await
        }
        Command::Tenant(TenantCommand::Show { tenant, json }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            show_tenant(&config, &tenant, json)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::Rename { tenant, name }) => {
            let found = directory.find_tenant(&tenant).await?;
            directory.rename_tenant(&found.id, &name).await?;
            let tenant = directory.find_tenant(found.id.as_str()).await?;
            show_tenant(&config, &tenant, false)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::Delete { tenant, yes, json }) => {
            tenant_delete(&directory, &tenant, yes, json).await
        }
        Command::Tenant(TenantCommand::Set { tenant, key, value }) => {
            let found = directory.find_tenant(&tenant).await?;
            match key.as_str() {
                "plan" | "external-id" => {
                    let value = (!value.is_empty()).then_some(value);
                    let change = if key == "plan" {
                        roster_directory::TenantChange {
                            plan: Some(value.unwrap_or_default()),
                            ..Default::default()
                        }
                    } else {
                        roster_directory::TenantChange {
                            external_id: Some(value),
                            ..Default::default()
                        }
                    };
                    directory.change_tenant(&found.id, &change).await?;
                }
                _ => {
                    directory.set_setting(&found.id, &key, &value).await?;
                }
            }
            let tenant = directory.find_tenant(found.id.as_str()).await?;
            show_tenant(&config, &tenant, false)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::Roles { tenant, import }) => {
            let found = directory.find_tenant(&tenant).await?;
            if let Some(path) = import {
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", path.display()))?;
                let roles: roster_outbound::rules::Roles =
                    serde_json::from_str(&text).map_err(|e| {
                        anyhow::anyhow!("{}: not roles and mappings: {e}", path.display())
                    })?;
                directory.set_roles(&found.id, &roles).await?;
            }
            let found = directory.find_tenant(found.id.as_str()).await?;
            let settings = roster_directory::TenantSettings::of(&found)?;
            println!("{}", serde_json::to_string_pretty(&settings.roles)?);
            Ok(())
        }
        Command::Tenant(TenantCommand::Hold {
            action,
            tenant,
            json,
        }) => hold_command(&directory, action, &tenant, json).await,
        Command::Tenant(TenantCommand::Token(args)) => {
            token_command(&directory, &config, args).await
        }
        Command::Tenant(TenantCommand::Client(command)) => {
            client_command(&directory, &config, command).await
        }
        Command::Tenant(TenantCommand::Trust {
            tenant,
            entra,
            issuer,
            audience,
            subject,
            claims,
            jwks_uri,
            allow_link_local,
        }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            let mut trust = match &entra {
                Some(id) => {
                    let trust = Federation::entra(id, &audience)?;
                    // The same directory signs its users in through the Microsoft 365
                    // connection.
                    directory.bind_entra_directory(&tenant.id, id).await?;
                    trust
                }
                None => Federation {
                    issuers: issuer.clone(),
                    audience,
                    subject: None,
                    claims: Default::default(),
                    jwks_uri: None,
                    allow_link_local: false,
                },
            };
            trust.subject = subject;
            trust.jwks_uri = jwks_uri;
            trust.allow_link_local = allow_link_local;
            trust.claims.extend(claims);
            directory.set_federation(&tenant.id, Some(trust)).await?;
            let tenant = directory.find_tenant(tenant.id.as_str()).await?;
            show_tenant(&config, &tenant, false)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::Untrust { tenant }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            directory.set_federation(&tenant.id, None).await?;
            println!("{} trusts no external issuer now.", tenant.name);
            Ok(())
        }
    }
}
