//! A provisioning log block's `body`, compressed. The entries of a block are alike (the same
//! schemas, attribute names, paths and words in each), so zstd at its fastest level stores a
//! body of filter lookups in about a tenth of its bytes, and the log's writer then copies a
//! tenth as much into SQLite's pages, its WAL and the file.
//!
//! The raw body (`log_blocks::encode`'s, whose offsets the heads keep) is cut into frames of
//! [`FRAME`] bytes, each compressed alone, so that an entry's detail decompresses the frame or
//! two its part lies in, not the whole block:
//!
//! ```text
//! [COMPRESSED] [raw length: u32] [frames: u32] [each frame's compressed length: u32 …] [frames …]
//! ```
//!
//! All numbers little-endian. A body whose first byte is not [`COMPRESSED`] is stored raw (the
//! blocks written before this format); `log_blocks` checks that byte.
//!
//! This module is pure: bytes in, bytes out, and reads through a function given to it.

use std::cell::RefCell;

use roster_store::StoreError;

use crate::log_blocks::{damaged, put_u32};

/// The first byte of a compressed body.
pub(crate) const COMPRESSED: u8 = 2;
/// How many bytes of a raw body one frame holds. An entry's part is read by decompressing the
/// frames it spans (about 5 µs each); a larger frame compresses a little better (a body of
/// filter lookups: 16 KiB frames 9.1 times, 32 KiB 10.8, 64 KiB 12.3, the whole body 14.5).
pub(crate) const FRAME: usize = 32 * 1024;
/// zstd's level: its fastest regular one (2.2 GB/s compressing a block of filter lookups on
/// the benchmark's machine).
const LEVEL: i32 = 1;
/// The bytes before the lengths of the frames: the marker, the raw length, the count.
const HEADER: usize = 9;

thread_local! {
    /// Each thread's compressor and decompressor, kept: a context is set up once, not once a
    /// frame.
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

fn failed(what: &str, e: &std::io::Error) -> StoreError {
    StoreError::Internal(format!("{what} a provisioning log block failed: {e}"))
}

/// `raw` compressed, frame by frame, in the format above.
pub(crate) fn compress(raw: &[u8]) -> Result<Vec<u8>, StoreError> {
    COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(c) => c,
            None => {
                let mut c =
                    zstd::bulk::Compressor::new(LEVEL).map_err(|e| failed("compressing", &e))?;
                // Each frame carries a checksum of its bytes: a damaged frame is an error when
                // read, not an entry with other words in it.
                c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true))
                    .map_err(|e| failed("compressing", &e))?;
                slot.insert(c)
            }
        };
        let frames = raw.len().div_ceil(FRAME);
        let mut out = Vec::with_capacity(HEADER + 4 * frames + raw.len() / 8);
        out.push(COMPRESSED);
        put_u32(&mut out, raw.len());
        put_u32(&mut out, frames);
        out.resize(HEADER + 4 * frames, 0);
        let mut scratch = Vec::with_capacity(zstd::zstd_safe::compress_bound(FRAME));
        for (i, frame) in raw.chunks(FRAME).enumerate() {
            let n = compressor
                .compress_to_buffer(frame, &mut scratch)
                .map_err(|e| failed("compressing", &e))?;
            let at = HEADER + 4 * i;
            let len = u32::try_from(n).map_err(|_| damaged("a frame over 4 GiB"))?;
            out[at..at + 4].copy_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&scratch[..n]);
        }
        Ok(out)
    })
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    let mut n = [0; 4];
    n.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(n) as usize
}

/// The frame of a body last decompressed, by its number: the next entry's part is often in it.
pub(crate) type LastFrame = Option<(usize, Vec<u8>)>;

/// Where a compressed body's frames lie, and how long the raw body is.
pub(crate) struct Frames {
    raw_len: usize,
    /// Each frame's `(offset, compressed length)` in the stored body.
    at: Vec<(usize, usize)>,
}

impl Frames {
    /// Reads the header of a compressed body through `read` (bytes at an offset, exactly).
    pub(crate) fn read(
        mut read: impl FnMut(&mut [u8], usize) -> Result<(), StoreError>,
    ) -> Result<Frames, StoreError> {
        let mut header = [0u8; HEADER];
        read(&mut header, 0)?;
        if header[0] != COMPRESSED {
            return Err(damaged("a compressed body without its marker"));
        }
        let raw_len = u32_at(&header, 1);
        let count = u32_at(&header, 5);
        if count != raw_len.div_ceil(FRAME) {
            return Err(damaged("a compressed body's frames do not add up"));
        }
        let mut lengths = vec![0u8; 4 * count];
        read(&mut lengths, HEADER)?;
        let mut offset = HEADER + 4 * count;
        let at = (0..count)
            .map(|i| {
                let len = u32_at(&lengths, 4 * i);
                let here = (offset, len);
                offset += len;
                here
            })
            .collect();
        Ok(Frames { raw_len, at })
    }

    /// The frames a raw range `[start, start + len)` spans.
    pub(crate) fn spanning(
        &self,
        start: usize,
        len: usize,
    ) -> Result<std::ops::Range<usize>, StoreError> {
        let end = start
            .checked_add(len)
            .filter(|&end| end <= self.raw_len)
            .ok_or_else(|| damaged("an entry past its body's end"))?;
        Ok(start / FRAME..end.div_ceil(FRAME).max(start / FRAME + 1))
    }

    /// Frame `i`, decompressed, its compressed bytes read through `read`.
    pub(crate) fn frame(
        &self,
        i: usize,
        mut read: impl FnMut(&mut [u8], usize) -> Result<(), StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        let &(offset, len) = self.at.get(i).ok_or_else(|| damaged("a frame not there"))?;
        // A damaged length is refused before anything is allocated for it.
        if len > zstd::zstd_safe::compress_bound(FRAME) {
            return Err(damaged("a frame longer than any frame compressed"));
        }
        let raw = FRAME.min(self.raw_len - i * FRAME);
        let mut packed = vec![0u8; len];
        read(&mut packed, offset)?;
        let mut out = Vec::with_capacity(raw);
        DECOMPRESSOR.with_borrow_mut(|slot| {
            let decompressor = match slot {
                Some(d) => d,
                None => slot.insert(
                    zstd::bulk::Decompressor::new().map_err(|e| failed("decompressing", &e))?,
                ),
            };
            decompressor
                .decompress_to_buffer(&packed, &mut out)
                .map_err(|e| failed("decompressing", &e))
        })?;
        if out.len() != raw {
            return Err(damaged("a frame of the wrong length"));
        }
        Ok(out)
    }

    /// The raw bytes `[start, start + len)`, from the frames they span, each read through
    /// `read` and decompressed (the last one decompressed kept in `last`, for the next part).
    pub(crate) fn part(
        &self,
        start: usize,
        len: usize,
        last: &mut LastFrame,
        mut read: impl FnMut(&mut [u8], usize) -> Result<(), StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        let spanned = self.spanning(start, len)?;
        let mut out = Vec::with_capacity(len);
        for i in spanned {
            if last.as_ref().is_none_or(|(n, _)| *n != i) {
                *last = Some((i, self.frame(i, &mut read)?));
            }
            let Some((_, frame)) = last.as_ref() else {
                unreachable!("a frame was just kept")
            };
            let base = i * FRAME;
            let from = start.max(base) - base;
            let to = (start + len).min(base + frame.len()) - base;
            out.extend_from_slice(&frame[from..to]);
        }
        Ok(out)
    }
}

/// A stored body's bytes, read from a slice.
pub(crate) fn from_slice(body: &[u8]) -> impl FnMut(&mut [u8], usize) -> Result<(), StoreError> {
    move |out: &mut [u8], at: usize| {
        let bytes = at
            .checked_add(out.len())
            .and_then(|end| body.get(at..end))
            .ok_or_else(|| damaged("cut short"))?;
        out.copy_from_slice(bytes);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| b"abcdefghij"[i % 10] ^ (i / 997) as u8)
            .collect()
    }

    #[test]
    fn any_part_comes_back_from_the_frames_it_spans() {
        let raw = raw(3 * FRAME + 123);
        let body = compress(&raw).unwrap();
        assert!(body.len() < raw.len() / 4, "{} bytes", body.len());
        let frames = Frames::read(from_slice(&body)).unwrap();
        let mut last = None;
        for (start, len) in [
            (0, 1),
            (1, 100),
            (FRAME - 10, 20),
            (FRAME, FRAME),
            (5, 3 * FRAME),
            (3 * FRAME, 123),
            (0, raw.len()),
            (7, 0),
        ] {
            let got = frames
                .part(start, len, &mut last, from_slice(&body))
                .unwrap();
            assert_eq!(got, raw[start..start + len], "{start}+{len}");
        }
    }

    #[test]
    fn an_empty_body_is_a_body_of_no_frames() {
        let body = compress(&[]).unwrap();
        let frames = Frames::read(from_slice(&body)).unwrap();
        assert!(frames.at.is_empty());
        assert!(frames.part(0, 1, &mut None, from_slice(&body)).is_err());
    }

    #[test]
    fn a_damaged_body_is_an_error_not_a_guess() {
        let raw = raw(FRAME + 1);
        let body = compress(&raw).unwrap();
        let read = |b: &[u8]| Frames::read(from_slice(b)).map(|_| ());
        // Cut short, a wrong count of frames, no marker.
        assert!(read(&body[..5]).is_err());
        let mut wrong = body.clone();
        wrong[5] = 7;
        assert!(read(&wrong).is_err());
        let mut unmarked = body.clone();
        unmarked[0] = 1;
        assert!(read(&unmarked).is_err());
        // A frame's bytes changed, or its length.
        let frames = Frames::read(from_slice(&body)).unwrap();
        let mut flipped = body.clone();
        let last = flipped.len() - 3;
        flipped[last] ^= 0xff;
        let cut = &body[..body.len() - 1];
        for bytes in [&flipped[..], cut] {
            let got = frames.part(FRAME, 1, &mut None, from_slice(bytes));
            assert!(got.is_err());
        }
        // A frame's length past what any frame takes.
        let mut long = body.clone();
        long[HEADER..HEADER + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let frames_long = Frames::read(from_slice(&long)).unwrap();
        let refused = frames_long.part(0, 1, &mut None, from_slice(&long));
        assert!(
            refused
                .unwrap_err()
                .to_string()
                .contains("longer than any frame")
        );
        // A part past the end.
        assert!(frames.part(FRAME, 2, &mut None, from_slice(&body)).is_err());
    }
}
