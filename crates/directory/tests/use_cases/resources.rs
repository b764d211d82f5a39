//! Users and groups: optimistic writes under concurrency, `If-Match`, times from the clock,
//! and errors that name what is missing.

use roster_directory::{DirectoryError, WriteOptions};
use roster_store::Kind;
use serde_json::json;
use time::Duration;

use crate::{Fixture, user};

fn rename(name: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": name}]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_without_if_match_all_land_one_after_the_other() {
    let f = Fixture::new().await;
    let (_, ctx, created) = f.tenant_with_user("ada@contoso.example").await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (directory, ctx, id) = (f.directory.clone(), ctx.clone(), created.id.clone());
            tokio::spawn(async move {
                directory
                    .patch(
                        &ctx,
                        Kind::User,
                        &id,
                        &rename(&format!("Ada {i}")),
                        WriteOptions::default(),
                        &mut Vec::new(),
                    )
                    .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().expect("every patch lands");
    }
    let now = f
        .directory
        .get(&ctx, Kind::User, &created.id, false)
        .await
        .unwrap();
    assert_eq!(now.version, 17, "each patch wrote a version of its own");
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_changes_nothing() {
    let f = Fixture::new().await;
    let (_, ctx, created) = f.tenant_with_user("ada@contoso.example").await;
    let options = WriteOptions {
        if_match: Some(1),
        ..WriteOptions::default()
    };
    f.directory
        .patch(
            &ctx,
            Kind::User,
            &created.id,
            &rename("One"),
            options,
            &mut Vec::new(),
        )
        .await
        .unwrap();
    let e = f
        .directory
        .patch(
            &ctx,
            Kind::User,
            &created.id,
            &rename("Two"),
            options,
            &mut Vec::new(),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::PreconditionFailed(_)), "{e:?}");
    let e = f
        .directory
        .delete(&ctx, Kind::User, &created.id, Some(1))
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::PreconditionFailed(_)), "{e:?}");
    let now = f
        .directory
        .get(&ctx, Kind::User, &created.id, false)
        .await
        .unwrap();
    assert_eq!(
        (now.version, now.data["displayName"].as_str()),
        (2, Some("One"))
    );
}

#[tokio::test]
async fn times_come_from_the_directory_clock() {
    let f = Fixture::new().await;
    let (_, ctx, created) = f.tenant_with_user("ada@contoso.example").await;
    f.clock.advance(Duration::days(10));
    let patched = f
        .directory
        .patch(
            &ctx,
            Kind::User,
            &created.id,
            &rename("Later"),
            WriteOptions::default(),
            &mut Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(patched.created, created.created);
    assert!(patched.last_modified - created.created >= Duration::days(10));
    assert!(patched.last_modified - created.created < Duration::days(10) + Duration::minutes(1));
}

#[tokio::test]
async fn what_is_missing_is_named() {
    let f = Fixture::new().await;
    let (tenant, _) = f.tenant("Contoso").await;
    let ctx = f.context(&tenant).await;
    for e in [
        f.directory
            .delete(&ctx, Kind::User, "nope", None)
            .await
            .unwrap_err(),
        f.directory
            .patch(
                &ctx,
                Kind::Group,
                "nope",
                &rename("x"),
                WriteOptions::default(),
                &mut Vec::new(),
            )
            .await
            .unwrap_err(),
        f.directory
            .members_after(&tenant, "nope", 0, 10)
            .await
            .unwrap_err(),
    ] {
        assert!(
            matches!(&e, DirectoryError::NotFound { id, .. } if id == "nope"),
            "{e:?}"
        );
    }
}

#[tokio::test]
async fn another_tenants_resource_is_not_found() {
    let f = Fixture::new().await;
    let (contoso, _) = f.tenant("Contoso").await;
    let (fabrikam, _) = f.tenant("Fabrikam").await;
    let ctx = f.context(&contoso).await;
    let created = f
        .directory
        .create(
            &ctx,
            Kind::User,
            &user("ada@contoso.example"),
            false,
            &mut Vec::new(),
        )
        .await
        .unwrap();
    let other = f.context(&fabrikam).await;
    let e = f
        .directory
        .get(&other, Kind::User, &created.id, false)
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    let e = f
        .directory
        .delete(&other, Kind::User, &created.id, None)
        .await
        .unwrap_err();
    assert!(matches!(e, DirectoryError::NotFound { .. }), "{e:?}");
    assert!(
        f.directory
            .get(&ctx, Kind::User, &created.id, false)
            .await
            .is_ok()
    );
}
