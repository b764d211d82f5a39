//! Tokens sealed with the server key: shown again with the key that sealed them, never with
//! another; a process whose keys do not fit the database is refused at start; a rotation
//! moves every sealed token and operator TOTP secret to the new key.

use roster_directory::sealing::{Keyring, ServerKey};
use roster_directory::totp;
use roster_directory::{Directory, DirectoryError, SystemSecrets, TokenOptions};

use crate::Fixture;

fn ring() -> Keyring {
    Keyring::new(ServerKey::generate(&SystemSecrets))
}

#[tokio::test]
async fn a_token_is_shown_again_only_with_the_key_that_sealed_it() {
    let f = Fixture::new().await;
    let (tenant, unsealed) = f.tenant("Contoso").await;
    let first = f.directory.tokens(&tenant).await.unwrap()[0].id.clone();
    let key = ring();
    let sealing = f.directory.clone().with_keyring(key.clone());
    sealing.check_keys().await.unwrap();
    let (record, token) = sealing
        .issue_token(
            &tenant,
            &TokenOptions {
                keep_old: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        sealing.reveal_token(&tenant, &record.id).await.unwrap(),
        token
    );
    // Never in clear in the database.
    assert!(
        record
            .sealed
            .as_ref()
            .is_some_and(|s| !s.windows(token.len()).any(|w| w == token.as_bytes()))
    );
    // A token issued before tokens were sealed cannot be shown; it says why.
    let e = sealing.reveal_token(&tenant, &first).await.unwrap_err();
    assert!(
        matches!(e, DirectoryError::Sealing(ref m) if m.contains("rotate it")),
        "{e}"
    );
    assert_ne!(unsealed, token);
    // Another tenant's path does not open it.
    let (other, _) = f.tenant("Fabrikam").await;
    assert!(matches!(
        sealing.reveal_token(&other, &record.id).await,
        Err(DirectoryError::NotFound { .. })
    ));
    // Another key does not open it, and a process with that key alone is refused at start.
    let stranger = f.directory.clone().with_keyring(ring());
    assert!(matches!(
        stranger.reveal_token(&tenant, &record.id).await,
        Err(DirectoryError::Sealing(_))
    ));
    let e = stranger.check_keys().await.unwrap_err().to_string();
    assert!(e.contains(&key.current().id()), "{e}");
    let keyless = f.directory.clone();
    assert!(keyless.check_keys().await.is_err());
}

#[tokio::test]
async fn a_rotation_moves_every_sealed_token_to_the_new_key() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let old = ring();
    let before = f.directory.clone().with_keyring(old.clone());
    before.check_keys().await.unwrap();
    let (record, token) = before
        .issue_token(&tenant, &TokenOptions::default())
        .await
        .unwrap();
    // An operator with two-step sign-in: its TOTP secret is sealed too.
    let invite = before.operator_invite().await.unwrap();
    let operator = before
        .create_operator(&invite, "ops@example.com", "correct horse battery")
        .await
        .unwrap()
        .unwrap();
    let enrolment = before.new_totp(&operator).unwrap();
    let key = totp::decode(&enrolment.secret).unwrap();
    let unix = |d: &Directory| u64::try_from(d.clock().now().unix_timestamp()).unwrap();
    let code = totp::code_at(&key, unix(&before)).unwrap();
    assert!(
        before
            .enable_totp(&operator, &enrolment.secret, &code)
            .await
            .unwrap()
    );
    let new = ServerKey::generate(&SystemSecrets);
    let both = Keyring::parse(&format!("{},{}", new.to_text(), old.to_text())).unwrap();
    let during = f.directory.clone().with_keyring(both);
    during.check_keys().await.unwrap();
    assert_eq!(
        during.reseal().await.unwrap(),
        2,
        "the token and the TOTP secret"
    );
    let after = f.directory.clone().with_keyring(Keyring::new(new));
    after.check_keys().await.unwrap();
    assert_eq!(
        after.reveal_token(&tenant, &record.id).await.unwrap(),
        token
    );
    f.clock.advance(time::Duration::seconds(30));
    let operator = after.operator(&operator.id).await.unwrap().unwrap();
    let code = totp::code_at(&key, unix(&after)).unwrap();
    assert!(
        after.check_totp(&operator, &code).await.unwrap(),
        "the new key alone opens the operator's secret"
    );
    // The old key alone no longer fits.
    assert!(before.check_keys().await.is_err());
}
