//! Refused answers counted per address: the SAML ACS and the OpenID Connect callbacks do the
//! costly work (XML signature verification, a token exchange) for anyone who posts to them, so
//! an address whose answers were refused [`MAX_REFUSED`] times in [`WINDOW`] is answered 429
//! until the window ends, before any of that work. Answers that succeed are not counted, so an
//! office behind one address is held back only by its own failures.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use time::Duration;

use crate::{SignIn, pages};

/// Refused answers allowed per address and window.
pub const MAX_REFUSED: u32 = 30;
/// The window.
pub const WINDOW: Duration = Duration::minutes(5);
/// The most addresses remembered.
pub const MAX_ADDRESSES: usize = 10_000;

/// The key an address is counted under: IPv4 as it is, IPv6 by its /64, which one host
/// usually holds whole.
fn key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("address:{}/64", std::net::Ipv6Addr::from(prefix))
        }
        v4 => format!("address:{v4}"),
    }
}

/// The layer on the answer routes.
pub async fn answers(State(signin): State<SignIn>, request: Request, next: Next) -> Response {
    let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() else {
        return next.run(request).await;
    };
    let keys = [key(peer.ip())];
    let now = signin.directory().now();
    let blocked = signin.refusals().blocked_for(&keys, now);
    if let Some(wait) = blocked {
        let mut response = pages::refused(
            StatusCode::TOO_MANY_REQUESTS,
            "too many sign-in answers from your network were refused in the last minutes",
            "Wait a few minutes and sign in again. If it keeps happening, your IT administrator \
             finds why the answers were refused in the provisioning log.",
            "",
        );
        let seconds = wait.whole_seconds().max(1).to_string();
        if let Ok(value) = HeaderValue::from_str(&seconds) {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        return response;
    }
    let response = next.run(request).await;
    if response.status().is_client_error() {
        signin.refusals().failed(&keys, now);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_by_host() {
        assert_eq!(key("10.0.0.1".parse().unwrap()), "address:10.0.0.1");
        assert_eq!(
            key("::ffff:10.0.0.1".parse().unwrap()),
            "address:10.0.0.1",
            "IPv4-mapped"
        );
        assert_eq!(
            key("2001:db8:1:2:3:4:5:6".parse().unwrap()),
            key("2001:db8:1:2:ffff::1".parse().unwrap()),
            "one /64"
        );
        assert_ne!(
            key("2001:db8:1:2::1".parse().unwrap()),
            key("2001:db8:1:3::1".parse().unwrap())
        );
    }
}
