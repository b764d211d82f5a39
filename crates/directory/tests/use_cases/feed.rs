//! The change log: one event per change, in order, kept for the retention and purged after
//! it by the directory's clock.

use roster_directory::WriteOptions;
use roster_store::Kind;
use serde_json::json;
use time::Duration;

use crate::{Fixture, user};

#[tokio::test]
async fn each_change_is_one_event_in_order() {
    let f = Fixture::new().await;
    let (tenant, ctx, created) = f.tenant_with_user("ada@contoso.example").await;
    let deactivate = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]
    });
    f.directory
        .patch(
            &ctx,
            Kind::User,
            &created.id,
            &deactivate,
            WriteOptions::default(),
            &mut Vec::new(),
        )
        .await
        .unwrap();
    f.directory
        .delete(&ctx, Kind::User, &created.id, None)
        .await
        .unwrap();
    f.directory.sequence_events().await.unwrap();
    let events = f.directory.events(Some(&tenant), 0, 100).await.unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["user.created", "user.deactivated", "user.deleted"]);
    assert!(events.windows(2).all(|w| w[0].position < w[1].position));
}

#[tokio::test]
async fn events_are_purged_after_the_retention_by_the_directory_clock() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let ctx = f.context(&tenant).await;
    f.directory
        .create(
            &ctx,
            Kind::User,
            &user("ada@contoso.example"),
            false,
            &mut Vec::new(),
        )
        .await
        .unwrap();
    f.directory.sequence_events().await.unwrap();
    let retention = Duration::days(90);
    f.clock.advance(retention - Duration::minutes(1));
    assert_eq!(f.directory.purge_events(retention).await.unwrap(), 0);
    f.clock.advance(Duration::minutes(2));
    assert_eq!(f.directory.purge_events(retention).await.unwrap(), 1);
    assert!(
        f.directory
            .events(Some(&tenant), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
}
