//! Standard Webhooks signatures: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, one per
//! secret that signs at the time of sending.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use roster_store::WebhookRecord;
use sha2::Sha256;

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each
/// secret that signs now (the current one, and the previous one during a rotation's overlap),
/// separated by spaces. A secret that is not `whsec_` and base64 signs nothing.
pub fn signature(secrets: &[&str], id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let key = STANDARD
                .decode(secret.strip_prefix("whsec_").unwrap_or(secret))
                .ok()?;
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(id.as_bytes());
            mac.update(b".");
            mac.update(timestamp.to_string().as_bytes());
            mac.update(b".");
            mac.update(body);
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The secrets of `webhook` that sign at `now` (milliseconds since the epoch): the current
/// one, and the previous one until its overlap ends.
pub fn signing_secrets(webhook: &WebhookRecord, now: i64) -> Vec<&str> {
    let mut secrets = vec![webhook.secret.as_str()];
    if let (Some(previous), Some(until)) = (&webhook.previous_secret, webhook.previous_until)
        && now < until
    {
        secrets.push(previous);
    }
    secrets
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification.
    #[test]
    fn signatures_match_the_specification_example() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn both_secrets_sign_during_an_overlap_each_with_its_own_mac() {
        let spec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        let both = signature(
            &["whsec_AAAA", spec],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2, "{both}");
        assert_eq!(parts[1], "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert_ne!(parts[0], parts[1]);
        assert!(parts[0].starts_with("v1,"));
    }

    #[test]
    fn a_secret_that_is_not_base64_signs_nothing() {
        assert_eq!(signature(&["whsec_not base64!"], "id", 1, b"{}"), "");
    }

    fn webhook(previous_until: Option<i64>) -> WebhookRecord {
        WebhookRecord {
            id: "wh".into(),
            url: "http://127.0.0.1/hook".into(),
            tenant_id: None,
            secret: "whsec_new".into(),
            previous_secret: previous_until.map(|_| "whsec_old".into()),
            previous_until,
            created_at: 0,
            allow_link_local: false,
        }
    }

    #[test]
    fn the_previous_secret_signs_until_its_overlap_ends() {
        let w = webhook(Some(1_000));
        assert_eq!(signing_secrets(&w, 999), ["whsec_new", "whsec_old"]);
        assert_eq!(signing_secrets(&w, 1_000), ["whsec_new"]);
        assert_eq!(signing_secrets(&webhook(None), 0), ["whsec_new"]);
    }
}
