//! Secrets found by their shape in any text (a string of a body, a plain-text body, a URL's
//! path or query, a summary): Roster's own secrets by their prefixes, JWTs, a credential after
//! `Bearer`, and the value a filter compares the password with (`password eq "…"`).

use super::Span;

/// The prefixes of Roster's own secrets: Secret Tokens, access tokens, client secrets, console
/// sessions, and the other one-time secrets it issues. A client id (`rci_`) is not a secret.
const SECRET_PREFIXES: [&str; 7] = ["rst_", "rat_", "rcs_", "rse_", "rsk_", "rpl_", "roi_"];

/// How many characters after a prefix make a secret (Roster's are 43), unless the text was
/// cut there (a cut secret is still a secret).
const MIN_SECRET_TAIL: usize = 16;

/// The operators a SCIM filter compares with (RFC 7644 §3.4.2.2).
const OPERATORS: [&[u8]; 9] = [
    b"eq", b"ne", b"co", b"sw", b"ew", b"gt", b"ge", b"lt", b"le",
];

/// What `text[from..to]` says: whether it is a URL's part (`+` and `%20` are spaces there, and
/// a secret may start right after an escape such as `%22`), and whether the text was cut at
/// `to` (so a short run reaching it may be the beginning of a secret).
#[derive(Debug, Clone, Copy)]
pub(super) struct Text {
    pub url: bool,
    pub cut: bool,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// The credential-shaped runs in `text[from..to]`.
pub(super) fn secret_spans(text: &str, from: usize, to: usize, how: Text) -> Vec<Span> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let long_enough =
        |start: usize, end: usize, min: usize| end - start >= min || (how.cut && end == to);
    // Whether a word may start at `i`: not inside another word; after an escape (`%22` in a
    // URL, `\n` in a JSON string) it may.
    let starts_word = |i: usize| {
        i == from
            || !is_word(b[i - 1])
            || (i >= from + 2 && b[i - 2] == b'\\')
            || (how.url
                && i >= from + 3
                && b[i - 3] == b'%'
                && b[i - 2].is_ascii_hexdigit()
                && b[i - 1].is_ascii_hexdigit())
    };
    let mut i = from;
    while i < to {
        if !starts_word(i) {
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
                spans.push(Span::redacted(i, j));
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
                spans.push(Span::redacted(i, j));
                i = j;
                continue;
            }
        }
        // A word, and what follows it that is a secret.
        let after = WORDS.iter().find_map(|(word, secret)| {
            (rest.len() > word.len() && rest[..word.len()].eq_ignore_ascii_case(word))
                .then(|| secret(b, i + word.len(), to, how))
                .flatten()
        });
        if let Some((start, end)) = after {
            spans.push(Span::redacted(start, end));
            i = end;
            continue;
        }
        i += 1;
    }
    spans
}

/// Where the secret after a word (which ends at the given place) lies, if one does.
type After = fn(&[u8], usize, usize, Text) -> Option<(usize, usize)>;

/// The words a secret follows: a credential after `Bearer`, a compared value after `password`.
const WORDS: [(&[u8], After); 2] = [(b"bearer", after_bearer), (b"password", compared)];

/// The length of the space at `b[i..to]`: blanks, and in a URL `+` and `%20`.
fn space(b: &[u8], i: usize, to: usize, url: bool) -> usize {
    let mut j = i;
    while j < to {
        if matches!(b[j], b' ' | b'\t') || (url && b[j] == b'+') {
            j += 1;
        } else if url && b[j..to].starts_with(b"%20") {
            j += 3;
        } else {
            break;
        }
    }
    j - i
}

/// The credential after `Bearer` (which ends at `i`): after a space, and an opening quote if
/// one comes, up to the next space, quote or comma (an escaped `\/` is part of it). `None`
/// when what follows is a word of a sentence ("the bearer token is not valid").
fn after_bearer(b: &[u8], i: usize, to: usize, how: Text) -> Option<(usize, usize)> {
    let gap = space(b, i, to, how.url);
    if gap == 0 {
        return None;
    }
    let mut start = i + gap;
    if b[start..to].starts_with(b"\\\"") {
        start += 2;
    } else if start < to && matches!(b[start], b'"' | b'\'') {
        start += 1;
    }
    let mut j = start;
    while j < to {
        match b[j] {
            b'\\' if b.get(j + 1) == Some(&b'/') => j += 2,
            b' ' | b'\t' | b'"' | b'\\' | b'\'' | b',' | b'\n' | b'&' => break,
            b'+' if how.url => break,
            _ => j += 1,
        }
    }
    // Sentence punctuation after a word is not part of it.
    let mut end = j;
    while end > start && matches!(b[end - 1], b'.' | b',' | b';' | b':' | b')' | b'!' | b'?') {
        end -= 1;
    }
    let run = &b[start..end];
    let cut = how.cut && j == to;
    (!run.is_empty() && is_credential(run, cut)).then_some((start, if cut { j } else { end }))
}

/// Whether what follows `Bearer ` is a credential rather than a word: 20 characters or more,
/// or 8 or more with a digit or a character no word has (`_`, `~`, `+`, `/`, `=`), or the
/// start of one where the text was cut.
fn is_credential(run: &[u8], cut: bool) -> bool {
    let unlike_a_word = run
        .iter()
        .any(|c| c.is_ascii_digit() || b"_~+/=".contains(c));
    cut || run.len() >= 20 || (run.len() >= 8 && unlike_a_word)
}

/// The value a filter compares the password with, after `password` (which ends at `i`):
/// `password eq "…"` (quoted, escaped-quoted in a JSON string, or `%22` in a URL) or an
/// unquoted value. A guess at a password is a password.
fn compared(b: &[u8], i: usize, to: usize, how: Text) -> Option<(usize, usize)> {
    let gap = space(b, i, to, how.url);
    let op = i + gap;
    if gap == 0
        || op + 2 > to
        || !OPERATORS
            .iter()
            .any(|o| b[op..op + 2].eq_ignore_ascii_case(o))
    {
        return None;
    }
    let gap = space(b, op + 2, to, how.url);
    if gap == 0 {
        return None;
    }
    let start = op + 2 + gap;
    if b[start..to].starts_with(super::REDACTED.as_bytes()) {
        return None;
    }
    // Longest first: a quote escaped twice (a filter quoted in a JSON string's message), once
    // (in a JSON string), plain, and in a URL.
    let quotes: [&[u8]; 4] = [b"\\\\\\\"", b"\\\"", b"\"", b"%22"];
    let end = match quotes.iter().find(|q| b[start..to].starts_with(q)) {
        Some(q) => {
            let mut j = start + q.len();
            loop {
                if j >= to {
                    break to;
                }
                if b[j..to].starts_with(q) {
                    break j + q.len();
                }
                // An escaped quote inside a quoted value (`\"` before the closing `"`).
                j += if q.len() == 1 && b[j] == b'\\' { 2 } else { 1 };
            }
        }
        None => {
            let mut j = start;
            while j < to
                && !matches!(b[j], b' ' | b'\t' | b')' | b'&' | b'"' | b'\\' | b',')
                && !(how.url && (b[j] == b'+' || b[j..to].starts_with(b"%20")))
            {
                j += 1;
            }
            j
        }
    };
    (end > start).then_some((start, end.min(to)))
}
