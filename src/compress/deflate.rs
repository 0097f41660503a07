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

/// Level 0's stored blocks hold at most this many bytes (deflate's limit, and the size Go's
/// compress/flate fills each one to).
pub const STORED_BLOCK: usize = 65_535;

/// A raw deflate stream (no zlib or gzip header) at zlib's levels 1–9, or level 0 as Go writes it.
pub struct RawDeflate {
    inner: Inner,
}

enum Inner {
    Zlib {
        stream: Box<Deflate>,
        scratch: Vec<u8>,
    },
    /// Go's compress/flate at NoCompression: non-final stored blocks of 65,535 bytes each as the
    /// input fills them, the rest in one more non-final block when the stream ends, then an empty
    /// final stored block (`01 00 00 ff ff`). zlib writes one final block instead; Go's framing is
    /// the one BuildKit's layers have, and level 0 is the one level whose bytes can equal theirs.
    Stored {
        pending: Vec<u8>,
    },
}

impl RawDeflate {
    pub fn new(level: u8) -> RawDeflate {
        if level == 0 {
            return RawDeflate { inner: Inner::Stored { pending: Vec::new() } };
        }
        let config = DeflateConfig {
            level: i32::from(level.min(9)),
            window_bits: -WINDOW_BITS,
            mem_level: MEM_LEVEL,
            strategy: Strategy::Default,
            ..DeflateConfig::default()
        };
        let stream = Box::new(Deflate::new_with_config(config));
        RawDeflate { inner: Inner::Zlib { stream, scratch: vec![0; SCRATCH] } }
    }

    /// Let the stream's first matches refer back into `dictionary` (at most the last 32 KiB count),
    /// without compressing it: how a piece continues the stream before it. Stored blocks refer to
    /// nothing.
    pub fn set_dictionary(&mut self, dictionary: &[u8]) {
        let Inner::Zlib { stream, .. } = &mut self.inner else { return };
        let start = dictionary.len().saturating_sub(WINDOW);
        // Only refused before the first call or with a wrong window, which cannot happen here.
        stream.set_dictionary(&dictionary[start..]).expect("a fresh raw deflate stream takes a dictionary");
    }

    /// Compress `input`, appending what is written to `out`. zlib's contract: a flush is complete
    /// once a call leaves output space unused (or, for Finish, once the stream ends). Stored blocks:
    /// a sync flush writes what is pending as one more (byte-aligned) block, no empty marker block;
    /// pieces at level 0 are whole numbers of blocks, so it writes nothing more than Go would.
    pub fn compress(&mut self, input: &[u8], flush: Flush, out: &mut Vec<u8>) {
        match &mut self.inner {
            Inner::Stored { pending } => {
                pending.extend_from_slice(input);
                let full = pending.len() / STORED_BLOCK * STORED_BLOCK;
                let upto = if flush == Flush::None { full } else { pending.len() };
                for block in pending[..upto].chunks(STORED_BLOCK) {
                    stored_block(block, false, out);
                }
                pending.drain(..upto);
                if flush == Flush::Finish {
                    stored_block(&[], true, out);
                }
            }
            Inner::Zlib { stream, scratch } => zlib_compress(stream, scratch, input, flush, out),
        }
    }
}

/// One stored block: BFINAL and BTYPE 00 in a byte of its own, LEN, NLEN, the bytes.
fn stored_block(data: &[u8], last: bool, out: &mut Vec<u8>) {
    let len = data.len() as u16;
    out.push(u8::from(last));
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
}

fn zlib_compress(stream: &mut Deflate, scratch: &mut [u8], mut input: &[u8], flush: Flush, out: &mut Vec<u8>) {
    let mode = match flush {
        Flush::None => DeflateFlush::NoFlush,
        Flush::Sync => DeflateFlush::SyncFlush,
        Flush::Finish => DeflateFlush::Finish,
    };
    loop {
        let (read, written) = (stream.total_in(), stream.total_out());
        // Errors mean a broken stream state (e.g. Finish called twice): a bug of ours.
        let status = stream.compress(input, scratch, mode).expect("deflate stream state");
        let consumed = (stream.total_in() - read) as usize;
        let produced = (stream.total_out() - written) as usize;
        out.extend_from_slice(&scratch[..produced]);
        input = &input[consumed..];
        let space_left = produced < scratch.len();
        let done = match flush {
            Flush::Finish => status == Status::StreamEnd,
            Flush::None | Flush::Sync => input.is_empty() && space_left,
        };
        if done {
            return;
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
pub struct CorruptDeflate {
    /// Bytes of `output` that were good before the corrupt data: a caller hands them on first, so
    /// the verdict does not depend on how much input one step got.
    pub written: usize,
}

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
        let status = match self.stream.decompress(input, output, InflateFlush::NoFlush) {
            Ok(status) => status,
            Err(_) => return Err(CorruptDeflate { written: (self.stream.total_out() - written) as usize }),
        };
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
            let synced = deflate(text.as_bytes(), level, Flush::Sync);
            if level > 0 {
                assert!(synced.ends_with(&[0, 0, 0xff, 0xff]), "level {level}");
            } else {
                // Stored blocks end byte-aligned anyway: a sync writes the pending bytes as
                // non-final blocks and no empty marker block, so joined pieces are Go's blocks.
                let mut closed = synced.clone();
                closed.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
                assert_eq!(closed, whole, "level 0");
            }
        }
    }

    #[test]
    fn level_0_is_go_compress_flate_no_compression() {
        // Pinned from Go 1.19: gzip.NewWriterLevel(w, gzip.NoCompression) of "hi" and of nothing,
        // without the gzip header and trailer (tests/go_fidelity.rs compares with Go itself).
        assert_eq!(deflate(b"hi", 0, Flush::Finish), [0, 2, 0, 0xfd, 0xff, b'h', b'i', 1, 0, 0, 0xff, 0xff]);
        assert_eq!(deflate(b"", 0, Flush::Finish), [1, 0, 0, 0xff, 0xff]);
        // Full blocks of 65,535 bytes as the input fills them, however it is written.
        let data = vec![7u8; 2 * STORED_BLOCK + 1];
        let mut out = Vec::new();
        let mut stream = RawDeflate::new(0);
        for chunk in data.chunks(1000) {
            stream.compress(chunk, Flush::None, &mut out);
        }
        stream.compress(&[], Flush::Finish, &mut out);
        let block = |len: u16| [vec![0], len.to_le_bytes().to_vec(), (!len).to_le_bytes().to_vec()].concat();
        let expected = [
            block(65_535),
            vec![7; 65_535],
            block(65_535),
            vec![7; 65_535],
            block(1),
            vec![7],
            vec![1, 0, 0, 0xff, 0xff],
        ]
        .concat();
        assert_eq!(out, expected);
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
