//! The parsers for filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2), written with winnow.
//!
//! The grammar is LL(1) once the input is cut into tokens, so nothing here backtracks more
//! than one token: `and`/`or` chains are loops (left-associative), and the only recursion is
//! into `( )`, `not ( )` and `[ ]`, which counts its depth and stops at the limit. Parsing is
//! therefore linear in the input, and the stack depth is bounded whatever the input.

use winnow::error::{ErrMode, ParserError};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location, Stateful, Stream};
use winnow::token::{take_till, take_while};

use super::{CompValue, CompareOp, Filter, FilterError, FilterErrorKind, PatchPath};
use crate::path::{AttrPath, is_name_char, is_name_start};

/// How strictly to parse, and the limits. Crate-internal: the tolerant parsing of known client
/// quirks is used by [`crate::dialect`] without changing what [`Filter::parse`] accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    /// The longest input accepted, in bytes.
    pub(crate) max_len: usize,
    /// The deepest nesting of `( )`, `not ( )` and `[ ]`.
    pub(crate) max_depth: usize,
    /// Whether a comparison value may be an unquoted run of characters (`userName sw O`,
    /// `displayName eq Group1`, `meta.created gt 2015-10-10T14:38:21-07:00`), read as a
    /// string unless it is `true`, `false`, `null` or a JSON number. Microsoft's SCIM test
    /// collection sends such filters.
    pub(crate) unquoted_values: bool,
}

impl Options {
    /// RFC 7644 as written, with the public limits.
    pub(crate) const STRICT: Options = Options {
        max_len: super::MAX_LEN,
        max_depth: super::MAX_DEPTH,
        unquoted_values: false,
    };

    /// [`Options::STRICT`] with unquoted values allowed.
    pub(crate) const LENIENT: Options = Options {
        unquoted_values: true,
        ..Options::STRICT
    };
}

#[derive(Debug)]
struct State<'i> {
    /// The whole input, for messages that point back at an earlier token.
    src: &'i str,
    depth: usize,
    max_depth: usize,
    unquoted_values: bool,
    /// How many unquoted values were read (only ever non-zero when they are allowed).
    unquoted: usize,
}

type Input<'i> = Stateful<LocatingSlice<&'i str>, State<'i>>;

/// A parse failure: where, and what was expected there.
#[derive(Debug)]
struct Fail {
    position: usize,
    kind: FilterErrorKind,
}

impl<'i> ParserError<Input<'i>> for Fail {
    type Inner = Self;

    fn from_input(input: &Input<'i>) -> Self {
        // Only reached if a winnow primitive fails where the code did not expect it; the
        // hand-written checks give every expected failure its own message.
        Fail {
            position: input.current_token_start(),
            kind: FilterErrorKind::Syntax("unexpected input".into()),
        }
    }

    fn into_inner(self) -> Result<Self::Inner, Self> {
        Ok(self)
    }
}

type PResult<T> = Result<T, ErrMode<Fail>>;

/// A failure that stops the parse: the grammar has only one way forward at each point.
fn cut<T>(position: usize, message: impl Into<String>) -> PResult<T> {
    Err(ErrMode::Cut(Fail {
        position,
        kind: FilterErrorKind::Syntax(message.into()),
    }))
}

fn pos(input: &Input<'_>) -> usize {
    input.current_token_start()
}

/// What the innermost enclosing construct is, for the closing token and the messages.
#[derive(Debug, Clone, Copy)]
enum Closer {
    /// The end of the input.
    End,
    /// `)`, opened at this byte.
    Paren(usize),
    /// `]`, opened at this byte.
    Bracket(usize),
}

#[derive(Debug, Clone, Copy)]
struct Ctx {
    closer: Closer,
    /// Inside `[...]`: paths are sub-attribute names and brackets do not nest.
    in_brackets: bool,
}

const TOP: Ctx = Ctx {
    closer: Closer::End,
    in_brackets: false,
};

fn is_ws(c: char) -> bool {
    c.is_ascii_whitespace()
}

fn is_path_char(c: char) -> bool {
    is_name_char(c) || c == ':' || c == '.'
}

fn ws0<'i>(input: &mut Input<'i>) -> PResult<&'i str> {
    take_while(0.., is_ws).parse_next(input)
}

fn word<'i>(input: &mut Input<'i>) -> PResult<&'i str> {
    take_while(0.., is_name_char).parse_next(input)
}

fn path_token<'i>(input: &mut Input<'i>) -> PResult<&'i str> {
    take_while(0.., is_path_char).parse_next(input)
}

/// The rest of the input, without consuming it.
fn rest<'i>(input: &Input<'i>) -> &'i str {
    input.peek_slice(input.eof_offset())
}

fn new_input<'i>(src: &'i str, options: &Options) -> Input<'i> {
    Stateful {
        input: LocatingSlice::new(src),
        state: State {
            src,
            depth: 0,
            max_depth: options.max_depth,
            unquoted_values: options.unquoted_values,
            unquoted: 0,
        },
    }
}

fn check_len(src: &str, options: &Options) -> Result<(), FilterError> {
    if src.len() <= options.max_len {
        return Ok(());
    }
    // Do not copy a hostile megabyte into the error (and from there into a response body).
    let mut end = 64;
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    Err(FilterError {
        input: format!("{}...", &src[..end]),
        position: options.max_len,
        kind: FilterErrorKind::TooLong,
    })
}

fn to_error(src: &str, e: ErrMode<Fail>) -> FilterError {
    let (position, kind) = match e {
        ErrMode::Backtrack(f) | ErrMode::Cut(f) => (f.position, f.kind),
        ErrMode::Incomplete(_) => (src.len(), FilterErrorKind::Syntax("unexpected end".into())),
    };
    FilterError {
        input: src.to_owned(),
        position,
        kind,
    }
}

/// Something parsed, with how many unquoted values [`Options::unquoted_values`] let through.
pub(crate) struct Parsed<T> {
    /// What was parsed.
    pub(crate) value: T,
    /// The number of unquoted comparison values read.
    pub(crate) unquoted: usize,
}

/// Parses a whole filter.
pub(crate) fn filter(src: &str, options: &Options) -> Result<Filter, FilterError> {
    filter_counted(src, options).map(|p| p.value)
}

/// Parses a whole filter, counting the unquoted values.
pub(crate) fn filter_counted(src: &str, options: &Options) -> Result<Parsed<Filter>, FilterError> {
    check_len(src, options)?;
    let mut input = new_input(src, options);
    let parsed = (|| {
        ws0(&mut input)?;
        let f = or_expr(&mut input, TOP)?;
        close(&mut input, TOP)?;
        Ok(f)
    })();
    parsed
        .map(|value| Parsed {
            value,
            unquoted: input.state.unquoted,
        })
        .map_err(|e| to_error(src, e))
}

/// Parses a whole PATCH path: `attrPath` or `valuePath ["." subAttr]`.
pub(crate) fn patch_path(src: &str, options: &Options) -> Result<PatchPath, FilterError> {
    patch_path_counted(src, options).map(|p| p.value)
}

/// Parses a whole PATCH path, counting the unquoted values in its filter.
pub(crate) fn patch_path_counted(
    src: &str,
    options: &Options,
) -> Result<Parsed<PatchPath>, FilterError> {
    check_len(src, options)?;
    let mut input = new_input(src, options);
    let parsed = (|| {
        ws0(&mut input)?;
        let start = pos(&input);
        let token = path_token(&mut input)?;
        if token.is_empty() {
            return cut(
                start,
                "expected an attribute path, e.g. name.givenName or emails",
            );
        }
        let attribute = to_path(token, start)?;
        let mut filter = None;
        let mut sub_attribute = None;
        ws0(&mut input)?;
        if input.peek_token() == Some('[') {
            filter = Some(*bracket(&mut input, &attribute, TOP)?);
            if input.peek_token() == Some('.') {
                input.next_token();
                let at = pos(&input);
                let name = word(&mut input)?;
                if !name.starts_with(is_name_start) {
                    return cut(at, "expected a sub-attribute name after '.'");
                }
                sub_attribute = Some(name.to_owned());
            }
        }
        ws0(&mut input)?;
        if let Some(c) = input.peek_token() {
            let wanted = if sub_attribute.is_some() {
                "the end of the path"
            } else if filter.is_some() {
                "'.' and a sub-attribute, or the end of the path"
            } else {
                "'[' or the end of the path"
            };
            let message = format!("expected {wanted}; found {c:?}");
            return cut(pos(&input), message);
        }
        Ok(PatchPath {
            attribute,
            filter,
            sub_attribute,
        })
    })();
    parsed
        .map(|value| Parsed {
            value,
            unquoted: input.state.unquoted,
        })
        .map_err(|e| to_error(src, e))
}

/// `and_expr ("or" and_expr)*`, folded to the left.
fn or_expr(input: &mut Input<'_>, ctx: Ctx) -> PResult<Filter> {
    let mut acc = and_expr(input, ctx)?;
    while keyword(input, "or")? {
        let rhs = and_expr(input, ctx)?;
        acc = Filter::Or(Box::new(acc), Box::new(rhs));
    }
    Ok(acc)
}

/// `unary ("and" unary)*`, folded to the left: `and` binds tighter than `or`.
fn and_expr(input: &mut Input<'_>, ctx: Ctx) -> PResult<Filter> {
    let mut acc = unary(input, ctx)?;
    while keyword(input, "and")? {
        let rhs = unary(input, ctx)?;
        acc = Filter::And(Box::new(acc), Box::new(rhs));
    }
    Ok(acc)
}

/// Skips spaces, then consumes `kw` (any case) if it comes next as a word of its own, with
/// the spaces after it. Operands end greedily (a value or `pr` takes every name character),
/// so `and`/`or` can only start a new token here.
fn keyword(input: &mut Input<'_>, kw: &str) -> PResult<bool> {
    ws0(input)?;
    let r = rest(input).as_bytes();
    let n = kw.len();
    let found = r.len() >= n
        && r[..n].eq_ignore_ascii_case(kw.as_bytes())
        && r.get(n)
            .is_none_or(|&b| b == b'(' || (b as char).is_ascii_whitespace());
    if found {
        let _ = input.next_slice(n);
        ws0(input)?;
    }
    Ok(found)
}

/// Expects the token that closes `ctx` (after optional spaces).
fn close(input: &mut Input<'_>, ctx: Ctx) -> PResult<()> {
    ws0(input)?;
    let at = pos(input);
    let next = input.peek_token();
    match (ctx.closer, next) {
        (Closer::End, None) => return Ok(()),
        (Closer::Paren(_), Some(')')) | (Closer::Bracket(_), Some(']')) => {
            input.next_token();
            return Ok(());
        }
        (Closer::End, Some(')')) => return cut(at, "')' without a matching '('"),
        (Closer::End, Some(']')) => return cut(at, "']' without a matching '['"),
        _ => {}
    }
    let wanted = match ctx.closer {
        Closer::End => "the end of the filter".to_owned(),
        Closer::Paren(open) => format!("')' to close the '(' at {open}"),
        Closer::Bracket(open) => format!("']' to close the '[' at {open}"),
    };
    match next {
        None => cut(at, format!("expected 'and', 'or' or {wanted}")),
        Some(c) if is_name_char(c) => {
            let found = word(input)?;
            cut(
                at,
                format!("expected 'and', 'or' or {wanted}; found {found:?}"),
            )
        }
        Some(c) => cut(at, format!("expected 'and', 'or' or {wanted}; found {c:?}")),
    }
}

/// Counts one more level of nesting, refusing to go past the limit.
fn enter(input: &mut Input<'_>, at: usize) -> PResult<()> {
    if input.state.depth >= input.state.max_depth {
        return Err(ErrMode::Cut(Fail {
            position: at,
            kind: FilterErrorKind::TooDeep,
        }));
    }
    input.state.depth += 1;
    Ok(())
}

/// `( filter )` and `not ( filter )` after the `(` has been seen.
fn parenthesised(input: &mut Input<'_>, ctx: Ctx) -> PResult<Filter> {
    let open = pos(input);
    enter(input, open)?;
    input.next_token();
    ws0(input)?;
    let inner = Ctx {
        closer: Closer::Paren(open),
        ..ctx
    };
    let f = or_expr(input, inner)?;
    close(input, inner)?;
    input.state.depth -= 1;
    Ok(f)
}

/// `attr[filter]` after the attribute path, with the `[` next.
fn bracket(input: &mut Input<'_>, path: &AttrPath, ctx: Ctx) -> PResult<Box<Filter>> {
    let open = pos(input);
    if ctx.in_brackets {
        return cut(open, "value filters cannot be nested: '[' inside '[...]'");
    }
    if path.sub_attribute.is_some() {
        return cut(
            open,
            format!(
                "a value filter applies to a multi-valued or complex attribute, not to the sub-attribute {path}"
            ),
        );
    }
    enter(input, open)?;
    input.next_token();
    ws0(input)?;
    let inner = Ctx {
        closer: Closer::Bracket(open),
        in_brackets: true,
    };
    let f = or_expr(input, inner)?;
    close(input, inner)?;
    input.state.depth -= 1;
    Ok(Box::new(f))
}

fn to_path(token: &str, start: usize) -> PResult<AttrPath> {
    AttrPath::parse(token).or_else(|e| cut(start + e.position, e.reason))
}

/// One operand: `( filter )`, `not ( filter )`, `attrPath [ filter ]`, `attrPath pr` or
/// `attrPath op value`.
fn unary(input: &mut Input<'_>, ctx: Ctx) -> PResult<Filter> {
    let start = pos(input);
    match input.peek_token() {
        Some('(') => parenthesised(input, ctx),
        Some(c) if is_path_char(c) => {
            let token = path_token(input)?;
            if token.eq_ignore_ascii_case("not") {
                // `not` is a keyword only before `(`; otherwise it is an attribute name.
                let after = input.checkpoint();
                ws0(input)?;
                if input.peek_token() == Some('(') {
                    return Ok(Filter::Not(Box::new(parenthesised(input, ctx)?)));
                }
                input.reset(&after);
            }
            let path = to_path(token, start)?;
            attr_expr(input, path, start, ctx)
        }
        None => cut(
            start,
            "expected a filter: an attribute path, '(' or 'not (', found the end",
        ),
        Some(c) => cut(
            start,
            format!("expected a filter: an attribute path, '(' or 'not (', found {c:?}"),
        ),
    }
}

enum Op {
    Present,
    Compare(CompareOp),
}

/// What follows an attribute path in a filter.
fn attr_expr(input: &mut Input<'_>, path: AttrPath, start: usize, ctx: Ctx) -> PResult<Filter> {
    // Spaces before `[` are tolerated: nothing else can start with it.
    let spaces = ws0(input)?;
    if input.peek_token() == Some('[') {
        let filter = bracket(input, &path, ctx)?;
        if input.peek_token() == Some('.') {
            return cut(
                pos(input),
                "a sub-attribute after ']' is only allowed in PATCH paths; in a filter, move the comparison into the brackets",
            );
        }
        return Ok(Filter::ValuePath { path, filter });
    }
    if ctx.in_brackets && (path.schema.is_some() || path.sub_attribute.is_some()) {
        return cut(
            start,
            format!(
                "inside '[...]', name a sub-attribute of the bracketed attribute without a schema or '.', not {path}"
            ),
        );
    }
    let at = pos(input);
    let op_token = word(input)?;
    let op = if spaces.is_empty() {
        // The path token takes every name character, so what follows is not an operator.
        None
    } else if op_token.eq_ignore_ascii_case("pr") {
        Some(Op::Present)
    } else {
        CompareOp::from_name(op_token).map(Op::Compare)
    };
    let op = match op {
        Some(Op::Present) => return Ok(Filter::Present(path)),
        Some(Op::Compare(op)) => op,
        None => {
            if path.schema.is_none()
                && path.sub_attribute.is_none()
                && path.attribute.eq_ignore_ascii_case("not")
            {
                return cut(
                    start,
                    "'not' must be followed by a filter in parentheses: not (...)",
                );
            }
            let found = match input.state.src[at..].chars().next() {
                None => "the end".to_owned(),
                Some(_) if !op_token.is_empty() => format!("{op_token:?}"),
                Some(c) => format!("{c:?}"),
            };
            let wanted = if spaces.is_empty() {
                "a space and an operator"
            } else {
                "an operator (eq, ne, co, sw, ew, gt, lt, ge, le, pr)"
            };
            return cut(at, format!("expected {wanted} after {path}, found {found}"));
        }
    };
    if ws0(input)?.is_empty() {
        let at = pos(input);
        return match input.peek_token() {
            None => cut(at, format!("expected a value after '{op}'")),
            Some(c) => cut(
                at,
                format!("expected a space before the value after '{op}', found {c:?}"),
            ),
        };
    }
    let value = value(input)?;
    Ok(Filter::Compare { path, op, value })
}

/// `compValue`: a JSON string, number, `true`, `false` or `null`.
fn value(input: &mut Input<'_>) -> PResult<CompValue> {
    let start = pos(input);
    match input.peek_token() {
        Some('"') => string(input).map(CompValue::String),
        Some(_) if input.state.unquoted_values => unquoted(input),
        Some(c) if c == '-' || c.is_ascii_digit() => number(input),
        Some(c) if is_name_char(c) => {
            let token = word(input)?;
            if token.eq_ignore_ascii_case("true") {
                Ok(CompValue::Bool(true))
            } else if token.eq_ignore_ascii_case("false") {
                Ok(CompValue::Bool(false))
            } else if token.eq_ignore_ascii_case("null") {
                Ok(CompValue::Null)
            } else {
                cut(
                    start,
                    format!("expected a value, found {token:?}: strings must be in double quotes"),
                )
            }
        }
        None => cut(
            start,
            "expected a value: a string in double quotes, a number, true, false or null",
        ),
        Some(c) => cut(
            start,
            format!(
                "expected a value: a string in double quotes, a number, true, false or null; found {c:?}"
            ),
        ),
    }
}

/// A value without quotes (lenient parsing only): the run of characters up to a space, `)` or
/// `]`, read as `true`, `false`, `null` or a number when it is one, and as a string otherwise.
/// It is counted only when it became a string, the one reading strict parsing would refuse.
fn unquoted(input: &mut Input<'_>) -> PResult<CompValue> {
    let start = pos(input);
    let token: &str =
        take_till(0.., |c: char| is_ws(c) || c == ')' || c == ']').parse_next(input)?;
    let literal = if token.eq_ignore_ascii_case("true") {
        Some(CompValue::Bool(true))
    } else if token.eq_ignore_ascii_case("false") {
        Some(CompValue::Bool(false))
    } else if token.eq_ignore_ascii_case("null") {
        Some(CompValue::Null)
    } else {
        json_number(token).map(CompValue::Number)
    };
    if let Some(v) = literal {
        return Ok(v);
    }
    if token.is_empty() {
        return cut(start, "expected a value after the operator");
    }
    input.state.unquoted += 1;
    Ok(CompValue::String(token.to_owned()))
}

/// A JSON number, kept as serde_json reads it (integers exactly, the rest as `f64`).
fn number(input: &mut Input<'_>) -> PResult<CompValue> {
    let start = pos(input);
    // Take everything that could belong to the token, so that `12abc` fails as a whole
    // rather than as `12` followed by garbage.
    let token: &str = take_while(1.., |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.')
    })
    .parse_next(input)?;
    match json_number(token) {
        Some(n) => Ok(CompValue::Number(n)),
        None => cut(
            start,
            format!("expected a JSON number (like 42, -1.5 or 6.02e23), found {token:?}"),
        ),
    }
}

/// `token` read as a JSON number, if it is one.
fn json_number(token: &str) -> Option<serde_json::Number> {
    // serde_json checks the JSON grammar and the range; its fast float reading can be one
    // unit in the last place off, so floats are read again with the standard library, which
    // rounds correctly and so reads back exactly what the printer wrote.
    let n = token.parse::<serde_json::Number>().ok()?;
    if !n.is_f64() {
        return Some(n);
    }
    Some(
        token
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .unwrap_or(n),
    )
}

/// A JSON string with every JSON escape, including surrogate pairs.
fn string(input: &mut Input<'_>) -> PResult<String> {
    let open = pos(input);
    input.next_token();
    let mut out = String::new();
    loop {
        let chunk: &str =
            take_till(0.., |c: char| c == '"' || c == '\\' || c < ' ').parse_next(input)?;
        out.push_str(chunk);
        let at = pos(input);
        match input.next_token() {
            None => {
                return cut(
                    at,
                    format!("expected '\"' to close the string that starts at {open}"),
                );
            }
            Some('"') => return Ok(out),
            Some('\\') => out.push(escape(input, at)?),
            Some(c) => {
                return cut(
                    at,
                    format!(
                        "control character U+{:04X} in a string: write it as an escape such as \\n or \\u{:04x}",
                        c as u32, c as u32
                    ),
                );
            }
        }
    }
}

/// The character of an escape whose `\` (at `at`) has been consumed.
fn escape(input: &mut Input<'_>, at: usize) -> PResult<char> {
    let c = match input.next_token() {
        Some('"') => '"',
        Some('\\') => '\\',
        Some('/') => '/',
        Some('b') => '\u{8}',
        Some('f') => '\u{c}',
        Some('n') => '\n',
        Some('r') => '\r',
        Some('t') => '\t',
        Some('u') => {
            let high = hex4(input, at)?;
            match high {
                0xD800..=0xDBFF => {
                    let low_at = pos(input);
                    if !rest(input).starts_with("\\u") {
                        return cut(
                            at,
                            "unpaired surrogate: \\uD800-\\uDBFF must be followed by an escape \\uDC00-\\uDFFF",
                        );
                    }
                    let _ = input.next_slice(2);
                    let low = hex4(input, low_at)?;
                    if !(0xDC00..=0xDFFF).contains(&low) {
                        return cut(
                            low_at,
                            "unpaired surrogate: expected an escape \\uDC00-\\uDFFF after \\uD800-\\uDBFF",
                        );
                    }
                    let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                    char::from_u32(code).expect("a surrogate pair encodes a scalar value")
                }
                0xDC00..=0xDFFF => {
                    return cut(
                        at,
                        "unpaired surrogate: \\uDC00-\\uDFFF must follow an escape \\uD800-\\uDBFF",
                    );
                }
                _ => char::from_u32(high).expect("a non-surrogate below 0x10000 is a scalar"),
            }
        }
        None => {
            return cut(
                at + 1,
                "expected an escape after '\\' and then '\"' to close the string",
            );
        }
        _ => {
            return cut(
                at,
                "invalid escape: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX",
            );
        }
    };
    Ok(c)
}

/// Four hex digits after `\u` (the escape starts at `at`).
fn hex4(input: &mut Input<'_>, at: usize) -> PResult<u32> {
    let digits: &str = take_while(0..=4, |c: char| c.is_ascii_hexdigit()).parse_next(input)?;
    if digits.len() != 4 {
        return cut(at, "invalid escape: expected four hex digits after \\u");
    }
    Ok(u32::from_str_radix(digits, 16).expect("four hex digits"))
}
