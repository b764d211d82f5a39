//! The provisioning log's entries on SQLite as blocks: the entries of one tenant that one batch
//! writes, at most [`BLOCK_MAX`], are one row of `provisioning_log_blocks`, in two values.
//! `heads` holds, entry by entry, what a page's filters look at (`seq`, time, outcome, action,
//! client, the resource's number, id and key) and where the rest of the entry lies in `body`
//! (every other field, the bodies among them). A page reads the heads of the blocks it walks
//! and only the bodies of the entries it shows.
//!
//! A row per entry cost the log's writer about 9 µs per entry whatever it held (the table's
//! b-tree, three indexes, 25 values bound); a block costs it about 1 µs per entry, and the
//! one narrow row per entry in `provisioning_log_rids` about 1 µs more (see `provisioning_log`).
//!
//! This module is pure: it turns entries into the two values and back, and checks an entry's
//! head against a page's filters. The format starts with a version byte; a block of a version
//! this build does not know is an error, never guessed at.

use roster_store::{LogEntry, LogQuery, Outcome, StoreError, TenantId};

use crate::log_frames::{self, Frames, LastFrame, from_slice};
use time::OffsetDateTime;

/// The most entries one block holds: an entry's detail reads the heads of one block (about
/// 20 KB at this size) and the part of its body that entry takes.
pub(crate) const BLOCK_MAX: usize = 256;

/// The format's version, the first byte of `heads` and of `body`.
const VERSION: u8 = 1;

/// A time as the log compares and stores it: microseconds since 1970, as the text form the
/// rest of the store writes (`ts`) keeps them.
pub(crate) fn micros(t: OffsetDateTime) -> i64 {
    let micros = t.unix_timestamp_nanos().div_euclid(1000);
    i64::try_from(micros).unwrap_or(if micros < 0 { i64::MIN } else { i64::MAX })
}

/// An entry to store: the entry, the `seq` it gets, its resource's key and number.
pub(crate) struct Pending<'a> {
    pub entry: &'a LogEntry,
    pub seq: i64,
    pub key: &'a str,
    pub rid: Option<i64>,
}

/// What a block's row holds besides its tenant: the two values, the range of its `seq`s and
/// times, and its counts by outcome (the health summary adds up whole blocks).
#[derive(Debug, Default)]
pub(crate) struct Block {
    pub heads: Vec<u8>,
    pub body: Vec<u8>,
    pub first_seq: i64,
    pub last_seq: i64,
    pub min_at: i64,
    pub max_at: i64,
    pub total: i64,
    pub refused: i64,
    pub failed: i64,
    /// What the block's entries are, as bits (see [`needed`]): a page filtered by outcome,
    /// action or client reads the heads only of blocks that may hold what it asks.
    pub kinds: i64,
}

/// The actions the log names (see `LogEntry::action`), each a bit of a block's `kinds`.
const ACTIONS: [&str; 11] = [
    "create",
    "replace",
    "update",
    "delete",
    "get",
    "list",
    "search",
    "bulk",
    "token",
    "discovery",
    "other",
];

/// The identity providers the log tells apart (see `LogEntry::client`), likewise.
const CLIENTS: [&str; 4] = ["entra", "okta", "onelogin", "other"];

/// The first bit of each filter's values in `kinds`: three outcomes, then the actions and one
/// bit for any other action, then the clients and one for any other client. The bits are
/// stored: a value keeps its bit for ever, a new value takes the bit for "any other".
const ACTION_BITS: u32 = 3;
const CLIENT_BITS: u32 = ACTION_BITS + ACTIONS.len() as u32 + 1;

/// The bit of `value` among `names`, from `first`; `first + names.len()` for any other value.
fn bit(first: u32, names: &[&str], value: &str) -> i64 {
    let at = names
        .iter()
        .position(|n| *n == value)
        .unwrap_or(names.len());
    1 << (first + at as u32)
}

/// The bit of an outcome in a block's `kinds`.
fn outcome_mark(outcome: Outcome) -> i64 {
    1 << outcome_code(outcome)
}

/// The bit of an action in a block's `kinds`.
fn action_mark(action: &str) -> i64 {
    bit(ACTION_BITS, &ACTIONS, action)
}

/// The bit of a client in a block's `kinds`.
fn client_mark(client: &str) -> i64 {
    bit(CLIENT_BITS, &CLIENTS, client)
}

/// The bits a block's `kinds` must all have to hold an entry that passes `query`'s outcome,
/// action and client (0 when it asks none of them).
pub(crate) fn needed(query: &LogQuery) -> i64 {
    query.outcome.map_or(0, outcome_mark)
        | query.action.as_deref().map_or(0, action_mark)
        | query.client.as_deref().map_or(0, client_mark)
}

pub(crate) fn put_u32(out: &mut Vec<u8>, n: usize) {
    // Every value is cut well below 4 GiB (bodies at 16 KiB, a request at its limit).
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put_u32(out, s.len());
    out.extend_from_slice(s.as_bytes());
}

fn put_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(&n.to_le_bytes());
}

fn outcome_code(outcome: Outcome) -> u8 {
    match outcome {
        Outcome::Succeeded => 0,
        Outcome::Refused => 1,
        Outcome::Failed => 2,
    }
}

/// Encodes `entries` (one tenant's, `seq` increasing) as a block, its body compressed (see
/// `log_frames`; the heads keep where each entry's part lies in the raw body).
pub(crate) fn encode(entries: &[Pending<'_>]) -> Result<Block, StoreError> {
    let mut block = encode_raw(entries);
    block.body = log_frames::compress(&block.body)?;
    Ok(block)
}

/// Encodes `entries` as a block with its body raw (as blocks were written before bodies were
/// compressed).
fn encode_raw(entries: &[Pending<'_>]) -> Block {
    let mut block = Block {
        heads: Vec::with_capacity(1 + entries.len() * 96),
        body: Vec::with_capacity(1 + entries.len() * 1024),
        first_seq: entries.first().map_or(0, |p| p.seq),
        last_seq: entries.last().map_or(0, |p| p.seq),
        min_at: i64::MAX,
        max_at: i64::MIN,
        ..Block::default()
    };
    block.heads.push(VERSION);
    block.body.push(VERSION);
    for p in entries {
        let e = p.entry;
        let at = micros(e.at);
        block.min_at = block.min_at.min(at);
        block.max_at = block.max_at.max(at);
        block.total += 1;
        match e.outcome {
            Outcome::Succeeded => {}
            Outcome::Refused => block.refused += 1,
            Outcome::Failed => block.failed += 1,
        }
        block.kinds |= outcome_mark(e.outcome) | action_mark(&e.action) | client_mark(&e.client);
        let start = block.body.len();
        let body = &mut block.body;
        put_str(body, &e.request_id);
        put_i64(body, e.duration_ms);
        for text in [&e.method, &e.path, &e.query] {
            put_str(body, text);
        }
        match &e.scim_type {
            Some(t) => {
                body.push(1);
                put_str(body, t);
            }
            None => body.push(0),
        }
        for text in [
            &e.user_agent,
            &e.credential,
            &e.resource_type,
            &e.resource_name,
            &e.summary,
            &e.explanation,
            &e.hint,
        ] {
            put_str(body, text);
        }
        put_str(body, &e.normalizations.join(" "));
        put_str(body, &e.request_body);
        put_str(body, &e.response_body);
        let heads = &mut block.heads;
        put_i64(heads, p.seq);
        put_i64(heads, at);
        heads.push(u8::from(p.rid.is_some()));
        put_i64(heads, p.rid.unwrap_or(0));
        heads.push(outcome_code(e.outcome));
        heads.extend_from_slice(&e.status.to_le_bytes());
        put_u32(heads, start);
        put_u32(heads, block.body.len() - start);
        for text in [&e.action, &e.client, &e.resource_id, p.key] {
            put_str(heads, text);
        }
    }
    if entries.is_empty() {
        (block.min_at, block.max_at) = (0, 0);
    }
    block
}

/// What a page's filters look at of one entry, and where the rest of it is in its block's body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Head {
    pub seq: i64,
    pub at: i64,
    pub rid: Option<i64>,
    pub outcome: Outcome,
    pub status: u16,
    pub action: String,
    pub client: String,
    pub resource_id: String,
    pub key: String,
    body_start: usize,
    body_len: usize,
}

/// Reads a value's bytes in order; any shortfall or bad text is a damaged block.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

pub(crate) fn damaged(what: &str) -> StoreError {
    StoreError::Internal(format!("a damaged provisioning log block: {what}"))
}

impl<'a> Cursor<'a> {
    fn new(bytes: &'a [u8], what: &str) -> Result<Self, StoreError> {
        match bytes.first() {
            Some(&VERSION) => Ok(Cursor { bytes, at: 1 }),
            Some(v) => Err(StoreError::Internal(format!(
                "a provisioning log block of format {v}, which this build does not know ({what})"
            ))),
            None => Err(damaged(what)),
        }
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.ok_or_else(|| damaged("cut short"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, StoreError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<usize, StoreError> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn i64(&mut self) -> Result<i64, StoreError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn text(&mut self) -> Result<String, StoreError> {
        let n = self.u32()?;
        let bytes = self.take(n)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| damaged("text that is not UTF-8"))
    }
}

/// The head at the cursor.
fn read_head(c: &mut Cursor<'_>) -> Result<Head, StoreError> {
    let seq = c.i64()?;
    let at = c.i64()?;
    let has_rid = c.u8()? != 0;
    let rid = c.i64()?;
    let outcome = match c.u8()? {
        0 => Outcome::Succeeded,
        1 => Outcome::Refused,
        2 => Outcome::Failed,
        other => return Err(damaged(&format!("outcome {other}"))),
    };
    let status = u16::from_le_bytes(c.array()?);
    let body_start = c.u32()?;
    let body_len = c.u32()?;
    Ok(Head {
        seq,
        at,
        rid: has_rid.then_some(rid),
        outcome,
        status,
        action: c.text()?,
        client: c.text()?,
        resource_id: c.text()?,
        key: c.text()?,
        body_start,
        body_len,
    })
}

/// The bytes of a head after its `seq`: its time, number, outcome, status and place in the
/// body, before its four texts.
const HEAD_FIXED: usize = 8 + 1 + 8 + 1 + 2 + 4 + 4;

/// The heads of a block, in `seq` order.
pub(crate) fn heads(bytes: &[u8]) -> Result<Vec<Head>, StoreError> {
    let mut c = Cursor::new(bytes, "heads")?;
    let mut heads = Vec::new();
    while !c.done() {
        heads.push(read_head(&mut c)?);
    }
    Ok(heads)
}

/// The head of entry `seq` in a block's heads, if the block holds it: the others skipped, not
/// read (a page about a resource looks up one entry in each of many blocks).
pub(crate) fn head_of(bytes: &[u8], seq: i64) -> Result<Option<Head>, StoreError> {
    let mut c = Cursor::new(bytes, "heads")?;
    while !c.done() {
        let start = c.at;
        let here = c.i64()?;
        if here == seq {
            c.at = start;
            return read_head(&mut c).map(Some);
        }
        if here > seq {
            return Ok(None);
        }
        c.take(HEAD_FIXED)?;
        for _ in 0..4 {
            let n = c.u32()?;
            c.take(n)?;
        }
    }
    Ok(None)
}

impl Head {
    /// Where the rest of this entry lies in its block's body: offset and length.
    pub(crate) fn body_range(&self) -> (usize, usize) {
        (self.body_start, self.body_len)
    }

    /// Whether this entry passes `query`'s cursor and filters (not its resource: see
    /// [`Head::about`]).
    pub(crate) fn passes(&self, query: &LogQuery) -> bool {
        let cursor = match (query.after, query.before) {
            (Some(after), _) => self.seq > after,
            (None, Some(before)) => self.seq < before,
            (None, None) => true,
        };
        cursor
            && query.outcome.is_none_or(|o| o == self.outcome)
            && query.action.as_deref().is_none_or(|a| a == self.action)
            && query.client.as_deref().is_none_or(|c| c == self.client)
            && query.since.is_none_or(|t| self.at >= micros(t))
            && query.until.is_none_or(|t| self.at < micros(t))
    }

    /// Whether this entry is about `resource`: its id, or its name without case (`key`, the
    /// name lower-cased).
    pub(crate) fn about(&self, resource: &str, key: &str) -> bool {
        self.resource_id == resource || self.key == key
    }

    /// The whole entry: this head and its part of the block's body (`body`, the part alone,
    /// as [`part`] cuts it).
    pub(crate) fn entry(&self, tenant: &TenantId, body: &[u8]) -> Result<LogEntry, StoreError> {
        let mut c = Cursor { bytes: body, at: 0 };
        let request_id = c.text()?;
        let duration_ms = c.i64()?;
        let (method, path, query) = (c.text()?, c.text()?, c.text()?);
        let scim_type = match c.u8()? {
            0 => None,
            _ => Some(c.text()?),
        };
        let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(self.at) * 1000)
            .map_err(|_| damaged("a time out of range"))?;
        Ok(LogEntry {
            seq: self.seq,
            tenant_id: tenant.clone(),
            at,
            request_id,
            duration_ms,
            method,
            path,
            query,
            status: self.status,
            scim_type,
            outcome: self.outcome,
            client: self.client.clone(),
            user_agent: c.text()?,
            credential: c.text()?,
            action: self.action.clone(),
            resource_type: c.text()?,
            resource_id: self.resource_id.clone(),
            resource_name: c.text()?,
            summary: c.text()?,
            explanation: c.text()?,
            hint: c.text()?,
            normalizations: c.text()?.split_whitespace().map(str::to_owned).collect(),
            request_body: c.text()?,
            response_body: c.text()?,
        })
    }
}

/// How a block's `body` is stored, by its first byte.
pub(crate) enum Stored {
    /// Raw, as blocks were written before bodies were compressed: an entry's part is read
    /// where its head says.
    Raw,
    /// Compressed (see `log_frames`): an entry's part is in the frames its range spans.
    Compressed(Frames),
}

impl Stored {
    /// How the body read through `read` (bytes at an offset, exactly) is stored.
    pub(crate) fn read(
        mut read: impl FnMut(&mut [u8], usize) -> Result<(), StoreError>,
    ) -> Result<Stored, StoreError> {
        let mut first = [0u8; 1];
        read(&mut first, 0)?;
        match first[0] {
            log_frames::COMPRESSED => Frames::read(read).map(Stored::Compressed),
            v => Cursor::new(&[v], "body").map(|_| Stored::Raw),
        }
    }

    /// The part of the body `head`'s entry takes, read through `read`; `last` keeps the last
    /// frame decompressed, for the next part of the same body.
    pub(crate) fn part(
        &self,
        head: &Head,
        last: &mut LastFrame,
        mut read: impl FnMut(&mut [u8], usize) -> Result<(), StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        let (start, len) = head.body_range();
        match self {
            Stored::Raw => {
                let mut part = vec![0u8; len];
                read(&mut part, start)?;
                Ok(part)
            }
            Stored::Compressed(frames) => frames.part(start, len, last, read),
        }
    }
}

/// The parts of a whole block's `body` (as read from its row) that `heads`' entries take.
pub(crate) fn parts(body: &[u8], heads: &[Head]) -> Result<Vec<Vec<u8>>, StoreError> {
    let stored = Stored::read(from_slice(body))?;
    let mut last = None;
    heads
        .iter()
        .map(|h| stored.part(h, &mut last, from_slice(body)))
        .collect()
}

#[cfg(test)]
mod tests;
