//! Computing an expression for one object.

use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use super::{Expr, Value, datetime};

/// What an expression reads besides its constants: the object's attributes, the time,
/// randomness, and (for `SelectUniqueValue`) whether a value is free in the target.
pub trait Env {
    /// The value of a source attribute (null when absent).
    fn attribute(&self, name: &str) -> Value;
    /// Now.
    fn now(&self) -> OffsetDateTime;
    /// Fills `out` with random bytes.
    fn random(&mut self, out: &mut [u8]);
    /// Whether `value` is not yet used in the target for the attribute being computed.
    fn is_unique(&mut self, value: &str) -> bool;
    /// The target attribute whose mapping is evaluated next (what `SelectUniqueValue` checks
    /// its candidates against).
    fn mapping_target(&mut self, _target: &str) {}
}

/// Why an expression could not be computed for an object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// An argument a function needs is not what it takes.
    #[error("{function}: {message}")]
    Argument {
        /// The function.
        function: &'static str,
        /// What was wrong.
        message: String,
    },
    /// `SelectUniqueValue` found no value free in the target.
    #[error("SelectUniqueValue: none of its {0} values is free in the target")]
    NoUniqueValue(usize),
}

fn argument(function: &'static str, message: impl Into<String>) -> EvalError {
    EvalError::Argument {
        function,
        message: message.into(),
    }
}

/// Computes `expr` for the object `env` reads.
pub fn evaluate(expr: &Expr, env: &mut dyn Env) -> Result<Value, EvalError> {
    match expr {
        Expr::Omitted => Ok(Value::Null),
        Expr::Text(s) => Ok(Value::One(s.clone())),
        Expr::Number(n) => Ok(Value::One(n.to_string())),
        Expr::Attribute(name) => Ok(env.attribute(name)),
        Expr::Compare(a, op, b) => {
            let (a, b) = (evaluate(a, env)?, evaluate(b, env)?);
            let (a, b) = (a.text().unwrap_or(""), b.text().unwrap_or(""));
            // Numbers compare as numbers, anything else as text (ordinal, case-sensitive).
            let order = match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                (Ok(x), Ok(y)) => x.partial_cmp(&y),
                _ => Some(a.cmp(b)),
            };
            Ok(Value::bool(order.is_some_and(|o| op.holds(o))))
        }
        Expr::Call { name, args } => call(name, args, env),
    }
}

/// A boolean argument: `True`/`False` in any case.
fn truth(function: &'static str, value: &Value) -> Result<bool, EvalError> {
    match value.text() {
        Some(t) if t.eq_ignore_ascii_case("true") => Ok(true),
        Some(t) if t.eq_ignore_ascii_case("false") => Ok(false),
        other => Err(argument(
            function,
            format!("{:?} is not True or False", other.unwrap_or("null")),
        )),
    }
}

/// A whole-number argument.
fn number(function: &'static str, what: &str, value: &Value) -> Result<i64, EvalError> {
    let text = value.text().unwrap_or("").trim();
    text.parse()
        .map_err(|_| argument(function, format!("{what} must be a number, not {text:?}")))
}

fn text(value: &Value) -> String {
    value.text().unwrap_or("").to_owned()
}

fn call(name: &str, args: &[Expr], env: &mut dyn Env) -> Result<Value, EvalError> {
    // Functions that choose which argument to compute compute only that one.
    match name {
        "IIF" => {
            let condition = evaluate(&args[0], env)?;
            let chosen = if truth("IIF", &condition)? { 1 } else { 2 };
            return evaluate(&args[chosen], env);
        }
        "Coalesce" => {
            for arg in args {
                let v = evaluate(arg, env)?;
                if !v.is_null_or_empty() {
                    return Ok(v);
                }
            }
            return Ok(Value::Null);
        }
        "SelectUniqueValue" => {
            for arg in args {
                let v = evaluate(arg, env)?;
                if let Some(candidate) = v.text().filter(|t| !t.is_empty())
                    && env.is_unique(candidate)
                {
                    return Ok(Value::One(candidate.to_owned()));
                }
            }
            return Err(EvalError::NoUniqueValue(args.len()));
        }
        _ => {}
    }
    let values = args
        .iter()
        .map(|a| evaluate(a, env))
        .collect::<Result<Vec<Value>, EvalError>>()?;
    let v = |i: usize| values.get(i).unwrap_or(&Value::Null);
    Ok(match name {
        "Append" => Value::One(format!("{}{}", text(v(0)), text(v(1)))),
        "FormatDateTime" => {
            let source = v(0);
            if source.is_null_or_empty() {
                return Ok(Value::Null);
            }
            let input = v(2).text().unwrap_or("");
            let output = v(3).text().unwrap_or("");
            let at = datetime::parse(&text(source), input).map_err(|e| {
                argument(
                    "FormatDateTime",
                    format!(
                        "{:?} is not a date in the format {input:?}: {e}",
                        text(source)
                    ),
                )
            })?;
            Value::One(datetime::format(at, output))
        }
        "Guid" => {
            let mut b = [0u8; 16];
            env.random(&mut b);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            Value::One(format!(
                "{}-{}-{}-{}-{}",
                &hex[0..8],
                &hex[8..12],
                &hex[12..16],
                &hex[16..20],
                &hex[20..32]
            ))
        }
        "IsNull" => Value::bool(matches!(v(0), Value::Null)),
        "IsNullOrEmpty" => Value::bool(v(0).is_null_or_empty()),
        "IsPresent" => Value::bool(!v(0).is_null_or_empty()),
        "Item" => {
            let index = number("Item", "the index", v(1))?;
            let all = v(0).all();
            // The documentation's index counts from 1.
            usize::try_from(index)
                .ok()
                .and_then(|i| i.checked_sub(1))
                .and_then(|i| all.get(i))
                .map_or(Value::Null, |s| Value::One((*s).to_owned()))
        }
        "Join" => {
            let separator = text(v(0));
            let parts: Vec<&str> = values[1..]
                .iter()
                .flat_map(Value::all)
                .filter(|s| !s.is_empty())
                .collect();
            Value::One(parts.join(&separator))
        }
        "Left" => {
            let count = number("Left", "the number of characters", v(1))?;
            let source = text(v(0));
            if count < 0 {
                Value::One(source)
            } else {
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                Value::One(source.chars().take(count).collect())
            }
        }
        "Mid" => {
            let start = number("Mid", "the start", v(1))?;
            let length = number("Mid", "the length", v(2))?;
            if start < 1 || length < 0 {
                return Err(argument(
                    "Mid",
                    "the start counts from 1, and the length is not negative",
                ));
            }
            let skip = usize::try_from(start - 1).unwrap_or(usize::MAX);
            let take = usize::try_from(length).unwrap_or(usize::MAX);
            Value::One(text(v(0)).chars().skip(skip).take(take).collect())
        }
        "NormalizeDiacritics" => match v(0) {
            Value::Null => Value::Null,
            other => Value::One(normalize_diacritics(&text(other))),
        },
        // "If source value is True, returns False. Otherwise, returns True."
        "Not" => Value::bool(!v(0).text().is_some_and(|t| t.eq_ignore_ascii_case("true"))),
        "Now" => Value::One(datetime::format(env.now(), "M/d/yyyy h:mm:ss tt")),
        "RandomString" => random_string(&values, env)?,
        "Replace" => super::replace::replace(&values)?,
        "SingleAppRoleAssignment" => match v(0).all().as_slice() {
            [] => Value::Null,
            [one] => Value::One((*one).to_owned()),
            several => {
                return Err(argument(
                    "SingleAppRoleAssignment",
                    format!("the user has {} roles, not one", several.len()),
                ));
            }
        },
        "Split" => {
            let delimiter = text(v(1));
            match v(0).text() {
                None => Value::Null,
                Some(_) if delimiter.is_empty() => {
                    return Err(argument("Split", "the delimiter is empty"));
                }
                // Pieces are trimmed, as the documentation's example shows
                // ("PermissionSetOne, PermissionSetTwo" gives "PermissionSetTwo").
                Some(s) => Value::Many(
                    s.split(delimiter.as_str())
                        .map(|p| p.trim().to_owned())
                        .collect(),
                ),
            }
        }
        "StripSpaces" => match v(0) {
            Value::Null => Value::Null,
            other => Value::One(text(other).chars().filter(|c| *c != ' ').collect()),
        },
        "Switch" => {
            let source = v(0).text().unwrap_or("");
            let pairs = &values[2..];
            if pairs.len() % 2 != 0 {
                return Err(argument("Switch", "every key needs a value"));
            }
            pairs
                .chunks(2)
                .find(|pair| pair[0].text().unwrap_or("") == source)
                .map_or_else(|| v(1).clone(), |pair| pair[1].clone())
        }
        "ToLower" => map_text(v(0), str::to_lowercase),
        "ToUpper" => map_text(v(0), str::to_uppercase),
        "Word" => {
            let n = number("Word", "the word number", v(1))?;
            let delimiters: Vec<char> = text(v(2)).chars().collect();
            let source = text(v(0));
            let words: Vec<&str> = source
                .split(|c| delimiters.contains(&c))
                .filter(|w| !w.is_empty())
                .collect();
            usize::try_from(n)
                .ok()
                .and_then(|n| n.checked_sub(1))
                .and_then(|i| words.get(i))
                .map_or_else(
                    || Value::One(String::new()),
                    |w| Value::One((*w).to_owned()),
                )
        }
        other => {
            return Err(argument(
                "Join",
                format!("{other} is not a function Roster knows"),
            ));
        }
    })
}

fn map_text(value: &Value, f: fn(&str) -> String) -> Value {
    match value {
        Value::Null => Value::Null,
        Value::One(s) => Value::One(f(s)),
        Value::Many(v) => Value::Many(v.iter().map(|s| f(s)).collect()),
    }
}

/// Letters with their diacritics removed (`Zoë` → `Zoe`): decomposed, the combining marks
/// dropped; the letters that do not decompose (`ø`, `ß`, `æ`, `ł`, `đ`) as Entra writes them.
fn normalize_diacritics(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.nfd().filter(|c| !is_combining_mark(*c)) {
        match c {
            'ø' => out.push_str("oe"),
            'Ø' => out.push_str("OE"),
            'ı' => out.push('i'),
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'Æ' => out.push_str("AE"),
            'ł' => out.push('l'),
            'Ł' => out.push('L'),
            'đ' => out.push('d'),
            'Đ' => out.push('D'),
            'œ' => out.push_str("oe"),
            'Œ' => out.push_str("OE"),
            other => out.push(other),
        }
    }
    out.nfc().collect()
}

/// `RandomString(Length, MinimumNumbers, MinimumSpecialCharacters, MinimumCapital,
/// MinimumLowerCase, CharactersToAvoid)`.
fn random_string(values: &[Value], env: &mut dyn Env) -> Result<Value, EvalError> {
    const F: &str = "RandomString";
    let count = |i: usize, what: &str| -> Result<usize, EvalError> {
        match values.get(i) {
            None | Some(Value::Null) => Ok(0),
            Some(v) => usize::try_from(number(F, what, v)?)
                .map_err(|_| argument(F, format!("{what} is not negative"))),
        }
    };
    let length = count(0, "the length")?;
    let minimums = [
        count(1, "the minimum of numbers")?,
        count(2, "the minimum of special characters")?,
        count(3, "the minimum of capitals")?,
        count(4, "the minimum of lower-case letters")?,
    ];
    if length == 0 || length > 256 {
        return Err(argument(F, "the length is between 1 and 256"));
    }
    if minimums.iter().sum::<usize>() > length {
        return Err(argument(F, "the minimums add up to more than the length"));
    }
    let avoid: Vec<char> = values
        .get(5)
        .map(text)
        .unwrap_or_default()
        .chars()
        .collect();
    let sets: Vec<Vec<char>> = [
        "0123456789",
        "~!@#$%^&*_-+=`|\\(){}[]:;\"'<>,.?/",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "abcdefghijklmnopqrstuvwxyz",
    ]
    .iter()
    .map(|s| s.chars().filter(|c| !avoid.contains(c)).collect())
    .collect();
    let any: Vec<char> = sets.iter().flatten().copied().collect();
    let mut pick = |from: &[char]| -> Result<char, EvalError> {
        if from.is_empty() {
            return Err(argument(F, "every character of a kind it needs is avoided"));
        }
        let mut b = [0u8; 4];
        env.random(&mut b);
        let at = usize::try_from(u32::from_le_bytes(b)).unwrap_or(0) % from.len();
        Ok(from[at])
    };
    let mut chars = Vec::with_capacity(length);
    for (set, minimum) in sets.iter().zip(minimums) {
        for _ in 0..minimum {
            chars.push(pick(set)?);
        }
    }
    while chars.len() < length {
        chars.push(pick(&any)?);
    }
    // Shuffled, so that the required kinds are not always first.
    for i in (1..chars.len()).rev() {
        let mut b = [0u8; 4];
        env.random(&mut b);
        let j = usize::try_from(u32::from_le_bytes(b)).unwrap_or(0) % (i + 1);
        chars.swap(i, j);
    }
    Ok(Value::One(chars.into_iter().collect()))
}
