//! The outbound address policy at request time (see `roster_directory::outbound`): the HTTP
//! clients that reach operators' URLs (webhook receivers, trusted issuers) resolve host names
//! through [`PolicyResolver`], which drops link-local and cloud-metadata addresses and fails
//! when none is left, so that a DNS answer changed after the operator's URL was checked still
//! cannot reach the metadata service. A literal address never reaches a resolver, so callers
//! check it with [`refusal`] before sending.

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use roster_directory::outbound::{self, OutboundError};

/// A host name's addresses, less those the policy refuses.
#[derive(Debug, Clone, Copy, Default)]
pub struct PolicyResolver;

/// Why a host name was not resolved to anything Roster may reach.
#[derive(Debug, thiserror::Error)]
#[error(
    "{host} resolves only to addresses Roster sends no requests to (link-local, cloud \
     metadata, unspecified or multicast): {addresses}"
)]
pub struct Refused {
    /// The host name.
    pub host: String,
    /// The refused addresses.
    pub addresses: String,
}

/// The addresses of `host` the policy allows; an error naming the refused ones when none is
/// left.
pub fn allowed_addresses(
    host: &str,
    addresses: impl IntoIterator<Item = SocketAddr>,
) -> Result<Vec<SocketAddr>, Refused> {
    let (allowed, refused): (Vec<SocketAddr>, Vec<SocketAddr>) = addresses
        .into_iter()
        .partition(|a| outbound::forbidden_address(a.ip()).is_none());
    if allowed.is_empty() {
        return Err(Refused {
            host: host.to_owned(),
            addresses: refused
                .iter()
                .map(|a| a.ip().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    if !refused.is_empty() {
        tracing::warn!(
            host,
            refused = refused.len(),
            "link-local or metadata addresses of an outbound host were dropped"
        );
    }
    Ok(allowed)
}

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if outbound::forbidden_name(&host) {
                return Err(Box::new(Refused {
                    addresses: "(the name of a cloud metadata service)".into(),
                    host,
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let allowed = allowed_addresses(&host, found)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A client builder that follows the policy (unless the operator allowed link-local
/// addresses for this URL).
pub fn client_builder(allow_link_local: bool) -> reqwest::ClientBuilder {
    // No proxy from the environment: a proxy would resolve names itself, past the policy.
    let builder = reqwest::Client::builder().no_proxy();
    if allow_link_local {
        builder
    } else {
        builder.dns_resolver(PolicyResolver)
    }
}

/// Why `url` may not be requested before any lookup: a literal forbidden address or a
/// metadata service's name. `None` when it may be sent (names are checked by the resolver).
pub fn refusal(url: &str) -> Option<OutboundError> {
    outbound::check_literal(url).err()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(list: &[&str]) -> Vec<SocketAddr> {
        list.iter()
            .map(|a| SocketAddr::new(a.parse().expect("address"), 0))
            .collect()
    }

    #[test]
    fn the_resolver_drops_metadata_addresses_and_fails_when_none_is_left() {
        let kept = allowed_addresses("mixed.example", addrs(&["169.254.169.254", "10.0.0.5"]))
            .expect("one address is allowed");
        assert_eq!(kept, addrs(&["10.0.0.5"]));
        let e = allowed_addresses("rebound.example", addrs(&["169.254.169.254", "fe80::1"]))
            .expect_err("nothing is left");
        assert!(e.to_string().contains("169.254.169.254"), "{e}");
        assert!(allowed_addresses("empty.example", []).is_err());
        assert_eq!(
            allowed_addresses("lan.example", addrs(&["192.168.1.2", "::1"])).expect("allowed"),
            addrs(&["192.168.1.2", "::1"])
        );
    }

    #[tokio::test]
    async fn the_resolver_refuses_metadata_names_and_resolves_others() {
        let refused = PolicyResolver
            .resolve("metadata.google.internal".parse().expect("name"))
            .await;
        assert!(refused.is_err());
        let local: Vec<SocketAddr> = PolicyResolver
            .resolve("localhost".parse().expect("name"))
            .await
            .expect("localhost resolves")
            .collect();
        assert!(local.iter().all(|a| a.ip().is_loopback()), "{local:?}");
    }

    #[tokio::test]
    async fn clients_built_for_the_policy_resolve_through_it() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let strict = client_builder(false).build().expect("client");
        let e = strict
            .get("http://metadata.google.internal/computeMetadata/v1/")
            .send()
            .await
            .expect_err("a metadata name is not resolved");
        let mut text = e.to_string();
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            text.push_str(&format!(": {s}"));
            source = s.source();
        }
        assert!(text.contains("Roster sends no requests"), "{text}");

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        tokio::spawn(async move {
            let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
            axum::serve(listener, app).await.expect("serve");
        });
        let r = strict
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .expect("loopback stays reachable through the resolver");
        assert!(r.status().is_success());
    }

    #[test]
    fn literal_addresses_are_refused_before_sending() {
        assert!(refusal("http://169.254.169.254/latest/meta-data/").is_some());
        assert!(refusal("http://[fd00:ec2::254]/").is_some());
        assert!(refusal("http://127.0.0.1:9/hook").is_none());
        assert!(refusal("https://hooks.example.com/").is_none());
    }
}
