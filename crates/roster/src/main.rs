//! The `roster` command: runs the service and manages tenants and their tokens.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use roster_directory::{
    Directory, Federation, IssuedToken, SystemClock, SystemSecrets, TenantSettings, TokenOptions,
};
use roster_scim::Registry;
use roster_server::{AppState, Config};
use roster_store::Store;
use roster_store_postgres::{PoolConfig, PostgresStore};
use roster_store_sqlite::SqliteStore;
use serde_json::json;

/// Roster: SCIM 2.0 provisioning for every customer organisation of your application.
#[derive(Debug, Parser)]
#[command(
    name = "roster",
    version,
    about = "Roster: SCIM 2.0 provisioning for every customer organisation of your application: \
             serve, tenants and their tokens, API keys, webhooks."
)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct Global {
    /// The address to listen on.
    #[arg(
        long,
        env = "ROSTER_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// The database: sqlite://FILE (`serve` and `tenant create` create it if missing) or postgres://USER:PASSWORD@HOST/DB
    /// (shared by any number of Roster processes).
    #[arg(
        long = "database",
        env = "ROSTER_DATABASE_URL",
        default_value = "sqlite://roster.db",
        global = true
    )]
    database: String,
    /// The most connections to a PostgreSQL database this process opens.
    #[arg(
        long,
        env = "ROSTER_DATABASE_MAX_CONNECTIONS",
        default_value_t = 16,
        global = true
    )]
    database_max_connections: u32,
    /// The externally visible base URL, used in Provisioning URLs, Location and meta.location.
    /// Defaults to http:// and the listen address.
    #[arg(long, env = "ROSTER_PUBLIC_URL", global = true)]
    public_url: Option<String>,
}

/// The options of `roster serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Serves Prometheus metrics on this address instead of at /metrics on the main one.
    #[arg(long, env = "ROSTER_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// How many days events are kept in the change log.
    #[arg(long, env = "ROSTER_EVENT_RETENTION_DAYS", default_value_t = 90)]
    event_retention_days: u32,
    /// How long a webhook receiver has to answer, in seconds (default 10).
    #[arg(long, env = "ROSTER_WEBHOOK_TIMEOUT_SECONDS")]
    webhook_timeout_seconds: Option<u64>,
    /// How long a process keeps a webhook stream after claiming it, in seconds (default 30):
    /// after a crash, another process resumes its deliveries once this has passed.
    #[arg(long, env = "ROSTER_WEBHOOK_LEASE_SECONDS")]
    webhook_lease_seconds: Option<u64>,
    /// The most client connections open at once (lowered to fit the file descriptor limit).
    #[arg(long, env = "ROSTER_MAX_CONNECTIONS", default_value_t = 10_000)]
    max_connections: usize,
    /// Seconds a client has to send a request's head.
    #[arg(long, env = "ROSTER_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10)]
    header_read_timeout_seconds: u64,
    /// Seconds a connection may stay without traffic before it is closed.
    #[arg(long, env = "ROSTER_IDLE_TIMEOUT_SECONDS", default_value_t = 60)]
    idle_timeout_seconds: u64,
    /// Seconds a request may take, its body included, before it is answered 503.
    #[arg(long, env = "ROSTER_REQUEST_TIMEOUT_SECONDS", default_value_t = 60)]
    request_timeout_seconds: u64,
    /// The most bytes of resources in one page of a list (a page is cut there).
    #[arg(long, env = "ROSTER_MAX_PAGE_BYTES", default_value_t = 4 * 1024 * 1024)]
    max_page_bytes: usize,
    /// The most values of one multi-valued attribute of a user or group (not a group's
    /// members).
    #[arg(long, env = "ROSTER_MAX_VALUES_PER_ATTRIBUTE", default_value_t = 100)]
    max_values_per_attribute: usize,
    /// The most bytes of one user's or group's JSON (a group's members not counted).
    #[arg(long, env = "ROSTER_MAX_RESOURCE_BYTES", default_value_t = 64 * 1024)]
    max_resource_bytes: usize,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the SCIM service.
    Serve(ServeArgs),
    /// Manages tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Manages the host application's API keys (for /api/v1: events, tenants, users, groups).
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// Manages webhook endpoints that receive every change, signed (Standard Webhooks).
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Debug, Subcommand)]
enum WebhookCommand {
    /// Adds an endpoint; events are POSTed to it signed with the printed secret.
    Add {
        /// The endpoint's URL (http:// or https://).
        url: String,
        /// Only this tenant's events (id or unique name); every tenant's without it.
        #[arg(long)]
        tenant: Option<String>,
        /// Prints one JSON object: {"id", "url", "tenant_id", "secret"}.
        #[arg(long)]
        json: bool,
        /// Allows an endpoint on a link-local or cloud-metadata address (169.254.0.0/16,
        /// fe80::/10, metadata.google.internal, ...), refused by default.
        #[arg(long)]
        allow_link_local: bool,
    },
    /// Lists endpoints (without their secrets).
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Removes an endpoint and its delivery state.
    Remove {
        /// The endpoint's id (wh_…).
        id: String,
    },
    /// Gives an endpoint a new secret; the old one keeps signing beside it for the overlap.
    Rotate {
        /// The endpoint's id.
        id: String,
        /// Hours both secrets sign.
        #[arg(long, default_value_t = 24)]
        overlap_hours: u32,
        /// Prints one JSON object: {"id", "secret"}.
        #[arg(long)]
        json: bool,
    },
    /// Delivers an endpoint's events again, from an event (of that event's tenant) on.
    Redeliver {
        /// The endpoint's id.
        id: String,
        /// The first event to deliver again (evt_…).
        #[arg(long)]
        from: String,
    },
    /// Lists events given up on after their last attempt.
    DeadLetters {
        /// Only this endpoint's.
        id: Option<String>,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Shows an endpoint's latest delivery attempts.
    Attempts {
        /// The endpoint's id.
        id: String,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ApiKeyCommand {
    /// Creates an API key and prints it once (only its hash is stored).
    Create {
        /// What the key is for (e.g. the host application's name).
        name: String,
        /// Prints one JSON object: {"id", "name", "key"}.
        #[arg(long)]
        json: bool,
    },
    /// Lists API keys (never the keys themselves).
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an API key at once.
    Revoke {
        /// The key's id (key_…).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Creates a tenant and its first token.
    Create {
        /// The tenant's name (the customer organisation).
        name: String,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Lists tenants.
    List {
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Shows a tenant and its settings.
    Show {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Changes a setting: provisioning on|off, groups on|off, compatibility auto|strict,
    /// user-attributes NAME[:TYPE][,...] (extra user attributes; TYPE string, boolean,
    /// integer, decimal, dateTime or reference, with [] for several values),
    /// access-token-minutes 60..360 (lifetime of OAuth access tokens), unknown-members
    /// refuse|ignore (group members that name nothing), patch-response resource|no-content
    /// (what a user PATCH answers).
    Set {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The setting.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Issues a new static token for a tenant (the previous ones stop working unless
    /// --keep-old), or lists or revokes its tokens.
    Token(TokenArgs),
    /// OAuth 2.0 clients of a tenant (client credentials grant).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Trusts an external issuer's signed tokens for a tenant (workload identity
    /// federation): --entra DIRECTORY_ID for Microsoft Entra ID, or --issuer URL.
    Trust {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// A Microsoft Entra ID directory (tenant) id: trusts its v2.0 and v1 issuers and
        /// requires its `tid` claim.
        #[arg(long, conflicts_with = "issuer", required_unless_present = "issuer")]
        entra: Option<String>,
        /// An issuer URL (repeat for several accepted `iss` values; the first is where its
        /// OpenID configuration is read).
        #[arg(long)]
        issuer: Vec<String>,
        /// The audience (`aud`) the tokens must be issued for.
        #[arg(long)]
        audience: String,
        /// The subject (`sub`) the tokens must have.
        #[arg(long)]
        subject: Option<String>,
        /// Another claim the tokens must have, as NAME=VALUE (repeatable).
        #[arg(long = "claim", value_parser = parse_claim)]
        claims: Vec<(String, String)>,
        /// Where the issuer's signing keys are, if not in its OpenID configuration.
        #[arg(long)]
        jwks_uri: Option<String>,
        /// Allows issuer and key URLs on a link-local or cloud-metadata address
        /// (169.254.0.0/16, fe80::/10, metadata.google.internal, ...), refused by default.
        #[arg(long)]
        allow_link_local: bool,
    },
    /// Stops trusting any external issuer for a tenant.
    Untrust {
        /// The tenant's id (or its name, when unique).
        tenant: String,
    },
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
struct TokenArgs {
    #[command(subcommand)]
    action: Option<TokenCommand>,
    /// The tenant's id (or its name, when unique).
    #[arg(required = true)]
    tenant: Option<String>,
    /// Keeps the tenant's previous tokens working (a rotation without a gap: move the
    /// identity provider to the new token, then revoke the old one).
    #[arg(long)]
    keep_old: bool,
    /// A name for the token, to tell it apart later.
    #[arg(long, default_value = "")]
    name: String,
    /// How long the token works: a number with s, m, h, d or w (90d); for ever if absent.
    #[arg(long, value_parser = parse_duration)]
    expires_in: Option<time::Duration>,
    /// Prints one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Lists a tenant's live static tokens (never the tokens themselves).
    List {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes one static token: it stops working within a second on every process.
    Revoke {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The token's id (tok_…, from `roster tenant token list`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Creates an OAuth client; prints its client id, its secret (shown once) and the token
    /// endpoint.
    Create {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// A name for the client.
        #[arg(long, default_value = "")]
        name: String,
        /// A client that authenticates only with a JWT from the tenant's trusted issuer
        /// (roster tenant trust): no secret is shown.
        #[arg(long)]
        federated: bool,
        /// Prints one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Lists a tenant's OAuth clients.
    List {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// Prints a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Revokes an OAuth client and every access token issued to it.
    Revoke {
        /// The tenant's id (or its name, when unique).
        tenant: String,
        /// The client id (rci_…).
        id: String,
    },
}

/// `90d`, `12h`, `30m`, `3600s`, `2w`.
fn parse_duration(text: &str) -> Result<time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{text:?} needs a unit: s, m, h, d or w (as in 90d)"))?;
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a number followed by s, m, h, d or w"))?;
    let d = match unit {
        "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        "w" => time::Duration::weeks(n),
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w")),
    };
    if d <= time::Duration::ZERO {
        return Err("the lifetime must be positive".into());
    }
    Ok(d)
}

/// `NAME=VALUE`.
fn parse_claim(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} must be NAME=VALUE"))?;
    if name.trim().is_empty() {
        return Err(format!("{text:?} must be NAME=VALUE"));
    }
    Ok((name.trim().to_owned(), value.to_owned()))
}

fn time_text(t: Option<time::OffsetDateTime>) -> String {
    t.map_or_else(|| "-".to_owned(), roster_scim::value::format_datetime)
}

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

fn millis_text(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(roster_scim::value::format_datetime)
        .unwrap_or_default()
}

async fn webhook(directory: &Directory, command: WebhookCommand) -> Result<()> {
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

fn issued_json(config: &Config, issued: &IssuedToken) -> serde_json::Value {
    json!({
        "id": issued.tenant.id.as_str(),
        "name": issued.tenant.name,
        "provisioning_url": config.tenant_base(&issued.tenant.id),
        "token": issued.token,
    })
}

fn print_issued(config: &Config, issued: &IssuedToken, as_json: bool) -> std::io::Result<()> {
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
        writeln!(out, "(The token is shown once; only its hash is stored.)")
    }
}

fn show_tenant(config: &Config, tenant: &roster_store::Tenant, as_json: bool) -> Result<()> {
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
        writeln!(out, "Tenant:           {} ({})", tenant.name, tenant.id)?;
        writeln!(out, "Provisioning URL: {}", config.tenant_base(&tenant.id))?;
        writeln!(out, "provisioning      {}", onoff(settings.provisioning))?;
        writeln!(out, "groups            {}", onoff(settings.groups))?;
        writeln!(out, "compatibility     {}", settings.compatibility.as_str())?;
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
        writeln!(out, "user-attributes   {}", attributes.join(","))?;
        writeln!(
            out,
            "access-token-minutes {}",
            settings.access_token_minutes
        )?;
        match &settings.federation {
            Some(f) => {
                writeln!(out, "trusted issuer    {}", f.issuers.join(" "))?;
                writeln!(out, "  audience        {}", f.audience)?;
                if let Some(sub) = &f.subject {
                    writeln!(out, "  subject         {sub}")?;
                }
                for (k, v) in &f.claims {
                    writeln!(out, "  claim           {k}={v}")?;
                }
                if f.allow_link_local {
                    writeln!(out, "  link-local      allowed (--allow-link-local)")?;
                }
            }
            None => writeln!(out, "trusted issuer    -")?,
        }
        let unknown = match settings.unknown_members {
            roster_directory::settings::UnknownMembers::Refuse => "refuse",
            roster_directory::settings::UnknownMembers::Ignore => "ignore",
        };
        writeln!(out, "unknown-members   {unknown}")?;
        let patch = match settings.patch_response {
            roster_directory::settings::PatchResponse::Resource => "resource",
            roster_directory::settings::PatchResponse::NoContent => "no-content",
        };
        writeln!(out, "patch-response    {patch}")?;
    }
    Ok(())
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

async fn token_command(directory: &Directory, config: &Config, args: TokenArgs) -> Result<()> {
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

async fn client_command(
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

async fn serve(global: &Global, args: &ServeArgs, directory: Directory) -> Result<()> {
    let directory = directory.with_resource_limits(roster_scim::limits::ResourceLimits {
        max_values: args.max_values_per_attribute.max(1),
        max_bytes: args.max_resource_bytes.max(1024),
    });
    let listener = tokio::net::TcpListener::bind(global.listen)
        .await
        .with_context(|| format!("listening on {}", global.listen))?;
    let bound = listener.local_addr()?;
    let mut config = Config::new(&global.public_url(bound));
    if let Some(issued) = directory.create_first_tenant("default").await? {
        announce_first_tenant(&config, &issued);
    }
    config.metrics_on_main = args.metrics_listen.is_none();
    config.max_page_bytes = args.max_page_bytes.max(1);
    config.request_timeout = Duration::from_secs(args.request_timeout_seconds.max(1));
    config.serve = roster_server::ServeLimits {
        max_connections: roster_server::connection_cap(
            args.max_connections.max(1),
            descriptor_limit(),
        ),
        header_read_timeout: Duration::from_secs(args.header_read_timeout_seconds.max(1)),
        idle_timeout: Duration::from_secs(args.idle_timeout_seconds.max(1)),
    };
    tracing::info!(
        listen = %bound,
        public_url = %config.public_url,
        max_connections = config.serve.max_connections,
        "roster is serving"
    );
    roster_server::spawn_change_log_tasks(
        directory.clone(),
        time::Duration::days(i64::from(args.event_retention_days.max(1))),
    );
    let mut webhooks = roster_delivery::WebhookConfig::default();
    if let Some(s) = args.webhook_timeout_seconds {
        webhooks.timeout = Duration::from_secs(s.max(1));
    }
    if let Some(s) = args.webhook_lease_seconds {
        webhooks.lease = Duration::from_secs(s.max(2));
    }
    // A lease must outlast a request and its record.
    webhooks.lease = webhooks.lease.max(webhooks.timeout * 3);
    roster_delivery::spawn_webhook_worker(directory.clone(), webhooks);
    let limits = config.serve;
    let state = AppState::new(directory, config);
    if let Some(address) = args.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address} for metrics"))?;
        tracing::info!(listen = %metrics.local_addr()?, "serving metrics");
        let app = roster_server::metrics_app(state.clone());
        let metrics_limits = roster_server::ServeLimits {
            max_connections: 64,
            ..limits
        };
        tokio::spawn(async move {
            if let Err(e) =
                roster_server::serve(metrics, app, metrics_limits, std::future::pending()).await
            {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let app = roster_server::app(state);
    roster_server::serve(listener, app, limits, shutdown_signal())
        .await
        .context("serving")?;
    tracing::info!("stopped");
    Ok(())
}

/// The first tenant's Provisioning URL, and its token only on a terminal: under a service
/// manager or in a container, standard output is the log, where a live credential must not
/// be written. There the command that issues a token is printed instead.
fn announce_first_tenant(config: &Config, issued: &IssuedToken) {
    use std::io::IsTerminal;
    // The server must run on even if nobody reads its standard output any more.
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        let _ = writeln!(
            out,
            "Created a first tenant. Paste these into your identity provider:"
        );
        drop(out);
        let _ = print_issued(config, issued, false);
        return;
    }
    let tenant = &issued.tenant;
    let _ = writeln!(
        out,
        "Created a first tenant.\n\
         Tenant:           {} ({})\n\
         Provisioning URL: {}\n\
         Secret Token:     not shown, as standard output is not a terminal (it may be a log).\n\
         Issue one with:   roster tenant token {}",
        tenant.name,
        tenant.id,
        config.tenant_base(&tenant.id),
        tenant.id
    );
}

/// The process's file descriptor limit, raised to its hard limit first (the soft limit is
/// often 1,024, too few for a server).
fn descriptor_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "reading the file descriptor limit failed");
            None
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

/// Resolves on Ctrl-C or SIGTERM; requests in flight then finish before the server stops.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
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
