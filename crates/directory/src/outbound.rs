//! Where Roster may send requests on an operator's behalf (webhook deliveries, a trusted
//! issuer's configuration and keys): never to a link-local or cloud-metadata address, nor to
//! an unspecified, broadcast or multicast one, unless the operator said so
//! (`--allow-link-local`). Loopback and private ranges stay allowed: hosts often run receivers
//! on their own network.
//!
//! The check runs when an endpoint or an issuer is added (a literal address directly, a host
//! name through the resolver), and again at every request through the HTTP clients' resolver
//! (`roster_delivery::outbound`), so that a DNS answer changed after the check cannot reach the
//! metadata service either.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Host names of cloud metadata services (compared lower-cased, without a trailing dot).
const METADATA_NAMES: [&str; 5] = [
    "metadata.google.internal",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
    "metadata.azure.com",
];

/// The flag that lets an operator add an endpoint or issuer the policy refuses.
pub const ALLOW_FLAG: &str = "--allow-link-local";

/// Why Roster sends nothing to `ip`, or `None` when it may.
pub fn forbidden_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            // NAT64 (64:ff9b::/96) reaches the IPv4 address in its last 32 bits.
            let s = v6.segments();
            if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                return forbidden_v4(Ipv4Addr::from(u128::from(v6) as u32));
            }
            forbidden_v6(v6)
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    // AWS, GCP and Azure (169.254.169.254), Alibaba (100.100.100.200), Oracle Cloud
    // (192.0.0.192), Azure's WireServer (168.63.129.16).
    if [
        Ipv4Addr::new(169, 254, 169, 254),
        Ipv4Addr::new(100, 100, 100, 200),
        Ipv4Addr::new(192, 0, 0, 192),
        Ipv4Addr::new(168, 63, 129, 16),
    ]
    .contains(&ip)
    {
        Some("a cloud metadata service address")
    } else if ip.is_link_local() {
        Some("a link-local address (169.254.0.0/16, where cloud metadata services listen)")
    } else if ip.octets()[0] == 0 {
        Some("an unspecified address (0.0.0.0/8)")
    } else if ip.is_broadcast() {
        Some("the broadcast address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254)
        || ip == Ipv6Addr::new(0xfd20, 0x00ce, 0, 0, 0, 0, 0, 0x0254)
    {
        Some("a cloud metadata service address (AWS or GCP, IPv6)")
    } else if ip.segments()[0] & 0xffc0 == 0xfe80 {
        Some("a link-local address (fe80::/10)")
    } else if ip.is_unspecified() {
        Some("the unspecified address (::)")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        None
    }
}

/// Whether `host` is the name of a cloud metadata service.
pub fn forbidden_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    METADATA_NAMES.contains(&host.as_str())
}

/// Why a URL may not be requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    /// Not an absolute URL with a host.
    #[error("{url:?} is not a URL with a host: {reason}")]
    Invalid {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL's host is, or resolves to, an address the policy refuses.
    #[error(
        "{url} points at {address}, {kind}; Roster sends no requests there (pass {ALLOW_FLAG} \
         if this is really meant)"
    )]
    Forbidden {
        /// The URL.
        url: String,
        /// The refused host or address.
        address: String,
        /// What kind of address it is.
        kind: &'static str,
    },
}

/// The host of a URL as a client sees it: an address when it is one (however it is spelt:
/// `http://2852039166/` is 169.254.169.254), else a name.
fn host_of(url: &str) -> Result<url::Host<String>, OutboundError> {
    let invalid = |reason: String| OutboundError::Invalid {
        url: url.to_owned(),
        reason,
    };
    let parsed = url::Url::parse(url).map_err(|e| invalid(e.to_string()))?;
    parsed
        .host()
        .map(|h| h.to_owned())
        .ok_or_else(|| invalid("it names no host".into()))
}

/// Checks what can be checked without a lookup: the URL's host is not a forbidden literal
/// address nor a metadata service's name. Returns the host name when it must still be
/// resolved.
pub fn check_literal(url: &str) -> Result<Option<String>, OutboundError> {
    let forbidden = |address: String, kind| OutboundError::Forbidden {
        url: url.to_owned(),
        address,
        kind,
    };
    match host_of(url)? {
        url::Host::Ipv4(v4) => match forbidden_address(IpAddr::V4(v4)) {
            Some(kind) => Err(forbidden(v4.to_string(), kind)),
            None => Ok(None),
        },
        url::Host::Ipv6(v6) => match forbidden_address(IpAddr::V6(v6)) {
            Some(kind) => Err(forbidden(v6.to_string(), kind)),
            None => Ok(None),
        },
        url::Host::Domain(name) if forbidden_name(&name) => {
            Err(forbidden(name, "the name of a cloud metadata service"))
        }
        url::Host::Domain(name) => Ok(Some(name)),
    }
}

/// Checks a URL an operator is adding: its literal host, or every address its host name
/// resolves to now. A name that does not resolve passes (nothing is known against it yet);
/// the resolver of the HTTP clients checks again at every request.
pub async fn check_url(url: &str) -> Result<(), OutboundError> {
    let Some(name) = check_literal(url)? else {
        return Ok(());
    };
    let Ok(addresses) = tokio::net::lookup_host((name.as_str(), 0)).await else {
        return Ok(());
    };
    for address in addresses {
        if let Some(kind) = forbidden_address(address.ip()) {
            return Err(OutboundError::Forbidden {
                url: url.to_owned(),
                address: format!("{} ({name})", address.ip()),
                kind,
            });
        }
    }
    Ok(())
}

/// A URL Roster sends people or requests to for sign-in (a redirect URI, an issuer, a metadata
/// URL): https, or http on this machine only; `what` names it in the refusal.
pub fn secure_url(text: &str, what: &str) -> Result<url::Url, crate::DirectoryError> {
    let parsed = url::Url::parse(text.trim()).map_err(|e| {
        crate::DirectoryError::Setting(format!("the {what} {text:?} is not a URL: {e}"))
    })?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
        return Err(crate::DirectoryError::Setting(format!(
            "the {what} must be an https URL (http only on localhost), not {text:?}"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_local_metadata_and_unroutable_addresses_are_refused() {
        let refused = [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "fd20:ce::254",
            "192.0.0.192",
            "168.63.129.16",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::",
            "ff02::1",
        ];
        for ip in refused {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert!(forbidden_address(parsed).is_some(), "{ip} must be refused");
        }
        let allowed = [
            "127.0.0.1",
            "10.0.0.5",
            "172.16.0.1",
            "192.168.1.10",
            "100.64.0.1",
            "8.8.8.8",
            "::1",
            "fd00::1",
            "fd00:ec2::253",
            "fc00::5",
            "2001:db8::1",
            "::ffff:10.0.0.5",
        ];
        for ip in allowed {
            let parsed: IpAddr = ip.parse().expect(ip);
            assert_eq!(forbidden_address(parsed), None, "{ip} must be allowed");
        }
    }

    #[test]
    fn urls_are_checked_by_the_address_a_client_would_reach() {
        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://2852039166/",
            "http://0xa9.0xfe.0xa9.0xfe/",
            "http://[fe80::1]:8080/hook",
            "http://[::ffff:169.254.169.254]/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.google.internal./",
            "http://instance-data/latest/",
            "https://user:pw@169.254.169.254/",
        ] {
            let e = check_literal(url).expect_err(url);
            assert!(
                e.to_string().contains(ALLOW_FLAG),
                "the error names the flag: {e}"
            );
        }
        assert_eq!(check_literal("http://10.0.0.5/hook"), Ok(None));
        assert_eq!(check_literal("http://[::1]:9/"), Ok(None));
        assert_eq!(
            check_literal("https://hooks.example.com/x"),
            Ok(Some("hooks.example.com".into()))
        );
        assert!(matches!(
            check_literal("not a url"),
            Err(OutboundError::Invalid { .. })
        ));
    }

    #[tokio::test]
    async fn names_are_resolved_and_loopback_stays_allowed() {
        assert_eq!(check_url("http://localhost:8080/hook").await, Ok(()));
        assert!(check_url("http://169.254.169.254/").await.is_err());
    }
}
