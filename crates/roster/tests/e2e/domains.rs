//! E-mail domains verified through DNS by a tenant's administrator, on the Provisioning & SSO
//! page: Roster names a TXT record, the administrator publishes it, and Roster looks it up
//! (here in a zone the test holds, as there is no DNS on the test machine).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use roster_directory::domains::TxtLookup;
use roster_store::TenantId;

use crate::support::TestApp;
use crate::support::browser::Browser;

/// A DNS zone the test publishes records in.
#[derive(Default)]
struct Zone(Mutex<HashMap<String, Vec<String>>>);

impl Zone {
    fn publish(&self, name: &str, value: &str) {
        let mut zone = self.0.lock().unwrap();
        zone.entry(name.to_owned())
            .or_default()
            .push(value.to_owned());
    }
}

#[async_trait::async_trait]
impl TxtLookup for Zone {
    async fn txt(&self, name: &str) -> Result<Vec<String>, String> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .unwrap_or_default())
    }
}

/// An administrator asks for the record, presses Verify before publishing it (refused, with
/// what to publish), publishes another organisation's value (refused), then the right one:
/// the domain is theirs, and `/auth/login?email=` finds the organisation by it.
#[tokio::test]
async fn an_administrator_verifies_a_domain_through_dns() {
    let zone = Arc::new(Zone::default());
    let app = TestApp::builder().dns(zone.clone()).start().await;
    let contoso = app.tenant("Contoso").await;
    let fabrikam = app.tenant("Fabrikam").await;
    let contoso_id = TenantId::new(&contoso.id);
    let link = app
        .directory
        .create_portal_link(&contoso_id, None)
        .await
        .expect("a setup link");
    let b = Browser::start(1280, 1000).await;
    b.goto(&format!("{}/portal/open/{}", app.address, link.secret))
        .await;
    b.reveal("verify-domain").await;
    b.fill("verify-domain", "Contoso.test").await;
    b.click("button[value=record]").await;
    let name = b.value("txt-name").await;
    let value = b.value("txt-value").await;
    assert_eq!(name, "_roster-challenge.contoso.test");
    assert!(value.starts_with("roster-domain-verification="), "{value}");
    b.reveal("txt-value").await;
    b.screenshot("domain-1-record-to-publish").await;

    // Not published yet.
    b.click("button[value=verify]").await;
    let text = b.text().await;
    assert!(text.contains("The domain is not verified"), "{text}");
    assert!(text.contains("has no TXT record"), "{text}");
    assert_eq!(
        b.value("txt-value").await,
        value,
        "the record is shown again"
    );

    // Another organisation's record does not verify it for this one.
    let theirs = app
        .directory
        .domain_challenge(&TenantId::new(&fabrikam.id), "contoso.test")
        .unwrap();
    assert_ne!(theirs.value, value);
    zone.publish(&name, &theirs.value);
    b.click("button[value=verify]").await;
    assert!(
        b.text()
            .await
            .contains("none of them this organisation's value")
    );

    zone.publish(&name, &value);
    b.click("button[value=verify]").await;
    let text = b.text().await;
    assert!(text.contains("The domain is verified"), "{text}");
    b.reveal("verify-domain").await;
    b.screenshot("domain-2-verified").await;
    assert_eq!(
        app.directory.domains(&contoso_id).await.unwrap(),
        vec!["contoso.test".to_owned()]
    );
    let found = app
        .directory
        .tenant_for_email("ada@contoso.test")
        .await
        .unwrap()
        .expect("the domain leads to its organisation");
    assert_eq!(found.id.as_str(), contoso.id);

    // Fabrikam cannot take it, even with its own record published.
    zone.publish(&theirs.name, &theirs.value);
    let taken = app
        .directory
        .verify_domain(&TenantId::new(&fabrikam.id), "contoso.test")
        .await
        .unwrap_err();
    assert!(
        taken
            .to_string()
            .contains("already belongs to another organisation"),
        "{taken}"
    );
}

/// The tenant API: the record to publish, a domain verified through DNS once it is there (a
/// clear 400 before), one the host application verified itself, the list, and removal.
#[tokio::test]
async fn the_tenant_api_verifies_lists_and_removes_domains() {
    use roster_directory::Scope;
    use serde_json::{Value, json};
    let zone = Arc::new(Zone::default());
    let app = TestApp::builder().dns(zone.clone()).start().await;
    let tenant = app.tenant("Contoso").await;
    let (_, key) = app
        .directory
        .create_api_key("host app", &[Scope::TenantsWrite])
        .await
        .expect("a key");
    let base = format!("{}/api/v1/tenants/{}/domains", app.address, tenant.id);
    let http = crate::support::http_client();
    let record: Value = http
        .get(format!("{base}/contoso.test/dns-record"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(record["type"], "TXT");
    assert_eq!(record["name"], "_roster-challenge.contoso.test");
    let post = |body: Value| {
        let request = http.post(&base).bearer_auth(&key).json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, refused) = post(json!({"domain": "contoso.test"})).await;
    assert_eq!(status, 400, "{refused}");
    let detail = refused.to_string();
    assert!(
        detail.contains(record["value"].as_str().unwrap()),
        "{detail}"
    );
    assert!(
        app.directory
            .domains(&TenantId::new(&tenant.id))
            .await
            .unwrap()
            .is_empty()
    );

    zone.publish(
        record["name"].as_str().unwrap(),
        record["value"].as_str().unwrap(),
    );
    let (status, made) = post(json!({"domain": "contoso.test"})).await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(
        made,
        json!({"domain": "contoso.test", "verification": "dns"})
    );
    let (status, made) = post(json!({"domain": "contoso.example", "verification": "manual"})).await;
    assert_eq!(status, 201, "{made}");
    let (status, _) = post(json!({"domain": "x.test", "verification": "email"})).await;
    assert_eq!(status, 400);

    let listed: Value = http
        .get(&base)
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed["data"],
        json!([{"domain": "contoso.example"}, {"domain": "contoso.test"}])
    );
    let removed = http
        .delete(format!("{base}/contoso.test"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status().as_u16(), 204);
    assert_eq!(
        app.directory
            .domains(&TenantId::new(&tenant.id))
            .await
            .unwrap(),
        vec!["contoso.example".to_owned()]
    );
}
