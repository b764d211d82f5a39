//! Refusals of the credential (401) and of the organisation's settings (403), and of the
//! token endpoint. A 401 answer says the same generic words for every bad token, so that a
//! caller learns nothing; the edge's [`Refusal`] says which it was.

use crate::Refusal;
use crate::client::Client;
use crate::view::View;

use super::{Explained, before, between, generic, how_to_stop, when, where_token, where_url};

/// A 401 on the SCIM endpoint.
pub(super) fn unauthorized(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let paste = |what: &str| format!("{what} {}.", where_token(v.client));
    let at = v.seen.at;
    match &v.seen.refusal {
        Some(Refusal::NoCredential) => Explained::new(
            "no token",
            "The request carried no bearer token: Roster needs the organisation's Secret Token \
             in an 'Authorization: Bearer …' header on every request.",
            paste("Paste the Secret Token from the Provisioning & SSO page"),
        ),
        Some(Refusal::UnknownToken) => Explained::new(
            "unknown token",
            format!(
                "{idp} sent a bearer token that Roster has no record of: it was mistyped or cut \
                 when it was pasted, or it belongs to an organisation that no longer exists. (A \
                 token that expired, was revoked or was replaced is recognised and named as \
                 such.)"
            ),
            paste(
                "Copy the current token from the Provisioning & SSO page (Show, or Generate \
                 token when none is shown), whole and without spaces, and paste it",
            ),
        ),
        Some(Refusal::ExpiredToken(t)) => Explained::new(
            "token expired",
            format!(
                "The Secret Token {idp} sent expired on {} ({} before this request); every \
                 request with it is refused.",
                when(*t),
                before(*t, at)
            ),
            paste(
                "Generate a new token on the Provisioning & SSO page (with a longer lifetime, or \
                 none) and paste it",
            ),
        ),
        Some(Refusal::RevokedToken(t)) => Explained::new(
            "token revoked",
            format!(
                "The token {idp} sent was revoked on {} ({} before this request), or replaced \
                 when a new token was generated without keeping the old one; {idp} still sends \
                 the old one.",
                when(*t),
                before(*t, at)
            ),
            paste("Paste the current token from the Provisioning & SSO page"),
        ),
        Some(Refusal::OtherTenant) => Explained::new(
            "another organisation's token",
            format!(
                "The token is a valid token of another organisation in Roster, sent to this \
                 organisation's Provisioning URL: the URL and the token configured in {idp} \
                 come from two different organisations."
            ),
            format!(
                "Copy both the Provisioning URL and a token from this organisation's \
                 Provisioning & SSO page and paste them together: the URL into {}, the token {}.",
                where_url(v.client),
                where_token(v.client)
            ),
        ),
        Some(Refusal::ExpiredAccessToken(t)) => Explained::new(
            "access token expired",
            format!(
                "The OAuth access token {idp} sent expired on {} ({} before this request); {idp} \
                 should have asked Roster's token endpoint for a new one first.",
                when(*t),
                before(*t, at)
            ),
            format!(
                "Check the OAuth settings in {idp} (the token endpoint, the client id and its \
                 secret) so that it can renew its token; a refused renewal shows in this log as \
                 a token request. The operator can make access tokens last longer (the \
                 organisation's access-token-minutes, up to 360)."
            ),
        ),
        Some(Refusal::Federated(reason)) => federated(v, reason),
        None if v.detail().starts_with("Authentication failed") => Explained::new(
            "no token",
            "The request carried no usable bearer token.",
            paste("Paste the Secret Token from the Provisioning & SSO page"),
        ),
        None => Explained::new(
            "token refused",
            format!("The bearer token was refused: {}", v.detail()),
            paste("Paste the current token from the Provisioning & SSO page"),
        ),
    }
}

/// A signed token from an issuer (workload identity federation), refused for `reason`.
fn federated(v: &View<'_>, reason: &str) -> Explained {
    let idp = v.client.name();
    if reason.contains("trusts no token issuer") {
        let explanation = match v.client {
            Client::Entra => {
                "Entra sent a token of its own (a JWT signed by Microsoft) instead of Roster's \
                 Secret Token: Entra does so when the Secret Token field is left empty. This \
                 organisation trusts no token issuer, so Roster refuses it."
                    .to_owned()
            }
            _ => format!(
                "{idp} sent a signed token (a JWT) instead of Roster's Secret Token, and this \
                 organisation trusts no token issuer."
            ),
        };
        return Explained::new(
            "token from an issuer this organisation does not trust",
            explanation,
            format!(
                "Paste Roster's Secret Token {}; or, to go without a secret, ask the operator to \
                 trust the issuer (roster tenant trust, with --entra and the directory id for \
                 Entra).",
                where_token(v.client)
            ),
        );
    }
    let why = reason
        .trim_start_matches("Federated token refused: ")
        .trim_end_matches('.');
    let hint = if why.contains("expired") || why.contains("not valid yet") {
        "The issuer must send a fresh token with each cycle; if it does, compare the clocks of \
         the issuer and of Roster's host."
    } else if why.contains("audience") {
        "The token's aud claim must be the audience configured for this organisation in Roster \
         (roster tenant show lists it; for Entra, api://<app id> without /.default)."
    } else if why.contains("issuer") {
        "The token's iss claim must be the trusted issuer (for Entra, \
         https://login.microsoftonline.com/<directory id>/v2.0 or \
         https://sts.windows.net/<directory id>/): check the directory id configured in Roster."
    } else if why.contains("already used") {
        "A token traded for an access token at the token endpoint cannot also be sent to the \
         SCIM URL: send the access token it was traded for."
    } else if why.contains("keys could not be fetched") {
        "Roster could not read the issuer's signing keys; the identity provider retries. If it \
         repeats, tell the operator (the issuer's JWKS address may be unreachable from Roster)."
    } else {
        "Compare the token's claims with the trust configured for this organisation in Roster \
         (roster tenant show); the operator can change it with roster tenant trust."
    };
    Explained::new(
        "federated token refused",
        format!("{idp} sent a signed token from a trusted issuer, and it was refused: {why}."),
        hint,
    )
}

/// A 403: the organisation's settings refuse the request.
pub(super) fn forbidden(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let detail = v.detail();
    if detail.starts_with("Provisioning is turned off") {
        return Explained::new(
            "provisioning is turned off",
            format!(
                "Provisioning is turned off for this organisation in Roster, so Roster refuses \
                 every SCIM request {idp} sends, whatever the token."
            ),
            format!(
                "Turn provisioning on again on this page (Settings, \"Provisioning is on\"), or ask the \
                 operator to (roster tenant set TENANT provisioning on); if it was turned off on \
                 purpose, stop provisioning too ({}) so that {idp} stops retrying.",
                how_to_stop(v.client)
            ),
        );
    }
    if let Some(plan) = between(detail, "not part of this organisation's plan (", ")") {
        return Explained::new(
            "plan without provisioning",
            format!(
                "Provisioning is not part of this organisation's plan ({plan}), so Roster \
                 refuses every SCIM request {idp} sends."
            ),
            format!(
                "The organisation's owner can move to a plan that includes provisioning; until \
                 then, stop provisioning ({}).",
                how_to_stop(v.client)
            ),
        );
    }
    if detail.starts_with("Groups are turned off") {
        let hint = match v.client {
            Client::Entra => {
                "In Entra: Provisioning → Mappings → Provision Microsoft Entra ID Groups → \
                 Enabled: No, then Save. Or ask the operator to turn groups on (roster tenant \
                 set TENANT groups on)."
            }
            Client::Okta => {
                "In Okta: stop pushing groups to this app (Push Groups: unlink the pushed \
                 groups), and leave Push Groups out of the integration's provisioning actions. \
                 Or ask the operator to turn groups on (roster tenant set TENANT groups on)."
            }
            _ => {
                "Stop provisioning groups to this app in the identity provider (users only), or \
                 ask the operator to turn groups on (roster tenant set TENANT groups on)."
            }
        };
        return Explained::new(
            "groups are turned off",
            format!(
                "{idp} sent a request about groups ({} {}), but groups are turned off for this \
                 organisation in Roster: it provisions users only.",
                v.seen.method, v.seen.path
            ),
            hint,
        );
    }
    if detail.starts_with("Filtering is not supported on discovery") {
        return Explained::new(
            "filter on a discovery endpoint",
            format!(
                "{idp} sent a filter to {}, which lists everything and takes no filter (RFC \
                 7644 §4).",
                v.seen.path
            ),
            "Read the discovery endpoint without a filter; its answer is small.",
        );
    }
    generic(v)
}

/// An error of the token endpoint (RFC 6749 §5.2: `error`, `error_description`).
pub(super) fn token_endpoint(v: &View<'_>) -> Explained {
    let idp = v.client.name();
    let client = v.client_id().unwrap_or_else(|| "(no client id)".to_owned());
    let error = v.answer("error").unwrap_or("");
    let description = v.answer("error_description").unwrap_or("");
    let new_client = "A lost secret cannot be shown again: ask the operator for a new client \
                      (roster tenant client create TENANT), switch to it, then revoke the old \
                      one.";
    if v.seen.status >= 500 {
        return Explained::new(
            "Roster could not issue a token",
            format!("Roster could not issue an access token to client {client}: {description}"),
            format!(
                "{idp} asks again by itself. If it keeps failing, tell the operator the request \
                 id {}.",
                v.seen.request_id
            ),
        );
    }
    if v.seen.status == 429 {
        return Explained::new(
            "too many failed attempts",
            format!(
                "Client {client} (or its address) failed to authenticate too often in the last \
                 minute; Roster refuses further wrong attempts until the minute is over, and \
                 accepts the right credentials meanwhile."
            ),
            format!("Fix the client secret in {idp} first. {new_client}"),
        );
    }
    match error {
        "invalid_client" if description.contains("trusts no token issuer") => Explained::new(
            "client assertion, but no trusted issuer",
            format!(
                "Client {client} authenticated with a signed assertion (workload identity \
                 federation), but this organisation trusts no token issuer."
            ),
            "Ask the operator to trust the issuer (roster tenant trust TENANT --entra \
             <directory id>, or --issuer URL), or authenticate with the client secret.",
        ),
        "invalid_client" if description.contains("client assertion was refused") => {
            let why = description
                .trim_start_matches("The client assertion was refused: ")
                .trim_end_matches('.');
            Explained::new(
                "client assertion refused",
                format!("Client {client}'s signed assertion was refused: {why}."),
                "Compare the assertion's claims (iss, aud, sub) with the trust configured for \
                 this organisation in Roster (roster tenant show).",
            )
        }
        "invalid_client" => Explained::new(
            "wrong client secret",
            format!(
                "Client {client} sent a client secret Roster does not know for it, so no access \
                 token was issued; {idp} cannot reach the SCIM endpoint until it has one."
            ),
            format!(
                "Paste the client secret Roster showed when the client was created (in Entra: \
                 Admin Credentials → Client Secret). {new_client}"
            ),
        ),
        "invalid_grant" if description.contains("already used") => Explained::new(
            "client assertion used twice",
            format!(
                "Client {client} sent a signed assertion that was already used: Roster accepts \
                 each assertion (its jti) once, to refuse a replayed one."
            ),
            "The issuer must sign a new assertion for every token request; a proxy that \
             retries requests can also send one twice.",
        ),
        _ => Explained::new(
            if error.is_empty() {
                "token request refused"
            } else {
                error
            },
            format!("The token request of client {client} was refused: {description}"),
            "Send grant_type=client_credentials with the client id and secret (HTTP Basic, or \
             client_id and client_secret fields), and scope scim or none.",
        ),
    }
}
