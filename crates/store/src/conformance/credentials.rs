//! Credentials: SCIM bearer tokens, OAuth clients, used client assertions and API keys.

use super::*;

/// API keys: stored by hash, found while live, revoked once, listed with their state.
pub async fn api_keys(store: &dyn Store) {
    let key = ApiKeyRecord {
        id: "key-1".into(),
        name: "reconciler".into(),
        hash: [7; 32],
        created_at: BASE,
        revoked_at: None,
        scopes: vec!["events:read".into(), "tenants:write".into()],
    };
    ok(store.add_api_key(&key).await, "adding an API key");
    assert_eq!(
        ok(store.api_key(&[7; 32]).await, "looking up a key"),
        Some(key.clone()),
        "a live key is found by its hash"
    );
    assert_eq!(
        ok(store.api_key(&[8; 32]).await, "looking up a wrong key"),
        None
    );
    ok(
        store
            .revoke_api_key("key-1", BASE + Duration::hours(1))
            .await,
        "revoking",
    );
    assert_eq!(
        ok(store.api_key(&[7; 32]).await, "a revoked key"),
        None,
        "revoked keys are not found"
    );
    assert_err(
        store.revoke_api_key("key-1", BASE).await,
        "NotFound",
        "revoking a revoked key",
    );
    let listed = ok(store.api_keys().await, "listing keys");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].revoked_at, Some(BASE + Duration::hours(1)));
}

/// Tokens: a token resolves to its own tenant only, an unknown one to nothing, and issuing a
/// token with [`OtherTokens::Revoke`] makes the tenant's earlier tokens stop working (and
/// nobody else's); with [`OtherTokens::ExpireBy`] they stop at that time (never later than
/// an expiry they had).
pub async fn tokens(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let token = |id: &str, tenant: &TenantId, byte: u8, minutes: i64| TokenRecord {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        hash: [byte; 32],
        created_at: BASE + Duration::minutes(minutes),
        name: String::new(),
        last4: String::new(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        client_id: None,
        sealed: None,
    };
    let a1 = token("tok-a1", &a, 1, 1);
    let a2 = token("tok-a2", &a, 2, 2);
    let b1 = token("tok-b1", &b, 3, 3);
    ok(
        store.add_token(&a1, OtherTokens::Keep).await,
        "issuing a first token for tenant A",
    );
    ok(
        store.add_token(&a2, OtherTokens::Keep).await,
        "issuing a second token for tenant A",
    );
    ok(
        store.add_token(&b1, OtherTokens::Keep).await,
        "issuing a token for tenant B",
    );
    let resolve = |hash: [u8; 32]| async move {
        ok(
            store.grant(&hash, BASE).await,
            "looking a token up by its hash",
        )
        .map(|g| g.tenant.id)
    };
    assert_eq!(
        resolve(a1.hash).await,
        Some(a.clone()),
        "A's first token opens tenant A"
    );
    assert_eq!(
        resolve(a2.hash).await,
        Some(a.clone()),
        "a second token without revoke_others leaves the first working and opens A"
    );
    assert_eq!(
        resolve(b1.hash).await,
        Some(b.clone()),
        "B's token opens tenant B, not A"
    );
    assert_eq!(
        resolve([9; 32]).await,
        None,
        "a token nobody issued opens nothing"
    );

    let a3 = token("tok-a3", &a, 4, 4);
    ok(
        store.add_token(&a3, OtherTokens::Revoke).await,
        "rotating tenant A's token (revoke_others)",
    );
    assert_eq!(
        resolve(a1.hash).await,
        None,
        "after rotation, A's first old token is refused"
    );
    assert_eq!(
        resolve(a2.hash).await,
        None,
        "after rotation, A's second old token is refused"
    );
    assert_eq!(
        resolve(a3.hash).await,
        Some(a.clone()),
        "the rotated-in token opens tenant A"
    );
    assert_eq!(
        resolve(b1.hash).await,
        Some(b.clone()),
        "rotating tenant A's token must not revoke tenant B's"
    );
    let a4 = token("tok-a4", &a, 5, 5);
    ok(
        store.add_token(&a4, OtherTokens::Revoke).await,
        "rotating tenant A's token again",
    );
    assert_eq!(
        resolve(a3.hash).await,
        None,
        "a second rotation revokes the first rotated-in token"
    );
    assert_eq!(
        resolve(a4.hash).await,
        Some(a.clone()),
        "the newest token opens tenant A"
    );

    // A rotation with a grace period: the others work until the chosen time, then stop.
    let a5 = token("tok-a5", &a, 6, 6);
    let until = BASE + Duration::hours(1);
    ok(
        store.add_token(&a5, OtherTokens::ExpireBy(until)).await,
        "rotating tenant A's token with a grace period",
    );
    let at = |hash: [u8; 32], minutes: i64| async move {
        ok(
            store.grant(&hash, BASE + Duration::minutes(minutes)).await,
            "looking a token up at a time",
        )
        .map(|g| g.token.id)
    };
    assert_eq!(
        at(a4.hash, 59).await.as_deref(),
        Some("tok-a4"),
        "the old token works until the grace period ends"
    );
    assert_eq!(at(a4.hash, 60).await, None, "and stops when it ends");
    assert_eq!(
        at(a5.hash, 600).await.as_deref(),
        Some("tok-a5"),
        "the new token keeps no expiry of the old ones"
    );
    assert_eq!(
        at(b1.hash, 600).await.as_deref(),
        Some("tok-b1"),
        "another tenant's token is untouched"
    );
    let listed = ok(store.tokens(&a).await, "listing after the rotation");
    let a4_listed = listed
        .iter()
        .find(|t| t.id == "tok-a4")
        .expect("tok-a4 listed");
    assert_eq!(
        a4_listed.expires_at,
        Some(until),
        "the old token shows its expiry"
    );
    let a6 = token("tok-a6", &a, 7, 7);
    ok(
        store
            .add_token(&a6, OtherTokens::ExpireBy(BASE + Duration::days(1)))
            .await,
        "rotating again with a later grace period",
    );
    assert_eq!(
        at(a4.hash, 60).await,
        None,
        "a later grace period never lengthens an earlier expiry"
    );
    assert_eq!(
        at(a5.hash, 60 * 23).await.as_deref(),
        Some("tok-a5"),
        "the token rotated out second works until its own grace period ends"
    );
    assert_eq!(at(a5.hash, 60 * 24).await, None);
}

/// Client assertions: the first use of an issuer's `jti` is accepted, a second refused until
/// the record expires, the same `jti` of another issuer is another assertion, and expired
/// records are purged.
pub async fn used_assertions(store: &dyn Store) {
    let remember = |issuer: &'static str, jti: &'static str, expires_in: i64, now: i64| async move {
        ok(
            store
                .remember_assertion(
                    issuer,
                    jti,
                    BASE + Duration::minutes(expires_in),
                    BASE + Duration::minutes(now),
                )
                .await,
            "remembering an assertion",
        )
    };
    assert!(remember("https://a", "j1", 10, 0).await, "a first use");
    assert!(
        !remember("https://a", "j1", 10, 1).await,
        "a second use of one assertion is a replay"
    );
    assert!(
        remember("https://b", "j1", 10, 0).await,
        "the same jti from another issuer is another assertion"
    );
    assert!(remember("https://a", "j2", 10, 0).await, "another jti");
    let used = |jti: &'static str, at: i64| async move {
        ok(
            store
                .assertion_used("https://a", jti, BASE + Duration::minutes(at))
                .await,
            "asking whether an assertion was used",
        )
    };
    assert!(used("j2", 5).await, "a remembered assertion is used");
    assert!(!used("j2", 11).await, "an expired record is not");
    assert!(!used("j9", 0).await, "an unknown one is not");
    assert!(
        remember("https://a", "j1", 30, 11).await,
        "an expired record no longer counts"
    );
    let purged = ok(
        store.purge_assertions(BASE + Duration::minutes(12)).await,
        "purging",
    );
    assert_eq!(
        purged, 2,
        "the records of https://b j1 and https://a j2 expired; https://a j1 was renewed"
    );
    assert!(
        !remember("https://a", "j1", 30, 12).await,
        "a renewed record is kept"
    );
}

/// Token lifecycle: several named static tokens with expiry and last use, listing and
/// revocation of one, and OAuth clients whose revocation ends their access tokens; expired
/// access tokens are purged.
pub async fn token_lifecycle(store: &dyn Store) {
    let a = new_tenant(store, "t-life-a").await;
    let b = new_tenant(store, "t-life-b").await;
    let token =
        |id: &str, tenant: &TenantId, byte: u8, expires: Option<i64>, client: Option<&str>| {
            TokenRecord {
                id: id.to_owned(),
                tenant_id: tenant.clone(),
                hash: [byte; 32],
                created_at: BASE,
                name: format!("name of {id}"),
                last4: format!("{byte:04}"),
                expires_at: expires.map(|m| BASE + Duration::minutes(m)),
                last_used_at: None,
                revoked_at: None,
                client_id: client.map(str::to_owned),
                sealed: None,
            }
        };
    let forever = token("life-1", &a, 11, None, None);
    let hourly = token("life-2", &a, 12, Some(60), None);
    let other = token("life-3", &b, 13, None, None);
    for t in [&forever, &hourly, &other] {
        ok(
            store.add_token(t, OtherTokens::Keep).await,
            "issuing a static token",
        );
    }
    let live = |hash: [u8; 32], minutes: i64| async move {
        ok(
            store.grant(&hash, BASE + Duration::minutes(minutes)).await,
            "looking a token up",
        )
        .map(|g| (g.tenant.id, g.token.id))
    };
    assert_eq!(
        live(hourly.hash, 59).await,
        Some((a.clone(), "life-2".to_owned())),
        "a token works before it expires, and the grant names the token"
    );
    assert_eq!(
        live(hourly.hash, 60).await,
        None,
        "a token stops working at its expiry"
    );
    assert_eq!(
        live(forever.hash, 100_000).await,
        Some((a.clone(), "life-1".to_owned())),
        "a token without expiry keeps working"
    );
    let listed = ok(store.tokens(&a).await, "listing tenant A's tokens");
    assert_eq!(
        listed,
        vec![forever.clone(), hourly.clone()],
        "a tenant lists its own static tokens, whole, and none of another tenant's"
    );

    ok(
        store
            .touch_token("life-1", BASE + Duration::minutes(5))
            .await,
        "recording a use",
    );
    ok(
        store
            .touch_token("life-1", BASE + Duration::minutes(2))
            .await,
        "recording an older use",
    );
    let listed = ok(store.tokens(&a).await, "listing after a use");
    assert_eq!(
        listed[0].last_used_at,
        Some(BASE + Duration::minutes(5)),
        "last use is the latest recorded, never moved backwards"
    );

    assert!(
        matches!(
            store.revoke_token(&b, "life-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "tenant B cannot revoke tenant A's token"
    );
    ok(
        store
            .revoke_token(&a, "life-1", BASE + Duration::minutes(6))
            .await,
        "revoking one token",
    );
    assert_eq!(live(forever.hash, 7).await, None, "a revoked token stops");
    assert!(
        live(hourly.hash, 7).await.is_some(),
        "revoking one token leaves the tenant's other token working"
    );
    assert!(
        matches!(
            store.revoke_token(&a, "life-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "revoking a revoked token is NotFound"
    );
    assert_eq!(
        ok(store.tokens(&a).await, "listing after a revocation")
            .into_iter()
            .map(|t| t.id)
            .collect::<Vec<_>>(),
        vec!["life-2".to_owned()],
        "a revoked token is no longer listed"
    );

    let client = ClientRecord {
        id: "client-1".into(),
        tenant_id: a.clone(),
        name: "identity provider".into(),
        secret_hash: [21; 32],
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_client(&client).await, "adding an OAuth client");
    assert_eq!(
        ok(store.client("client-1").await, "reading a client"),
        Some(client.clone())
    );
    assert_eq!(
        ok(store.clients(&a).await, "listing clients"),
        vec![client.clone()]
    );
    assert_eq!(
        ok(store.clients(&b).await, "listing another tenant's clients"),
        vec![],
        "a tenant sees none of another tenant's clients"
    );
    let access = token("life-4", &a, 14, Some(60), Some("client-1"));
    let stale = token("life-5", &a, 15, Some(1), Some("client-1"));
    ok(
        store.add_token(&access, OtherTokens::Keep).await,
        "issuing an access token",
    );
    ok(
        store.add_token(&stale, OtherTokens::Keep).await,
        "issuing a short access token",
    );
    assert_eq!(
        live(access.hash, 1).await,
        Some((a.clone(), "life-4".to_owned())),
        "an access token opens its client's tenant"
    );
    assert_eq!(
        ok(store.tokens(&a).await, "listing static tokens").len(),
        1,
        "access tokens are not listed among static tokens"
    );
    let rotated = token("life-6", &a, 16, None, None);
    ok(
        store.add_token(&rotated, OtherTokens::Revoke).await,
        "rotating the static tokens",
    );
    assert!(
        live(access.hash, 1).await.is_some(),
        "rotating static tokens leaves access tokens working"
    );
    assert_eq!(
        ok(
            store
                .purge_access_tokens(BASE + Duration::minutes(30))
                .await,
            "purging expired access tokens",
        ),
        1,
        "only the access token that expired before the cut-off is purged"
    );
    assert!(
        matches!(
            store.revoke_client(&b, "client-1", BASE).await,
            Err(StoreError::NotFound)
        ),
        "tenant B cannot revoke tenant A's client"
    );
    ok(
        store
            .revoke_client(&a, "client-1", BASE + Duration::minutes(2))
            .await,
        "revoking the client",
    );
    assert_eq!(
        live(access.hash, 3).await,
        None,
        "revoking a client ends its access tokens"
    );
    assert_eq!(
        ok(store.client("client-1").await, "reading a revoked client"),
        None
    );
    assert_eq!(
        ok(store.clients(&a).await, "listing after revocation"),
        vec![]
    );
    assert!(
        live(rotated.hash, 3).await.is_some(),
        "revoking a client leaves static tokens working"
    );
}

/// Setup links: stored by hash, opened once (of two opening at once, one gets it), never after
/// they expire or are revoked; a tenant lists the ones still to open.
pub async fn portal_links(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let b = new_tenant(store, "t-b").await;
    let link = |id: &str, tenant: &TenantId, byte: u8, days: i64| PortalLink {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        hash: [byte; 32],
        created_at: BASE,
        expires_at: BASE + Duration::days(days),
        opened_at: None,
        revoked_at: None,
    };
    let first = link("pl-1", &a, 31, 7);
    let second = link("pl-2", &a, 32, 7);
    let short = link("pl-3", &a, 33, 1);
    for l in [&first, &second, &short] {
        ok(store.add_portal_link(l).await, "adding a setup link");
    }
    let now = BASE + Duration::hours(30);
    let open = ok(store.portal_links(&a, now).await, "a's links");
    let ids: Vec<&str> = open.iter().map(|l| l.id.as_str()).collect();
    assert_eq!(ids, ["pl-1", "pl-2"], "an expired link is not listed");
    assert!(ok(store.portal_links(&b, now).await, "b's links").is_empty());
    assert_eq!(
        ok(
            store.open_portal_link(&[33; 32], now).await,
            "an expired link"
        ),
        None
    );
    let opened = ok(store.open_portal_link(&[31; 32], now).await, "opening");
    assert_eq!(
        opened.map(|l| (l.id, l.tenant_id)),
        Some(("pl-1".into(), a.clone()))
    );
    assert_eq!(
        ok(
            store.open_portal_link(&[31; 32], now).await,
            "opening again"
        ),
        None,
        "a link opens once"
    );
    assert_err(
        store.revoke_portal_link(&b, "pl-2", now).await,
        "NotFound",
        "revoking a's link as b",
    );
    ok(store.revoke_portal_link(&a, "pl-2", now).await, "revoking");
    assert_eq!(
        ok(
            store.open_portal_link(&[32; 32], now).await,
            "a revoked link"
        ),
        None
    );
    assert!(ok(store.portal_links(&a, now).await, "a's links").is_empty());

    // The purge takes the links that expired before the cut, opened, revoked or not.
    assert_eq!(
        ok(
            store.purge_portal_links(BASE + Duration::days(2)).await,
            "purging"
        ),
        1,
        "the short link alone"
    );
    assert_eq!(
        ok(
            store.purge_portal_links(BASE + Duration::days(8)).await,
            "purging"
        ),
        2,
        "the opened and the revoked link"
    );
    // A list holds the newest links alone.
    let many = crate::MAX_PORTAL_LINKS_LISTED;
    for i in 0..many + 2 {
        let mut l = link(&format!("pl-many-{i:03}"), &b, 0, 7);
        l.hash[..8].copy_from_slice(&i.to_be_bytes());
        l.hash[8] = 1;
        l.created_at = BASE + Duration::seconds(i as i64);
        ok(store.add_portal_link(&l).await, "adding a setup link");
    }
    let listed = ok(store.portal_links(&b, now).await, "b's links");
    assert_eq!(listed.len() as u64, many, "at most the limit");
    assert_eq!(
        listed[0].id,
        format!("pl-many-{:03}", many + 1),
        "the newest first"
    );
}

/// Sealed tokens: kept with the token, read back with it, replaced in one transaction by a
/// key rotation, which leaves the new key as the only one on record.
pub async fn sealed_tokens(store: &dyn Store) {
    let a = new_tenant(store, "t-a").await;
    let token = |id: &str, byte: u8, sealed: Option<Vec<u8>>| TokenRecord {
        id: id.to_owned(),
        tenant_id: a.clone(),
        hash: [byte; 32],
        created_at: BASE + Duration::minutes(i64::from(byte)),
        name: String::new(),
        last4: "abcd".into(),
        expires_at: None,
        last_used_at: None,
        revoked_at: None,
        client_id: None,
        sealed,
    };
    ok(
        store
            .add_token(&token("tok-old", 41, None), OtherTokens::Keep)
            .await,
        "an unsealed token",
    );
    ok(
        store
            .add_token(
                &token("tok-new", 42, Some(vec![1, 2, 3])),
                OtherTokens::Keep,
            )
            .await,
        "a sealed token",
    );
    ok(
        store.record_sealing_key("key-a", BASE).await,
        "recording a key",
    );
    ok(
        store.record_sealing_key("key-a", BASE).await,
        "recording it again",
    );
    assert_eq!(ok(store.sealing_keys().await, "the keys"), ["key-a"]);
    let listed = ok(store.tokens(&a).await, "a's tokens");
    let sealed: Vec<Option<Vec<u8>>> = listed.iter().map(|t| t.sealed.clone()).collect();
    assert_eq!(sealed, [None, Some(vec![1, 2, 3])]);
    assert_eq!(
        ok(store.sealed_tokens().await, "the sealed tokens"),
        [(a.clone(), "tok-new".to_owned(), vec![1, 2, 3])]
    );
    ok(
        store
            .reseal_tokens(&[("tok-new".to_owned(), vec![9, 9])], "key-b", BASE)
            .await,
        "resealing",
    );
    assert_eq!(
        ok(store.sealed_tokens().await, "the sealed tokens"),
        [(a.clone(), "tok-new".to_owned(), vec![9, 9])]
    );
    assert_eq!(ok(store.sealing_keys().await, "the keys"), ["key-b"]);
}

/// A token is found by its hash whatever its state, so that an administrator can be told why
/// it was refused: revoked (and when), expired, an access token; an unknown hash is not found.
pub async fn token_by_hash(store: &dyn Store) {
    let a = new_tenant(store, "t-hash").await;
    let token = |id: &str, byte: u8, expires: Option<i64>, client: Option<&str>| TokenRecord {
        id: id.to_owned(),
        tenant_id: a.clone(),
        hash: [byte; 32],
        created_at: BASE,
        name: format!("name of {id}"),
        last4: "wxyz".into(),
        expires_at: expires.map(|m| BASE + Duration::minutes(m)),
        last_used_at: None,
        revoked_at: None,
        client_id: client.map(str::to_owned),
        sealed: None,
    };
    let client = ClientRecord {
        id: "client-hash".into(),
        tenant_id: a.clone(),
        name: "identity provider".into(),
        secret_hash: [50; 32],
        created_at: BASE,
        revoked_at: None,
    };
    ok(store.add_client(&client).await, "adding an OAuth client");
    let revoked = token("hash-1", 51, None, None);
    let expired = token("hash-2", 52, Some(1), None);
    let access = token("hash-3", 53, Some(60), Some("client-hash"));
    for t in [&revoked, &expired, &access] {
        ok(store.add_token(t, OtherTokens::Keep).await, "issuing");
    }
    let revoked_at = BASE + Duration::minutes(5);
    ok(
        store.revoke_token(&a, "hash-1", revoked_at).await,
        "revoking",
    );
    let found =
        |hash: [u8; 32]| async move { ok(store.token_by_hash(&hash).await, "a lookup by hash") };
    assert_eq!(
        found(revoked.hash).await,
        Some(TokenRecord {
            revoked_at: Some(revoked_at),
            ..revoked.clone()
        }),
        "a revoked token is found, with when it was revoked"
    );
    assert_eq!(found(expired.hash).await, Some(expired), "an expired token");
    assert_eq!(found(access.hash).await, Some(access), "an access token");
    assert_eq!(found([59; 32]).await, None, "an unknown hash is not found");
}

/// Console operators, the one-time links that create them, and sessions: an e-mail is one
/// operator's, a link creates one operator once and never after it expires, a session is found
/// until it ends, and ends with its tenant.
pub async fn console(store: &dyn Store) {
    let ada = Operator {
        id: "op-1".into(),
        email: "ada@example.com".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$x$y".into(),
        created_at: BASE,
        totp_sealed: None,
        totp_step: 0,
    };
    assert_eq!(ok(store.operator_count().await, "counting"), 0);
    ok(
        store
            .add_operator_invite(&[51; 32], BASE, BASE + Duration::minutes(30))
            .await,
        "an invite",
    );
    assert!(ok(
        store.operator_invite_live(&[51; 32], BASE).await,
        "live"
    ));
    assert!(!ok(
        store
            .operator_invite_live(&[51; 32], BASE + Duration::hours(1))
            .await,
        "expired"
    ));
    assert!(ok(
        store.use_operator_invite(&[51; 32], BASE, &ada).await,
        "using it"
    ));
    let mut bob = ada.clone();
    bob.id = "op-2".into();
    bob.email = "bob@example.com".into();
    assert!(
        !ok(
            store.use_operator_invite(&[51; 32], BASE, &bob).await,
            "using it again"
        ),
        "an invite creates one operator"
    );
    assert_eq!(ok(store.operator_count().await, "counting"), 1);
    assert_err(
        store.add_operator(&ada).await,
        "Conflict(\"email\")",
        "the same e-mail",
    );
    assert_eq!(
        ok(
            store.operator_by_email("ada@example.com").await,
            "by e-mail"
        ),
        Some(ada.clone())
    );
    assert_eq!(ok(store.operator("op-1").await, "by id"), Some(ada.clone()));

    // Two-step sign-in: a sealed secret set and cleared; each time step accepted once.
    ok(
        store.set_operator_totp("op-1", Some(&[7, 7, 7])).await,
        "turning TOTP on",
    );
    let with_totp = ok(store.operator("op-1").await, "by id").expect("op-1");
    assert_eq!(with_totp.totp_sealed.as_deref(), Some(&[7u8, 7, 7][..]));
    assert_eq!(
        ok(store.sealed_operator_totps().await, "the sealed secrets"),
        [("op-1".to_owned(), vec![7, 7, 7])]
    );
    assert!(ok(store.use_totp_step("op-1", 100).await, "a first code"));
    assert!(
        !ok(store.use_totp_step("op-1", 100).await, "the same code"),
        "a code is accepted once"
    );
    assert!(
        !ok(store.use_totp_step("op-1", 99).await, "an older code"),
        "a code older than an accepted one is refused"
    );
    assert!(ok(store.use_totp_step("op-1", 101).await, "the next code"));
    assert!(!ok(store.use_totp_step("op-x", 500).await, "nobody's code"));
    assert_err(
        store.set_operator_totp("op-x", None).await,
        "NotFound",
        "an unknown operator",
    );
    ok(
        store.set_operator_totp("op-1", None).await,
        "turning TOTP off",
    );
    let without = ok(store.operator("op-1").await, "by id").expect("op-1");
    assert_eq!(without.totp_sealed, None);
    assert_eq!(without.totp_step, 101, "the accepted steps are remembered");
    assert!(ok(store.sealed_operator_totps().await, "none sealed").is_empty());

    let t = new_tenant(store, "t-console").await;
    let session = |byte: u8, operator: Option<&str>, tenant: Option<&TenantId>| ConsoleSession {
        hash: [byte; 32],
        operator_id: operator.map(str::to_owned),
        tenant_id: tenant.cloned(),
        csrf: format!("csrf-{byte}"),
        created_at: BASE,
        expires_at: BASE + Duration::hours(8),
    };
    let operator_session = session(61, Some("op-1"), None);
    let admin_session = session(62, None, Some(&t));
    for s in [&operator_session, &admin_session] {
        ok(store.add_session(s).await, "a session");
    }
    assert_eq!(
        ok(
            store.session(&[61; 32], BASE).await,
            "the operator's session"
        ),
        Some(operator_session.clone())
    );
    assert_eq!(
        ok(
            store.session(&[62; 32], BASE + Duration::hours(8)).await,
            "an ended session"
        ),
        None
    );
    ok(store.end_session(&[61; 32]).await, "signing out");
    assert_eq!(ok(store.session(&[61; 32], BASE).await, "signed out"), None);
    ok(store.delete_tenant(&t, &[]).await, "deleting the tenant");
    assert_eq!(
        ok(
            store.session(&[62; 32], BASE).await,
            "the deleted tenant's session"
        ),
        None
    );
    assert!(
        ok(
            store.purge_sessions(BASE + Duration::days(1)).await,
            "purging"
        ) >= 1
    );
}
