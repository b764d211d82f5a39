//! Typed comparison of attribute values, shared by the filter evaluator and sorting: strings
//! honour `caseExact`, dateTimes compare as instants, numbers as numbers.

use std::cmp::Ordering;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

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

/// Folds a string for every case-insensitive (`caseExact: false`) comparison: the key by which
/// names are unique and looked up, and what filters compare. It is a Unicode compatibility
/// fold: NFKC (so NFC and NFD spellings, full-width letters, ligatures such as `ﬁ` and the
/// no-break space become one form), then lowercase character by character, then NFKC again
/// (lowercasing can leave a string that is no longer normalised). The lowercase is
/// `char::to_lowercase`, not `str::to_lowercase`, because the latter turns a word-final `Σ`
/// into `ς`, which would make the key of a name depend on its neighbouring letters. ASCII text
/// is folded by ASCII lowercase alone, which gives the same result.
///
/// Storage keys built with it and the filter evaluator agree because both use this one
/// function; [`FOLD_VERSION`] names it so that stores can tell keys folded otherwise.
pub fn fold_case(s: &str) -> String {
    if s.is_ascii() {
        return s.to_ascii_lowercase();
    }
    let lowered: String = s.nfkc().flat_map(char::to_lowercase).collect();
    if is_nfkc_quick(lowered.chars()) == IsNormalized::Yes {
        lowered
    } else {
        lowered.nfkc().collect()
    }
}

/// The version of [`fold_case`]. Stores keep the version their keys were folded with and
/// fold them again when it is older: 1 was simple lowercase alone, 2 the compatibility fold.
pub const FOLD_VERSION: i64 = 2;

/// Case-insensitive ordering: the order of the strings' [`fold_case`] keys (by code point, which
/// is also the byte order of their UTF-8). ASCII strings are compared without allocating.
pub fn cmp_ignore_case(x: &str, y: &str) -> Ordering {
    if x.is_ascii() && y.is_ascii() {
        return x
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(y.bytes().map(|b| b.to_ascii_lowercase()));
    }
    fold_case(x).cmp(&fold_case(y))
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

    #[test]
    fn look_alike_spellings_fold_to_one_key() {
        let same = [
            ("jos\u{e9}", "jose\u{301}"),                 // NFC and NFD
            ("JOS\u{c9}", "jose\u{301}"),                 // and case
            ("\u{ff2a}\u{ff4f}\u{ff53}\u{ff45}", "jose"), // full-width letters
            ("\u{fb01}nn", "finn"),                       // the fi ligature
            ("\u{fb01}nn", "FINN"),
            ("ada\u{a0}lovelace", "ada lovelace"), // no-break space
            ("\u{2122}", "tm"),                    // compatibility forms fold before case
            ("\u{212a}elvin", "kelvin"),           // the Kelvin sign
            ("\u{3a3}\u{391}\u{3a3}", "\u{3c3}\u{3b1}\u{3c3}"), // a final capital sigma stays sigma
        ];
        for (a, b) in same {
            assert_eq!(fold_case(a), fold_case(b), "{a:?} vs {b:?}");
            assert_eq!(cmp_ignore_case(a, b), Ordering::Equal, "{a:?} vs {b:?}");
        }
        let different = [
            ("\u{430}da", "ada"), // Cyrillic a and Latin a: different scripts, different names
            ("stra\u{df}e", "strasse"), // sharp s is not ss (simple lowercase, no full case folding)
            ("ada lovelace", "adalovelace"), // internal spaces count
        ];
        for (a, b) in different {
            assert_ne!(fold_case(a), fold_case(b), "{a:?} vs {b:?}");
            assert_ne!(cmp_ignore_case(a, b), Ordering::Equal, "{a:?} vs {b:?}");
        }
        assert_eq!(fold_case("Ada@Example.COM"), "ada@example.com");
    }

    #[test]
    fn case_insensitive_order_is_the_order_of_the_keys() {
        let words = [
            "ada",
            "Ada",
            "\u{e9}mile",
            "Emile",
            "e\u{301}mile",
            "zo\u{eb}",
            "\u{ff3a}oe",
            "\u{fb01}",
            "fj",
            "FH",
            "\u{3a3}",
            "\u{430}",
            "",
        ];
        for a in words {
            for b in words {
                assert_eq!(
                    cmp_ignore_case(a, b),
                    fold_case(a).cmp(&fold_case(b)),
                    "{a:?} vs {b:?}"
                );
            }
        }
    }

    #[test]
    fn folding_twice_changes_nothing() {
        // Keys are folded from the stored value, never from an older key, but a filter's
        // literal may itself be a key someone read back; it must find the same rows.
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let once = fold_case(c.encode_utf8(&mut [0; 4]));
            assert_eq!(fold_case(&once), once, "U+{:04X}", u32::from(c));
        }
    }
}
