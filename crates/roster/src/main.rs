//! The `roster` command: runs the service and manages tenants and their tokens.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;
use roster_directory::{Directory, Federation, SystemClock, SystemSecrets};
use roster_scim::Registry;
use roster_server::Config;
use roster_store::Store;
use roster_store_postgres::{PoolConfig, PostgresStore};
use roster_store_sqlite::SqliteStore;
use serde_json::json;

mod cli;
mod commands;
mod serve;

use cli::*;
use commands::*;
use serve::serve;

impl Global {
    /// The public URL, defaulting to http:// and the address actually listened on (which
    /// differs from `--listen` when it asks for port 0).
    fn public_url(&self, bound: SocketAddr) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{bound}"))
    }

    async fn store(&self, may_create: bool) -> Result<Arc<dyn Store>> {
        let shown = redacted(&self.database);
        if self.database.starts_with("sqlite:") {
            if !may_create
                && let Some(path) = sqlite_file(&self.database)
                && !std::path::Path::new(path).exists()
            {
                bail!(
                    "there is no database at {path}: `roster serve` (or `roster tenant create`) \
                     creates one; or point --database / ROSTER_DATABASE_URL at the existing one"
                );
            }
            let store = SqliteStore::open(&self.database)
                .await
                .with_context(|| format!("opening {shown}"))?;
            Ok(Arc::new(store))
        } else if self.database.starts_with("postgres:") || self.database.starts_with("postgresql:")
        {
            let pool = PoolConfig {
                max_connections: self.database_max_connections.max(1),
                ..PoolConfig::default()
            };
            let store = PostgresStore::open(&self.database, pool)
                .await
                .with_context(|| format!("opening {shown}"))?;
            Ok(Arc::new(store))
        } else {
            bail!("unsupported database URL {shown:?}: use sqlite://FILE or postgres://…")
        }
    }

    async fn directory(&self, may_create: bool) -> Result<Directory> {
        Ok(Directory::new(
            self.store(may_create).await?,
            Arc::new(Registry::core()),
            Arc::new(SystemClock),
            Arc::new(SystemSecrets),
        ))
    }
}

/// A database URL without its password, for messages.
fn redacted(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let user = user_info.split(':').next().unwrap_or_default();
            if user_info.contains(':') {
                format!("{scheme}://{user}:***@{host}{path}")
            } else {
                format!("{scheme}://{user_info}@{host}{path}")
            }
        }
        None => url.to_owned(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // A user's mistake is one line naming its causes, never a backtrace (anyhow prints one
    // for a returned error when RUST_BACKTRACE is set).
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<()> {
    // One TLS crypto provider for the process (webhook deliveries, PostgreSQL over TLS).
    let _ = rustls::crypto::ring::default_provider().install_default();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ROSTER_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,sqlx::postgres::notice=warn")
            }),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
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
    let directory = cli.global.directory(may_create).await?;
    // Commands other than serve print URLs for the configured listen address.
    let config = Config::new(&cli.global.public_url(cli.global.listen));
    match cli.command {
        Command::Serve(args) => serve(&cli.global, &args, directory).await,
        Command::Tenant(TenantCommand::Create { name, json }) => {
            let issued = directory.create_tenant(&name).await?;
            print_issued(&config, &issued, json)?;
            Ok(())
        }
        Command::Webhook(command) => webhook(&directory, command).await,
        Command::Apikey(ApiKeyCommand::Create { name, json }) => {
            let (record, key) = directory.create_api_key(&name).await?;
            if json {
                println!(
                    "{}",
                    json!({"id": record.id, "name": record.name, "key": key})
                );
            } else {
                println!("API key {} ({})", record.id, record.name);
                println!("Key: {key}");
                println!("(The key is shown once; only its hash is stored.)");
            }
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::List { json }) => {
            let keys = directory.api_keys().await?;
            let fmt = roster_scim::value::format_datetime;
            if json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "id": k.id,
                            "name": k.name,
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
                    println!("{}  {}  {}  {state}", k.id, k.name, fmt(k.created_at));
                }
            }
            Ok(())
        }
        Command::Apikey(ApiKeyCommand::Revoke { id }) => {
            directory.revoke_api_key(&id).await?;
            println!("Revoked {id}.");
            Ok(())
        }
        Command::Tenant(TenantCommand::List { json }) => {
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
        Command::Tenant(TenantCommand::Show { tenant, json }) => {
            let tenant = directory.find_tenant(&tenant).await?;
            show_tenant(&config, &tenant, json)?;
            Ok(())
        }
        Command::Tenant(TenantCommand::Set { tenant, key, value }) => {
            let found = directory.find_tenant(&tenant).await?;
            directory.set_setting(&found.id, &key, &value).await?;
            let tenant = directory.find_tenant(found.id.as_str()).await?;
            show_tenant(&config, &tenant, false)?;
            Ok(())
        }
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
            let mut trust = match entra {
                Some(id) => Federation::entra(&id, &audience)?,
                None => Federation {
                    issuers: issuer,
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

/// The file of a `sqlite:` URL (`sqlite://roster.db`, `sqlite:///var/lib/roster.db?mode=rwc`),
/// or `None` for an in-memory database.
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

#[cfg(test)]
mod tests {
    use super::redacted;

    #[test]
    fn database_passwords_are_not_shown() {
        assert_eq!(
            redacted("postgres://roster:s3cret@db.internal:5432/roster"),
            "postgres://roster:***@db.internal:5432/roster"
        );
        assert_eq!(
            redacted("postgres://roster@db/roster"),
            "postgres://roster@db/roster"
        );
        assert_eq!(redacted("sqlite://roster.db"), "sqlite://roster.db");
    }
}
