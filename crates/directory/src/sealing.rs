//! The server key, and secrets sealed with it.
//!
//! What Roster must show again or use later (a tenant's token, revealed on its page; next, SSO
//! client secrets and signing keys) is stored sealed: XChaCha20-Poly1305 under one server key
//! that is kept apart from the database (`ROSTER_SECRET_KEY`, or a key file beside a SQLite
//! database). A dump of the database alone reveals nothing.
//!
//! A sealed value is `[1][key id: 8 bytes][nonce: 24 bytes][ciphertext and tag]`. The key id
//! says which key sealed it, so that a value sealed under another key is reported as such
//! (and `roster key rotate` knows what to re-seal); the nonce is random (192 bits, so random
//! nonces never repeat in practice); the *context* (what the value is and whose, e.g.
//! `token:tok_…`) is authenticated with it, so a sealed value copied into another row does
//! not open there.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::Secrets;

const VERSION: u8 = 1;
const KEY_ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 1 + KEY_ID_LEN + NONCE_LEN;

/// The server key.
#[derive(Clone)]
pub struct ServerKey {
    cipher: XChaCha20Poly1305,
    bytes: [u8; 32],
    id: [u8; KEY_ID_LEN],
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key itself.
        write!(f, "ServerKey({})", self.id())
    }
}

/// Why a server key's text cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a server key is 32 bytes in standard base64 (44 characters, as `roster key generate` \
     prints it): {0}"
)]
pub struct BadKey(String);

/// Why a sealed value cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// Sealed under another server key (one before a rotation, or another installation's).
    #[error("sealed with server key {sealed_with}, not with the current key {current}")]
    OtherKey {
        /// The id of the key that sealed it.
        sealed_with: String,
        /// The id of the key this process has.
        current: String,
    },
    /// Not a sealed value, altered, or sealed for another context.
    #[error("the sealed value is damaged or belongs elsewhere")]
    Damaged,
}

impl ServerKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> ServerKey {
        let digest = Sha256::new()
            .chain_update(b"roster server key id\0")
            .chain_update(bytes)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        ServerKey {
            cipher: XChaCha20Poly1305::new(&bytes.into()),
            bytes,
            id,
        }
    }

    /// A new random key.
    pub fn generate(secrets: &dyn Secrets) -> ServerKey {
        ServerKey::from_bytes(secrets.key())
    }

    /// A key from its text (standard base64 of 32 bytes; surrounding white space ignored).
    pub fn parse(text: &str) -> Result<ServerKey, BadKey> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|e| BadKey(e.to_string()))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| BadKey(format!("this one is {} bytes", b.len())))?;
        Ok(ServerKey::from_bytes(bytes))
    }

    /// The key as text, for a key file or `ROSTER_SECRET_KEY`.
    pub fn to_text(&self) -> String {
        STANDARD.encode(self.bytes)
    }

    /// The key's id (not secret): 16 hex digits, shown in messages and stored with each
    /// sealed value.
    pub fn id(&self) -> String {
        hex(&self.id)
    }

    /// A keyed digest of `input` for `context` (HMAC-SHA256 under a key derived from this
    /// one): a value only this key's holder computes, such as a domain's verification code.
    pub fn mac(&self, context: &str, input: &[u8]) -> [u8; 32] {
        use hmac::Mac as _;
        let derived = Sha256::new()
            .chain_update(b"roster mac key\0")
            .chain_update(context.as_bytes())
            .chain_update([0])
            .chain_update(self.bytes)
            .finalize();
        let mut mac = <hmac::Hmac<Sha256> as hmac::Mac>::new_from_slice(&derived)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(input);
        mac.finalize().into_bytes().into()
    }

    /// Seals `secret` for `context` (what it is and whose).
    pub fn seal(&self, secrets: &dyn Secrets, context: &str, secret: &[u8]) -> Vec<u8> {
        let nonce = secrets.nonce();
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: context.as_bytes(),
                },
            )
            // Encryption fails only for messages past 256 GiB.
            .unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        if sealed.len() < HEADER_LEN || sealed[0] != VERSION {
            return Err(SealError::Damaged);
        }
        let (key_id, rest) = sealed[1..].split_at(KEY_ID_LEN);
        if key_id != self.id {
            return Err(SealError::OtherKey {
                sealed_with: hex(key_id),
                current: self.id(),
            });
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Damaged)
    }

    /// The id of the key that sealed a value, if it is a sealed value.
    pub fn sealed_with(sealed: &[u8]) -> Option<String> {
        (sealed.len() >= HEADER_LEN && sealed[0] == VERSION).then(|| hex(&sealed[1..9]))
    }
}

/// The keys a process holds: the current one seals; it and the previous ones (during a
/// rotation) open.
#[derive(Debug, Clone)]
pub struct Keyring {
    current: ServerKey,
    previous: Vec<ServerKey>,
}

impl Keyring {
    /// A ring of one key.
    pub fn new(current: ServerKey) -> Keyring {
        Keyring {
            current,
            previous: Vec::new(),
        }
    }

    /// Keys as `ROSTER_SECRET_KEY` gives them: the current key, then any previous ones,
    /// separated by commas.
    pub fn parse(text: &str) -> Result<Keyring, BadKey> {
        let mut keys = text
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(ServerKey::parse);
        let current = keys
            .next()
            .ok_or_else(|| BadKey("no key is given".into()))??;
        Ok(Keyring {
            current,
            previous: keys.collect::<Result<_, _>>()?,
        })
    }

    /// The ring as `ROSTER_SECRET_KEY` gives it.
    pub fn to_text(&self) -> String {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(ServerKey::to_text)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The key that seals.
    pub fn current(&self) -> &ServerKey {
        &self.current
    }

    /// The ids of every key of the ring, the current one first.
    pub fn ids(&self) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(ServerKey::id)
            .collect()
    }

    /// Seals with the current key.
    pub fn seal(&self, secrets: &dyn Secrets, context: &str, secret: &[u8]) -> Vec<u8> {
        self.current.seal(secrets, context, secret)
    }

    /// Opens a value sealed with any key of the ring.
    pub fn open(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let by = ServerKey::sealed_with(sealed).ok_or(SealError::Damaged)?;
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == by)
            .unwrap_or(&self.current)
            .open(context, sealed)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SystemSecrets;

    #[test]
    fn a_ring_opens_what_its_previous_keys_sealed_and_seals_with_the_current_one() {
        let secrets = SystemSecrets;
        let old = ServerKey::generate(&secrets);
        let new = ServerKey::generate(&secrets);
        let sealed_before = old.seal(&secrets, "token:t", b"rst_1");
        let ring = Keyring::parse(&format!("{}, {}", new.to_text(), old.to_text())).unwrap();
        assert_eq!(ring.ids(), [new.id(), old.id()]);
        assert_eq!(ring.open("token:t", &sealed_before).unwrap(), b"rst_1");
        let sealed_now = ring.seal(&secrets, "token:t", b"rst_2");
        assert_eq!(ServerKey::sealed_with(&sealed_now), Some(new.id()));
        let alone = Keyring::new(new.clone());
        assert!(matches!(
            alone.open("token:t", &sealed_before),
            Err(SealError::OtherKey { .. })
        ));
        assert!(Keyring::parse("").is_err());
        assert!(Keyring::parse("not-a-key").is_err());
    }

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_context() {
        let key = ServerKey::generate(&SystemSecrets);
        let sealed = key.seal(&SystemSecrets, "token:tok_1", b"rst_secret");
        assert!(!sealed.windows(10).any(|w| w == b"rst_secret"));
        assert_eq!(key.open("token:tok_1", &sealed).unwrap(), b"rst_secret");
        assert_eq!(key.open("token:tok_2", &sealed), Err(SealError::Damaged));
        let other = ServerKey::generate(&SystemSecrets);
        assert!(matches!(
            other.open("token:tok_1", &sealed),
            Err(SealError::OtherKey { sealed_with, .. }) if sealed_with == key.id()
        ));
        let mut altered = sealed.clone();
        *altered.last_mut().unwrap() ^= 1;
        assert_eq!(key.open("token:tok_1", &altered), Err(SealError::Damaged));
        assert_eq!(key.open("token:tok_1", b"short"), Err(SealError::Damaged));
        assert_eq!(ServerKey::sealed_with(&sealed), Some(key.id()));
    }

    #[test]
    fn two_seals_of_one_secret_differ() {
        let key = ServerKey::generate(&SystemSecrets);
        assert_ne!(
            key.seal(&SystemSecrets, "c", b"s"),
            key.seal(&SystemSecrets, "c", b"s")
        );
    }

    #[test]
    fn a_key_round_trips_through_its_text_and_bad_text_says_what_a_key_is() {
        let key = ServerKey::generate(&SystemSecrets);
        let again = ServerKey::parse(&format!(" {}\n", key.to_text())).unwrap();
        assert_eq!(again.id(), key.id());
        assert_eq!(key.to_text().len(), 44);
        let e = ServerKey::parse("c2hvcnQ=").unwrap_err();
        assert!(e.to_string().contains("32 bytes"), "{e}");
        assert!(e.to_string().contains("this one is 5 bytes"), "{e}");
        assert!(ServerKey::parse("not base64!").is_err());
        assert!(!format!("{key:?}").contains(&key.to_text()));
    }
}
