//! Feasibility probe: samael 0.0.22 (xmlsec feature) as a SAML SP.
//! (a) SP metadata, (b) parse IdP metadata, (c) verify Responses signed by the xmlsec1 CLI,
//! plus negative cases (tampering, wrong key, XSW, unsigned, SHA-1, comment injection).
use base64::{Engine as _, engine::general_purpose::STANDARD as B64};
use chrono::{Duration, SecondsFormat, Utc};
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode};
use samael::metadata::EntityDescriptor;
use samael::service_provider::{ServiceProvider, ServiceProviderBuilder};
use samael::traits::ToXml;
use std::process::Command;
use std::str::FromStr;

const KEYS: &str = "/tmp/saml-probe/keys";
const WORK: &str = "/tmp/saml-probe/work";
const IDP_ENTITY: &str = "http://127.0.0.1:8081/simplesaml/saml2/idp/metadata.php";
const SP_ENTITY: &str = "https://roster.test/saml/metadata";
const ACS: &str = "http://127.0.0.1:8080/saml/acs";
const REQ_ID: &str = "id-req-1";

fn pem_to_der(path: &str) -> CertificateDer {
    let pem = std::fs::read(path).unwrap();
    openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap().into()
}

fn idp_metadata_xml(cert_b64: Option<&str>) -> String {
    let kd = match cert_b64 {
        Some(c) => format!(
            r#"<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{c}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"#
        ),
        None => String::new(),
    };
    format!(
        r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{IDP_ENTITY}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    {kd}
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1:8081/simplesaml/saml2/idp/SingleLogoutService.php"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="http://127.0.0.1:8081/simplesaml/saml2/idp/SSOService.php"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
    )
}

fn sig_template(ref_id: &str, sha1: bool) -> String {
    let (sm, dm) = if sha1 {
        ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")
    } else {
        ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", "http://www.w3.org/2001/04/xmlenc#sha256")
    };
    format!(
        r##"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{sm}"/><ds:Reference URI="#{ref_id}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{dm}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data></ds:X509Data></ds:KeyInfo></ds:Signature>"##
    )
}

fn ts(d: Duration) -> String {
    (Utc::now() + d).to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn assertion(id: &str, name_id: &str, sig: &str) -> String {
    let now = ts(Duration::zero());
    let later = ts(Duration::minutes(5));
    let before = ts(Duration::minutes(-1));
    format!(
        r#"<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{id}" Version="2.0" IssueInstant="{now}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer>{sig}<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{name_id}</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="{later}" Recipient="{ACS}" InResponseTo="{REQ_ID}"/></saml:SubjectConfirmation></saml:Subject><saml:Conditions NotBefore="{before}" NotOnOrAfter="{later}"><saml:AudienceRestriction><saml:Audience>{SP_ENTITY}</saml:Audience></saml:AudienceRestriction></saml:Conditions><saml:AuthnStatement AuthnInstant="{now}" SessionIndex="_sess1"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement><saml:AttributeStatement><saml:Attribute Name="role" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue>member</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion>"#
    )
}

fn response(resp_sig: &str, body: &str) -> String {
    let now = ts(Duration::zero());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_resp1" Version="2.0" IssueInstant="{now}" Destination="{ACS}" InResponseTo="{REQ_ID}"><saml:Issuer>{IDP_ENTITY}</saml:Issuer>{resp_sig}<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>{body}</samlp:Response>
"#
    )
}

/// Signs the first ds:Signature template in `xml` with the xmlsec1 CLI.
fn xmlsec1_sign(name: &str, xml: &str, key: &str) -> String {
    let tmpl = format!("{WORK}/{name}.tmpl.xml");
    let out = format!("{WORK}/{name}.signed.xml");
    std::fs::write(&tmpl, xml).unwrap();
    let st = Command::new("xmlsec1")
        .args([
            "--sign",
            "--privkey-pem",
            &format!("{KEYS}/{key}.key,{KEYS}/{key}.crt"),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            "--output",
            &out,
            &tmpl,
        ])
        .status()
        .unwrap();
    assert!(st.success(), "xmlsec1 --sign failed for {name}");
    std::fs::read_to_string(&out).unwrap()
}

fn xmlsec1_verify(name: &str) {
    let out = Command::new("xmlsec1")
        .args([
            "--verify",
            "--pubkey-cert-pem",
            &format!("{KEYS}/idp.crt"),
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
            &format!("{WORK}/{name}.signed.xml"),
        ])
        .output()
        .unwrap();
    println!(
        "  [xmlsec1 --verify {name}] exit={} {}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("OK") || l.starts_with("FAIL")).collect::<Vec<_>>().join(" ")
    );
}

fn check(sp: &ServiceProvider, label: &str, xml: &str) {
    // the ACS handler would receive base64(SAMLResponse) from the HTTP-POST binding
    let b64 = B64.encode(xml);
    match sp.parse_base64_response(&b64, Some(&[REQ_ID])) {
        Ok(a) => {
            let nameid = a.subject.as_ref().and_then(|s| s.name_id.as_ref()).map(|n| n.value.clone());
            println!("  [{label}] ACCEPTED  assertion ID={} NameID={:?}", a.id, nameid);
        }
        Err(e) => {
            let mut src = String::new();
            let mut cur: Option<&dyn std::error::Error> = e.source();
            while let Some(s) = cur {
                src.push_str(&format!(" <- {s}"));
                cur = s.source();
            }
            println!("  [{label}] REJECTED  {e}{src}");
        }
    }
}

fn sp_with(idp_md: EntityDescriptor, algs: Option<Vec<AllowedSignatureAlgorithm>>) -> ServiceProvider {
    let sp_key_pem = std::fs::read(format!("{KEYS}/sp.key")).unwrap();
    let sp_key = openssl::pkey::PKey::private_key_from_pem(&sp_key_pem).unwrap();
    ServiceProviderBuilder::default()
        .entity_id(SP_ENTITY.to_string())
        .key(sp_key)
        .certificate(pem_to_der(&format!("{KEYS}/sp.crt")))
        .acs_url(ACS.to_string())
        .slo_url("http://127.0.0.1:8080/saml/slo".to_string())
        .idp_metadata(idp_md)
        .allowed_signature_algorithms(algs)
        .build()
        .unwrap()
}

fn main() {
    std::fs::create_dir_all(WORK).unwrap();
    let idp_cert = pem_to_der(&format!("{KEYS}/idp.crt"));
    let idp_cert_b64 = B64.encode(idp_cert.der_data());

    // (b) parse IdP metadata (either from a file given on the command line, or the built-in one)
    let md_xml = match std::env::args().nth(1) {
        Some(p) => std::fs::read_to_string(p).unwrap(),
        None => idp_metadata_xml(Some(&idp_cert_b64)),
    };
    let idp_md = EntityDescriptor::from_str(&md_xml).expect("parse IdP metadata");
    println!("== (b) IdP metadata parsed: entityID={:?}", idp_md.entity_id);
    let sp = sp_with(idp_md.clone(), Some(vec![AllowedSignatureAlgorithm::RsaSha256]));
    println!("   SSO redirect location: {:?}", sp.sso_binding_location(samael::metadata::HTTP_REDIRECT_BINDING));
    println!("   IdP signing certs found: {}", sp.idp_signing_certs().unwrap().map(|v| v.len()).unwrap_or(0));
    if std::env::args().nth(1).is_some() {
        return;
    }

    // (a) SP metadata
    let md = sp.metadata().unwrap().to_string().unwrap();
    std::fs::write(format!("{WORK}/sp-metadata.xml"), &md).unwrap();
    println!("== (a) SP metadata ({} bytes) written to {WORK}/sp-metadata.xml", md.len());
    println!("{}", &md[..md.len().min(400)]);

    // AuthnRequest + redirect URL (HTTP-Redirect binding)
    let req = sp.make_authentication_request("http://127.0.0.1:8081/simplesaml/saml2/idp/SSOService.php").unwrap();
    println!("== AuthnRequest ID={} redirect={}", req.id, &req.redirect("state1").unwrap().unwrap().as_str()[..120]);

    println!("== (c) signature verification via ServiceProvider::parse_base64_response (allowed=[RsaSha256])");
    // 1. whole Response signed
    let r1 = xmlsec1_sign("resp_signed", &response(&sig_template("_resp1", false), &assertion("_a1", "alice@example.org", "")), "idp");
    xmlsec1_verify("resp_signed");
    check(&sp, "1 Response signed (rsa-sha256)", &r1);

    // 2. only Assertion signed
    let r2 = xmlsec1_sign("assert_signed", &response("", &assertion("_a1", "alice@example.org", &sig_template("_a1", false))), "idp");
    xmlsec1_verify("assert_signed");
    check(&sp, "2 Assertion signed only", &r2);

    // 3. both signed (assertion first, then wrap with a response signature)
    let inner = xmlsec1_sign("both_inner", &response("", &assertion("_a1", "alice@example.org", &sig_template("_a1", false))), "idp");
    let with_resp_tmpl = inner.replacen(
        &format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer><samlp:Status>"),
        &format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer>{}<samlp:Status>", sig_template("_resp1", false)),
        1,
    );
    assert_ne!(with_resp_tmpl, inner);
    let r3 = xmlsec1_sign("both_signed", &with_resp_tmpl, "idp");
    check(&sp, "3 Response + Assertion signed", &r3);

    // 4. tampered after signing
    check(&sp, "4 Response signed, NameID tampered", &r1.replace("alice@example.org", "admin@example.org"));
    check(&sp, "4b Assertion signed, NameID tampered", &r2.replace("alice@example.org", "admin@example.org"));

    // 5. signed with another key that has the same subject CN
    let r5 = xmlsec1_sign("evil_signed", &response(&sig_template("_resp1", false), &assertion("_a1", "alice@example.org", "")), "evil");
    check(&sp, "5 signed by untrusted key (same CN)", &r5);

    // 6. unsigned
    let r6 = response("", &assertion("_a1", "admin@example.org", ""));
    check(&sp, "6 unsigned Response, metadata has signing cert", &r6);
    let sp_nokey = sp_with(EntityDescriptor::from_str(&idp_metadata_xml(None)).unwrap(), None);
    check(&sp_nokey, "6b unsigned Response, IdP metadata WITHOUT KeyDescriptor", &r6);

    // 7. XML signature wrapping: keep legitimately signed assertion _a1 (alice) but add an unsigned
    //    evil assertion (admin) that a naive parser would read.
    let signed_assertion = {
        let s = r2.find("<saml:Assertion").unwrap();
        let e = r2.rfind("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        r2[s..e].to_string()
    };
    let evil = assertion("_evil", "admin@example.org", "");
    // 7a: evil assertion first, signed one second (siblings)
    let x7a = response("", &format!("{evil}{signed_assertion}"));
    check(&sp, "7a XSW: evil + signed assertion as siblings", &x7a);
    // 7b: signed assertion hidden inside the evil assertion's Advice? Use samlp:Extensions on Response
    let x7b = response("", &evil).replace(
        "<samlp:Status>",
        &format!("<samlp:Extensions>{signed_assertion}</samlp:Extensions><samlp:Status>"),
    );
    check(&sp, "7b XSW: signed assertion moved into samlp:Extensions, evil at top", &x7b);
    // 7c: signed Response, but extra unsigned assertion injected after signing (inside Response)
    let x7c = r1.replace("</samlp:Response>", &format!("{evil}</samlp:Response>"));
    check(&sp, "7c XSW: evil assertion appended to signed Response", &x7c);
    // low-level API on the XSW docs: verify_signed_xml only says "a signature is valid"
    for (l, d) in [("7a", &x7a), ("7b", &x7b)] {
        let r = Crypto::verify_signed_xml(d.as_bytes(), &idp_cert, Some("ID"));
        println!("  [{l}] Crypto::verify_signed_xml(doc, idp_cert, Some(\"ID\")) -> {:?}", r.map_err(|e| e.to_string()));
        let naive = samael::schema::Response::from_str(d).map(|r| {
            r.assertion.and_then(|a| a.subject).and_then(|s| s.name_id).map(|n| n.value)
        });
        println!("  [{l}] naive Response::from_str(doc).assertion NameID -> {:?}", naive.map_err(|e| e.to_string()));
    }

    // 8. SHA-1
    let r8 = xmlsec1_sign("sha1_signed", &response(&sig_template("_resp1", true), &assertion("_a1", "alice@example.org", "")), "idp");
    check(&sp, "8 rsa-sha1 signed, allowed=[RsaSha256]", &r8);
    let sp_any = sp_with(idp_md.clone(), None);
    check(&sp_any, "8b rsa-sha1 signed, allowed=None (default)", &r8);

    // 9. comment injection in NameID (CVE-2017-11427 class): exc-c14n drops comments, so the
    //    signature stays valid; what does samael return as NameID?
    let r9 = xmlsec1_sign(
        "comment_signed",
        &response(&sig_template("_resp1", false), &assertion("_a1", "admin@example.org<!--x-->.evil.test", "")),
        "idp",
    );
    check(&sp, "9 signed, NameID 'admin@example.org<!--x-->.evil.test'", &r9);

    match sp.parse_xml_response_with_mode(&r9, Some(&[REQ_ID]), ReduceMode::PreDigest) {
        Ok(a) => println!("  [9b same, ReduceMode::PreDigest] ACCEPTED NameID={:?}", a.subject.and_then(|s| s.name_id).map(|n| n.value)),
        Err(e) => println!("  [9b same, ReduceMode::PreDigest] REJECTED {e}"),
    }

    // 13. signed assertion inside an unsigned Response whose Status is a failure
    let r13 = r2.replace("urn:oasis:names:tc:SAML:2.0:status:Success", "urn:oasis:names:tc:SAML:2.0:status:Responder");
    check(&sp, "13 Assertion signed, unsigned Response Status=Responder", &r13);
    let r13b = r2.replace(&format!("Destination=\"{ACS}\""), "Destination=\"https://elsewhere.test/acs\"");
    check(&sp, "13b Assertion signed, unsigned Response Destination=elsewhere", &r13b);

    // 10. low-level: reduce_xml_to_signed returns the signed subtree only
    let reduced = Crypto::reduce_xml_to_signed(&x7a, &[idp_cert.clone()], ReduceMode::ValidateAndMarkNoAncestors).unwrap();
    println!("== reduce_xml_to_signed(7a, NoAncestors) root: {}", &reduced[..reduced.len().min(160)]);

    // 11. wrong InResponseTo / replay check is the caller's job
    match sp.parse_base64_response(&B64.encode(&r1), Some(&["other-id"])) {
        Ok(_) => println!("  [11 wrong InResponseTo] ACCEPTED"),
        Err(e) => println!("  [11 wrong InResponseTo] REJECTED {e}"),
    }

    // 12. samael's own IdP signer -> samael SP (useful for unit tests without xmlsec1 CLI)
    let idp = samael::idp::IdentityProvider::from_rsa_private_key_der(
        &openssl::rsa::Rsa::private_key_from_pem(&std::fs::read(format!("{KEYS}/idp.key")).unwrap())
            .unwrap()
            .private_key_to_der()
            .unwrap(),
    )
    .unwrap();
    let resp = idp
        .sign_authn_response(&idp_cert, "bob@example.org", SP_ENTITY, ACS, IDP_ENTITY, REQ_ID, &[])
        .unwrap();
    let x12 = resp.to_string().unwrap();
    std::fs::write(format!("{WORK}/samael_idp_signed.xml"), &x12).unwrap();
    check(&sp, "12 Response built+signed by samael::idp::IdentityProvider, allowed=[RsaSha256]", &x12);
    check(&sp_any, "12b same, allowed=None", &x12);

    // 14. is the IdP certificate's validity period checked? cert with notAfter = now, then wait.
    let expired = idp
        .create_certificate(&samael::idp::CertificateParams { common_name: "test-idp", issuer_name: "test-idp", days_until_expiration: 0 })
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    let x = openssl::x509::X509::from_der(expired.der_data()).unwrap();
    println!("== expired cert notBefore={} notAfter={}", x.not_before(), x.not_after());
    let sp_exp = sp_with(EntityDescriptor::from_str(&idp_metadata_xml(Some(&B64.encode(expired.der_data())))).unwrap(), Some(vec![AllowedSignatureAlgorithm::RsaSha256]));
    let r14 = xmlsec1_sign("resp_signed14", &response(&sig_template("_resp1", false), &assertion("_a1", "alice@example.org", "")), "idp");
    check(&sp_exp, "14 signed with key whose metadata cert is EXPIRED", &r14);
}
