//! A minimal SCIM HTTP client: one keep-alive pool, the SCIM headers, whole-body reads.

use std::time::Duration;

use anyhow::{Context, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// The SCIM media type, sent as both Content-Type and Accept.
const SCIM_JSON: &str = "application/scim+json";

/// How long one request may take before it counts as failed; a hung server must not hang the bench.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// How much of an error body is kept for the report; enough to read a SCIM error, not a whole page.
const MAX_ERROR_BODY: usize = 600;

/// A SCIM endpoint reached with a bearer token.
pub struct Scim {
    client: Client<HttpConnector, Full<Bytes>>,
    /// The base URLs without a trailing slash; paths are appended to them, the base taken in
    /// turn (several Roster processes on one database, each request to the next).
    bases: Vec<String>,
    next: std::sync::atomic::AtomicUsize,
    auth: HeaderValue,
}

/// A complete response: the status and the whole body.
pub struct Response {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body, read to the end so the connection can be reused.
    pub body: Bytes,
}

impl Response {
    /// A one-line description of a failed response for the report.
    pub fn describe(&self) -> String {
        format!("HTTP {}: {}", self.status, snippet(&self.body))
    }
}

/// The start of a body as text, on one line, cut to a readable length.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    // Pretty-printed JSON and HTML are mostly indentation; one space per gap keeps the line readable.
    let mut out = String::new();
    let mut truncated = false;
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.chars().count() > MAX_ERROR_BODY {
            truncated = true;
            break;
        }
    }
    if truncated {
        out = out.chars().take(MAX_ERROR_BODY).collect();
        out.push('…');
    }
    if out.is_empty() {
        out.push_str("(empty body)");
    }
    out
}

impl Scim {
    /// A client for `bases` (`http://` SCIM base URLs of one tenant, used in turn) keeping up
    /// to `max_idle` connections open to each.
    pub fn new(bases: &[String], token: &str, max_idle: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(!bases.is_empty(), "--url is empty");
        let mut checked = Vec::with_capacity(bases.len());
        for base in bases {
            let base = base.trim_end_matches('/').to_owned();
            let uri: Uri = base
                .parse()
                .with_context(|| format!("invalid --url {base:?}"))?;
            match uri.scheme_str() {
                Some("http") => {}
                // The plain HTTP connector keeps the bench small; put a TLS-terminating proxy in front if needed.
                Some(other) => {
                    bail!("--url must be http:// (got {other}://); TLS is not supported")
                }
                None => bail!("--url must be an absolute http:// URL, got {base:?}"),
            }
            if uri.query().is_some() {
                bail!("--url must not have a query string");
            }
            checked.push(base);
        }
        let auth = HeaderValue::try_from(format!("Bearer {token}"))
            .context("the token contains characters not allowed in a header")?;
        let mut connector = HttpConnector::new();
        // Small request/response pairs: Nagle would add delay to every latency sample.
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(max_idle)
            .build(connector);
        Ok(Scim {
            client,
            bases: checked,
            next: std::sync::atomic::AtomicUsize::new(0),
            auth,
        })
    }

    /// Sends `method` to the base URL + `path` (which starts with `/`), with an optional JSON body.
    ///
    /// Network failures, timeouts and unreadable bodies are errors; any HTTP status is a response.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Response> {
        let turn = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let base = &self.bases[turn % self.bases.len()];
        let uri: Uri = format!("{base}{path}")
            .parse()
            .with_context(|| format!("invalid request path {path:?}"))?;
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, self.auth.clone())
            .header(ACCEPT, HeaderValue::from_static(SCIM_JSON));
        let body = match body {
            Some(b) => {
                req = req.header(CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON));
                Full::new(Bytes::from(b))
            }
            None => Full::new(Bytes::new()),
        };
        let req = req.body(body)?;
        let exchange = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            // Read the whole body even when it is not needed: that is the cost a client pays,
            // and the connection can only be reused once the body is drained.
            let body = resp.into_body().collect().await?.to_bytes();
            anyhow::Ok(Response { status, body })
        };
        match tokio::time::timeout(REQUEST_TIMEOUT, exchange).await {
            Ok(result) => result.map_err(|e| {
                // hyper's top-level errors are terse ("client error (Connect)"); the cause says why.
                anyhow::anyhow!("{}", error_chain(e.as_ref()))
            }),
            Err(_) => bail!("timed out after {}s", REQUEST_TIMEOUT.as_secs()),
        }
    }
}

/// An error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes a query component: everything but RFC 3986 unreserved characters.
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_filter() {
        assert_eq!(
            encode_query(r#"userName eq "bench-ab12-7@example.com""#),
            "userName%20eq%20%22bench-ab12-7%40example.com%22"
        );
    }

    #[test]
    fn snippets_are_one_line_and_bounded() {
        assert_eq!(snippet(b"a\n   b "), "a b");
        assert_eq!(snippet(b""), "(empty body)");
        assert_eq!(snippet(&[b'x'; 2000]).chars().count(), MAX_ERROR_BODY + 1);
    }
}
