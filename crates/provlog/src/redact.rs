//! Bodies as the log stores them: text (invalid UTF-8 replaced), with every secret replaced
//! by `[redacted]`, then cut at [`BODY_LIMIT`] bytes with a marker.
//!
//! What counts as a secret: the value of a `password` attribute at any depth (and the `value`
//! of a PATCH operation whose `path` is `password`); the value of the OAuth fields
//! `client_secret`, `client_assertion`, `assertion`, `access_token`, `refresh_token`,
//! `id_token`, `token` and `secret`, as JSON keys, form fields or query parameters; and
//! anything shaped like a credential wherever it appears: Roster's own tokens (`rst_`, `rat_`,
//! `rcs_`, `rse_`, `rsk_`, `rpl_`, `roi_` and what follows), a JWT (base64url starting `eyJ`, the
//! encoding of `{"`), a credential after `Bearer ` (not a word: "the bearer token is not
//! valid" keeps its words), and the value a filter compares the password with (`password eq
//! "…"`: a guess at a password is one). Keys are compared without case, after unescaping.
//!
//! Bodies are scanned, not parsed (`json.rs`, `shapes.rs`), so a body cut in the middle (or
//! one that was never valid JSON, the reason it was refused) is redacted all the same, and
//! what is kept is the text the client sent, not a re-serialisation of it. The request's path
//! and query string are redacted the same way ([`stored_target`]), percent-encoded or not: a
//! client that sends its token as `?access_token=` must not find it in the log. What the log
//! writes from a request's values (a summary, an explanation) is [`scrubbed`] of credential
//! shapes, and never quotes a password.

mod json;
mod shapes;

use crate::BODY_LIMIT;
use json::json_spans;
use shapes::{Text, secret_spans};

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

/// `body` as stored: redacted, then cut at [`BODY_LIMIT`] bytes with a marker. `form` says
/// the body is `application/x-www-form-urlencoded` (the token endpoint's request).
///
/// A body that is valid UTF-8, holds nothing that could announce a secret and is within the
/// limit (most of them) becomes the stored text without being copied.
pub(crate) fn stored_body(body: Vec<u8>, form: bool) -> String {
    let received = body.len();
    let text = String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    cut(redacted(text, form, received > BODY_LIMIT), received)
}

/// A request's path or query string as stored: a query's secret parameters (`access_token=…`)
/// and anything shaped like a credential replaced. Most hold no clue, and are kept as they
/// are.
///
/// A secret hidden by percent-encoding (`p%61ssword=…`, `rst%5F…`) is found in the decoded
/// text; the part is then stored decoded, with the secret replaced.
pub(crate) fn stored_target(text: String) -> String {
    let url = Text {
        url: true,
        cut: false,
    };
    let spans = |t: &str| {
        let mut spans = form_spans(t);
        spans.extend(secret_spans(t, 0, t.len(), url));
        spans
    };
    let kept = if has_clue(&text) {
        apply(&text, spans(&text))
    } else {
        text
    };
    if hides_a_letter(&kept) {
        let decoded = percent_encoding::percent_decode_str(&kept).decode_utf8_lossy();
        if has_clue(&decoded) {
            let found = spans(&decoded);
            if !found.is_empty() {
                return apply(&decoded, found);
            }
        }
    }
    kept
}

/// Whether `text` percent-encodes a letter, a digit or `_` (which no client needs to encode,
/// but which may spell a secret's key or prefix: `p%61ssword`, `rst%5F`). The quotes and `@`
/// of a filter (`%22`, `%40`) do not, and leave the text as it was sent.
fn hides_a_letter(text: &str) -> bool {
    let b = text.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    b.windows(3).any(|w| {
        w[0] == b'%'
            && hex(w[1])
                .zip(hex(w[2]))
                .and_then(|(h, l)| u8::try_from(h * 16 + l).ok())
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
    })
}

/// Text the log wrote from what a request sent (a summary, an explanation, a resource's name):
/// anything shaped like a credential replaced, as in a body (a search body's filter may have
/// named a token).
pub(crate) fn scrubbed(text: String) -> String {
    if !has_clue(&text) {
        return text;
    }
    let spans = secret_spans(
        &text,
        0,
        text.len(),
        Text {
            url: false,
            cut: false,
        },
    );
    if spans.is_empty() {
        text
    } else {
        apply(&text, spans)
    }
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

/// The one clue of two characters, the escape: searched alone (its first byte is rare in
/// text), so that the others are searched by three characters at a time.
const ESCAPE: &str = "\\u";

/// Searches for all the [`CLUES`] but the [`ESCAPE`] at once (`None` on a CPU without the
/// vector instructions it needs). With no clue shorter than three characters, the search
/// tells candidates apart by their first three (by two, most of a JSON body's words were
/// candidates to check: `se`, `ro`, `as`, ...).
static CLUE_SEARCH: std::sync::LazyLock<Option<aho_corasick::packed::Searcher>> =
    std::sync::LazyLock::new(|| {
        aho_corasick::packed::Searcher::new(CLUES.iter().filter(|c| **c != ESCAPE))
    });

/// Searches for the [`ESCAPE`].
static ESCAPE_FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(ESCAPE.as_bytes()));

/// Searches for each of the [`CLUES`], where [`CLUE_SEARCH`] cannot.
static CLUE_FINDERS: std::sync::LazyLock<Vec<memchr::memmem::Finder<'static>>> =
    std::sync::LazyLock::new(|| {
        CLUES
            .iter()
            .map(|clue| memchr::memmem::Finder::new(clue.as_bytes()))
            .collect()
    });

/// Whether `text` holds one of the [`CLUES`], in any (ASCII) case. The text is lowered once,
/// then searched for all the clues in one vectorised pass (Teddy), and for the escape apart:
/// for the bodies `roster-bench` sends (905 bytes on average, none with a clue), 0.31 µs where
/// a substring search per clue took 0.56 µs and one case-insensitive automaton 1.9 µs (it
/// reads one byte at a time). Taking the escape apart halved the pass's share of describing a
/// filter lookup (13 % to 6 % of `entry_bench filter`).
fn has_clue(text: &str) -> bool {
    let lowered = text.to_ascii_lowercase();
    match &*CLUE_SEARCH {
        Some(search) => {
            ESCAPE_FINDER.find(lowered.as_bytes()).is_some()
                || search.find(lowered.as_bytes()).is_some()
        }
        None => CLUE_FINDERS
            .iter()
            .any(|clue| clue.find(lowered.as_bytes()).is_some()),
    }
}

/// `text` with its secrets replaced; `cut` says the body was longer than what was kept.
fn redacted(text: String, form: bool, cut: bool) -> String {
    // Most bodies hold no secret, and nothing that could announce one: kept as they are,
    // without being scanned token by token.
    if !form && !has_clue(&text) {
        return text;
    }
    scanned(&text, form, cut)
}

/// [`redacted`], of a whole borrowed text.
#[cfg(test)]
pub(crate) fn redact(text: &str, form: bool) -> String {
    redacted(text.to_owned(), form, false)
}

/// [`redacted`], of a borrowed text that was cut at its end.
#[cfg(test)]
pub(crate) fn redact_cut(text: &str) -> String {
    redacted(text.to_owned(), false, true)
}

/// `text` with its secrets replaced, scanned token by token.
fn scanned(text: &str, form: bool, cut: bool) -> String {
    let how = Text { url: false, cut };
    // A byte-order mark is not what makes a body JSON or not.
    let trimmed = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let spans = if !form && (trimmed.starts_with('{') || trimmed.starts_with('[')) {
        json_spans(text, cut)
    } else if form || looks_like_form(text) {
        let mut spans = form_spans(text);
        spans.extend(secret_spans(text, 0, text.len(), how));
        spans
    } else {
        secret_spans(text, 0, text.len(), how)
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

impl Span {
    /// `start..end` become [`REDACTED`].
    fn redacted(start: usize, end: usize) -> Span {
        Span {
            start,
            end,
            with: REDACTED,
        }
    }
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
            let name = crate::form::unescape(key.as_bytes(), true).to_lowercase();
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

pub(crate) fn is_secret_key(key: &str) -> bool {
    let key = key.rsplit(':').next().unwrap_or(key);
    SECRET_KEYS.iter().any(|k| key.eq_ignore_ascii_case(k))
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
