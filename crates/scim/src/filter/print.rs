//! The canonical text of a filter: lowercase operators, JSON literals, single spaces, and
//! parentheses exactly where the tree's shape needs them, so that parsing the text gives the
//! same tree back.

use std::fmt::{self, Write};

use super::tree::left_spine;
use super::{CompValue, Filter, PatchPath};

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => write_json_string(f, s),
        }
    }
}

/// Writes `s` as a JSON string. Only what JSON requires is escaped (quote, backslash, control
/// characters); everything else, non-ASCII included, is written as is.
fn write_json_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    let mut plain = 0;
    for (i, c) in s.char_indices() {
        let escaped = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            '\u{8}' => "\\b",
            '\u{c}' => "\\f",
            c if c < ' ' => "",
            _ => continue,
        };
        f.write_str(&s[plain..i])?;
        if escaped.is_empty() {
            write!(f, "\\u{:04x}", c as u32)?;
        } else {
            f.write_str(escaped)?;
        }
        plain = i + c.len_utf8();
    }
    f.write_str(&s[plain..])?;
    f.write_char('"')
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((and, operands)) = left_spine(self) {
            return write_chain(f, and, &operands);
        }
        match self {
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter } => write!(f, "{path}[{filter}]"),
            Filter::Compare { path, op, value } => write!(f, "{path} {op} {value}"),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(..) | Filter::Or(..) => unreachable!("printed as a chain above"),
        }
    }
}

/// Writes the operands of a chain of one operator. Looping over the left spine matters: a
/// parsed `a and b and ... and z` is a tree as deep as the chain is long, and printing must
/// not take a stack frame per clause.
fn write_chain(f: &mut fmt::Formatter<'_>, and: bool, operands: &[&Filter]) -> fmt::Result {
    for (i, operand) in operands.iter().enumerate() {
        if i > 0 {
            f.write_str(if and { " and " } else { " or " })?;
        }
        // `or` binds more loosely than `and`, so it needs parentheses inside `and`. Both are
        // left-associative, so a right operand of the same operator needs them too to keep
        // its shape; the leftmost operand is never of the same operator (it would be part of
        // the spine).
        let parens = match operand {
            Filter::Or(..) => and || i > 0,
            Filter::And(..) => and,
            _ => false,
        };
        write_operand(f, operand, parens)?;
    }
    Ok(())
}

fn write_operand(f: &mut fmt::Formatter<'_>, node: &Filter, parens: bool) -> fmt::Result {
    if parens {
        write!(f, "({node})")
    } else {
        write!(f, "{node}")
    }
}

impl fmt::Display for PatchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.attribute)?;
        if let Some(filter) = &self.filter {
            write!(f, "[{filter}]")?;
        }
        if let Some(sub) = &self.sub_attribute {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}
