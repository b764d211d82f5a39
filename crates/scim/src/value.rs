//! Typed comparison of attribute values, shared by the filter evaluator and sorting: strings
//! honour `caseExact`, dateTimes compare as instants, numbers as numbers.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::schema::{Attribute, AttributeType};

/// Parses an `xsd:dateTime` as SCIM clients send it: RFC 3339 with any number of fraction
/// digits (`0001-01-03T00:00:00.0000000Z`) and any offset; a missing offset means UTC.
pub fn parse_datetime(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t);
    }
    // xsd:dateTime allows a value without a zone; read it as UTC.
    let has_zone = s.ends_with(['Z', 'z'])
        || s.get(s.len().saturating_sub(6)..).is_some_and(|tail| {
            tail.starts_with(['+', '-']) && tail.as_bytes().get(3) == Some(&b':')
        });
    if !has_zone {
        let mut with_zone = String::with_capacity(s.len() + 1);
        with_zone.push_str(s);
        with_zone.push('Z');
        return OffsetDateTime::parse(&with_zone, &Rfc3339).ok();
    }
    None
}

/// Formats an instant as SCIM returns it: RFC 3339 in UTC.
pub fn format_datetime(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .expect("every UTC instant formats as RFC 3339")
}

/// Compares two values of the attribute `attr` (a singular value each, not arrays).
/// Returns `None` when they are not comparable (different JSON types, unparsable dateTimes,
/// booleans, complex values).
pub fn compare(attr: &Attribute, a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Some(compare_str(attr, x, y)),
        (Value::Number(x), Value::Number(y)) => compare_numbers(x, y),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Compares two strings of attribute `attr`: dateTimes as instants, case-insensitive unless
/// the attribute is caseExact.
pub fn compare_str(attr: &Attribute, x: &str, y: &str) -> Ordering {
    if attr.ty == AttributeType::DateTime
        && let (Some(tx), Some(ty)) = (parse_datetime(x), parse_datetime(y))
    {
        return tx.cmp(&ty);
    }
    if attr.case_exact {
        x.cmp(y)
    } else {
        cmp_ignore_case(x, y)
    }
}

/// Folds a string for case-insensitive comparison exactly as [`cmp_ignore_case`] compares:
/// character by character, so that storage keys built with it agree with the evaluator
/// (`str::to_lowercase` would turn a word-final `Σ` into `ς`, which `char::to_lowercase` does
/// not).
pub fn fold_case(s: &str) -> String {
    s.chars().flat_map(char::to_lowercase).collect()
}

/// Case-insensitive ordering without allocating (Unicode simple lowercase).
pub fn cmp_ignore_case(x: &str, y: &str) -> Ordering {
    x.chars()
        .flat_map(char::to_lowercase)
        .cmp(y.chars().flat_map(char::to_lowercase))
}

fn compare_numbers(x: &serde_json::Number, y: &serde_json::Number) -> Option<Ordering> {
    match (x.as_i64(), y.as_i64()) {
        (Some(a), Some(b)) => Some(a.cmp(&b)),
        _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
    }
}

/// Whether two values of attribute `attr` are equal under its comparison rules.
pub fn equals(attr: &Attribute, a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Object(_), _)
        | (_, Value::Object(_))
        | (Value::Array(_), _)
        | (_, Value::Array(_)) => a == b,
        _ => compare(attr, a, b) == Some(Ordering::Equal),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn datetimes_compare_as_instants() {
        let at = Attribute::new("created", AttributeType::DateTime);
        let cases = [
            (
                "2011-05-13T04:42:34Z",
                "2011-05-13T04:42:34.000Z",
                Ordering::Equal,
            ),
            (
                "2011-05-13T04:42:34Z",
                "2011-05-13T06:42:34+02:00",
                Ordering::Equal,
            ),
            (
                "2011-05-13T04:42:34Z",
                "2011-05-13T04:42:34",
                Ordering::Equal,
            ),
            (
                "0001-01-03T00:00:00.0000000Z",
                "2011-05-13T04:42:34Z",
                Ordering::Less,
            ),
            (
                "2011-05-13T04:42:34.5Z",
                "2011-05-13T04:42:34.4999999Z",
                Ordering::Greater,
            ),
        ];
        for (a, b, want) in cases {
            assert_eq!(compare(&at, &json!(a), &json!(b)), Some(want), "{a} vs {b}");
        }
        assert!(parse_datetime("not a date").is_none());
        assert!(parse_datetime("0001-01-03T00:00:00.0000000Z").is_some());
    }

    #[test]
    fn strings_honour_case_exact() {
        let loose = Attribute::string("userName");
        let exact = Attribute::string("id").case_exact();
        assert!(equals(
            &loose,
            &json!("Ada@Contoso.com"),
            &json!("ada@contoso.com")
        ));
        assert!(!equals(&exact, &json!("ABC"), &json!("abc")));
        assert_eq!(compare(&loose, &json!(1), &json!("1")), None);
        assert!(equals(&loose, &json!(2), &json!(2.0)));
    }
}
