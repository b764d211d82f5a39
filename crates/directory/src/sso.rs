//! Single sign-on's use cases: a tenant's connections to its identity providers (made, read,
//! removed; their keys sealed), the provisioned user a sign-in names, assertions used once, and
//! the events of sign-ins. The protocol checks are `roster-sso`'s; the HTTP flow is the edge's.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use roster_scim::filter::Filter;
use roster_sso::saml::{IdpMetadata, ServiceProvider, Vendor};
use roster_store::{Kind, ListQuery, NewEvent, SsoConnectionRecord, StoredResource, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::context::TenantContext;
use crate::{Directory, DirectoryError};

/// The identity provider a connection is for: its defaults and the names in its hints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// Microsoft Entra ID: the user's object id, provisioned as `externalId`, is the key, and
    /// sign-ins from the *My Apps* tile are accepted.
    Entra,
    /// Okta: the e-mail (the NameID) is the username.
    Okta,
    /// OneLogin: the NameID is the username.
    OneLogin,
    /// Google Workspace: the NameID (primary e-mail) is the username.
    Google,
    /// Any other SAML identity provider: the NameID is the username.
    Generic,
}

/// Entra's object id claim in SAML.
pub const ENTRA_OBJECT_ID: &str = "http://schemas.microsoft.com/identity/claims/objectidentifier";

impl Preset {
    /// Every preset, for listings.
    pub const ALL: [Preset; 5] = [
        Preset::Entra,
        Preset::Okta,
        Preset::OneLogin,
        Preset::Google,
        Preset::Generic,
    ];

    /// Its name in settings and commands.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Entra => "entra",
            Preset::Okta => "okta",
            Preset::OneLogin => "onelogin",
            Preset::Google => "google",
            Preset::Generic => "generic",
        }
    }

    /// The identity provider's own name, for pages.
    pub fn title(self) -> &'static str {
        match self {
            Preset::Entra => "Microsoft Entra ID",
            Preset::Okta => "Okta",
            Preset::OneLogin => "OneLogin",
            Preset::Google => "Google Workspace",
            Preset::Generic => "Another identity provider",
        }
    }

    /// What its SAML application's settings call Roster's Entity ID and Assertion Consumer
    /// Service URL, so that a page names the fields the administrator pastes them into.
    pub fn saml_field_names(self) -> (&'static str, &'static str) {
        match self {
            Preset::Entra => (
                "Identifier (Entity ID)",
                "Reply URL (Assertion Consumer Service URL)",
            ),
            Preset::Okta => ("Audience URI (SP Entity ID)", "Single sign-on URL"),
            Preset::OneLogin => ("Audience (EntityID)", "ACS (Consumer) URL"),
            Preset::Google => ("Entity ID", "ACS URL"),
            Preset::Generic => (
                "Entity ID (audience)",
                "Assertion Consumer Service (ACS) URL",
            ),
        }
    }

    /// Parses a preset's name.
    pub fn parse(text: &str) -> Result<Preset, DirectoryError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                DirectoryError::Setting(format!(
                    "unknown identity provider preset {text:?}: one of {}",
                    Preset::ALL.map(Preset::name).join(", ")
                ))
            })
    }

    /// The names its refusals' hints use.
    pub fn vendor(self) -> Vendor {
        match self {
            Preset::Entra => Vendor::Entra,
            Preset::Okta => Vendor::Okta,
            Preset::OneLogin => Vendor::OneLogin,
            Preset::Google => Vendor::Google,
            Preset::Generic => Vendor::Generic,
        }
    }

    /// The user key it matches on unless told otherwise.
    pub fn user_key(self) -> UserKey {
        match self {
            Preset::Entra => UserKey {
                claim: ENTRA_OBJECT_ID.to_owned(),
                attribute: Matched::ExternalId,
            },
            _ => UserKey {
                claim: UserKey::NAME_ID.to_owned(),
                attribute: Matched::UserName,
            },
        }
    }

    /// The user key of an OpenID Connect connection unless told otherwise: Entra's object id
    /// (`oid`, provisioned as `externalId`), else the e-mail as the username.
    pub fn oidc_user_key(self) -> UserKey {
        match self {
            Preset::Entra => UserKey {
                claim: "oid".to_owned(),
                attribute: Matched::ExternalId,
            },
            _ => UserKey {
                claim: "email".to_owned(),
                attribute: Matched::UserName,
            },
        }
    }

    /// Whether sign-ins the identity provider starts are accepted unless told otherwise.
    pub fn idp_initiated(self) -> bool {
        matches!(self, Preset::Entra | Preset::Okta | Preset::OneLogin)
    }
}

/// The provisioned attribute a sign-in's key is compared with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Matched {
    /// `userName` (case-insensitive, as SCIM compares it).
    UserName,
    /// `externalId` (exact).
    ExternalId,
    /// Any of the user's `emails` (case-insensitive).
    Email,
    /// One of the tenant's extra user attributes (exact), such as one an outbound target's
    /// write-back keeps: a sign-in by it reads every user of the tenant (it is not indexed).
    Extra(String),
}

impl Matched {
    /// Its SCIM attribute (an extra one by its full path).
    pub fn attribute(&self) -> String {
        match self {
            Matched::UserName => "userName".into(),
            Matched::ExternalId => "externalId".into(),
            Matched::Email => "emails".into(),
            Matched::Extra(name) => format!("{}:{name}", crate::settings::TENANT_USER_EXTENSION),
        }
    }

    /// Parses an attribute's name: userName, externalId, emails, or the name (or full path)
    /// of one of the tenant's extra user attributes (checked when the connection is saved).
    pub fn parse(text: &str) -> Result<Matched, DirectoryError> {
        let text = text.trim();
        let extension = format!("{}:", crate::settings::TENANT_USER_EXTENSION);
        match text.to_ascii_lowercase().as_str() {
            "username" => Ok(Matched::UserName),
            "externalid" => Ok(Matched::ExternalId),
            "email" | "emails" => Ok(Matched::Email),
            _ => {
                let name = text.strip_prefix(&extension).unwrap_or(text);
                let plain = !name.is_empty()
                    && name.len() <= 64
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if plain {
                    Ok(Matched::Extra(name.to_owned()))
                } else {
                    Err(DirectoryError::Setting(format!(
                        "a sign-in can be matched on userName, externalId, emails or one of the \
                         organisation's extra user attributes, not {text:?}"
                    )))
                }
            }
        }
    }

    /// Refuses an extra attribute the tenant does not have (a single string).
    pub fn check(&self, settings: &crate::TenantSettings) -> Result<(), DirectoryError> {
        match self {
            Matched::Extra(name)
                if !settings
                    .user_attributes
                    .iter()
                    .any(|a| &a.name == name && a.ty == "string" && !a.multi_valued) =>
            {
                Err(DirectoryError::Setting(format!(
                    "{name:?} is not one of the organisation's extra user attributes (a single \
                     string): a sign-in cannot be matched on it"
                )))
            }
            _ => Ok(()),
        }
    }
}

impl TryFrom<String> for Matched {
    type Error = String;
    fn try_from(text: String) -> Result<Matched, String> {
        match text.as_str() {
            "userName" => Ok(Matched::UserName),
            "externalId" => Ok(Matched::ExternalId),
            "emails" => Ok(Matched::Email),
            other => {
                match other.strip_prefix(&format!("{}:", crate::settings::TENANT_USER_EXTENSION)) {
                    Some(name) if !name.is_empty() => Ok(Matched::Extra(name.to_owned())),
                    _ => Err(format!(
                        "{other:?} is not an attribute a sign-in is matched on"
                    )),
                }
            }
        }
    }
}

impl From<Matched> for String {
    fn from(m: Matched) -> String {
        m.attribute()
    }
}

/// Which claim of a sign-in names the user, and which provisioned attribute it must equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserKey {
    /// `nameid`, or an attribute's (claim's) name.
    pub claim: String,
    /// The provisioned attribute.
    pub attribute: Matched,
}

impl UserKey {
    /// The claim that means the SAML NameID.
    pub const NAME_ID: &'static str = "nameid";
}

/// A SAML connection's settings, as stored (read back strictly: an unknown field or a missing
/// one fails closed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSettings {
    /// The identity provider's metadata, as pasted or fetched.
    pub metadata: String,
    /// Roster's certificate for this connection (DER, base64); its key is sealed.
    pub certificate: String,
    /// Which claim names the user.
    pub user_key: UserKey,
    /// Whether sign-ins the identity provider starts are accepted.
    pub idp_initiated: bool,
    /// Where the metadata is read again every day (its certificates change at a rollover).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_url: Option<String>,
    /// When it was last read from there (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_read_at: Option<i64>,
}

/// An OpenID Connect connection's settings, as stored (its client secret is sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// The issuer (its discovery document is at `/.well-known/openid-configuration` below it).
    pub issuer: String,
    /// Roster's client id at the identity provider.
    pub client_id: String,
    /// The scopes asked for besides `openid`.
    pub scopes: Vec<String>,
    /// Which claim names the user.
    pub user_key: UserKey,
}

/// What a connection speaks, with its settings.
#[derive(Debug, Clone)]
pub enum Protocol {
    /// SAML 2.0, with the identity provider's metadata read.
    Saml {
        /// The settings.
        settings: SamlSettings,
        /// The identity provider, as its metadata says.
        idp: Box<IdpMetadata>,
    },
    /// OpenID Connect.
    Oidc(OidcSettings),
}

/// A tenant's connection to its identity provider.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: TenantId,
    /// Its name in sign-on URLs.
    pub name: String,
    /// Its preset.
    pub preset: Preset,
    /// Whether the tenant's sign-on URL starts it.
    pub is_default: bool,
    /// What it speaks.
    pub protocol: Protocol,
    /// Whether a sign-in of a user who was not provisioned creates them (only while the
    /// tenant's provisioning is off).
    pub jit: bool,
    /// When it was made.
    pub created_at: OffsetDateTime,
    pub(crate) sealed: Vec<u8>,
}

/// Stored settings: the preset beside the protocol's own (the one the `protocol` column
/// names must be there).
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Stored {
    pub(crate) preset: Preset,
    /// Whether a sign-in of a user not provisioned creates them, while provisioning is off.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) jit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) saml: Option<SamlSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) oidc: Option<OidcSettings>,
}

/// An OpenID Connect connection to make.
#[derive(Debug, Clone)]
pub struct NewOidcConnection {
    /// Its name (letters, digits and dashes).
    pub name: String,
    /// Its preset.
    pub preset: Preset,
    /// The issuer URL.
    pub issuer: String,
    /// Roster's client id there.
    pub client_id: String,
    /// Roster's client secret there (sealed).
    pub client_secret: String,
    /// Scopes besides `openid` (`email profile` when absent).
    pub scopes: Option<Vec<String>>,
    /// Which claim names the user (the preset's when absent).
    pub user_key: Option<UserKey>,
    /// Whether the tenant's sign-on URL starts it.
    pub is_default: bool,
}

/// A SAML connection to make.
#[derive(Debug, Clone)]
pub struct NewSamlConnection {
    /// Its name (letters, digits and dashes).
    pub name: String,
    /// Its preset.
    pub preset: Preset,
    /// The identity provider's metadata.
    pub metadata: String,
    /// Which claim names the user (the preset's when absent).
    pub user_key: Option<UserKey>,
    /// Whether sign-ins the identity provider starts are accepted (the preset's when absent).
    pub idp_initiated: Option<bool>,
    /// Whether the tenant's sign-on URL starts it.
    pub is_default: bool,
    /// Where `metadata` was read from, to read it again every day.
    pub metadata_url: Option<String>,
}

pub(crate) fn sealing_context(tenant: &TenantId, id: &str) -> String {
    format!("sso:{tenant}:{id}")
}

/// What a connection may be named: it is part of a URL.
fn check_name(name: &str) -> Result<String, DirectoryError> {
    let name = name.trim().to_ascii_lowercase();
    let fine = (1..=40).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-');
    if fine {
        Ok(name)
    } else {
        Err(DirectoryError::Setting(format!(
            "a connection's name is 1 to 40 letters, digits and dashes, not {name:?}"
        )))
    }
}

impl Connection {
    fn from_record(record: SsoConnectionRecord) -> Result<Connection, DirectoryError> {
        let unreadable = |why: String| {
            DirectoryError::Internal(format!(
                "SSO connection {} of tenant {}: {why}",
                record.id, record.tenant_id
            ))
        };
        let stored: Stored = serde_json::from_value(record.settings.clone())
            .map_err(|e| unreadable(format!("its settings do not read: {e}")))?;
        let protocol = match (record.protocol.as_str(), stored.saml, stored.oidc) {
            ("saml", Some(settings), None) => {
                let idp = IdpMetadata::parse(&settings.metadata)
                    .map_err(|e| unreadable(format!("its metadata does not read: {e}")))?;
                Protocol::Saml {
                    settings,
                    idp: Box::new(idp),
                }
            }
            ("oidc", None, Some(settings)) => Protocol::Oidc(settings),
            (other, _, _) => {
                return Err(unreadable(format!(
                    "its settings are not those of protocol {other:?}"
                )));
            }
        };
        Ok(Connection {
            id: record.id,
            tenant: record.tenant_id,
            name: record.name,
            preset: stored.preset,
            is_default: record.is_default,
            protocol,
            jit: stored.jit,
            created_at: record.created_at,
            sealed: record.sealed,
        })
    }

    /// Which claim names the user, and which provisioned attribute it must equal.
    pub fn user_key(&self) -> &UserKey {
        match &self.protocol {
            Protocol::Saml { settings, .. } => &settings.user_key,
            Protocol::Oidc(settings) => &settings.user_key,
        }
    }

    /// Whether sign-ins the identity provider starts are accepted (never for OpenID Connect).
    pub fn idp_initiated(&self) -> bool {
        match &self.protocol {
            Protocol::Saml { settings, .. } => settings.idp_initiated,
            Protocol::Oidc(_) => false,
        }
    }

    /// `saml` or `oidc`.
    pub fn protocol_name(&self) -> &'static str {
        match &self.protocol {
            Protocol::Saml { .. } => "saml",
            Protocol::Oidc(_) => "oidc",
        }
    }

    /// The identity provider trusted: its SAML entity id or OpenID issuer.
    pub fn trusted(&self) -> &str {
        match &self.protocol {
            Protocol::Saml { idp, .. } => &idp.entity_id,
            Protocol::Oidc(settings) => &settings.issuer,
        }
    }
}

impl Directory {
    /// Makes a SAML connection for `tenant`: reads the identity provider's metadata (refusing
    /// it without a signing certificate), makes the connection's key and certificate, seals the
    /// key with the server key.
    pub async fn add_saml_connection(
        &self,
        tenant: &TenantId,
        new: NewSamlConnection,
    ) -> Result<Connection, DirectoryError> {
        let ring = self.ring()?;
        let found = self
            .tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        if let Some(key) = &new.user_key {
            let settings = crate::TenantSettings::of(&found)
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            key.attribute.check(&settings)?;
        }
        let name = check_name(&new.name)?;
        IdpMetadata::parse(&new.metadata).map_err(|e| {
            DirectoryError::Setting(format!("the identity provider's metadata: {e}"))
        })?;
        let now = self.clock.now();
        let id = self.secrets.resource_id();
        let serial = self.secrets.random_u64();
        let subject = format!("roster {name}");
        let pair =
            tokio::task::spawn_blocking(move || roster_sso::keys::generate(&subject, serial, now))
                .await
                .map_err(|e| DirectoryError::Internal(e.to_string()))?
                .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        let stored = Stored {
            preset: new.preset,
            jit: false,
            saml: Some(SamlSettings {
                metadata: new.metadata,
                certificate: STANDARD.encode(&pair.certificate_der),
                user_key: new.user_key.unwrap_or_else(|| new.preset.user_key()),
                idp_initiated: new.idp_initiated.unwrap_or(new.preset.idp_initiated()),
                metadata_read_at: new.metadata_url.as_ref().map(|_| now.unix_timestamp()),
                metadata_url: new.metadata_url,
            }),
            oidc: None,
        };
        let sealed = ring.seal(
            self.secrets.as_ref(),
            &sealing_context(tenant, &id),
            &pair.private_key_der,
        );
        let record = SsoConnectionRecord {
            id,
            tenant_id: tenant.clone(),
            name,
            protocol: "saml".to_owned(),
            settings: serde_json::to_value(&stored)
                .map_err(|e| DirectoryError::Internal(e.to_string()))?,
            sealed,
            is_default: new.is_default,
            created_at: now,
            updated_at: now,
        };
        self.store_connection(record).await
    }

    async fn store_connection(
        &self,
        record: SsoConnectionRecord,
    ) -> Result<Connection, DirectoryError> {
        self.store
            .add_sso_connection(&record)
            .await
            .map_err(|e| match e {
                roster_store::StoreError::Conflict(_) => DirectoryError::Setting(format!(
                    "the tenant already has a connection named {:?}",
                    record.name
                )),
                other => other.into(),
            })?;
        Connection::from_record(record)
    }

    /// Makes an OpenID Connect connection for `tenant`: the issuer must be an https URL (http
    /// only on loopback) that the outbound address policy allows; the client secret is sealed.
    /// The issuer is not fetched here: the first sign-in discovers it, and says so if it fails.
    pub async fn add_oidc_connection(
        &self,
        tenant: &TenantId,
        new: NewOidcConnection,
    ) -> Result<Connection, DirectoryError> {
        let ring = self.ring()?;
        let found = self
            .tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        if let Some(key) = &new.user_key {
            let settings = crate::TenantSettings::of(&found)
                .map_err(|e| DirectoryError::Setting(e.to_string()))?;
            key.attribute.check(&settings)?;
        }
        let name = check_name(&new.name)?;
        let issuer = new.issuer.trim().trim_end_matches('/').to_owned();
        crate::outbound::secure_url(&issuer, "issuer")?;
        crate::outbound::check_url(&issuer)
            .await
            .map_err(|e| DirectoryError::Setting(e.to_string()))?;
        if new.client_id.trim().is_empty() || new.client_secret.is_empty() {
            return Err(DirectoryError::Setting(
                "an OpenID Connect connection needs the client id and secret the identity provider gave".into(),
            ));
        }
        let now = self.clock.now();
        let id = self.secrets.resource_id();
        let stored = Stored {
            preset: new.preset,
            jit: false,
            saml: None,
            oidc: Some(OidcSettings {
                issuer,
                client_id: new.client_id.trim().to_owned(),
                scopes: new
                    .scopes
                    .unwrap_or_else(|| vec!["email".to_owned(), "profile".to_owned()]),
                user_key: new.user_key.unwrap_or_else(|| new.preset.oidc_user_key()),
            }),
        };
        let sealed = ring.seal(
            self.secrets.as_ref(),
            &sealing_context(tenant, &id),
            new.client_secret.as_bytes(),
        );
        let record = SsoConnectionRecord {
            id,
            tenant_id: tenant.clone(),
            name,
            protocol: "oidc".to_owned(),
            settings: serde_json::to_value(&stored)
                .map_err(|e| DirectoryError::Internal(e.to_string()))?,
            sealed,
            is_default: new.is_default,
            created_at: now,
            updated_at: now,
        };
        self.store_connection(record).await
    }

    /// An OpenID Connect connection's client secret, unsealed.
    pub fn oidc_client_secret(&self, connection: &Connection) -> Result<String, DirectoryError> {
        let ring = self.ring()?;
        let clear = ring
            .open(
                &sealing_context(&connection.tenant, &connection.id),
                &connection.sealed,
            )
            .map_err(|e| DirectoryError::Sealing(format!("the connection's secret: {e}")))?;
        String::from_utf8(clear).map_err(|e| DirectoryError::Internal(e.to_string()))
    }

    /// A tenant's connections, by name.
    pub async fn sso_connections(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<Connection>, DirectoryError> {
        self.store
            .sso_connections(tenant)
            .await?
            .into_iter()
            .map(Connection::from_record)
            .collect()
    }

    /// One of a tenant's connections, by id or name; with no name, its default one (or its
    /// only one).
    pub async fn sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: Option<&str>,
    ) -> Result<Connection, DirectoryError> {
        let not_found = |what: &str| DirectoryError::NotFound {
            kind: "SSO connection",
            id: what.to_owned(),
        };
        match id_or_name {
            Some(name) => self
                .store
                .sso_connection(tenant, name)
                .await?
                .map(Connection::from_record)
                .transpose()?
                .ok_or_else(|| not_found(name)),
            None => {
                let all = self.sso_connections(tenant).await?;
                let only = all.len() == 1;
                all.into_iter()
                    .find(|c| c.is_default || only)
                    .ok_or_else(|| not_found("(the default)"))
            }
        }
    }

    /// Removes a connection.
    pub async fn remove_sso_connection(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
    ) -> Result<(), DirectoryError> {
        let connection = self.sso_connection(tenant, Some(id_or_name)).await?;
        Ok(self
            .store
            .remove_sso_connection(tenant, &connection.id)
            .await?)
    }

    /// Roster as the service provider of `connection`, at `entity_id` and `acs_url` (the edge
    /// knows its public URL): the connection's key unsealed.
    pub fn saml_service_provider(
        &self,
        connection: &Connection,
        entity_id: String,
        acs_url: String,
    ) -> Result<ServiceProvider, DirectoryError> {
        let ring = self.ring()?;
        let key = ring
            .open(
                &sealing_context(&connection.tenant, &connection.id),
                &connection.sealed,
            )
            .map_err(|e| DirectoryError::Sealing(format!("the connection's key: {e}")))?;
        let Protocol::Saml { settings, .. } = &connection.protocol else {
            return Err(DirectoryError::Internal(format!(
                "connection {} is not a SAML connection",
                connection.name
            )));
        };
        let certificate_der = STANDARD
            .decode(&settings.certificate)
            .map_err(|e| DirectoryError::Internal(format!("the connection's certificate: {e}")))?;
        Ok(ServiceProvider {
            entity_id,
            acs_url,
            certificate_der,
            private_key_der: key,
        })
    }

    /// The provisioned user whose `key.attribute` is `value`, if exactly one is. Two users
    /// with the same key (e-mails are not unique) match nobody rather than the first.
    pub async fn user_for_sign_in(
        &self,
        tenant: &TenantContext,
        key: &UserKey,
        value: &str,
    ) -> Result<Option<StoredResource>, DirectoryError> {
        let literal =
            serde_json::to_string(value).map_err(|e| DirectoryError::Internal(e.to_string()))?;
        let filter = Filter::parse(&format!("{} eq {literal}", key.attribute.attribute()))
            .map_err(|e| DirectoryError::Internal(format!("the sign-in's filter: {e}")))?;
        let query = ListQuery {
            filter: Some(filter),
            sort: None,
            offset: 0,
            limit: 2,
            with_relations: true,
            max_bytes: usize::MAX,
            count_at_most: Some(2),
        };
        let page = self.list(tenant, Kind::User, &query).await?;
        let mut found = page.resources.into_iter();
        match (found.next(), found.next()) {
            (Some(user), None) => Ok(Some(user)),
            _ => Ok(None),
        }
    }

    /// Appends a sign-in's event (`user.signed_in`, `sso.failed`) to the tenant's change log.
    pub async fn record_sign_in_event(
        &self,
        tenant: &TenantId,
        event_type: &str,
        data: Value,
    ) -> Result<(), DirectoryError> {
        let event = NewEvent {
            id: format!("evt_{}", self.secrets.resource_id().replace('-', "")),
            event_type: event_type.to_owned(),
            occurred_at: self.clock.now(),
            data,
        };
        self.store.record_events(tenant, &[event]).await?;
        self.changed();
        Ok(())
    }
}

impl Directory {
    /// Seals `clear` under `context` with the server key: what a sign-in keeps in the browser
    /// (a cookie, a code) can be neither read nor changed there.
    pub fn seal_value(&self, context: &str, clear: &[u8]) -> Result<Vec<u8>, DirectoryError> {
        let ring = self.ring()?;
        Ok(ring.seal(self.secrets.as_ref(), context, clear))
    }

    /// Opens what [`Directory::seal_value`] sealed under `context`; `None` when it does not
    /// open (changed, sealed for another context, or with a key this process lacks).
    pub fn open_value(&self, context: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        self.keyring.as_ref()?.open(context, sealed).ok()
    }
}

/// The key under which an Entra directory id is kept beside the e-mail domains (both lead a
/// sign-in to its tenant, and each is one tenant's).
fn entra_key(directory_id: &str) -> Result<String, DirectoryError> {
    let id = directory_id.trim().to_ascii_lowercase();
    let groups: Vec<&str> = id.split('-').collect();
    let shape = [8, 4, 4, 4, 12];
    let fine = groups.len() == 5
        && groups
            .iter()
            .zip(shape)
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if fine {
        Ok(format!("entra:{id}"))
    } else {
        Err(DirectoryError::Setting(format!(
            "{directory_id:?} is not a Microsoft Entra directory (tenant) id, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"
        )))
    }
}

impl Directory {
    /// Binds a Microsoft Entra directory to `tenant`: its users sign in through the shared
    /// Microsoft 365 connection (`/auth/request-access/ms365`), whose ID tokens' `tid` names
    /// the directory. A directory is one tenant's.
    pub async fn bind_entra_directory(
        &self,
        tenant: &TenantId,
        directory_id: &str,
    ) -> Result<(), DirectoryError> {
        let key = entra_key(directory_id)?;
        self.tenant_by(&crate::TenantRef::Id(tenant.clone()))
            .await?;
        if self.store.domain_tenant(&key).await?.as_ref() == Some(tenant) {
            return Ok(());
        }
        self.store
            .add_tenant_domain(tenant, &key, "entra", self.clock.now())
            .await
            .map_err(|e| match e {
                roster_store::StoreError::Conflict(_) => DirectoryError::Setting(format!(
                    "the Entra directory {} is already bound to another organisation",
                    directory_id.trim()
                )),
                other => other.into(),
            })
    }

    /// The tenant a Microsoft Entra directory is bound to.
    pub async fn tenant_for_entra_directory(
        &self,
        directory_id: &str,
    ) -> Result<Option<roster_store::Tenant>, DirectoryError> {
        let Ok(key) = entra_key(directory_id) else {
            return Ok(None);
        };
        match self.store.domain_tenant(&key).await? {
            Some(id) => Ok(self.store.tenant(&id).await?),
            None => Ok(None),
        }
    }

    /// The Entra directories bound to a tenant.
    pub async fn entra_directories(
        &self,
        tenant: &TenantId,
    ) -> Result<Vec<String>, DirectoryError> {
        Ok(self
            .store
            .tenant_domains(tenant)
            .await?
            .into_iter()
            .filter_map(|k| k.strip_prefix("entra:").map(str::to_owned))
            .collect())
    }
}

impl Connection {
    /// The shared Microsoft 365 connection as it signs a user of `tenant` in: OpenID Connect
    /// with Entra's defaults (the object id `oid` is the user's `externalId`), at the issuer
    /// of the user's own directory.
    pub fn microsoft_365(tenant: &TenantId, issuer: &str, client_id: &str) -> Connection {
        Connection {
            id: "ms365".to_owned(),
            tenant: tenant.clone(),
            name: "ms365".to_owned(),
            preset: Preset::Entra,
            is_default: false,
            protocol: Protocol::Oidc(OidcSettings {
                issuer: issuer.to_owned(),
                client_id: client_id.to_owned(),
                scopes: vec!["email".to_owned(), "profile".to_owned()],
                user_key: Preset::Entra.oidc_user_key(),
            }),
            created_at: time::OffsetDateTime::UNIX_EPOCH,
            jit: false,
            sealed: Vec::new(),
        }
    }
}

/// How often a connection's metadata is read again from its URL.
pub const METADATA_REFRESH: time::Duration = time::Duration::days(1);

impl Directory {
    /// Every SAML connection whose metadata URL is due to be read again (a day after it last
    /// was).
    pub async fn metadata_due(&self) -> Result<Vec<Connection>, DirectoryError> {
        let now = self.clock.now().unix_timestamp();
        let mut due = Vec::new();
        for tenant in self.store.tenants().await? {
            for record in self.store.sso_connections(&tenant.id).await? {
                let Ok(connection) = Connection::from_record(record) else {
                    continue;
                };
                if let Protocol::Saml { settings, .. } = &connection.protocol
                    && settings.metadata_url.is_some()
                    && settings.metadata_read_at.unwrap_or(0) + METADATA_REFRESH.whole_seconds()
                        <= now
                {
                    due.push(connection);
                }
            }
        }
        Ok(due)
    }

    /// Replaces a SAML connection's metadata with what its URL now serves. Metadata that does
    /// not read (or has no signing certificate) is refused and the connection keeps the
    /// certificates it trusted: a broken answer never leaves it trusting nothing.
    pub async fn refresh_metadata(
        &self,
        connection: &Connection,
        xml: String,
    ) -> Result<(), DirectoryError> {
        IdpMetadata::parse(&xml).map_err(|e| {
            DirectoryError::Setting(format!("the identity provider's metadata: {e}"))
        })?;
        let Protocol::Saml { settings, .. } = &connection.protocol else {
            return Err(DirectoryError::Internal("not a SAML connection".into()));
        };
        let now = self.clock.now();
        let mut settings = settings.clone();
        settings.metadata = xml;
        settings.metadata_read_at = Some(now.unix_timestamp());
        let stored = Stored {
            preset: connection.preset,
            jit: connection.jit,
            saml: Some(settings),
            oidc: None,
        };
        let record = SsoConnectionRecord {
            id: connection.id.clone(),
            tenant_id: connection.tenant.clone(),
            name: connection.name.clone(),
            protocol: "saml".to_owned(),
            settings: serde_json::to_value(&stored)
                .map_err(|e| DirectoryError::Internal(e.to_string()))?,
            sealed: connection.sealed.clone(),
            is_default: connection.is_default,
            created_at: connection.created_at,
            updated_at: now,
        };
        Ok(self.store.update_sso_connection(&record).await?)
    }
}

impl Directory {
    /// Turns just-in-time creation on or off for a connection. On only while the tenant's
    /// provisioning is off: where the identity provider provisions, a user it did not
    /// provision may not sign in.
    pub async fn set_jit(
        &self,
        tenant: &TenantId,
        id_or_name: &str,
        on: bool,
    ) -> Result<(), DirectoryError> {
        let connection = self.sso_connection(tenant, Some(id_or_name)).await?;
        if on {
            let found = self
                .tenant_by(&crate::TenantRef::Id(tenant.clone()))
                .await?;
            let ctx = self.context(found)?;
            if ctx.settings.provisioning && ctx.tenant.plan.provisioning {
                return Err(DirectoryError::Setting(
                    "just-in-time creation is only for organisations whose provisioning is off: turn provisioning off first (roster tenant set TENANT provisioning off)".into(),
                ));
            }
        }
        let mut record = self
            .store
            .sso_connection(tenant, &connection.id)
            .await?
            .ok_or_else(|| DirectoryError::NotFound {
                kind: "SSO connection",
                id: id_or_name.to_owned(),
            })?;
        let mut stored: Stored = serde_json::from_value(record.settings.clone())
            .map_err(|e| DirectoryError::Internal(e.to_string()))?;
        stored.jit = on;
        record.settings =
            serde_json::to_value(&stored).map_err(|e| DirectoryError::Internal(e.to_string()))?;
        record.updated_at = self.clock.now();
        Ok(self.store.update_sso_connection(&record).await?)
    }

    /// Creates the user a sign-in names, for a connection with just-in-time creation, while
    /// the tenant's provisioning is off: `userName` (the key when it is the userName, else the
    /// e-mail), `externalId` when the key is, the e-mail and the name given. `None` when it
    /// may not (provisioning is on, or the connection does not create users).
    pub async fn create_signed_in_user(
        &self,
        tenant: &TenantContext,
        connection: &Connection,
        value: &str,
        email: Option<&str>,
        name: Option<&str>,
    ) -> Result<Option<StoredResource>, DirectoryError> {
        if !connection.jit || (tenant.settings.provisioning && tenant.tenant.plan.provisioning) {
            return Ok(None);
        }
        let key = connection.user_key();
        let user_name = match &key.attribute {
            Matched::UserName => Some(value),
            Matched::ExternalId | Matched::Email | Matched::Extra(_) => email,
        };
        let Some(user_name) = user_name else {
            return Ok(None);
        };
        let mut body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": user_name,
            "active": true,
        });
        if key.attribute == Matched::ExternalId {
            body["externalId"] = serde_json::json!(value);
        }
        if let Matched::Extra(name) = &key.attribute {
            let urn = crate::settings::TENANT_USER_EXTENSION;
            body[urn] = serde_json::json!({ name.as_str(): value });
            if let Some(schemas) = body["schemas"].as_array_mut() {
                schemas.push(serde_json::json!(urn));
            }
        }
        if let Some(email) = email {
            body["emails"] = serde_json::json!([{"value": email, "type": "work", "primary": true}]);
        }
        if let Some(name) = name {
            body["displayName"] = serde_json::json!(name);
        }
        let mut applied = Vec::new();
        Ok(Some(
            self.create(tenant, Kind::User, &body, false, &mut applied)
                .await?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::Preset;

    #[test]
    fn each_identity_provider_names_the_fields_its_own_way() {
        assert_eq!(
            Preset::Okta.saml_field_names(),
            ("Audience URI (SP Entity ID)", "Single sign-on URL")
        );
        assert_eq!(
            Preset::OneLogin.saml_field_names(),
            ("Audience (EntityID)", "ACS (Consumer) URL")
        );
        assert_eq!(Preset::Entra.saml_field_names().0, "Identifier (Entity ID)");
        // Every preset has both, and tells them apart.
        for p in Preset::ALL {
            let (entity, acs) = p.saml_field_names();
            assert!(
                !entity.is_empty() && !acs.is_empty() && entity != acs,
                "{p:?}"
            );
        }
    }
}
