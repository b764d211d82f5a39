//! The console's use cases: operators (created through a one-time link, signing in with an
//! e-mail and an argon2id password), and console sessions, an operator's (every tenant) or a
//! tenant administrator's (opened by a setup link; that tenant only).

use roster_store::*;
use time::Duration;

use crate::password::{hash_password, verify_password};
use crate::*;

/// How long a link that creates an operator works.
pub const OPERATOR_INVITE: Duration = Duration::minutes(30);
/// How long a console session lasts.
pub const SESSION: Duration = Duration::hours(8);
/// The shortest operator password.
pub const MIN_PASSWORD: usize = 12;

/// Whom a session is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionFor {
    /// An operator: every tenant.
    Operator(String),
    /// A tenant's administrator: that tenant only.
    Tenant(TenantId),
}

/// A hash no password matches, checked when an e-mail is unknown, so that a sign-in takes as
/// long whether or not the e-mail exists.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$\
                     AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

pub(crate) fn email(text: &str) -> Result<String, DirectoryError> {
    let e = text.trim().to_lowercase();
    let valid = e.len() <= 254
        && e.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(e)
    } else {
        Err(DirectoryError::Setting(format!(
            "{text:?} is not an e-mail address"
        )))
    }
}

fn password(text: &str) -> Result<&str, DirectoryError> {
    let n = text.chars().count();
    if !(MIN_PASSWORD..=1024).contains(&n) {
        return Err(DirectoryError::Setting(format!(
            "a password has at least {MIN_PASSWORD} characters"
        )));
    }
    Ok(text)
}

impl Directory {
    /// A one-time link secret that creates an operator, working for [`OPERATOR_INVITE`].
    pub async fn operator_invite(&self) -> Result<String, DirectoryError> {
        let secret = format!("roi_{}", self.secrets.token().trim_start_matches("rst_"));
        let now = self.clock.now();
        self.store
            .add_operator_invite(&hash_token(&secret), now, now + OPERATOR_INVITE)
            .await?;
        Ok(secret)
    }

    /// Whether an operator link can still be used.
    pub async fn operator_invite_live(&self, secret: &str) -> Result<bool, DirectoryError> {
        Ok(self
            .store
            .operator_invite_live(&hash_token(secret), self.clock.now())
            .await?)
    }

    /// Creates an operator with a link, once; `None` if the link was used or expired.
    pub async fn create_operator(
        &self,
        secret: &str,
        address: &str,
        pass: &str,
    ) -> Result<Option<Operator>, DirectoryError> {
        let operator = Operator {
            id: format!("op_{}", self.secrets.resource_id().replace('-', "")),
            email: email(address)?,
            password_hash: hash_password(password(pass)?, self.secrets.salt()).await?,
            created_at: self.clock.now(),
            totp_sealed: None,
            totp_step: 0,
        };
        match self
            .store
            .use_operator_invite(&hash_token(secret), self.clock.now(), &operator)
            .await
        {
            Ok(true) => Ok(Some(operator)),
            Ok(false) => Ok(None),
            Err(StoreError::Conflict(_)) => Err(DirectoryError::Setting(format!(
                "there is already an operator {}",
                operator.email
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// How many operators there are.
    pub async fn operator_count(&self) -> Result<u64, DirectoryError> {
        Ok(self.store.operator_count().await?)
    }

    /// The operator an e-mail and password sign in, if they match (see
    /// [`Directory::sign_in`] for the second step).
    pub(crate) async fn password_matches(
        &self,
        address: &str,
        pass: &str,
    ) -> Result<Option<Operator>, DirectoryError> {
        let found = match email(address) {
            Ok(e) => self.store.operator_by_email(&e).await?,
            Err(_) => None,
        };
        let phc = found.as_ref().map_or(DECOY, |o| o.password_hash.as_str());
        let matches = verify_password(pass, phc).await?;
        Ok(found.filter(|_| matches))
    }

    /// The operator with this id.
    pub async fn operator(&self, id: &str) -> Result<Option<Operator>, DirectoryError> {
        Ok(self.store.operator(id).await?)
    }

    /// Starts a session; its cookie secret (shown once) and its record.
    pub async fn start_session(
        &self,
        who: SessionFor,
    ) -> Result<(String, ConsoleSession), DirectoryError> {
        // `rse_`: a secret scanner tells a session's cookie from an OAuth client secret
        // (`rcs_`), which sessions used to share.
        let secret = format!("rse_{}", self.secrets.token().trim_start_matches("rst_"));
        let now = self.clock.now();
        let (operator_id, tenant_id) = match who {
            SessionFor::Operator(id) => (Some(id), None),
            SessionFor::Tenant(t) => (None, Some(t)),
        };
        let session = ConsoleSession {
            hash: hash_token(&secret),
            operator_id,
            tenant_id,
            csrf: self.secrets.token().trim_start_matches("rst_").to_owned(),
            created_at: now,
            expires_at: now + SESSION,
        };
        self.store.add_session(&session).await?;
        Ok((secret, session))
    }

    /// The live session a cookie secret names.
    pub async fn console_session(
        &self,
        secret: &str,
    ) -> Result<Option<ConsoleSession>, DirectoryError> {
        if secret.len() > 200 {
            return Ok(None);
        }
        Ok(self
            .store
            .session(&hash_token(secret), self.clock.now())
            .await?)
    }

    /// Ends a session.
    pub async fn end_session(&self, secret: &str) -> Result<(), DirectoryError> {
        Ok(self.store.end_session(&hash_token(secret)).await?)
    }

    /// Deletes sessions and operator links that ended a day ago.
    pub async fn purge_sessions(&self) -> Result<u64, DirectoryError> {
        Ok(self
            .store
            .purge_sessions(self.clock.now() - Duration::days(1))
            .await?)
    }
}
