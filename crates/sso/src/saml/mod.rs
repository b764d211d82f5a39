//! SAML 2.0 as a service provider: the identity provider's metadata read once
//! ([`IdpMetadata::parse`]), the sign-in request sent to it ([`request`]), its answer checked
//! ([`check_response`]), and the metadata Roster publishes ([`ServiceProvider::metadata_xml`]).
//!
//! Signatures are verified by `samael` over libxmlsec1, which then hands back only the part of
//! the document the signature covered: everything Roster reads of an assertion comes from that
//! reduced document, so a signed assertion wrapped beside a forged one (XML signature wrapping)
//! yields the signed one or nothing. samael's own time checks use the wall clock; they are
//! widened out of the way and Roster checks every time against the `now` it is given.

pub mod metadata;
mod refusal;
mod request;
mod response;

pub use metadata::{IdpMetadata, MetadataError};
pub use refusal::{Refusal, Vendor};
pub use request::{SignInRequest, request};
pub use response::{Asserted, Expected, check_response, verify_response};

/// The clock skew allowed between Roster and the identity provider, either way.
pub const SKEW: time::Duration = time::Duration::minutes(2);

/// The largest `SAMLResponse` accepted, base64 as posted (a response with a large group claim
/// is tens of kilobytes; Entra cuts its group claim at 150 groups).
pub const MAX_RESPONSE_BYTES: usize = 512 * 1024;

/// Roster as the service provider of one connection.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    /// The entity id the identity provider must name as the assertion's audience.
    pub entity_id: String,
    /// Where the identity provider posts its answer (the assertion's `Recipient`).
    pub acs_url: String,
    /// The connection's certificate (DER), published in the metadata: identity providers that
    /// encrypt assertions encrypt to it, and Roster signs its requests with its key.
    pub certificate_der: Vec<u8>,
    /// The certificate's private key (PKCS#8 DER), kept sealed by the caller.
    pub private_key_der: Vec<u8>,
}

impl ServiceProvider {
    /// The metadata an administrator gives the identity provider (or pastes from).
    pub fn metadata_xml(&self) -> String {
        metadata::sp_metadata(self)
    }

    fn private_key(&self) -> Result<openssl::pkey::PKey<openssl::pkey::Private>, Refusal> {
        openssl::pkey::PKey::private_key_from_der(&self.private_key_der)
            .map_err(|e| Refusal::Internal(format!("the connection's key does not load: {e}")))
    }
}

/// A `chrono` time of samael's, as a `time` one (to the second, as SAML writes them).
pub(crate) fn from_chrono(at: chrono::DateTime<chrono::Utc>) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.timestamp())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A `time` time as samael's `chrono` one.
pub(crate) fn to_chrono(at: time::OffsetDateTime) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(at.unix_timestamp(), 0).unwrap_or_default()
}
