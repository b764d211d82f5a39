//! What the worker needs of HTTP: one signed POST with a timeout, and what came of it. The
//! production [`Sender`] is [`crate::HttpSender`]; tests of the worker use one of their own.

use std::time::Duration;

use async_trait::async_trait;

/// A signed delivery, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Where to POST it.
    pub url: String,
    /// Whether the endpoint may be on a link-local or cloud-metadata address (added with
    /// `--allow-link-local`); otherwise the outbound address policy applies.
    pub allow_link_local: bool,
    /// `webhook-id`: the event's id.
    pub id: String,
    /// `webhook-timestamp`: seconds since the epoch.
    pub timestamp: i64,
    /// `webhook-signature`.
    pub signature: String,
    /// The JSON body.
    pub body: Vec<u8>,
    /// How long the receiver has to answer.
    pub timeout: Duration,
}

/// What came of a request: the receiver's status, or why there was none, and how long it
/// took.
#[derive(Debug)]
pub struct Sent {
    /// The HTTP status the receiver answered, or why it did not.
    pub outcome: Result<u16, SendError>,
    /// From sending the request to its answer or failure.
    pub latency: Duration,
}

/// Why a request got no answer. The text is what the delivery attempt records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The outbound address policy refused the URL before any request.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The receiver did not answer within the timeout.
    #[error("timed out")]
    TimedOut,
    /// No connection could be made; the causes say why (refused, a certificate not trusted).
    #[error("could not connect: {0}")]
    Connect(String),
    /// Anything else that went wrong with the request.
    #[error("request failed: {0}")]
    Failed(String),
}

/// Sends deliveries.
#[async_trait]
pub trait Sender: Send + Sync {
    /// POSTs `request`, following no redirect, and says what came of it.
    async fn send(&self, request: Request) -> Sent;
}
