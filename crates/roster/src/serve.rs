//! `roster serve`: the first tenant, the workers, the listeners, and a graceful shutdown.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};
use roster_directory::*;
use roster_server::Config;

use crate::cli::*;
use crate::commands::*;
use crate::startup::{Application, Workers, app_state};

pub(crate) async fn serve(global: &Global, args: &ServeArgs, directory: Directory) -> Result<()> {
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
    if directory.operator_count().await? == 0 {
        announce_operator_setup(&config, &directory).await?;
    }
    config.metrics_on_main = args.metrics_listen.is_none();
    config.sso_fallback_url = args.sso_fallback_url.clone();
    config.ms365 = match (&args.ms365_client_id, &args.ms365_client_secret) {
        (Some(client_id), Some(client_secret)) => Some(roster_signin::Ms365 {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            authority: args.ms365_authority.clone(),
        }),
        _ => None,
    };
    config.max_page_bytes = args.max_page_bytes.max(1);
    config.request_timeout = Duration::from_secs(args.request_timeout_seconds);
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
    let mut webhooks = roster_delivery::WebhookConfig::default();
    if let Some(s) = args.webhook_timeout_seconds {
        webhooks.timeout = Duration::from_secs(s.max(1));
    }
    if let Some(s) = args.webhook_lease_seconds {
        webhooks.lease = Duration::from_secs(s.max(2));
    }
    // A lease must outlast a request and its record.
    webhooks.lease = webhooks.lease.max(webhooks.timeout * 3);
    let workers = Workers {
        event_retention: time::Duration::days(i64::from(args.event_retention_days.max(1))),
        webhooks,
        log_retention: time::Duration::days(i64::from(args.provisioning_log_days.max(1))),
    };
    let state = app_state(directory, config, args.provisioning_log_days > 0);
    let mut app = Application::new(listener, state, workers);
    if let Some(address) = args.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address} for metrics"))?;
        app = app.with_metrics_listener(metrics);
    }
    app.run(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The first tenant's Provisioning URL, and its token only on a terminal: under a service
/// manager or in a container, standard output is the log, where a live credential must not
/// be written. There the command that issues a token is printed instead.
pub(crate) fn announce_first_tenant(config: &Config, issued: &IssuedToken) {
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

/// With no operator yet, a one-time link that creates the first one (30 minutes), on a
/// terminal only, for the same reason as the first tenant's token; elsewhere the command that
/// makes one.
async fn announce_operator_setup(config: &Config, directory: &Directory) -> Result<()> {
    use std::io::IsTerminal;
    let mut out = std::io::stdout().lock();
    if out.is_terminal() {
        let secret = directory.operator_invite().await?;
        let _ = writeln!(
            out,
            "No operator yet. Create the first one within 30 minutes at:\n{}/console/setup/{secret}",
            config.public_url
        );
    } else {
        let _ = writeln!(
            out,
            "No operator yet: make a link that creates one with `roster operator create EMAIL`."
        );
    }
    Ok(())
}

/// The process's file descriptor limit, raised to its hard limit first (the soft limit is
/// often 1,024, too few for a server).
pub(crate) fn descriptor_limit() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "reading the file descriptor limit failed");
            None
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM; requests in flight then finish before the server stops.
pub(crate) async fn shutdown_signal() {
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
