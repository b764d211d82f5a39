//! Two-step sign-in for operators: time-based one-time passwords (RFC 6238) as every
//! authenticator app reads them from an `otpauth://` URI: HMAC-SHA1, six digits, 30-second
//! steps. A code is accepted for the step before, the current one and the one after (a
//! phone's clock may be a little off), and each step once (the store records the last).

use totp_rs::{Algorithm, Builder, Secret, Totp};

use crate::DirectoryError;

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits per code.
pub const DIGITS: usize = 6;
/// Bytes of a new secret (160 bits, as RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;

/// A secret ready to be shown to an operator who turns two-step sign-in on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolment {
    /// The secret in base32, to type into an app by hand.
    pub secret: String,
    /// The `otpauth://totp/…` URI a QR code carries.
    pub uri: String,
}

fn totp(secret: &[u8], account: &str) -> Result<Totp, DirectoryError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(1)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret.to_vec())
        .with_issuer(Some("Roster"))
        .with_account_name(account)
        .build()
        .map_err(|e| DirectoryError::Setting(format!("a TOTP secret: {e}")))
}

/// The secret's bytes from its base32 text (spaces and case ignored).
pub fn decode(text: &str) -> Result<Vec<u8>, DirectoryError> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let secret = Secret::try_from_base32(compact)
        .map_err(|_| DirectoryError::Setting("the TOTP secret is not base32".into()))?;
    let bytes = secret.as_bytes().to_vec();
    if bytes.len() < 16 {
        return Err(DirectoryError::Setting(
            "the TOTP secret is shorter than 128 bits".into(),
        ));
    }
    Ok(bytes)
}

/// What an operator's authenticator app is given for `secret`.
pub fn enrolment(secret: &[u8], account: &str) -> Result<Enrolment, DirectoryError> {
    let t = totp(secret, account)?;
    Ok(Enrolment {
        secret: t.secret().to_base32(),
        uri: t
            .to_url()
            .map_err(|e| DirectoryError::Setting(format!("a TOTP URI: {e}")))?,
    })
}

/// The code of `secret` for the step that holds `unix_seconds`.
pub fn code_at(secret: &[u8], unix_seconds: u64) -> Result<String, DirectoryError> {
    Ok(totp(secret, "")?.generate(unix_seconds).to_string())
}

/// The time step `code` is right for at `unix_seconds` (the one before, the current one or
/// the one after), if any. A code that is not six digits matches nothing.
pub fn matching_step(
    secret: &[u8],
    code: &str,
    unix_seconds: u64,
) -> Result<Option<i64>, DirectoryError> {
    let code: String = code.chars().filter(|c| *c != ' ').collect();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let step = totp(secret, "")?.check(&code, unix_seconds);
    Ok(step.and_then(|s| i64::try_from(s).ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key, "12345678901234567890".
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn the_rfc_6238_vectors_cut_to_six_digits() {
        // Appendix B: 94287082, 07081804, 14050471, 89005924, 69279037, 65353130 (8 digits);
        // six digits are their last six (RFC 4226 section 5.3).
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(code_at(RFC_KEY, time).unwrap(), code, "at {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_its_neighbours_only() {
        let at = 1_234_567_890;
        let step = i64::try_from(at / STEP_SECONDS).unwrap();
        let code = code_at(RFC_KEY, at).unwrap();
        assert_eq!(matching_step(RFC_KEY, &code, at).unwrap(), Some(step));
        assert_eq!(
            matching_step(RFC_KEY, &code, at + STEP_SECONDS).unwrap(),
            Some(step),
            "a code from the step before"
        );
        assert_eq!(
            matching_step(RFC_KEY, &code, at - STEP_SECONDS).unwrap(),
            Some(step),
            "a code from the step after (a clock ahead)"
        );
        assert_eq!(
            matching_step(RFC_KEY, &code, at + 3 * STEP_SECONDS).unwrap(),
            None,
            "a code from a minute and a half ago"
        );
        assert_eq!(
            matching_step(RFC_KEY, &format!("{} {}", &code[..3], &code[3..]), at).unwrap(),
            Some(step),
            "spaces as apps show them"
        );
        for wrong in ["", "12345", "1234567", "abcdef", "00592４"] {
            assert_eq!(
                matching_step(RFC_KEY, wrong, at).unwrap(),
                None,
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn a_secret_round_trips_through_its_text_and_uri() {
        let e = enrolment(RFC_KEY, "ops@example.com").unwrap();
        assert_eq!(e.secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert!(
            e.uri
                .starts_with("otpauth://totp/Roster:ops%40example.com?"),
            "{}",
            e.uri
        );
        assert!(e.uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"));
        assert!(e.uri.contains("issuer=Roster"));
        assert_eq!(
            decode("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            RFC_KEY
        );
        assert!(decode("not base32!").is_err());
        assert!(decode("GEZDGNBV").is_err(), "too short");
    }
}
