//! Startup, shared by `roster serve` and the end-to-end tests: the store opened from its URL,
//! the directory over it, and the application (HTTP server, change-log upkeep, webhook
//! worker, metrics listener) run until a shutdown signal. The binary adds only what comes
//! from the command line; a test adds only its own clock, limits or listener.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use roster_delivery::WebhookConfig;
use roster_directory::{Clock, Directory, Secrets};
use roster_scim::Registry;
use roster_server::{AppState, Config, ServeLimits};
use roster_store::Store;
use roster_store_postgres::{PoolConfig, PostgresStore};
use roster_store_sqlite::SqliteStore;
use tokio::net::TcpListener;

/// How a store is opened beyond its URL.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Whether a SQLite file that does not exist may be created (only `serve` and `tenant
    /// create` may: any other command on a mistyped path would create an empty database).
    pub may_create: bool,
    /// The most connections to a PostgreSQL database this process opens.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            may_create: true,
            max_connections: 16,
        }
    }
}

/// Opens the store a database URL names: `sqlite://FILE` or `postgres://…`, its schema
/// brought up to date.
pub async fn open_store(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>> {
    let shown = redacted(url);
    if url.starts_with("sqlite:") {
        if !options.may_create
            && let Some(path) = sqlite_file(url)
            && !Path::new(path).exists()
        {
            bail!(
                "there is no database at {path}: `roster serve` (or `roster tenant create`) \
                 creates one; or point --database / ROSTER_DATABASE_URL at the existing one"
            );
        }
        let store = SqliteStore::open(url)
            .await
            .with_context(|| format!("opening {shown}"))?;
        Ok(Arc::new(store))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        let pool = PoolConfig {
            max_connections: options.max_connections.max(1),
            ..PoolConfig::default()
        };
        let store = PostgresStore::open(url, pool)
            .await
            .with_context(|| format!("opening {shown}"))?;
        Ok(Arc::new(store))
    } else {
        bail!("unsupported database URL {shown:?}: use sqlite://FILE or postgres://…")
    }
}

/// The directory over a store, with the core schemas.
pub fn directory(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    secrets: Arc<dyn Secrets>,
) -> Directory {
    Directory::new(store, Arc::new(Registry::core()), clock, secrets)
}

/// A database URL without its password, for messages.
pub fn redacted(url: &str) -> String {
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

/// The file of a `sqlite:` URL (`sqlite://roster.db`, `sqlite:///var/lib/roster.db?mode=rwc`),
/// or `None` for an in-memory database.
pub fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// What the HTTP server serves: the SCIM and host APIs over `directory`, and the pages (the
/// console and tenants' Provisioning & SSO pages); with the provisioning log's writer when
/// `provisioning_log` (`--provisioning-log-days 0` turns it off).
pub fn app_state(directory: Directory, config: Config, provisioning_log: bool) -> AppState {
    let pages = roster_console::router(directory.clone(), &config.public_url);
    let signin = roster_signin::SignIn::new(directory.clone(), &config.public_url)
        .with_fallback(config.sso_fallback_url.clone())
        .with_ms365(config.ms365.clone());
    let mut state = AppState::new(directory, config);
    state.pages = Some(pages);
    state.signin = Some(signin);
    if provisioning_log {
        state.with_provisioning_log()
    } else {
        state
    }
}

/// The running parts of Roster beside its HTTP server.
#[derive(Debug, Clone)]
pub struct Workers {
    /// How long change-log events are kept.
    pub event_retention: time::Duration,
    /// How webhooks are delivered.
    pub webhooks: WebhookConfig,
    /// How long the provisioning log keeps an entry.
    pub log_retention: time::Duration,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            log_retention: time::Duration::days(30),
            event_retention: time::Duration::days(90),
            webhooks: WebhookConfig::default(),
        }
    }
}

/// Roster ready to run: a bound listener and the state it serves.
pub struct Application {
    listener: TcpListener,
    metrics: Option<TcpListener>,
    state: AppState,
    workers: Workers,
}

impl Application {
    /// The application serving `state` on `listener`, with `workers` beside it.
    pub fn new(listener: TcpListener, state: AppState, workers: Workers) -> Application {
        Application {
            listener,
            metrics: None,
            state,
            workers,
        }
    }

    /// Serves Prometheus metrics on a listener of their own as well.
    pub fn with_metrics_listener(mut self, metrics: TcpListener) -> Application {
        self.metrics = Some(metrics);
        self
    }

    /// The address the application listens on.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Starts the workers and serves until `shutdown` resolves; requests in flight finish.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let directory = self.state.directory.clone();
        roster_server::spawn_change_log_tasks(
            directory.clone(),
            self.workers.event_retention,
            self.workers.log_retention,
        );
        roster_delivery::spawn_webhook_worker(directory.clone(), self.workers.webhooks);
        // Outbound provisioning: this process works the targets whose runs it leases.
        let owner = format!("engine-{}", directory.secrets().resource_id());
        let engine = roster_engine::Engine::new(directory, owner, false)
            .with_progress(self.state.metrics.outbound_progress());
        tokio::spawn(engine.run(std::future::pending()));
        if let Some(signin) = &self.state.signin {
            signin.spawn_metadata_refresh();
        }
        let limits = self.state.config.serve;
        if let Some(metrics) = self.metrics {
            tracing::info!(listen = %metrics.local_addr()?, "serving metrics");
            let app = roster_server::metrics_app(self.state.clone());
            let metrics_limits = ServeLimits {
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
        let app = roster_server::app(self.state);
        roster_server::serve(self.listener, app, limits, shutdown)
            .await
            .context("serving")
    }
}

#[cfg(test)]
mod tests {
    use super::{redacted, sqlite_file};

    /// The SQLite log writer empties its WAL (a checkpoint, two syncs and a truncation) once
    /// it has waited this long without a write: the recorder must write more often than that
    /// while requests come, or a lightly used log would be emptied after every write.
    #[test]
    fn the_log_writer_is_not_idle_between_two_writes_of_the_log() {
        let pace = roster_server::provlog::recorder::FLUSH_AFTER;
        assert!(roster_store_sqlite::LOG_IDLE >= 4 * pace);
    }

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

    #[test]
    fn the_file_of_a_sqlite_url() {
        assert_eq!(sqlite_file("sqlite://roster.db"), Some("roster.db"));
        assert_eq!(
            sqlite_file("sqlite:///var/lib/roster.db?mode=rwc"),
            Some("/var/lib/roster.db")
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://db/roster"), None);
    }
}
