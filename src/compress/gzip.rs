//! Streaming gzip: zlib-rs raw deflate (src/compress/deflate.rs) framed as Go's compress/gzip
//! frames it (no name, mtime 0, OS byte 255, XFL 2 for level 9 and 4 for level 1).
//!
//! Levels are zlib's 0–9 as zlib-rs implements them (zlib-ng's strategies): 0 stored, 1 quick
//! (static Huffman within a block), 2 fast (greedy), 3–6 medium, 7–9 slow (lazy); the default
//! is 6, Go's `gzip.DefaultCompression`.

use super::deflate::{Flush, RawDeflate};

/// The streaming encoder hands zlib-rs its input in blocks of this size: zlib-rs's output depends
/// on how the input is split between calls (its medium and quick strategies work on what they
/// have), so the split must depend on the stream alone, not on the sizes of our callers' writes.
const FEED: usize = 64 << 10;

/// Go's gzip.DefaultCompression (-1) behaves as level 6.
pub const DEFAULT_LEVEL: u8 = 6;

pub struct GzipEncoder {
    deflate: RawDeflate,
    /// Input not yet given to zlib-rs (less than `FEED` bytes).
    pending: Vec<u8>,
    crc: crc32fast::Hasher,
    input_len: u64,
}

/// A member's 10-byte header as Go writes it: deflate, no flags, mtime 0, XFL by level, OS 255.
pub fn gzip_header(level: u8) -> [u8; 10] {
    let xfl = match level {
        9 => 2,
        1 => 4,
        _ => 0,
    };
    [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 255]
}

/// A member's 8-byte trailer: CRC-32 and length (mod 2^32) of the data, little endian.
pub fn gzip_trailer(crc: u32, len: u64) -> [u8; 8] {
    let mut trailer = [0; 8];
    trailer[..4].copy_from_slice(&crc.to_le_bytes());
    trailer[4..].copy_from_slice(&(len as u32).to_le_bytes());
    trailer
}

impl GzipEncoder {
    /// Starts a member; the 10-byte header goes into `out`.
    pub fn new(level: u8, out: &mut Vec<u8>) -> GzipEncoder {
        out.extend_from_slice(&gzip_header(level));
        GzipEncoder {
            deflate: RawDeflate::new(level),
            pending: Vec::new(),
            crc: crc32fast::Hasher::new(),
            input_len: 0,
        }
    }

    pub fn write(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        self.crc.update(input);
        self.input_len += input.len() as u64;
        while !input.is_empty() {
            let take = input.len().min(FEED - self.pending.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == FEED {
                self.deflate.compress(&self.pending, Flush::None, out);
                self.pending.clear();
            }
        }
    }

    /// Ends the member: final deflate block, then the trailer.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        self.deflate.compress(&self.pending, Flush::Finish, out);
        out.extend_from_slice(&gzip_trailer(self.crc.finalize(), self.input_len));
    }
}

/// At most how many bytes deflate makes of `len`: level 1's static codes spend up to 9 bits on a
/// byte, stored blocks 5 bytes per block, and a few more end the stream. Reserving it up front
/// spares growing the output (a copy of all of it); capacity never written costs no memory pages.
pub fn deflate_bound(len: usize) -> usize {
    len + (len >> 3) + (len >> 12) * 5 + 64
}

/// `data` as one whole gzip member at `level`.
pub fn gzip_member(level: u8, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(deflate_bound(data.len()) + 18);
    let mut encoder = GzipEncoder::new(level, &mut out);
    encoder.write(data, &mut out);
    encoder.finish(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::super::deflate::RawInflate;
    use super::*;

    fn gzip(data: &[u8], level: u8, chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = GzipEncoder::new(level, &mut out);
        for piece in data.chunks(chunk.max(1)) {
            enc.write(piece, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    #[test]
    fn round_trips_at_every_level() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8 ^ (i / 1000) as u8).collect();
        for level in 0..=9 {
            let gz = gzip(&data, level, 65_536);
            assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
            let (body, rest) = RawInflate::inflate_all(&gz[10..], usize::MAX).unwrap();
            assert_eq!(body, data, "level {level}");
            assert_eq!(rest, &gzip_trailer(crc32fast::hash(&data), data.len() as u64)[..]);
        }
    }

    #[test]
    fn chunking_does_not_change_bytes() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 13) as u8).collect();
        assert_eq!(gzip(&data, 6, 1), gzip(&data, 6, 100_000));
        assert_eq!(gzip(&data, 6, 777), gzip(&data, 6, 4096));
        assert_eq!(gzip_member(6, &data), gzip(&data, 6, 4096));
    }

    #[test]
    fn incompressible_input_stays_within_the_bound() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let noise: Vec<u8> = (0..1_000_000)
            .map(|_| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (state >> 33) as u8
            })
            .collect();
        for level in [0, 1, 6, 9] {
            let len = gzip_member(level, &noise).len();
            assert!(len <= deflate_bound(noise.len()) + 18, "level {level}: {len} vs {}", deflate_bound(noise.len()));
        }
    }

    #[test]
    fn higher_levels_compress_smaller() {
        let text = include_str!("gzip.rs").repeat(20);
        assert!(gzip(text.as_bytes(), 9, 4096).len() < gzip(text.as_bytes(), 1, 4096).len());
        assert!(gzip(text.as_bytes(), 0, 4096).len() > text.len());
    }
}
