//! The secrets of a JSON body, which may be cut (at the edge's limit) or malformed (often why
//! it was refused): the values of secret keys at any depth, a PATCH operation's value on the
//! password, and credential shapes in every other string.
//!
//! The scan is tolerant: a missing comma or colon does not make a value of the next key or a
//! key of a value, a key may be unquoted or single-quoted, a comment takes no key's place, a
//! stray closing bracket closes nothing, and a string holding JSON (a body encoded twice) is
//! scanned as JSON too.

use super::shapes::{Text, secret_spans};
use super::{Span, is_secret_key};
use crate::json_scan::{Token, string_value, tokens};

/// What replaces a whole secret value, quotes included.
const WHOLE: &str = "\"[redacted]\"";

/// Whether a PATCH `path` names the password (`password`, or with its schema's URN).
fn is_password_path(path: &str) -> bool {
    let base = path.rsplit(':').next().unwrap_or(path);
    base.trim().eq_ignore_ascii_case("password")
}

/// Whether a path cut at the end of the text may be the password's (`"path":"pass`).
fn may_be_password_path(cut_path: &str) -> bool {
    let p = cut_path.trim_start().to_ascii_lowercase();
    "password".starts_with(&p)
        || "urn:ietf:params:scim:schemas:core:2.0:user:password".starts_with(&p)
}

/// One open object or array of a JSON text being scanned.
#[derive(Debug, Default)]
struct Frame {
    object: bool,
    /// Its first byte.
    start: usize,
    /// Every value inside is a secret (the value of a secret key).
    secret: bool,
    /// The key this container is the value of, in its parent object.
    key_in_parent: Option<String>,
    /// The current key, after it was read and until the next `,`.
    key: Option<String>,
    /// Whether a `:` came after the current key.
    after_colon: bool,
    /// A key was read and neither its `:` nor its value has come yet: a string or literal
    /// next is its value all the same (`{"password" "x"}`).
    key_pending: bool,
    /// This object is a PATCH operation on the password.
    password_op: bool,
    /// The spans of its `value`s (a duplicated key is read twice), once read.
    values: Vec<(usize, usize)>,
}

/// The key a token in a key's place names: a string's text, or a bare or single-quoted word's
/// (`{password: "x"}`); `None` for what is no key (a comment).
fn key_of(text: &str, tok: Token) -> Option<Option<String>> {
    match tok {
        Token::Str { .. } => Some(string_value(text, tok).map(|k| k.to_lowercase())),
        Token::Lit { start, end } => {
            let word = &text[start..end];
            if word.starts_with("/*") || word.starts_with("//") || word.starts_with('#') {
                return None;
            }
            Some(Some(word.trim_matches('\'').to_lowercase()))
        }
        Token::Punct { .. } => None,
    }
}

/// The secrets of a JSON text; `cut` says the body was cut at its end.
pub(super) fn json_spans(text: &str, cut: bool) -> Vec<Span> {
    let whole = |(start, end): (usize, usize)| Span {
        start,
        end,
        with: WHOLE,
    };
    let mut spans = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    for tok in tokens(text) {
        match tok {
            Token::Punct {
                c: c @ (b'{' | b'['),
                at,
            } => {
                let (key, secret) = match stack.last() {
                    Some(f) if f.object => (
                        f.key.clone(),
                        f.secret || f.key.as_deref().is_some_and(is_secret_key),
                    ),
                    Some(f) => (None, f.secret),
                    None => (None, false),
                };
                stack.push(Frame {
                    object: c == b'{',
                    start: at,
                    secret,
                    key_in_parent: key,
                    ..Frame::default()
                });
            }
            Token::Punct {
                c: c @ (b'}' | b']'),
                at,
            } => {
                // A bracket that closes nothing open (a stray `]`) is passed over.
                if stack.last().is_none_or(|f| f.object != (c == b'}')) {
                    continue;
                }
                let Some(f) = stack.pop() else { continue };
                if f.password_op {
                    spans.extend(f.values.iter().copied().map(whole));
                }
                if let Some(parent) = stack.last_mut() {
                    if f.key_in_parent.as_deref() == Some("value") {
                        parent.values.push((f.start, at + 1));
                    }
                    // The container was its key's value: what follows is a key, comma or not.
                    parent.after_colon = false;
                    parent.key_pending = false;
                }
            }
            Token::Punct { c: b':', .. } => {
                if let Some(f) = stack.last_mut() {
                    f.after_colon = true;
                    f.key_pending = false;
                }
            }
            Token::Punct { c: b',', .. } => {
                if let Some(f) = stack.last_mut() {
                    f.key = None;
                    f.after_colon = false;
                    f.key_pending = false;
                }
            }
            Token::Punct { .. } => {}
            Token::Str { .. } | Token::Lit { .. } => {
                let Some(f) = stack.last_mut() else {
                    spans.extend(token_secrets(text, tok, cut));
                    continue;
                };
                if f.object && !f.after_colon && !f.key_pending {
                    if let Some(key) = key_of(text, tok) {
                        f.key = key;
                        f.key_pending = true;
                    }
                    continue;
                }
                // A value: what follows it in an object is a key, even when the comma is
                // missing (`{"userName":"eve" "password":"x"}`, a body refused as invalid).
                f.after_colon = false;
                f.key_pending = false;
                let key = if f.object { f.key.as_deref() } else { None };
                if f.secret
                    || key.is_some_and(is_secret_key)
                    || holds_secret_json(text, tok)
                    || hides_a_secret(text, tok)
                {
                    spans.push(whole(single_quoted(text, tok)));
                    continue;
                }
                spans.extend(token_secrets(text, tok, cut));
                match key {
                    Some("path")
                        if string_value(text, tok).is_some_and(|p| {
                            is_password_path(&p)
                                || (matches!(tok, Token::Str { closed: false, .. })
                                    && may_be_password_path(&p))
                        }) =>
                    {
                        f.password_op = true;
                    }
                    Some("value") => f.values.push(tok.span()),
                    _ => {}
                }
            }
        }
    }
    // The text ended inside these: an operation on the password whose value was read, or is
    // the container still open above it, loses it up to the end.
    for (i, f) in stack.iter().enumerate() {
        if !f.password_op {
            continue;
        }
        spans.extend(f.values.iter().copied().map(whole));
        if let Some(inner) = stack.get(i + 1)
            && inner.key_in_parent.as_deref() == Some("value")
        {
            spans.push(whole((inner.start, text.len())));
        }
    }
    spans
}

/// A token's span, or for a word that opens a single quote it does not close
/// (`'Sup3r secret'` is two words to the tokens), up to the quote that closes it.
fn single_quoted(text: &str, tok: Token) -> (usize, usize) {
    let (start, end) = tok.span();
    let word = &text[start..end];
    if !matches!(tok, Token::Lit { .. })
        || !word.starts_with('\'')
        || (word.len() > 1 && word.ends_with('\''))
    {
        return (start, end);
    }
    text[start + 1..]
        .find('\'')
        .map_or((start, text.len()), |q| (start, start + 1 + q + 1))
}

/// Whether a string holds JSON with a secret in it (a body encoded twice:
/// `{"data":"{\"password\":\"…\"}"}`).
fn holds_secret_json(text: &str, tok: Token) -> bool {
    let Token::Str { .. } = tok else {
        return false;
    };
    let Some(inner) = string_value(text, tok) else {
        return false;
    };
    let trimmed = inner.trim_start();
    (trimmed.starts_with('{') || trimmed.starts_with('['))
        && super::has_clue(&inner)
        && !json_spans(&inner, false).is_empty()
}

/// Whether a string spells a credential with escapes (`"rst\u005f…"`): found in its text
/// unescaped, the whole string is one.
fn hides_a_secret(text: &str, tok: Token) -> bool {
    let Token::Str { start, end, .. } = tok else {
        return false;
    };
    if !text[start..end].contains("\\u") {
        return false;
    }
    string_value(text, tok).is_some_and(|inner| {
        let how = Text {
            url: false,
            cut: false,
        };
        !secret_spans(&inner, 0, inner.len(), how).is_empty()
    })
}

/// The credential-shaped parts of one token's text (a string's content).
fn token_secrets(text: &str, tok: Token, cut: bool) -> Vec<Span> {
    match tok {
        Token::Str { start, end, closed } => {
            let inner_end = if closed { end - 1 } else { end };
            let how = Text {
                url: false,
                cut: !closed,
            };
            secret_spans(text, start + 1, inner_end.max(start + 1), how)
        }
        Token::Lit { start, end } => {
            let how = Text {
                url: false,
                cut: cut && end == text.len(),
            };
            secret_spans(text, start, end, how)
        }
        Token::Punct { .. } => Vec::new(),
    }
}
