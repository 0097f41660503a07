//! Raw deflate both ways with zlib-rs (pinned exactly in Cargo.toml: its bytes are part of layer
//! digests). Only zlib-rs's safe `Deflate`/`Inflate` API is used; the gzip framing around it is ours
//! (src/compress/gzip.rs), as Go's compress/gzip writes it.

use zlib_rs::{Deflate, DeflateConfig, DeflateFlush, Inflate, InflateFlush, Status, Strategy};

/// Deflate's window: how far back a match may reach, and so how much of the input before a piece
/// primes its compressor.
pub const WINDOW: usize = 32 << 10;
const WINDOW_BITS: i32 = 15;
/// zlib's default memory level (8): a 16K-symbol block buffer. 9 doubles it for about 0.1%
/// smaller output at level 6 on a rootfs tree, not worth the memory per thread.
const MEM_LEVEL: i32 = 8;
/// Output space per call into zlib-rs.
const SCRATCH: usize = 64 << 10;

/// How a call ends the input given so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flush {
    /// More input follows; zlib-rs keeps what it has not decided on yet.
    None,
    /// Everything so far is written, ending on a byte boundary (the 00 00 FF FF marker), so that
    /// another stream's bytes can follow: how pieces join.
    Sync,
    /// The final block: the stream ends.
    Finish,
}

/// A raw deflate stream (no zlib or gzip header) at zlib's levels 0–9.
pub struct RawDeflate {
    stream: Deflate,
    scratch: Vec<u8>,
}

impl RawDeflate {
    pub fn new(level: u8) -> RawDeflate {
        let config = DeflateConfig {
            level: i32::from(level.min(9)),
            window_bits: -WINDOW_BITS,
            mem_level: MEM_LEVEL,
            strategy: Strategy::Default,
            ..DeflateConfig::default()
        };
        RawDeflate { stream: Deflate::new_with_config(config), scratch: vec![0; SCRATCH] }
    }

    /// Let the stream's first matches refer back into `dictionary` (at most the last 32 KiB count),
    /// without compressing it: how a piece continues the stream before it.
    pub fn set_dictionary(&mut self, dictionary: &[u8]) {
        let start = dictionary.len().saturating_sub(WINDOW);
        // Only refused before the first call or with a wrong window, which cannot happen here.
        self.stream.set_dictionary(&dictionary[start..]).expect("a fresh raw deflate stream takes a dictionary");
    }

    /// Compress `input`, appending what zlib-rs writes to `out`. zlib's contract: a flush is
    /// complete once a call leaves output space unused (or, for Finish, once the stream ends).
    pub fn compress(&mut self, mut input: &[u8], flush: Flush, out: &mut Vec<u8>) {
        let mode = match flush {
            Flush::None => DeflateFlush::NoFlush,
            Flush::Sync => DeflateFlush::SyncFlush,
            Flush::Finish => DeflateFlush::Finish,
        };
        loop {
            let (read, written) = (self.stream.total_in(), self.stream.total_out());
            // Errors mean a broken stream state (e.g. Finish called twice): a bug of ours.
            let status = self.stream.compress(input, &mut self.scratch, mode).expect("deflate stream state");
            let consumed = (self.stream.total_in() - read) as usize;
            let produced = (self.stream.total_out() - written) as usize;
            out.extend_from_slice(&self.scratch[..produced]);
            input = &input[consumed..];
            let space_left = produced < self.scratch.len();
            let done = match flush {
                Flush::Finish => status == Status::StreamEnd,
                Flush::None | Flush::Sync => input.is_empty() && space_left,
            };
            if done {
                return;
            }
        }
    }
}

/// What one inflate step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inflated {
    pub consumed: usize,
    pub written: usize,
    /// The deflate stream's final block has been read.
    pub end: bool,
}

/// A raw deflate decoder.
pub struct RawInflate {
    stream: Inflate,
}

/// The input is not a valid deflate stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorruptDeflate;

impl Default for RawInflate {
    fn default() -> Self {
        RawInflate::new()
    }
}

impl RawInflate {
    pub fn new() -> RawInflate {
        RawInflate { stream: Inflate::new(false, WINDOW_BITS as u8) }
    }

    /// Ready for the next stream (another gzip member).
    pub fn reset(&mut self) {
        self.stream.reset(false);
    }

    /// Inflate some of `input` into `output`. A step that neither consumes nor writes anything
    /// and has not ended means the input is cut short (when `input` was not empty) or that more is
    /// needed.
    pub fn step(&mut self, input: &[u8], output: &mut [u8]) -> Result<Inflated, CorruptDeflate> {
        let (read, written) = (self.stream.total_in(), self.stream.total_out());
        let status = self.stream.decompress(input, output, InflateFlush::NoFlush).map_err(|_| CorruptDeflate)?;
        Ok(Inflated {
            consumed: (self.stream.total_in() - read) as usize,
            written: (self.stream.total_out() - written) as usize,
            end: status == Status::StreamEnd,
        })
    }

    /// A whole raw deflate stream into memory, refusing to grow past `limit` bytes; returns the
    /// data and what follows the stream in `input`.
    pub fn inflate_all(input: &[u8], limit: usize) -> Result<(Vec<u8>, &[u8]), InflateAllError> {
        let mut inflate = RawInflate::new();
        let (mut out, mut buf, mut rest) = (Vec::new(), vec![0u8; SCRATCH], input);
        loop {
            let step = inflate.step(rest, &mut buf).map_err(|_| InflateAllError::Corrupt)?;
            rest = &rest[step.consumed..];
            out.extend_from_slice(&buf[..step.written]);
            if out.len() > limit {
                return Err(InflateAllError::TooLarge);
            }
            if step.end {
                return Ok((out, rest));
            }
            if step.consumed == 0 && step.written == 0 {
                return Err(InflateAllError::Truncated);
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateAllError {
    Corrupt,
    Truncated,
    TooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deflate(data: &[u8], level: u8, flush: Flush) -> Vec<u8> {
        let mut out = Vec::new();
        RawDeflate::new(level).compress(data, flush, &mut out);
        out
    }

    #[test]
    fn round_trips_and_sync_ends_on_the_marker() {
        let text = include_str!("deflate.rs").repeat(30);
        for level in 0..=9 {
            let whole = deflate(text.as_bytes(), level, Flush::Finish);
            let (back, rest) = RawInflate::inflate_all(&whole, usize::MAX).unwrap();
            assert_eq!((back.as_slice(), rest), (text.as_bytes(), &[][..]), "level {level}");
            assert!(deflate(text.as_bytes(), level, Flush::Sync).ends_with(&[0, 0, 0xff, 0xff]), "level {level}");
        }
    }

    #[test]
    fn a_dictionary_lets_a_stream_refer_back() {
        let text = include_str!("deflate.rs").as_bytes();
        let mut primed = RawDeflate::new(6);
        primed.set_dictionary(text);
        let mut with = Vec::new();
        primed.compress(text, Flush::Finish, &mut with);
        assert!(with.len() * 10 < deflate(text, 6, Flush::Finish).len(), "a repeat of the dictionary is a few matches");
    }

    #[test]
    fn bad_and_short_streams_are_errors() {
        let whole = deflate(b"hello hello hello hello", 6, Flush::Finish);
        assert_eq!(RawInflate::inflate_all(&whole[..whole.len() - 1], 1 << 20), Err(InflateAllError::Truncated));
        assert_eq!(RawInflate::inflate_all(&[0xff; 16], 1 << 20), Err(InflateAllError::Corrupt));
        assert_eq!(RawInflate::inflate_all(&whole, 4), Err(InflateAllError::TooLarge));
    }
}
