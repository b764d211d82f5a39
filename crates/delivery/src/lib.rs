//! Webhook delivery: a worker of `roster serve` that POSTs each event of the change log to the
//! endpoints the host application registered, signed as the Standard Webhooks specification
//! says, at least once and in order per endpoint and tenant.
//!
//! Work is leased from the database (see `Store::claim_streams`): with several processes on
//! one database each stream is delivered by one of them at a time, and a process that dies
//! mid-delivery leaves its lease to expire and its stream to another. A stream's head event is
//! retried with backoff and jitter ([`backoff`]), later events of that tenant waiting behind
//! it, until three days after its first failure; then it is dead-lettered (listed by
//! `roster webhook dead-letters`, redeliverable) and the stream moves on. Deliveries never run
//! inside a SCIM request.
//!
//! The worker reads the time only from the directory's `Clock` and draws random numbers only
//! from its `Secrets`, and it sends through a [`Sender`]; so a test moves a `ShiftedClock`
//! past a retry instead of waiting for it, and can drive one round at a time
//! ([`Worker::run_once`]).

use std::time::Duration;

pub mod backoff;
pub mod http;
pub mod outbound;
pub mod sender;
pub mod signing;
mod worker;

pub use http::HttpSender;
pub use sender::{Request, SendError, Sender, Sent};
pub use worker::{Worker, spawn_webhook_worker};

/// How deliveries behave.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Streams delivered at once by this process.
    pub concurrency: usize,
    /// How long a claimed stream stays this process's without news.
    pub lease: Duration,
    /// How long a failing event is retried before it is dead-lettered.
    pub give_up_after: Duration,
    /// Events delivered per claim of a stream.
    pub batch: u64,
    /// How often the running worker looks for work it was not woken for: retries coming
    /// due, changes recorded by other processes.
    pub poll: Duration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            timeout: Duration::from_secs(10),
            concurrency: 16,
            lease: Duration::from_secs(30),
            give_up_after: Duration::from_secs(3 * 24 * 3600),
            batch: 200,
            poll: Duration::from_millis(100),
        }
    }
}
