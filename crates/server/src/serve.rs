//! The listener loop: HTTP/1.1 connections with a cap on their number, a header-read timeout,
//! an idle timeout and a graceful shutdown.
//!
//! `axum::serve` keeps a connection for as long as the client does: about 20,000 idle
//! connections exhausted the process's file descriptors, and `accept` then failed for every
//! real client. Here each connection holds a permit of a semaphore sized below the descriptor
//! limit (the loop stops accepting while none is left, so the kernel's backlog holds the
//! rest), and must send each request's head within `header_read_timeout`: from the
//! connection's start, and on a kept-alive connection from the end of the previous response
//! (hyper arms the timer whenever it waits for a head), so an idle kept-alive connection is
//! closed after it. A connection in the middle of a request that moves no byte for
//! `idle_timeout` (a stalled body or a response nobody reads) is asked to close once its
//! response is sent, and dropped after another `idle_timeout`.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tower::ServiceExt;

/// The limits of the listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// The most connections open at once.
    pub max_connections: usize,
    /// How long a client has to send a request's head, from the connection's start or, on a
    /// kept-alive connection, from the end of the previous response.
    pub header_read_timeout: Duration,
    /// How long a connection may go without a byte read or written (in the middle of a
    /// request) before it is asked to close, and then before it is dropped.
    pub idle_timeout: Duration,
}

impl Default for ServeLimits {
    /// 10,000 connections, 10 s for a request's head, 60 s idle.
    fn default() -> Self {
        ServeLimits {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// File descriptors kept for everything but client connections: the database (SQLite's
/// files, a PostgreSQL pool), outbound webhook and key fetches, logs.
pub const RESERVED_DESCRIPTORS: u64 = 256;

/// The connection cap for a process allowed `nofile` descriptors: `wanted`, or fewer when the
/// descriptors would not suffice, with a warning then.
pub fn connection_cap(wanted: usize, nofile: Option<u64>) -> usize {
    let Some(nofile) = nofile else {
        return wanted;
    };
    let room = usize::try_from(nofile.saturating_sub(RESERVED_DESCRIPTORS)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            file_descriptor_limit = nofile,
            connections = room.max(1),
            "the file descriptor limit allows fewer connections than configured; raise it \
             (ulimit -n, LimitNOFILE=) to serve more clients at once"
        );
    }
    wanted.min(room).max(1)
}

/// What [`serve`] serves: a cloneable service of requests that never fails (errors are
/// responses).
pub trait AppService:
    tower::Service<
        Request,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send + 'static,
    > + Clone
    + Send
    + 'static
{
}

impl<S> AppService for S where
    S: tower::Service<
            Request,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
            Future: Send + 'static,
        > + Clone
        + Send
        + 'static
{
}

/// Serves `app` on `listener` until `shutdown` resolves; requests in flight then finish.
/// Each request carries its peer's address as [`ConnectInfo`].
pub async fn serve<S: AppService>(
    listener: TcpListener,
    app: S,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let mut stopping = stop_rx.clone();
    let mut backoff = Duration::from_millis(5);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.map_err(std::io::Error::other)?,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stopping.wait_for(|s| *s) => break,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => {
                backoff = Duration::from_millis(5);
                pair
            }
            Err(e) => {
                // Out of descriptors or memory, or a connection reset before it was taken:
                // wait a little instead of spinning, and go on.
                tracing::warn!(error = %e, "accepting a connection failed");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop_rx.clone();
        tokio::spawn(async move {
            connection(stream, peer, app, limits, stop).await;
            drop(permit);
        });
    }
    // Stop taking connections; wait for those open to finish their requests.
    drop(listener);
    let _ = permits
        .acquire_many(u32::try_from(limits.max_connections.max(1)).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

async fn connection<S: AppService>(
    stream: TcpStream,
    peer: SocketAddr,
    app: S,
    limits: ServeLimits,
    mut stop: watch::Receiver<bool>,
) {
    let start = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked {
        inner: stream,
        start,
        activity: activity.clone(),
    });
    let service =
        hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        let last = start + Duration::from_millis(activity.load(Ordering::Relaxed));
        let deadline = last + limits.idle_timeout;
        tokio::select! {
            _ = conn.as_mut() => return,
            () = tokio::time::sleep_until(deadline) => {
                let last = start + Duration::from_millis(activity.load(Ordering::Relaxed));
                if Instant::now() < last + limits.idle_timeout {
                    continue;
                }
                if closing {
                    // Asked to close an idle period ago and still silent: a response the
                    // client does not read. Dropping the connection closes it.
                    return;
                }
                closing = true;
                activity.store(elapsed_ms(start), Ordering::Relaxed);
                conn.as_mut().graceful_shutdown();
            }
            _ = stop.wait_for(|s| *s), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A stream that records when it last read or wrote a byte.
struct Tracked {
    inner: TcpStream,
    start: Instant,
    activity: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        self.activity
            .store(elapsed_ms(self.start), Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_cap_stays_below_the_descriptor_limit() {
        assert_eq!(connection_cap(10_000, None), 10_000);
        assert_eq!(connection_cap(10_000, Some(1_048_576)), 10_000);
        assert_eq!(connection_cap(10_000, Some(1024)), 768);
        assert_eq!(connection_cap(10_000, Some(100)), 1);
    }
}
