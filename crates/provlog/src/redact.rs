//! Bodies as the log stores them: text (invalid UTF-8 replaced), with every secret replaced
//! by `[redacted]`, then cut at [`BODY_LIMIT`] bytes with a marker.
//!
//! What counts as a secret: the value of a `password` attribute at any depth (and the `value`
//! of a PATCH operation whose `path` is `password`); the value of the OAuth fields
//! `client_secret`, `client_assertion`, `assertion`, `access_token`, `refresh_token`,
//! `id_token`, `token` and `secret`, as JSON keys, form fields or query parameters; and
//! anything shaped like a credential wherever it appears: Roster's own tokens (`rst_`, `rat_`,
//! `rcs_`, `rse_`, `rsk_`, `rpl_`, `roi_` and what follows), a JWT (base64url starting `eyJ`, the
//! encoding of `{"`), and a credential after `Bearer ` (not a word: "the bearer token is not
//! valid" keeps its words). Keys are compared without case, after unescaping.
//!
//! Bodies are scanned, not parsed, so a body cut in the middle (or one that was never valid
//! JSON, the reason it was refused: a comma or a colon missing) is redacted all the same, and
//! what is kept is the text the client sent, not a re-serialisation of it. The request's path
//! and query string are redacted the same way ([`stored_target`]): a client that sends its
//! token as `?access_token=` must not find it in the log.

use crate::BODY_LIMIT;
use crate::json_scan::{Token, string_value, tokens};

/// What replaces a secret.
pub(crate) const REDACTED: &str = "[redacted]";

/// Keys whose values are secrets (compared in lower case).
const SECRET_KEYS: [&str; 9] = [
    "password",
    "secret",
    "token",
    "client_secret",
    "client_assertion",
    "assertion",
    "access_token",
    "refresh_token",
    "id_token",
];

/// The prefixes of Roster's own secrets: Secret Tokens, access tokens, client secrets, and
/// the other one-time secrets it issues. A client id (`rci_`) is not a secret.
const SECRET_PREFIXES: [&str; 7] = ["rst_", "rat_", "rcs_", "rse_", "rsk_", "rpl_", "roi_"];

/// How many characters after a prefix make a secret (Roster's are 43), unless the text ends
/// there (a cut secret is still a secret).
const MIN_SECRET_TAIL: usize = 16;

/// `body` as stored: redacted, then cut at [`BODY_LIMIT`] bytes with a marker. `form` says
/// the body is `application/x-www-form-urlencoded` (the token endpoint's request).
///
/// A body that is valid UTF-8, holds nothing that could announce a secret and is within the
/// limit (most of them) becomes the stored text without being copied.
pub(crate) fn stored_body(body: Vec<u8>, form: bool) -> String {
    let received = body.len();
    let text = String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    cut(redacted(text, form), received)
}

/// A request's path or query string as stored: a query's secret parameters (`access_token=…`)
/// and anything shaped like a credential replaced. Most hold no clue, and are kept as they
/// are.
pub(crate) fn stored_target(text: String) -> String {
    if !has_clue(&text) {
        return text;
    }
    let mut spans = form_spans(&text);
    spans.extend(secret_spans_in(&text, 0, text.len(), true, true));
    apply(&text, spans)
}

/// What every secret, and every key or prefix that announces one, contains (without case): a
/// secret key's name, a prefix of Roster's secrets, a JWT's start, `Bearer`, and the escape
/// (`\u`) that could spell any of them.
const CLUES: [&str; 14] = [
    "password",
    "secret",
    "assertion",
    "token",
    "bearer",
    "eyj",
    "\\u",
    "rst_",
    "rat_",
    "rcs_",
    "rse_",
    "rsk_",
    "rpl_",
    "roi_",
];

/// Searches for all the [`CLUES`] at once (`None` on a CPU without the vector instructions
/// it needs).
static CLUE_SEARCH: std::sync::LazyLock<Option<aho_corasick::packed::Searcher>> =
    std::sync::LazyLock::new(|| aho_corasick::packed::Searcher::new(CLUES));

/// Searches for each of the [`CLUES`], where [`CLUE_SEARCH`] cannot.
static CLUE_FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    std::sync::LazyLock::new(|| {
        CLUES
            .iter()
            .map(|clue| memchr::memmem::Finder::new(clue.as_bytes()))
            .collect()
    });

/// Whether `text` holds one of the [`CLUES`], in any (ASCII) case. The text is lowered once,
/// then searched for all the clues in one vectorised pass (Teddy): for the bodies
/// `roster-bench` sends (905 bytes on average, none with a clue), 0.31 µs where a substring
/// search per clue took 0.56 µs and one case-insensitive automaton 1.9 µs (it reads one byte
/// at a time).
fn has_clue(text: &str) -> bool {
    let lowered = text.to_ascii_lowercase();
    match &*CLUE_SEARCH {
        Some(search) => search.find(lowered.as_bytes()).is_some(),
        None => CLUE_FINDERS
            .iter()
            .any(|clue| clue.find(lowered.as_bytes()).is_some()),
    }
}

/// `text` with its secrets replaced.
fn redacted(text: String, form: bool) -> String {
    // Most bodies hold no secret, and nothing that could announce one: kept as they are,
    // without being scanned token by token.
    if !form && !has_clue(&text) {
        return text;
    }
    scanned(&text, form)
}

/// [`redacted`], of borrowed text.
#[cfg(test)]
pub(crate) fn redact(text: &str, form: bool) -> String {
    redacted(text.to_owned(), form)
}

/// `text` with its secrets replaced, scanned token by token.
fn scanned(text: &str, form: bool) -> String {
    let trimmed = text.trim_start();
    let spans = if !form && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
        json_spans(text)
    } else if form || looks_like_form(text) {
        let mut spans = form_spans(text);
        spans.extend(secret_spans(text, 0, text.len(), true));
        spans
    } else {
        secret_spans(text, 0, text.len(), true)
    };
    apply(text, spans)
}

/// A replacement: the bytes `start..end` become `with`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: usize,
    end: usize,
    with: &'static str,
}

/// `text` with `spans` replaced; of overlapping spans, the one that starts first (and of
/// those, the longest) wins.
fn apply(text: &str, mut spans: Vec<Span>) -> String {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for s in spans {
        if s.start < at {
            continue;
        }
        out.push_str(&text[at..s.start]);
        out.push_str(s.with);
        at = s.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Whether `text` is shaped like `a=b&c=d`.
fn looks_like_form(text: &str) -> bool {
    let text = text.trim_end();
    !text.is_empty()
        && text.contains('=')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '{' || c == '"')
}

/// The values of secret form fields.
fn form_spans(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut at = 0;
    for pair in text.split('&') {
        if let Some((key, value)) = pair.split_once('=') {
            let name = form_urlencoded::parse(key.as_bytes())
                .next()
                .map(|(k, _)| k.to_lowercase())
                .unwrap_or_default();
            if is_secret_key(&name) && !value.is_empty() {
                let start = at + key.len() + 1;
                spans.push(Span {
                    start,
                    end: at + pair.len(),
                    with: REDACTED,
                });
            }
        }
        at += pair.len() + 1;
    }
    spans
}

fn is_secret_key(key: &str) -> bool {
    let key = key.rsplit(':').next().unwrap_or(key);
    SECRET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k))
}

/// Whether a PATCH `path` names the password (`password`, or with its schema's URN).
fn is_password_path(path: &str) -> bool {
    let base = path.rsplit(':').next().unwrap_or(path);
    base.trim().eq_ignore_ascii_case("password")
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
    /// The span of its `value`, once read.
    value: Option<(usize, usize)>,
}

/// The secrets of a JSON text, which may be cut or malformed.
fn json_spans(text: &str) -> Vec<Span> {
    let whole = |(start, end): (usize, usize)| Span {
        start,
        end,
        with: "\"[redacted]\"",
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
            Token::Punct { c: b'}' | b']', at } => {
                let Some(f) = stack.pop() else { continue };
                if f.password_op
                    && let Some(v) = f.value
                {
                    spans.push(whole(v));
                }
                if let Some(parent) = stack.last_mut() {
                    if f.key_in_parent.as_deref() == Some("value") {
                        parent.value = Some((f.start, at + 1));
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
                    spans.extend(token_secrets(text, tok));
                    continue;
                };
                if f.object && !f.after_colon && !f.key_pending {
                    f.key = string_value(text, tok).map(|k| k.to_lowercase());
                    f.key_pending = true;
                    continue;
                }
                // A value: what follows it in an object is a key, even when the comma is
                // missing (`{"userName":"eve" "password":"x"}`, a body refused as invalid).
                f.after_colon = false;
                f.key_pending = false;
                let key = if f.object { f.key.as_deref() } else { None };
                if f.secret || key.is_some_and(is_secret_key) {
                    spans.push(whole(tok.span()));
                    continue;
                }
                spans.extend(token_secrets(text, tok));
                match key {
                    Some("path")
                        if string_value(text, tok).is_some_and(|p| is_password_path(&p)) =>
                    {
                        f.password_op = true;
                    }
                    Some("value") => f.value = Some(tok.span()),
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
        if let Some(v) = f.value {
            spans.push(whole(v));
        } else if let Some(inner) = stack.get(i + 1)
            && inner.key_in_parent.as_deref() == Some("value")
        {
            spans.push(whole((inner.start, text.len())));
        }
    }
    spans
}

/// The credential-shaped parts of one token's text (a string's content).
fn token_secrets(text: &str, tok: Token) -> Vec<Span> {
    match tok {
        Token::Str { start, end, closed } => {
            let inner_end = if closed { end - 1 } else { end };
            secret_spans(text, start + 1, inner_end.max(start + 1), !closed)
        }
        Token::Lit { start, end } => secret_spans(text, start, end, end == text.len()),
        Token::Punct { .. } => Vec::new(),
    }
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The credential-shaped runs in `text[from..to]`; `at_end` says the text ends at `to` (the
/// body was cut there), so a short run reaching it may be the beginning of a secret.
fn secret_spans(text: &str, from: usize, to: usize, at_end: bool) -> Vec<Span> {
    secret_spans_in(text, from, to, at_end, false)
}

/// [`secret_spans`]; in a URL (`url`), a secret may also start right after an escape
/// (`%22rst_…`).
fn secret_spans_in(text: &str, from: usize, to: usize, at_end: bool, url: bool) -> Vec<Span> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let long_enough =
        |start: usize, end: usize, min: usize| end - start >= min || (at_end && end == to);
    let after_escape = |i: usize| {
        url && i >= from + 3
            && b[i - 3] == b'%'
            && b[i - 2].is_ascii_hexdigit()
            && b[i - 1].is_ascii_hexdigit()
    };
    let mut i = from;
    while i < to {
        if i > from && is_word(b[i - 1]) && !after_escape(i) {
            i += 1;
            continue;
        }
        let rest = &b[i..to];
        if let Some(p) = SECRET_PREFIXES
            .iter()
            .find(|p| rest.starts_with(p.as_bytes()))
        {
            let tail = i + p.len();
            let mut j = tail;
            while j < to && is_base64url(b[j]) {
                j += 1;
            }
            if j > tail && long_enough(tail, j, MIN_SECRET_TAIL) {
                spans.push(Span {
                    start: i,
                    end: j,
                    with: REDACTED,
                });
                i = j;
                continue;
            }
        }
        if rest.starts_with(b"eyJ") {
            let mut j = i;
            while j < to && (is_base64url(b[j]) || b[j] == b'.') {
                j += 1;
            }
            if long_enough(i, j, 16) {
                spans.push(Span {
                    start: i,
                    end: j,
                    with: REDACTED,
                });
                i = j;
                continue;
            }
        }
        if rest.len() > 7 && rest[..7].eq_ignore_ascii_case(b"bearer ") {
            let mut j = i + 7;
            while j < to && b[j] == b' ' {
                j += 1;
            }
            let start = j;
            while j < to && !matches!(b[j], b' ' | b'"' | b'\\' | b'\'' | b',' | b'\n') {
                j += 1;
            }
            if j > start && is_credential(&b[start..j], at_end && j == to) {
                spans.push(Span {
                    start,
                    end: j,
                    with: REDACTED,
                });
                i = j;
                continue;
            }
        }
        i += 1;
    }
    spans
}

/// Whether what follows `Bearer ` is a credential rather than a word of a sentence ("the
/// bearer token is not valid"): 20 characters or more, or 8 or more with a character no word
/// has (a digit, `-`, `.`, `_`, `~`, `+`, `/`, `=`), or the start of one where the text was
/// cut.
fn is_credential(run: &[u8], cut: bool) -> bool {
    let unlike_a_word = run
        .iter()
        .any(|c| c.is_ascii_digit() || b"-._~+/=".contains(c));
    cut || run.len() >= 20 || (run.len() >= 8 && unlike_a_word)
}

/// `text` cut at [`BODY_LIMIT`] bytes (on a character boundary) with a marker; `received` is
/// how many bytes the edge passed: one more than the limit means the body was longer and its
/// size is unknown.
fn cut(text: String, received: usize) -> String {
    if text.len() <= BODY_LIMIT && received <= BODY_LIMIT {
        return text;
    }
    let mut end = BODY_LIMIT.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let marker = if received > BODY_LIMIT + 1 {
        format!("… [cut: {} bytes in all]", thousands(received))
    } else if received == BODY_LIMIT + 1 {
        format!("… [cut at {} KiB]", BODY_LIMIT / 1024)
    } else {
        // Redaction made a body within the limit longer than it.
        format!("… [cut: {} bytes in all]", thousands(received))
    };
    format!("{}{marker}", &text[..end])
}

/// `n` with a comma between each group of three digits.
pub(crate) fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
