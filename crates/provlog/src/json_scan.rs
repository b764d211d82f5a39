//! A tolerant reader of JSON text, for bodies that may be cut (the edge keeps the first
//! [`crate::BODY_LIMIT`] bytes) or malformed (a refused request): it splits the text into
//! tokens with their byte spans and never fails, so redaction works on any body, and a cut
//! body can be closed into valid JSON to be read (what a long group PATCH held, at least).

/// One token of JSON text, with its byte span `start..end` in the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Token {
    /// A string, its quotes included; `closed` is false when the text ends inside it.
    Str {
        /// The opening quote.
        start: usize,
        /// After the closing quote, or the end of the text.
        end: usize,
        /// Whether the closing quote was found.
        closed: bool,
    },
    /// One of `{ } [ ] : ,`.
    Punct {
        /// The character.
        c: u8,
        /// Its position.
        at: usize,
    },
    /// Anything else between delimiters: a number, `true`, `false`, `null`, or garbage.
    Lit {
        /// Its first byte.
        start: usize,
        /// After its last byte.
        end: usize,
    },
}

impl Token {
    /// The token's byte span.
    pub(crate) fn span(self) -> (usize, usize) {
        match self {
            Token::Str { start, end, .. } | Token::Lit { start, end } => (start, end),
            Token::Punct { at, .. } => (at, at + 1),
        }
    }
}

/// The tokens of `text`, in order. Never fails: what is not JSON becomes [`Token::Lit`].
pub(crate) fn tokens(text: &str) -> Vec<Token> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        match b[i] {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'"' => {
                let start = i;
                i += 1;
                let mut closed = false;
                while i < n {
                    match b[i] {
                        b'\\' => i += 2,
                        b'"' => {
                            i += 1;
                            closed = true;
                            break;
                        }
                        _ => i += 1,
                    }
                }
                let end = i.min(n);
                out.push(Token::Str { start, end, closed });
                i = end;
            }
            c @ (b'{' | b'}' | b'[' | b']' | b':' | b',') => {
                out.push(Token::Punct { c, at: i });
                i += 1;
            }
            _ => {
                let start = i;
                while i < n
                    && !matches!(
                        b[i],
                        b' ' | b'\t'
                            | b'\n'
                            | b'\r'
                            | b'"'
                            | b'{'
                            | b'}'
                            | b'['
                            | b']'
                            | b':'
                            | b','
                    )
                {
                    i += 1;
                }
                out.push(Token::Lit { start, end: i });
            }
        }
    }
    out
}

/// The text of a string token, unescaped (`"pass\u0077ord"` is `password`); for a string the
/// text ends inside, its raw content.
pub(crate) fn string_value(text: &str, token: Token) -> Option<String> {
    let Token::Str { start, end, closed } = token else {
        return None;
    };
    if closed {
        serde_json::from_str::<String>(&text[start..end])
            .ok()
            .or_else(|| Some(text[start + 1..end - 1].to_owned()))
    } else {
        Some(text.get(start + 1..end).unwrap_or("").to_owned())
    }
}

/// `text` closed into valid JSON when it was cut: everything up to the last complete value,
/// then the brackets still open. `None` when not even that is JSON (or nothing was complete).
pub(crate) fn complete(text: &str) -> Option<String> {
    let toks = tokens(text);
    let n = text.len();
    // The closers of the containers open at the last safe point, and where that point is.
    let mut open: Vec<u8> = Vec::new();
    let mut safe: Option<(usize, Vec<u8>)> = None;
    // Whether the next string in the innermost object is a key.
    let mut expect_key: Vec<bool> = Vec::new();
    for tok in toks {
        match tok {
            Token::Punct { c: b'{', .. } => {
                open.push(b'}');
                expect_key.push(true);
            }
            Token::Punct { c: b'[', .. } => {
                open.push(b']');
                expect_key.push(false);
            }
            Token::Punct {
                c: c @ (b'}' | b']'),
                at,
            } => {
                if open.pop() != Some(c) {
                    return None;
                }
                expect_key.pop();
                safe = Some((at + 1, open.clone()));
            }
            Token::Punct { c: b',', .. } => {
                if let (Some(k), Some(b'}')) = (expect_key.last_mut(), open.last()) {
                    *k = true;
                }
            }
            Token::Punct { c: b':', .. } => {
                if let Some(k) = expect_key.last_mut() {
                    *k = false;
                }
            }
            Token::Punct { .. } => {}
            Token::Str { end, closed, .. } => {
                if !closed {
                    break;
                }
                if expect_key.last() == Some(&true) {
                    continue;
                }
                safe = Some((end, open.clone()));
            }
            Token::Lit { end, .. } => {
                // A literal that reaches the end of a cut text may itself be cut (`tru`).
                if end == n {
                    break;
                }
                safe = Some((end, open.clone()));
            }
        }
    }
    let (end, open) = safe?;
    let mut out = String::with_capacity(end + open.len());
    out.push_str(&text[..end]);
    out.extend(open.iter().rev().map(|&c| char::from(c)));
    serde_json::from_str::<serde_json::Value>(&out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parsed(text: &str) -> Value {
        serde_json::from_str(&complete(text).expect("completes")).expect("JSON")
    }

    #[test]
    fn tokens_survive_a_cut_inside_a_string() {
        let t = tokens(r#"{"a": "b\"c", "d": "ef"#);
        assert_eq!(
            t.last(),
            Some(&Token::Str {
                start: 19,
                end: 22,
                closed: false
            })
        );
        assert_eq!(
            string_value(r#"{"a": "b\"c""#, t[3]).as_deref(),
            Some("b\"c")
        );
    }

    #[test]
    fn an_escaped_key_reads_as_its_text() {
        let text = r#"{"pass\u0077ord": 1}"#;
        let t = tokens(text);
        assert_eq!(string_value(text, t[1]).as_deref(), Some("password"));
    }

    #[test]
    fn a_cut_member_list_closes_after_the_last_whole_member() {
        let text = r#"{"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"},{"val"#;
        assert_eq!(
            parsed(text),
            json!({"Operations":[{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]}]})
        );
    }

    #[test]
    fn a_cut_after_a_key_or_inside_a_literal_drops_that_pair() {
        assert_eq!(parsed(r#"{"a": 1, "b": tr"#), json!({"a": 1}));
        assert_eq!(parsed(r#"{"a": 1, "b""#), json!({"a": 1}));
        assert_eq!(parsed(r#"{"a": 1, "b": "x"#), json!({"a": 1}));
        assert_eq!(parsed(r#"[1, 2, 3"#), json!([1, 2]));
    }

    #[test]
    fn whole_json_is_kept_as_it_is() {
        assert_eq!(
            parsed(r#"{"a": [1, {"b": null}]}"#),
            json!({"a": [1, {"b": null}]})
        );
    }

    #[test]
    fn nothing_complete_or_mismatched_brackets_give_nothing() {
        assert_eq!(complete(r#"{"a"#), None);
        assert_eq!(complete(r#"{"a": 1]"#), None);
        assert_eq!(complete("not json at all"), None);
    }
}
