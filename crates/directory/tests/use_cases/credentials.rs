//! Static tokens, OAuth access tokens and API keys: expiry, revocation, and how long another
//! process may still trust a revoked token.

use roster_directory::{DirectoryError, TokenOptions};
use time::Duration;

use crate::Fixture;

fn expiring_in(d: Duration) -> TokenOptions {
    TokenOptions {
        name: "ci".into(),
        expires_in: Some(d),
        keep_old: true,
        old_expire_in: None,
    }
}

#[tokio::test]
async fn a_token_works_until_its_expiry_and_not_after() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let (_, token) = f
        .directory
        .issue_token(&tenant, &expiring_in(Duration::hours(1)))
        .await
        .unwrap();
    f.clock
        .advance(Duration::hours(1) - Duration::milliseconds(300));
    assert!(f.directory.authenticate(&token).await.unwrap().is_some());
    // Cached a moment ago, and the cache still young: the expiry wins.
    f.clock.advance(Duration::milliseconds(400));
    assert!(f.directory.authenticate(&token).await.unwrap().is_none());
}

#[tokio::test]
async fn a_revoked_token_stops_at_once_here_and_within_the_cache_second_elsewhere() {
    let f = Fixture::new().await;
    let (tenant, first) = f.tenant("Contoso").await;
    let (record, token) = f
        .directory
        .issue_token(&tenant, &expiring_in(Duration::days(30)))
        .await
        .unwrap();
    let (other, other_clock) = f.other_process().await;
    assert!(f.directory.authenticate(&token).await.unwrap().is_some());
    assert!(other.authenticate(&token).await.unwrap().is_some());
    f.directory.revoke_token(&tenant, &record.id).await.unwrap();
    assert!(f.directory.authenticate(&token).await.unwrap().is_none());
    other_clock.advance(Duration::seconds(1));
    assert!(other.authenticate(&token).await.unwrap().is_none());
    // The tenant's other token is untouched.
    assert!(other.authenticate(&first).await.unwrap().is_some());
}

#[tokio::test]
async fn a_new_token_without_keep_old_ends_the_others() {
    let f = Fixture::new().await;
    let (tenant, first) = f.tenant("Contoso").await;
    assert!(f.directory.authenticate(&first).await.unwrap().is_some());
    let (_, second) = f
        .directory
        .issue_token(&tenant, &TokenOptions::default())
        .await
        .unwrap();
    assert!(f.directory.authenticate(&first).await.unwrap().is_none());
    assert!(f.directory.authenticate(&second).await.unwrap().is_some());
}

#[tokio::test]
async fn a_rotation_with_a_grace_period_ends_the_old_tokens_when_it_ends() {
    let f = Fixture::new().await;
    let (tenant, first) = f.tenant("Contoso").await;
    assert!(f.directory.authenticate(&first).await.unwrap().is_some());
    let options = TokenOptions {
        name: "rotated".into(),
        expires_in: None,
        keep_old: true,
        old_expire_in: Some(Duration::hours(1)),
    };
    let (_, second) = f.directory.issue_token(&tenant, &options).await.unwrap();
    f.clock.advance(Duration::minutes(59));
    assert!(
        f.directory.authenticate(&first).await.unwrap().is_some(),
        "the old token works during the grace period"
    );
    f.clock.advance(Duration::minutes(1));
    assert!(
        f.directory.authenticate(&first).await.unwrap().is_none(),
        "and stops when it ends, although it was cached a minute ago"
    );
    f.clock.advance(Duration::days(365));
    assert!(
        f.directory.authenticate(&second).await.unwrap().is_some(),
        "the new token has no expiry"
    );
}

#[tokio::test]
async fn an_access_token_lives_as_long_as_it_says_and_dies_with_its_client() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let (client, secret) = f.directory.create_client(&tenant, "okta").await.unwrap();
    let issued = f
        .directory
        .client_credentials(&client.id, &secret)
        .await
        .unwrap()
        .expect("the right secret");
    assert_eq!(issued.expires_in, 3600, "the default lifetime is an hour");
    f.clock
        .advance(Duration::seconds(issued.expires_in) - Duration::seconds(1));
    assert!(
        f.directory
            .authenticate(&issued.token)
            .await
            .unwrap()
            .is_some()
    );
    f.clock.advance(Duration::seconds(2));
    assert!(
        f.directory
            .authenticate(&issued.token)
            .await
            .unwrap()
            .is_none()
    );

    let again = f
        .directory
        .client_credentials(&client.id, &secret)
        .await
        .unwrap()
        .expect("the right secret");
    assert!(
        f.directory
            .authenticate(&again.token)
            .await
            .unwrap()
            .is_some()
    );
    f.directory
        .revoke_client(&tenant, &client.id)
        .await
        .unwrap();
    assert!(
        f.directory
            .authenticate(&again.token)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        f.directory
            .client_credentials(&client.id, &secret)
            .await
            .unwrap()
            .is_err(),
        "a revoked client gets no token"
    );
}

#[tokio::test]
async fn revoking_what_does_not_exist_names_it() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let e = f
        .directory
        .revoke_token(&tenant, "tok_nope")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, DirectoryError::NotFound { kind: "Token", id } if id == "tok_nope"),
        "{e:?}"
    );
    let e = f.directory.revoke_api_key("key_nope").await.unwrap_err();
    assert!(
        matches!(
            &e,
            DirectoryError::NotFound {
                kind: "API key",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_revoked_api_key_stops_at_once() {
    let f = Fixture::new().await;
    let (record, key) = f.directory.create_api_key("host app", &[]).await.unwrap();
    let found = f.directory.authenticate_api_key(&key).await.unwrap();
    assert_eq!(
        found.map(|k| k.scopes),
        Some(vec!["events:read".to_owned(), "directory:read".to_owned()])
    );
    f.directory.revoke_api_key(&record.id).await.unwrap();
    assert!(
        f.directory
            .authenticate_api_key(&key)
            .await
            .unwrap()
            .is_none()
    );
}
