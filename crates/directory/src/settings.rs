//! What an administrator sets per tenant: provisioning and groups on or off, the compatibility
//! mode for identity providers' dialects, and extra user attributes; and the per-tenant schema
//! registry those attributes produce.

use std::sync::Arc;

use roster_scim::dialect::Compatibility;
use roster_scim::schema::{Attribute, AttributeType, Registry, Schema};
use roster_store::Tenant;
use serde::{Deserialize, Serialize};

/// The URN of the extension schema that holds a tenant's extra user attributes.
pub const TENANT_USER_EXTENSION: &str = "urn:ietf:params:scim:schemas:extension:roster:2.0:User";

/// One extra user attribute an administrator defined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomAttribute {
    /// The attribute name, e.g. `username`.
    pub name: String,
    /// `string` (default), `boolean`, `integer`, `decimal`, `dateTime` or `reference`.
    #[serde(default = "default_type", rename = "type")]
    pub ty: String,
    /// Whether the attribute holds several values.
    #[serde(default, rename = "multiValued")]
    pub multi_valued: bool,
}

fn default_type() -> String {
    "string".into()
}

fn attribute_type(name: &str) -> Option<AttributeType> {
    Some(match name {
        "string" => AttributeType::String,
        "boolean" => AttributeType::Boolean,
        "integer" => AttributeType::Integer,
        "decimal" => AttributeType::Decimal,
        "dateTime" | "datetime" => AttributeType::DateTime,
        "reference" => AttributeType::Reference,
        _ => return None,
    })
}

/// A tenant's settings, stored as JSON with the tenant. Missing keys take their defaults, so
/// settings added later need no migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantSettings {
    /// Whether the identity provider may provision at all.
    pub provisioning: bool,
    /// Whether groups are provisioned (some applications have none).
    pub groups: bool,
    /// How strictly requests are read.
    pub compatibility: Compatibility,
    /// Extra user attributes, in the schema [`TENANT_USER_EXTENSION`].
    pub user_attributes: Vec<CustomAttribute>,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            provisioning: true,
            groups: true,
            compatibility: Compatibility::Auto,
            user_attributes: Vec::new(),
        }
    }
}

/// A setting an administrator tried to change that cannot be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingError(pub String);

fn parse_bool(key: &str, value: &str) -> Result<bool, SettingError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "enabled" | "1" => Ok(true),
        "off" | "false" | "no" | "disabled" | "0" => Ok(false),
        other => Err(SettingError(format!(
            "{key} must be on or off, not {other:?}"
        ))),
    }
}

impl TenantSettings {
    /// Reads settings stored with a tenant; unreadable settings fall back to the defaults
    /// for the keys that cannot be read.
    pub fn of(tenant: &Tenant) -> Self {
        serde_json::from_value(tenant.settings.clone()).unwrap_or_default()
    }

    /// Changes one setting by name, as `roster tenant set` does:
    /// `provisioning on|off`, `groups on|off`, `compatibility auto|strict`,
    /// `user-attributes NAME[:TYPE][,NAME[:TYPE]...]` (empty to remove them all).
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "provisioning" => self.provisioning = parse_bool(key, value)?,
            "groups" => self.groups = parse_bool(key, value)?,
            "compatibility" => {
                self.compatibility = value.parse().map_err(|e| SettingError(format!("{e}")))?
            }
            "user-attributes" | "user_attributes" => {
                let mut attributes = Vec::new();
                for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    let (name, ty) = item.split_once(':').unwrap_or((item, "string"));
                    let (ty, multi_valued) = match ty.strip_suffix("[]") {
                        Some(t) => (t, true),
                        None => (ty, false),
                    };
                    attribute_type(ty).ok_or_else(|| {
                        SettingError(format!(
                            "attribute {name}: type must be string, boolean, integer, decimal, dateTime or reference, not {ty:?}"
                        ))
                    })?;
                    attributes.push(CustomAttribute {
                        name: name.to_owned(),
                        ty: ty.to_owned(),
                        multi_valued,
                    });
                }
                // Checked the way the registry will check it, so a bad name fails here.
                registry_for(&attributes).map_err(|e| SettingError(e.to_string()))?;
                self.user_attributes = attributes;
            }
            other => {
                return Err(SettingError(format!(
                    "unknown setting {other:?}: use provisioning, groups, compatibility or user-attributes"
                )));
            }
        }
        Ok(())
    }
}

/// The schema registry of a tenant with these extra user attributes: the core registry, plus
/// an optional extension schema for the User resource type when there are any.
pub fn registry_for(
    attributes: &[CustomAttribute],
) -> Result<Registry, roster_scim::schema::SchemaError> {
    let mut registry = Registry::core();
    if attributes.is_empty() {
        return Ok(registry);
    }
    let schema = Schema {
        id: TENANT_USER_EXTENSION.into(),
        name: "RosterUser".into(),
        description: "Attributes this organisation added to its users.".into(),
        attributes: attributes
            .iter()
            .map(|a| {
                let ty = attribute_type(&a.ty).unwrap_or(AttributeType::String);
                let attr = Attribute::new(&a.name, ty);
                if a.multi_valued { attr.multi() } else { attr }
            })
            .collect(),
    };
    registry.register_extension("User", schema, false)?;
    Ok(registry)
}

/// Registries already built, by the extra attributes they were built for.
pub(crate) type RegistryCache = std::sync::Mutex<Vec<(Vec<CustomAttribute>, Arc<Registry>)>>;

/// A registry shared by every tenant with the same extra attributes.
pub(crate) fn shared_registry(
    cache: &RegistryCache,
    attributes: &[CustomAttribute],
) -> Arc<Registry> {
    let mut cache = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, r)) = cache.iter().find(|(a, _)| a == attributes) {
        return r.clone();
    }
    let registry = Arc::new(registry_for(attributes).unwrap_or_else(|_| Registry::core()));
    // Bounded: a handful of distinct attribute sets is the normal case.
    if cache.len() >= 256 {
        cache.clear();
    }
    cache.push((attributes.to_vec(), registry.clone()));
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_reject() {
        let mut s = TenantSettings::default();
        let ok = [
            ("provisioning", "off"),
            ("groups", "false"),
            ("compatibility", "strict"),
            ("user-attributes", "username, badge:integer, tags:string[]"),
        ];
        for (k, v) in ok {
            s.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        assert!(!s.provisioning && !s.groups);
        assert_eq!(s.compatibility, Compatibility::Strict);
        assert_eq!(s.user_attributes.len(), 3);
        assert!(s.user_attributes[2].multi_valued);
        let bad = [
            ("provisioning", "maybe"),
            ("compatibility", "lenient"),
            ("user-attributes", "1bad"),
            ("user-attributes", "x:color"),
            ("colour", "red"),
        ];
        for (k, v) in bad {
            assert!(s.set(k, v).is_err(), "{k}={v} accepted");
        }
        let registry = registry_for(&s.user_attributes).expect("registry");
        assert!(registry.user().extension(TENANT_USER_EXTENSION).is_some());
    }
}
