//! Why an OpenID Connect sign-in was refused, in words: what the identity provider answered,
//! and what the administrator changes (named as each provider names it).

use crate::saml::Vendor;

/// A refused OpenID Connect sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The identity provider answered with an error instead of a code.
    #[error("the identity provider answered {error}{}", description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    IdpError {
        /// Its `error`.
        error: String,
        /// Its `error_description`.
        description: Option<String>,
    },
    /// The `state` is not the one this browser was sent with.
    #[error("the answer's state is not the one this browser started a sign-in with")]
    WrongState,
    /// The `iss` of the answer (RFC 9207) is another identity provider's.
    #[error("the answer comes from `{got}`, but this connection trusts `{want}`")]
    WrongIssuer {
        /// The issuer it named.
        got: String,
        /// The connection's issuer.
        want: String,
    },
    /// The issuer's configuration or keys could not be read.
    #[error("the identity provider's configuration could not be read: {0}")]
    Discovery(String),
    /// The token endpoint refused the code.
    #[error("the identity provider refused to exchange the code: {0}")]
    Exchange(String),
    /// The token answer has no ID token.
    #[error("the identity provider sent no ID token (is `openid` among the scopes?)")]
    NoIdToken,
    /// The ID token was issued by another issuer.
    #[error("the ID token was issued by `{0}`, not by this connection's issuer")]
    IdTokenIssuer(String),
    /// The ID token's nonce is not this sign-in's.
    #[error("the ID token's nonce is not the one this sign-in sent: it answers another sign-in")]
    IdTokenNonce,
    /// The e-mail the user is matched on is one the identity provider says it did not verify.
    #[error(
        "the identity provider says it has not verified the e-mail {0}, which this connection matches users on"
    )]
    EmailNotVerified(String),
    /// The Microsoft Entra directory of the sign-in is bound to no tenant.
    #[error("the Microsoft Entra directory {0} is not bound to any organisation here")]
    UnknownDirectory(String),
    /// Any other reason the ID token is not accepted (signature, audience, expiry).
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
}

impl Refusal {
    /// A short name for events and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::IdpError { .. } => "idp_error",
            Refusal::WrongState => "wrong_state",
            Refusal::WrongIssuer { .. } => "wrong_issuer",
            Refusal::Discovery(_) => "discovery_failed",
            Refusal::Exchange(_) => "exchange_failed",
            Refusal::NoIdToken => "no_id_token",
            Refusal::IdTokenIssuer(_) => "wrong_issuer",
            Refusal::IdTokenNonce => "wrong_nonce",
            Refusal::IdToken(_) => "invalid_id_token",
            Refusal::UnknownDirectory(_) => "unknown_directory",
            Refusal::EmailNotVerified(_) => "email_not_verified",
        }
    }

    /// What the administrator does about it.
    pub fn hint(&self, vendor: Vendor) -> String {
        let app = match vendor {
            Vendor::Entra => {
                "the app registration in Entra (*Certificates & secrets*, *Authentication*)"
            }
            Vendor::Okta => "the Okta application's *General* tab",
            Vendor::OneLogin => "the OneLogin application's *SSO* tab",
            Vendor::Google => "the OAuth client in Google Cloud's *Credentials*",
            Vendor::Generic => "the identity provider's client settings",
        };
        match self {
            Refusal::IdpError { .. } => {
                "The identity provider refused the sign-in before Roster saw a user: its own sign-in log says why (often the user is not assigned to the application).".to_owned()
            }
            Refusal::WrongState | Refusal::IdTokenNonce => {
                "Start again from the sign-on URL in the same browser, within 10 minutes; an answer from another browser or an old tab is refused.".to_owned()
            }
            Refusal::WrongIssuer { .. } | Refusal::IdTokenIssuer(_) => {
                "This connection was set up with another identity provider's issuer: set the issuer of the application the users sign in through.".to_owned()
            }
            Refusal::Discovery(_) => {
                "Check the connection's issuer URL: its /.well-known/openid-configuration must answer, from where Roster runs.".to_owned()
            }
            Refusal::Exchange(_) => format!(
                "Check the client id and secret in this connection against {app}: a secret that expired or was rotated there must be entered here again, and Roster's redirect URI must be registered."
            ),
            Refusal::NoIdToken => format!("Allow the `openid` scope for the client in {app}."),
            Refusal::EmailNotVerified(_) => {
                "The user verifies their e-mail address at the identity provider; or the connection matches users on a claim the identity provider controls (its subject or object id).".to_owned()
            }
            Refusal::UnknownDirectory(_) => {
                "Sign in through your organisation's own sign-on URL, or ask the application's provider to bind your organisation's Microsoft Entra directory to it.".to_owned()
            }
            Refusal::IdToken(_) => format!(
                "Check that the client id in this connection is the one in {app}, and that Roster's clock and the identity provider's agree."
            ),
        }
    }
}
