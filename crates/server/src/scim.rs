//! The SCIM endpoints of one tenant: Users, Groups, search and the discovery documents.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use roster_directory::render;
use roster_directory::{Normalization, TenantContext, WriteOptions};
use roster_scim::filter::Filter;
use roster_scim::messages::{ListQuery as ScimQuery, ListResponse, SearchRequest};
use roster_scim::projection::Projection;
use roster_scim::schema::ResourceSchema;
use roster_store::{GroupRef, Kind, ListQuery, StoredResource};

use crate::provlog::LogSlot;
use serde_json::Value;

use crate::{ApiError, AppState, ScimJson, ScimResponse, Tenant};

type Params = Query<Vec<(String, String)>>;

/// Reads the list parameters of a query string.
fn query_of(
    state: &AppState,
    tenant: &TenantContext,
    pairs: &[(String, String)],
    applied: &mut Vec<Normalization>,
) -> Result<ScimQuery, ApiError> {
    let dialect = tenant.dialect();
    let pairs: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| {
            let list = k.eq_ignore_ascii_case("attributes")
                || k.eq_ignore_ascii_case("excludedAttributes");
            let v = if list {
                dialect.attribute_list(v, applied)
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect();
    Ok(ScimQuery::from_params(
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        state.config.max_page_size,
    )?)
}

/// Reads a SearchRequest body (RFC 7644 §3.4.3).
fn search_of(state: &AppState, body: &Value) -> Result<ScimQuery, ApiError> {
    let request = SearchRequest::from_json(body)?;
    Ok(ScimQuery::from_search(
        &request,
        state.config.max_page_size,
    )?)
}

/// Reads the projection parameters of a single-resource request.
fn projection_of(
    state: &AppState,
    tenant: &TenantContext,
    pairs: &[(String, String)],
    kind: Kind,
    applied: &mut Vec<Normalization>,
) -> Result<Projection, ApiError> {
    Ok(query_of(state, tenant, pairs, applied)?.projection(tenant.schema(kind))?)
}

fn parse_filter(
    tenant: &TenantContext,
    text: Option<&str>,
    applied: &mut Vec<Normalization>,
) -> Result<Option<Filter>, ApiError> {
    let dialect = tenant.dialect();
    Ok(text
        .filter(|f| !f.trim().is_empty())
        .map(|f| dialect.filter(f, applied))
        .transpose()
        .map_err(roster_scim::Error::from)?)
}

fn base(state: &AppState, tenant: &TenantContext) -> String {
    state.config.tenant_base(tenant.id())
}

/// Whether a read must bring the resource's relations: a group's members, a user's groups.
fn needs_relations(kind: Kind, schema: &ResourceSchema, projection: &Projection) -> bool {
    match kind {
        Kind::Group => projection.needs(schema, "members"),
        Kind::User => projection.needs(schema, "groups"),
    }
}

/// Renders resources with their users' groups when the projection wants them.
async fn render_all(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    resources: &[StoredResource],
    projection: &Projection,
) -> Result<Vec<Value>, ApiError> {
    let schema = tenant.schema(kind);
    let base = base(state, tenant);
    let wants_groups = kind == Kind::User && projection.needs(schema, "groups");
    // Users read with their relations carry their groups; look up the rest in one batch.
    let missing: Vec<String> = resources
        .iter()
        .filter(|r| wants_groups && r.groups.is_none())
        .map(|r| r.id.clone())
        .collect();
    let mut looked_up: HashMap<String, Vec<GroupRef>> = HashMap::new();
    if !missing.is_empty() {
        for (user, group) in state.directory.groups_of(tenant, &missing).await? {
            looked_up.entry(user).or_default().push(group);
        }
    }
    Ok(resources
        .iter()
        .map(|r| {
            let groups = match (&r.groups, wants_groups) {
                (_, false) => None,
                (Some(g), true) => Some(&g[..]),
                (None, true) => Some(looked_up.get(&r.id).map_or(&[][..], |g| &g[..])),
            };
            let full = render::to_scim(r, groups, &base);
            projection.apply(schema, &full)
        })
        .collect())
}

/// Renders one resource (see [`render_all`]).
async fn render_one(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    resource: &StoredResource,
    projection: &Projection,
) -> Result<Value, ApiError> {
    Ok(render_all(
        state,
        tenant,
        kind,
        std::slice::from_ref(resource),
        projection,
    )
    .await?
    .pop()
    .unwrap_or(Value::Null))
}

async fn list(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    params: ScimQuery,
    mut applied: Vec<Normalization>,
) -> Result<ScimResponse, ApiError> {
    let schema = tenant.schema(kind);
    let projection = params.projection(schema)?;
    let query = ListQuery {
        filter: parse_filter(tenant, params.filter.as_deref(), &mut applied)?,
        sort: params.sort.clone(),
        offset: params.offset(),
        limit: params.count,
        with_relations: needs_relations(kind, schema, &projection),
        max_bytes: state.config.max_page_bytes,
        count_at_most: None,
    };
    let page = state.directory.list(tenant, kind, &query).await?;
    let resources = render_all(state, tenant, kind, &page.resources, &projection).await?;
    Ok(ScimResponse::ok(list_response(resources, page.total, params.start_index)).noting(applied))
}

fn list_response(resources: Vec<Value>, total: u64, start_index: u64) -> Value {
    serde_json::to_value(ListResponse::new(resources, total, start_index)).unwrap_or(Value::Null)
}

/// Reads `If-Match`: `None` for absent or `*`; a version that cannot be ours can never match.
fn if_match(headers: &HeaderMap) -> Option<i64> {
    let v = headers.get(header::IF_MATCH)?.to_str().ok()?.trim();
    if v == "*" {
        return None;
    }
    Some(roster_directory::parse_version(v).unwrap_or(-1))
}

fn resource_response(
    state: &AppState,
    tenant: &TenantContext,
    status: StatusCode,
    body: Value,
    resource: &StoredResource,
) -> ScimResponse {
    let location = (status == StatusCode::CREATED)
        .then(|| render::location(&base(state, tenant), resource.kind, &resource.id));
    ScimResponse {
        status,
        body: Some(body),
        etag: Some(render::etag(resource.version)),
        location,
        normalizations: Vec::new(),
    }
}

async fn get_one(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    id: &str,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<ScimResponse, ApiError> {
    let schema = tenant.schema(kind);
    let mut applied = Vec::new();
    let projection = projection_of(state, tenant, pairs, kind, &mut applied)?;
    let with_relations = needs_relations(kind, schema, &projection);
    let resource = state
        .directory
        .get(tenant, kind, id, with_relations)
        .await?;
    let etag = render::etag(resource.version);
    if let Some(inm) = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        && inm.split(',').any(|t| t.trim() == etag || t.trim() == "*")
    {
        return Ok(ScimResponse {
            status: StatusCode::NOT_MODIFIED,
            body: None,
            etag: Some(etag),
            location: None,
            normalizations: Vec::new(),
        });
    }
    let body = render_one(state, tenant, kind, &resource, &projection).await?;
    Ok(resource_response(state, tenant, StatusCode::OK, body, &resource).noting(applied))
}

async fn create(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    body: &Value,
    pairs: &[(String, String)],
) -> Result<ScimResponse, ApiError> {
    let mut applied = Vec::new();
    let projection = projection_of(state, tenant, pairs, kind, &mut applied)?;
    let resource = state
        .directory
        .create(tenant, kind, body, true, &mut applied)
        .await?;
    let out = render_one(state, tenant, kind, &resource, &projection).await?;
    Ok(resource_response(state, tenant, StatusCode::CREATED, out, &resource).noting(applied))
}

async fn replace(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    id: &str,
    body: &Value,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<ScimResponse, ApiError> {
    let mut applied = Vec::new();
    let projection = projection_of(state, tenant, pairs, kind, &mut applied)?;
    let resource = state
        .directory
        .replace(
            tenant,
            kind,
            id,
            body,
            WriteOptions {
                if_match: if_match(headers),
                return_members: true,
                no_body: false,
            },
            &mut applied,
        )
        .await?;
    let out = render_one(state, tenant, kind, &resource, &projection).await?;
    Ok(resource_response(state, tenant, StatusCode::OK, out, &resource).noting(applied))
}

/// PATCH answers 200 with the resource, except on a Group without `attributes` or
/// `excludedAttributes`, where it answers 204 (RFC 7644 §3.5.2 allows either): returning a
/// group of 100,000 members after adding one would cost more than the change itself. A tenant
/// set to `patch-response no-content` gets 204 for users too.
async fn patch(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    id: &str,
    body: &Value,
    pairs: &[(String, String)],
    headers: &HeaderMap,
) -> Result<(ScimResponse, StoredResource), ApiError> {
    let schema = tenant.schema(kind);
    let mut applied = Vec::new();
    let params = query_of(state, tenant, pairs, &mut applied)?;
    let projection = params.projection(schema)?;
    let quiet = (kind == Kind::Group
        || tenant.settings.patch_response == roster_directory::settings::PatchResponse::NoContent)
        && params.attributes.is_empty()
        && params.excluded_attributes.is_empty();
    let with_relations = !quiet && needs_relations(kind, schema, &projection);
    let resource = state
        .directory
        .patch(
            tenant,
            kind,
            id,
            body,
            WriteOptions {
                if_match: if_match(headers),
                return_members: with_relations,
                no_body: quiet,
            },
            &mut applied,
        )
        .await?;
    if quiet {
        let response = ScimResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: Some(render::etag(resource.version)),
            location: None,
            normalizations: Vec::new(),
        }
        .noting(applied);
        return Ok((response, resource));
    }
    let out = render_one(state, tenant, kind, &resource, &projection).await?;
    let response = resource_response(state, tenant, StatusCode::OK, out, &resource).noting(applied);
    Ok((response, resource))
}

async fn delete(
    state: &AppState,
    tenant: &TenantContext,
    kind: Kind,
    id: &str,
    headers: &HeaderMap,
    slot: Option<Extension<LogSlot>>,
) -> Result<ScimResponse, ApiError> {
    let last = state
        .directory
        .delete(tenant, kind, id, if_match(headers))
        .await?;
    note_subject(slot, kind, &last);
    Ok(ScimResponse {
        status: StatusCode::NO_CONTENT,
        body: None,
        etag: None,
        location: None,
        normalizations: Vec::new(),
    })
}

/// Tells the provisioning log the name of the resource a request changed, which a PATCH
/// answered with 204 and a DELETE do not say.
fn note_subject(slot: Option<Extension<LogSlot>>, kind: Kind, resource: &StoredResource) {
    let attr = kind.name_attribute();
    if let (Some(Extension(slot)), Some(name)) =
        (slot, resource.data.get(attr).and_then(Value::as_str))
    {
        slot.note(|n| n.subject = Some(name.to_owned()));
    }
}

macro_rules! resource_handlers {
    ($kind:expr, $list:ident, $search:ident, $create:ident, $get:ident, $replace:ident, $patch:ident, $delete:ident) => {
        /// GET on the collection.
        pub async fn $list(
            State(s): State<AppState>,
            t: Tenant,
            Query(q): Params,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            let mut applied = Vec::new();
            let query = query_of(&s, &t, &q, &mut applied)?;
            list(&s, &t, $kind, query, applied).await
        }

        /// POST .search on the collection.
        pub async fn $search(
            State(s): State<AppState>,
            t: Tenant,
            ScimJson(body): ScimJson,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            list(&s, &t, $kind, search_of(&s, &body)?, Vec::new()).await
        }

        /// POST on the collection.
        pub async fn $create(
            State(s): State<AppState>,
            t: Tenant,
            Query(q): Params,
            ScimJson(body): ScimJson,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            create(&s, &t, $kind, &body, &q).await
        }

        /// GET one resource.
        pub async fn $get(
            State(s): State<AppState>,
            t: Tenant,
            Path((_, id)): Path<(String, String)>,
            Query(q): Params,
            headers: HeaderMap,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            get_one(&s, &t, $kind, &id, &q, &headers).await
        }

        /// PUT one resource.
        pub async fn $replace(
            State(s): State<AppState>,
            t: Tenant,
            Path((_, id)): Path<(String, String)>,
            Query(q): Params,
            headers: HeaderMap,
            ScimJson(body): ScimJson,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            replace(&s, &t, $kind, &id, &body, &q, &headers).await
        }

        /// PATCH one resource.
        pub async fn $patch(
            State(s): State<AppState>,
            t: Tenant,
            Path((_, id)): Path<(String, String)>,
            Query(q): Params,
            headers: HeaderMap,
            slot: Option<Extension<LogSlot>>,
            ScimJson(body): ScimJson,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            let (response, changed) = patch(&s, &t, $kind, &id, &body, &q, &headers).await?;
            note_subject(slot, $kind, &changed);
            Ok(response)
        }

        /// DELETE one resource.
        pub async fn $delete(
            State(s): State<AppState>,
            t: Tenant,
            Path((_, id)): Path<(String, String)>,
            headers: HeaderMap,
            slot: Option<Extension<LogSlot>>,
        ) -> Result<ScimResponse, ApiError> {
            t.ensure($kind)?;
            let t = t.0;
            delete(&s, &t, $kind, &id, &headers, slot).await
        }
    };
}

resource_handlers!(
    Kind::User,
    list_users,
    search_users,
    create_user,
    get_user,
    replace_user,
    patch_user,
    delete_user
);
resource_handlers!(
    Kind::Group,
    list_groups,
    search_groups,
    create_group,
    get_group,
    replace_group,
    patch_group,
    delete_group
);

/// POST /.search at the root: searches users and groups together (RFC 7644 §3.4.3), users
/// first, paging over the concatenation.
pub async fn search_all(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let params = search_of(&s, &body)?;
    let mut applied = Vec::new();
    let parsed = parse_filter(&t, params.filter.as_deref(), &mut applied)?;
    let mut total = 0u64;
    let mut out = Vec::new();
    let mut skip = params.offset();
    // Once a page is cut by its byte budget, later types add to the total only, so that the
    // page stays the start of the whole result.
    let mut spent = 0usize;
    let mut cut = false;
    let kinds: &[Kind] = if t.settings.groups {
        &[Kind::User, Kind::Group]
    } else {
        &[Kind::User]
    };
    // A filter that names attributes of one type only matches nothing in the other; one that
    // fits neither (an unknown attribute, or `password`) is refused.
    let mut fits = kinds.iter().filter(|&&kind| {
        parsed
            .as_ref()
            .is_none_or(|f| f.validate(t.schema(kind)).is_ok())
    });
    if fits.next().is_none()
        && let Some(f) = &parsed
    {
        f.validate(t.schema(Kind::User))
            .map_err(roster_scim::Error::from)?;
    }
    for &kind in kinds {
        let schema = t.schema(kind);
        if parsed.as_ref().is_some_and(|f| f.validate(schema).is_err()) {
            continue;
        }
        let projection = params.projection(schema)?;
        let limit = if cut {
            0
        } else {
            params.count.saturating_sub(out.len() as u64)
        };
        let query = ListQuery {
            filter: parsed.clone(),
            sort: None,
            offset: skip,
            limit,
            with_relations: needs_relations(kind, schema, &projection),
            max_bytes: s.config.max_page_bytes.saturating_sub(spent),
            count_at_most: None,
        };
        let page = s.directory.list(&t, kind, &query).await?;
        let available = page.total.saturating_sub(skip).min(limit);
        cut = cut || (page.resources.len() as u64) < available;
        spent += page
            .resources
            .iter()
            .map(|r| roster_scim::limits::json_len(&r.data))
            .sum::<usize>();
        total += page.total;
        skip = skip.saturating_sub(page.total);
        out.extend(render_all(&s, &t, kind, &page.resources, &projection).await?);
    }
    Ok(ScimResponse::ok(list_response(
        out,
        total,
        params.start_index,
    )))
}

/// RFC 7644 §4: a filter on a discovery endpoint is refused with 403.
fn refuse_filter(q: &[(String, String)]) -> Result<(), ApiError> {
    if q.iter().any(|(k, _)| k.eq_ignore_ascii_case("filter")) {
        return Err(ApiError::Forbidden(
            "Filtering is not supported on discovery endpoints.".into(),
        ));
    }
    Ok(())
}

/// GET /ServiceProviderConfig.
pub async fn service_provider_config(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Query(q): Params,
) -> Result<ScimResponse, ApiError> {
    refuse_filter(&q)?;
    let has_clients = !s.directory.clients(t.id()).await?.is_empty();
    Ok(ScimResponse::ok(crate::discovery::service_provider_config(
        &s,
        &t,
        has_clients,
        &base(&s, &t),
    )))
}

/// GET /ResourceTypes.
pub async fn resource_types(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Query(q): Params,
) -> Result<ScimResponse, ApiError> {
    refuse_filter(&q)?;
    Ok(ScimResponse::ok(crate::discovery::resource_types(
        &t,
        &base(&s, &t),
    )))
}

/// GET /ResourceTypes/{id}.
pub async fn resource_type(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path((_, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<ScimResponse, ApiError> {
    refuse_filter(&q)?;
    crate::discovery::resource_type(&t, &id, &base(&s, &t))
        .map(ScimResponse::ok)
        .ok_or_else(|| ApiError::NotFound(format!("No resource type {id}.")))
}

/// GET /Schemas.
pub async fn schemas(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Query(q): Params,
) -> Result<ScimResponse, ApiError> {
    refuse_filter(&q)?;
    Ok(ScimResponse::ok(crate::discovery::schemas(
        &t,
        &base(&s, &t),
    )))
}

/// GET /Schemas/{id}.
pub async fn schema(
    State(s): State<AppState>,
    Tenant(t): Tenant,
    Path((_, id)): Path<(String, String)>,
    Query(q): Params,
) -> Result<ScimResponse, ApiError> {
    refuse_filter(&q)?;
    crate::discovery::schema(&t, &id, &base(&s, &t))
        .map(ScimResponse::ok)
        .ok_or_else(|| ApiError::NotFound(format!("No schema {id}.")))
}
