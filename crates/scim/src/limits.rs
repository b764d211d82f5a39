//! What one stored resource may hold: values per multi-valued attribute and bytes in all.
//!
//! A request body is already bounded (the server's body limit), but a resource grows by PATCH
//! after PATCH, and every list page and every read pays for what it holds. These bounds keep
//! the cost of one resource, and so of one page, known. A group's `members` are not counted:
//! they are rows of their own, read only when asked for, and a group of 100,000 members is
//! ordinary.

use serde_json::Value;

use crate::Error;

/// The bounds of one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimits {
    /// The most values of one multi-valued attribute (`emails`, `roles`, an extension's list).
    pub max_values: usize,
    /// The most bytes of a resource's JSON, as stored (without `id`, `meta`, a group's
    /// `members` and a user's `groups`).
    pub max_bytes: usize,
}

impl ResourceLimits {
    /// 100 values per multi-valued attribute (identity providers send a handful of e-mails,
    /// phone numbers or roles; Entra's largest, app role assignments, stays far below), and
    /// 64 KiB per resource (a typical user is under 1 KiB).
    pub const DEFAULT: ResourceLimits = ResourceLimits {
        max_values: 100,
        max_bytes: 64 * 1024,
    };
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits::DEFAULT
    }
}

/// The most bytes of an indexed value (`externalId`, an e-mail address): PostgreSQL cannot
/// index a key of more than about 2,700 bytes, and no identity provider sends one near this.
pub const MAX_INDEXED_BYTES: usize = 1024;

/// Refuses a resource that holds more than `limits` allow, naming the attribute and the limit.
/// `data` is the resource as it would be stored; a Group's `members` key is skipped.
/// `before` is the stored resource a replace or PATCH starts from: what it already held is
/// not refused again (a resource stored before the limits can still be deactivated), only a
/// change that makes an attribute, or the whole, too large.
pub fn check(data: &Value, before: Option<&Value>, limits: &ResourceLimits) -> Result<(), Error> {
    if let Some(obj) = data.as_object() {
        for (key, value) in obj {
            if key == "members" || before.and_then(|b| b.get(key)) == Some(value) {
                continue;
            }
            check_values(key, value, limits)?;
        }
        check_indexed(obj)?;
    }
    let bytes = json_len(data);
    if bytes > limits.max_bytes && before.is_none_or(|b| bytes > json_len(b)) {
        return Err(Error::invalid_value(
            "",
            format!(
                "the resource is {bytes} bytes of JSON; at most {} bytes are accepted per \
                 resource",
                limits.max_bytes
            ),
        ));
    }
    Ok(())
}

/// Refuses an `externalId` or an e-mail address longer than [`MAX_INDEXED_BYTES`].
fn check_indexed(obj: &serde_json::Map<String, Value>) -> Result<(), Error> {
    let too_long = |path: &str, value: &str| {
        (value.len() > MAX_INDEXED_BYTES).then(|| {
            Error::invalid_value(
                path,
                format!(
                    "{} bytes were given; at most {MAX_INDEXED_BYTES} are accepted",
                    value.len()
                ),
            )
        })
    };
    if let Some(e) = obj
        .get("externalId")
        .and_then(Value::as_str)
        .and_then(|v| too_long("externalId", v))
    {
        return Err(e);
    }
    for email in obj
        .get("emails")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(e) = email
            .get("value")
            .and_then(Value::as_str)
            .and_then(|v| too_long("emails.value", v))
        {
            return Err(e);
        }
    }
    Ok(())
}

/// Checks every array under `path` (an extension's object holds attributes of its own).
fn check_values(path: &str, value: &Value, limits: &ResourceLimits) -> Result<(), Error> {
    match value {
        Value::Array(items) => {
            if items.len() > limits.max_values {
                return Err(Error::invalid_value(
                    path,
                    format!(
                        "{} values were given; at most {} are accepted per multi-valued \
                         attribute",
                        items.len(),
                        limits.max_values
                    ),
                ));
            }
            for item in items {
                check_values(path, item, limits)?;
            }
            Ok(())
        }
        Value::Object(obj) => {
            for (key, v) in obj {
                check_values(&format!("{path}.{key}"), v, limits)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// The length of `value`'s compact JSON, without building it.
pub fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SMALL: ResourceLimits = ResourceLimits {
        max_values: 3,
        max_bytes: 200,
    };

    #[test]
    fn a_resource_within_the_limits_passes() {
        let user = json!({"userName": "ada", "emails": [{"value": "a@x"}, {"value": "b@x"}]});
        assert!(check(&user, None, &SMALL).is_ok());
    }

    #[test]
    fn too_many_values_name_the_attribute_and_the_limit() {
        let user = json!({"userName": "ada", "emails": [1, 2, 3, 4]});
        let e = check(&user, None, &SMALL).unwrap_err().to_string();
        assert!(e.starts_with("emails:"), "{e}");
        assert!(e.contains("4 values") && e.contains("at most 3"), "{e}");
    }

    #[test]
    fn lists_inside_an_extension_are_bounded_too() {
        let user = json!({"urn:x:ext": {"tags": ["a", "b", "c", "d"]}});
        let e = check(&user, None, &SMALL).unwrap_err().to_string();
        assert!(e.starts_with("urn:x:ext.tags:"), "{e}");
    }

    #[test]
    fn a_groups_members_are_not_counted() {
        let group = json!({"displayName": "g", "members": [1, 2, 3, 4, 5, 6]});
        assert!(check(&group, None, &SMALL).is_ok());
    }

    #[test]
    fn too_many_bytes_name_the_limit() {
        let user = json!({"userName": "x".repeat(300)});
        let e = check(&user, None, &SMALL).unwrap_err().to_string();
        assert!(e.contains("at most 200 bytes"), "{e}");
    }

    #[test]
    fn what_was_stored_before_the_limits_is_not_refused_again() {
        let stored = json!({"userName": "ada", "active": true, "emails": [1, 2, 3, 4, 5]});
        let deactivated = json!({"userName": "ada", "active": false, "emails": [1, 2, 3, 4, 5]});
        assert!(check(&deactivated, Some(&stored), &SMALL.with_bytes(1000)).is_ok());
        let grown = json!({"userName": "ada", "active": true, "emails": [1, 2, 3, 4, 5, 6]});
        assert!(check(&grown, Some(&stored), &SMALL.with_bytes(1000)).is_err());
        let big = json!({"userName": "x".repeat(300)});
        let smaller = json!({"userName": "x".repeat(250)});
        assert!(
            check(&smaller, Some(&big), &SMALL).is_ok(),
            "shrinking is allowed"
        );
    }

    #[test]
    fn indexed_values_are_bounded() {
        let long = "x".repeat(MAX_INDEXED_BYTES + 1);
        let e = check(&json!({"externalId": long}), None, &ResourceLimits::DEFAULT)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("externalId:"), "{e}");
        let e = check(
            &json!({"emails": [{"value": long}]}),
            None,
            &ResourceLimits::DEFAULT,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("emails.value:"), "{e}");
    }

    impl ResourceLimits {
        fn with_bytes(self, max_bytes: usize) -> Self {
            ResourceLimits { max_bytes, ..self }
        }
    }

    #[test]
    fn json_len_is_the_compact_length() {
        let v = json!({"a": [1, "é", null], "b": {"c": true}});
        assert_eq!(json_len(&v), serde_json::to_string(&v).unwrap().len());
    }
}
