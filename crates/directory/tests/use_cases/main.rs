//! The directory's use cases over a real SQLite store, on a clock the tests move
//! (`ShiftedClock`): expiry, revocation and the caches' lifetimes are tested at their exact
//! edges, without sleeping.

mod credentials;
mod feed;
mod naming;
mod resources;
mod sealing;

use std::sync::Arc;

use roster_directory::{Directory, ShiftedClock, SystemSecrets, TenantContext};
use roster_scim::Registry;
use roster_store::{Kind, StoredResource, TenantId};
use roster_store_sqlite::SqliteStore;

/// A directory over a fresh SQLite database, its clock, and the database's folder (kept
/// alive with it).
pub(crate) struct Fixture {
    pub(crate) directory: Directory,
    pub(crate) clock: Arc<ShiftedClock>,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// A fixture over a new database.
    pub(crate) async fn new() -> Fixture {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("roster.db").display());
        let clock = Arc::new(ShiftedClock::default());
        let directory = on(&url, clock.clone()).await;
        Fixture {
            directory,
            clock,
            url,
            _dir: dir,
        }
    }

    /// A second directory on the same database with a clock of its own: another process.
    pub(crate) async fn other_process(&self) -> (Directory, Arc<ShiftedClock>) {
        let clock = Arc::new(ShiftedClock::default());
        (on(&self.url, clock.clone()).await, clock)
    }

    /// A new tenant, its id and its first token.
    pub(crate) async fn tenant(&self, name: &str) -> (TenantId, String) {
        let issued = self.directory.create_tenant(name).await.expect("a tenant");
        (issued.tenant.id, issued.token)
    }

    /// A new tenant, its context, and a user created in it.
    pub(crate) async fn tenant_with_user(
        &self,
        user_name: &str,
    ) -> (TenantId, Arc<TenantContext>, StoredResource) {
        let (tenant, _) = self.tenant("Contoso").await;
        let ctx = self.context(&tenant).await;
        let created = self
            .directory
            .create(&ctx, Kind::User, &user(user_name), false, &mut Vec::new())
            .await
            .expect("creating a user");
        (tenant, ctx, created)
    }

    /// The tenant's context, as a request authenticated for it gets it.
    pub(crate) async fn context(&self, id: &TenantId) -> Arc<TenantContext> {
        self.directory
            .tenant_context(id)
            .await
            .expect("reading the tenant")
            .expect("the tenant exists")
    }
}

async fn on(url: &str, clock: Arc<ShiftedClock>) -> Directory {
    let store = SqliteStore::open(url).await.expect("opening the store");
    Directory::new(
        Arc::new(store),
        Arc::new(Registry::core()),
        clock,
        Arc::new(SystemSecrets),
    )
}

/// A user as identity providers send it.
pub(crate) fn user(user_name: &str) -> serde_json::Value {
    serde_json::json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true
    })
}
