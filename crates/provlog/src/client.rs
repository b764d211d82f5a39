//! Which identity provider sent a request, from its `User-Agent`.
//!
//! What each sends (case is ignored, and a version may follow):
//!
//! - Okta: `Okta SCIM Client 1.0.0`, in every request of Okta's SCIM guides
//!   (developer.okta.com "SCIM 2.0 protocol reference"; recorded in
//!   `crates/roster/tests/corpus/okta-*.json`).
//! - Microsoft Entra ID: Microsoft does not document it. Service providers that tell Entra
//!   apart by it match `Microsoft Azure AD SCIM provisioning` (GitHub's SCIM code, where
//!   Entra's provisioning is also the name of the OAuth app), and Roster's own tests send
//!   `Azure AD SCIM Client`; any agent naming Azure AD, Azure Active Directory or Entra
//!   counts.
//! - OneLogin: its SCIM Provisioner lets the administrator set headers, and service providers'
//!   setup guides have them send `User-Agent: OneLogin SCIM` (Docker's OneLogin guide); any
//!   agent naming OneLogin counts.

/// An identity provider, as the log names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Client {
    /// Microsoft Entra ID (formerly Azure AD).
    Entra,
    /// Okta.
    Okta,
    /// OneLogin.
    OneLogin,
    /// Anything else, or no `User-Agent`.
    Other,
}

impl Client {
    /// The client whose agent this is.
    pub(crate) fn from_user_agent(agent: &str) -> Client {
        let a = agent.to_ascii_lowercase();
        if a.contains("okta") {
            Client::Okta
        } else if a.contains("onelogin") {
            Client::OneLogin
        } else if a.contains("azure ad")
            || a.contains("azuread")
            || a.contains("azure active directory")
            || a.contains("microsoft entra")
            || a.contains("entra id")
            || a.starts_with("entra")
        {
            Client::Entra
        } else {
            Client::Other
        }
    }

    /// Its stored name (`entra`, `okta`, `onelogin`, `other`).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Client::Entra => "entra",
            Client::Okta => "okta",
            Client::OneLogin => "onelogin",
            Client::Other => "other",
        }
    }

    /// Its name as an administrator knows it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Client::Entra => "Microsoft Entra ID",
            Client::Okta => "Okta",
            Client::OneLogin => "OneLogin",
            Client::Other => "the identity provider",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agents_name_their_provider() {
        for (agent, client) in [
            ("Okta SCIM Client 1.0.0", Client::Okta),
            ("okta scim client 1.2.3", Client::Okta),
            ("Azure AD SCIM Client", Client::Entra),
            ("Microsoft Azure AD SCIM provisioning 1.0.0", Client::Entra),
            ("Azure Active Directory SCIM Client", Client::Entra),
            ("Microsoft Entra ID provisioning", Client::Entra),
            ("OneLogin SCIM", Client::OneLogin),
            ("OneLogin-SCIM-Provisioner/2.0", Client::OneLogin),
            ("", Client::Other),
            ("curl/8.5.0", Client::Other),
            ("Apache-HttpClient/4.5.13 (Java/17)", Client::Other),
            // Another product that merely runs in Azure is not Entra's provisioning.
            ("azure-data-factory/2.0", Client::Other),
            ("PostmanRuntime/7.36.0", Client::Other),
        ] {
            assert_eq!(Client::from_user_agent(agent), client, "{agent}");
        }
    }

    #[test]
    fn names_are_the_stored_ones() {
        assert_eq!(Client::Entra.as_str(), "entra");
        assert_eq!(Client::Okta.as_str(), "okta");
        assert_eq!(Client::OneLogin.as_str(), "onelogin");
        assert_eq!(Client::Other.as_str(), "other");
    }
}
