//! The functions Roster knows, with how many arguments each takes.

/// A function's name as the documentation writes it, and its fewest and most arguments
/// (`usize::MAX`: any number).
pub const NAMES: [(&str, usize, usize); 25] = [
    ("Append", 2, 2),
    ("Coalesce", 1, usize::MAX),
    ("FormatDateTime", 4, 4),
    ("Guid", 0, 0),
    ("IIF", 3, 3),
    ("IsNull", 1, 1),
    ("IsNullOrEmpty", 1, 1),
    ("IsPresent", 1, 1),
    ("Item", 2, 2),
    ("Join", 1, usize::MAX),
    ("Left", 2, 2),
    ("Mid", 3, 3),
    ("NormalizeDiacritics", 1, 1),
    ("Not", 1, 1),
    ("Now", 0, 0),
    ("RandomString", 5, 6),
    ("Replace", 7, 7),
    ("SelectUniqueValue", 2, usize::MAX),
    ("SingleAppRoleAssignment", 1, 1),
    ("Split", 2, 2),
    ("StripSpaces", 1, 1),
    ("Switch", 2, usize::MAX),
    ("ToLower", 1, 2),
    ("ToUpper", 1, 2),
    ("Word", 3, 3),
];

/// The canonical name of `name` (matched case-insensitively), if Roster knows it.
pub fn canonical(name: &str) -> Option<&'static str> {
    NAMES
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        .map(|(n, _, _)| *n)
}

/// Whether `name` takes `count` arguments; else what it takes.
pub fn check_arity(name: &str, count: usize) -> Result<(), String> {
    let Some(&(_, min, max)) = NAMES.iter().find(|(n, _, _)| *n == name) else {
        return Err(format!("{name} is not a function Roster knows"));
    };
    if (min..=max).contains(&count) {
        return Ok(());
    }
    let wanted = match (min, max) {
        (0, 0) => "no arguments".to_owned(),
        (m, n) if m == n => format!("{m} argument{}", if m == 1 { "" } else { "s" }),
        (m, usize::MAX) => format!("at least {m} argument{}", if m == 1 { "" } else { "s" }),
        (m, n) => format!("{m} to {n} arguments"),
    };
    Err(format!("{name} takes {wanted}, not {count}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_in_any_case_and_arity_in_words() {
        assert_eq!(canonical("iif"), Some("IIF"));
        assert_eq!(canonical("TOLOWER"), Some("ToLower"));
        assert_eq!(canonical("Lower"), None);
        assert_eq!(
            check_arity("Left", 1).unwrap_err(),
            "Left takes 2 arguments, not 1"
        );
        assert_eq!(
            check_arity("Guid", 1).unwrap_err(),
            "Guid takes no arguments, not 1"
        );
        assert_eq!(
            check_arity("Switch", 1).unwrap_err(),
            "Switch takes at least 2 arguments, not 1"
        );
        assert!(check_arity("Join", 7).is_ok());
    }
}
