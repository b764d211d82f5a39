//! Why a SAML response was refused, in words: what was wrong, and what the administrator
//! changes in their identity provider (named as that provider names it).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The identity provider on the other side, for the names its settings have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// Microsoft Entra ID.
    Entra,
    /// Okta.
    Okta,
    /// OneLogin.
    OneLogin,
    /// Google Workspace.
    Google,
    /// Anything else.
    Generic,
}

impl Vendor {
    /// What the provider calls the service provider's entity id.
    fn entity_id_field(self) -> &'static str {
        match self {
            Vendor::Entra => {
                "*Identifier (Entity ID)* in the application's *Basic SAML Configuration*"
            }
            Vendor::Okta => "*Audience URI (SP Entity ID)* in the application's SAML settings",
            Vendor::OneLogin => "*Audience (EntityID)* on the application's *Configuration* tab",
            Vendor::Google => "*Entity ID* in the custom SAML app's *Service provider details*",
            Vendor::Generic => "the service provider's entity id (audience) in its SAML settings",
        }
    }

    /// What the provider calls the ACS URL.
    fn acs_field(self) -> &'static str {
        match self {
            Vendor::Entra => {
                "*Reply URL (Assertion Consumer Service URL)* in *Basic SAML Configuration*"
            }
            Vendor::Okta => "*Single sign on URL* in the application's SAML settings",
            Vendor::OneLogin => "*ACS (Consumer) URL* on the application's *Configuration* tab",
            Vendor::Google => "*ACS URL* in the custom SAML app's *Service provider details*",
            Vendor::Generic => "the Assertion Consumer Service (ACS) URL in its SAML settings",
        }
    }

    /// Where the provider's signing certificate is managed.
    fn certificate_place(self) -> &'static str {
        match self {
            Vendor::Entra => {
                "Entra's *SAML Certificates* section (download *Federation Metadata XML*)"
            }
            Vendor::Okta => "Okta's *Sign On* tab (*Identity Provider metadata*)",
            Vendor::OneLogin => "OneLogin's *SSO* tab (*Issuer URL* serves the metadata)",
            Vendor::Google => "Google's *Download metadata* on the SAML app",
            Vendor::Generic => "the identity provider's SAML metadata",
        }
    }
}

/// Why a SAML response was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The form field is not base64, or not a SAML response at all.
    #[error("the SAMLResponse is not a SAML response: {0}")]
    Malformed(String),
    /// Larger than any real response.
    #[error("the SAMLResponse is {0} bytes, more than the {max} accepted", max = super::MAX_RESPONSE_BYTES)]
    TooLarge(usize),
    /// The identity provider answered with an error status.
    #[error("the identity provider answered {code}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        /// The status code (its last part, `Requester`, `AuthnFailed`, ...).
        code: String,
        /// Its message, when it gave one.
        message: Option<String>,
    },
    /// No signature on the response or on the assertion.
    #[error("neither the response nor its assertion is signed")]
    Unsigned,
    /// Signed with an algorithm too weak to trust (SHA-1).
    #[error(
        "the response is signed with {0}, which is too weak; RSA-SHA256 or stronger is required"
    )]
    WeakAlgorithm(String),
    /// A signature that does not verify with the connection's certificates, or a document
    /// whose signed part is not where it is read from (signature wrapping).
    #[error(
        "the signature does not verify with the identity provider's certificates in this connection"
    )]
    BadSignature,
    /// Issued by another identity provider than the connection's.
    #[error("the assertion was issued by `{got}`, but this connection trusts `{want}`")]
    Issuer {
        /// The issuer in the assertion.
        got: String,
        /// The connection's identity provider.
        want: String,
    },
    /// Meant for another service provider.
    #[error("the assertion's Audience is {got}, but this connection's entity id is `{want}`")]
    Audience {
        /// The audiences it named (or "missing").
        got: String,
        /// The connection's entity id.
        want: String,
    },
    /// Posted to, or meant for, another address.
    #[error("the response was meant for `{got}`, but this connection's ACS URL is `{want}`")]
    Recipient {
        /// The Destination or Recipient it named.
        got: String,
        /// The connection's ACS URL.
        want: String,
    },
    /// No bearer subject confirmation with its data.
    #[error("the assertion has no bearer SubjectConfirmation with its Recipient and NotOnOrAfter")]
    NoConfirmation,
    /// Not valid yet.
    #[error("the assertion is not valid before {}", stamp(*.0))]
    NotYetValid(OffsetDateTime),
    /// Expired.
    #[error("the assertion expired at {}", stamp(*.0))]
    Expired(OffsetDateTime),
    /// An answer to a request this browser did not start (or started too long ago).
    #[error(
        "the response answers sign-in request `{got}`, which this browser did not start here (or started more than 10 minutes ago)"
    )]
    UnknownRequest {
        /// The `InResponseTo` it carried.
        got: String,
    },
    /// A sign-in the identity provider started, where the connection allows none.
    #[error(
        "the identity provider started this sign-in itself (no InResponseTo), and this connection accepts only sign-ins started here"
    )]
    Unsolicited,
    /// This assertion was already used.
    #[error("the assertion `{0}` was already used to sign in once")]
    Replayed(String),
    /// No subject to match a user on.
    #[error("the assertion names no user: {0}")]
    NoSubject(String),
    /// Roster could not do its part (a key that does not load).
    #[error("the sign-in could not be checked: {0}")]
    Internal(String),
}

fn stamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.to_string())
}

impl Refusal {
    /// A short name for logs, events and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::TooLarge(_) => "too_large",
            Refusal::Status { .. } => "idp_error",
            Refusal::Unsigned => "unsigned",
            Refusal::WeakAlgorithm(_) => "weak_algorithm",
            Refusal::BadSignature => "bad_signature",
            Refusal::Issuer { .. } => "wrong_issuer",
            Refusal::Audience { .. } => "wrong_audience",
            Refusal::Recipient { .. } => "wrong_recipient",
            Refusal::NoConfirmation => "no_confirmation",
            Refusal::NotYetValid(_) => "not_yet_valid",
            Refusal::Expired(_) => "expired",
            Refusal::UnknownRequest { .. } => "unknown_request",
            Refusal::Unsolicited => "unsolicited",
            Refusal::Replayed(_) => "replayed",
            Refusal::NoSubject(_) => "no_subject",
            Refusal::Internal(_) => "internal",
        }
    }

    /// What the administrator does about it.
    pub fn hint(&self, vendor: Vendor) -> String {
        match self {
            Refusal::Malformed(_) | Refusal::TooLarge(_) => {
                "Start the sign-in again from the sign-on URL. If it happens again, the identity provider is not posting a SAML response to this address: check that this connection's ACS URL is where it sends users.".to_owned()
            }
            Refusal::Status { .. } => {
                "The identity provider refused the sign-in before Roster saw a user: its own sign-in log says why (often the user is not assigned to the application).".to_owned()
            }
            Refusal::Unsigned => format!(
                "Set the identity provider to sign the response or the assertion (in Entra: *Signing Option* under *SAML Certificates*); the certificate must be the one in {}.",
                vendor.certificate_place()
            ),
            Refusal::WeakAlgorithm(_) => {
                "Change the signing algorithm to SHA-256 (in Entra: *SAML Certificates* → *Signing Algorithm* → SHA-256; in Okta and OneLogin: *SAML Signature Algorithm* / *SHA algorithm* SHA-256).".to_owned()
            }
            Refusal::BadSignature => format!(
                "The identity provider signed with a certificate this connection does not have, or the response was changed on its way. If its certificate was renewed, paste its current metadata again from {}.",
                vendor.certificate_place()
            ),
            Refusal::Issuer { .. } => {
                "This connection was set up with another identity provider's metadata: paste the metadata of the application the users sign in through.".to_owned()
            }
            Refusal::Audience { want, .. } => format!(
                "Set {} to `{want}`, exactly as shown on the Provisioning & SSO page.",
                vendor.entity_id_field()
            ),
            Refusal::Recipient { want, .. } => format!(
                "Set {} to `{want}`, exactly as shown on the Provisioning & SSO page.",
                vendor.acs_field()
            ),
            Refusal::NoConfirmation => {
                "The identity provider sent an assertion without bearer confirmation data, which no browser sign-in can use: check that the application is a SAML 2.0 web application.".to_owned()
            }
            Refusal::NotYetValid(_) | Refusal::Expired(_) => {
                "Sign in again. If it keeps happening, the identity provider's clock or Roster's is wrong by more than two minutes.".to_owned()
            }
            Refusal::UnknownRequest { .. } => {
                "Start again from the sign-on URL in the same browser, within 10 minutes; a response from another browser or an old tab is refused.".to_owned()
            }
            Refusal::Unsolicited => {
                "Start the sign-in from the application's sign-on URL, or allow sign-ins started by the identity provider (its dashboard tile) in this connection's settings.".to_owned()
            }
            Refusal::Replayed(_) => {
                "Each assertion signs in once. Start a new sign-in; if you did not send this one twice, someone may have copied it.".to_owned()
            }
            Refusal::NoSubject(_) => {
                "Set the identity provider to send the attribute this connection matches users on (its NameID, or the claim named in the connection).".to_owned()
            }
            Refusal::Internal(_) => {
                "This is Roster's side: tell the operator, who will find the same message in the server's log.".to_owned()
            }
        }
    }
}
