//! Hardening of authentication (issue 14): the token endpoint's failure limits never refuse
//! the correct secret, and limit wrong ones per client id and per source address; webhook
//! endpoints and trusted issuers on link-local or cloud-metadata addresses are refused unless
//! the operator passes --allow-link-local; a trusted issuer's keys are not taken from where a
//! redirect points; the token endpoint accepts only the scope Roster defines; federated JWTs
//! valid for more than a day are refused; a client assertion is accepted once; refused
//! authentications are logged with the tenant and the reason, never the secret.

use std::sync::Arc;

use crate::support::TestApp;
use crate::support::jwt::ec_key;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use roster_directory::{Clock, Federation, ShiftedClock};
use roster_store::TenantId;
use serde_json::{Value, json};

/// A server whose clock the test moves, served the way `roster serve` serves it
/// (`roster_server::serve`): with each request's peer address in its extensions
/// (`ConnectInfo`), so that limits per address apply.
async fn spawn_app_with_peer_addresses(clock: Arc<dyn Clock>) -> TestApp {
    TestApp::builder().clock(clock).start().await
}

/// Asks for an access token with HTTP Basic client authentication: the status, the
/// `Retry-After` header and the body.
async fn token(app: &TestApp, id: &str, secret: &str) -> (u16, Option<String>, Value) {
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
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, retry, r.json().await.unwrap_or(Value::Null))
}

async fn client_of(app: &TestApp, tenant: &str) -> (String, String) {
    let t = app.tenant(tenant).await;
    let (client, secret) = app
        .directory
        .create_client(&TenantId::new(t.id), "")
        .await
        .expect("client");
    (client.id, secret)
}

#[tokio::test]
async fn wrong_secrets_for_a_client_id_no_longer_lock_out_its_correct_secret() {
    for app in [
        spawn_app_with_peer_addresses(Arc::new(ShiftedClock::default())).await,
        TestApp::builder()
            .clock(Arc::new(ShiftedClock::default()))
            .start()
            .await,
    ] {
        let (id, secret) = client_of(&app, "acme").await;
        for _ in 0..12 {
            let (status, _, _) = token(&app, &id, "rcs_wrong").await;
            assert!(status == 401 || status == 429, "{status}");
        }
        let (status, _, body) = token(&app, &id, &secret).await;
        assert_eq!(status, 200, "the correct secret is always accepted: {body}");
        assert!(body["access_token"].as_str().is_some(), "{body}");
    }
}

#[tokio::test]
async fn wrong_secrets_are_limited_per_client_id_until_the_window_passes() {
    // Served without peer addresses: the limit per client id still applies.
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let (id, secret) = client_of(&app, "acme").await;
    for n in 1..=10 {
        let (status, _, body) = token(&app, &id, "rcs_wrong").await;
        assert_eq!(status, 401, "failure {n} is answered 401: {body}");
    }
    let (status, retry, body) = token(&app, &id, "rcs_wrong").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "invalid_client", "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=61).contains(&retry), "{retry}");
    let (status, _, _) = token(&app, &id, &secret).await;
    assert_eq!(status, 200);

    clock.advance(time::Duration::seconds(61));
    let (status, _, body) = token(&app, &id, "rcs_wrong").await;
    assert_eq!(
        status, 401,
        "after the window a wrong secret is 401 again: {body}"
    );
}

#[tokio::test]
async fn wrong_secrets_from_one_address_are_limited_across_client_ids() {
    let clock = Arc::new(ShiftedClock::default());
    let app = spawn_app_with_peer_addresses(clock.clone()).await;
    let (id, secret) = client_of(&app, "acme").await;
    // Ten client ids, one failure each: no client id reaches its limit, the address does.
    for n in 0..10 {
        let (status, _, body) = token(&app, &format!("rci_guess{n}"), "rcs_wrong").await;
        assert_eq!(status, 401, "{body}");
    }
    let (status, retry, body) = token(&app, "rci_another", "rcs_wrong").await;
    assert_eq!(
        status, 429,
        "the 11th failure from one address waits: {body}"
    );
    assert!(retry.is_some(), "429 without Retry-After");
    let (status, _, body) = token(&app, &id, &secret).await;
    assert_eq!(
        status, 200,
        "the correct secret from that address is accepted: {body}"
    );

    clock.advance(time::Duration::seconds(61));
    let (status, _, body) = token(&app, "rci_another", "rcs_wrong").await;
    assert_eq!(
        status, 401,
        "after the window a wrong secret is 401 again: {body}"
    );
}

/// Runs `roster` with `args` on the app's database: whether it succeeded, and its stderr.
fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = crate::support::process::roster(&app.database_url)
        .args(args)
        .output()
        .expect("run roster");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn webhook_add_refuses_link_local_and_metadata_addresses_without_the_flag() {
    let app = crate::support::spawn_app().await;
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/hook",
        "http://metadata.google.internal/computeMetadata/v1/",
    ] {
        let (ok, stderr) = cli(&app, &["webhook", "add", url]);
        assert!(!ok, "{url} must be refused");
        assert!(
            stderr.contains("--allow-link-local") && stderr.contains("Roster sends no requests"),
            "the refusal names the address policy and the flag: {stderr}"
        );
    }
    let (ok, stderr) = cli(
        &app,
        &[
            "webhook",
            "add",
            "http://169.254.169.254/hook",
            "--allow-link-local",
        ],
    );
    assert!(ok, "accepted with --allow-link-local: {stderr}");
    let (ok, stderr) = cli(&app, &["webhook", "add", "http://10.0.0.5/hook"]);
    assert!(ok, "a private address stays allowed: {stderr}");
    let hooks = app.directory.webhooks().await.expect("webhooks");
    let allowing: Vec<_> = hooks
        .iter()
        .map(|w| (w.url.as_str(), w.allow_link_local))
        .collect();
    assert_eq!(
        allowing,
        [
            ("http://169.254.169.254/hook", true),
            ("http://10.0.0.5/hook", false)
        ],
        "the flag is kept with the endpoint, so deliveries allow it too"
    );
}

#[tokio::test]
async fn tenant_trust_refuses_link_local_and_metadata_issuers_without_the_flag() {
    let app = crate::support::spawn_app().await;
    let t = app.tenant("acme").await;
    let trust = |issuer: &str, extra: &[&str]| {
        let mut args = vec![
            "tenant",
            "trust",
            &t.id,
            "--issuer",
            issuer,
            "--audience",
            "api://x",
        ];
        args.extend_from_slice(extra);
        cli(&app, &args)
    };
    let (ok, stderr) = trust("https://169.254.169.254/", &[]);
    assert!(!ok, "a metadata issuer must be refused");
    assert!(
        stderr.contains("169.254.169.254") && stderr.contains("--allow-link-local"),
        "{stderr}"
    );
    let (ok, stderr) = trust(
        "https://issuer.example.com/",
        &["--jwks-uri", "https://[fd00:ec2::254]/keys"],
    );
    assert!(!ok, "a metadata key URL must be refused");
    assert!(stderr.contains("--allow-link-local"), "{stderr}");

    let (ok, stderr) = trust("https://10.0.0.5/", &[]);
    assert!(ok, "a private address stays allowed: {stderr}");
    let (ok, stderr) = trust("https://169.254.169.254/", &["--allow-link-local"]);
    assert!(ok, "accepted with --allow-link-local: {stderr}");
    let ctx = app
        .directory
        .tenant_context(&TenantId::new(t.id.clone()))
        .await
        .expect("tenant")
        .expect("tenant");
    assert!(
        ctx.settings
            .federation
            .as_ref()
            .expect("trusted")
            .allow_link_local,
        "the flag is kept with the trust, so key fetches allow it too"
    );
}

fn sign(kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, key).expect("signing")
}

fn unix_now() -> i64 {
    Clock::now(&roster_directory::SystemClock).unix_timestamp()
}

/// Serves `router` on a loopback port 0; returns its base URL.
async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    url
}

fn trusting(issuer: &str) -> Federation {
    Federation {
        issuers: vec![issuer.to_owned()],
        audience: "api://roster-test".into(),
        subject: None,
        claims: Default::default(),
        jwks_uri: None,
        allow_link_local: false,
    }
}

#[tokio::test]
async fn jwks_behind_a_redirect_is_not_trusted() {
    use axum::response::Redirect;
    use axum::routing::get;
    // The issuer's key set answers with a redirect to a key set holding the attacker's key.
    let (attacker, attacker_jwk) = ec_key("k1");
    let attacker_keys = json!({"keys": [attacker_jwk]});
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("addr"));
    let config = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/keys")});
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(config) }),
        )
        .route("/keys", get(|| async { Redirect::to("/elsewhere") }))
        .route(
            "/elsewhere",
            get(move || async move { axum::Json(attacker_keys) }),
        );
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("issuer");
    });
    // A second issuer whose OpenID configuration itself is a redirect to the first one's.
    let first = issuer.clone();
    let moved =
        serve(axum::Router::new().route(
            "/.well-known/openid-configuration",
            get(move || async move {
                Redirect::to(&format!("{first}/.well-known/openid-configuration"))
            }),
        ))
        .await;

    let app = crate::support::spawn_app().await;
    for issuer in [issuer, moved] {
        let t = app.tenant(&format!("t-{}", issuer.len())).await;
        app.directory
            .set_federation(&TenantId::new(t.id.clone()), Some(trusting(&issuer)))
            .await
            .expect("trust");
        let token = sign(
            "k1",
            &attacker,
            &json!({"iss": issuer, "aud": "api://roster-test", "sub": "x",
                    "iat": unix_now(), "exp": unix_now() + 600}),
        );
        let r = app
            .get(&crate::support::TestTenant { token, ..t.clone() }, "/Users")
            .await;
        assert_eq!(
            r.status, 401,
            "keys reached through a redirect are not the issuer's ({issuer}): {}",
            r.body
        );
    }
}

/// A local OpenID issuer publishing `jwk`; returns its URL.
async fn start_issuer(jwk: Value) -> String {
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let config = json!({"issuer": url, "jwks_uri": format!("{url}/keys")});
    let keys = json!({"keys": [jwk]});
    let router = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            get(move || async move { axum::Json(config) }),
        )
        .route("/keys", get(move || async move { axum::Json(keys) }));
    tokio::spawn(async move {
        axum::serve(listener, router).await.expect("issuer");
    });
    url
}

/// Posts a form to the token endpoint: the status and the body.
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

fn assertion_form(client_id: &str, jwt: &str) -> String {
    format!(
        "grant_type=client_credentials&client_id={client_id}\
         &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
         &client_assertion={jwt}"
    )
}

/// A server, a tenant trusting a local issuer, one of its clients, and the issuer's key.
struct Federated {
    app: TestApp,
    tenant: crate::support::TestTenant,
    client_id: String,
    issuer: String,
    key: EncodingKey,
}

async fn federated() -> Federated {
    let (key, jwk) = ec_key("k1");
    let issuer = start_issuer(jwk).await;
    let app = crate::support::spawn_app().await;
    let tenant = app.tenant("acme").await;
    app.directory
        .set_federation(&TenantId::new(tenant.id.clone()), Some(trusting(&issuer)))
        .await
        .expect("trust");
    let (client, _) = app
        .directory
        .create_client(&TenantId::new(tenant.id.clone()), "federated")
        .await
        .expect("client");
    Federated {
        app,
        tenant,
        client_id: client.id,
        issuer,
        key,
    }
}

impl Federated {
    fn token(&self, extra: Value) -> String {
        let mut claims = json!({
            "iss": self.issuer, "aud": "api://roster-test", "sub": "agent",
            "iat": unix_now(), "exp": unix_now() + 600,
        });
        for (k, v) in extra.as_object().expect("object") {
            if v.is_null() {
                claims.as_object_mut().expect("object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        sign("k1", &self.key, &claims)
    }
}

#[tokio::test]
async fn token_endpoint_refuses_scopes_roster_does_not_define_instead_of_echoing_them() {
    let app = crate::support::spawn_app().await;
    let (id, secret) = client_of(&app, "acme").await;
    let form = |scope: &str| {
        format!("grant_type=client_credentials&client_id={id}&client_secret={secret}{scope}")
    };
    let (status, body) = token_form(&app, &form("&scope=superuser%20%3Cb%3E")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_scope")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("superuser") && !body.to_string().contains("<b>"),
        "the client's scope is not echoed: {body}"
    );
    let (status, body) = token_form(&app, &form("")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("scope").is_none(), "{body}");
    let (status, body) = token_form(&app, &form("&scope=")).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_form(&app, &form("&scope=scim")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scope"], "scim");
}

#[tokio::test]
async fn federated_tokens_valid_for_centuries_are_refused() {
    let f = federated().await;
    let centuries = json!({"exp": unix_now() + 300 * 365 * 24 * 3600, "jti": "long"});
    let bearer = f.token(centuries.clone());
    let r = f
        .app
        .get(
            &crate::support::TestTenant {
                token: bearer,
                ..f.tenant.clone()
            },
            "/Users",
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("24 hours"),
        "the refusal names the cap: {}",
        r.body
    );
    let (status, body) =
        token_form(&f.app, &assertion_form(&f.client_id, &f.token(centuries))).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("24 hours"),
        "{body}"
    );
    // A token without exp was already refused; one of an hour still opens the tenant.
    let hour = f.token(json!({}));
    let r = f
        .app
        .get(
            &crate::support::TestTenant {
                token: hour,
                ..f.tenant.clone()
            },
            "/Users",
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_client_assertion_is_accepted_once() {
    let f = federated().await;
    let jwt = f.token(json!({"jti": "assertion-1"}));
    let (status, body) = token_form(&f.app, &assertion_form(&f.client_id, &jwt)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = token_form(&f.app, &assertion_form(&f.client_id, &jwt)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "a replayed assertion is refused: {body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or_default()
            .contains("already used"),
        "{body}"
    );
    // Nor does the used assertion open the SCIM endpoint as a bearer token, while a fresh
    // federated token still does.
    let bearer = |jwt: String| {
        let app = &f.app;
        let url = format!("{}/Users", f.tenant.base);
        async move {
            app.http
                .get(url)
                .bearer_auth(jwt)
                .send()
                .await
                .expect("request")
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        bearer(jwt.clone()).await,
        401,
        "a used assertion as a bearer token"
    );
    assert_eq!(bearer(f.token(json!({"jti": "bearer-1"}))).await, 200);
    // The jwt-bearer grant too.
    let grant = |jwt: &str| {
        format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}&client_id={}",
            f.client_id
        )
    };
    let (status, body) = token_form(&f.app, &grant(&jwt)).await;
    assert_eq!(status, 400, "{body}");
    let fresh = f.token(json!({"jti": "assertion-2"}));
    let (status, body) = token_form(&f.app, &grant(&fresh)).await;
    assert_eq!(status, 200, "{body}");
    // Without a jti an assertion cannot be remembered, so it is refused.
    let (status, body) =
        token_form(&f.app, &assertion_form(&f.client_id, &f.token(json!({})))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant")),
        "{body}"
    );
    // Another process on the same database refuses the replay too (the store decides).
    let other = crate::support::directory_on(&f.app.database_url).await;
    let expires = Clock::now(&roster_directory::SystemClock) + time::Duration::minutes(10);
    assert!(
        !other
            .first_use_of_assertion(&f.issuer, "assertion-1", expires)
            .await
            .expect("store"),
        "the use is recorded in the database"
    );
}

/// Everything logged at info and above by this test program, from its first call on.
fn captured_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    use std::sync::{Mutex, OnceLock};
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("one log subscriber");
        logs
    })
    .clone()
}

struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refused_authentications_are_logged_with_the_tenant_and_reason_never_the_secret() {
    let logs = captured_logs();
    let app = spawn_app_with_peer_addresses(Arc::new(roster_directory::SystemClock)).await;
    let t = app.tenant("acme").await;
    let (client, _) = app
        .directory
        .create_client(&TenantId::new(t.id.clone()), "")
        .await
        .expect("client");
    let wrong_secret = "rcs_thisisnotthesecret0123456789";
    let (status, _, _) = token(&app, &client.id, wrong_secret).await;
    assert_eq!(status, 401);
    let wrong_token = "rst_thisisnotthetoken0123456789";
    let r = app
        .get(
            &crate::support::TestTenant {
                token: wrong_token.into(),
                ..t.clone()
            },
            "/Users",
        )
        .await;
    assert_eq!(r.status, 401);

    let text = String::from_utf8_lossy(&logs.lock().expect("logs")).into_owned();
    let line = |marker: &str| {
        text.lines()
            .find(|l| l.contains(marker) && l.contains(&t.id))
            .unwrap_or_else(|| panic!("no {marker:?} line for {} in:\n{text}", t.id))
            .to_owned()
    };
    let token_line = line("token request refused");
    assert!(
        token_line.contains(" INFO ")
            && token_line.contains(&client.id)
            && token_line.contains("wrong client secret")
            && token_line.contains("127.0.0.1"),
        "{token_line}"
    );
    let scim_line = line("SCIM authentication refused");
    assert!(
        scim_line.contains(" INFO ")
            && scim_line.contains("unknown, expired or revoked")
            && scim_line.contains("127.0.0.1"),
        "{scim_line}"
    );
    assert!(
        !text.contains(wrong_secret) && !text.contains(wrong_token),
        "a secret or token was logged:\n{text}"
    );
}
