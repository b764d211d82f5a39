//! A test identity provider: metadata, and responses built to order and signed with its key
//! (or left unsigned, signed with SHA-1, tampered, wrapped). Used by this crate's tests and the
//! end-to-end refusal tests; real sign-ins are tested against SimpleSAMLphp.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use samael::crypto::{Crypto, CryptoProvider};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::keys::{self, KeyPair};

/// An identity provider with a key of its own.
#[derive(Debug, Clone)]
pub struct TestIdp {
    /// Its entity id.
    pub entity_id: String,
    /// Its sign-on URL.
    pub sign_on_url: String,
    /// Its key and certificate.
    pub key: KeyPair,
}

/// How a response is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// Not at all.
    None,
    /// The assertion only.
    Assertion,
    /// The response only.
    Response,
    /// Both.
    Both,
    /// Both, with RSA-SHA1 and a SHA-1 digest.
    Sha1,
}

/// A response to build: every field a test may want wrong.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The NameID.
    pub name_id: String,
    /// The assertion's id.
    pub assertion_id: String,
    /// `InResponseTo` (on the response and the confirmation), `None` for an IdP-initiated one.
    pub in_response_to: Option<String>,
    /// The audience.
    pub audience: Option<String>,
    /// The confirmation's `Recipient`.
    pub recipient: String,
    /// The response's `Destination`.
    pub destination: String,
    /// When it was issued; it is valid from a minute before to five minutes after.
    pub issued: OffsetDateTime,
    /// The issuer (the IdP's entity id unless changed).
    pub issuer: String,
    /// The status code's last part.
    pub status: String,
    /// How it is signed.
    pub signing: Signing,
    /// Attributes (name, value).
    pub attributes: Vec<(String, String)>,
}

fn stamp(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_default()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn template(reference: &str, sha1: bool) -> String {
    let (method, digest) = if sha1 {
        (
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
            "http://www.w3.org/2000/09/xmldsig#sha1",
        )
    } else {
        (
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
            "http://www.w3.org/2001/04/xmlenc#sha256",
        )
    };
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{method}"/><ds:Reference URI="#{reference}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{digest}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue></ds:Signature>"##
    )
}

impl TestIdp {
    /// An identity provider at `base` (its entity id is `{base}/metadata`).
    pub fn new(base: &str, now: OffsetDateTime) -> TestIdp {
        TestIdp {
            entity_id: format!("{base}/metadata"),
            sign_on_url: format!("{base}/sso"),
            key: keys::generate("test-idp", 7, now).expect("a test key"),
        }
    }

    /// Its metadata, with its certificate (or none).
    pub fn metadata(&self, with_certificate: bool) -> String {
        let key = if with_certificate {
            format!(
                r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#,
                STANDARD.encode(&self.key.certificate_der)
            )
        } else {
            String::new()
        };
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity}"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">{key}<md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="{sso}"/></md:IDPSSODescriptor></md:EntityDescriptor>"#,
            entity = escape(&self.entity_id),
            sso = escape(&self.sign_on_url),
        )
    }

    /// A good response for `name_id` to a service provider, to change field by field.
    pub fn spec(&self, name_id: &str, sp_entity: &str, acs: &str, now: OffsetDateTime) -> Spec {
        Spec {
            name_id: name_id.to_owned(),
            assertion_id: format!("_a{}", now.unix_timestamp_nanos()),
            in_response_to: None,
            audience: Some(sp_entity.to_owned()),
            recipient: acs.to_owned(),
            destination: acs.to_owned(),
            issued: now,
            issuer: self.entity_id.clone(),
            status: "Success".to_owned(),
            signing: Signing::Both,
            attributes: Vec::new(),
        }
    }

    /// The assertion's XML, with a signature template or none.
    fn assertion(&self, spec: &Spec, signed: bool, sha1: bool) -> String {
        let now = stamp(spec.issued);
        let before = stamp(spec.issued - time::Duration::minutes(1));
        let later = stamp(spec.issued + time::Duration::minutes(5));
        let irt = spec
            .in_response_to
            .as_deref()
            .map(|r| format!(r#" InResponseTo="{}""#, escape(r)))
            .unwrap_or_default();
        let audience = spec
            .audience
            .as_deref()
            .map(|a| {
                format!(
                    "<saml:AudienceRestriction><saml:Audience>{}</saml:Audience></saml:AudienceRestriction>",
                    escape(a)
                )
            })
            .unwrap_or_default();
        let attributes: String = spec
            .attributes
            .iter()
            .map(|(n, v)| {
                format!(
                    r#"<saml:Attribute Name="{}"><saml:AttributeValue>{}</saml:AttributeValue></saml:Attribute>"#,
                    escape(n),
                    escape(v)
                )
            })
            .collect();
        let statement = if attributes.is_empty() {
            String::new()
        } else {
            format!("<saml:AttributeStatement>{attributes}</saml:AttributeStatement>")
        };
        let signature = if signed {
            template(&spec.assertion_id, sha1)
        } else {
            String::new()
        };
        format!(
            r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{issuer}</saml:Issuer>{signature}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{recipient}"{irt}/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{later}">{audience}</saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_s1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>{statement}</saml:Assertion>"#,
            id = escape(&spec.assertion_id),
            issuer = escape(&spec.issuer),
            name = escape(&spec.name_id),
            recipient = escape(&spec.recipient),
        )
    }

    fn response(&self, spec: &Spec, signature: &str, assertion: &str) -> String {
        let irt = spec
            .in_response_to
            .as_deref()
            .map(|r| format!(r#" InResponseTo="{}""#, escape(r)))
            .unwrap_or_default();
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r{id}" Version="2.0" IssueInstant="{now}" Destination="{destination}"{irt}><saml:Issuer>{issuer}</saml:Issuer>{signature}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:{status}"/></samlp:Status>{assertion}</samlp:Response>"#,
            id = escape(&spec.assertion_id),
            now = stamp(spec.issued),
            destination = escape(&spec.destination),
            issuer = escape(&spec.issuer),
            status = escape(&spec.status),
        )
    }

    /// Signs the first signature template in `xml` with `key`.
    pub fn sign_with(key: &KeyPair, xml: &str) -> String {
        let der = openssl::pkey::PKey::private_key_from_der(&key.private_key_der)
            .and_then(|k| k.private_key_to_der())
            .expect("the test key");
        Crypto::sign_xml(xml, &der).expect("xmlsec signs the template")
    }

    /// The response's XML, signed as the spec says, with this IdP's key.
    pub fn xml(&self, spec: &Spec) -> String {
        self.xml_signed_by(spec, &self.key)
    }

    /// The response's XML signed with another key.
    pub fn xml_signed_by(&self, spec: &Spec, key: &KeyPair) -> String {
        let sha1 = spec.signing == Signing::Sha1;
        let sign_assertion = matches!(
            spec.signing,
            Signing::Assertion | Signing::Both | Signing::Sha1
        );
        let sign_response = matches!(
            spec.signing,
            Signing::Response | Signing::Both | Signing::Sha1
        );
        let assertion = self.assertion(spec, sign_assertion, sha1);
        let assertion = if sign_assertion {
            // Signed on its own, then carried inside the response as signed.
            let signed = Self::sign_with(key, &assertion);
            signed
                .trim_start_matches("<?xml version=\"1.0\"?>")
                .trim()
                .to_owned()
        } else {
            assertion
        };
        let reference = format!("_r{}", spec.assertion_id);
        if sign_response {
            Self::sign_with(
                key,
                &self.response(spec, &template(&reference, sha1), &assertion),
            )
        } else {
            self.response(spec, "", &assertion)
        }
    }

    /// The response as the HTTP-POST binding carries it.
    pub fn post(xml: &str) -> String {
        STANDARD.encode(xml)
    }
}
