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
    /// How long an access token from the token endpoint lives, in minutes (60 to 360).
    pub access_token_minutes: u32,
    /// An external issuer whose signed tokens open this tenant's SCIM endpoint, if any.
    pub federation: Option<Federation>,
    /// What a group member that names no user or group of the tenant gets.
    pub unknown_members: UnknownMembers,
    /// What a successful PATCH of a user answers.
    pub patch_response: PatchResponse,
    /// More deactivations and deletions than this within ten minutes hold their events until
    /// an administrator decides (see [`crate::hold`]); off when `None` (the default).
    pub hold_threshold: Option<crate::threshold::Threshold>,
    /// Roles and the mappings that give them, for outbound targets attached to roles.
    pub roles: roster_outbound::rules::Roles,
}

/// What a group member naming no user or group of the tenant gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum UnknownMembers {
    /// 400 `invalidValue`, and nothing changes (the default: a group never points at
    /// nothing).
    #[default]
    Refuse,
    /// The member is left out and the rest of the request applies (what Microsoft's SCIM
    /// validation expects: its collection adds members "string id 1" and "string id 2").
    Ignore,
}

/// What a successful PATCH of a user answers (RFC 7644 §3.5.2 allows either; a group PATCH
/// without `attributes` always answers 204).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchResponse {
    /// 200 with the user (the default: Okta reads the user back from the response).
    #[default]
    Resource,
    /// 204 without a body, unless `attributes` or `excludedAttributes` ask for the resource
    /// (as Microsoft's reference SCIM service answers).
    NoContent,
}

/// The shortest and longest access-token lifetimes, in minutes, that may be set.
pub const ACCESS_TOKEN_MINUTES: std::ops::RangeInclusive<u32> = 60..=360;

/// An external token issuer a tenant trusts (workload identity federation): a JWT it signed
/// opens the tenant's SCIM endpoint when its issuer, audience, times and the configured claims
/// match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Federation {
    /// The accepted `iss` values. The first is where the OpenID configuration (and from it
    /// the signing keys) is fetched, unless `jwks_uri` is given.
    pub issuers: Vec<String>,
    /// The required `aud`.
    pub audience: String,
    /// The required `sub`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Further claims that must have exactly these string values (e.g. `tid`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub claims: std::collections::BTreeMap<String, String>,
    /// Where the signing keys are, when not found through the issuer's OpenID configuration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// Whether the issuer's URLs may point at link-local or cloud-metadata addresses (see
    /// [`crate::outbound`]); off unless the operator passed `--allow-link-local`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_link_local: bool,
}

impl Federation {
    /// The preset for Microsoft Entra ID: its v2.0 and v1 issuers for a directory (tenant) id,
    /// and the `tid` claim bound to it.
    pub fn entra(directory_id: &str, audience: &str) -> Result<Federation, SettingError> {
        let id = directory_id.trim();
        // Entra's tokens carry the directory's GUID (`tid`, and in the issuer); a domain name
        // or anything else would never match one.
        let groups: Vec<&str> = id.split('-').collect();
        let guid = groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
        if !guid {
            return Err(SettingError(format!(
                "{directory_id:?} is not a Microsoft Entra tenant id (a GUID such as \
                 72f988bf-86f1-41af-91ab-2d7cd011db47)"
            )));
        }
        Ok(Federation {
            issuers: vec![
                format!("https://login.microsoftonline.com/{id}/v2.0"),
                format!("https://sts.windows.net/{id}/"),
            ],
            audience: audience.to_owned(),
            subject: None,
            claims: [("tid".to_owned(), id.to_owned())].into_iter().collect(),
            jwks_uri: None,
            allow_link_local: false,
        })
    }

    /// What an administrator pasted, tidied: surrounding spaces trimmed, and a `/.default`
    /// suffix taken off the audience (Entra's portal shows the audience as a scope,
    /// `api://{app id}/.default`, while its tokens carry `api://{app id}`).
    pub fn normalized(mut self) -> Federation {
        for issuer in &mut self.issuers {
            *issuer = issuer.trim().to_owned();
        }
        let audience = self.audience.trim();
        self.audience = audience
            .strip_suffix("/.default")
            .unwrap_or(audience)
            .to_owned();
        self.subject = self
            .subject
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        self
    }

    /// Checks what an administrator configured: at least one issuer, each an `https` URL (or
    /// `http` on a loopback address, for tests and local issuers), and an audience.
    pub fn check(&self) -> Result<(), SettingError> {
        if self.issuers.is_empty() {
            return Err(SettingError("a trusted issuer needs an issuer URL".into()));
        }
        if self.audience.trim().is_empty() {
            return Err(SettingError(
                "a trusted issuer needs the audience its tokens are issued for".into(),
            ));
        }
        for url in self.issuers.iter().chain(self.jwks_uri.iter()) {
            if !is_fetchable(url) {
                return Err(SettingError(format!(
                    "{url:?} must be an https:// URL (http:// only on a loopback address)"
                )));
            }
        }
        Ok(())
    }
}

/// Whether a URL may be fetched for keys: `https`, or `http` to a loopback host.
pub fn is_fetchable(url: &str) -> bool {
    if let Some(rest) = url.strip_prefix("https://") {
        return !rest.is_empty();
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    };
    matches!(host, "localhost" | "[::1]")
        || host
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            provisioning: true,
            groups: true,
            compatibility: Compatibility::Auto,
            user_attributes: Vec::new(),
            access_token_minutes: 60,
            federation: None,
            unknown_members: UnknownMembers::Refuse,
            patch_response: PatchResponse::Resource,
            hold_threshold: None,
            roles: roster_outbound::rules::Roles::default(),
        }
    }
}

/// A stored setting that cannot be read: which key, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stored setting {key} cannot be read ({reason})")]
pub struct UnreadableSetting {
    /// The key, as stored (`access_token_minutes`, `federation.audience`).
    pub key: String,
    /// What is wrong with its value.
    pub reason: String,
}

impl UnreadableSetting {
    /// Whether the unreadable key is `key` (or inside it), spelt as stored or as
    /// `roster tenant set` spells it (`access-token-minutes`).
    pub fn is_key(&self, key: &str) -> bool {
        let key = key.replace('-', "_");
        let top = self.key.split(['.', '[']).next().unwrap_or("");
        !key.is_empty() && top == key
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
    /// Reads the settings stored with a tenant. A key not stored has its default (a setting
    /// newer than the tenant); a stored key that cannot be read is an error naming it, never
    /// a default: one unreadable value must not turn provisioning back on or drop the trusted
    /// issuer, nor be saved over by the next change.
    pub fn of(tenant: &Tenant) -> Result<Self, UnreadableSetting> {
        Self::from_stored(&tenant.settings)
    }

    fn from_stored(stored: &serde_json::Value) -> Result<Self, UnreadableSetting> {
        serde_path_to_error::deserialize(stored).map_err(|e| UnreadableSetting {
            key: e.path().to_string(),
            reason: e.inner().to_string(),
        })
    }

    /// The settings to change `key` from: those stored, or, when the stored value of `key`
    /// itself is what cannot be read, those stored without it (so that setting it again is
    /// the repair). Any other unreadable key is still an error.
    pub fn for_change(tenant: &Tenant, key: &str) -> Result<Self, UnreadableSetting> {
        match Self::of(tenant) {
            Err(e) if e.is_key(key) => {
                let mut stored = tenant.settings.clone();
                if let Some(obj) = stored.as_object_mut() {
                    obj.retain(|k, _| !e.is_key(k));
                }
                Self::from_stored(&stored)
            }
            other => other,
        }
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
            "access-token-minutes" | "access_token_minutes" => {
                let minutes: u32 = value.trim().parse().map_err(|_| {
                    SettingError(format!("{key} must be a number of minutes, not {value:?}"))
                })?;
                if !ACCESS_TOKEN_MINUTES.contains(&minutes) {
                    return Err(SettingError(format!(
                        "{key} must be between {} and {} minutes",
                        ACCESS_TOKEN_MINUTES.start(),
                        ACCESS_TOKEN_MINUTES.end()
                    )));
                }
                self.access_token_minutes = minutes;
            }
            "unknown-members" | "unknown_members" => {
                self.unknown_members = match value.trim() {
                    "refuse" => UnknownMembers::Refuse,
                    "ignore" => UnknownMembers::Ignore,
                    other => {
                        return Err(SettingError(format!(
                            "{key} must be refuse or ignore, not {other:?}"
                        )));
                    }
                }
            }
            "patch-response" | "patch_response" => {
                self.patch_response = match value.trim() {
                    "resource" => PatchResponse::Resource,
                    "no-content" => PatchResponse::NoContent,
                    other => {
                        return Err(SettingError(format!(
                            "{key} must be resource or no-content, not {other:?}"
                        )));
                    }
                }
            }
            "roles" => {
                let roles: roster_outbound::rules::Roles =
                    serde_json::from_str(value).map_err(|e| SettingError(format!("roles: {e}")))?;
                roles
                    .validate()
                    .map_err(|e| SettingError(format!("roles: {e}")))?;
                self.roles = roles;
            }
            "hold-threshold" | "hold_threshold" => {
                self.hold_threshold = match value.trim() {
                    "off" | "" => None,
                    v => Some(v.parse()?),
                }
            }
            other => {
                return Err(SettingError(format!(
                    "unknown setting {other:?}: use provisioning, groups, compatibility, \
                     user-attributes, access-token-minutes, unknown-members, patch-response \
                     or hold-threshold"
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
            ("access-token-minutes", "90"),
            ("unknown-members", "ignore"),
            ("patch-response", "no-content"),
        ];
        for (k, v) in ok {
            s.set(k, v).unwrap_or_else(|e| panic!("{k}={v}: {e}"));
        }
        assert!(!s.provisioning && !s.groups);
        assert_eq!(s.compatibility, Compatibility::Strict);
        assert_eq!(s.user_attributes.len(), 3);
        assert!(s.user_attributes[2].multi_valued);
        assert_eq!(s.access_token_minutes, 90);
        assert_eq!(s.unknown_members, UnknownMembers::Ignore);
        assert_eq!(s.patch_response, PatchResponse::NoContent);
        let bad = [
            ("provisioning", "maybe"),
            ("compatibility", "lenient"),
            ("user-attributes", "1bad"),
            ("user-attributes", "x:color"),
            ("colour", "red"),
            ("access-token-minutes", "59"),
            ("access-token-minutes", "361"),
            ("access-token-minutes", "an hour"),
            ("unknown-members", "drop"),
            ("patch-response", "204"),
        ];
        for (k, v) in bad {
            assert!(s.set(k, v).is_err(), "{k}={v} accepted");
        }
        let registry = registry_for(&s.user_attributes).expect("registry");
        assert!(registry.user().extension(TENANT_USER_EXTENSION).is_some());
    }

    #[test]
    fn federation_presets_and_checks() {
        let f = Federation::entra("72f988bf-86f1-41af-91ab-2d7cd011db47", "api://roster")
            .expect("preset");
        assert_eq!(
            f.issuers,
            [
                "https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0",
                "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/"
            ]
        );
        assert_eq!(f.claims["tid"], "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert!(f.check().is_ok());
        let pasted = Federation::entra(
            "72f988bf-86f1-41af-91ab-2d7cd011db47",
            " api://b5ba/.default ",
        )
        .expect("preset")
        .normalized();
        assert_eq!(pasted.audience, "api://b5ba");
        assert!(Federation::entra("x/../y", "a").is_err());
        let with = |issuer: &str, audience: &str| Federation {
            issuers: vec![issuer.into()],
            audience: audience.into(),
            subject: None,
            claims: Default::default(),
            jwks_uri: None,
            allow_link_local: false,
        };
        assert!(with("http://127.0.0.1:8080", "a").check().is_ok());
        assert!(with("http://localhost/x", "a").check().is_ok());
        assert!(with("http://issuer.example.com", "a").check().is_err());
        assert!(with("http://127.0.0.1.evil.com/", "a").check().is_err());
        assert!(with("ftp://x", "a").check().is_err());
        assert!(with("https://issuer.example.com", " ").check().is_err());
    }
}
