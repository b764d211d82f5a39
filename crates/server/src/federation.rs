//! Federated tokens (workload identity federation): a tenant trusts an external issuer, and a
//! JWT that issuer signed opens the tenant's SCIM endpoint when its signature, issuer,
//! audience, times and configured claims check out. The issuer's signing keys are found
//! through its OpenID configuration, cached for an hour, and fetched again when a token names
//! a key the cache does not hold (at most every ten seconds per issuer, so that tokens with
//! made-up key ids cannot make Roster hammer the issuer).
//!
//! Fetches follow no redirects (keys served from wherever a redirect points are not the
//! issuer's) and follow the outbound address policy (`crate::outbound`) unless the operator
//! trusted the issuer with `--allow-link-local`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use roster_directory::Federation;
use serde_json::{Map, Value};

/// How long fetched signing keys are trusted.
const KEYS_TTL: Duration = Duration::from_secs(3600);
/// The least time between two fetches of one issuer's keys.
const REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How much clock skew between the issuer and Roster is tolerated, in seconds.
pub const LEEWAY_SECONDS: u64 = 60;
/// The longest lifetime of a federated token Roster accepts, in seconds: `exp` at most this
/// long after `iat`, and after now. Identity providers issue tokens for an hour or so; a token
/// valid for years is a stolen key's dream.
pub const MAX_LIFETIME_SECONDS: i64 = 24 * 3600;

/// Why a federated token was refused; each says what an administrator should check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FederationError {
    /// Not a JWT.
    #[error("the bearer token is not a JSON Web Token")]
    Malformed,
    /// `alg` is not RS256 or ES256 (`none` included).
    #[error("the token's signing algorithm {0} is not accepted (RS256 or ES256 only)")]
    Algorithm(String),
    /// No key of the issuer has the token's `kid`.
    #[error("the token was signed with a key the trusted issuer does not publish")]
    UnknownKey,
    /// The signature does not verify.
    #[error("the token's signature is invalid")]
    Signature,
    /// `iss` is not a trusted issuer.
    #[error("the token's issuer is not the issuer this organisation trusts")]
    Issuer,
    /// `aud` is not the configured audience.
    #[error("the token's audience is not the audience this organisation configured")]
    Audience,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
    /// `nbf` is still ahead.
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `exp` is more than [`MAX_LIFETIME_SECONDS`] after `iat` or after now.
    #[error(
        "the token's lifetime is longer than the 24 hours Roster accepts (exp is too far after iat or now)"
    )]
    Lifetime,
    /// A required claim is missing or has another value.
    #[error("the token's {0} claim does not match")]
    Claim(String),
    /// The issuer's keys could not be fetched.
    #[error("the trusted issuer's signing keys could not be fetched")]
    Keys(String),
}

struct KeySet {
    fetched: Instant,
    keys: JwkSet,
}

/// Verifies federated tokens, with a cache of issuers' signing keys.
pub struct Federator {
    /// Resolves through the outbound address policy.
    http: reqwest::Client,
    /// For issuers trusted with `--allow-link-local`.
    http_allowing: reqwest::Client,
    refetch_interval: Duration,
    keys: Mutex<HashMap<String, KeySet>>,
    jwks_uris: Mutex<HashMap<String, String>>,
}

impl Default for Federator {
    fn default() -> Self {
        Self::new()
    }
}

impl Federator {
    /// A verifier with an empty key cache.
    pub fn new() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = |allow_link_local| {
            crate::outbound::client_builder(allow_link_local)
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(concat!("Roster/", env!("CARGO_PKG_VERSION")))
                .build()
                .unwrap_or_default()
        };
        Federator {
            http: client(false),
            http_allowing: client(true),
            refetch_interval: REFETCH_INTERVAL,
            keys: Mutex::default(),
            jwks_uris: Mutex::default(),
        }
    }

    /// A verifier that fetches an issuer's keys again for an unknown key id no more often than
    /// `interval` (ten seconds by default).
    pub fn with_refetch_interval(mut self, interval: Duration) -> Self {
        self.refetch_interval = interval;
        self
    }

    /// Checks a token against a tenant's trusted issuer; returns its claims when it is good.
    pub async fn verify(
        &self,
        token: &str,
        trust: &Federation,
    ) -> Result<Map<String, Value>, FederationError> {
        let header = header_of(token)?;
        let alg = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => Algorithm::RS256,
            Some("ES256") => Algorithm::ES256,
            Some(other) => return Err(FederationError::Algorithm(other.to_owned())),
            None => return Err(FederationError::Algorithm("(none given)".into())),
        };
        let kid = header.get("kid").and_then(Value::as_str);
        let key = self.key_for(trust, kid, alg).await.inspect_err(|e| {
            if let FederationError::Keys(detail) = e {
                tracing::warn!(detail = %detail, "fetching a trusted issuer's keys failed");
            }
        })?;
        let mut validation = Validation::new(alg);
        validation.set_issuer(&trust.issuers);
        validation.set_audience(&[&trust.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        let data =
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidSignature => FederationError::Signature,
                    K::InvalidIssuer => FederationError::Issuer,
                    K::InvalidAudience => FederationError::Audience,
                    K::ExpiredSignature => FederationError::Expired,
                    K::ImmatureSignature => FederationError::NotYetValid,
                    K::MissingRequiredClaim(c) => FederationError::Claim(c.clone()),
                    K::InvalidAlgorithm => FederationError::Algorithm(format!("{alg:?}")),
                    _ => FederationError::Malformed,
                }
            })?;
        let claims = data.claims;
        check_lifetime(&claims, jsonwebtoken::get_current_timestamp() as i64)?;
        if let Some(subject) = &trust.subject
            && claims.get("sub").and_then(Value::as_str) != Some(subject.as_str())
        {
            return Err(FederationError::Claim("sub".into()));
        }
        for (name, expected) in &trust.claims {
            if claims.get(name).and_then(Value::as_str) != Some(expected.as_str()) {
                return Err(FederationError::Claim(name.clone()));
            }
        }
        Ok(claims)
    }

    /// The issuer's key for `kid`, from the cache or, failing that, fetched again.
    async fn key_for(
        &self,
        trust: &Federation,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, FederationError> {
        let jwks_uri = self.jwks_uri(trust).await?;
        match self.key(trust, &jwks_uri, kid, alg, false).await? {
            Some(k) => Ok(k),
            None => self
                .key(trust, &jwks_uri, kid, alg, true)
                .await?
                .ok_or(FederationError::UnknownKey),
        }
    }

    /// Where the trusted issuer publishes its keys: configured, or from its OpenID
    /// configuration (cached for as long as the process runs).
    async fn jwks_uri(&self, trust: &Federation) -> Result<String, FederationError> {
        if let Some(uri) = &trust.jwks_uri {
            return Ok(uri.clone());
        }
        let issuer = trust
            .issuers
            .first()
            .ok_or_else(|| FederationError::Keys("no issuer configured".into()))?;
        if let Some(uri) = lock(&self.jwks_uris).get(issuer) {
            return Ok(uri.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let config: Value = self.fetch(trust, &url).await?;
        let uri = config
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| FederationError::Keys(format!("{url} names no jwks_uri")))?
            .to_owned();
        if !roster_directory::settings::is_fetchable(&uri) {
            return Err(FederationError::Keys(format!(
                "{url} names a jwks_uri that is not https: {uri}"
            )));
        }
        lock(&self.jwks_uris).insert(issuer.clone(), uri.clone());
        Ok(uri)
    }

    /// The key `kid` (or the only key, when the token names none) from the cached key set;
    /// with `refresh`, the set is fetched again first unless it was fetched moments ago.
    async fn key(
        &self,
        trust: &Federation,
        jwks_uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
        refresh: bool,
    ) -> Result<Option<DecodingKey>, FederationError> {
        let cached = {
            let keys = lock(&self.keys);
            keys.get(jwks_uri).map(|k| {
                let fresh = k.fetched.elapsed() < KEYS_TTL;
                let recent = k.fetched.elapsed() < self.refetch_interval;
                (pick(&k.keys, kid, alg), fresh, recent)
            })
        };
        let must_fetch = match &cached {
            None => true,
            Some((_, fresh, recent)) => !fresh || (refresh && !recent),
        };
        if !must_fetch {
            return Ok(cached.and_then(|(k, _, _)| k));
        }
        let set: JwkSet = match self.fetch(trust, jwks_uri).await {
            Ok(set) => set,
            // Keys fetched earlier keep serving while the issuer is unreachable.
            Err(e) => {
                return match cached {
                    Some((k, _, _)) => {
                        tracing::warn!(error = %e, "refreshing an issuer's keys failed");
                        Ok(k)
                    }
                    None => Err(e),
                };
            }
        };
        let key = pick(&set, kid, alg);
        lock(&self.keys).insert(
            jwks_uri.to_owned(),
            KeySet {
                fetched: Instant::now(),
                keys: set,
            },
        );
        Ok(key)
    }

    /// A JSON document of the issuer's, fetched without following redirects and, unless the
    /// operator allowed it, never from a link-local or metadata address.
    async fn fetch<T: serde::de::DeserializeOwned>(
        &self,
        trust: &Federation,
        url: &str,
    ) -> Result<T, FederationError> {
        let fail = |e: &dyn std::fmt::Display| FederationError::Keys(format!("{url}: {e}"));
        let http = if trust.allow_link_local {
            &self.http_allowing
        } else {
            if let Some(refusal) = crate::outbound::refusal(url) {
                return Err(fail(&refusal));
            }
            &self.http
        };
        let response = http.get(url).send().await.map_err(|e| fail(&e))?;
        if response.status().is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_owned();
            return Err(fail(&format!(
                "answered {} (a redirect to {to}); Roster follows no redirects for an issuer's \
                 configuration or keys: configure the final URL",
                response.status()
            )));
        }
        if !response.status().is_success() {
            return Err(fail(&response.status()));
        }
        response.json::<T>().await.map_err(|e| fail(&e))
    }
}

/// Refuses a token whose `exp` lies more than [`MAX_LIFETIME_SECONDS`] (and the leeway) after
/// its `iat` or after `now` (seconds since the epoch): a token minted for years, or minted
/// "in the future" to last, is refused however good its signature.
fn check_lifetime(claims: &Map<String, Value>, now: i64) -> Result<(), FederationError> {
    let seconds = |name: &str| claims.get(name).and_then(Value::as_f64).map(|v| v as i64);
    let exp = seconds("exp").ok_or_else(|| FederationError::Claim("exp".into()))?;
    let longest = MAX_LIFETIME_SECONDS + LEEWAY_SECONDS as i64;
    let too_long = |from: i64| exp.saturating_sub(from) > longest;
    if too_long(now) || seconds("iat").is_some_and(too_long) {
        return Err(FederationError::Lifetime);
    }
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The decoding key for `kid`, or the only key of the set when the token names none.
fn pick(set: &JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    let family_matches = matches!(
        (&jwk.algorithm, alg),
        (
            jsonwebtoken::jwk::AlgorithmParameters::RSA(_),
            Algorithm::RS256
        ) | (
            jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_),
            Algorithm::ES256
        )
    );
    if !family_matches {
        return None;
    }
    DecodingKey::from_jwk(jwk).ok()
}

/// The JOSE header of a compact JWT, read without trusting anything in it.
fn header_of(token: &str) -> Result<Map<String, Value>, FederationError> {
    use base64::Engine;
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(FederationError::Malformed);
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .map_err(|_| FederationError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| FederationError::Malformed)
}

/// Whether a bearer token has the shape of a JWT (three base64url parts).
pub fn looks_like_jwt(token: &str) -> bool {
    token.starts_with("eyJ") && token.bytes().filter(|b| *b == b'.').count() == 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_past_a_day_are_refused() {
        let claims = |v: Value| v.as_object().expect("object").clone();
        let now = 1_800_000_000;
        let day = MAX_LIFETIME_SECONDS;
        let ok = [
            serde_json::json!({"iat": now, "exp": now + 3600}),
            serde_json::json!({"iat": now - day, "exp": now + 30}),
            serde_json::json!({"exp": now + day}),
            serde_json::json!({"iat": now, "exp": (now + day) as f64}),
        ];
        for c in ok {
            assert_eq!(check_lifetime(&claims(c.clone()), now), Ok(()), "{c}");
        }
        let refused = [
            serde_json::json!({"iat": now, "exp": now + 300 * 365 * day}),
            serde_json::json!({"iat": now - 3600, "exp": now + day}),
            serde_json::json!({"exp": now + 2 * day}),
            // Minted "in the future" to last: too far from now, whatever its iat says.
            serde_json::json!({"iat": now + 10 * day, "exp": now + 10 * day + 3600}),
            serde_json::json!({"iat": now}),
        ];
        for c in refused {
            assert!(check_lifetime(&claims(c.clone()), now).is_err(), "{c}");
        }
        assert!(FederationError::Lifetime.to_string().contains("24 hours"));
    }

    #[test]
    fn headers_are_read_without_trust() {
        use base64::Engine;
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let none = format!("{}.{}.", enc(r#"{"alg":"none"}"#), enc(r#"{"iss":"x"}"#));
        assert!(looks_like_jwt(&none));
        assert_eq!(
            header_of(&none).expect("header")["alg"],
            Value::String("none".into())
        );
        assert_eq!(header_of("a.b"), Err(FederationError::Malformed));
        assert_eq!(header_of("!!.b.c"), Err(FederationError::Malformed));
        assert!(!looks_like_jwt("rst_abc"));
    }
}
