//! Single sign-on end to end: a real SAML identity provider (SimpleSAMLphp) signs provisioned
//! users in, and a host application written with a standard OpenID Connect library
//! (`openidconnect`) receives them; refusals show a page that says why, a trace in the
//! provisioning log, and an `sso.failed` event.

use std::time::{Duration, Instant};

use roster_directory::sso::{NewSamlConnection, Preset};
use roster_signin::SignIn;
use roster_store::{LogQuery, TenantId};
use serde_json::{Value, json};

use crate::support::relying_party::RelyingParty;
use crate::support::saml_idp::{Browser, SamlIdp};
use crate::support::{TestApp, TestTenant, patch_op};
use roster_sso::testing::Spec;

const CALLBACK: &str = "http://127.0.0.1:9/host/callback";

struct World {
    app: TestApp,
    tenant: TestTenant,
    slug: String,
    idp: SamlIdp,
    rp: RelyingParty,
    alice: String,
    client_id: String,
    client_secret: String,
}

/// A tenant with alice and bob provisioned (alice in a group), a SAML connection to
/// SimpleSAMLphp, and a registered host application.
async fn world() -> World {
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Contoso").await;
    let alice = app.create_user(&tenant, "alice@example.org").await;
    app.create_user(&tenant, "bob@example.org").await;
    app.create_group(&tenant, "Sales", &[&alice]).await;
    let tenant_id = TenantId::new(&tenant.id);
    let slug = app
        .directory
        .find_tenant(&tenant.id)
        .await
        .expect("the tenant")
        .slug;
    let idp = SamlIdp::start().await;
    let connection = app
        .directory
        .add_saml_connection(
            &tenant_id,
            NewSamlConnection {
                name: "simplesaml".into(),
                preset: Preset::Generic,
                metadata: idp.metadata().await,
                user_key: None,
                idp_initiated: Some(false),
                is_default: true,
                metadata_url: None,
            },
        )
        .await
        .expect("the connection");
    let signin = SignIn::new(app.directory.clone(), &app.address);
    idp.trust(&[(
        signin.entity_id(&tenant.id, &connection.id),
        signin.acs_url(&tenant.id, &connection.id),
    )]);
    let registered = app
        .directory
        .create_host_app("Host", &[CALLBACK.to_owned()], None)
        .await
        .expect("the application");
    let rp = RelyingParty::discover(
        &app.address,
        &registered.app.id,
        &registered.client_secret,
        CALLBACK,
    )
    .await;
    World {
        app,
        tenant,
        slug,
        idp,
        rp,
        alice,
        client_id: registered.app.id,
        client_secret: registered.client_secret,
    }
}

impl World {
    fn sign_on_url(&self) -> String {
        format!("{}/auth/request-access/{}", self.app.address, self.slug)
    }

    /// The tenant's sign-in traces, newest first.
    async fn traces(&self) -> Vec<roster_store::LogEntry> {
        let query = LogQuery {
            limit: 50,
            action: Some("sign-in".into()),
            ..LogQuery::default()
        };
        self.app
            .directory
            .log_page(&TenantId::new(&self.tenant.id), &query)
            .await
            .expect("the log")
    }

    /// The tenant's events of `kind`, waiting for the sequencer on PostgreSQL.
    async fn events(&self, kind: &str) -> Vec<Value> {
        let tenant = TenantId::new(&self.tenant.id);
        let started = Instant::now();
        loop {
            self.app
                .directory
                .sequence_events()
                .await
                .expect("sequencing");
            let found: Vec<Value> = self
                .app
                .directory
                .events(Some(&tenant), 0, 1000)
                .await
                .expect("events")
                .into_iter()
                .filter(|e| e.event_type == kind)
                .map(|e| e.data)
                .collect();
            if !found.is_empty() || started.elapsed() > Duration::from_secs(5) {
                return found;
            }
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test]
async fn a_user_signs_in_through_saml_and_the_host_app_receives_them() {
    let w = world().await;
    let browser = Browser::new();
    let started = w.rp.start(&[("organization", &w.slug)]);
    let login = browser.walk(&started.url, Some(CALLBACK)).await;
    assert_eq!(
        login.status, 200,
        "SimpleSAMLphp's login form: {}",
        login.body
    );
    assert!(login.url.starts_with(&w.idp.base), "{}", login.url);
    let back = browser
        .log_in(&login, "alice", "alicepass", Some(CALLBACK))
        .await;
    let location = back.location.unwrap_or_else(|| {
        panic!(
            "no redirect to the application: {} {}",
            back.status, back.body
        )
    });
    let received =
        w.rp.finish(started, &location)
            .await
            .expect("the host app's sign-in");
    assert_eq!(received.subject, w.alice, "sub is Roster's user id");
    assert_eq!(received.email.as_deref(), Some("alice@example.org"));
    let claims = &received.claims;
    assert_eq!(claims["org_id"], json!(w.tenant.id));
    assert_eq!(claims["org_name"], json!("Contoso"));
    assert_eq!(claims["groups"], json!(["Sales"]));
    assert_eq!(claims["idp"], json!("simplesaml"));
    assert_eq!(claims["preferred_username"], json!("alice@example.org"));
    assert_eq!(claims["email_verified"], json!(false));

    // userinfo answers for the access token, from the directory as it is now.
    let info: Value = crate::support::http_client()
        .get(format!("{}/oauth/userinfo", w.app.address))
        .bearer_auth(&received.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["sub"], json!(w.alice));
    assert_eq!(info["org_name"], json!("Contoso"));

    // The same browser signs in again without the identity provider: Roster's session.
    let again = w.rp.start(&[]);
    let landed = browser.walk(&again.url, Some(CALLBACK)).await;
    let location = landed.location.expect("straight back to the application");
    let second =
        w.rp.finish(again, &location)
            .await
            .expect("a second sign-in");
    assert_eq!(second.subject, w.alice);

    // prompt=none: Roster's session answers, or login_required where there is none.
    let silent = w.rp.start(&[("prompt", "none")]);
    let landed = browser.walk(&silent.url, Some(CALLBACK)).await;
    let location = landed.location.expect("straight back to the application");
    assert_eq!(
        w.rp.finish(silent, &location).await.unwrap().subject,
        w.alice
    );
    let silent = w.rp.start(&[("prompt", "none"), ("organization", &w.slug)]);
    let landed = Browser::new().walk(&silent.url, Some(CALLBACK)).await;
    let refused = w.rp.finish(silent, &landed.location.unwrap()).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|e| e.starts_with("login_required")),
        "{:?}",
        refused.map(|r| r.subject)
    );
    let bad = w.rp.start(&[("max_age", "soon")]);
    let landed = browser.walk(&bad.url, Some(CALLBACK)).await;
    let refused = w.rp.finish(bad, &landed.location.unwrap()).await;
    assert!(refused.is_err_and(|e| e.starts_with("invalid_request")));

    // prompt=login: the identity provider is asked to authenticate the user again
    // (ForceAuthn), and SimpleSAMLphp shows its form although its own session is alive.
    let forced = w.rp.start(&[("prompt", "login")]);
    let at_idp = browser.walk(&forced.url, Some(&w.idp.base)).await;
    let request = at_idp.location.expect("sent to the identity provider");
    let saml_request = url::Url::parse(&request)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "SAMLRequest")
        .map(|(_, v)| v.into_owned())
        .expect("a SAMLRequest");
    let deflated =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, saml_request).unwrap();
    let mut xml = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::DeflateDecoder::new(&deflated[..]),
        &mut xml,
    )
    .unwrap();
    assert!(xml.contains(r#"ForceAuthn="true""#), "{xml}");
    let form = browser.walk(&request, Some(CALLBACK)).await;
    assert!(
        form.status == 200 && form.body.contains("password"),
        "the identity provider asks again: {} {}",
        form.status,
        form.url
    );
    let back = browser
        .log_in(&form, "alice", "alicepass", Some(CALLBACK))
        .await;
    let again = w.rp.finish(forced, &back.location.unwrap()).await.unwrap();
    assert_eq!(again.subject, w.alice);

    // The trace and the event.
    let traces = w.traces().await;
    let trace = traces.first().expect("a trace");
    assert_eq!(
        trace.summary,
        "Signed in alice@example.org through simplesaml"
    );
    assert!(
        trace.response_body.contains("signature verified"),
        "{}",
        trace.response_body
    );
    assert!(
        trace
            .response_body
            .contains("matched user alice@example.org")
    );
    let events = w.events("user.signed_in").await;
    assert_eq!(events[0]["user"]["id"], json!(w.alice));
}

#[tokio::test]
async fn refusals_say_why_on_the_page_in_the_log_and_in_an_event() {
    let w = world().await;
    // carol is not provisioned.
    let browser = Browser::new();
    let login = browser.walk(&w.sign_on_url(), None).await;
    let refused = browser.log_in(&login, "carol", "carolpass", None).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .body
            .contains("No user provisioned to this organisation has userName"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("Assign the user to the application"));

    // bob is deactivated through SCIM a moment before.
    let patched = w
        .app
        .patch(
            &w.tenant,
            &format!("/Users/{}", user_id(&w, "bob@example.org").await),
            patch_op(json!([{"op": "replace", "path": "active", "value": false}])),
        )
        .await;
    assert_eq!(patched.status, 200);
    let browser = Browser::new();
    let login = browser.walk(&w.sign_on_url(), None).await;
    let refused = browser.log_in(&login, "bob", "bobpass", None).await;
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("is deactivated"), "{}", refused.body);

    // A response posted twice: the second is a replay.
    let browser = Browser::new();
    let (acs, response) = browser
        .answer_for(&w.sign_on_url(), "alice", "alicepass")
        .await;
    let first = browser.post_saml(&acs, &response, "", None).await;
    assert_eq!(
        first.status, 200,
        "signed in, no application waiting: {}",
        first.body
    );
    assert!(first.body.contains("alice@example.org"));
    let replayed = browser.post_saml(&acs, &response, "", None).await;
    assert_eq!(replayed.status, 403);
    assert!(
        replayed.body.contains("was already used"),
        "{}",
        replayed.body
    );

    // The same response with its NameID changed: the signature no longer verifies.
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::STANDARD;
    let browser = Browser::new();
    let (acs, response) = browser
        .answer_for(&w.sign_on_url(), "alice", "alicepass")
        .await;
    let xml = String::from_utf8(engine.decode(&response).unwrap()).unwrap();
    let forged = engine.encode(xml.replace("alice@example.org", "bob@example.org"));
    let tampered = browser.post_saml(&acs, &forged, "", None).await;
    assert_eq!(tampered.status, 403);
    assert!(
        tampered.body.contains("The signature does not verify"),
        "{}",
        tampered.body
    );

    // A response this browser did not ask for (another browser's, posted here).
    let other = Browser::new();
    let (acs, response) = other
        .answer_for(&w.sign_on_url(), "alice", "alicepass")
        .await;
    let unsolicited = Browser::new().post_saml(&acs, &response, "", None).await;
    assert_eq!(unsolicited.status, 403);
    assert!(
        unsolicited
            .body
            .contains("which this browser did not start"),
        "{}",
        unsolicited.body
    );

    let traces = w.traces().await;
    let refusals: Vec<&str> = traces
        .iter()
        .filter(|t| t.outcome == roster_store::Outcome::Refused)
        .map(|t| t.explanation.as_str())
        .collect();
    assert_eq!(refusals.len(), 5, "{refusals:?}");
    assert!(
        traces
            .iter()
            .all(|t| !t.hint.is_empty() || t.outcome == roster_store::Outcome::Succeeded)
    );
    // On PostgreSQL the background sequencer may hold the lock when `events` sequences: the
    // last event is positioned a moment later.
    crate::support::eventually("five sso.failed events", 5, async || {
        w.events("sso.failed").await.len()
    })
    .await;
}

async fn user_id(w: &World, user_name: &str) -> String {
    let found = w
        .app
        .get(
            &w.tenant,
            &format!("/Users?filter=userName%20eq%20%22{user_name}%22"),
        )
        .await;
    found.body["Resources"][0]["id"]
        .as_str()
        .expect("the user")
        .to_owned()
}

#[tokio::test]
async fn codes_are_used_once_and_only_with_their_verifier() {
    let w = world().await;
    let browser = Browser::new();
    let started = w.rp.start(&[("organization", &w.slug)]);
    let login = browser.walk(&started.url, Some(CALLBACK)).await;
    let back = browser
        .log_in(&login, "alice", "alicepass", Some(CALLBACK))
        .await;
    let location = url::Url::parse(&back.location.expect("a callback")).unwrap();
    let code = location
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("a code");
    let exchange = |verifier: String, secret: String| {
        let form = vec![
            ("grant_type".to_owned(), "authorization_code".to_owned()),
            ("code".to_owned(), code.clone()),
            ("redirect_uri".to_owned(), CALLBACK.to_owned()),
            ("code_verifier".to_owned(), verifier),
            ("client_id".to_owned(), w.client_id.clone()),
            ("client_secret".to_owned(), secret),
        ];
        let url = format!("{}/oauth/token", w.app.address);
        async move {
            let r = crate::support::http_client()
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    // A wrong secret, then a wrong verifier: both refused, and neither uses the code up.
    let (status, body) = exchange("x".repeat(50), "rcs_wrong".into()).await;
    assert_eq!(
        (status, body["error"].clone()),
        (401, json!("invalid_client"))
    );
    let (status, body) = exchange("x".repeat(50), w.client_secret.clone()).await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_grant"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier"),
        "{body}"
    );
    // The library exchanges it (with the right verifier and secret) once.
    let received =
        w.rp.finish(started, location.as_str())
            .await
            .expect("exchanged");
    assert_eq!(received.subject, w.alice);
    // A second exchange of the same code is refused.
    let replay = w.rp.start(&[]);
    let err = w.rp.finish(replay, location.as_str()).await.err();
    assert!(err.is_some(), "a code is used once");
    // Wrong secrets are counted as the client credentials grant's are: after ten in a
    // minute, the application's id is answered 429 with Retry-After.
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(exchange("x".repeat(50), "rcs_wrong".into()).await.0);
    }
    assert_eq!(statuses[..9], [401; 9], "{statuses:?}");
    assert_eq!(statuses[10], 429, "{statuses:?}");
}

/// In headless Chromium: the administrator adds the connection on the Provisioning & SSO page
/// from the identity provider's metadata and copies the values it shows into the identity
/// provider; a user signs in through SimpleSAMLphp's real form; the page lists the sign-in,
/// and its trace; a user who is not provisioned is refused with a page that says why.
#[tokio::test]
async fn an_administrator_sets_saml_up_on_the_page_and_users_sign_in_in_a_browser() {
    use crate::support::browser::Browser as Chromium;
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Contoso").await;
    app.create_user(&tenant, "alice@example.org").await;
    let tenant_id = TenantId::new(&tenant.id);
    let slug = app.directory.find_tenant(&tenant.id).await.unwrap().slug;
    let idp = SamlIdp::start().await;
    let link = app
        .directory
        .create_portal_link(&tenant_id, None)
        .await
        .expect("a setup link");
    let b = Chromium::start(1280, 1000).await;
    b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
        .await;
    b.reveal("sso-heading").await;
    b.choose("sso-preset", "generic").await;
    b.fill("sso-name", "simplesaml").await;
    let metadata = serde_json::to_string(&idp.metadata().await).unwrap();
    b.script(&format!(
        "document.getElementById('sso-metadata').value = {metadata}; return true;"
    ))
    .await;
    b.click("form[action$='/sso'] button[type=submit]").await;
    assert!(b.text().await.contains("The connection is added"));
    b.reveal("connection-simplesaml").await;
    b.screenshot("sso-1-connection-added").await;
    // The fields are named as the identity provider names them (here, any SAML one).
    let text = b.text().await;
    assert!(
        text.contains("Entity ID (audience)")
            && text.contains("Assertion Consumer Service (ACS) URL"),
        "{text}"
    );
    let entity_id = b.value("entity-simplesaml").await;
    let acs = b.value("acs-simplesaml").await;
    let sign_on = b.value("signon-simplesaml").await;
    assert!(
        acs.starts_with(&entity_id) && acs.ends_with("/acs"),
        "{acs}"
    );
    assert_eq!(
        sign_on,
        format!("{}/auth/request-access/{slug}/simplesaml", app.address)
    );
    idp.trust(&[(entity_id, acs)]);

    // A user signs in through the identity provider's own form.
    b.goto(&sign_on).await;
    b.fill("username", "alice").await;
    b.fill("password", "alicepass").await;
    b.screenshot("sso-2-identity-provider-form").await;
    b.click("#submit_button").await;
    b.wait_for_text("You are signed in").await;
    assert!(b.text().await.contains("alice@example.org"));
    b.screenshot("sso-3-signed-in").await;

    // The page lists the sign-in; its entry shows the trace.
    b.goto(&format!("{}/portal/{slug}", app.address)).await;
    let text = b.text().await;
    assert!(text.contains("Recent sign-ins"), "{text}");
    b.reveal("recent-sign-ins").await;
    assert!(
        b.text()
            .await
            .contains("Signed in alice@example.org through simplesaml")
    );
    b.screenshot("sso-4-recent-sign-ins").await;
    b.click("#recent-sign-ins a").await;
    assert!(b.text().await.contains("signature verified"));
    b.screenshot("sso-5-sign-in-trace").await;

    // carol is not provisioned: a page that says why and whom to ask.
    let carol = Chromium::start(1280, 800).await;
    carol.goto(&sign_on).await;
    carol.fill("username", "carol").await;
    carol.fill("password", "carolpass").await;
    carol.click("#submit_button").await;
    carol.wait_for_text("You could not be signed in").await;
    assert!(carol.text().await.contains("No user provisioned"));
    carol.screenshot("sso-6-refused").await;

    // The page's Test sign-in ends on the attempt's trace, and signs no one in.
    b.goto(&format!("{}/portal/{slug}", app.address)).await;
    let test_url = b
        .script("return document.getElementById('test-simplesaml').getAttribute('href');")
        .await;
    assert_eq!(test_url, json!(format!("{sign_on}?test=1")));
    b.goto(&format!("{sign_on}?test=1")).await;
    b.wait_for_text("Test sign-in succeeded").await;
    let text = b.text().await;
    assert!(text.contains("signature verified"), "{text}");
    assert!(text.contains("no one was signed in"), "{text}");
    b.screenshot("sso-6b-test-sign-in").await;
    carol.goto(&format!("{sign_on}?test=1")).await;
    carol.wait_for_text("Test sign-in failed").await;
    let text = carol.text().await;
    assert!(text.contains("No user provisioned"), "{text}");
    carol.screenshot("sso-6c-test-sign-in-failed").await;
    carol.close().await;

    // An OpenID Connect connection from the page: the redirect URI to register is shown.
    b.goto(&format!("{}/portal/{slug}", app.address)).await;
    b.reveal("oidc-issuer").await;
    b.choose("oidc-preset", "okta").await;
    b.fill("oidc-name", "okta").await;
    b.fill("oidc-issuer", "ftp://idp.example").await;
    b.fill("oidc-client-id", "roster").await;
    b.fill("oidc-client-secret", "secret").await;
    b.script("document.getElementById('oidc-issuer').type = 'text'; return true;")
        .await;
    b.click("form[action$='/sso/oidc'] button[type=submit]")
        .await;
    assert!(
        b.text().await.contains("must be an https URL"),
        "{}",
        b.text().await
    );
    b.reveal("oidc-issuer").await;
    b.choose("oidc-preset", "okta").await;
    b.fill("oidc-name", "okta").await;
    b.fill("oidc-issuer", "http://127.0.0.1:9/okta").await;
    b.fill("oidc-client-id", "roster").await;
    b.fill("oidc-client-secret", "secret").await;
    b.click("form[action$='/sso/oidc'] button[type=submit]")
        .await;
    assert!(b.text().await.contains("The connection is added"));
    let redirect = b.value("redirect-okta").await;
    assert!(
        redirect.ends_with("/callback") && redirect.contains("/auth/oidc/"),
        "{redirect}"
    );
    b.reveal("connection-okta").await;
    b.screenshot("sso-7-openid-connect-connection").await;

    // The client secret expired at the identity provider: a new one, and okta the default.
    b.script("document.getElementById('change-okta').open = true; return true;")
        .await;
    b.fill("secret-okta", "the-new-secret").await;
    b.click("#change-okta input[name=default]").await;
    b.reveal("change-okta").await;
    b.screenshot("sso-8-change-a-connection").await;
    b.click("#change-okta button[type=submit]").await;
    assert!(b.text().await.contains("The connection is changed"));
    let okta = app
        .directory
        .sso_connection(&tenant_id, Some("okta"))
        .await
        .unwrap();
    assert!(okta.is_default);
    assert_eq!(
        app.directory.oidc_client_secret(&okta).unwrap(),
        "the-new-secret"
    );
    let saml = app
        .directory
        .sso_connection(&tenant_id, Some("simplesaml"))
        .await
        .unwrap();
    assert!(!saml.is_default, "one default");
    b.close().await;
}

/// The tenant API sets connections up for the host application's customers.
#[tokio::test]
async fn the_tenant_api_adds_lists_and_removes_connections() {
    use roster_directory::Scope;
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Contoso").await;
    let (_, writer) = app
        .directory
        .create_api_key("host app", &[Scope::TenantsWrite])
        .await
        .expect("a key");
    let (_, reader) = app
        .directory
        .create_api_key("reader", &[Scope::DirectoryRead])
        .await
        .expect("a key");
    let idp = roster_sso::testing::TestIdp::new("https://idp.test", app.directory.now());
    let url = format!(
        "{}/api/v1/tenants/{}/sso-connections",
        app.address, tenant.id
    );
    let post = |key: String, body: Value| {
        let url = url.clone();
        async move {
            let r = crate::support::http_client()
                .post(url)
                .bearer_auth(key)
                .json(&body)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, made) = post(
        writer.clone(),
        json!({"name": "okta", "preset": "okta", "metadata": idp.metadata(true), "default": true}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["preset"], "okta");
    assert_eq!(
        made["user_key"],
        json!({"claim": "nameid", "match": "userName"})
    );
    assert!(made["acs_url"].as_str().unwrap().ends_with("/acs"));
    assert!(
        made["sign_on_url"]
            .as_str()
            .unwrap()
            .ends_with("/auth/request-access/contoso/okta")
    );

    let (status, refused) = post(
        writer.clone(),
        json!({"name": "bad", "metadata": idp.metadata(false)}),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("no signing certificate"),
        "{refused}"
    );
    let (status, _) = post(reader.clone(), json!({"name": "x", "metadata": "<x/>"})).await;
    assert_eq!(status, 403, "reading keys cannot add");

    let listed: Value = crate::support::http_client()
        .get(&url)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // PATCH changes what it names, checked as adding was; the rest stays.
    let patch = |body: Value| {
        let request = crate::support::http_client()
            .patch(format!("{url}/okta"))
            .bearer_auth(writer.clone())
            .json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let rolled = roster_sso::testing::TestIdp::new("https://idp.test", app.directory.now());
    let (status, changed) = patch(json!({
        "idp_initiated": false, "match": "emails", "metadata": rolled.metadata(true)
    }))
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["idp_initiated"], json!(false));
    assert_eq!(
        changed["user_key"],
        json!({"claim": "nameid", "match": "emails"})
    );
    assert_eq!(changed["default"], json!(true));
    let connection = app
        .directory
        .sso_connection(&TenantId::new(&tenant.id), Some("okta"))
        .await
        .unwrap();
    let roster_directory::sso::Protocol::Saml { idp: read, .. } = &connection.protocol else {
        panic!("a SAML connection");
    };
    assert_eq!(
        read.certificates,
        roster_sso::saml::IdpMetadata::parse(&rolled.metadata(true))
            .unwrap()
            .certificates,
        "the new certificate is trusted"
    );
    for (body, said) in [
        (json!({"client_secret": "s"}), "no client secret"),
        (json!({"metadata": "<x/>"}), "metadata"),
        (json!({}), "nothing to change"),
        (json!({"colour": "red"}), "unknown field"),
    ] {
        let (status, refused) = patch(body.clone()).await;
        assert_eq!(status, 400, "{body}: {refused}");
        assert!(refused.to_string().contains(said), "{body}: {refused}");
    }

    let removed = crate::support::http_client()
        .delete(format!("{url}/okta"))
        .bearer_auth(&writer)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
}

/// OpenID Connect to the tenant's identity provider (oidc-provider): a user signs in and the
/// host application receives them; an unknown user, an identity provider's refusal and a
/// changed `state` are refused with a page, a trace and an event.
#[tokio::test]
async fn a_user_signs_in_through_openid_connect() {
    use crate::support::oidc_idp::{OidcIdp, free_port};
    use roster_directory::sso::NewOidcConnection;
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Fabrikam").await;
    let ada = app.create_user(&tenant, "ada@fabrikam.test").await;
    let tenant_id = TenantId::new(&tenant.id);
    let slug = app.directory.find_tenant(&tenant.id).await.unwrap().slug;
    let port = free_port();
    let connection = app
        .directory
        .add_oidc_connection(
            &tenant_id,
            NewOidcConnection {
                name: "okta".into(),
                preset: Preset::Okta,
                issuer: format!("http://127.0.0.1:{port}"),
                client_id: "roster".into(),
                client_secret: "roster-secret".into(),
                scopes: None,
                user_key: None,
                is_default: true,
            },
        )
        .await
        .expect("the connection");
    let redirect = roster_sso::urls::oidc_redirect_uri(&app.address, &tenant.id, &connection.id);
    let idp = OidcIdp::start(port, "roster", "roster-secret", &redirect);
    assert_eq!(connection.trusted(), idp.issuer);
    let registered = app
        .directory
        .create_host_app("Host", &[CALLBACK.to_owned()], None)
        .await
        .unwrap();
    let rp = RelyingParty::discover(
        &app.address,
        &registered.app.id,
        &registered.client_secret,
        CALLBACK,
    )
    .await;

    idp.sign_in_as(
        json!({"sub": "okta-ada", "email": "ada@fabrikam.test", "email_verified": true}),
    );
    let browser = Browser::new();
    let started = rp.start(&[("organization", &slug)]);
    let back = browser.walk(&started.url, Some(CALLBACK)).await;
    let location = back
        .location
        .unwrap_or_else(|| panic!("no callback: {} {} {}", back.url, back.status, back.body));
    let received = rp.finish(started, &location).await.expect("signed in");
    assert_eq!(received.subject, ada);
    assert_eq!(
        received.claims["email_verified"],
        json!(false),
        "fabrikam.test is not a verified domain of Fabrikam yet"
    );
    app.directory
        .add_domain(&tenant_id, "fabrikam.test")
        .await
        .unwrap();

    // prompt=login reaches the identity provider as prompt=login, and it signs the user in
    // again.
    let forced = rp.start(&[("prompt", "login")]);
    let at_idp = browser.walk(&forced.url, Some(&idp.issuer)).await;
    let request = at_idp.location.expect("sent to the identity provider");
    assert!(request.contains("prompt=login"), "{request}");
    let back = browser.walk(&request, Some(CALLBACK)).await;
    let again = rp.finish(forced, &back.location.unwrap()).await.unwrap();
    assert_eq!(again.subject, ada);
    assert_eq!(
        again.claims["email_verified"],
        json!(true),
        "an address at a domain the organisation verified"
    );
    assert_eq!(received.claims["idp"], json!("okta"));
    assert_eq!(received.claims["org_name"], json!("Fabrikam"));

    // grace is not provisioned.
    idp.sign_in_as(json!({"sub": "okta-grace", "email": "grace@fabrikam.test"}));
    let browser = Browser::new();
    let refused = browser
        .walk(&format!("{}/auth/request-access/{slug}", app.address), None)
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("No user provisioned"),
        "{}",
        refused.body
    );

    // The identity provider refuses.
    idp.refuse("access_denied");
    let browser = Browser::new();
    let refused = browser
        .walk(&format!("{}/auth/request-access/{slug}", app.address), None)
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("answered access_denied"),
        "{}",
        refused.body
    );

    // A callback whose state was changed.
    idp.sign_in_as(json!({"sub": "okta-ada", "email": "ada@fabrikam.test"}));
    let browser = Browser::new();
    let first = browser
        .walk(
            &format!("{}/auth/request-access/{slug}", app.address),
            Some(&redirect),
        )
        .await;
    let callback = first.location.expect("the identity provider's answer");
    let changed = callback.replace("state=", "state=x");
    let refused = browser.walk(&changed, None).await;
    assert_eq!(refused.status, 403);
    assert!(
        refused.body.contains("state is not the one"),
        "{}",
        refused.body
    );

    let traces = app
        .directory
        .log_page(
            &tenant_id,
            &LogQuery {
                limit: 10,
                action: Some("sign-in".into()),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(traces.len(), 5, "two sign-ins and three refusals");
    assert!(
        traces
            .last()
            .unwrap()
            .response_body
            .contains("ID token verified")
    );
}

/// SSO redirect: an address at a tenant's domain goes to its identity provider; any other
/// goes back to the host application's login (or to a page that says so); a domain is one
/// tenant's.
#[tokio::test]
async fn sso_redirect_finds_the_tenant_by_its_domain() {
    let w = world().await;
    let tenant_id = TenantId::new(&w.tenant.id);
    assert_eq!(
        w.app
            .directory
            .add_domain(&tenant_id, "@Example.ORG")
            .await
            .unwrap(),
        "example.org"
    );
    let other = w.app.tenant("Other").await;
    let taken = w
        .app
        .directory
        .add_domain(&TenantId::new(&other.id), "example.org")
        .await
        .unwrap_err();
    assert!(
        taken
            .to_string()
            .contains("belongs to another organisation"),
        "{taken}"
    );
    assert!(
        w.app
            .directory
            .add_domain(&tenant_id, "not a domain")
            .await
            .is_err()
    );

    let browser = Browser::new();
    let login = browser
        .walk(
            &format!("{}/auth/login?email=alice@example.org", w.app.address),
            None,
        )
        .await;
    assert!(
        login.url.starts_with(&w.idp.base),
        "at the identity provider: {}",
        login.url
    );
    let signed_in = browser.log_in(&login, "alice", "alicepass", None).await;
    assert_eq!(signed_in.status, 200);
    assert!(signed_in.body.contains("You are signed in"));

    let unknown = Browser::new()
        .walk(
            &format!("{}/auth/login?email=someone@elsewhere.test", w.app.address),
            None,
        )
        .await;
    assert_eq!(unknown.status, 404);
    assert!(
        unknown.body.contains("No organisation signs in"),
        "{}",
        unknown.body
    );

    // The host application's authorize request with a login hint finds the tenant too.
    let started = w.rp.start(&[("login_hint", "alice@example.org")]);
    let at_idp = Browser::new().walk(&started.url, Some(CALLBACK)).await;
    assert!(at_idp.url.starts_with(&w.idp.base), "{}", at_idp.url);

    // With the operator's fallback, an unknown domain goes back to the application's login.
    let app = TestApp::builder()
        .config(|c| c.sso_fallback_url = Some("https://app.test/login".into()))
        .start()
        .await;
    let back = Browser::new()
        .walk(
            &format!("{}/auth/login?email=someone@elsewhere.test", app.address),
            Some("https://app.test/"),
        )
        .await;
    assert_eq!(
        back.location.as_deref(),
        Some("https://app.test/login?email=someone%40elsewhere.test")
    );
}

/// OpenID Connect refusals, with an identity provider that gets its ID token wrong on purpose:
/// another nonce, another issuer, another audience, expired; and a `tid` nobody's (a
/// directory that is no tenant's is an unknown user here: the key claim matches nobody).
#[tokio::test]
async fn wrong_id_tokens_are_refused_with_what_was_wrong() {
    use crate::support::fake_oidc::{FakeOidc, Wrong};
    use roster_directory::sso::NewOidcConnection;
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Fabrikam").await;
    app.create_user(&tenant, "ada@fabrikam.test").await;
    let slug = app.directory.find_tenant(&tenant.id).await.unwrap().slug;
    let idp = FakeOidc::start("roster").await;
    app.directory
        .add_oidc_connection(
            &TenantId::new(&tenant.id),
            NewOidcConnection {
                name: "fake".into(),
                preset: Preset::Generic,
                issuer: idp.issuer(),
                client_id: "roster".into(),
                client_secret: "s".into(),
                scopes: None,
                user_key: None,
                is_default: true,
            },
        )
        .await
        .unwrap();
    let sign_on = format!("{}/auth/request-access/{slug}", app.address);
    let ada = json!({"sub": "1", "email": "ada@fabrikam.test"});
    for (wrong, said) in [
        (Wrong::Nonce, "nonce is not the one this sign-in sent"),
        (Wrong::Issuer, "was issued by"),
        (Wrong::Audience, "The ID token is not valid"),
        (Wrong::Expired, "The ID token is not valid"),
    ] {
        idp.next(ada.clone(), wrong);
        let page = Browser::new().walk(&sign_on, None).await;
        assert_eq!(page.status, 403, "{wrong:?}");
        assert!(page.body.contains(said), "{wrong:?}: {}", page.body);
    }
    idp.next(ada, Wrong::Nothing);
    let page = Browser::new().walk(&sign_on, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("You are signed in"));
}

/// The SAML refusals end to end, with responses a test identity provider builds to order and
/// posts to the ACS: each answers 403 with what was wrong, and is a refused trace.
#[tokio::test]
async fn saml_refusals_end_to_end() {
    use roster_sso::testing::{Signing, TestIdp};
    let app = TestApp::builder().start().await;
    let tenant = app.tenant("Contoso").await;
    app.create_user(&tenant, "ada@contoso.com").await;
    let tenant_id = TenantId::new(&tenant.id);
    let now = app.directory.now();
    let idp = TestIdp::new("https://idp.test", now);
    let connection = app
        .directory
        .add_saml_connection(
            &tenant_id,
            NewSamlConnection {
                name: "main".into(),
                preset: Preset::Entra,
                metadata: idp.metadata(true),
                user_key: Some(roster_directory::sso::UserKey {
                    claim: "nameid".into(),
                    attribute: roster_directory::sso::Matched::UserName,
                }),
                idp_initiated: Some(false),
                is_default: true,
                metadata_url: None,
            },
        )
        .await
        .unwrap();
    let entity = roster_sso::urls::entity_id(&app.address, &tenant.id, &connection.id);
    let acs = roster_sso::urls::acs_url(&app.address, &tenant.id, &connection.id);
    let base = idp.spec("ada@contoso.com", &entity, &acs, now);
    let other_key = roster_sso::keys::generate("test-idp", 9, now).unwrap();
    let xsw = {
        let mut signed = base.clone();
        signed.signing = Signing::Assertion;
        let xml = idp.xml(&signed);
        let mut evil = base.clone();
        evil.name_id = "admin@contoso.com".into();
        evil.assertion_id = "_evil".into();
        evil.signing = Signing::None;
        let evil_xml = idp.xml(&evil);
        let cut = |x: &str| {
            let (_, rest) = x.split_once("<saml:Assertion").unwrap();
            format!(
                "<saml:Assertion{}",
                rest.trim_end_matches("</samlp:Response>")
            )
        };
        let signed_part = cut(&xml);
        xml.replace(&signed_part, &format!("{}{signed_part}", cut(&evil_xml)))
    };
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unsigned",
            idp.xml(&Spec {
                signing: Signing::None,
                ..base.clone()
            }),
            "Neither the response nor its assertion is signed",
        ),
        (
            "SHA-1",
            idp.xml(&Spec {
                signing: Signing::Sha1,
                ..base.clone()
            }),
            "RSA-SHA1, which is too weak",
        ),
        (
            "another key",
            idp.xml_signed_by(&base, &other_key),
            "does not verify",
        ),
        ("wrapped", xsw, "does not read as one SAML Response"),
        (
            "audience",
            idp.xml(&Spec {
                audience: Some("https://elsewhere.test".into()),
                ..base.clone()
            }),
            "Audience is `https://elsewhere.test`",
        ),
        (
            "recipient",
            idp.xml(&Spec {
                recipient: "https://elsewhere.test/acs".into(),
                ..base.clone()
            }),
            "meant for `https://elsewhere.test/acs`",
        ),
        (
            "expired",
            idp.xml(&Spec {
                issued: now - time::Duration::minutes(30),
                ..base.clone()
            }),
            "expired at",
        ),
        (
            "not yet valid",
            idp.xml(&Spec {
                issued: now + time::Duration::minutes(30),
                ..base.clone()
            }),
            "not valid before",
        ),
        (
            "unsolicited",
            idp.xml(&base),
            "accepts only sign-ins started here",
        ),
    ];
    for (name, xml, said) in &cases {
        let page = Browser::new()
            .post_saml(&acs, &TestIdp::post(xml), "", None)
            .await;
        assert_eq!(page.status, 403, "{name}: {}", page.body);
        assert!(page.body.contains(said), "{name}: {}", page.body);
    }
    let traces = app
        .directory
        .log_page(
            &tenant_id,
            &LogQuery {
                limit: 50,
                action: Some("sign-in".into()),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(traces.len(), cases.len());
    assert!(
        traces
            .iter()
            .all(|t| t.outcome == roster_store::Outcome::Refused && !t.hint.is_empty())
    );
    assert!(
        traces
            .iter()
            .any(|t| t.hint.contains("Identifier (Entity ID)")),
        "Entra's names in the hints"
    );

    // An address whose answers keep being refused is held back before any verification:
    // thirty refusals in five minutes, then 429 with Retry-After.
    let unsigned = TestIdp::post(&cases[0].1);
    let mut statuses = Vec::new();
    for _ in cases.len()..roster_signin::MAX_REFUSED_ANSWERS as usize {
        statuses.push(
            Browser::new()
                .post_saml(&acs, &unsigned, "", None)
                .await
                .status,
        );
    }
    assert!(statuses.iter().all(|s| *s == 403), "{statuses:?}");
    let held = Browser::new().post_saml(&acs, &unsigned, "", None).await;
    assert_eq!(held.status, 429, "{}", held.body);
    assert!(held.body.contains("Wait a few minutes"), "{}", held.body);
    let traces_after = app
        .directory
        .log_page(
            &tenant_id,
            &LogQuery {
                limit: 100,
                action: Some("sign-in".into()),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        traces_after.len(),
        roster_signin::MAX_REFUSED_ANSWERS as usize,
        "the held-back answer was not verified"
    );
}

/// Microsoft 365 for every tenant at once: one multi-tenant application; the user's `tid`
/// picks the tenant bound to that Entra directory, and the ID token's issuer must be that
/// directory's; a directory bound to no tenant is refused. The identity provider is
/// oidc-provider set up as Entra's `organizations` authority: a provider per directory, each
/// with its own issuer, behind one configuration whose issuer is the `{tenantid}` template.
#[tokio::test]
async fn microsoft_365_picks_the_tenant_by_the_users_directory() {
    use crate::support::oidc_idp::{OidcIdp, free_port};
    let port = free_port();
    let authority = format!("http://127.0.0.1:{port}/organizations/v2.0");
    let app = TestApp::builder()
        .config(move |c| {
            c.ms365 = Some(roster_signin::Ms365 {
                client_id: "ms365-app".into(),
                client_secret: "ms365-secret".into(),
                authority,
            })
        })
        .start()
        .await;
    let (t1, t2) = (
        "11111111-1111-1111-1111-111111111111",
        "22222222-2222-2222-2222-222222222222",
    );
    let idp = OidcIdp::multi_tenant(
        port,
        "ms365-app",
        "ms365-secret",
        &format!("{}/auth/oidc/ms365/callback", app.address),
        &[t1, t2],
    );
    let contoso = app.tenant("Contoso").await;
    let fabrikam = app.tenant("Fabrikam").await;
    let oid = "00000000-0000-0000-0000-0000000000aa";
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@contoso.com",
        "externalId": oid,
    });
    assert_eq!(app.post(&contoso, "/Users", body.clone()).await.status, 201);
    assert_eq!(app.post(&fabrikam, "/Users", body).await.status, 201);
    app.directory
        .bind_entra_directory(&TenantId::new(&contoso.id), t1)
        .await
        .unwrap();
    let taken = app
        .directory
        .bind_entra_directory(&TenantId::new(&fabrikam.id), t1)
        .await;
    assert!(taken.is_err(), "a directory is one tenant's");
    let sign_on = format!("{}/auth/request-access/ms365", app.address);
    let ada = |tid: &str| {
        json!({"sub": "pairwise-ada", "tid": tid, "oid": oid, "email": "ada@contoso.com",
               "name": "Ada Lovelace"})
    };

    idp.sign_in_as(ada(t1));
    let page = Browser::new().walk(&sign_on, None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("of Contoso"),
        "the tenant bound to the directory: {}",
        page.body
    );

    // A directory that no tenant is bound to.
    idp.sign_in_as(ada(t2));
    let page = Browser::new().walk(&sign_on, None).await;
    assert_eq!(page.status, 403);
    assert!(
        page.body.contains("is not bound to any organisation"),
        "{}",
        page.body
    );

    // A token whose `tid` names Contoso's directory, issued by another directory.
    let mut through_another = ada(t1);
    through_another["route"] = json!(t2);
    idp.sign_in_as(through_another);
    let page = Browser::new().walk(&sign_on, None).await;
    assert_eq!(page.status, 403);
    assert!(page.body.contains("was issued by"), "{}", page.body);
    assert!(page.body.contains(t2), "names the issuer: {}", page.body);

    let traces = app
        .directory
        .log_page(
            &TenantId::new(&contoso.id),
            &LogQuery {
                limit: 10,
                action: Some("sign-in".into()),
                ..LogQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(traces.len(), 1, "the tenant's log has its sign-in");
    assert!(traces[0].summary.contains("through ms365"));
}

/// A connection made from a metadata URL reads it again a day later: a certificate rollover
/// reaches Roster; an answer that is not metadata is refused and the connection keeps the
/// certificate it had.
#[tokio::test]
async fn metadata_from_a_url_is_read_again_every_day() {
    use roster_directory::ShiftedClock;
    use roster_sso::testing::{Signing, TestIdp};
    use std::sync::{Arc, Mutex};
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let tenant = app.tenant("Contoso").await;
    app.create_user(&tenant, "ada@contoso.com").await;
    let now = app.directory.now();
    let before = TestIdp::new("https://idp.test", now);
    let after = TestIdp::new("https://idp.test", now);
    let served = Arc::new(Mutex::new(before.metadata(true)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata.xml", listener.local_addr().unwrap());
    let body = served.clone();
    let server = axum::Router::new().route(
        "/metadata.xml",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body.lock().unwrap().clone() }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    let signin = SignIn::new(app.directory.clone(), &app.address);
    let xml = signin.fetch_metadata(&url).await.expect("the metadata");
    let tenant_id = TenantId::new(&tenant.id);
    let connection = app
        .directory
        .add_saml_connection(
            &tenant_id,
            NewSamlConnection {
                name: "main".into(),
                preset: Preset::Okta,
                metadata: xml,
                user_key: None,
                idp_initiated: Some(true),
                is_default: true,
                metadata_url: Some(url.clone()),
            },
        )
        .await
        .unwrap();
    let entity = roster_sso::urls::entity_id(&app.address, &tenant.id, &connection.id);
    let acs = roster_sso::urls::acs_url(&app.address, &tenant.id, &connection.id);
    let post = |idp: &TestIdp| {
        let mut spec = idp.spec("ada@contoso.com", &entity, &acs, app.directory.now());
        spec.signing = Signing::Both;
        let posted = TestIdp::post(&idp.xml(&spec));
        let acs = acs.clone();
        async move {
            Browser::new()
                .post_saml(&acs, &posted, "", None)
                .await
                .status
        }
    };
    assert_eq!(post(&before).await, 200);

    // The identity provider rolls its certificate over.
    *served.lock().unwrap() = after.metadata(true);
    assert_eq!(signin.refresh_metadata().await, 0, "not due before a day");
    clock.advance(time::Duration::hours(25));
    assert_eq!(signin.refresh_metadata().await, 1);
    assert_eq!(
        post(&before).await,
        403,
        "the old certificate is no longer trusted"
    );
    assert_eq!(post(&after).await, 200);

    // An answer that is not metadata changes nothing.
    *served.lock().unwrap() = "<html>maintenance</html>".into();
    clock.advance(time::Duration::hours(25));
    assert_eq!(signin.refresh_metadata().await, 0);
    assert_eq!(
        post(&after).await,
        200,
        "the connection kept its certificate"
    );
}

/// ID-token key rotation: the new key is published an hour before it signs; the old one is
/// published until the last token it signed has expired.
#[tokio::test]
async fn signing_keys_rotate_with_a_grace_period_either_side() {
    use roster_directory::ShiftedClock;
    use std::sync::Arc;
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let kids = |keys: Vec<Value>| -> Vec<String> {
        keys.iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app.directory.signing_key().await.unwrap().kid;
    let second = app.directory.rotate_signing_key().await.unwrap();
    let published = kids(app.directory.published_keys().await.unwrap());
    assert_eq!(published, [second.clone(), first.clone()], "both published");
    assert_eq!(
        app.directory.signing_key().await.unwrap().kid,
        first,
        "the old one signs for an hour"
    );
    let jwks: Value = crate::support::http_client()
        .get(format!("{}/oauth/jwks", app.address))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    clock.advance(time::Duration::minutes(61));
    assert_eq!(
        app.directory.signing_key().await.unwrap().kid,
        second,
        "then the new one"
    );
    assert_eq!(
        kids(app.directory.published_keys().await.unwrap()),
        [second.clone(), first]
    );
    clock.advance(time::Duration::minutes(61));
    assert_eq!(
        kids(app.directory.published_keys().await.unwrap()),
        [second],
        "the old one is gone once its last token has expired"
    );
}

/// Just-in-time creation: refused while the tenant provisions; once provisioning is off, a
/// user who signs in without having been provisioned is created, with their e-mail.
#[tokio::test]
async fn users_are_created_just_in_time_only_when_provisioning_is_off() {
    let w = world().await;
    let tenant_id = TenantId::new(&w.tenant.id);
    let refused = w
        .app
        .directory
        .set_jit(&tenant_id, "simplesaml", true)
        .await;
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .contains("only for organisations whose provisioning is off")
    );
    w.app
        .directory
        .set_setting(&tenant_id, "provisioning", "off")
        .await
        .unwrap();
    w.app
        .directory
        .set_jit(&tenant_id, "simplesaml", true)
        .await
        .unwrap();
    let browser = Browser::new();
    let login = browser.walk(&w.sign_on_url(), None).await;
    let page = browser.log_in(&login, "carol", "carolpass", None).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("carol@example.org"));
    let traces = w.traces().await;
    assert!(
        traces[0]
            .response_body
            .contains("created user carol@example.org just in time")
    );
    let ctx = w
        .app
        .directory
        .tenant_context(&tenant_id)
        .await
        .unwrap()
        .unwrap();
    let created = w
        .app
        .directory
        .user_for_sign_in(
            &ctx,
            &roster_directory::sso::UserKey {
                claim: "nameid".into(),
                attribute: roster_directory::sso::Matched::UserName,
            },
            "carol@example.org",
        )
        .await
        .unwrap()
        .expect("created");
    assert_eq!(
        created.data["emails"][0]["value"],
        json!("carol@example.org")
    );
}
