//! Why a directory operation failed.

use roster_store::*;

use crate::*;

/// Why a directory operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The request breaks a protocol rule.
    #[error(transparent)]
    Scim(#[from] roster_scim::Error),
    /// No such resource in this tenant.
    #[error("{kind} {id} not found")]
    NotFound {
        /// User or Group.
        kind: &'static str,
        /// The id asked for.
        id: String,
    },
    /// No such tenant.
    #[error("tenant {0} not found")]
    TenantNotFound(String),
    /// A tenant name that several tenants have.
    #[error("{} tenants are named {name:?}; name one by its id: {}", ids.len(), ids.join(", "))]
    AmbiguousTenant {
        /// The name given.
        name: String,
        /// The ids of the tenants with that name.
        ids: Vec<String>,
    },
    /// A unique attribute's value is taken.
    #[error("{0} is already taken in this tenant")]
    Conflict(&'static str),
    /// `If-Match` named a version that is no longer current.
    #[error("the resource has changed since version {0}")]
    PreconditionFailed(String),
    /// A tenant setting that cannot be set so.
    #[error("{0}")]
    Setting(String),
    /// A tenant's stored setting that cannot be read: the tenant is refused rather than run
    /// on defaults.
    #[error(
        "tenant {tenant}: {error}; set it again (roster tenant set {tenant} {} VALUE)",
        error.key.split(['.', '[']).next().unwrap_or("").replace('_', "-")
    )]
    UnreadableSetting {
        /// The tenant's id.
        tenant: String,
        /// Which key and why.
        error: settings::UnreadableSetting,
    },
    /// A group member that is not a resource of the tenant.
    #[error("member {0} is not a user or group of this tenant")]
    UnknownMember(String),
    /// A sealed value that cannot be shown or opened, or server keys that do not fit the
    /// database.
    #[error("{0}")]
    Sealing(String),
    /// A value that must be unique among tenants (a slug, an external id) is taken.
    #[error("{what} {value:?} is already used by another tenant")]
    TenantTaken {
        /// What: `external_id`, `slug`.
        what: &'static str,
        /// The value.
        value: String,
    },
    /// The database is unreachable.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// A bug or corrupt data; logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A store's answer about a thing the caller named: its `NotFound` becomes
/// [`DirectoryError::NotFound`] naming that thing. Where the caller named nothing, `?` turns a
/// `NotFound` into an internal error (see the `From` below), as it then means a bug.
pub(crate) trait NotFoundAs<T> {
    /// `NotFound` as "`kind` `id` not found"; any other error as `From` maps it.
    fn not_found_as(self, kind: &'static str, id: &str) -> Result<T, DirectoryError>;
}

impl<T> NotFoundAs<T> for Result<T, StoreError> {
    fn not_found_as(self, kind: &'static str, id: &str) -> Result<T, DirectoryError> {
        self.map_err(|e| DirectoryError::about(e, kind, id))
    }
}

impl DirectoryError {
    /// A store's error about the `kind` named `id`: `NotFound` names it.
    pub(crate) fn about(e: StoreError, kind: &'static str, id: &str) -> DirectoryError {
        match e {
            StoreError::NotFound => DirectoryError::NotFound {
                kind,
                id: id.to_owned(),
            },
            other => other.into(),
        }
    }
}

impl From<StoreError> for DirectoryError {
    fn from(e: StoreError) -> Self {
        match e {
            // A thing the caller named is looked up with `not_found_as`.
            StoreError::NotFound => DirectoryError::Internal("unexpected not found".into()),
            StoreError::Conflict(a) => DirectoryError::Conflict(a),
            StoreError::VersionMismatch => DirectoryError::PreconditionFailed(String::new()),
            StoreError::UnknownMember(id) => DirectoryError::UnknownMember(id),
            StoreError::Unavailable(s) => DirectoryError::Unavailable(s),
            StoreError::Internal(s) => DirectoryError::Internal(s),
        }
    }
}
