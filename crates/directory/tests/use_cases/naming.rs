//! How the command line names a tenant: by id, `external_id:VALUE`, slug or exact name, and
//! never one tenant for another.

use roster_directory::{DirectoryError, NewTenant};

use crate::Fixture;

#[tokio::test]
async fn a_tenant_is_found_by_id_external_id_slug_or_name() {
    let f = Fixture::new().await;
    let made = f
        .directory
        .create_tenant_with(&NewTenant {
            name: "Contoso Ltd".into(),
            external_id: Some("org_42".into()),
            plan: None,
        })
        .await
        .expect("a tenant");
    assert_eq!(made.slug, "contoso-ltd");
    for name in [
        made.id.as_str(),
        "external_id:org_42",
        "contoso-ltd",
        "Contoso Ltd",
    ] {
        let found = f.directory.find_tenant(name).await.expect(name);
        assert_eq!(found.id, made.id, "{name}");
    }
    for name in ["external_id:org_43", "contoso", "contoso ltd", ""] {
        assert!(
            matches!(
                f.directory.find_tenant(name).await,
                Err(DirectoryError::TenantNotFound(_))
            ),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_slug_and_a_name_of_two_tenants_are_ambiguous() {
    let f = Fixture::new().await;
    let (first, _) = f.tenant("acme").await;
    // Its name is the first tenant's slug; its own slug is another.
    let (second, _) = f.tenant("Acme").await;
    let slugs: Vec<String> = f
        .directory
        .tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.slug)
        .collect();
    assert!(slugs.contains(&"acme".to_owned()), "{slugs:?}");
    assert_eq!(
        f.directory.find_tenant("Acme").await.expect("by name").id,
        second
    );
    let (third, _) = f.tenant("acme-2").await;
    // "acme-2" is the second tenant's slug and the third's name.
    match f.directory.find_tenant("acme-2").await {
        Err(DirectoryError::AmbiguousTenant { ids, .. }) => {
            assert!(ids.contains(&second.to_string()) && ids.contains(&third.to_string()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(f.directory.find_tenant("acme").await.unwrap().id, first);
}
