//! Each way a SAML response is accepted or refused, with responses signed by a test identity
//! provider's key at test time.

use roster_sso::keys;
use roster_sso::saml::{
    self, Expected, IdpMetadata, MetadataError, Refusal, ServiceProvider, check_response,
};
use roster_sso::testing::{Signing, Spec, TestIdp};
use time::{Duration, OffsetDateTime, macros::datetime};

const NOW: OffsetDateTime = datetime!(2026-12-04 09:00 UTC);
const SP_ENTITY: &str = "https://roster.test/saml/acme/main";
const ACS: &str = "https://roster.test/auth/saml/acme/main/acs";
const REQUEST: &str = "_req-1";

struct Fixture {
    idp: TestIdp,
    metadata: IdpMetadata,
    sp: ServiceProvider,
}

fn fixture() -> Fixture {
    let idp = TestIdp::new("https://idp.test", NOW);
    let metadata = IdpMetadata::parse(&idp.metadata(true)).expect("the metadata reads");
    let pair = keys::generate("roster", 1, NOW).expect("a key");
    let sp = ServiceProvider {
        entity_id: SP_ENTITY.to_owned(),
        acs_url: ACS.to_owned(),
        certificate_der: pair.certificate_der,
        private_key_der: pair.private_key_der,
    };
    Fixture { idp, metadata, sp }
}

impl Fixture {
    fn spec(&self) -> Spec {
        let mut spec = self.idp.spec("ada@contoso.com", SP_ENTITY, ACS, NOW);
        spec.in_response_to = Some(REQUEST.to_owned());
        spec
    }

    fn check_xml(&self, xml: &str, at: OffsetDateTime) -> Result<saml::Asserted, Refusal> {
        check_response(
            &self.sp,
            &self.metadata,
            &TestIdp::post(xml),
            Expected {
                request_id: Some(REQUEST),
                idp_initiated: false,
                now: at,
            },
        )
    }

    fn check(&self, spec: &Spec) -> Result<saml::Asserted, Refusal> {
        self.check_xml(&self.idp.xml(spec), NOW)
    }
}

#[test]
fn a_signed_response_gives_its_user_and_attributes() {
    let f = fixture();
    for signing in [Signing::Both, Signing::Response, Signing::Assertion] {
        let mut spec = f.spec();
        spec.signing = signing;
        spec.attributes = vec![(
            "http://schemas.microsoft.com/identity/claims/objectidentifier".into(),
            "oid-1".into(),
        )];
        let got = f
            .check(&spec)
            .unwrap_or_else(|e| panic!("{signing:?}: {e}"));
        assert_eq!(got.name_id.as_deref(), Some("ada@contoso.com"));
        assert_eq!(got.issuer, f.idp.entity_id);
        assert_eq!(got.in_response_to.as_deref(), Some(REQUEST));
        assert_eq!(got.assertion_id, spec.assertion_id);
        assert_eq!(
            got.first("http://schemas.microsoft.com/identity/claims/objectidentifier"),
            Some("oid-1")
        );
        // Kept until the latest limit (issued + 5 min) plus the skew.
        assert_eq!(got.expires_at, NOW + Duration::minutes(7));
        // When and how the person authenticated, for the ID token's auth_time and amr.
        assert_eq!(got.authn_instant, Some(spec.issued));
        assert!(got.authn_context.as_deref().unwrap().ends_with(":Password"));
    }
}

#[test]
fn a_changed_name_breaks_the_signature() {
    let f = fixture();
    for signing in [Signing::Both, Signing::Response, Signing::Assertion] {
        let mut spec = f.spec();
        spec.signing = signing;
        let xml = f
            .idp
            .xml(&spec)
            .replace("ada@contoso.com", "admin@contoso.com");
        assert_eq!(
            f.check_xml(&xml, NOW),
            Err(Refusal::BadSignature),
            "{signing:?}"
        );
    }
}

#[test]
fn a_key_the_connection_does_not_have_is_refused() {
    let f = fixture();
    let other = keys::generate("test-idp", 7, NOW).unwrap();
    let xml = f.idp.xml_signed_by(&f.spec(), &other);
    assert_eq!(f.check_xml(&xml, NOW), Err(Refusal::BadSignature));
}

#[test]
fn an_unsigned_response_is_refused() {
    let f = fixture();
    let mut spec = f.spec();
    spec.signing = Signing::None;
    assert_eq!(f.check(&spec), Err(Refusal::Unsigned));
}

#[test]
fn sha1_signatures_are_refused_by_name() {
    let f = fixture();
    let mut spec = f.spec();
    spec.signing = Signing::Sha1;
    assert_eq!(
        f.check(&spec),
        Err(Refusal::WeakAlgorithm("RSA-SHA1".into()))
    );
}

#[test]
fn a_wrapped_assertion_is_never_the_one_read() {
    let f = fixture();
    let mut spec = f.spec();
    spec.signing = Signing::Assertion;
    let signed = f.idp.xml(&spec);
    let mut evil_spec = f.spec();
    evil_spec.name_id = "admin@contoso.com".into();
    evil_spec.signing = Signing::None;
    evil_spec.assertion_id = "_evil".into();
    let evil_xml = f.idp.xml(&evil_spec);
    let evil = evil_xml
        .split_once("<saml:Assertion")
        .map(|(_, rest)| {
            format!(
                "<saml:Assertion{}",
                rest.trim_end_matches("</samlp:Response>")
            )
        })
        .unwrap();
    let signed_assertion = signed
        .split_once("<saml:Assertion")
        .map(|(_, rest)| {
            format!(
                "<saml:Assertion{}",
                rest.trim_end_matches("</samlp:Response>")
            )
        })
        .unwrap();
    // The forged assertion first, the signed one after it, as siblings.
    let siblings = signed.replace(&signed_assertion, &format!("{evil}{signed_assertion}"));
    // The signed one hidden in Extensions, the forged one where a reader looks.
    let hidden = signed.replace(
        &signed_assertion,
        &format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions>{evil}"),
    );
    for (name, xml) in [("siblings", siblings), ("extensions", hidden)] {
        match f.check_xml(&xml, NOW) {
            Ok(got) => assert_eq!(got.name_id.as_deref(), Some("ada@contoso.com"), "{name}"),
            Err(e) => assert!(
                matches!(e, Refusal::BadSignature | Refusal::Malformed(_)),
                "{name}: {e:?}"
            ),
        }
    }
}

#[test]
fn times_are_checked_against_the_given_clock_with_two_minutes_of_skew() {
    let f = fixture();
    let xml = f.idp.xml(&f.spec());
    // Valid from a minute before issue to five after; two minutes of skew each way.
    assert!(f.check_xml(&xml, NOW + Duration::minutes(6)).is_ok());
    assert_eq!(
        f.check_xml(&xml, NOW + Duration::minutes(7)),
        Err(Refusal::Expired(NOW + Duration::minutes(5)))
    );
    assert!(f.check_xml(&xml, NOW - Duration::minutes(2)).is_ok());
    assert_eq!(
        f.check_xml(&xml, NOW - Duration::minutes(4)),
        Err(Refusal::NotYetValid(NOW))
    );
}

#[test]
fn another_audience_or_none_is_refused() {
    let f = fixture();
    let mut spec = f.spec();
    spec.audience = Some("https://elsewhere.test".into());
    assert_eq!(
        f.check(&spec),
        Err(Refusal::Audience {
            got: "`https://elsewhere.test`".into(),
            want: SP_ENTITY.into()
        })
    );
    spec.audience = None;
    assert_eq!(
        f.check(&spec),
        Err(Refusal::Audience {
            got: "missing".into(),
            want: SP_ENTITY.into()
        })
    );
}

#[test]
fn another_recipient_or_destination_is_refused() {
    let f = fixture();
    let mut spec = f.spec();
    spec.recipient = "https://elsewhere.test/acs".into();
    assert_eq!(
        f.check(&spec),
        Err(Refusal::Recipient {
            got: "https://elsewhere.test/acs".into(),
            want: ACS.into()
        })
    );
    let mut spec = f.spec();
    spec.signing = Signing::Assertion;
    spec.destination = "https://elsewhere.test/acs".into();
    assert!(matches!(f.check(&spec), Err(Refusal::Recipient { .. })));
}

#[test]
fn another_issuer_is_refused() {
    let f = fixture();
    let mut spec = f.spec();
    spec.issuer = "https://other-idp.test".into();
    assert!(matches!(f.check(&spec), Err(Refusal::Issuer { .. })));
}

#[test]
fn an_answer_to_another_request_or_to_none_is_refused() {
    let f = fixture();
    let mut spec = f.spec();
    spec.in_response_to = Some("_someone-elses".into());
    assert_eq!(
        f.check(&spec),
        Err(Refusal::UnknownRequest {
            got: "_someone-elses".into()
        })
    );
    spec.in_response_to = None;
    assert_eq!(f.check(&spec), Err(Refusal::Unsolicited));
    // Allowed where the connection accepts sign-ins the identity provider starts.
    let allowed = check_response(
        &f.sp,
        &f.metadata,
        &TestIdp::post(&f.idp.xml(&spec)),
        Expected {
            request_id: None,
            idp_initiated: true,
            now: NOW,
        },
    );
    assert_eq!(allowed.unwrap().in_response_to, None);
}

#[test]
fn an_error_status_is_reported_as_the_identity_provider_gave_it() {
    let f = fixture();
    let mut spec = f.spec();
    spec.status = "Requester".into();
    spec.signing = Signing::None;
    assert_eq!(
        f.check(&spec),
        Err(Refusal::Status {
            code: "Requester".into(),
            message: None
        })
    );
}

#[test]
fn garbage_is_refused_with_what_it_is() {
    let f = fixture();
    let refused = |posted: &str| {
        check_response(
            &f.sp,
            &f.metadata,
            posted,
            Expected {
                request_id: None,
                idp_initiated: true,
                now: NOW,
            },
        )
    };
    assert!(matches!(refused("%%%"), Err(Refusal::Malformed(m)) if m.contains("base64")));
    assert!(matches!(
        refused(&TestIdp::post("<html/>")),
        Err(Refusal::Malformed(_))
    ));
    assert!(matches!(
        refused(&"A".repeat(saml::MAX_RESPONSE_BYTES + 4)),
        Err(Refusal::TooLarge(_))
    ));
}

#[test]
fn metadata_without_a_signing_certificate_is_refused() {
    let idp = TestIdp::new("https://idp.test", NOW);
    assert_eq!(
        IdpMetadata::parse(&idp.metadata(false)).err(),
        Some(MetadataError::NoSigningCertificate)
    );
    assert!(matches!(
        IdpMetadata::parse("<html>no</html>"),
        Err(MetadataError::NotMetadata(_))
    ));
    let parsed = IdpMetadata::parse(&idp.metadata(true)).unwrap();
    assert_eq!(parsed.entity_id, "https://idp.test/metadata");
    assert_eq!(parsed.sign_on_url, "https://idp.test/sso");
    assert_eq!(parsed.certificates, vec![idp.key.certificate_der.clone()]);
}

#[test]
fn roster_metadata_names_its_entity_acs_and_certificate() {
    let f = fixture();
    let xml = f.sp.metadata_xml();
    assert!(xml.contains(&format!("entityID=\"{SP_ENTITY}\"")));
    assert!(xml.contains(&format!("Location=\"{ACS}\"")));
    assert!(xml.contains("use=\"encryption\"") && xml.contains("use=\"signing\""));
    let parsed: samael::metadata::EntityDescriptor = xml.parse().expect("it reads back");
    assert_eq!(parsed.entity_id.as_deref(), Some(SP_ENTITY));
}

#[test]
fn the_request_is_signed_and_names_its_acs() {
    let f = fixture();
    let request = saml::request(&f.sp, &f.metadata, "_req-9", NOW, "relay-1", false).unwrap();
    let url = url::Url::parse(&request.url).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["SAMLRequest", "RelayState", "SigAlg", "Signature"]);
    assert!(request.url.starts_with("https://idp.test/sso?"));
    let cert = samael::crypto::CertificateDer::from(f.sp.certificate_der.clone());
    let verifier = samael::crypto::UrlVerifier::from_x509(&cert).unwrap();
    assert!(verifier.verify_signed_request_url(&url).unwrap());
}
