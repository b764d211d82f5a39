//! Randomness: bearer tokens, tenant ids and resource ids. The only place Roster draws random
//! numbers, behind a trait so that tests can make them predictable.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// Every token starts with this, so that secret scanners recognise a leaked one.
pub const TOKEN_PREFIX: &str = "rst_";

/// Every access token the token endpoint issues starts with this (`rat_`: Roster access
/// token).
pub const ACCESS_TOKEN_PREFIX: &str = "rat_";

/// Every OAuth client secret starts with this (`rcs_`: Roster client secret).
pub const CLIENT_SECRET_PREFIX: &str = "rcs_";

/// The prefix of the host application's API keys (`rsk_`: Roster secret key).
pub const API_KEY_PREFIX: &str = "rsk_";

/// The source of secrets and identifiers.
pub trait Secrets: Send + Sync {
    /// A new bearer token: the prefix and 256 random bits.
    fn token(&self) -> String;
    /// A new access token for an OAuth client: the prefix and 256 random bits.
    fn access_token(&self) -> String;
    /// A new OAuth client id (not secret): `rci_` and 128 random bits in hex.
    fn client_id(&self) -> String;
    /// A new OAuth client secret: the prefix and 256 random bits.
    fn client_secret(&self) -> String;
    /// A new API key for the host application: the prefix and 256 random bits.
    fn api_key(&self) -> String;
    /// A new webhook signing secret: `whsec_` and 256 random bits in standard base64, as the
    /// Standard Webhooks specification writes them.
    fn webhook_secret(&self) -> String;
    /// A new tenant id: 128 random bits, not derived from the tenant's name.
    fn tenant_id(&self) -> String;
    /// A new resource id (a random UUID).
    fn resource_id(&self) -> String;
    /// A new salt for a password hash.
    fn salt(&self) -> [u8; 16];
    /// A random number for what must differ between processes and attempts but protects
    /// nothing: a retry's jitter, a worker's lease name.
    fn random_u64(&self) -> u64;
    /// 256 random bits: a new server key, a session id, a setup link's secret.
    fn key(&self) -> [u8; 32];
    /// A new 192-bit nonce for sealing a secret (see [`crate::sealing`]).
    fn nonce(&self) -> [u8; 24];
}

/// Secrets from the operating system's cryptographic generator (through `rand`'s thread-local
/// CSPRNG, seeded from the OS).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemSecrets;

// The one use of the thread's generator; everything else asks a `Secrets` (`clippy.toml`
// refuses `rand::rng` elsewhere).
#[allow(clippy::disallowed_methods)]
fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Formats 16 bytes as a version-4 UUID.
pub fn uuid_v4(mut b: [u8; 16]) -> String {
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

impl Secrets for SystemSecrets {
    fn token(&self) -> String {
        format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()))
    }

    fn access_token(&self) -> String {
        format!(
            "{ACCESS_TOKEN_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random::<32>())
        )
    }

    fn client_id(&self) -> String {
        let hex: String = random::<16>().iter().map(|x| format!("{x:02x}")).collect();
        format!("rci_{hex}")
    }

    fn client_secret(&self) -> String {
        format!(
            "{CLIENT_SECRET_PREFIX}{}",
            URL_SAFE_NO_PAD.encode(random::<32>())
        )
    }

    fn api_key(&self) -> String {
        format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()))
    }

    fn webhook_secret(&self) -> String {
        format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(random::<32>())
        )
    }

    fn tenant_id(&self) -> String {
        random::<16>().iter().map(|x| format!("{x:02x}")).collect()
    }

    fn resource_id(&self) -> String {
        uuid_v4(random::<16>())
    }

    fn salt(&self) -> [u8; 16] {
        random::<16>()
    }

    fn random_u64(&self) -> u64 {
        u64::from_le_bytes(random::<8>())
    }

    fn key(&self) -> [u8; 32] {
        random::<32>()
    }

    fn nonce(&self) -> [u8; 24] {
        random::<24>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_long_and_distinct() {
        let s = SystemSecrets;
        let a = s.token();
        let b = s.token();
        assert!(a.starts_with("rst_"));
        assert_eq!(a.len(), 4 + 43);
        assert_ne!(a, b);
        assert_eq!(s.tenant_id().len(), 32);
        let id = s.resource_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
