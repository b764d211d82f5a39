//! Single sign-on's storage: connections per tenant, host applications, signing keys.

use super::*;
use crate::{HostAppRecord, SigningKeyRecord, SsoConnectionRecord};

fn connection(tenant: &TenantId, id: &str, name: &str, is_default: bool) -> SsoConnectionRecord {
    SsoConnectionRecord {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        name: name.to_owned(),
        protocol: "saml".to_owned(),
        settings: json!({"metadata": "<md/>", "user_key": "nameid"}),
        sealed: vec![1, 2, 3],
        is_default,
        created_at: BASE,
        updated_at: BASE,
    }
}

/// Connections: found by id or name in their tenant only, one default per tenant, names
/// unique per tenant, updated, removed, and gone with their tenant.
pub async fn sso_connections(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let first = connection(&a, "c-1", "entra", true);
    ok(
        store.add_sso_connection(&first).await,
        "adding a connection",
    );
    ok(
        store
            .add_sso_connection(&connection(&b, "c-2", "entra", true))
            .await,
        "the same name in another tenant",
    );
    assert_err(
        store
            .add_sso_connection(&connection(&a, "c-3", "entra", false))
            .await,
        "Conflict(\"name\")",
        "a name taken in the tenant",
    );
    assert_eq!(
        ok(store.sso_connection(&a, "entra").await, "by name"),
        Some(first.clone())
    );
    assert_eq!(
        ok(store.sso_connection(&a, "c-1").await, "by id"),
        Some(first.clone())
    );
    assert_eq!(
        ok(store.sso_connection(&b, "c-1").await, "another tenant's id"),
        None,
        "a tenant never reads another's connection"
    );
    let second = connection(&a, "c-4", "okta", true);
    ok(store.add_sso_connection(&second).await, "a second default");
    let listed = ok(store.sso_connections(&a).await, "listing");
    let defaults: Vec<&str> = listed
        .iter()
        .filter(|c| c.is_default)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(defaults, ["okta"], "one default per tenant");
    assert_eq!(
        ok(store.sso_connection(&b, "entra").await, "b's").map(|c| c.is_default),
        Some(true),
        "another tenant's default stays"
    );
    let mut changed = first.clone();
    changed.settings = json!({"metadata": "<md2/>"});
    changed.sealed = vec![9];
    changed.is_default = true;
    changed.updated_at = BASE + Duration::hours(1);
    ok(store.update_sso_connection(&changed).await, "updating");
    let listed = ok(store.sso_connections(&a).await, "listing again");
    assert_eq!(listed[0], changed, "by name: entra, then okta");
    assert!(!listed[1].is_default);
    let mut elsewhere = changed.clone();
    elsewhere.tenant_id = b.clone();
    assert_err(
        store.update_sso_connection(&elsewhere).await,
        "NotFound",
        "updating through another tenant",
    );
    assert_err(
        store.remove_sso_connection(&b, "c-1").await,
        "NotFound",
        "removing through another tenant",
    );
    ok(
        store
            .add_tenant_domain(&a, "contoso.com", "operator", BASE)
            .await,
        "a domain",
    );
    assert_err(
        store
            .add_tenant_domain(&b, "contoso.com", "operator", BASE)
            .await,
        "Conflict(\"domain\")",
        "a domain is one tenant's",
    );
    assert_eq!(
        ok(store.domain_tenant("contoso.com").await, "by domain"),
        Some(a.clone())
    );
    assert_eq!(
        ok(store.tenant_domains(&a).await, "domains"),
        ["contoso.com"]
    );
    assert_err(
        store.remove_tenant_domain(&b, "contoso.com").await,
        "NotFound",
        "through another tenant",
    );
    ok(store.remove_sso_connection(&a, "c-1").await, "removing");
    assert_eq!(ok(store.sso_connection(&a, "c-1").await, "removed"), None);
    ok(store.delete_tenant(&a, &[]).await, "deleting the tenant");
    assert!(ok(store.sso_connections(&a).await, "deleted tenant").is_empty());
    assert_eq!(
        ok(store.domain_tenant("contoso.com").await, "its domain"),
        None,
        "a deleted tenant's domains go with it"
    );
}

/// Host applications and ID-token signing keys.
pub async fn host_apps_and_keys(store: &dyn Store) {
    let app = HostAppRecord {
        id: "app-1".into(),
        name: "Host".into(),
        secret_hash: [5; 32],
        redirect_uris: vec!["https://app.test/cb".into()],
        login_uri: Some("https://app.test/login".into()),
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_host_app(&app).await, "registering");
    assert_eq!(
        ok(store.host_app("app-1").await, "by id"),
        Some(app.clone())
    );
    ok(
        store
            .revoke_host_app("app-1", BASE + Duration::hours(1))
            .await,
        "revoking",
    );
    assert_err(
        store.revoke_host_app("app-1", BASE).await,
        "NotFound",
        "revoking twice",
    );
    let listed = ok(store.host_apps().await, "listing");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(BASE + Duration::hours(1)));

    let key = |kid: &str, minutes: i64| SigningKeyRecord {
        kid: kid.to_owned(),
        sealed: vec![1],
        public_jwk: json!({"kty": "RSA", "kid": kid}),
        created_at: BASE + Duration::minutes(minutes),
        signs_from: BASE + Duration::minutes(minutes),
        retired_at: None,
    };
    ok(store.add_signing_key(&key("k1", 0)).await, "a key");
    ok(store.add_signing_key(&key("k2", 10)).await, "a newer key");
    let kids = |keys: Vec<SigningKeyRecord>| keys.into_iter().map(|k| k.kid).collect::<Vec<_>>();
    assert_eq!(
        kids(ok(store.signing_keys(BASE).await, "keys")),
        ["k2", "k1"]
    );
    ok(
        store.reseal_signing_key("k1", &[2, 3]).await,
        "sealing again",
    );
    assert_eq!(
        ok(store.signing_keys(BASE).await, "resealed")[1].sealed,
        vec![2, 3]
    );
    ok(
        store
            .retire_signing_key("k1", BASE + Duration::hours(2))
            .await,
        "retiring",
    );
    assert_eq!(
        kids(ok(
            store.signing_keys(BASE + Duration::hours(1)).await,
            "before"
        )),
        ["k2", "k1"],
        "published until it retires"
    );
    assert_eq!(
        kids(ok(
            store.signing_keys(BASE + Duration::hours(2)).await,
            "after"
        )),
        ["k2"]
    );
}
