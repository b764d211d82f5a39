//! A connection's key and self-signed certificate, as identity providers expect a service
//! provider's: RSA 2048, SHA-256, valid ten years from its making.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::hash::MessageDigest;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::x509::{X509Builder, X509NameBuilder};
use time::OffsetDateTime;

/// A key pair as stored: the certificate (DER, public) and the private key (PKCS#8 DER, to be
/// sealed).
#[derive(Debug, Clone)]
pub struct KeyPair {
    /// The self-signed certificate.
    pub certificate_der: Vec<u8>,
    /// The private key.
    pub private_key_der: Vec<u8>,
}

/// Why a key could not be made (OpenSSL's own failure).
#[derive(Debug, thiserror::Error)]
#[error("making a key: {0}")]
pub struct KeyError(#[from] openssl::error::ErrorStack);

/// Makes a key and a certificate for `subject` (its common name), valid from `now` for ten
/// years. `serial` (random, from the caller's `Secrets`) distinguishes certificates of the
/// same name. The key is drawn from OpenSSL's generator.
pub fn generate(subject: &str, serial: u64, now: OffsetDateTime) -> Result<KeyPair, KeyError> {
    let key = PKey::from_rsa(Rsa::generate(2048)?)?;
    let mut name = X509NameBuilder::new()?;
    let cn: String = subject.chars().take(64).collect();
    name.append_entry_by_text("CN", &cn)?;
    let name = name.build();
    let mut cert = X509Builder::new()?;
    cert.set_version(2)?;
    let serial = BigNum::from_slice(&serial.to_be_bytes())?;
    let serial = Asn1Integer::from_bn(&serial)?;
    cert.set_serial_number(&serial)?;
    cert.set_subject_name(&name)?;
    cert.set_issuer_name(&name)?;
    cert.set_pubkey(&key)?;
    let start = now.unix_timestamp();
    let (from, until) = (
        Asn1Time::from_unix(start)?,
        Asn1Time::from_unix(start + 10 * 365 * 86_400)?,
    );
    cert.set_not_before(&from)?;
    cert.set_not_after(&until)?;
    cert.sign(&key, MessageDigest::sha256())?;
    Ok(KeyPair {
        certificate_der: cert.build().to_der()?,
        private_key_der: key.private_key_to_pkcs8()?,
    })
}

/// An RSA 2048 key for signing ID tokens (PKCS#8 DER, to be sealed), drawn from OpenSSL's
/// generator.
pub fn token_key() -> Result<Vec<u8>, KeyError> {
    Ok(PKey::from_rsa(Rsa::generate(2048)?)?.private_key_to_pkcs8()?)
}

/// The key (PKCS#8 DER) as PKCS#1 DER, as JWT libraries load an RSA key.
pub fn to_pkcs1_der(private_key_der: &[u8]) -> Result<Vec<u8>, KeyError> {
    Ok(PKey::private_key_from_der(private_key_der)?
        .rsa()?
        .private_key_to_der()?)
}

/// The public half of an RSA key as a JWK (RFC 7517) with its `kid`, for the JWKS.
pub fn public_jwk(private_key_der: &[u8], kid: &str) -> Result<serde_json::Value, KeyError> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let rsa = PKey::private_key_from_der(private_key_der)?.rsa()?;
    Ok(serde_json::json!({
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": URL_SAFE_NO_PAD.encode(rsa.n().to_vec()),
        "e": URL_SAFE_NO_PAD.encode(rsa.e().to_vec()),
    }))
}

impl KeyPair {
    /// The certificate as PEM.
    pub fn certificate_pem(&self) -> Result<String, KeyError> {
        let pem = openssl::x509::X509::from_der(&self.certificate_der)?.to_pem()?;
        Ok(String::from_utf8_lossy(&pem).into_owned())
    }

    /// The private key as PKCS#8 PEM.
    pub fn private_key_pem(&self) -> Result<String, KeyError> {
        let pem = PKey::private_key_from_der(&self.private_key_der)?.private_key_to_pem_pkcs8()?;
        Ok(String::from_utf8_lossy(&pem).into_owned())
    }
}
