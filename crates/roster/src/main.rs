//! The `roster` command: runs the service and manages tenants and their tokens (see the
//! library, `roster::run`).

/// mimalloc rather than the C library's allocator: the runtime's workers, the provisioning
/// log's describer and its SQLite writer hand buffers from thread to thread, and glibc's
/// per-thread arenas take a lock to free another thread's memory (see README, "The
/// provisioning log's cost").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Turns transparent huge pages off for the process, before anything is allocated in earnest.
///
/// mimalloc asks the kernel for huge pages over its arenas, and hands freed memory back 64 KiB
/// at a time; with huge pages the kernel then zeroes a whole 2 MiB page again each time the
/// range is touched anew. Under a `userName eq` lookup load that zeroing took 11 % of the
/// provisioning log's describer; without it the server's CPU per request is 4–12 % lower
/// (filter 71.7 → 68.5 µs, PATCH 282 → 248 µs; README, "Benchmark"), its throughput within
/// the noise. A kernel that refuses leaves the process as it was.
fn without_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(e) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("warning: transparent huge pages stay on: {e}");
    }
}

fn main() -> std::process::ExitCode {
    without_huge_pages();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(serve()),
        Err(e) => {
            eprintln!("error: starting the runtime: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn serve() -> std::process::ExitCode {
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
