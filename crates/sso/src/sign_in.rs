//! Why a sign-in was refused after (or before) its protocol checks, in words: the user it
//! names, and whether that user may sign in.

use crate::saml::{Refusal, Vendor};

/// A refused sign-in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The identity provider's SAML answer did not pass the protocol's checks.
    #[error(transparent)]
    Saml(#[from] Refusal),
    /// The OpenID Connect answer did not pass the protocol's checks.
    #[error(transparent)]
    Oidc(#[from] crate::oidc::Refusal),
    /// The tenant's plan does not include single sign-on.
    #[error("single sign-on is not part of this organisation's plan")]
    NotInPlan,
    /// No connection by that name, or no default one.
    #[error("this organisation has no sign-in connection {0}")]
    NoConnection(String),
    /// The answer does not carry the claim the connection matches users on.
    #[error("the sign-in carries no {claim}, which this connection matches users on")]
    NoKey {
        /// The claim.
        claim: String,
    },
    /// No provisioned user has that key.
    #[error("no user provisioned to this organisation has {attribute} {value:?}")]
    UnknownUser {
        /// The provisioned attribute compared.
        attribute: String,
        /// The value the sign-in carried.
        value: String,
    },
    /// The user was deactivated or deleted through provisioning.
    #[error("the user {user} is deactivated in this organisation")]
    Deactivated {
        /// The user's name.
        user: String,
    },
}

impl Failure {
    /// A short name for events and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Failure::Saml(r) => r.code(),
            Failure::Oidc(r) => r.code(),
            Failure::NotInPlan => "not_in_plan",
            Failure::NoConnection(_) => "no_connection",
            Failure::NoKey { .. } => "no_user_key",
            Failure::UnknownUser { .. } => "unknown_user",
            Failure::Deactivated { .. } => "deactivated",
        }
    }

    /// What the person or their administrator does about it.
    pub fn hint(&self, vendor: Vendor) -> String {
        match self {
            Failure::Saml(r) => r.hint(vendor),
            Failure::Oidc(r) => r.hint(vendor),
            Failure::NotInPlan => {
                "Ask the application's provider to include single sign-on in your organisation's plan.".to_owned()
            }
            Failure::NoConnection(_) => {
                "Your IT administrator sets up the sign-in connection on the Provisioning & SSO page; the sign-on URL is shown there.".to_owned()
            }
            Failure::NoKey { claim } => format!(
                "In the identity provider, add the claim `{claim}` to this application's SAML attributes, or change which claim the connection matches users on."
            ),
            Failure::UnknownUser { attribute, .. } => format!(
                "Users sign in only after the identity provider has provisioned them. Assign the user to the application (and wait for its next provisioning cycle, or provision on demand), and check that the provisioned {attribute} is the value the sign-in sends."
            ),
            Failure::Deactivated { .. } => {
                "Your IT administrator deactivated this account in the identity provider; ask them to assign you to the application again if you need it.".to_owned()
            }
        }
    }
}
