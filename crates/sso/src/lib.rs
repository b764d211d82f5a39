//! Single sign-on's rules, with no network and no database: what a tenant's SAML connection
//! accepts, what Roster publishes for the identity provider to trust, and every refusal in
//! words an administrator acts on (`Refusal::explanation`, `Refusal::hint`).
//!
//! Time is always passed in (`now`), from the directory's clock, and randomness too (request
//! ids come from the caller's `Secrets`): the checks are deterministic and tested with data.
//! The one exception is key generation ([`keys::generate`]), which draws from OpenSSL's
//! generator, as every RSA key in the field is made.

pub mod keys;
pub mod oidc;
pub mod saml;
pub mod sign_in;
pub mod testing;
pub mod urls;

pub use saml::{Asserted, IdpMetadata, Refusal, ServiceProvider};
