//! Keys of an older fold folded again, the same on every SQL backend: which rows change, what
//! a taken key means, and in which order the rows are written. A backend selects the rows its
//! own way (what "a key beyond ASCII" is in its SQL) and writes them through [`Refold`].
//!
//! Only keys with a character beyond ASCII can differ: the first fold (simple lowercase) made
//! ASCII keys only of ASCII letters and the Kelvin sign, which the current fold maps to the same
//! letters. Two names that were different under the old fold and are the same under the new one
//! (a user created as "José" in NFC and again in NFD) both keep working: the row whose new key
//! is taken keeps its old key and a warning names both rows; only a rename frees it.

use async_trait::async_trait;
use roster_scim::value::FOLD_VERSION;

use super::decode::{Columns, kind, stored_json};
use super::{email_keys, name_key};
use crate::{Kind, StoreError};

/// Whose name key holds another resource's new key. Binds: tenant_id, kind, name_key.
pub const HOLDER: &str =
    "SELECT id FROM resources WHERE tenant_id = ? AND kind = ? AND name_key = ?";

/// Writes a row's new name key. Binds: name_key, seq.
pub const SET_NAME_KEY: &str = "UPDATE resources SET name_key = ? WHERE seq = ?";

/// Removes a resource's e-mail keys before they are written again. Binds: resource_seq.
pub const CLEAR_EMAILS: &str = "DELETE FROM emails WHERE resource_seq = ?";

/// Records the fold the keys are now in. Binds: version.
pub const SET_VERSION: &str = "UPDATE key_fold SET version = ?";

/// A resource whose name key changes under this build's fold.
#[derive(Debug, Clone)]
pub struct NameRow {
    /// Its row.
    pub seq: i64,
    /// Its tenant.
    pub tenant: String,
    /// Its id.
    pub id: String,
    /// User or Group.
    pub kind: Kind,
    /// The key under this build's fold.
    pub key: String,
}

impl NameRow {
    /// Reads `seq, tenant_id, id, kind, name_key, data`; `None` when the key stays as it is.
    pub fn read(row: &impl Columns) -> Result<Option<NameRow>, StoreError> {
        let kind = kind(&row.text("kind")?)?;
        let key = name_key(kind, &stored_json(row.text("data")?)?);
        if key == row.text("name_key")? {
            return Ok(None);
        }
        Ok(Some(NameRow {
            seq: row.int("seq")?,
            tenant: row.text("tenant_id")?,
            id: row.text("id")?,
            kind,
            key,
        }))
    }
}

/// A resource whose e-mail keys are written again under this build's fold.
#[derive(Debug, Clone)]
pub struct EmailRow {
    /// Its row.
    pub seq: i64,
    /// Its tenant.
    pub tenant: String,
    /// Its e-mail keys under this build's fold.
    pub keys: Vec<String>,
}

impl EmailRow {
    /// Reads `seq, tenant_id, data`.
    pub fn read(row: &impl Columns) -> Result<EmailRow, StoreError> {
        Ok(EmailRow {
            seq: row.int("seq")?,
            tenant: row.text("tenant_id")?,
            keys: email_keys(&stored_json(row.text("data")?)?),
        })
    }
}

/// The writes of a fold, inside the backend's transaction.
#[async_trait]
pub trait Refold: Send {
    /// The id of the resource of the row's tenant and kind that holds its new key, if any
    /// ([`HOLDER`]).
    async fn holder(&mut self, row: &NameRow) -> Result<Option<String>, StoreError>;
    /// Writes the row's new name key ([`SET_NAME_KEY`]).
    async fn set_name_key(&mut self, row: &NameRow) -> Result<(), StoreError>;
    /// Writes the resource's e-mail keys again ([`CLEAR_EMAILS`], then its keys).
    async fn set_email_keys(&mut self, row: &EmailRow) -> Result<(), StoreError>;
    /// Records this build's fold ([`SET_VERSION`]).
    async fn set_version(&mut self, version: i64) -> Result<(), StoreError>;
}

/// What a fold changed, to log once its transaction is committed.
#[derive(Debug, Clone, Copy)]
pub struct Refolded {
    from: i64,
    names: usize,
    emails: usize,
}

impl Refolded {
    /// Logs what was folded; a new database has nothing to fold, and no line for it.
    pub fn log(self) {
        if self.names > 0 || self.emails > 0 {
            tracing::info!(
                from = self.from,
                to = FOLD_VERSION,
                names = self.names,
                emails = self.emails,
                "name and e-mail keys folded again"
            );
        }
    }
}

/// Folds again, from the fold `from`, the name keys of `names` (a key another resource holds
/// now stays as it was, with a warning) and the e-mail keys of `emails`, and records this
/// build's fold.
pub async fn refold(
    db: &mut impl Refold,
    from: i64,
    names: Vec<NameRow>,
    emails: Vec<EmailRow>,
) -> Result<Refolded, StoreError> {
    let mut refolded = 0;
    for row in &names {
        if let Some(other) = db.holder(row).await? {
            tracing::warn!(
                tenant = %row.tenant,
                kind = row.kind.as_str(),
                id = %row.id,
                same_name_as = %other,
                "two resources have names that are now the same; this one keeps its old key, \
                 so both stay reachable, until one of them is renamed"
            );
            continue;
        }
        db.set_name_key(row).await?;
        refolded += 1;
    }
    for row in &emails {
        db.set_email_keys(row).await?;
    }
    db.set_version(FOLD_VERSION).await?;
    Ok(Refolded {
        from,
        names: refolded,
        emails: emails.len(),
    })
}
