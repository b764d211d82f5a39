//! Entitlements refreshed from a target (OneLogin's "Refresh entitlements"): the groups it
//! holds (`/Groups`, their display names) and the values it advertises (`canonicalValues` in
//! its `/Schemas`), offered to whoever writes the target's entitlement rules.

use std::collections::BTreeMap;

use reqwest::Method;
use roster_directory::DirectoryError;
use roster_store::TenantId;
use serde::Serialize;
use serde_json::Value as Json;

use crate::Engine;
use crate::client::ClientError;

/// The most group names read.
const MAX_GROUPS: usize = 1_000;

/// What a target offers.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Entitlements {
    /// Its groups' display names (at most 1,000).
    pub groups: Vec<String>,
    /// Attribute → the values its schema advertises.
    pub values: BTreeMap<String, Vec<String>>,
}

fn canonical(prefix: &str, attributes: &Json, out: &mut BTreeMap<String, Vec<String>>) {
    for a in attributes.as_array().into_iter().flatten() {
        let Some(name) = a.get("name").and_then(Json::as_str) else {
            continue;
        };
        let path = if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}.{name}")
        };
        let values: Vec<String> = a
            .get("canonicalValues")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if !values.is_empty() {
            out.insert(path.clone(), values);
        }
        if let Some(sub) = a.get("subAttributes") {
            canonical(&path, sub, out);
        }
    }
}

impl Engine {
    /// Reads what the target offers: its groups, and its schemas' canonical values (a target
    /// without `/Schemas` offers none).
    pub async fn entitlements(
        &self,
        tenant: &TenantId,
        target: &str,
    ) -> Result<Result<Entitlements, ClientError>, DirectoryError> {
        let target = self.directory.target(tenant, target).await?;
        let client = self.client(&target)?;
        let mut found = Entitlements::default();
        let groups = match client
            .send(
                Method::GET,
                &format!("/Groups?attributes=displayName&count={MAX_GROUPS}"),
                None,
            )
            .await
        {
            Ok(answer) => answer.body,
            Err(e) => return Ok(Err(e)),
        };
        found.groups = groups
            .get("Resources")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|g| g.get("displayName").and_then(Json::as_str))
            .take(MAX_GROUPS)
            .map(str::to_owned)
            .collect();
        found.groups.sort();
        if let Ok(schemas) = client.send(Method::GET, "/Schemas", None).await {
            let list = schemas
                .body
                .get("Resources")
                .cloned()
                .unwrap_or(schemas.body);
            for schema in list.as_array().into_iter().flatten() {
                let id = schema.get("id").and_then(Json::as_str).unwrap_or_default();
                let core = id.starts_with("urn:ietf:params:scim:schemas:core:");
                let prefix = if core { String::new() } else { id.to_owned() };
                let mut values = BTreeMap::new();
                canonical(
                    "",
                    schema.get("attributes").unwrap_or(&Json::Null),
                    &mut values,
                );
                for (path, v) in values {
                    let key = if prefix.is_empty() {
                        path
                    } else {
                        format!("{prefix}:{path}")
                    };
                    found.values.insert(key, v);
                }
            }
        }
        Ok(Ok(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_values_are_found_at_any_depth() {
        let attributes = json!([
            {"name": "userType", "canonicalValues": ["Employee", "Contractor"]},
            {"name": "emails", "subAttributes": [
                {"name": "type", "canonicalValues": ["work", "home"]},
                {"name": "value"}]},
            {"name": "userName"}
        ]);
        let mut out = BTreeMap::new();
        canonical("", &attributes, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out["userType"], ["Employee", "Contractor"]);
        assert_eq!(out["emails.type"], ["work", "home"]);
    }
}
