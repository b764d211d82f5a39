//! The `roster` command: runs the service and manages tenants and their tokens (see the
//! library, `roster::run`).

/// mimalloc rather than the C library's allocator: the runtime's workers, the provisioning
/// log's describer and its SQLite writer hand buffers from thread to thread, and glibc's
/// per-thread arenas take a lock to free another thread's memory (see README, "The
/// provisioning log's cost").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
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
    // A user's mistake is one line naming its causes, never a backtrace (anyhow prints one
    // for a returned error when RUST_BACKTRACE is set).
    match roster::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
