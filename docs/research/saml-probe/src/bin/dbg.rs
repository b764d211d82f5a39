//! Debug helper: show the raw CryptoProvider error/result for a signed XML file.
use samael::crypto::{AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode};
fn main() {
    let path = std::env::args().nth(1).unwrap();
    let xml = std::fs::read_to_string(&path).unwrap();
    let pem = std::fs::read("/tmp/saml-probe/keys/idp.crt").unwrap();
    let cert: CertificateDer = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap().into();
    for (label, algs) in [("allowed=None", None), ("allowed=[RsaSha256]", Some(&[AllowedSignatureAlgorithm::RsaSha256][..]))] {
        for mode in [ReduceMode::ValidateAndMarkNoAncestors, ReduceMode::PreDigest, ReduceMode::ValidateAndMark] {
            match Crypto::reduce_xml_to_signed_with_allowed_algorithms(&xml, &[cert.clone()], mode, algs) {
                Ok(s) => println!("{label} {mode:?}: OK -> {}", s.replace('\n', " ").chars().take(1200).collect::<String>()),
                Err(e) => {
                    let mut msg = format!("{e}");
                    let mut cur = std::error::Error::source(&e);
                    while let Some(s) = cur { msg.push_str(&format!(" <- {s}")); cur = s.source(); }
                    println!("{label} {mode:?}: ERR {msg}");
                }
            }
        }
    }
}
