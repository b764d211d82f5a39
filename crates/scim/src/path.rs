//! Attribute paths (`attrPath` of RFC 7644 §3.10): an optional schema URN, an attribute name
//! and an optional sub-attribute, as used in filters, PATCH paths, `attributes`, and `sortBy`.

use std::fmt;

/// `[schema URN ":"] attribute ["." subAttribute]`, names as the client spelled them.
/// Resolution against a schema ([`crate::schema::ResourceSchema::resolve`]) gives canonical
/// names and characteristics.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    /// The schema URN prefix, if the path has one.
    pub schema: Option<String>,
    /// The attribute name.
    pub attribute: String,
    /// The sub-attribute name, if any.
    pub sub_attribute: Option<String>,
}

/// A malformed attribute path, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid attribute path {input:?} at position {position}: {reason}")]
pub struct PathError {
    /// The path as given.
    pub input: String,
    /// Byte offset of the problem.
    pub position: usize,
    /// What is wrong.
    pub reason: &'static str,
}

/// Whether `c` may start an attribute name (RFC 7643 §2.1 `ATTRNAME`; `$ref` is allowed).
pub fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '$'
}

/// Whether `c` may continue an attribute name.
pub fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$')
}

fn check_name(input: &str, name: &str, offset: usize) -> Result<(), PathError> {
    let err = |position, reason| PathError {
        input: input.to_owned(),
        position,
        reason,
    };
    let mut chars = name.char_indices();
    match chars.next() {
        None => return Err(err(offset, "an attribute name is missing")),
        Some((_, c)) if !is_name_start(c) => {
            return Err(err(offset, "an attribute name must start with a letter"));
        }
        Some(_) => {}
    }
    for (i, c) in chars {
        if !is_name_char(c) {
            return Err(err(
                offset + i,
                "an attribute name holds only letters, digits, '-', '_' and '$'",
            ));
        }
    }
    Ok(())
}

impl AttrPath {
    /// A path to a top-level attribute without a schema prefix.
    pub fn simple(attribute: &str) -> Self {
        AttrPath {
            schema: None,
            attribute: attribute.to_owned(),
            sub_attribute: None,
        }
    }

    /// A path to a sub-attribute without a schema prefix.
    pub fn sub(attribute: &str, sub_attribute: &str) -> Self {
        AttrPath {
            schema: None,
            attribute: attribute.to_owned(),
            sub_attribute: Some(sub_attribute.to_owned()),
        }
    }

    /// Parses `[URN ":"] name ["." sub]`. The URN is everything up to the last `:` (attribute
    /// names never hold one, while URNs hold dots, as in `2.0`).
    pub fn parse(input: &str) -> Result<Self, PathError> {
        let (schema, rest, offset) = match input.rfind(':') {
            Some(i) => {
                if !input[..i].to_ascii_lowercase().starts_with("urn:") {
                    return Err(PathError {
                        input: input.to_owned(),
                        position: 0,
                        reason: "a schema prefix must be a URN starting with \"urn:\"",
                    });
                }
                (Some(input[..i].to_owned()), &input[i + 1..], i + 1)
            }
            None => (None, input, 0),
        };
        let (attribute, sub_attribute) = match rest.split_once('.') {
            Some((a, s)) => {
                check_name(input, a, offset)?;
                check_name(input, s, offset + a.len() + 1)?;
                (a.to_owned(), Some(s.to_owned()))
            }
            None => {
                check_name(input, rest, offset)?;
                (rest.to_owned(), None)
            }
        };
        Ok(AttrPath {
            schema,
            attribute,
            sub_attribute,
        })
    }
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.attribute)?;
        if let Some(s) = &self.sub_attribute {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_paths() {
        let cases = [
            ("userName", "userName"),
            ("name.givenName", "name.givenName"),
            ("emails.value", "emails.value"),
            ("members.$ref", "members.$ref"),
            (
                "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
                "urn:ietf:params:scim:schemas:core:2.0:User:name.familyName",
            ),
            (
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            ),
        ];
        for (input, printed) in cases {
            let p = AttrPath::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.to_string(), printed);
        }
        let enterprise = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(
            enterprise.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(enterprise.attribute, "manager");
        assert_eq!(enterprise.sub_attribute.as_deref(), Some("value"));
    }

    #[test]
    fn rejects_bad_paths_with_a_position() {
        let cases = [
            ("", 0),
            ("1abc", 0),
            ("name.", 5),
            ("name..x", 5),
            ("na me", 2),
            ("http://x:y", 0),
            ("a.b.c", 3),
        ];
        for (input, position) in cases {
            let e = AttrPath::parse(input).expect_err(input);
            assert_eq!(e.position, position, "{input}: {e}");
        }
    }
}
