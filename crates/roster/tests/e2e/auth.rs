//! Authentication end to end: OAuth 2.0 client credentials (token endpoint, expiry,
//! revocation, refusal across tenants, failures limited per client), the static token
//! lifecycle (several live tokens, expiry, last use, revocation), federated JWTs from a local
//! issuer (signature, issuer, audience, times, claims, unknown keys, `alg: none`, key
//! rotation), and the authentication schemes `/ServiceProviderConfig` advertises.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::support::jwt::ec_key;
use crate::support::{TestApp, TestTenant, assert_scim_error, reply, spawn_app};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster_directory::{Federation, ShiftedClock, TokenOptions};
use roster_server::federation::Federator;
use roster_store::TenantId;
use serde_json::{Value, json};

/// Requests an access token with HTTP Basic client authentication.
async fn token_basic(
    app: &TestApp,
    id: &str,
    secret: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .basic_auth(id, Some(secret))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .expect("token request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// Requests an access token with the form's fields.
async fn token_form(app: &TestApp, form: &str) -> (u16, Value) {
    let r = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form.to_owned())
        .send()
        .await
        .expect("token request");
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A server whose clock the test moves forward.
async fn spawn_app_with_shifted_clock() -> (TestApp, Arc<ShiftedClock>) {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    (app, clock)
}

fn with_token(t: &TestTenant, token: &str) -> TestTenant {
    TestTenant {
        token: token.to_owned(),
        ..t.clone()
    }
}

fn tenant_id(t: &TestTenant) -> TenantId {
    TenantId::new(t.id.clone())
}

fn assert_invalid_token(r: &crate::support::Reply) {
    assert_scim_error(r, 401, None);
    let challenge = r
        .header("www-authenticate")
        .expect("a WWW-Authenticate header");
    assert!(
        challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
        "{challenge}"
    );
}

#[tokio::test]
async fn client_credentials_token_is_issued_used_expires_and_is_refused_elsewhere() {
    let (app, clock) = spawn_app_with_shifted_clock().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    let (client, secret) = app
        .directory
        .create_client(&tenant_id(&a), "identity provider")
        .await
        .expect("client");
    assert!(client.id.starts_with("rci_") && secret.starts_with("rcs_"));

    let (status, headers, body) = token_basic(&app, &client.id, &secret).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["expires_in"], 3600,
        "the default lifetime is 60 minutes"
    );
    assert_eq!(headers["cache-control"], "no-store");
    let access = body["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    assert!(access.starts_with("rat_"));

    let user = app
        .post(
            &with_token(&a, &access),
            "/Users",
            crate::support::user("ada@acme.test"),
        )
        .await;
    assert_eq!(
        user.status, 201,
        "the access token opens its tenant: {}",
        user.body
    );
    let r = app.get(&with_token(&b, &access), "/Users").await;
    assert_invalid_token(&r);

    // Form-field client authentication (RFC 6749 §2.3.1) works too.
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}",
        client.id, secret
    );
    let (status, body) = token_form(&app, &form).await;
    assert_eq!(status, 200, "{body}");

    // A lifetime set for the tenant is what the endpoint issues.
    app.directory
        .set_setting(&tenant_id(&a), "access-token-minutes", "120")
        .await
        .expect("setting");
    let (_, _, body) = token_basic(&app, &client.id, &secret).await;
    assert_eq!(body["expires_in"], 7200);
    let long = body["access_token"].as_str().expect("token").to_owned();

    // 61 minutes later the first token has expired; the 120-minute one still works.
    clock.advance(time::Duration::minutes(61));
    let r = app.get(&with_token(&a, &access), "/Users").await;
    assert_invalid_token(&r);
    let r = app.get(&with_token(&a, &long), "/Users").await;
    assert_eq!(r.status, 200, "{}", r.body);
    clock.advance(time::Duration::minutes(60));
    let r = app.get(&with_token(&a, &long), "/Users").await;
    assert_invalid_token(&r);
}

#[tokio::test]
async fn token_endpoint_refuses_bad_requests_with_rfc6749_errors() {
    let app = spawn_app().await;
    let a = app.tenant("acme").await;
    let (client, secret) = app
        .directory
        .create_client(&tenant_id(&a), "")
        .await
        .expect("client");

    let (status, headers, body) = token_basic(&app, &client.id, "rcs_wrong").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(headers.contains_key("www-authenticate"));
    let (status, _, body) = token_basic(&app, "rci_nobody", &secret).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_form(&app, "grant_type=client_credentials").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, body) = token_form(&app, "client_id=x&client_secret=y").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let (status, body) = token_form(
        &app,
        &format!(
            "grant_type=password&client_id={}&client_secret={secret}",
            client.id
        ),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = token_form(
        &app,
        "grant_type=client_credentials&grant_type=client_credentials",
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // A static token is not a client secret.
    let (status, _, _) = token_basic(&app, &client.id, &a.token).await;
    assert_eq!(status, 401);

    // Failures are limited per client and per address (this test's earlier failures came from
    // the same address): within ten, a wrong secret waits, and the right one is still accepted
    // (a client id is not secret; see hardening_auth.rs).
    let mut refused = None;
    for _ in 0..10 {
        let (status, headers, body) = token_basic(&app, &client.id, "rcs_guess").await;
        if status == 429 {
            refused = Some(headers);
            break;
        }
        assert_eq!(status, 401, "{body}");
    }
    let headers = refused.expect("a wrong secret waits after ten failures");
    assert!(headers.contains_key("retry-after"));
    let (status, _, body) = token_basic(&app, &client.id, &secret).await;
    assert_eq!(status, 200, "{body}");
    // Another client is not held back by this one's failures.
    let (other, other_secret) = app
        .directory
        .create_client(&tenant_id(&a), "")
        .await
        .expect("client");
    let (status, _, _) = token_basic(&app, &other.id, &other_secret).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn revoking_a_client_ends_its_tokens_at_once_here_and_within_a_second_elsewhere() {
    let (app, clock) = spawn_app_with_shifted_clock().await;
    let a = app.tenant("acme").await;
    let (client, secret) = app
        .directory
        .create_client(&tenant_id(&a), "")
        .await
        .expect("client");
    let (_, _, body) = token_basic(&app, &client.id, &secret).await;
    let access = with_token(&a, body["access_token"].as_str().expect("token"));
    assert_eq!(app.get(&access, "/Users").await.status, 200);

    // Revoked through another directory on the same database, as `roster tenant client
    // revoke` does while the server runs: the server's one-second cache is all that delays it.
    let other = crate::support::directory_on(&app.database_url).await;
    assert!(
        other
            .revoke_client(&tenant_id(&a), "rci_unknown")
            .await
            .is_err(),
        "revoking an unknown client is an error"
    );
    other
        .revoke_client(&tenant_id(&a), &client.id)
        .await
        .expect("revoke");
    // The server trusts its cached lookup for one second of its clock, no longer.
    clock.advance(time::Duration::seconds(1));
    assert_invalid_token(&app.get(&access, "/Users").await);
    let (status, _, _) = token_basic(&app, &client.id, &secret).await;
    assert_eq!(status, 401, "a revoked client gets no new token");
    assert!(
        app.directory
            .clients(&tenant_id(&a))
            .await
            .expect("clients")
            .is_empty()
    );
    assert_eq!(
        app.get(&a, "/Users").await.status,
        200,
        "static tokens still work"
    );
}

#[tokio::test]
async fn static_tokens_rotate_without_a_gap_expire_and_record_their_last_use() {
    let (app, clock) = spawn_app_with_shifted_clock().await;
    let a = app.tenant("acme").await;
    let id = tenant_id(&a);
    let first = app.directory.tokens(&id).await.expect("tokens");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].last4, a.token[a.token.len() - 4..]);

    // Rotation: a second token beside the first, both live, then the first revoked.
    let (record, second) = app
        .directory
        .issue_token(
            &id,
            &TokenOptions {
                name: "rotation".into(),
                keep_old: true,
                ..TokenOptions::default()
            },
        )
        .await
        .expect("second token");
    assert_eq!(app.get(&a, "/Users").await.status, 200);
    assert_eq!(
        app.get(&with_token(&a, &second), "/Users").await.status,
        200
    );
    let listed = app.directory.tokens(&id).await.expect("tokens");
    assert_eq!(listed.len(), 2, "two live tokens are listed");
    assert_eq!(listed[1].name, "rotation");
    app.directory
        .revoke_token(&id, &first[0].id)
        .await
        .expect("revoke");
    assert_invalid_token(&app.get(&a, "/Users").await);
    assert_eq!(
        app.get(&with_token(&a, &second), "/Users").await.status,
        200
    );
    assert_eq!(
        app.directory
            .tokens(&id)
            .await
            .expect("tokens")
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        vec![record.id.clone()]
    );
    // Another tenant cannot revoke this tenant's token.
    let b = app.tenant("globex").await;
    assert!(
        app.directory
            .revoke_token(&tenant_id(&b), &record.id)
            .await
            .is_err()
    );
    assert_eq!(
        app.get(&with_token(&a, &second), "/Users").await.status,
        200
    );

    // The use is recorded off the request's path, soon after.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = app.directory.tokens(&id).await.expect("tokens");
        if listed[0].last_used_at.is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the token's last use was never recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // An expiring token works until its expiry, then is refused as invalid_token.
    let (_, expiring) = app
        .directory
        .issue_token(
            &id,
            &TokenOptions {
                name: "a week".into(),
                expires_in: Some(time::Duration::days(7)),
                keep_old: true,
                old_expire_in: None,
            },
        )
        .await
        .expect("expiring token");
    assert_eq!(
        app.get(&with_token(&a, &expiring), "/Users").await.status,
        200
    );
    clock.advance(time::Duration::days(7) + time::Duration::seconds(1));
    assert_invalid_token(&app.get(&with_token(&a, &expiring), "/Users").await);
    assert_eq!(
        app.get(&with_token(&a, &second), "/Users").await.status,
        200,
        "a token without expiry keeps working"
    );

    // Without --keep-old, a new token replaces every other static token.
    let (_, replacement) = app
        .directory
        .issue_token(&id, &TokenOptions::default())
        .await
        .expect("replacement");
    assert_invalid_token(&app.get(&with_token(&a, &second), "/Users").await);
    assert_eq!(
        app.get(&with_token(&a, &replacement), "/Users")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn service_provider_config_lists_the_schemes_the_tenant_accepts() {
    let app = spawn_app().await;
    let a = app.tenant("acme").await;
    let schemes = |r: &crate::support::Reply| {
        r.body["authenticationSchemes"]
            .as_array()
            .expect("schemes")
            .iter()
            .map(|s| s["type"].as_str().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let spc = app.get(&a, "/ServiceProviderConfig").await;
    assert_eq!(schemes(&spc), ["oauthbearertoken"]);
    app.directory
        .create_client(&tenant_id(&a), "")
        .await
        .expect("client");
    let spc = app.get(&a, "/ServiceProviderConfig").await;
    assert_eq!(schemes(&spc), ["oauthbearertoken", "oauth2"]);
    let oauth2 = &spc.body["authenticationSchemes"][1];
    assert_eq!(oauth2["primary"], true);
    assert!(
        oauth2["description"]
            .as_str()
            .expect("description")
            .contains(&format!("{}/oauth/token", app.address))
    );
    assert_eq!(
        oauth2["documentationUri"],
        format!("{}/oauth/token", app.address)
    );
}

/// A local OpenID issuer: its configuration and a key set the test can change.
struct Issuer {
    url: String,
    keys: Arc<std::sync::Mutex<Value>>,
    fetches: Arc<AtomicUsize>,
}

async fn start_issuer(keys: Value) -> Issuer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let keys = Arc::new(std::sync::Mutex::new(keys));
    let fetches = Arc::new(AtomicUsize::new(0));
    let config = json!({
        "issuer": url,
        "jwks_uri": format!("{url}/keys"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
    });
    let served = keys.clone();
    let counted = fetches.clone();
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || {
                let config = config.clone();
                async move { axum::Json(config) }
            }),
        )
        .route(
            "/keys",
            axum::routing::get(move || {
                let keys = served.lock().expect("keys").clone();
                counted.fetch_add(1, Ordering::SeqCst);
                async move { axum::Json(keys) }
            }),
        );
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("issuer");
    });
    Issuer { url, keys, fetches }
}

/// The RS256 test key (a fixture: RSA keys are slow to generate) and its public JWK.
fn rsa_key(kid: &str) -> (EncodingKey, Value) {
    let n = include_str!("fixtures/issuer-rsa.n").trim();
    let jwk = json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": n, "e": "AQAB"});
    (
        EncodingKey::from_rsa_der(include_bytes!("fixtures/issuer-rsa.der")),
        jwk,
    )
}

fn now() -> i64 {
    roster_directory::Clock::now(&roster_directory::SystemClock).unix_timestamp()
}

fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signing")
}

#[tokio::test]
async fn federated_tokens_are_verified_against_the_trusted_issuer() {
    let (rsa, rsa_jwk) = rsa_key("rsa-1");
    let (ec, ec_jwk) = ec_key("ec-1");
    let issuer = start_issuer(json!({"keys": [rsa_jwk, ec_jwk]})).await;
    let app = TestApp::builder()
        .state(|state| {
            state.federator =
                Arc::new(Federator::new().with_refetch_interval(Duration::from_millis(0)));
        })
        .start()
        .await;
    let a = app.tenant("acme").await;
    let b = app.tenant("globex").await;
    app.directory
        .set_federation(
            &tenant_id(&a),
            Some(Federation {
                issuers: vec![issuer.url.clone()],
                audience: "api://roster-test".into(),
                subject: Some("provisioning-agent".into()),
                claims: [("tid".to_owned(), "directory-1".to_owned())]
                    .into_iter()
                    .collect(),
                jwks_uri: None,
                allow_link_local: false,
            }),
        )
        .await
        .expect("trust");
    let good = json!({
        "iss": issuer.url, "aud": "api://roster-test", "sub": "provisioning-agent",
        "tid": "directory-1", "iat": now(), "nbf": now() - 5, "exp": now() + 600,
        "jti": "assertion-1",
    });
    let with = |change: Value| {
        let mut claims = good.clone();
        for (k, v) in change.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    };

    let rs = sign(Algorithm::RS256, "rsa-1", &rsa, &good);
    let r = app.get(&with_token(&a, &rs), "/Users").await;
    assert_eq!(
        r.status, 200,
        "a good RS256 token opens the tenant: {}",
        r.body
    );
    let es = sign(Algorithm::ES256, "ec-1", &ec, &good);
    let r = app.get(&with_token(&a, &es), "/Users").await;
    assert_eq!(
        r.status, 200,
        "a good ES256 token opens the tenant: {}",
        r.body
    );
    let fetched = issuer.fetches.load(Ordering::SeqCst);
    assert_eq!(fetched, 1, "the issuer's keys are fetched once and cached");

    let refused = [
        (
            "a wrong audience",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"aud": "api://other"})),
            ),
        ),
        (
            "a wrong issuer",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"iss": "https://evil.example"})),
            ),
        ),
        (
            "an expired token",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"exp": now() - 3600, "nbf": now() - 7200})),
            ),
        ),
        (
            "a token not valid yet",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"nbf": now() + 3600})),
            ),
        ),
        (
            "no expiry",
            sign(Algorithm::RS256, "rsa-1", &rsa, &with(json!({"exp": null}))),
        ),
        (
            "a wrong subject",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"sub": "someone-else"})),
            ),
        ),
        (
            "a missing tenant claim",
            sign(Algorithm::RS256, "rsa-1", &rsa, &with(json!({"tid": null}))),
        ),
        (
            "a wrong tenant claim",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &rsa,
                &with(json!({"tid": "directory-2"})),
            ),
        ),
    ];
    for (what, token) in &refused {
        let r = app.get(&with_token(&a, token), "/Users").await;
        assert_eq!(r.status, 401, "{what} must be refused: {}", r.body);
        assert_invalid_token(&r);
    }

    // A key the issuer does not publish, under a published kid and under an unknown one.
    let (stranger, _) = ec_key("ec-1");
    let forged = sign(Algorithm::ES256, "ec-1", &stranger, &good);
    assert_invalid_token(&app.get(&with_token(&a, &forged), "/Users").await);
    let (unknown, _) = ec_key("ec-unknown");
    let unknown = sign(Algorithm::ES256, "ec-unknown", &unknown, &good);
    let r = app.get(&with_token(&a, &unknown), "/Users").await;
    assert_invalid_token(&r);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("key"),
        "{}",
        r.body
    );

    // `alg: none`, and an HMAC token keyed with the public key, are refused.
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(good.to_string())
    );
    assert_invalid_token(&app.get(&with_token(&a, &none), "/Users").await);
    let hs = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &good,
        &EncodingKey::from_secret(b"public material"),
    )
    .expect("hs256");
    assert_invalid_token(&app.get(&with_token(&a, &hs), "/Users").await);

    // The right token on a tenant that trusts no issuer is refused.
    assert_invalid_token(&app.get(&with_token(&b, &rs), "/Users").await);

    // Workload identity federation as Entra sends it (RFC 7523 §2.2): the trusted issuer's
    // JWT authenticates one of the tenant's clients at the token endpoint, for an access
    // token.
    let (client, _) = app
        .directory
        .create_client(&tenant_id(&a), "federated")
        .await
        .expect("client");
    let assertion_form = |client_id: &str, jwt: &str| {
        format!(
            "grant_type=client_credentials&client_id={client_id}\
             &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
             &client_assertion={jwt}&scope=scim"
        )
    };
    let (status, body) = token_form(&app, &assertion_form(&client.id, &rs)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "scim");
    let exchanged = body["access_token"]
        .as_str()
        .expect("access token")
        .to_owned();
    let r = app.get(&with_token(&a, &exchanged), "/Users").await;
    assert_eq!(
        r.status, 200,
        "the exchanged token opens the tenant: {}",
        r.body
    );
    for (what, jwt) in &refused {
        let (status, body) = token_form(&app, &assertion_form(&client.id, jwt)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client")),
            "an assertion with {what} must be refused: {body}"
        );
    }
    let (status, body) = token_form(&app, &assertion_form(&client.id, &none)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // RFC 7523 §2.1: the JWT bearer grant, naming the client (with an assertion of its own:
    // one is accepted once).
    let grant = sign(
        Algorithm::ES256,
        "ec-1",
        &ec,
        &with(json!({"jti": "assertion-2"})),
    );
    let (status, body) = token_form(
        &app,
        &format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={grant}&client_id={}",
            client.id
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // A client of a tenant that trusts no issuer gets nothing for the same assertion.
    let (b_client, _) = app
        .directory
        .create_client(&tenant_id(&b), "")
        .await
        .expect("client");
    let (status, body) = token_form(&app, &assertion_form(&b_client.id, &rs)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    // A secret and an assertion at once is one method too many.
    let (status, body) = token_form(
        &app,
        &format!("{}&client_secret=rcs_x", assertion_form(&client.id, &rs)),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );

    // Key rotation: a new key published by the issuer is found by fetching again.
    let (rotated, rotated_jwk) = ec_key("ec-2");
    issuer.keys.lock().expect("keys")["keys"]
        .as_array_mut()
        .expect("keys")
        .push(rotated_jwk);
    // (A token of its own: `good` was traded as a client assertion above, and a used
    // assertion opens nothing more.)
    let mut rotated_claims = good.clone();
    rotated_claims["jti"] = json!("bearer-rotated");
    let fresh = sign(Algorithm::ES256, "ec-2", &rotated, &rotated_claims);
    let r = app.get(&with_token(&a, &fresh), "/Users").await;
    assert_eq!(r.status, 200, "a rotated-in key is fetched: {}", r.body);

    // Trust removed: the same good token stops working.
    app.directory
        .set_federation(&tenant_id(&a), None)
        .await
        .expect("untrust");
    assert_invalid_token(&app.get(&with_token(&a, &rs), "/Users").await);
}

#[tokio::test]
async fn unknown_key_ids_do_not_make_roster_hammer_the_issuer() {
    let (ec, ec_jwk) = ec_key("ec-1");
    let issuer = start_issuer(json!({"keys": [ec_jwk]})).await;
    let app = spawn_app().await;
    let a = app.tenant("acme").await;
    app.directory
        .set_federation(
            &tenant_id(&a),
            Some(Federation {
                issuers: vec![issuer.url.clone()],
                audience: "api://roster-test".into(),
                subject: None,
                claims: Default::default(),
                jwks_uri: None,
                allow_link_local: false,
            }),
        )
        .await
        .expect("trust");
    let claims = json!({"iss": issuer.url, "aud": "api://roster-test", "exp": now() + 600});
    let good = sign(Algorithm::ES256, "ec-1", &ec, &claims);
    assert_eq!(app.get(&with_token(&a, &good), "/Users").await.status, 200);
    for i in 0..20 {
        let (key, _) = ec_key("x");
        let token = sign(Algorithm::ES256, &format!("made-up-{i}"), &key, &claims);
        assert_invalid_token(&app.get(&with_token(&a, &token), "/Users").await);
    }
    assert_eq!(
        issuer.fetches.load(Ordering::SeqCst),
        1,
        "made-up key ids within ten seconds of a fetch do not fetch again"
    );
}

#[tokio::test]
async fn a_missing_token_is_challenged_without_an_error_code() {
    let app = spawn_app().await;
    let a = app.tenant("acme").await;
    let r = reply(
        app.http
            .get(format!("{}/Users", a.base))
            .send()
            .await
            .expect("request"),
    )
    .await;
    assert_scim_error(&r, 401, None);
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer realm=\"roster\""),
        "RFC 6750 §3.1: no error code when the request had no credentials"
    );
}
