//! Two-step sign-in for operators: a TOTP secret shown once to be added to an app, turned on
//! by a code from it, sealed with the server key, asked for at every sign-in, and turned off
//! with a code.

use roster_store::*;

use crate::sealing::Keyring;
use crate::totp::{self, Enrolment, SECRET_BYTES};
use crate::*;

/// The context an operator's sealed TOTP secret is bound to.
fn totp_context(operator: &str) -> String {
    format!("operator-totp:{operator}")
}

/// What an e-mail, a password and a code sign in.
#[derive(Debug, Clone, PartialEq)]
pub enum SignIn {
    /// This operator.
    Operator(Operator),
    /// The e-mail and password are right, the operator signs in in two steps and no code was
    /// given: ask for one.
    CodeNeeded,
    /// Nobody: the e-mail, the password or the code is wrong.
    Refused,
}

impl Directory {
    fn unix_now(&self) -> u64 {
        u64::try_from(self.clock.now().unix_timestamp()).unwrap_or(0)
    }

    /// A new secret for an operator to add to an authenticator app; nothing is stored until
    /// [`Directory::enable_totp`] confirms it with a code.
    pub fn new_totp(&self, operator: &Operator) -> Result<Enrolment, DirectoryError> {
        let key = self.secrets.key();
        totp::enrolment(&key[..SECRET_BYTES], &operator.email)
    }

    /// The enrolment of a secret the form carried back (to show it again after a wrong code).
    pub fn totp_enrolment(
        &self,
        operator: &Operator,
        secret: &str,
    ) -> Result<Enrolment, DirectoryError> {
        totp::enrolment(&totp::decode(secret)?, &operator.email)
    }

    /// Turns two-step sign-in on with the secret shown and a code the app made from it;
    /// `false` (and nothing changed) when the code is not right.
    pub async fn enable_totp(
        &self,
        operator: &Operator,
        secret: &str,
        code: &str,
    ) -> Result<bool, DirectoryError> {
        let bytes = totp::decode(secret)?;
        let Some(step) = totp::matching_step(&bytes, code, self.unix_now())? else {
            return Ok(false);
        };
        let sealed = self
            .ring()?
            .seal(self.secrets.as_ref(), &totp_context(&operator.id), &bytes);
        self.store
            .set_operator_totp(&operator.id, Some(&sealed))
            .await?;
        self.store.use_totp_step(&operator.id, step).await?;
        Ok(true)
    }

    /// Whether `code` is the operator's code now, each code accepted once; `false` for an
    /// operator without two-step sign-in.
    pub async fn check_totp(
        &self,
        operator: &Operator,
        code: &str,
    ) -> Result<bool, DirectoryError> {
        let Some(sealed) = &operator.totp_sealed else {
            return Ok(false);
        };
        let secret = self
            .ring()?
            .open(&totp_context(&operator.id), sealed)
            .map_err(|e| {
                DirectoryError::Sealing(format!("operator {}'s TOTP secret: {e}", operator.email))
            })?;
        match totp::matching_step(&secret, code, self.unix_now())? {
            Some(step) => Ok(self.store.use_totp_step(&operator.id, step).await?),
            None => Ok(false),
        }
    }

    /// Turns two-step sign-in off, with a current code; `false` (and nothing changed) when
    /// the code is not right.
    pub async fn disable_totp(
        &self,
        operator: &Operator,
        code: &str,
    ) -> Result<bool, DirectoryError> {
        if !self.check_totp(operator, code).await? {
            return Ok(false);
        }
        self.store.set_operator_totp(&operator.id, None).await?;
        Ok(true)
    }

    /// Signs an operator in with an e-mail, a password and, when the operator has turned
    /// two-step sign-in on, a code.
    pub async fn sign_in(
        &self,
        address: &str,
        pass: &str,
        code: &str,
    ) -> Result<SignIn, DirectoryError> {
        let Some(operator) = self.password_matches(address, pass).await? else {
            return Ok(SignIn::Refused);
        };
        if operator.totp_sealed.is_none() {
            return Ok(SignIn::Operator(operator));
        }
        if code.trim().is_empty() {
            return Ok(SignIn::CodeNeeded);
        }
        Ok(if self.check_totp(&operator, code).await? {
            SignIn::Operator(operator)
        } else {
            SignIn::Refused
        })
    }

    /// Turns an operator's two-step sign-in off without a code (`roster operator
    /// reset-two-step`: a lost phone, recovered by whoever runs the database's machine).
    pub async fn reset_totp(&self, address: &str) -> Result<(), DirectoryError> {
        let found = self
            .store
            .operator_by_email(&crate::console::email(address)?)
            .await?;
        let operator = found.ok_or_else(|| DirectoryError::NotFound {
            kind: "Operator",
            id: address.to_owned(),
        })?;
        self.store.set_operator_totp(&operator.id, None).await?;
        Ok(())
    }

    /// Seals every operator's TOTP secret again with the current key (part of
    /// [`Directory::reseal`]); how many.
    pub(crate) async fn reseal_totp(&self, ring: &Keyring) -> Result<usize, DirectoryError> {
        let sealed = self.store.sealed_operator_totps().await?;
        for (id, value) in &sealed {
            let context = totp_context(id);
            let clear = ring.open(&context, value).map_err(|e| {
                DirectoryError::Sealing(format!(
                    "operator {id}'s TOTP secret cannot be opened ({e}); give the old key after \
                     the new one (ROSTER_SECRET_KEY=NEW,OLD)"
                ))
            })?;
            let again = ring.seal(self.secrets.as_ref(), &context, &clear);
            self.store.set_operator_totp(id, Some(&again)).await?;
        }
        Ok(sealed.len())
    }
}
