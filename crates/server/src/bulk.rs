//! The Bulk endpoint (RFC 7644 §3.7): the protocol crate checks the request and orders the
//! operations; here they run one by one against the directory, `bulkId` references resolved to
//! the ids of resources created earlier in the same request, `failOnErrors` honoured.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use roster_directory::render;
use roster_directory::{TenantContext, WriteOptions};
use roster_scim::messages::{
    BulkMethod, BulkOperation, BulkOperationResponse, BulkRejection, BulkRequest, BulkResponse,
    ErrorBody,
};
use roster_store::Kind;
use serde_json::Value;

use crate::{ApiError, AppState, ScimResponse, Tenant};

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

/// The error body an `ApiError` renders to, for embedding in a BulkResponse.
async fn error_body(e: ApiError) -> ErrorBody {
    let response = e.into_response();
    let status = response.status().as_u16();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| ErrorBody::new(status, None, "The operation failed."))
}

/// Runs one operation (references already resolved); returns its status and, for writes, the
/// resource's kind, id and version.
async fn run(
    state: &AppState,
    tenant: &Tenant,
    op: &BulkOperation,
) -> Result<(u16, Option<(Kind, String, i64)>), ApiError> {
    let (kind, id) = parse_path(&op.path).ok_or_else(|| {
        ApiError::from(roster_scim::Error::invalid_value(
            "path",
            format!(
                "{:?} is not /Users, /Groups or one of their resources",
                op.path
            ),
        ))
    })?;
    tenant.ensure(kind)?;
    let tenant: &TenantContext = &tenant.0;
    let data = op.data.clone().unwrap_or(Value::Null);
    let if_match = op
        .version
        .as_deref()
        .map(|v| roster_directory::parse_version(v).unwrap_or(-1));
    let dir = &state.directory;
    match (op.method, id) {
        (BulkMethod::Post, None) => {
            let r = dir
                .create(tenant, kind, &data, false, &mut Vec::new())
                .await?;
            Ok((201, Some((kind, r.id, r.version))))
        }
        (BulkMethod::Put, Some(id)) => {
            let r = dir
                .replace(tenant, kind, &id, &data, write(if_match), &mut Vec::new())
                .await?;
            Ok((200, Some((kind, r.id, r.version))))
        }
        (BulkMethod::Patch, Some(id)) => {
            let r = dir
                .patch(tenant, kind, &id, &data, write(if_match), &mut Vec::new())
                .await?;
            Ok((200, Some((kind, r.id, r.version))))
        }
        (BulkMethod::Delete, Some(id)) => {
            dir.delete(tenant, kind, &id, if_match).await?;
            Ok((204, None))
        }
        (m, _) => Err(ApiError::MethodNotAllowed(format!(
            "{m} is not allowed on {} in a Bulk request.",
            op.path
        ))),
    }
}

fn write(if_match: Option<i64>) -> WriteOptions {
    WriteOptions {
        if_match,
        return_members: false,
        no_body: false,
    }
}

/// POST /Bulk.
pub async fn bulk(
    State(state): State<AppState>,
    tenant: Tenant,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<ScimResponse, ApiError> {
    let limits = crate::discovery::bulk_limits(&state);
    let body = body.map_err(|_| ApiError::PayloadTooLarge(limits.max_payload_size))?;
    let request = BulkRequest::parse(&body, &limits).map_err(|rejection| match rejection {
        BulkRejection::TooManyOperations { max, .. } => ApiError::TooManyOperations(max),
        BulkRejection::PayloadTooLarge { max, .. } => ApiError::PayloadTooLarge(max),
        BulkRejection::Invalid(e) => e.into(),
    })?;
    let base = state.config.tenant_base(tenant.0.id());
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(request.operations.len());
    let mut errors = 0u64;
    for &index in request.execution_order() {
        if request.should_stop(errors) {
            break;
        }
        let op = &request.operations[index];
        let outcome = match op.resolve(&created) {
            Ok(resolved) => run(&state, &tenant, &resolved).await,
            Err(e) => Err(e.into()),
        };
        match outcome {
            Ok((status, written)) => {
                let location = match &written {
                    Some((kind, id, _)) => render::location(&base, *kind, id),
                    // A DELETE reports the location it removed.
                    None => format!("{base}{}", op.path),
                };
                if let (Some(bulk_id), Some((_, id, _)), BulkMethod::Post) =
                    (&op.bulk_id, &written, op.method)
                {
                    created.insert(bulk_id.clone(), id.clone());
                }
                let version = written.map(|(_, _, v)| render::etag(v));
                results.push(BulkOperationResponse::success(
                    op, status, location, version,
                ));
            }
            Err(e) => {
                errors += 1;
                let location =
                    (op.method != BulkMethod::Post).then(|| format!("{base}{}", op.path));
                results.push(BulkOperationResponse::failure(
                    op,
                    location,
                    &error_body(e).await,
                ));
            }
        }
    }
    let body = serde_json::to_value(BulkResponse::new(results)).map_err(|e| {
        ApiError::Directory(roster_directory::DirectoryError::Internal(e.to_string()))
    })?;
    Ok(ScimResponse::ok(body))
}
