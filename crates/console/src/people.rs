//! A tenant's users and groups on its page: searchable lists (plain text, or a SCIM filter),
//! a user with its attributes and groups, a group with its members page by page. Read-only:
//! the identity provider owns the data.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use roster_store::{Kind, ListQuery, Tenant};
use serde::Deserialize;
use serde_json::Value;

use crate::ConsoleState;
use crate::pages::{Chrome, Group, MemberRow, People, PersonRow, User, message, not_found, render};
use crate::portal::{access, failed};
use crate::session::Viewer;
use crate::view::{attribute_rows, search_filter, search_order, when};

/// Rows per page of a list.
const PAGE: u64 = 50;
/// Members per page of a group.
const MEMBERS: u64 = 100;
/// A search counts its matches up to this many: a search that matches most of a large
/// tenant shows "10,000 or more" rather than walk every match on every page.
const COUNT_AT_MOST: u64 = 10_000;

/// A list's query.
#[derive(Debug, Deserialize)]
pub struct Search {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<u64>,
}

fn text(data: &Value, key: &str) -> String {
    data.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The primary e-mail, else the first.
fn email(data: &Value) -> String {
    let emails = data.get("emails").and_then(Value::as_array);
    let pick = emails.and_then(|list| {
        list.iter()
            .find(|e| e.get("primary") == Some(&Value::Bool(true)))
            .or_else(|| list.first())
    });
    pick.and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn list(
    state: &ConsoleState,
    tenant: &Tenant,
    viewer: &Viewer,
    kind: Kind,
    search: Search,
) -> Response {
    let ctx = match state.directory.tenant_context(&tenant.id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    let page = search.page.unwrap_or(1).max(1);
    let refused = |why: String| {
        let page = People {
            at_least: false,
            chrome: Chrome::of(Some(viewer)),
            tenant_name: tenant.name.clone(),
            slug: tenant.slug.clone(),
            users: kind == Kind::User,
            q: search.q.clone(),
            rows: Vec::new(),
            total: 0,
            page: 1,
            pages: 1,
            error: Some(why),
        };
        render(StatusCode::BAD_REQUEST, &page)
    };
    let filter = match search_filter(&search.q, kind) {
        Ok(None) => None,
        Ok(Some(text)) => match ctx.dialect().filter(&text, &mut Vec::new()) {
            Ok(f) => Some(f),
            Err(e) => return refused(format!("The search cannot be read: {e}")),
        },
        Err(why) => return refused(why),
    };
    let sort = search_order(&search.q, kind)
        .and_then(|name| roster_scim::path::AttrPath::parse(name).ok())
        .map(|path| roster_scim::sort::SortBy {
            path,
            order: roster_scim::sort::SortOrder::Ascending,
        });
    let query = ListQuery {
        filter,
        sort,
        offset: (page - 1) * PAGE,
        limit: PAGE,
        with_relations: false,
        max_bytes: 4 * 1024 * 1024,
        count_at_most: Some(COUNT_AT_MOST),
    };
    let found = match state.directory.list(&ctx, kind, &query).await {
        Ok(p) => p,
        Err(roster_directory::DirectoryError::Scim(e)) => {
            return refused(format!("The search cannot be run: {e}"));
        }
        Err(e) => return failed(&e),
    };
    let rows = found
        .resources
        .iter()
        .map(|r| PersonRow {
            id: r.id.clone(),
            name: match kind {
                Kind::User => text(&r.data, "userName"),
                Kind::Group => text(&r.data, "displayName"),
            },
            detail: match kind {
                Kind::User => email(&r.data),
                Kind::Group => text(&r.data, "externalId"),
            },
            active: r.data.get("active") != Some(&Value::Bool(false)),
            changed: when(r.last_modified),
        })
        .collect();
    let pages = found.total.div_ceil(PAGE).max(1);
    let page = People {
        at_least: found.total >= COUNT_AT_MOST,
        chrome: Chrome::of(Some(viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        users: kind == Kind::User,
        q: search.q,
        rows,
        total: found.total,
        page: page.min(pages),
        pages,
        error: None,
    };
    render(StatusCode::OK, &page)
}

/// `GET /portal/{slug}/users`.
pub async fn users(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    Query(search): Query<Search>,
    headers: HeaderMap,
) -> Response {
    match access(&state, &headers, &slug).await {
        Ok((tenant, viewer)) => list(&state, &tenant, &viewer, Kind::User, search).await,
        Err(r) => r,
    }
}

/// `GET /portal/{slug}/groups`.
pub async fn groups(
    State(state): State<ConsoleState>,
    Path(slug): Path<String>,
    Query(search): Query<Search>,
    headers: HeaderMap,
) -> Response {
    match access(&state, &headers, &slug).await {
        Ok((tenant, viewer)) => list(&state, &tenant, &viewer, Kind::Group, search).await,
        Err(r) => r,
    }
}

/// `GET /portal/{slug}/users/{id}`: its attributes, groups and status.
pub async fn user(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let ctx = match state.directory.tenant_context(&tenant.id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    let found = match state.directory.get(&ctx, Kind::User, &id, true).await {
        Ok(r) => r,
        Err(roster_directory::DirectoryError::NotFound { .. }) => return not_found(),
        Err(e) => return failed(&e),
    };
    let page = User {
        chrome: Chrome::of(Some(&viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        id: found.id.clone(),
        user_name: text(&found.data, "userName"),
        active: found.data.get("active") != Some(&Value::Bool(false)),
        created: when(found.created),
        changed: when(found.last_modified),
        version: found.version,
        attributes: attribute_rows(&found.data),
        groups: found
            .groups
            .unwrap_or_default()
            .into_iter()
            .map(|g| (g.id, g.display))
            .collect(),
    };
    render(StatusCode::OK, &page)
}

/// A group's page of members.
#[derive(Debug, Deserialize)]
pub struct After {
    #[serde(default)]
    after: Option<i64>,
}

/// `GET /portal/{slug}/groups/{id}`: its attributes and members, 100 a page.
pub async fn group(
    State(state): State<ConsoleState>,
    Path((slug, id)): Path<(String, String)>,
    Query(after): Query<After>,
    headers: HeaderMap,
) -> Response {
    let (tenant, viewer) = match access(&state, &headers, &slug).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let ctx = match state.directory.tenant_context(&tenant.id).await {
        Ok(Some(ctx)) => ctx,
        Ok(None) => return not_found(),
        Err(e) => return failed(&e),
    };
    let found = match state.directory.get(&ctx, Kind::Group, &id, false).await {
        Ok(r) => r,
        Err(roster_directory::DirectoryError::NotFound { .. }) => return not_found(),
        Err(e) => return failed(&e),
    };
    let from = after.after.unwrap_or(0).max(0);
    let members = match state
        .directory
        .members_after(&tenant.id, &found.id, from, MEMBERS)
        .await
    {
        Ok(m) => m,
        Err(e) => return failed(&e),
    };
    let next = (members.len() as u64 == MEMBERS)
        .then(|| members.last().map(|(seq, _)| *seq))
        .flatten();
    if from > 0 && members.is_empty() {
        return message(
            StatusCode::NOT_FOUND,
            Some(&viewer),
            "No more members",
            "This group has no members past this page.",
        );
    }
    let page = Group {
        chrome: Chrome::of(Some(&viewer)),
        tenant_name: tenant.name.clone(),
        slug: tenant.slug.clone(),
        id: found.id.clone(),
        display_name: text(&found.data, "displayName"),
        created: when(found.created),
        changed: when(found.last_modified),
        attributes: attribute_rows(&found.data),
        members: members
            .into_iter()
            .map(|(_, m)| MemberRow {
                user: m.kind == Kind::User,
                id: m.id,
                display: m.display.unwrap_or_default(),
            })
            .collect(),
        first_page: from == 0,
        next,
    };
    render(StatusCode::OK, &page)
}
