//! The pages in headless Chromium: a customer's administrator opens a setup link and manages
//! the token and settings (and cannot open another tenant's page); an operator is created
//! through a one-time link, signs in, and manages tenants. Every page is screenshotted under
//! `target/screenshots/`.

use std::sync::Arc;

use reqwest::StatusCode;
use roster_directory::{NewTenant, ShiftedClock, TenantChange};
use roster_store::{Tenant, TenantId};

use crate::support::browser::Browser;
use crate::support::{TestApp, spawn_app};

async fn tenant(app: &TestApp, name: &str) -> Tenant {
    app.directory
        .create_tenant_with(&NewTenant {
            name: name.into(),
            ..NewTenant::default()
        })
        .await
        .expect("a tenant")
}

async fn setup_link(app: &TestApp, tenant: &TenantId) -> String {
    let issued = app
        .directory
        .create_portal_link(tenant, None)
        .await
        .expect("a setup link");
    format!("{}/portal/open/{}", app.address, issued.secret)
}

/// The status of `GET {path}` on the tenant's SCIM URL with `token`.
async fn scim(app: &TestApp, tenant: &TenantId, path: &str, token: &str) -> StatusCode {
    app.http
        .get(format!("{}/scim/v2/{tenant}{path}", app.address))
        .bearer_auth(token)
        .send()
        .await
        .expect("a SCIM request")
        .status()
}

#[tokio::test]
async fn an_administrator_opens_a_setup_link_and_manages_the_token() {
    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let contoso = tenant(&app, "Contoso Ltd").await;
    let other = tenant(&app, "Fabrikam").await;
    let link = setup_link(&app, &contoso.id).await;
    let b = Browser::start(1280, 900).await;

    b.goto(&link).await;
    assert!(b.text().await.contains("There is no token yet"));
    assert_eq!(
        b.value("prov-url").await,
        format!("{}/scim/v2/{}", app.address, contoso.id)
    );
    b.screenshot("portal-1-opened").await;

    // The link opens once: a second browser gets nothing.
    let second = Browser::start(1280, 900).await;
    second.goto(&link).await;
    assert!(second.text().await.contains("This link cannot be opened"));
    second.screenshot("portal-link-used").await;
    second.close().await;

    b.fill("token-name", "Entra production").await;
    b.click("form[action$='/tokens'] button[type=submit]").await;
    let first = b.value("token").await;
    assert!(first.starts_with("rst_"), "{first}");
    b.screenshot("portal-2-token-generated").await;
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &first).await,
        StatusCode::OK
    );

    // What the identity provider provisioned, on the page: searchable, read-only.
    let base = format!("{}/scim/v2/{}", app.address, contoso.id);
    let ada: serde_json::Value = app
        .http
        .post(format!("{base}/Users"))
        .bearer_auth(&first)
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "ada@contoso.com", "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@contoso.com", "primary": true}], "active": true,
            "password": "s3cret-never-shown"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let grace = app
        .http
        .post(format!("{base}/Users"))
        .bearer_auth(&first)
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "grace@contoso.com", "active": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(grace.status(), StatusCode::CREATED);
    let created = app
        .http
        .post(format!("{base}/Groups"))
        .bearer_auth(&first)
        .json(&serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Sales", "members": [{"value": ada["id"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let page = format!("{}/portal/{}", app.address, contoso.slug);
    // Without a script the search is a form; with it (htmx) the list follows the typing, in
    // place (the page is not loaded again) and the address says what it shows.
    b.goto(&format!("{page}/users")).await;
    assert!(b.text().await.contains("2 users."), "{}", b.text().await);
    b.script("window.notReloaded = true").await;
    b.fill("q", "ADA").await;
    b.wait_for_text("1 user.").await;
    assert_eq!(b.script("return window.notReloaded === true").await, true);
    let address = b.script("return location.search").await;
    assert_eq!(address, "?q=ADA", "the address follows the search");
    b.goto(&format!("{page}/users?q=ADA")).await;
    assert!(b.text().await.contains("1 user."));
    b.screenshot("portal-people-1-users").await;
    b.click("a[href*='/users/']").await;
    let text = b.text().await;
    assert!(
        text.contains("name.givenName") && text.contains("Sales"),
        "{text}"
    );
    assert!(
        !text.contains("s3cret") && !text.contains("argon2"),
        "{text}"
    );
    b.screenshot("portal-people-2-user").await;
    b.click("a[href*='/groups/']").await;
    assert!(b.text().await.contains("ada@contoso.com"));
    b.screenshot("portal-people-3-group").await;
    b.goto(&format!("{page}/users?q=active+eq+false")).await;
    assert!(b.text().await.contains("0 users."));
    b.goto(&format!("{page}/users?q=userName+eq+%22ada%22+and"))
        .await;
    assert!(b.text().await.contains("The search cannot be read"));

    // An OAuth client for Entra's gallery mode: its secret shown once; the token endpoint
    // gives an access token that opens the SCIM URL; revoked, it stops.
    b.goto(&format!("{}/portal/{}", app.address, contoso.slug))
        .await;
    b.fill("client-name", "Entra").await;
    b.click("form[action$='/clients'] button[type=submit]")
        .await;
    let (client_id, client_secret) = (b.value("client-id").await, b.value("client-secret").await);
    assert!(client_id.starts_with("rci_") && client_secret.starts_with("rcs_"));
    b.reveal("client-secret").await;
    b.screenshot("portal-oauth-client").await;
    let granted: serde_json::Value = app
        .http
        .post(format!("{}/oauth/token", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &client_id)
                .append_pair("client_secret", &client_secret)
                .finish(),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = granted["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned();
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &access).await,
        StatusCode::OK
    );
    b.click("button[aria-label='Revoke the client Entra']")
        .await;
    assert!(b.text().await.contains("The OAuth client is revoked"));
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &access).await,
        StatusCode::UNAUTHORIZED
    );

    // The eye shows it again.
    b.goto(&format!("{}/portal/{}", app.address, contoso.slug))
        .await;
    assert!(b.text().await.contains("Entra production"));
    b.click("form[action$='/reveal'] button").await;
    assert_eq!(b.value("token").await, first);
    b.screenshot("portal-3-token-shown-again").await;

    // Rotate: both work; revoke the old one: it stops.
    b.click("form[action$='/tokens'] button[type=submit]").await;
    let second = b.value("token").await;
    assert_ne!(second, first);
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &first).await,
        StatusCode::OK
    );
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &second).await,
        StatusCode::OK
    );
    let old_last4 = &first[first.len() - 4..];
    b.click(&format!(
        "button[aria-label='Revoke the token ending in {old_last4}']"
    ))
    .await;
    assert!(b.text().await.contains("The token is revoked"));
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &first).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &second).await,
        StatusCode::OK
    );
    b.screenshot("portal-4-rotated-and-revoked").await;

    // Rotate with a grace period: the current token works for an hour more, then stops.
    b.choose("token-old", "1h").await;
    b.click("form[action$='/tokens'] button[type=submit]").await;
    assert!(b.text().await.contains("before the old ones expire"));
    let third = b.value("token").await;
    for token in [&second, &third] {
        assert_eq!(
            scim(&app, &contoso.id, "/Users", token).await,
            StatusCode::OK
        );
    }
    b.reveal("tokens-heading").await;
    b.screenshot("portal-4b-rotated-with-grace").await;
    clock.advance(time::Duration::hours(1));
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &second).await,
        StatusCode::UNAUTHORIZED,
        "the grace period is over"
    );
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &third).await,
        StatusCode::OK
    );

    // Groups off: the SCIM /Groups endpoint answers 403.
    b.tick("#s-groups").await;
    b.click("form[action$='/settings'] button[type=submit]")
        .await;
    assert!(b.text().await.contains("Settings saved"));
    assert_eq!(
        b.status().await,
        200,
        "saved, and shown again after a redirect"
    );
    assert_eq!(
        scim(&app, &contoso.id, "/Groups", &third).await,
        StatusCode::FORBIDDEN
    );
    // A bad value saves nothing and says why (the browser itself refuses a lifetime out of
    // range, so the server is tried with an attribute type it does not know).
    b.fill("s-attributes", "badge:colour").await;
    b.click("form[action$='/settings'] button[type=submit]")
        .await;
    let said = b.text().await;
    assert!(said.contains("Nothing was saved"), "{said}");
    assert_eq!(
        b.status().await,
        400,
        "a refused form is answered as refused"
    );
    assert_eq!(
        scim(&app, &contoso.id, "/Groups", &third).await,
        StatusCode::FORBIDDEN,
        "the refused form changed nothing"
    );
    b.reveal("settings-heading").await;
    b.screenshot("portal-5-settings-refused").await;

    // Another tenant's page, by editing the address: 404, as if it did not exist.
    b.goto(&format!("{}/portal/{}", app.address, other.slug))
        .await;
    assert!(b.text().await.contains("Page not found"));
    let direct = app
        .http
        .get(format!("{}/portal/{}", app.address, other.slug))
        .send()
        .await
        .unwrap();
    assert_eq!(direct.status(), StatusCode::NOT_FOUND);

    // A plan without provisioning: the page says so, with no token button; SCIM refuses.
    let change = TenantChange {
        plan: Some("professional".into()),
        ..TenantChange::default()
    };
    app.directory
        .change_tenant(&contoso.id, &change)
        .await
        .expect("changing the plan");
    b.goto(&format!("{}/portal/{}", app.address, contoso.slug))
        .await;
    let text = b.text().await;
    assert!(
        text.contains("Provisioning is not part of your plan"),
        "{text}"
    );
    assert!(!text.contains("Generate token") && !text.contains("Rotate"));
    assert_eq!(
        scim(&app, &contoso.id, "/Users", &third).await,
        StatusCode::FORBIDDEN
    );

    // The provisioning log: what the identity provider's requests did, the refusals explained.
    let logs = format!("{}/portal/{}/logs", app.address, contoso.slug);
    let mut text = String::new();
    for _ in 0..400 {
        b.goto(&logs).await;
        text = b.text().await;
        if text.contains("not part of this organisation") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(text.contains("Last 24 hours"), "{text}");
    assert!(text.contains("Created user ada@contoso.com"), "{text}");
    assert!(text.contains("refused (401)"), "{text}");
    b.screenshot("portal-8-provisioning-log").await;
    // Each entry's time is to the second, and its column breaks between the day and the time
    // of day, nowhere else (the window is as wide as the screenshots', so the column is narrow).
    let times = b
        .script(
            "return [...document.querySelectorAll('td.when a')].map(a => \
             [a.textContent, new Set([...a.getClientRects()].map(r => Math.round(r.top))).size]);",
        )
        .await;
    let times = times.as_array().expect("the rows' times");
    assert!(!times.is_empty());
    for t in times {
        let (text, lines) = (t[0].as_str().unwrap_or(""), t[1].as_u64().unwrap_or(0));
        let shape = "0000-00-00 00:00:00 UTC";
        let same = text.len() == shape.len()
            && text.bytes().zip(shape.bytes()).all(|(c, s)| {
                if s == b'0' {
                    c.is_ascii_digit()
                } else {
                    c == s
                }
            });
        assert!(same, "{text} is not shaped {shape}");
        assert!((1..=2).contains(&lines), "{text} takes {lines} lines");
    }
    b.goto(&format!("{logs}?outcome=refused")).await;
    let filtered = b.text().await;
    assert!(
        !filtered.contains("Created user ada@contoso.com"),
        "{filtered}"
    );
    // A time range of one's own: one that ends before the requests shows none, one around
    // them shows them, and a time that cannot be read is said, not silently dropped.
    let now = app.directory.clock().now();
    let minute = |t: time::OffsetDateTime| {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        )
    };
    // The test's clock has moved an hour and more past the requests made at its start: a day
    // before now is before all of them, whatever the minute.
    let day = time::Duration::days(1);
    b.goto(&format!("{logs}?to={}", minute(now - day))).await;
    let before = b.text().await;
    assert!(before.contains("No request matches"), "{before}");
    b.goto(&format!(
        "{logs}?from={}&to={}",
        minute(now - day),
        minute(now + time::Duration::hours(1))
    ))
    .await;
    let around = b.text().await;
    assert!(around.contains("Created user ada@contoso.com"), "{around}");
    assert_eq!(b.value("from").await, minute(now - day));
    b.goto(&format!("{logs}?from=yesterday")).await;
    let unread = b.text().await;
    assert!(
        unread.contains("From is not a date and time")
            && unread.contains("Created user ada@contoso.com"),
        "{unread}"
    );
    b.goto(&format!("{logs}?outcome=refused")).await;
    b.click("#results tbody a").await;
    let detail = b.text().await;
    assert!(detail.contains("What to do:"), "{detail}");
    b.screenshot("portal-9-log-entry").await;
    b.screenshot("portal-6-plan-without-provisioning").await;

    // On a phone.
    let phone = Browser::start(390, 844).await;
    let link = setup_link(&app, &other.id).await;
    phone.goto(&link).await;
    phone.screenshot("portal-7-phone").await;
    assert!(phone.text().await.contains("Provisioning URL"));
    phone.close().await;
    b.close().await;
}

#[tokio::test]
async fn an_operator_is_created_signs_in_and_manages_tenants() {
    let app = spawn_app().await;
    let secret = app.directory.operator_invite().await.expect("an invite");
    let b = Browser::start(1280, 900).await;

    b.goto(&format!("{}/console", app.address)).await;
    assert!(b.text().await.contains("Sign in to the console"));

    b.goto(&format!("{}/console/setup/{secret}", app.address))
        .await;
    b.screenshot("console-1-setup").await;
    b.fill("email", "ops@example.com").await;
    b.fill("password", "correct horse battery").await;
    b.fill("confirm", "correct horse battery").await;
    b.click("button[type=submit]").await;
    let text = b.text().await;
    assert!(
        text.contains("Tenants") && text.contains("ops@example.com"),
        "{text}"
    );

    // The link worked once.
    b.goto(&format!("{}/console/setup/{secret}", app.address))
        .await;
    assert!(b.text().await.contains("This link cannot be used"));

    b.goto(&format!("{}/console", app.address)).await;
    b.fill("new-name", "Northwind Traders").await;
    b.click("form[action='/console/tenants'] button[type=submit]")
        .await;
    assert!(
        b.text()
            .await
            .contains("Created Northwind Traders (northwind-traders)")
    );
    // The form redirected: reloading the page creates no second tenant.
    let here = b.script("return location.href").await;
    let here = here.as_str().expect("the page's address").to_owned();
    assert!(
        here.ends_with("/console?created=northwind-traders"),
        "{here}"
    );
    b.goto(&here).await;
    let text = b.text().await;
    assert!(
        text.contains("Created Northwind Traders (northwind-traders)")
            && !text.contains("northwind-traders-2"),
        "{text}"
    );
    b.click("button[aria-label='Setup link for Northwind Traders']")
        .await;
    let link = b.value("setup-link").await;
    assert!(link.contains("/portal/open/rpl_"), "{link}");
    b.screenshot("console-2-tenants-with-setup-link").await;

    // Operators open any tenant's page.
    b.click("a[href='/portal/northwind-traders']").await;
    assert!(b.text().await.contains("Provisioning & SSO"));

    // Delete: what goes is said first; a wrong slug deletes nothing.
    b.goto(&format!(
        "{}/console/tenants/northwind-traders/delete",
        app.address
    ))
    .await;
    let text = b.text().await;
    assert!(
        text.contains("0 users") && text.contains("0 tokens"),
        "{text}"
    );
    b.screenshot("console-3-delete-confirmation").await;
    b.fill("confirm", "northwind").await;
    b.click("button.danger").await;
    assert!(b.text().await.contains("was not deleted"));
    b.goto(&format!(
        "{}/console/tenants/northwind-traders/delete",
        app.address
    ))
    .await;
    b.fill("confirm", "northwind-traders").await;
    b.click("button.danger").await;
    assert!(b.text().await.contains("Deleted Northwind Traders"));

    // Sign out; a wrong password is refused; the right one signs in.
    b.click("header button[type=submit]").await;
    assert!(b.text().await.contains("Sign in to the console"));
    b.fill("email", "ops@example.com").await;
    b.fill("password", "wrong password here").await;
    b.click("main button[type=submit]").await;
    assert!(b.text().await.contains("is not right"));
    b.screenshot("console-4-sign-in-refused").await;
    b.fill("password", "correct horse battery").await;
    b.click("main button[type=submit]").await;
    assert!(b.text().await.contains("Tenants"));

    // API keys: one for the tenant API, shown once, works, then revoked.
    b.click("a[href='/console/keys']").await;
    b.fill("key-name", "host app").await;
    b.tick("#scope-tenants").await;
    b.click("form[action='/console/keys'] button[type=submit]")
        .await;
    let key = b.value("new-key").await;
    assert!(key.starts_with("rsk_"), "{key}");
    b.screenshot("console-5-api-key").await;
    let create = |key: String| {
        let (http, url) = (app.http.clone(), format!("{}/api/v1/tenants", app.address));
        async move {
            http.post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({"name": "Via the API"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(create(key.clone()).await, StatusCode::CREATED);
    b.click("button[aria-label='Revoke the key host app']")
        .await;
    assert!(b.text().await.contains("revoked"));
    assert_eq!(create(key).await, StatusCode::UNAUTHORIZED);

    // Webhooks: added (secret shown once), its deliveries page, rotated, removed.
    b.click("a[href='/console/webhooks']").await;
    b.fill("hook-url", "http://127.0.0.1:9/hook").await;
    b.click("form[action='/console/webhooks'] button[type=submit]")
        .await;
    let secret = b.value("new-secret").await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    b.screenshot("console-6-webhooks").await;
    b.click("a[href^='/console/webhooks/wh_']").await;
    assert!(b.text().await.contains("Dead letters"));
    b.click("a[href='/console/webhooks']").await;
    b.click("button[aria-label='Rotate the secret of http://127.0.0.1:9/hook']")
        .await;
    assert_ne!(b.value("new-secret").await, secret);
    b.click("button[aria-label='Remove http://127.0.0.1:9/hook']")
        .await;
    assert!(!b.text().await.contains("127.0.0.1:9/hook"));

    // Plans: one made here is offered for new tenants.
    b.click("a[href='/console/plans']").await;
    b.fill("plan-name", "basic").await;
    b.tick("#plan-provisioning").await;
    b.click("form[action='/console/plans'] button[type=submit]")
        .await;
    let text = b.text().await;
    assert!(text.contains("basic"), "{text}");
    b.screenshot("console-7-plans").await;
    b.goto(&format!("{}/console", app.address)).await;
    assert!(b.text().await.contains("Via the API"));
    b.close().await;
}

#[tokio::test]
async fn an_operator_turns_two_step_sign_in_on_and_then_signs_in_with_a_code() {
    use roster_directory::Clock as _;
    use roster_directory::totp::{code_at, decode};

    let clock = Arc::new(ShiftedClock::default());
    let app = TestApp::builder().clock(clock.clone()).start().await;
    let invite = app.directory.operator_invite().await.expect("an invite");
    app.directory
        .create_operator(&invite, "ops@example.com", "correct horse battery")
        .await
        .expect("creating")
        .expect("the invite works");
    let now = || u64::try_from(clock.now().unix_timestamp()).expect("after 1970");
    let b = Browser::start(1280, 900).await;
    let login = format!("{}/console/login", app.address);

    b.goto(&login).await;
    b.fill("email", "ops@example.com").await;
    b.fill("password", "correct horse battery").await;
    b.click("main button[type=submit]").await;
    b.click("a[href='/console/account']").await;
    assert!(b.text().await.contains("Off."));
    b.click("a[href='/console/account?setup=1']").await;
    let secret = b.value("totp-secret").await;
    let key = decode(&secret).expect("a base32 secret");
    assert_eq!(key.len(), 20, "160 bits");
    b.screenshot("console-8-two-step-setup").await;

    // A code of another time is refused and the same secret offered again; the right one
    // turns it on.
    let stale = code_at(&key, now() + 3_600).unwrap();
    b.fill("on-code", &stale).await;
    b.click("form[action='/console/account/two-step'] button")
        .await;
    assert!(b.text().await.contains("That code is not right"));
    assert_eq!(b.value("totp-secret").await, secret);
    let first = code_at(&key, now()).unwrap();
    b.fill("on-code", &first).await;
    b.click("form[action='/console/account/two-step'] button")
        .await;
    assert!(b.text().await.contains("Two-step sign-in is on"));

    // Signing in now asks for a code; the code already used is refused; the next one works.
    b.click("header button[type=submit]").await;
    b.fill("email", "ops@example.com").await;
    b.fill("password", "correct horse battery").await;
    b.click("main button[type=submit]").await;
    assert!(b.text().await.contains("Enter the six-digit code"));
    b.screenshot("console-9-sign-in-code").await;
    b.fill("password", "correct horse battery").await;
    b.fill("code", &first).await;
    b.click("main button[type=submit]").await;
    assert!(
        b.text().await.contains("is not right"),
        "a code is accepted once"
    );
    clock.advance(time::Duration::seconds(30));
    b.fill("password", "correct horse battery").await;
    b.fill("code", &code_at(&key, now()).unwrap()).await;
    b.click("main button[type=submit]").await;
    assert!(b.text().await.contains("Tenants"));

    // Turned off with a current code: the password alone signs in again.
    b.click("a[href='/console/account']").await;
    clock.advance(time::Duration::seconds(30));
    b.fill("off-code", &code_at(&key, now()).unwrap()).await;
    b.click("form[action='/console/account/two-step/off'] button")
        .await;
    assert!(b.text().await.contains("Two-step sign-in is off"));
    b.click("header button[type=submit]").await;
    b.fill("email", "ops@example.com").await;
    b.fill("password", "correct horse battery").await;
    b.click("main button[type=submit]").await;
    assert!(b.text().await.contains("Tenants"));
    b.close().await;
}
