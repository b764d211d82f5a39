//! The identity provider's answer, checked: signature (by samael, which returns only the
//! signed part), then every condition against the connection and the given time.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration as ChronoDuration;
use samael::crypto::AllowedSignatureAlgorithm;
use samael::schema::{Assertion, Response};
use samael::service_provider::{Error as SamlError, ServiceProviderBuilder};
use time::OffsetDateTime;

use super::{IdpMetadata, MAX_RESPONSE_BYTES, Refusal, SKEW, ServiceProvider, from_chrono};

const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// What the answer must match besides the connection.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// The id of the request this browser started, if it started one (from its sealed cookie).
    pub request_id: Option<&'a str>,
    /// Whether a sign-in the identity provider started (no `InResponseTo`) is accepted.
    pub idp_initiated: bool,
    /// Now, by the directory's clock.
    pub now: OffsetDateTime,
}

/// A user the identity provider vouched for, read from the signed part only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asserted {
    /// The assertion's id: used once (the caller keeps it until `expires_at`).
    pub assertion_id: String,
    /// The identity provider.
    pub issuer: String,
    /// The `NameID`, and its format.
    pub name_id: Option<String>,
    /// The NameID's format.
    pub name_id_format: Option<String>,
    /// Every attribute by its `Name`, with its `FriendlyName`, in document order.
    pub attributes: Vec<(String, Option<String>, Vec<String>)>,
    /// The request it answered; `None` for a sign-in the identity provider started.
    pub in_response_to: Option<String>,
    /// Until when the assertion could be presented (the latest of its limits, plus the skew).
    pub expires_at: OffsetDateTime,
    /// The identity provider's session, for logging out later.
    pub session_index: Option<String>,
    /// How the person authenticated (the `AuthnContextClassRef`).
    pub authn_context: Option<String>,
    /// When the person authenticated at the identity provider (`AuthnInstant`).
    pub authn_instant: Option<OffsetDateTime>,
}

impl Asserted {
    /// The values of an attribute, by its `Name` or its `FriendlyName` (case-insensitive, as
    /// administrators type claim names).
    pub fn attribute(&self, name: &str) -> Option<&[String]> {
        self.attributes
            .iter()
            .find(|(n, friendly, _)| {
                n.eq_ignore_ascii_case(name)
                    || friendly
                        .as_deref()
                        .is_some_and(|f| f.eq_ignore_ascii_case(name))
            })
            .map(|(_, _, values)| values.as_slice())
    }

    /// The first value of an attribute.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attribute(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

/// Checks a posted `SAMLResponse` (base64) for `sp` from `idp` entirely: [`verify_response`],
/// then [`Asserted::answers`]. (A caller that keeps used assertions refuses a replay between
/// the two, so that a response posted twice is called a replay, not an answer to nothing.)
pub fn check_response(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    posted: &str,
    expected: Expected<'_>,
) -> Result<Asserted, Refusal> {
    let asserted = verify_response(sp, idp, posted, expected.now)?;
    asserted.answers(expected)?;
    Ok(asserted)
}

impl Asserted {
    /// Whether it answers the request this browser started (`expected.request_id`), or is a
    /// sign-in the identity provider started where the connection accepts those.
    pub fn answers(&self, expected: Expected<'_>) -> Result<(), Refusal> {
        match (&self.in_response_to, expected.request_id) {
            (Some(got), Some(want)) if got == want => Ok(()),
            (Some(got), _) => Err(Refusal::UnknownRequest { got: got.clone() }),
            (None, _) if expected.idp_initiated => Ok(()),
            (None, _) => Err(Refusal::Unsolicited),
        }
    }
}

/// Checks a posted `SAMLResponse`'s signature and every condition but which request it
/// answers, at `now`.
pub fn verify_response(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    posted: &str,
    now: OffsetDateTime,
) -> Result<Asserted, Refusal> {
    if posted.len() > MAX_RESPONSE_BYTES {
        return Err(Refusal::TooLarge(posted.len()));
    }
    let compact: String = posted
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| Refusal::Malformed("it is not base64".to_owned()))?;
    let xml = String::from_utf8(bytes)
        .map_err(|_| Refusal::Malformed("it is not UTF-8 text".to_owned()))?;

    // The document as it arrived, signed or not: read only to refuse (an error status, a
    // Destination elsewhere) and to say why a signature failed, never to accept.
    let outer = Response::from_str(&xml).map_err(|e| {
        Refusal::Malformed(format!(
            "it does not read as one SAML Response ({})",
            cut(e.to_string().lines().next().unwrap_or_default())
        ))
    })?;
    if let Some(status) = &outer.status
        && let Some(code) = &status.status_code.value
        && code != SUCCESS
    {
        // Read before any signature is checked: cut, since anyone can post it.
        return Err(Refusal::Status {
            code: cut(code.rsplit(':').next().unwrap_or(code)),
            message: status
                .status_message
                .as_ref()
                .and_then(|m| m.value.as_deref())
                .map(cut),
        });
    }
    if let Some(destination) = &outer.destination
        && destination != &sp.acs_url
    {
        return Err(Refusal::Recipient {
            got: cut(destination),
            want: sp.acs_url.clone(),
        });
    }

    let assertion = verified_assertion(sp, idp, &xml, &outer)?;
    conditions(sp, idp, &assertion, now)
}

/// samael: every signature verifies with the connection's certificates, only the signed part
/// is parsed, and what does not depend on time is checked. Its time checks are pushed out of
/// the way (a century), since they read the wall clock; [`conditions`] checks times.
fn verified_assertion(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    xml: &str,
    outer: &Response,
) -> Result<Assertion, Refusal> {
    let century = ChronoDuration::days(36_500);
    let saml_sp = ServiceProviderBuilder::default()
        .entity_id(Some(sp.entity_id.clone()))
        .acs_url(Some(sp.acs_url.clone()))
        .key(Some(sp.private_key()?))
        .idp_metadata(idp.trusted_descriptor())
        .allow_idp_initiated(true)
        .max_issue_delay(century)
        .max_clock_skew(century)
        .allowed_signature_algorithms(Some(vec![
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha384,
            AllowedSignatureAlgorithm::RsaSha512,
            AllowedSignatureAlgorithm::EcdsaSha256,
            AllowedSignatureAlgorithm::EcdsaSha384,
            AllowedSignatureAlgorithm::EcdsaSha512,
        ]))
        .build()
        .map_err(|e| Refusal::Internal(format!("setting up the check: {e}")))?;
    saml_sp
        .parse_xml_response(xml, None)
        .map_err(|e| refusal(e, sp, idp, xml, outer))
}

/// samael's error in Roster's words. A signature failure is told apart by what the document
/// says of itself (no `Signature`, or a SHA-1 one); the decision was samael's.
fn refusal(
    error: SamlError,
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    xml: &str,
    outer: &Response,
) -> Refusal {
    match error {
        SamlError::FailedToValidateSignature => {
            if !xml.contains("SignatureValue") {
                Refusal::Unsigned
            } else if let Some(weak) = weak_algorithm(xml) {
                Refusal::WeakAlgorithm(weak.to_owned())
            } else {
                Refusal::BadSignature
            }
        }
        SamlError::DestinationValidationError {
            response_destination,
            ..
        } => Refusal::Recipient {
            got: response_destination.unwrap_or_else(|| "no Destination".to_owned()),
            want: sp.acs_url.clone(),
        },
        SamlError::AssertionRecipientMismatch {
            assertion_recipient,
            ..
        } => Refusal::Recipient {
            got: assertion_recipient.unwrap_or_else(|| "no Recipient".to_owned()),
            want: sp.acs_url.clone(),
        },
        SamlError::AssertionIssuerMismatch { issuer, .. }
        | SamlError::ResponseIssuerMismatch { issuer, .. } => Refusal::Issuer {
            got: issuer.unwrap_or_else(|| "nobody".to_owned()),
            want: idp.entity_id.clone(),
        },
        SamlError::AssertionConditionAudienceRestrictionFailed { .. } => Refusal::Audience {
            got: audiences(outer.assertion.as_ref()),
            want: sp.entity_id.clone(),
        },
        SamlError::AssertionBearerSubjectConfirmationMissing
        | SamlError::AssertionSubjectConfirmationMissing => Refusal::NoConfirmation,
        SamlError::ResponseBadStatusCode { code } => Refusal::Status {
            code: code.rsplit(':').next().unwrap_or(&code).to_owned(),
            message: None,
        },
        other => Refusal::Malformed(other.to_string()),
    }
}

/// A SHA-1 signature or digest method named in the document.
fn weak_algorithm(xml: &str) -> Option<&'static str> {
    [
        ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "RSA-SHA1"),
        ("http://www.w3.org/2000/09/xmldsig#dsa-sha1", "DSA-SHA1"),
        ("http://www.w3.org/2000/09/xmldsig#sha1", "SHA-1"),
    ]
    .into_iter()
    .find(|(uri, _)| xml.contains(uri))
    .map(|(_, name)| name)
}

/// Text from a document nobody vouched for, cut to what a message needs.
fn cut(text: &str) -> String {
    let mut out: String = text.chars().take(200).collect();
    if text.chars().count() > 200 {
        out.push('…');
    }
    out
}

fn audiences(assertion: Option<&Assertion>) -> String {
    let listed: Vec<String> = assertion
        .and_then(|a| a.conditions.as_ref())
        .and_then(|c| c.audience_restrictions.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|r| r.audience.iter().map(|a| format!("`{a}`")))
        .collect();
    if listed.is_empty() {
        "missing".to_owned()
    } else {
        listed.join(", ")
    }
}

/// What Roster checks itself on the signed assertion: audience present and ours, every time
/// limit against `now` with [`SKEW`].
fn conditions(
    sp: &ServiceProvider,
    idp: &IdpMetadata,
    assertion: &Assertion,
    now: OffsetDateTime,
) -> Result<Asserted, Refusal> {
    let issuer = assertion.issuer.value.clone().unwrap_or_default();
    if issuer != idp.entity_id {
        return Err(Refusal::Issuer {
            got: issuer,
            want: idp.entity_id.clone(),
        });
    }
    let conditions = assertion.conditions.as_ref();
    let ours = conditions
        .and_then(|c| c.audience_restrictions.as_ref())
        .is_some_and(|rs| {
            !rs.is_empty()
                && rs
                    .iter()
                    .all(|r| r.audience.iter().any(|a| a == &sp.entity_id))
        });
    if !ours {
        return Err(Refusal::Audience {
            got: audiences(Some(assertion)),
            want: sp.entity_id.clone(),
        });
    }
    let issued = from_chrono(assertion.issue_instant);
    if issued - SKEW > now {
        return Err(Refusal::NotYetValid(issued));
    }
    let mut limits = Vec::new();
    if let Some(c) = conditions {
        if let Some(before) = c.not_before.map(from_chrono)
            && before - SKEW > now
        {
            return Err(Refusal::NotYetValid(before));
        }
        limits.extend(c.not_on_or_after.map(from_chrono));
    }
    let confirmation = assertion
        .subject
        .as_ref()
        .and_then(|s| s.subject_confirmations.as_ref())
        .into_iter()
        .flatten()
        .filter(|c| c.method.as_deref() == Some(BEARER))
        .filter_map(|c| c.subject_confirmation_data.as_ref())
        .find(|d| d.recipient.as_deref() == Some(sp.acs_url.as_str()))
        .ok_or(Refusal::NoConfirmation)?;
    if let Some(before) = confirmation.not_before.map(from_chrono)
        && before - SKEW > now
    {
        return Err(Refusal::NotYetValid(before));
    }
    limits.push(
        confirmation
            .not_on_or_after
            .map(from_chrono)
            .ok_or(Refusal::NoConfirmation)?,
    );
    // Every limit holds: the earliest is the one that ends it.
    let ends = limits.iter().copied().min().unwrap_or(now);
    if ends + SKEW <= now {
        return Err(Refusal::Expired(ends));
    }
    let in_response_to = confirmation.in_response_to.clone();
    let subject = assertion.subject.as_ref();
    let name_id = subject.and_then(|s| s.name_id.as_ref());
    let attributes = assertion
        .attribute_statements
        .iter()
        .flatten()
        .flat_map(|s| s.attributes.iter())
        .filter_map(|a| {
            let name = a.name.clone()?;
            let values = a.values.iter().filter_map(|v| v.value.clone()).collect();
            Some((name, a.friendly_name.clone(), values))
        })
        .collect();
    Ok(Asserted {
        assertion_id: assertion.id.clone(),
        issuer,
        name_id: name_id.map(|n| n.value.clone()),
        name_id_format: name_id.and_then(|n| n.format.clone()),
        attributes,
        in_response_to,
        expires_at: limits.iter().copied().max().unwrap_or(now) + SKEW,
        session_index: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|s| s.session_index.clone()),
        authn_context: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|s| s.authn_context.as_ref()?.value.as_ref()?.value.clone()),
        authn_instant: assertion
            .authn_statements
            .iter()
            .flatten()
            .find_map(|s| s.authn_instant)
            .map(super::from_chrono),
    })
}
