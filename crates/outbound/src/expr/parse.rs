//! Parsing an expression as Microsoft Entra writes them in attribute mappings:
//!
//! ```text
//! expression := term (("=" | "<>") term)?
//! term       := function | attribute | string | number | (nothing, for an omitted argument)
//! function   := NAME "(" expression ("," expression)* ")"
//! attribute  := "[" name "]"        a name may hold brackets and quoted text:
//!                                   [emails[type eq "work"].value]
//! string     := '"' ... '"'         backslash escapes the next character: "a \"b\" c"
//! number     := digits, with an optional leading minus
//! ```
//!
//! Function names are matched case-insensitively, as Entra does. Every error names the
//! character position (counted from 1) where reading stopped.

use super::{Comparison, Expr};

/// Why an expression does not read, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at character {position}: {message}")]
pub struct ParseError {
    /// The position (in characters, from 1) where the expression stops making sense.
    pub position: usize,
    /// What was expected there.
    pub message: String,
}

/// The most characters an expression may have, and the deepest nesting.
pub const MAX_LENGTH: usize = 10_000;
/// How deeply functions may nest.
pub const MAX_DEPTH: usize = 32;

struct Parser<'a> {
    chars: Vec<char>,
    at: usize,
    depth: usize,
    _text: &'a str,
}

/// Reads `text` into an expression.
pub fn parse(text: &str) -> Result<Expr, ParseError> {
    if text.chars().count() > MAX_LENGTH {
        return Err(ParseError {
            position: MAX_LENGTH + 1,
            message: format!("an expression has at most {MAX_LENGTH} characters"),
        });
    }
    let mut p = Parser {
        chars: text.chars().collect(),
        at: 0,
        depth: 0,
        _text: text,
    };
    p.skip_space();
    if p.at == p.chars.len() {
        return Err(p.error("the expression is empty"));
    }
    let expr = p.expression()?;
    p.skip_space();
    if p.at < p.chars.len() {
        return Err(p.error(&format!(
            "unexpected {:?} after a complete expression",
            p.chars[p.at]
        )));
    }
    Ok(expr)
}

impl Parser<'_> {
    fn error(&self, message: &str) -> ParseError {
        ParseError {
            position: self.at + 1,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.at += 1;
        }
    }

    fn expression(&mut self) -> Result<Expr, ParseError> {
        let left = self.term()?;
        self.skip_space();
        let next = self.chars.get(self.at + 1).copied();
        let (op, width) = match (self.peek(), next) {
            (Some('<'), Some('>')) => (Comparison::NotEqual, 2),
            (Some('>'), Some('=')) => (Comparison::GreaterOrEqual, 2),
            (Some('<'), Some('=')) => (Comparison::LessOrEqual, 2),
            (Some('='), _) => (Comparison::Equal, 1),
            (Some('>'), _) => (Comparison::Greater, 1),
            (Some('<'), _) => (Comparison::Less, 1),
            _ => return Ok(left),
        };
        self.at += width;
        self.skip_space();
        let right = self.term()?;
        if matches!(right, Expr::Omitted) || matches!(left, Expr::Omitted) {
            return Err(self.error("a comparison needs a value on both sides"));
        }
        Ok(Expr::Compare(Box::new(left), op, Box::new(right)))
    }

    fn term(&mut self) -> Result<Expr, ParseError> {
        self.skip_space();
        match self.peek() {
            None | Some(',' | ')') => Ok(Expr::Omitted),
            Some('[') => self.attribute(),
            Some('"') => self.string(),
            Some(c) if c.is_ascii_digit() || c == '-' => self.number(),
            Some(c) if c.is_alphabetic() => self.function(),
            Some(c) => Err(self.error(&format!(
                "expected a function, an [attribute], a \"string\" or a number, not {c:?}"
            ))),
        }
    }

    fn attribute(&mut self) -> Result<Expr, ParseError> {
        let start = self.at;
        self.at += 1;
        let mut depth = 1;
        let mut name = String::new();
        let mut quoted = false;
        while let Some(c) = self.peek() {
            self.at += 1;
            match c {
                '"' => quoted = !quoted,
                '[' if !quoted => depth += 1,
                ']' if !quoted => {
                    depth -= 1;
                    if depth == 0 {
                        let name = name.trim().to_owned();
                        if name.is_empty() {
                            self.at = start;
                            return Err(self.error("an attribute needs a name: [givenName]"));
                        }
                        return Ok(Expr::Attribute(name));
                    }
                }
                _ => {}
            }
            name.push(c);
        }
        self.at = start;
        Err(self.error("this [ is never closed by a ]"))
    }

    fn string(&mut self) -> Result<Expr, ParseError> {
        let start = self.at;
        self.at += 1;
        let mut text = String::new();
        while let Some(c) = self.peek() {
            self.at += 1;
            match c {
                '\\' => match self.peek() {
                    Some(next) => {
                        text.push(next);
                        self.at += 1;
                    }
                    None => break,
                },
                '"' => return Ok(Expr::Text(text)),
                _ => text.push(c),
            }
        }
        self.at = start;
        Err(self.error("this string is never closed by a \""))
    }

    fn number(&mut self) -> Result<Expr, ParseError> {
        let start = self.at;
        if self.peek() == Some('-') {
            self.at += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        digits.parse::<i64>().map(Expr::Number).map_err(|_| {
            self.at = start;
            self.error(&format!("{digits:?} is not a number"))
        })
    }

    fn function(&mut self) -> Result<Expr, ParseError> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        let name: String = self.chars[start..self.at].iter().collect();
        self.skip_space();
        if self.peek() != Some('(') {
            return Err(self.error(&format!(
                "{name} is not a function call: expected ( after it (attributes are written [{name}])"
            )));
        }
        let Some(canonical) = super::functions::canonical(&name) else {
            self.at = start;
            return Err(self.error(&format!("{name} is not a function Roster knows")));
        };
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error(&format!("functions nest at most {MAX_DEPTH} deep")));
        }
        self.at += 1;
        let mut args = Vec::new();
        self.skip_space();
        if self.peek() == Some(')') {
            self.at += 1;
        } else {
            loop {
                args.push(self.expression()?);
                self.skip_space();
                match self.peek() {
                    Some(',') => self.at += 1,
                    Some(')') => {
                        self.at += 1;
                        break;
                    }
                    Some(c) => {
                        return Err(self.error(&format!(
                            "expected , or ) in the arguments of {canonical}, not {c:?}"
                        )));
                    }
                    None => {
                        return Err(self.error(&format!(
                            "the arguments of {canonical} are never closed by a )"
                        )));
                    }
                }
            }
        }
        self.depth -= 1;
        super::functions::check_arity(canonical, args.len()).map_err(|message| ParseError {
            position: start + 1,
            message,
        })?;
        Ok(Expr::Call {
            name: canonical.to_owned(),
            args,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, args: Vec<Expr>) -> Expr {
        Expr::Call {
            name: name.into(),
            args,
        }
    }

    #[test]
    fn functions_attributes_strings_and_numbers() {
        assert_eq!(
            parse(r#"Join(" ", [givenName], [surname])"#).unwrap(),
            call(
                "Join",
                vec![
                    Expr::Text(" ".into()),
                    Expr::Attribute("givenName".into()),
                    Expr::Attribute("surname".into())
                ]
            )
        );
        assert_eq!(
            parse(r#"Left([emails[type eq "work"].value], 3)"#).unwrap(),
            call(
                "Left",
                vec![
                    Expr::Attribute(r#"emails[type eq "work"].value"#.into()),
                    Expr::Number(3)
                ]
            )
        );
        assert_eq!(
            parse(r#"append("a \"b\"", "\\")"#).unwrap(),
            call(
                "Append",
                vec![Expr::Text(r#"a "b""#.into()), Expr::Text("\\".into())]
            ),
            "names in any case; escapes"
        );
    }

    #[test]
    fn omitted_arguments_and_comparisons() {
        assert_eq!(
            parse(r#"FormatDateTime([x], , "yyyyMMdd", "yyyy-MM-dd")"#).unwrap(),
            call(
                "FormatDateTime",
                vec![
                    Expr::Attribute("x".into()),
                    Expr::Omitted,
                    Expr::Text("yyyyMMdd".into()),
                    Expr::Text("yyyy-MM-dd".into())
                ]
            )
        );
        assert_eq!(
            parse(r#"IIF([country]="USA",[country],[department])"#).unwrap(),
            call(
                "IIF",
                vec![
                    Expr::Compare(
                        Box::new(Expr::Attribute("country".into())),
                        Comparison::Equal,
                        Box::new(Expr::Text("USA".into()))
                    ),
                    Expr::Attribute("country".into()),
                    Expr::Attribute("department".into())
                ]
            )
        );
    }

    #[test]
    fn errors_name_the_position() {
        let cases = [
            (r#"Join(" ", [givenName"#, 11, "never closed"),
            (r#"Left("abc", 2"#, 14, "never closed by a )"),
            (r#"Lefty("abc", 2)"#, 1, "not a function Roster knows"),
            (r#"ToLower("abc)"#, 9, "string is never closed"),
            ("givenName", 10, "attributes are written [givenName]"),
            (r#"Left("a", 1) x"#, 14, "after a complete expression"),
            ("Left(\"a\")", 1, "Left takes"),
            ("", 1, "empty"),
            ("Append([a] ; [b])", 12, "expected , or )"),
            ("IIF([a] = , 1, 2)", 11, "both sides"),
        ];
        for (text, position, said) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.position, position, "{text}: {e}");
            assert!(e.message.contains(said), "{text}: {e}");
        }
    }

    #[test]
    fn nesting_and_length_are_bounded() {
        let deep = format!("{}\"x\"{}", "ToLower(".repeat(40), ")".repeat(40));
        assert!(parse(&deep).unwrap_err().message.contains("nest"));
        let long = format!("\"{}\"", "x".repeat(MAX_LENGTH));
        assert!(parse(&long).is_err());
    }
}
