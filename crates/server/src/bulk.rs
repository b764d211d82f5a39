//! The Bulk endpoint (RFC 7644 §3.7): operations run in order, `bulkId` references resolved to
//! the ids of resources created earlier in the same request, `failOnErrors` honoured.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use roster_directory::render;
use roster_store::{Kind, TenantId};
use serde_json::{Map, Value, json};

use crate::{ApiError, AppState, ScimJson, ScimResponse, Tenant};

const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
        .or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// Replaces every string `bulkId:<id>` inside `value` by the id created for it. Returns the
/// first reference that cannot be resolved yet.
fn substitute(value: &mut Value, ids: &HashMap<String, String>) -> Result<(), String> {
    match value {
        Value::String(s) => {
            if let Some(reference) = s.strip_prefix("bulkId:") {
                match ids.get(reference) {
                    Some(id) => *s = id.clone(),
                    None => return Err(reference.to_owned()),
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter_mut().try_for_each(|v| substitute(v, ids)),
        Value::Object(o) => o.values_mut().try_for_each(|v| substitute(v, ids)),
        _ => Ok(()),
    }
}

/// One operation's outcome in the BulkResponse.
fn outcome(
    method: &str,
    bulk_id: Option<&str>,
    status: StatusCode,
    location: Option<String>,
    version: Option<String>,
    error: Option<Value>,
) -> Value {
    let mut o = Map::new();
    o.insert("method".into(), json!(method));
    if let Some(b) = bulk_id {
        o.insert("bulkId".into(), json!(b));
    }
    if let Some(v) = version {
        o.insert("version".into(), json!(v));
    }
    if let Some(l) = location {
        o.insert("location".into(), json!(l));
    }
    o.insert("status".into(), json!(status.as_u16().to_string()));
    if let Some(e) = error {
        o.insert("response".into(), e);
    }
    Value::Object(o)
}

/// The SCIM error body an `ApiError` renders to, for embedding in a BulkResponse.
async fn error_body(e: ApiError) -> (StatusCode, Value) {
    let response = e.into_response();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Parses `/Users`, `/Groups/abc` into a kind and an optional id.
fn parse_path(path: &str) -> Option<(Kind, Option<String>)> {
    let trimmed = path.trim().trim_start_matches('/');
    let (collection, id) = match trimmed.split_once('/') {
        Some((c, id)) if !id.is_empty() && !id.contains('/') => (c, Some(id.to_owned())),
        Some(_) => return None,
        None => (trimmed, None),
    };
    let kind = if collection.eq_ignore_ascii_case("Users") {
        Kind::User
    } else if collection.eq_ignore_ascii_case("Groups") {
        Kind::Group
    } else {
        return None;
    };
    Some((kind, id))
}

struct Op {
    method: String,
    bulk_id: Option<String>,
    path: String,
    data: Option<Value>,
    version: Option<String>,
}

fn parse_ops(body: &Value, max: usize) -> Result<(Vec<Op>, Option<u64>), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ApiError::InvalidSyntax("A BulkRequest must be a JSON object.".into()))?;
    let schemas_ok = get_ci(obj, "schemas")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(BULK_REQUEST))));
    if !schemas_ok {
        return Err(ApiError::InvalidSyntax(format!(
            "A BulkRequest must list {BULK_REQUEST} in schemas."
        )));
    }
    let fail_on_errors = match get_ci(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().ok_or_else(|| {
            ApiError::from(roster_scim::Error::invalid_value(
                "failOnErrors",
                "must be a positive integer",
            ))
        })?),
    };
    let operations = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::InvalidSyntax("A BulkRequest needs an Operations array.".into()))?;
    if operations.len() > max {
        return Err(ApiError::TooManyOperations(max));
    }
    let mut ops = Vec::with_capacity(operations.len());
    for (i, op) in operations.iter().enumerate() {
        let o = op.as_object().ok_or_else(|| {
            ApiError::InvalidSyntax(format!("Operations[{i}] must be a JSON object."))
        })?;
        let text = |k: &str| get_ci(o, k).and_then(Value::as_str).map(str::to_owned);
        let method = text("method").ok_or_else(|| {
            ApiError::InvalidSyntax(format!("Operations[{i}] needs a method."))
        })?;
        let path = text("path")
            .ok_or_else(|| ApiError::InvalidSyntax(format!("Operations[{i}] needs a path.")))?;
        ops.push(Op {
            method: method.to_ascii_uppercase(),
            bulk_id: text("bulkId"),
            path,
            data: get_ci(o, "data").cloned(),
            version: text("version"),
        });
    }
    Ok((ops, fail_on_errors))
}

async fn run_op(
    state: &AppState,
    tenant: &TenantId,
    op: &Op,
    ids: &HashMap<String, String>,
) -> Result<(StatusCode, Option<(Kind, String, i64)>), ApiError> {
    let mut path = Value::String(op.path.clone());
    // A path may name a resource created earlier in the request: /Users/bulkId:x.
    if let Value::String(p) = &mut path
        && let Some((head, reference)) = p.split_once("bulkId:")
    {
        let id = ids.get(reference).ok_or_else(|| {
            ApiError::from(roster_scim::Error::invalid_value(
                "path",
                format!("bulkId {reference} does not name an earlier operation"),
            ))
        })?;
        *p = format!("{head}{id}");
    }
    let path = path.as_str().unwrap_or_default().to_owned();
    let (kind, id) = parse_path(&path).ok_or_else(|| {
        ApiError::from(roster_scim::Error::invalid_value(
            "path",
            format!("{path:?} is not /Users, /Groups or one of their resources"),
        ))
    })?;
    let mut data = op.data.clone().unwrap_or(Value::Null);
    if let Err(reference) = substitute(&mut data, ids) {
        return Err(roster_scim::Error::invalid_value(
            "data",
            format!("bulkId {reference} does not name an earlier operation"),
        )
        .into());
    }
    let if_match = op.version.as_deref().map(|v| roster_directory::parse_version(v).unwrap_or(-1));
    let dir = &state.directory;
    match (op.method.as_str(), id) {
        ("POST", None) => {
            let r = dir.create(tenant, kind, &data, false).await?;
            Ok((StatusCode::CREATED, Some((kind, r.id, r.version))))
        }
        ("PUT", Some(id)) => {
            let r = dir.replace(tenant, kind, &id, &data, if_match, false).await?;
            Ok((StatusCode::OK, Some((kind, r.id, r.version))))
        }
        ("PATCH", Some(id)) => {
            let r = dir.patch(tenant, kind, &id, &data, if_match, false).await?;
            Ok((StatusCode::OK, Some((kind, r.id, r.version))))
        }
        ("DELETE", Some(id)) => {
            dir.delete(tenant, kind, &id, if_match).await?;
            Ok((StatusCode::NO_CONTENT, None))
        }
        (m, _) => Err(ApiError::MethodNotAllowed(format!(
            "{m} is not allowed on {path} in a Bulk request."
        ))),
    }
}

/// POST /Bulk.
pub async fn bulk(
    State(state): State<AppState>,
    Tenant(tenant): Tenant,
    ScimJson(body): ScimJson,
) -> Result<ScimResponse, ApiError> {
    let (ops, fail_on_errors) = parse_ops(&body, state.config.bulk_max_operations)?;
    let base = state.config.tenant_base(&tenant);
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    let mut errors = 0u64;
    for op in &ops {
        if fail_on_errors.is_some_and(|limit| limit > 0 && errors >= limit) {
            break;
        }
        match run_op(&state, &tenant, op, &ids).await {
            Ok((status, created)) => {
                let (location, version) = match &created {
                    Some((kind, id, version)) => (
                        Some(render::location(&base, *kind, id)),
                        Some(render::etag(*version)),
                    ),
                    None => (None, None),
                };
                if let (Some(bulk_id), Some((_, id, _))) = (&op.bulk_id, &created)
                    && op.method == "POST"
                {
                    ids.insert(bulk_id.clone(), id.clone());
                }
                let location = location.or_else(|| {
                    // A DELETE reports the location it removed.
                    parse_path(&op.path)
                        .and_then(|(k, id)| id.map(|id| render::location(&base, k, &id)))
                });
                results.push(outcome(&op.method, op.bulk_id.as_deref(), status, location, version, None));
            }
            Err(e) => {
                errors += 1;
                let (status, body) = error_body(e).await;
                results.push(outcome(&op.method, op.bulk_id.as_deref(), status, None, None, Some(body)));
            }
        }
    }
    Ok(ScimResponse::ok(json!({
        "schemas": [BULK_RESPONSE],
        "Operations": results,
    })))
}
