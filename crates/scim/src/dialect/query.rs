//! Query parameters as clients send them: filters with unquoted values, and `attributes` lists holding value filters.

use super::{Normalization, note};
use crate::filter::{Filter, FilterError, PatchPath};

/// Parses a filter, reading unquoted comparison values as strings.
pub(super) fn filter(text: &str, applied: &mut Vec<Normalization>) -> Result<Filter, FilterError> {
    let (filter, unquoted) = Filter::parse_lenient(text)?;
    if unquoted > 0 {
        note(applied, Normalization::UnquotedFilterValue);
    }
    Ok(filter)
}

/// Reduces every entry with a value filter (`emails[type eq "work"]`,
/// `emails[type eq "work"].value`) to the attribute path it filters (`emails`,
/// `emails.value`). The text is returned unchanged when no entry has a filter.
pub(super) fn attribute_list(text: &str, applied: &mut Vec<Normalization>) -> String {
    let entries = split_entries(text);
    if !entries.iter().any(|e| e.contains('[')) {
        return text.to_owned();
    }
    note(applied, Normalization::FilterInAttributes);
    entries
        .iter()
        .map(|e| without_filter(e.trim()))
        .filter(|e| !e.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// One entry without its value filter.
fn without_filter(entry: &str) -> String {
    if !entry.contains('[') {
        return entry.to_owned();
    }
    if let Ok((path, _)) = PatchPath::parse_lenient(entry) {
        return match path.sub_attribute {
            Some(sub) => format!("{}.{sub}", path.attribute),
            None => path.attribute.to_string(),
        };
    }
    // A filter the parser cannot read: keep what surrounds the brackets, so that the core
    // judges the attribute path (and ignores it if it names nothing).
    let open = entry.find('[').unwrap_or(entry.len());
    let after = entry.rfind(']').map_or("", |close| &entry[close + 1..]);
    format!("{}{after}", entry[..open].trim_end())
}

/// Splits a comma-separated list at the commas outside brackets and quoted strings, so that
/// `emails[value eq "a,b"]` stays one entry.
fn split_entries(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut in_string, mut escaped, mut start) = (0usize, false, false, 0);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&text[start..]);
    out
}
