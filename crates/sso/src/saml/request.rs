//! The sign-in request sent to the identity provider (HTTP-Redirect binding, RFC-style
//! deflated and signed with the connection's key).

use samael::metadata::HTTP_POST_BINDING;
use samael::schema::{AuthnRequest, Issuer, NameIdPolicy};
use time::OffsetDateTime;

use super::{IdpMetadata, Refusal, ServiceProvider, to_chrono};

/// A sign-in request, ready to send the browser to.
#[derive(Debug, Clone)]
pub struct SignInRequest {
    /// Its id: the `InResponseTo` its answer must carry.
    pub id: String,
    /// Where to send the browser.
    pub url: String,
}

/// Builds the request `id` (random, from the caller) for `sp` at `idp`, carrying `relay_state`
/// back; `force` asks the identity provider to authenticate the user again (`ForceAuthn`),
/// as the application's `prompt=login` or `max_age` does. It is signed (`SigAlg` RSA-SHA256) unless the identity provider's sign-on URL has a
/// query of its own, which the binding's signature could not cover the same way at both ends.
pub fn request(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    id: &str,
    now: OffsetDateTime,
    relay_state: &str,
    force: bool,
) -> Result<SignInRequest, Refusal> {
    let request = AuthnRequest {
        id: id.to_owned(),
        version: "2.0".to_owned(),
        issue_instant: to_chrono(now),
        destination: Some(idp.sign_on_url.clone()),
        issuer: Some(Issuer {
            value: Some(sp.entity_id.clone()),
            ..Issuer::default()
        }),
        name_id_policy: Some(NameIdPolicy {
            allow_create: Some(true),
            ..NameIdPolicy::default()
        }),
        assertion_consumer_service_url: Some(sp.acs_url.clone()),
        protocol_binding: Some(HTTP_POST_BINDING.to_owned()),
        force_authn: force.then_some(true),
        ..AuthnRequest::default()
    };
    let plain = url::Url::parse(&idp.sign_on_url)
        .map(|u| u.query().is_none())
        .unwrap_or(false);
    let url = if plain {
        request
            .signed_redirect(relay_state, &sp.private_key()?)
            .map_err(|e| Refusal::Internal(format!("signing the request: {e}")))?
    } else {
        request
            .redirect(relay_state)
            .map_err(|e| Refusal::Internal(format!("writing the request: {e}")))?
    }
    .ok_or_else(|| Refusal::Internal("the request has no destination".to_owned()))?;
    Ok(SignInRequest {
        id: id.to_owned(),
        url: url.to_string(),
    })
}
