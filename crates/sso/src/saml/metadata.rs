//! Metadata both ways: the identity provider's, read and refused when it cannot be trusted; and
//! Roster's, written for the identity provider.

use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use samael::key_info::{KeyInfo, X509Data};
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING, IdpSsoDescriptor, KeyDescriptor};

use super::ServiceProvider;

/// The largest metadata document read (a federation's aggregate is refused long before).
pub const MAX_METADATA_BYTES: usize = 256 * 1024;

/// Why an identity provider's metadata cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// Too large to be one identity provider's metadata.
    #[error(
        "the metadata is {0} bytes, more than one identity provider's metadata ever is (at most {MAX_METADATA_BYTES})"
    )]
    TooLarge(usize),
    /// Not SAML metadata at all.
    #[error("this is not SAML metadata (an EntityDescriptor): {0}")]
    NotMetadata(String),
    /// Without an entity id the issuer cannot be checked.
    #[error("the metadata names no entityID")]
    NoEntityId,
    /// Metadata of a service provider, or of nothing that signs users in.
    #[error("the metadata describes no identity provider (no IDPSSODescriptor)")]
    NotAnIdentityProvider,
    /// Nowhere to send users with the HTTP-Redirect binding.
    #[error("the identity provider offers no SingleSignOnService with the HTTP-Redirect binding")]
    NoRedirectSignOn,
    /// Without a certificate, no signature could be checked: refused rather than trusting
    /// unsigned assertions.
    #[error(
        "the metadata holds no signing certificate, so no assertion it signs could be verified"
    )]
    NoSigningCertificate,
}

/// An identity provider as its metadata describes it.
#[derive(Debug, Clone)]
pub struct IdpMetadata {
    /// Its entity id: the `Issuer` of its responses.
    pub entity_id: String,
    /// Where sign-in requests go (HTTP-Redirect).
    pub sign_on_url: String,
    /// Its signing certificates (DER), several during a rollover.
    pub certificates: Vec<Vec<u8>>,
    descriptor: EntityDescriptor,
    idp: IdpSsoDescriptor,
}

impl IdpMetadata {
    /// Reads metadata as an administrator pasted it or as its URL served it.
    pub fn parse(xml: &str) -> Result<IdpMetadata, MetadataError> {
        if xml.len() > MAX_METADATA_BYTES {
            return Err(MetadataError::TooLarge(xml.len()));
        }
        match root_name(xml) {
            Some("EntityDescriptor") => {}
            Some("EntitiesDescriptor") => {
                return Err(MetadataError::NotMetadata(
                    "it is a federation's list of entities; paste the metadata of one identity provider".to_owned(),
                ));
            }
            Some(other) => {
                return Err(MetadataError::NotMetadata(format!(
                    "its root element is <{other}>, not <EntityDescriptor>"
                )));
            }
            None => {
                return Err(MetadataError::NotMetadata(
                    "it holds no XML element".to_owned(),
                ));
            }
        }
        let descriptor = EntityDescriptor::from_str(xml.trim_start_matches('\u{feff}'))
            .map_err(|e| MetadataError::NotMetadata(first_line(&e.to_string())))?;
        let entity_id = descriptor
            .entity_id
            .clone()
            .filter(|id| !id.trim().is_empty())
            .ok_or(MetadataError::NoEntityId)?;
        let idp = descriptor
            .idp_sso_descriptors
            .as_ref()
            .and_then(|d| d.first())
            .ok_or(MetadataError::NotAnIdentityProvider)?;
        let sign_on_url = idp
            .single_sign_on_services
            .iter()
            .find(|s| s.binding == HTTP_REDIRECT_BINDING)
            .map(|s| s.location.clone())
            .ok_or(MetadataError::NoRedirectSignOn)?;
        let mut certificates = Vec::new();
        for descriptor in idp
            .key_descriptors
            .iter()
            .filter(|k| k.key_use.as_deref().is_none_or(|u| u == "signing"))
        {
            if let Some(data) = &descriptor.key_info.x509_data {
                for cert in &data.certificates {
                    let clean: String = cert.chars().filter(|c| !c.is_whitespace()).collect();
                    if let Ok(der) = STANDARD.decode(clean)
                        && openssl::x509::X509::from_der(&der).is_ok()
                        && !certificates.contains(&der)
                    {
                        certificates.push(der);
                    }
                }
            }
        }
        if certificates.is_empty() {
            return Err(MetadataError::NoSigningCertificate);
        }
        let idp = idp.clone();
        Ok(IdpMetadata {
            entity_id,
            sign_on_url,
            certificates,
            descriptor,
            idp,
        })
    }

    /// The metadata as samael is to read it: one identity provider whose signing keys are
    /// exactly [`IdpMetadata::certificates`] (samael would otherwise pick its own among the
    /// `KeyDescriptor`s, and a second `IDPSSODescriptor` could add keys).
    pub(crate) fn trusted_descriptor(&self) -> EntityDescriptor {
        let mut descriptor = self.descriptor.clone();
        let mut idp = self.idp.clone();
        idp.key_descriptors = self
            .certificates
            .iter()
            .map(|der| KeyDescriptor {
                key_use: Some("signing".to_owned()),
                key_info: KeyInfo {
                    id: None,
                    x509_data: Some(X509Data {
                        certificates: vec![STANDARD.encode(der)],
                    }),
                },
                encryption_methods: None,
            })
            .collect();
        descriptor.idp_sso_descriptors = Some(vec![idp]);
        descriptor.entity_id = Some(self.entity_id.clone());
        descriptor
    }
}

/// The local name of the document's first element (after the declaration and comments).
fn root_name(xml: &str) -> Option<&str> {
    let mut rest = xml;
    loop {
        let at = rest.find('<')?;
        rest = &rest[at + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let name = &rest[..end];
        return Some(name.rsplit(':').next().unwrap_or(name));
    }
}

fn first_line(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Roster's metadata for one connection: its entity id, where to post, and its certificate for
/// signing requests and for encrypting assertions to it.
pub(super) fn sp_metadata(sp: &ServiceProvider) -> String {
    let cert = STANDARD.encode(&sp.certificate_der);
    let key = |usage: &str| {
        format!(
            "    <md:KeyDescriptor use=\"{usage}\">\n      <ds:KeyInfo><ds:X509Data><ds:X509Certificate>{cert}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\n    </md:KeyDescriptor>\n"
        )
    };
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\" entityID=\"{entity}\">\n\
  <md:SPSSODescriptor AuthnRequestsSigned=\"true\" WantAssertionsSigned=\"true\" protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\n\
{signing}{encryption}\
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>\n\
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>\n\
    <md:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/>\n\
  </md:SPSSODescriptor>\n\
</md:EntityDescriptor>\n",
        entity = escape(&sp.entity_id),
        acs = escape(&sp.acs_url),
        signing = key("signing"),
        encryption = key("encryption"),
    )
}
