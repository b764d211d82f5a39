//! What a name (a User's `userName`, a Group's `displayName`) may be: the characters and the
//! length Roster refuses, so that two names that look alike are either one name (the fold of
//! [`crate::value::fold_case`]) or cannot be created at all.
//!
//! RFC 8265's UsernameCaseMapped profile is the model: it maps width and case and refuses
//! control characters, invisible formatting characters and white space at the ends. Roster is
//! more lenient where identity providers send such names in practice (internal spaces,
//! symbols, letters of any script are allowed) and refuses only what no one can see or type:
//!
//! - control characters (general category Cc: NUL, tab, newline, DEL, C1 controls);
//! - format characters (Cf: zero-width space and joiners, bidirectional marks and overrides,
//!   the byte order mark, the soft hyphen, the word joiner, invisible operators, tags);
//! - line and paragraph separators (Zl, Zp) and noncharacters (U+FDD0..U+FDEF and the last two
//!   code points of every plane);
//! - white space (the Unicode White_Space property, no-break spaces included) at either end,
//!   and a name of nothing but white space;
//! - more than [`MAX_NAME_CHARS`] characters.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::Error;

/// The longest name accepted, in characters (Unicode code points). Generous for any
/// e-mail-like userName (RFC 5321 allows 254 octets for an address) and short enough that a
/// name key stays a small index entry.
pub const MAX_NAME_CHARS: usize = 256;

/// Checks the name `name` of the attribute `path` (`userName`, `displayName`), returning the
/// `invalidValue` error that names the attribute, the reason and the first offending
/// character with its position (counted in characters from 1).
pub fn check_name(path: &str, name: &str) -> Result<(), Error> {
    let count = name.chars().count();
    if count > MAX_NAME_CHARS {
        return Err(Error::invalid_value(
            path,
            format!("must be at most {MAX_NAME_CHARS} characters long (it has {count})"),
        ));
    }
    let mut previous = None;
    for (i, c) in name.chars().enumerate() {
        let what = match c.general_category() {
            GeneralCategory::Control => "control characters",
            GeneralCategory::Format => "invisible formatting characters",
            GeneralCategory::LineSeparator | GeneralCategory::ParagraphSeparator => {
                "line or paragraph separators"
            }
            _ if is_noncharacter(c) => "noncharacters",
            _ if is_invisible(c, previous) => "invisible characters",
            _ => {
                previous = Some(c);
                continue;
            }
        };
        return Err(Error::invalid_value(
            path,
            format!(
                "must not contain {what} ({} at position {})",
                code(c),
                i + 1
            ),
        ));
    }
    if name.chars().all(char::is_whitespace) {
        return Err(Error::invalid_value(
            path,
            "must not be empty or only white space",
        ));
    }
    let mut chars = name.chars();
    if let Some(c) = chars.next().filter(|c| c.is_whitespace()) {
        return Err(Error::invalid_value(
            path,
            format!(
                "must not begin with white space ({} at position 1)",
                code(c)
            ),
        ));
    }
    if let Some(c) = chars.next_back().filter(|c| c.is_whitespace()) {
        return Err(Error::invalid_value(
            path,
            format!(
                "must not end with white space ({} at position {count})",
                code(c)
            ),
        ));
    }
    let key = crate::value::fold_case(name).len();
    if key > MAX_NAME_KEY_BYTES {
        return Err(Error::invalid_value(
            path,
            format!(
                "is {key} bytes long once normalised (compatibility forms expand); at most \
                 {MAX_NAME_KEY_BYTES} are accepted"
            ),
        ));
    }
    Ok(())
}

/// The most bytes of a name's folded key (compatibility forms can expand one character to
/// eighteen): the key is indexed, and PostgreSQL cannot index a key of more than about 2,700
/// bytes.
pub const MAX_NAME_KEY_BYTES: usize = 1024;

/// Invisible characters that are not format characters: the rest of Unicode's
/// Default_Ignorable_Code_Point (the combining grapheme joiner, Hangul fillers, Mongolian
/// variation selectors, variation selectors, tag and reserved ranges) and the blank Braille
/// pattern. A variation selector after a symbol (an emoji's presentation, `⭐️`) is kept.
fn is_invisible(c: char, previous: Option<char>) -> bool {
    let u = u32::from(c);
    let selector = (0xFE00..=0xFE0F).contains(&u) || (0xE0100..=0xE01EF).contains(&u);
    if selector {
        return previous.is_none_or(|p| p.general_category() != GeneralCategory::OtherSymbol);
    }
    matches!(
        u,
        0x034F
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x2065
            | 0x2800
            | 0x3164
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0xE0000..=0xE0FFF
    )
}

/// `U+200D`.
fn code(c: char) -> String {
    format!("U+{:04X}", u32::from(c))
}

/// The 66 noncharacters of Unicode (§23.7): never meant for interchange.
fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(name: &str) -> Option<String> {
        check_name("userName", name).err().map(|e| e.to_string())
    }

    #[test]
    fn invisible_characters_beyond_format_ones_are_refused() {
        for bad in [
            "ada\u{3164}",
            "ada\u{FE0F}",
            "ada\u{34F}",
            "ada\u{2800}",
            "\u{115F}ada",
            "ada\u{FFA0}",
            "ada\u{180B}",
        ] {
            let r = reason(bad).unwrap_or_default();
            assert!(r.contains("invisible"), "{bad:?}: {r}");
        }
        assert_eq!(
            reason("Launch \u{2B50}\u{FE0F} team"),
            None,
            "an emoji's presentation"
        );
        let expanding = "\u{FDFA}".repeat(100);
        let r = reason(&expanding).unwrap_or_default();
        assert!(r.contains("once normalised"), "{r}");
    }

    #[test]
    fn names_people_use_are_accepted() {
        for ok in [
            "ada",
            "Ada Lovelace",
            "josé@example.com",
            "jose\u{301}",
            "Ｊｏｓｅ",
            "ﬁnn",
            "a\u{a0}b",
            "Ελένη",
            "Дмитрий",
            "山田太郎",
            "o'brien+tag@x.io",
            "a",
            &"x".repeat(MAX_NAME_CHARS),
        ] {
            assert_eq!(reason(ok), None, "{ok:?}");
        }
    }

    #[test]
    fn invisible_and_control_characters_are_refused_with_their_position() {
        let cases = [
            (
                "jos\u{200d}e",
                "must not contain invisible formatting characters (U+200D at position 4)",
            ),
            (
                "jo\u{200b}se",
                "must not contain invisible formatting characters (U+200B at position 3)",
            ),
            (
                "\u{200f}ada",
                "must not contain invisible formatting characters (U+200F at position 1)",
            ),
            (
                "ada\u{202e}",
                "must not contain invisible formatting characters (U+202E at position 4)",
            ),
            (
                "\u{feff}ada",
                "must not contain invisible formatting characters (U+FEFF at position 1)",
            ),
            (
                "a\u{ad}da",
                "must not contain invisible formatting characters (U+00AD at position 2)",
            ),
            (
                "a\u{2060}da",
                "must not contain invisible formatting characters (U+2060 at position 2)",
            ),
            (
                "ada\0",
                "must not contain control characters (U+0000 at position 4)",
            ),
            (
                "ada\n",
                "must not contain control characters (U+000A at position 4)",
            ),
            (
                "a\tda",
                "must not contain control characters (U+0009 at position 2)",
            ),
            (
                "a\u{7f}",
                "must not contain control characters (U+007F at position 2)",
            ),
            (
                "a\u{85}",
                "must not contain control characters (U+0085 at position 2)",
            ),
            (
                "a\u{2028}b",
                "must not contain line or paragraph separators (U+2028 at position 2)",
            ),
            (
                "a\u{fffe}",
                "must not contain noncharacters (U+FFFE at position 2)",
            ),
            (
                "a\u{fdd0}",
                "must not contain noncharacters (U+FDD0 at position 2)",
            ),
        ];
        for (name, want) in cases {
            assert_eq!(reason(name), Some(format!("userName: {want}")), "{name:?}");
        }
    }

    #[test]
    fn white_space_at_the_ends_or_alone_is_refused() {
        let cases = [
            (
                " ada",
                "must not begin with white space (U+0020 at position 1)",
            ),
            (
                "ada ",
                "must not end with white space (U+0020 at position 4)",
            ),
            (
                "\u{a0}ada",
                "must not begin with white space (U+00A0 at position 1)",
            ),
            (
                "ada\u{3000}",
                "must not end with white space (U+3000 at position 4)",
            ),
            ("   ", "must not be empty or only white space"),
            ("\u{a0}", "must not be empty or only white space"),
            ("", "must not be empty or only white space"),
        ];
        for (name, want) in cases {
            assert_eq!(reason(name), Some(format!("userName: {want}")), "{name:?}");
        }
    }

    #[test]
    fn long_names_are_refused() {
        let long = "x".repeat(100_000);
        assert_eq!(
            reason(&long),
            Some("userName: must be at most 256 characters long (it has 100000)".into())
        );
        // Characters, not bytes: 256 two-byte letters are fine.
        assert_eq!(reason(&"é".repeat(MAX_NAME_CHARS)), None);
        assert!(reason(&"é".repeat(MAX_NAME_CHARS + 1)).is_some());
    }
}
