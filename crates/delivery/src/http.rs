//! The [`Sender`] of `roster serve`: reqwest, following the outbound address policy
//! ([`crate::outbound`]) unless the endpoint was added with `--allow-link-local`, and no
//! redirects.

use std::time::Instant;

use async_trait::async_trait;

use crate::outbound;
use crate::sender::{Request, SendError, Sender, Sent};

/// Delivers over HTTP(S) with two clients: one that resolves through the outbound address
/// policy, for every endpoint, and one that does not, for endpoints the operator added with
/// `--allow-link-local`.
#[derive(Debug, Clone)]
pub struct HttpSender {
    strict: reqwest::Client,
    allowing: reqwest::Client,
}

impl HttpSender {
    /// Builds both clients (and installs the build's one TLS crypto provider, a no-op when
    /// the program installed it).
    pub fn new() -> Result<Self, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = |allow_link_local| {
            outbound::client_builder(allow_link_local)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Roster-Webhooks/", env!("CARGO_PKG_VERSION")))
                .build()
        };
        Ok(HttpSender {
            strict: client(false)?,
            allowing: client(true)?,
        })
    }
}

/// An error's innermost causes, which say why (refused, a certificate not trusted, …).
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        out.push(s.to_string());
        source = s.source();
    }
    if out.is_empty() {
        e.to_string()
    } else {
        out.join(": ")
    }
}

#[async_trait]
impl Sender for HttpSender {
    async fn send(&self, request: Request) -> Sent {
        let client = if request.allow_link_local {
            &self.allowing
        } else {
            // A literal address never reaches the resolver: refused here, without a request.
            if let Some(refusal) = outbound::refusal(&request.url) {
                return Sent {
                    outcome: Err(SendError::NotSent(refusal.to_string())),
                    latency: std::time::Duration::ZERO,
                };
            }
            &self.strict
        };
        // A latency is an interval on the monotonic clock, recorded for the operator; no
        // decision of the worker depends on it, so it is not the directory's `Clock`.
        #[allow(clippy::disallowed_methods)]
        let sent = Instant::now();
        let result = client
            .post(&request.url)
            .timeout(request.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &request.id)
            .header("webhook-timestamp", request.timestamp.to_string())
            .header("webhook-signature", &request.signature)
            .body(request.body)
            .send()
            .await;
        let latency = sent.elapsed();
        let outcome = match result {
            Ok(response) => Ok(response.status().as_u16()),
            Err(e) if e.is_timeout() => Err(SendError::TimedOut),
            Err(e) if e.is_connect() => Err(SendError::Connect(causes(&e))),
            Err(e) => Err(SendError::Failed(causes(&e))),
        };
        Sent { outcome, latency }
    }
}
