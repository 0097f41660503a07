//! Layers compressed in independent pieces, so that hosts can compress several pieces at once (on
//! other wasm instances or worker threads) and still produce the bytes one thread would.
//!
//! The tar stream is cut at fixed offsets, whatever size the writes come in and however many
//! threads run:
//! - gzip: one member whose deflate stream is made of 1 MiB pieces, as pigz makes it. Each piece is
//!   compressed on its own but given the 32 KiB before it as deflate's dictionary (its whole
//!   window), and ends byte-aligned with a sync flush, so the pieces simply join; only the last one
//!   closes the stream. The CRC-32 and length of the trailer are computed over the stream as it
//!   passes.
//! - zstd: one frame whose blocks come in 2 MiB pieces. Each piece is compressed on its own but
//!   primed with the 2 MiB before it (so matches reach 2–4 MiB back; 4 MiB pieces primed with 4 MiB
//!   would reach the whole 8 MiB window, 14% smaller on the benchmark tree, at about 60% more
//!   memory per thread: each holds its piece, prefix and their joined copy), its blocks simply
//!   follow the previous piece's, and only the last piece's last block ends the frame. The frame
//!   header comes first, the content checksum (XXH64) is computed over the stream as it passes.

use super::deflate::{Flush, RawDeflate, STORED_BLOCK, WINDOW as GZIP_WINDOW};
use super::gzip::{gzip_header, gzip_trailer};
use super::zstd::{frame_header, PREFIX as ZSTD_PREFIX};
use super::Compression;

/// Input bytes per gzip piece.
const GZIP_PIECE: usize = 1 << 20;
/// Input bytes per gzip piece at level 0: a whole number of Go's stored blocks (16 of them, just
/// under 1 MiB), so that pieces join into exactly the blocks one Go writer makes.
const STORED_PIECE: usize = 16 * STORED_BLOCK;
/// Input bytes per zstd piece.
pub(crate) const ZSTD_PIECE: usize = 2 << 20;

/// One piece to compress: everything the compression needs, nothing shared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Piece {
    pub compression: Compression,
    /// The stream's input just before the piece's own (gzip: up to 32 KiB, zstd: up to 2 MiB),
    /// which the piece may refer back into, then the piece's own input from `start`. One buffer,
    /// so that no one joins them again (a matcher needs them contiguous).
    pub input: Vec<u8>,
    pub start: usize,
    /// The stream's last piece (gzip: closes the deflate stream; zstd: ends the frame).
    pub last: bool,
}

impl Piece {
    /// Bytes already compressed, passed on as they are.
    pub fn passed_on(data: Vec<u8>) -> Piece {
        Piece { compression: Compression::Uncompressed, input: data, start: 0, last: true }
    }

    /// The input before the piece's own, which it may refer back into.
    pub fn prefix(&self) -> &[u8] {
        &self.input[..self.start]
    }

    /// The piece's own input.
    pub fn data(&self) -> &[u8] {
        &self.input[self.start..]
    }

    /// How the piece crosses a host boundary: algorithm name and level.
    pub fn algorithm(&self) -> (&'static str, u8) {
        match self.compression {
            // eStargz members are cut into gzip pieces (estargz.rs): no piece is of its own kind.
            Compression::Gzip { level } | Compression::Estargz { level } => ("gzip", level),
            Compression::Zstd { level } => ("zstd", level),
            Compression::Uncompressed => ("uncompressed", 0),
        }
    }

    /// A piece back from its parts (in a worker: anything unknown is a host bug).
    pub fn from_parts(algorithm: &str, level: u8, input: Vec<u8>, start: usize, last: bool) -> Option<Piece> {
        let compression = match algorithm {
            "gzip" if level <= 9 => Compression::Gzip { level },
            "zstd" if level <= 22 => Compression::Zstd { level },
            _ => return None,
        };
        (start <= input.len()).then_some(Piece { compression, input, start, last })
    }
}

/// The compressed bytes of one piece. Pure: the same piece gives the same bytes anywhere.
pub fn compress_piece(piece: &Piece) -> Vec<u8> {
    match piece.compression {
        // eStargz members are cut into gzip pieces; no piece carries its compression.
        Compression::Gzip { level } | Compression::Estargz { level } => {
            deflate_piece(level, piece.prefix(), piece.data(), piece.last)
        }
        Compression::Zstd { level } => super::zstd::compress_piece(level, &piece.input, piece.start, piece.last),
        // Bytes that need no compressing (an eStargz member's gzip header and trailer), passed on.
        Compression::Uncompressed => piece.data().to_vec(),
    }
}

fn deflate_piece(level: u8, prefix: &[u8], data: &[u8], last: bool) -> Vec<u8> {
    let mut deflate = RawDeflate::new(level);
    if !prefix.is_empty() {
        deflate.set_dictionary(prefix);
    }
    let mut out = Vec::with_capacity(super::gzip::deflate_bound(data.len()));
    deflate.compress(data, if last { Flush::Finish } else { Flush::Sync }, &mut out);
    out
}

/// Cuts a layer stream into pieces and frames the result: what is written before the first piece,
/// the pieces in order, what is written after the last.
pub struct Pieces {
    compression: Compression,
    size: usize,
    /// The next piece's input: the end of the stream before it, then its own from `start`.
    current: Vec<u8>,
    start: usize,
    crc: crc32fast::Hasher,
    /// zstd's content checksum.
    xxh: twox_hash::XxHash64,
    length: u64,
    cut: u64,
}

impl Pieces {
    /// `None` for compressions that are not cut into pieces.
    pub fn new(compression: Compression) -> Option<Pieces> {
        let size = match compression {
            Compression::Gzip { level: 0 } => STORED_PIECE,
            Compression::Gzip { .. } => GZIP_PIECE,
            Compression::Zstd { .. } => ZSTD_PIECE,
            // eStargz layers are cut at their members, each a gzip stream cut as here (estargz.rs).
            Compression::Uncompressed | Compression::Estargz { .. } => return None,
        };
        Some(Pieces {
            compression,
            size,
            current: Vec::new(),
            start: 0,
            crc: crc32fast::Hasher::new(),
            xxh: twox_hash::XxHash64::with_seed(0),
            length: 0,
            cut: 0,
        })
    }

    /// What comes before the first piece's bytes.
    pub fn header(&self) -> Vec<u8> {
        match self.compression {
            Compression::Gzip { level } => gzip_header(level).to_vec(),
            Compression::Zstd { .. } => frame_header().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Take `input`; every piece it completes goes to `ready`, in order.
    pub fn push(&mut self, mut input: &[u8], ready: &mut Vec<Piece>) {
        if matches!(self.compression, Compression::Gzip { .. }) {
            self.crc.update(input);
        }
        if matches!(self.compression, Compression::Zstd { .. }) {
            core::hash::Hasher::write(&mut self.xxh, input);
        }
        self.length += input.len() as u64;
        while !input.is_empty() {
            let take = input.len().min(self.size - (self.current.len() - self.start));
            self.current.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.current.len() - self.start == self.size {
                ready.push(self.cut_piece(false));
            }
        }
    }

    /// The last piece (always one: it closes the gzip stream, and ends the zstd frame, with one
    /// empty last block when the stream ended on a piece boundary or is empty) and what follows it.
    pub fn finish(mut self, ready: &mut Vec<Piece>) -> Vec<u8> {
        let needs_last = match self.compression {
            Compression::Gzip { .. } | Compression::Zstd { .. } => true,
            _ => self.current.len() > self.start || self.cut == 0,
        };
        if needs_last {
            ready.push(self.cut_piece(true));
        }
        match self.compression {
            Compression::Gzip { .. } => gzip_trailer(self.crc.clone().finalize(), self.length).to_vec(),
            // The low 32 bits of XXH64 over the content, little-endian.
            Compression::Zstd { .. } => (core::hash::Hasher::finish(&self.xxh) as u32).to_le_bytes().to_vec(),
            _ => Vec::new(),
        }
    }

    fn cut_piece(&mut self, last: bool) -> Piece {
        // The next piece is primed with the end of the stream so far: deflate's window, or as much
        // as a zstd piece takes (which may reach into this piece's prefix after a short piece).
        let keep = match self.compression {
            // Stored blocks refer back to nothing.
            Compression::Gzip { level: 0 } => 0,
            Compression::Gzip { .. } => GZIP_WINDOW,
            Compression::Zstd { .. } => ZSTD_PREFIX,
            _ => 0,
        };
        let mut next = Vec::new();
        if !last {
            next.reserve(keep.min(self.current.len()) + self.size);
            next.extend_from_slice(&self.current[self.current.len().saturating_sub(keep)..]);
        }
        let input = std::mem::replace(&mut self.current, next);
        let start = std::mem::replace(&mut self.start, self.current.len());
        self.cut += 1;
        Piece { compression: self.compression, input, start, last }
    }
}

/// Compress a whole stream in pieces on this thread (tests, and hosts that compress in the core).
pub fn compress_all(compression: Compression, data: &[u8], write_size: usize) -> Vec<u8> {
    let mut pieces = Pieces::new(compression).expect("a piecewise compression");
    let mut out = pieces.header();
    let mut ready = Vec::new();
    for chunk in data.chunks(write_size.max(1)) {
        pieces.push(chunk, &mut ready);
    }
    let trailer = pieces.finish(&mut ready);
    for piece in &ready {
        out.extend_from_slice(&compress_piece(piece));
    }
    out.extend_from_slice(&trailer);
    out
}

#[cfg(test)]
mod tests {
    use super::super::deflate::RawInflate;
    use super::*;
    use ruzstd::decoding::FrameDecoder;

    fn sample(len: usize) -> Vec<u8> {
        let text = include_str!("piece.rs").as_bytes();
        (0..len).map(|i| text[(i * 7 + i / 4096) % text.len()] ^ ((i / 100_000) as u8)).collect()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
        let (data, trailer) = RawInflate::inflate_all(&gz[10..], usize::MAX).expect("one valid deflate stream");
        assert_eq!(trailer, gzip_trailer(crc32fast::hash(&data), data.len() as u64));
        data
    }

    fn unzstd(zst: &[u8], len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(len + 1);
        FrameDecoder::new().decode_all_to_vec(zst, &mut out).expect("valid zstd");
        out
    }

    #[test]
    fn gzip_pieces_join_into_one_member_at_every_level_and_boundary() {
        for len in [0, 1, GZIP_PIECE - 1, GZIP_PIECE, GZIP_PIECE + 1, 2 * GZIP_PIECE + 12_345] {
            let data = sample(len);
            for level in [0, 1, 6, 9] {
                let gz = compress_all(Compression::Gzip { level }, &data, 100_000);
                assert_eq!(gunzip(&gz), data, "len {len} level {level}");
            }
        }
    }

    #[test]
    fn zstd_pieces_join_into_one_frame() {
        for len in [0, ZSTD_PIECE, ZSTD_PIECE + 5, 2 * ZSTD_PIECE + 1] {
            let data = sample(len);
            let zst = compress_all(Compression::Zstd { level: 3 }, &data, 65_536);
            assert_eq!(&zst[..6], &frame_header(), "len {len}");
            // One frame: ruzstd reads it and its checksum, and nothing is left.
            let mut decoder = FrameDecoder::new();
            let mut input = zst.as_slice();
            decoder.reset(&mut input).expect("a frame header");
            decoder.decode_blocks(&mut input, ruzstd::decoding::BlockDecodingStrategy::All).expect("valid blocks");
            assert!(input.is_empty(), "len {len}: one frame only");
            assert_eq!(unzstd(&zst, len), data, "len {len}");
        }
    }

    #[test]
    fn write_sizes_do_not_change_bytes() {
        let data = sample(GZIP_PIECE * 2 + 999);
        for compression in [Compression::Gzip { level: 6 }, Compression::Zstd { level: 1 }] {
            assert_eq!(compress_all(compression, &data, 1 << 20), compress_all(compression, &data, 4093));
        }
    }

    #[test]
    fn priming_keeps_gzip_close_to_one_stream() {
        // Repetitive across piece boundaries: without the window carried over, every piece would
        // start from nothing.
        let data = sample(3 * GZIP_PIECE);
        let pieced = compress_all(Compression::Gzip { level: 6 }, &data, 1 << 16).len();
        let mut whole = Vec::new();
        let mut encoder = super::super::gzip::GzipEncoder::new(6, &mut whole);
        encoder.write(&data, &mut whole);
        encoder.finish(&mut whole);
        assert!((pieced as f64) < whole.len() as f64 * 1.01, "pieced {pieced} vs one stream {}", whole.len());
    }
}

/// Measures pieced compression of a file named by OUTPORT_PIECE_BENCH (a benchmark, not a test):
/// `OUTPORT_PIECE_BENCH=tree.tar cargo test --release -p outport --lib piece_throughput -- --ignored --nocapture`.
#[cfg(test)]
#[test]
#[ignore]
fn piece_throughput() {
    let path = std::env::var("OUTPORT_PIECE_BENCH").expect("OUTPORT_PIECE_BENCH names a tar");
    let data = std::fs::read(path).expect("readable");
    for compression in [1, 6, 9].map(|level| Compression::Gzip { level }) {
        let start = std::time::Instant::now();
        let out = compress_all(compression, &data, 1 << 20);
        let secs = start.elapsed().as_secs_f64();
        eprintln!("{compression:?}: {} bytes, {:.1} MB/s on one thread", out.len(), data.len() as f64 / secs / 1e6);
    }
    eprintln!("one stream at 6: {} bytes", super::gzip::gzip_member(6, &data).len());
}
