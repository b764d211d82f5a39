//! Approvals of outbound actions: one live per object, the same change answered with the
//! same approval, a later change superseding it, decisions recorded, tenants apart.

use super::outbound::target;
use super::*;
use crate::Approval;

fn proposal(tenant: &TenantId, id: &str, source: &str, digest: &str, state: &str) -> Approval {
    Approval {
        id: id.to_owned(),
        tenant_id: tenant.clone(),
        target_id: "x-1".into(),
        kind: Kind::User,
        source_id: source.to_owned(),
        name: format!("{source}@contoso.com"),
        action: "create".into(),
        request: json!({"method": "POST", "path": "/Users", "body": {"userName": source}}),
        digest: digest.to_owned(),
        reason: "policy".into(),
        state: state.to_owned(),
        created_at: 1_000 + id.len() as i64,
        decided_at: None,
        decided_by: None,
    }
}

fn ids(list: &[Approval]) -> Vec<&str> {
    list.iter().map(|a| a.id.as_str()).collect()
}

/// Approvals: one live per object, the same change answered alike, a later change superseding,
/// decisions recorded with who and when, tenants apart.
pub async fn approvals(store: &dyn Store) {
    let a = new_tenant(store, "t-apr").await;
    let b = new_tenant(store, "t-apr-other").await;
    ok(
        store.add_target(&target(&a, "x-1", "crm"), 0).await,
        "a target",
    );
    ok(
        store.add_target(&target(&b, "x-2", "crm"), 0).await,
        "another",
    );

    let first = ok(
        store
            .propose_approval(&proposal(&a, "apr_1", "ada", "d1", "pending"))
            .await,
        "proposed",
    );
    assert_eq!(first.id, "apr_1");
    let again = ok(
        store
            .propose_approval(&proposal(&a, "apr_2", "ada", "d1", "pending"))
            .await,
        "the same change again",
    );
    assert_eq!(again.id, "apr_1", "the same change is the same approval");
    let changed = ok(
        store
            .propose_approval(&proposal(&a, "apr_33", "ada", "d2", "pending"))
            .await,
        "a later change",
    );
    assert_eq!(changed.id, "apr_33");
    let live = ok(
        store.approvals(&a, Some("x-1"), &["pending"], 10).await,
        "pending",
    );
    assert_eq!(
        ids(&live),
        ["apr_33"],
        "a later change replaces the pending one"
    );
    let all = ok(store.approvals(&a, None, &[], 10).await, "all");
    assert_eq!(
        ids(&all),
        ["apr_33", "apr_1"],
        "newest first, the replaced one kept"
    );
    assert_eq!(all[1].state, "superseded");
    assert!(
        ok(store.approvals(&b, None, &[], 10).await, "other").is_empty(),
        "another tenant sees none"
    );

    ok(
        store
            .propose_approval(&proposal(&a, "apr_444", "bob", "d3", "pending"))
            .await,
        "bob",
    );
    assert_eq!(
        ok(store.count_approvals(&a, "x-1", "pending").await, "count"),
        2
    );
    assert_eq!(ok(store.count_pending_approvals().await, "all tenants"), 2);
    assert_eq!(
        ok(
            store
                .decide_approvals(&b, "x-1", &[], "pending", "approved", Some("eve"), 5)
                .await,
            "another tenant decides"
        ),
        0,
        "another tenant decides nothing"
    );
    assert_eq!(
        ok(
            store
                .decide_approvals(
                    &a,
                    "x-1",
                    &["apr_33".into()],
                    "pending",
                    "approved",
                    Some("ops"),
                    7
                )
                .await,
            "approved"
        ),
        1
    );
    assert_eq!(
        ok(
            store
                .decide_approvals(&a, "x-1", &[], "pending", "rejected", Some("ops"), 8)
                .await,
            "the rest rejected"
        ),
        1
    );
    let decided = ok(
        store
            .approvals(&a, Some("x-1"), &["approved", "rejected"], 10)
            .await,
        "decided",
    );
    assert_eq!(ids(&decided), ["apr_444", "apr_33"]);
    assert_eq!(decided[0].state, "rejected");
    assert_eq!(decided[0].decided_by.as_deref(), Some("ops"));
    assert_eq!(decided[1].decided_at, Some(7));
    // A rejected change stays rejected; an approved one answers approved until sent.
    let bob = ok(
        store
            .propose_approval(&proposal(&a, "apr_5", "bob", "d3", "pending"))
            .await,
        "bob again",
    );
    assert_eq!(
        (bob.id.as_str(), bob.state.as_str()),
        ("apr_444", "rejected")
    );
    let ada = ok(
        store
            .propose_approval(&proposal(&a, "apr_6", "ada", "d2", "pending"))
            .await,
        "ada again",
    );
    assert_eq!(ada.state, "approved");
    ok(
        store
            .decide_approvals(
                &a,
                "x-1",
                std::slice::from_ref(&ada.id),
                "approved",
                "sent",
                None,
                9,
            )
            .await,
        "sent",
    );
    let sent = ok(
        store.approvals(&a, Some("x-1"), &["sent"], 10).await,
        "sent",
    );
    assert_eq!(
        sent[0].decided_by.as_deref(),
        Some("ops"),
        "who approved is kept"
    );
    let next = ok(
        store
            .propose_approval(&proposal(&a, "apr_7", "ada", "d2", "pending"))
            .await,
        "the same change after it was sent",
    );
    assert_eq!(next.id, "apr_7", "needs approval again");

    // Those sent, by who approved them and since when they were proposed.
    let since = |by: &'static str, at: i64| store.count_approvals_since(&a, "x-1", "sent", by, at);
    assert_eq!(ok(since("ops", 1_006).await, "sent since"), 1);
    assert_eq!(
        ok(since("ops", 1_007).await, "sent since"),
        0,
        "proposed before"
    );
    assert_eq!(
        ok(since("eve", 0).await, "sent since"),
        0,
        "approved by another"
    );
    assert_eq!(
        ok(
            store
                .count_approvals_since(&b, "x-1", "sent", "ops", 0)
                .await,
            "another tenant"
        ),
        0
    );

    // The purge takes sent and superseded approvals proposed before the cut; a rejected one
    // (it answers the same change) and a live one stay.
    assert_eq!(ok(store.purge_approvals(1_006).await, "purged"), 1, "apr_1");
    assert_eq!(
        ok(store.purge_approvals(2_000).await, "purged"),
        1,
        "apr_33"
    );
    assert_eq!(
        ids(&ok(store.approvals(&a, None, &[], 10).await, "kept")),
        ["apr_444", "apr_7"]
    );
    ok(store.remove_target(&a, "x-1").await, "target removed");
    assert!(ok(store.approvals(&a, None, &[], 10).await, "gone").is_empty());
}
