//! `Replace(source, oldValue, regexPattern, regexGroupName, replacementValue,
//! replacementAttributeName, template)`, whose meaning depends on which arguments are given:
//!
//! - `oldValue` and `replacementValue`: every `oldValue` in the source becomes the replacement;
//! - `oldValue` and `template`: every `oldValue` in the template becomes the source;
//! - `regexPattern` and `replacementValue`: every match in the source becomes the replacement
//!   (which may name groups: `$1`, `${name}`);
//! - `regexPattern`, `regexGroupName` and `replacementValue`: what the named group matched
//!   becomes the replacement;
//! - `regexPattern`, `regexGroupName` and `replacementAttributeName`: the source when it has a
//!   value, else what the group matches in the replacement attribute.
//!
//! Patterns are Rust's `regex` (no look-around or back-references, which .NET has), bounded in
//! size so that one expression cannot exhaust the engine.

use regex::{Regex, RegexBuilder};

use super::Value;
use super::eval::EvalError;

const F: &str = "Replace";

fn given(values: &[Value], i: usize) -> Option<String> {
    match values.get(i) {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.text().unwrap_or("").to_owned()),
    }
}

fn compile(pattern: &str) -> Result<Regex, EvalError> {
    RegexBuilder::new(pattern)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| EvalError::Argument {
            function: F,
            message: format!("the pattern {pattern:?} does not read: {e}"),
        })
}

/// The function, for its seven arguments (omitted ones null).
pub fn replace(values: &[Value]) -> Result<Value, EvalError> {
    let source = given(values, 0);
    let old = given(values, 1).filter(|s| !s.is_empty());
    let pattern = given(values, 2).filter(|s| !s.is_empty());
    let group = given(values, 3).filter(|s| !s.is_empty());
    let replacement = given(values, 4);
    let attribute = given(values, 5);
    let template = given(values, 6);
    let unclear = || EvalError::Argument {
        function: F,
        message: "give oldValue with replacementValue or template, or regexPattern with \
                  replacementValue (and regexGroupName), or regexPattern, regexGroupName and \
                  replacementAttributeName"
            .into(),
    };
    match (old, pattern) {
        (Some(old), None) => match (replacement, template) {
            (Some(new), _) => Ok(source.map_or(Value::Null, |s| Value::One(s.replace(&old, &new)))),
            (None, Some(template)) => Ok(Value::One(
                template.replace(&old, source.as_deref().unwrap_or("")),
            )),
            (None, None) => Err(unclear()),
        },
        (None, Some(pattern)) => {
            let regex = compile(&pattern)?;
            match (group, replacement, attribute) {
                (None, Some(new), _) => Ok(source.map_or(Value::Null, |s| {
                    Value::One(regex.replace_all(&s, new.as_str()).into_owned())
                })),
                (Some(group), Some(new), _) => {
                    let Some(s) = source else {
                        return Ok(Value::Null);
                    };
                    if !regex.capture_names().flatten().any(|n| n == group) {
                        return Err(EvalError::Argument {
                            function: F,
                            message: format!("the pattern has no group named {group:?}"),
                        });
                    }
                    let mut out = String::with_capacity(s.len());
                    let mut last = 0;
                    for caps in regex.captures_iter(&s) {
                        if let Some(m) = caps.name(&group) {
                            out.push_str(&s[last..m.start()]);
                            out.push_str(&new);
                            last = m.end();
                        }
                    }
                    out.push_str(&s[last..]);
                    Ok(Value::One(out))
                }
                (Some(group), None, Some(other)) => match source.filter(|s| !s.is_empty()) {
                    Some(s) => Ok(Value::One(s)),
                    None => Ok(regex
                        .captures(&other)
                        .and_then(|c| c.name(&group))
                        .map_or(Value::Null, |m| Value::One(m.as_str().to_owned()))),
                },
                _ => Err(unclear()),
            }
        }
        _ => Err(unclear()),
    }
}
