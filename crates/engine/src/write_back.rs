//! Write-back: a value the target assigns to a user (its id, or an attribute such as an
//! immutable id) kept on the source user, in one of the tenant's extra user attributes, so
//! that SSO matching and other targets can use it. Written when the source has none; when
//! the target later reports another value, the stored one is kept and the difference is a
//! warning in the provisioning log, never a silent overwrite.

use roster_directory::settings::TENANT_USER_EXTENSION;
use roster_directory::{DirectoryError, WriteOptions};
use roster_store::{Kind, StoredResource};
use serde_json::{Value as Json, json};

use crate::object::{Context, Done, SyncError};

/// The value of `path` in a SCIM object: `id`, `a.b`, or `urn:…:attr` (an extension's).
pub(crate) fn read(object: &Json, path: &str) -> Option<String> {
    let value = if path.starts_with("urn:") {
        let (urn, attr) = path.rsplit_once(':')?;
        object.get(urn)?.get(attr)?
    } else {
        path.split('.').try_fold(object, |v, part| v.get(part))?
    };
    match value {
        Json::String(s) if !s.is_empty() => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Context<'_> {
    /// Keeps what the target `reported` of `user` as the target's write-back settings say.
    pub(crate) async fn write_back(
        &self,
        user: &StoredResource,
        reported: &Json,
        done: &mut Done,
    ) -> Result<(), SyncError> {
        for wb in &self.target.settings.write_back {
            let Some(value) = read(reported, &wb.from) else {
                continue;
            };
            let stored = user
                .data
                .get(TENANT_USER_EXTENSION)
                .and_then(|e| e.get(&wb.to))
                .and_then(Json::as_str);
            match stored {
                Some(s) if s == value => {}
                Some(s) => {
                    let warning = format!(
                        "the target reports {} \"{value}\", but {} holds \"{s}\": the stored \
                         value is kept",
                        wb.from, wb.to
                    );
                    done.steps.push(warning.clone());
                    done.warning = Some(warning);
                }
                None => {
                    let patch = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{
                            "op": "add",
                            "path": format!("{TENANT_USER_EXTENSION}:{}", wb.to),
                            "value": value,
                        }],
                    });
                    let mut applied = Vec::new();
                    match self
                        .directory
                        .patch(
                            self.tenant,
                            Kind::User,
                            &user.id,
                            &patch,
                            WriteOptions::default(),
                            &mut applied,
                        )
                        .await
                    {
                        Ok(_) => done
                            .steps
                            .push(format!("wrote back {} \"{value}\" into {}", wb.from, wb.to)),
                        // Deleted meanwhile, or the attribute no longer defined: said, not fatal.
                        Err(e @ (DirectoryError::NotFound { .. } | DirectoryError::Scim(_))) => {
                            let warning = format!("could not write back {}: {e}", wb.from);
                            done.steps.push(warning.clone());
                            done.warning = Some(warning);
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ids_attributes_and_extension_attributes() {
        let o = json!({"id": "t-1", "name": {"givenName": "Ada"}, "n": 7,
            "urn:example:2.0:User": {"immutableId": "QUJD"}});
        assert_eq!(read(&o, "id").as_deref(), Some("t-1"));
        assert_eq!(read(&o, "name.givenName").as_deref(), Some("Ada"));
        assert_eq!(read(&o, "n").as_deref(), Some("7"));
        assert_eq!(
            read(&o, "urn:example:2.0:User:immutableId").as_deref(),
            Some("QUJD")
        );
        assert_eq!(read(&o, "missing"), None);
        assert_eq!(read(&json!({"id": ""}), "id"), None);
    }
}
