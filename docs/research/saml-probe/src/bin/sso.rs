//! End-to-end helper against a live IdP.
//!   sso request <idp-metadata.xml>                      -> prints "<request-id>\n<redirect-url>"
//!   sso verify  <idp-metadata.xml> <request-id> <file>  -> verifies base64 SAMLResponse in <file>
use samael::crypto::AllowedSignatureAlgorithm;
use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
use samael::service_provider::ServiceProviderBuilder;
use std::str::FromStr;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let md = EntityDescriptor::from_str(&std::fs::read_to_string(&a[2]).unwrap()).expect("IdP metadata");
    let sp_key = openssl::pkey::PKey::private_key_from_pem(&std::fs::read("/tmp/saml-probe/keys/sp.key").unwrap()).unwrap();
    let sp_cert = openssl::x509::X509::from_pem(&std::fs::read("/tmp/saml-probe/keys/sp.crt").unwrap()).unwrap().to_der().unwrap();
    let sp = ServiceProviderBuilder::default()
        .entity_id("https://roster.test/saml/metadata".to_string())
        .key(sp_key)
        .certificate(Some(sp_cert.into()))
        .acs_url("http://127.0.0.1:8080/saml/acs".to_string())
        .slo_url("http://127.0.0.1:8080/saml/slo".to_string())
        .idp_metadata(md)
        .allowed_signature_algorithms(Some(vec![AllowedSignatureAlgorithm::RsaSha256]))
        .build()
        .unwrap();
    match a[1].as_str() {
        "request" => {
            let sso = sp.sso_binding_location(HTTP_REDIRECT_BINDING).expect("IdP has no HTTP-Redirect SSO endpoint");
            let req = sp.make_authentication_request(&sso).unwrap();
            println!("{}\n{}", req.id, req.redirect("relay-1").unwrap().unwrap());
        }
        "verify" => {
            let b64 = std::fs::read_to_string(&a[4]).unwrap();
            let b64: String = b64.split_whitespace().collect();
            match sp.parse_base64_response(&b64, Some(&[a[3].as_str()])) {
                Ok(asr) => {
                    println!("VERIFIED assertion ID={} issuer={:?}", asr.id, asr.issuer.value);
                    println!("  NameID={:?}", asr.subject.as_ref().and_then(|s| s.name_id.as_ref()).map(|n| (&n.format, &n.value)));
                    for st in asr.attribute_statements.iter().flatten() {
                        for at in &st.attributes {
                            println!("  attr {:?} = {:?}", at.name, at.values.iter().map(|v| v.value.clone()).collect::<Vec<_>>());
                        }
                    }
                }
                Err(e) => {
                    println!("REJECTED: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => panic!("usage"),
    }
}
