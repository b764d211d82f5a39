//! Passwords that identity providers send (Okta's "sync password"): kept only as argon2id
//! hashes in PHC form, never returned (the attribute is `returned: never`), replaced on change.

use argon2::password_hash::{PasswordHasher, SaltString};
use serde_json::Value;

use crate::DirectoryError;

/// Hashes a password with argon2id (the `argon2` crate's defaults: 19 MiB, 2 passes), off the
/// async workers since it takes tens of milliseconds by design.
async fn hash(password: String, salt: [u8; 16]) -> Result<String, DirectoryError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&salt)
            .map_err(|e| DirectoryError::Internal(format!("salt: {e}")))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| DirectoryError::Internal(format!("hashing a password: {e}")))
    })
    .await
    .map_err(|e| DirectoryError::Internal(format!("hashing task: {e}")))?
}

/// An operator's password hashed with argon2id (PHC form), off the async workers.
pub async fn hash_password(password: &str, salt: [u8; 16]) -> Result<String, DirectoryError> {
    hash(password.to_owned(), salt).await
}

/// Whether `password` matches the argon2id `phc` hash, checked off the async workers.
pub async fn verify_password(password: &str, phc: &str) -> Result<bool, DirectoryError> {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let parsed = PasswordHash::new(&phc)
            .map_err(|e| DirectoryError::Internal(format!("a stored password hash: {e}")))?;
        Ok(argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(|e| DirectoryError::Internal(format!("checking a password: {e}")))?
}

/// Makes `data`'s password (if any) a hash: a cleartext value is hashed; the stored hash
/// `previous` is kept when the client sent the same value back or no password at all on a
/// replace (`keep_when_absent`), since a client cannot read a password to repeat it.
pub async fn secure(
    data: &mut Value,
    previous: Option<&str>,
    keep_when_absent: bool,
    salt: [u8; 16],
) -> Result<(), DirectoryError> {
    let Some(obj) = data.as_object_mut() else {
        return Ok(());
    };
    match obj.get("password").and_then(Value::as_str) {
        None => {
            if let (true, Some(p)) = (keep_when_absent, previous) {
                obj.insert("password".into(), Value::String(p.to_owned()));
            }
        }
        Some(given) if Some(given) == previous => {}
        Some(given) => {
            let hashed = hash(given.to_owned(), salt).await?;
            obj.insert("password".into(), Value::String(hashed));
        }
    }
    Ok(())
}

/// The stored password hash of a resource's data, if any.
pub fn stored(data: &Value) -> Option<&str> {
    data.get("password").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    use serde_json::json;

    #[tokio::test]
    async fn passwords_are_hashed_kept_and_replaced() {
        let mut data = json!({"userName": "a", "password": "t0psecret!"});
        secure(&mut data, None, false, [7; 16]).await.unwrap();
        let first = stored(&data).unwrap().to_owned();
        assert!(first.starts_with("$argon2id$"), "{first}");
        let parsed = PasswordHash::new(&first).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"t0psecret!", &parsed)
                .is_ok()
        );

        // A replace without a password keeps the hash; the same hash sent back is kept.
        let mut replaced = json!({"userName": "a"});
        secure(&mut replaced, Some(&first), true, [8; 16])
            .await
            .unwrap();
        assert_eq!(stored(&replaced), Some(first.as_str()));

        // A new password replaces it.
        let mut changed = json!({"userName": "a", "password": "n3w-secret"});
        secure(&mut changed, Some(&first), true, [9; 16])
            .await
            .unwrap();
        let second = stored(&changed).unwrap();
        assert_ne!(second, first);
        let parsed = PasswordHash::new(second).unwrap();
        assert!(
            argon2::Argon2::default()
                .verify_password(b"n3w-secret", &parsed)
                .is_ok()
        );
    }
}
