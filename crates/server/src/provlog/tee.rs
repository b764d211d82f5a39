//! Bodies that keep a copy of their first bytes as they stream, so that the log sees what the
//! handler read and what the client was sent without buffering either again.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};

/// The first bytes of a body, shared with the log.
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn keep(&self, data: &[u8], limit: usize) {
        let mut kept = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let room = limit.saturating_sub(kept.len());
        kept.extend_from_slice(&data[..room.min(data.len())]);
    }

    /// What was kept.
    pub fn take(&self) -> Vec<u8> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}

/// A body that copies its first `limit` bytes into a [`Captured`], and runs `done` once when
/// it is dropped (sent in full, or abandoned by the client).
pub struct Tee {
    inner: Body,
    kept: Captured,
    limit: usize,
    done: Option<Box<dyn FnOnce() + Send>>,
}

impl Tee {
    /// Wraps `inner`.
    pub fn new(inner: Body, kept: Captured, limit: usize) -> Tee {
        Tee {
            inner,
            kept,
            limit,
            done: None,
        }
    }

    /// Runs `done` when the body is dropped.
    pub fn then(mut self, done: impl FnOnce() + Send + 'static) -> Tee {
        self.done = Some(Box::new(done));
        self
    }
}

impl Drop for Tee {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            done();
        }
    }
}

impl HttpBody for Tee {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.kept.keep(data, self.limit);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
