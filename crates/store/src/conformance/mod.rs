//! The storage conformance suite: behaviour every backend must show, run by each backend's tests
//! (behind the `conformance` feature, which the backends' dev-dependencies enable, so that the
//! library does not carry it).
//!
//! Each `pub async fn` below takes a fresh, empty store and panics, saying what a user of the
//! directory would see go wrong, when the backend misbehaves. The module owns no runtime; a
//! backend's `tests/conformance.rs` instantiates the whole suite, one `#[tokio::test]` per
//! function so that failures are reported apart, with
//! [`conformance_tests!`](crate::conformance_tests) and an async constructor of an empty
//! database:
//!
//! ```text
//! roster_store::conformance_tests!(fresh, |db| &db.store);
//! ```
//!
//! The suite, by concern: [`ping`]; [`tenants`](tenants()), [`first_tenant`] and
//! [`tenant_isolation`]; credentials ([`tokens`], [`token_lifecycle`], [`used_assertions`],
//! [`api_keys`], [`token_by_hash`]); resources ([`user_lifecycle`], [`group_lifecycle`],
//! [`update_from_previous`], [`emails_follow_updates`], [`pages_after_a_key`]);
//! [`name_uniqueness`]; [`membership`](membership()); [`listing`](listing()); the
//! [`change_log`](change_log()); the provisioning log ([`provisioning_log`](provisioning_log()),
//! [`provisioning_log_upkeep`], [`provisioning_log_counts`]); and [`filters_agree_with_evaluator`].
//!
//! The last one is the heart of it. A backend turns part of a SCIM filter into its own query
//! language and leaves the rest to [`memory_eval`]; [`FilterFixture`] seeds a directory and
//! checks that a list through the backend returns exactly what the protocol crate's evaluator
//! (`Filter::matches` over [`memory_eval::scim_view`]) selects, in the same order, with the
//! same total. [`strategy`] generates random filters over the same data for a property test
//! doing the same check.
//!
//! Every timestamp is a fixed instant, never the clock, so filters on `meta.created` give the
//! same answer on every run.

use std::fmt;
use std::sync::Arc;

use roster_scim::filter::{CompValue, CompareOp, Filter};
use roster_scim::path::AttrPath;
use roster_scim::schema::{
    ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, Registry, ResourceSchema, USER_SCHEMA,
};
use roster_scim::sort::{SortBy, SortOrder};
use serde_json::{Map, Value, json};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use async_trait::async_trait;

use crate::prelude::*;
use crate::{
    ApiKeyRecord, ClientRecord, ConsoleSession, Event, GroupRef, Kind, ListQuery, Member,
    MemberRef, MembersChange, NewEvent, Operator, OtherTokens, Page, Plan, PortalLink, StoreError,
    StoredResource, Tenant, TenantColumn, TenantId, TokenRecord, memory_eval,
};

mod approvals;
mod change_log;
mod credentials;
mod filters;
mod hold;
mod listing;
pub mod log_bench;
mod membership;
mod names;
mod outbound;
mod provisioning_log;
mod resources;
mod sso;
pub mod strategy;
mod tenants;

pub use approvals::approvals;
pub use change_log::{change_log, redelivery_during_a_lease};
pub use credentials::{
    api_keys, console, portal_links, sealed_tokens, token_by_hash, token_lifecycle, tokens,
    used_assertions,
};
pub use filters::{FilterFixture, QueryShape, filters_agree_with_evaluator, group_id, user_id};
pub use hold::holds;
pub use listing::listing;
pub use membership::membership;
pub use names::{FirstFoldRow, name_uniqueness, refold_check, refold_seed};
pub use outbound::{outbound_runs, outbound_targets};
pub use provisioning_log::{
    entry as log_entry, provisioning_log, provisioning_log_counts, provisioning_log_upkeep,
};
pub use resources::{
    emails_follow_updates, group_lifecycle, pages_after_a_key, update_from_previous, user_lifecycle,
};
pub use sso::{host_apps_and_keys, sso_connections};
pub use tenants::{
    first_tenant, first_tenant_race, plans, tenant_isolation, tenant_names, tenant_removal, tenants,
};

/// Instantiates the whole suite in a backend's `tests/conformance.rs`: one `#[tokio::test]`
/// per suite function, each on a fresh database from `$fresh` (an async function of no
/// arguments), whose store `|db| …` gives as a reference; and the two property tests of
/// random filters ([`strategy::random_filters_agree`]), each on one seeded database.
///
/// ```text
/// roster_store::conformance_tests!(fresh, |db| &db.store);
/// ```
///
/// The calling crate needs `tokio` (with `macros` and `rt`).
#[macro_export]
macro_rules! conformance_tests {
    ($fresh:path, |$db:ident| $store:expr) => {
        $crate::conformance_tests!(@each $fresh, |$db| $store;
            ping tenants first_tenant tokens used_assertions token_lifecycle
            update_from_previous change_log api_keys pages_after_a_key emails_follow_updates
            user_lifecycle group_lifecycle name_uniqueness tenant_isolation membership listing
            filters_agree_with_evaluator redelivery_during_a_lease tenant_removal
            tenant_names plans portal_links sealed_tokens console token_by_hash
            provisioning_log provisioning_log_upkeep provisioning_log_counts sso_connections host_apps_and_keys
            outbound_targets outbound_runs holds approvals
        );

        /// Seeds one database, then lists it with random filters and shapes, each filter and
        /// each of its parts compared with the evaluator. The runtime is built here because
        /// proptest's runner is synchronous.
        fn random_filters_agree(kind: $crate::Kind) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building a tokio runtime");
            let $db = rt.block_on($fresh());
            let store: &dyn $crate::Store = $store;
            let fixture = rt.block_on($crate::conformance::FilterFixture::seed(store));
            $crate::conformance::strategy::random_filters_agree(
                kind,
                $crate::conformance::strategy::of_kind(kind),
                |filter, shape| {
                    rt.block_on(fixture.check_with_parts(store, kind, filter, shape))
                        .map(drop)
                },
            );
        }

        #[test]
        fn random_user_filters_agree_with_evaluator() {
            random_filters_agree($crate::Kind::User);
        }

        #[test]
        fn random_group_filters_agree_with_evaluator() {
            random_filters_agree($crate::Kind::Group);
        }
    };
    (@each $fresh:path, |$db:ident| $store:expr; $($name:ident)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                let $db = $fresh().await;
                let store: &dyn $crate::Store = $store;
                $crate::conformance::$name(store).await;
            }
        )*
    };
}

/// Writes without events, which only the suite makes (the directory records every change), so
/// they are not methods of [`ResourceStore`]: each is its `_recorded` method with no events.
#[async_trait]
trait Unrecorded: ResourceStore {
    /// Inserts a resource (and a group's initial members). `Conflict` on a taken userName or
    /// group displayName; `UnknownMember` for a member id that is not in the tenant.
    async fn insert(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.insert_recorded(tenant, resource, members, &[]).await
    }
    /// Writes a new state of a resource if its stored version is still `expected_version`
    /// (else `VersionMismatch`), changing members as told, atomically.
    async fn update(
        &self,
        tenant: &TenantId,
        resource: &StoredResource,
        expected_version: i64,
        members: &MembersChange,
    ) -> Result<(), StoreError> {
        self.update_recorded(tenant, resource, expected_version, members, &[])
            .await
    }
    /// Deletes a resource (and every membership it had) if its version matches, when given.
    async fn delete(
        &self,
        tenant: &TenantId,
        kind: Kind,
        id: &str,
        expected_version: Option<i64>,
    ) -> Result<(), StoreError> {
        self.delete_recorded(tenant, kind, id, expected_version, &[])
            .await
    }
}

impl<S: ResourceStore + ?Sized> Unrecorded for S {}

/// The instant every fixture's timestamps count from.
const BASE: OffsetDateTime = datetime!(2024-01-01 0:00 UTC);

/// A limit larger than any fixture, for "the whole list" without relying on huge numbers.
const EVERYTHING: u64 = 1000;

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/// `ping` answers on a working database.
pub async fn ping(store: &dyn Store) {
    ok(store.ping().await, "ping on a freshly opened database");
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn ok<T>(result: Result<T, StoreError>, what: &str) -> T {
    result.unwrap_or_else(|e| panic!("{what}: failed with {e} ({e:?})"))
}

/// Asserts that `result` is the error whose `Debug` form is `expected`, e.g.
/// `Conflict("userName")`.
#[track_caller]
fn assert_err<T: fmt::Debug>(result: Result<T, StoreError>, expected: &str, what: &str) {
    match result {
        Ok(v) => panic!("{what}: expected {expected}, but it succeeded ({v:?})"),
        Err(e) => assert_eq!(format!("{e:?}"), expected, "{what}: wrong error ({e})"),
    }
}

/// A tenant record with no settings.
pub fn tenant_record(id: &str, name: &str, created_at: OffsetDateTime) -> Tenant {
    Tenant {
        id: TenantId::new(id),
        name: name.to_owned(),
        created_at,
        settings: serde_json::json!({}),
        slug: id.to_owned(),
        external_id: None,
        plan: Plan {
            name: Plan::DEFAULT.to_owned(),
            provisioning: true,
            sso: true,
        },
    }
}

async fn new_tenant(store: &dyn Store, id: &str) -> TenantId {
    let t = tenant_record(id, id, BASE);
    ok(
        store.create_tenant(&t).await,
        &format!("creating tenant {id}"),
    );
    t.id
}

/// A resource at version 1, created and last modified at `at`.
fn resource(kind: Kind, id: &str, data: Value, at: OffsetDateTime) -> StoredResource {
    StoredResource {
        id: id.to_owned(),
        kind,
        version: 1,
        created: at,
        last_modified: at,
        data,
        members: None,
        groups: None,
    }
}

/// The next version of `r` with new data, modified at `at`.
fn next_version(r: &StoredResource, data: Value, at: OffsetDateTime) -> StoredResource {
    StoredResource {
        version: r.version + 1,
        last_modified: at,
        data,
        ..r.clone()
    }
}

fn user_data(user_name: &str) -> Value {
    json!({"schemas": [USER_SCHEMA], "userName": user_name})
}

fn group_data(display_name: &str) -> Value {
    json!({"schemas": [GROUP_SCHEMA], "displayName": display_name})
}

fn user_record(id: &str, user_name: &str, at: OffsetDateTime) -> StoredResource {
    resource(Kind::User, id, user_data(user_name), at)
}

fn group_record(id: &str, display_name: &str, at: OffsetDateTime) -> StoredResource {
    resource(Kind::Group, id, group_data(display_name), at)
}

fn member_user(id: &str, display: &str) -> Member {
    Member {
        id: id.to_owned(),
        kind: Kind::User,
        display: Some(display.to_owned()),
    }
}

fn attr_path(text: &str) -> AttrPath {
    AttrPath::parse(text).unwrap_or_else(|e| panic!("{text} is a valid path: {e}"))
}

/// `path op "value"` as a filter, built without the parser.
fn compare(path: &str, op: CompareOp, value: &str) -> Filter {
    Filter::Compare {
        path: attr_path(path),
        op,
        value: CompValue::String(value.to_owned()),
    }
}

async fn get(store: &dyn Store, t: &TenantId, kind: Kind, id: &str) -> Option<StoredResource> {
    ok(
        store.get(t, kind, id, false).await,
        &format!("reading {id}"),
    )
}

async fn get_group(store: &dyn Store, t: &TenantId, id: &str) -> StoredResource {
    ok(
        store.get(t, Kind::Group, id, true).await,
        &format!("reading group {id}"),
    )
    .unwrap_or_else(|| panic!("group {id} is not found"))
}

async fn members(store: &dyn Store, t: &TenantId, group: &str) -> Vec<Member> {
    get_group(store, t, group)
        .await
        .members
        .unwrap_or_else(|| panic!("group {group} read with members has members: None"))
}

/// Writes the next version of a group (same data) with a membership change, and tracks it.
async fn change_members(
    store: &dyn Store,
    t: &TenantId,
    group: &mut StoredResource,
    change: MembersChange,
    what: &str,
) {
    let next = next_version(
        group,
        group.data.clone(),
        group.last_modified + Duration::minutes(1),
    );
    ok(store.update(t, &next, group.version, &change).await, what);
    *group = next;
}

async fn member_ids(store: &dyn Store, t: &TenantId, group: &str) -> Vec<String> {
    members(store, t, group)
        .await
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// `groups_of` as sorted `[user, group id, group display]` triples: the trait promises no order.
async fn groups_of(store: &dyn Store, t: &TenantId, users: &[&str]) -> Vec<[String; 3]> {
    let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
    let pairs = ok(store.groups_of(t, &users).await, "reading users' groups");
    sorted(pairs.into_iter().map(|(u, g)| [u, g.id, g.display]))
}

/// Every group's members as listed equal its members as read, order included.
async fn assert_members_listed_as_read(store: &dyn Store, t: &TenantId) {
    let query = ListQuery {
        filter: None,
        sort: None,
        offset: 0,
        limit: EVERYTHING,
        with_relations: true,
        max_bytes: usize::MAX,
        count_at_most: None,
    };
    for listed in list_query(store, t, Kind::Group, &query).await.resources {
        let read = get_group(store, t, &listed.id).await;
        assert_eq!(
            listed.members, read.members,
            "group {} lists its members as a get reads them, in the same order",
            listed.id
        );
    }
}

async fn list(
    store: &dyn Store,
    t: &TenantId,
    kind: Kind,
    filter: Option<Filter>,
    offset: u64,
    limit: u64,
) -> Page {
    let query = ListQuery {
        filter,
        sort: None,
        offset,
        limit,
        with_relations: false,
        max_bytes: usize::MAX,
        count_at_most: None,
    };
    list_query(store, t, kind, &query).await
}

async fn list_query(store: &dyn Store, t: &TenantId, kind: Kind, query: &ListQuery) -> Page {
    let registry = Registry::core();
    let schema = match kind {
        Kind::User => registry.user(),
        Kind::Group => registry.group(),
    };
    ok(
        store.list(t, kind, schema, query).await,
        &format!("listing {kind:?}s with {query:?}"),
    )
}

/// Members to add, by id, without display names.
fn refs(ids: &[String]) -> Vec<MemberRef> {
    ids.iter().map(MemberRef::from).collect()
}

fn ids(page: &Page) -> Vec<&str> {
    page.resources.iter().map(|r| r.id.as_str()).collect()
}

fn ids_of(page: &Page) -> Vec<String> {
    page.resources.iter().map(|r| r.id.clone()).collect()
}

fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut v: Vec<T> = items.into_iter().collect();
    v.sort();
    v
}

/// What a person would call a resource: its userName or displayName.
fn label(r: &StoredResource) -> String {
    ["userName", "displayName"]
        .iter()
        .find_map(|k| r.data.get(*k).and_then(Value::as_str))
        .unwrap_or(&r.id)
        .to_owned()
}
