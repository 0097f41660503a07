//! zstd layers: one frame per layer, made of pieces that can be compressed on other threads.
//!
//! The frame header comes first (`frame_header`), then every piece's blocks, then the content
//! checksum (see piece.rs). A piece is compressed on its own: its buffer is the input just before
//! it (the prefix, entered into the match finder's tables without output) followed by its data,
//! and its blocks are zstd blocks of at most 128 KiB, raw, RLE or compressed, whichever is
//! smallest. As in zstd's multi-threaded mode, the first piece starts with the standard repeat
//! offsets and every later one with all three unknown, never using one it does not know; FSE and
//! Huffman tables are only repeated from earlier blocks of the same piece.
//!
//! Four speed tiers are chosen from the zstd level the way BuildKit's encoder (klauspost/compress,
//! `EncoderLevelFromZstd`) chooses them, with match finders after zstd's strategies: fast,
//! double-fast, lazy and lazy2 hash chains.

mod bits;
mod block;
mod fse;
mod huff;
mod matchers;
mod store;

use block::EntropyState;
use matchers::{DoubleFast, Fast, Lazy, LazyParams, Matcher, MAX_OFFSET};
use store::{Reps, SeqStore};

/// BuildKit's default zstd level.
pub const DEFAULT_LEVEL: u8 = 3;

/// zstd's largest block.
const BLOCK: usize = 128 << 10;
/// Data compressed against one buffer: a piece larger than this (only from a host that cuts its
/// own) is handled in parts of this size, each primed with the bytes before it.
const SPAN: usize = 4 << 20;
/// How much input before a piece its match finder is primed with. Far repeats (the same file twice
/// in a layer) need only one surviving table entry to be found, so each MiB of prefix counts: on the
/// bench tree 1 MiB gave 0.358 of the tar, 2 MiB 0.348, 4 MiB 0.328. Each MiB also costs about 8% of
/// the speed (priming) and a MiB per piece in flight (memory): 2 MiB is where size, speed and
/// memory all meet issue 15's bars.
pub const PREFIX: usize = 2 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tier {
    Fastest,
    Default,
    Better,
    Best,
}

impl Tier {
    /// klauspost's cut points: below 3 fastest, 3–5 default, 6–9 better, 10 and above best.
    pub fn from_level(level: u8) -> Tier {
        match level {
            0..=2 => Tier::Fastest,
            3..=5 => Tier::Default,
            6..=9 => Tier::Better,
            _ => Tier::Best,
        }
    }

    fn matcher(self) -> Matcher {
        let lazy = |hash_log, chain_log, depth, lazy_steps, nice_len, min_match| {
            Matcher::Lazy(Lazy::new(LazyParams { hash_log, chain_log, depth, lazy_steps, nice_len, min_match }))
        };
        match self {
            Tier::Fastest => Matcher::Fast(Fast::new(16)),
            // zstd's own level-3 tables (hashLog 17, chainLog 16): larger ones found 1.2% more
            // but missed the CPU caches, ~20% slower.
            Tier::Default => Matcher::DoubleFast(DoubleFast::new(17, 16)),
            Tier::Better => lazy(17, 19, 8, 1, 48, 5),
            Tier::Best => lazy(18, 20, 64, 2, 192, 5),
        }
    }
}

/// The frame header of a layer: magic, a descriptor with the content checksum flag (no content
/// size, not single-segment), and an 8 MiB window.
pub fn frame_header() -> [u8; 6] {
    const _: () = assert!(MAX_OFFSET == 1 << 23);
    [0x28, 0xb5, 0x2f, 0xfd, 0x04, (23 - 10) << 3]
}

fn block_header(last: bool, kind: u32, size: usize, out: &mut Vec<u8>) {
    let v = u32::from(last) | kind << 1 | (size as u32) << 3;
    out.extend_from_slice(&v.to_le_bytes()[..3]);
}

/// A piece's blocks: `input[start..]` compressed after `input[..start]` (the stream's input just
/// before it; empty for the first piece). `last`: the stream's last piece, whose last block ends
/// the frame.
pub fn compress_piece(level: u8, input: &[u8], start: usize, last: bool) -> Vec<u8> {
    let data = &input[start..];
    // Room for the worst case (raw blocks and their headers) up front, so the output never grows
    // by copying; capacity never written costs no memory pages.
    let mut out = Vec::with_capacity(data.len() + 3 * (data.len() / BLOCK + 1));
    if data.is_empty() {
        if last {
            block_header(true, 0, 0, &mut out);
        }
        return out;
    }
    let tier = Tier::from_level(level);
    WORKSPACE.with(|workspace| {
        let mut workspace = workspace.borrow_mut();
        let Workspace { matchers, buf, body } = &mut *workspace;
        let matcher = match matchers.iter().position(|(t, _)| *t == tier) {
            Some(i) => &mut matchers[i].1,
            None => {
                matchers.push((tier, tier.matcher()));
                &mut matchers.last_mut().expect("just pushed").1
            }
        };
        compress_parts(matcher, buf, body, input, start, last, &mut out);
        buf.clear();
        buf.shrink_to(PREFIX + SPAN);
    });
    out
}

/// What a thread keeps between pieces: match finder tables (megabytes, allocated once per tier)
/// and buffers. Reset before use, so the bytes never depend on what ran before.
#[derive(Default)]
struct Workspace {
    matchers: Vec<(Tier, Matcher)>,
    buf: Vec<u8>,
    body: Vec<u8>,
}

thread_local! {
    static WORKSPACE: std::cell::RefCell<Workspace> = std::cell::RefCell::default();
}

fn compress_parts(
    matcher: &mut Matcher,
    buf: &mut Vec<u8>,
    body: &mut Vec<u8>,
    input: &[u8],
    data_start: usize,
    last: bool,
    out: &mut Vec<u8>,
) {
    let (prefix, data) = input.split_at(data_start);
    let mut store = SeqStore::new(if prefix.is_empty() { Reps::START } else { Reps::UNKNOWN });
    let mut entropy = EntropyState::new();
    let mut done = 0;
    while done < data.len() {
        let part = &data[done..(done + SPAN).min(data.len())];
        let last_part = done + part.len() == data.len();
        // What the part is matched in: the primed bytes before it, then the part.
        // A piece no larger than one span is matched in place, not copied first.
        let (buf, primed): (&[u8], usize) = if done == 0 && last_part {
            let primed = prefix.len().min(PREFIX);
            (&input[data_start - primed..], primed)
        } else {
            buf.clear();
            if done == 0 {
                buf.extend_from_slice(&prefix[prefix.len().saturating_sub(PREFIX)..]);
            } else {
                buf.extend_from_slice(&data[done.saturating_sub(PREFIX)..done]);
            }
            let primed = buf.len();
            buf.extend_from_slice(part);
            (&buf[..], primed)
        };
        matcher.reset();
        matcher.prime(buf, primed);
        let mut start = primed;
        while start < buf.len() {
            let end = (start + BLOCK).min(buf.len());
            let last_block = last && last_part && end == buf.len();
            let raw = &buf[start..end];
            if raw.len() > 1 && raw.iter().all(|&b| b == raw[0]) {
                block_header(last_block, 1, raw.len(), out);
                out.push(raw[0]);
            } else {
                let before = store.reps;
                store.clear();
                matcher.block(buf, start, end, &mut store);
                body.clear();
                let update = entropy.encode_block(&store.literals, &store.seqs, body);
                if body.len() < raw.len() {
                    block_header(last_block, 2, body.len(), out);
                    out.extend_from_slice(body);
                    entropy.commit(update);
                } else {
                    // The decoder's history does not see a raw block's matches.
                    store.reps = before;
                    block_header(last_block, 0, raw.len(), out);
                    out.extend_from_slice(raw);
                }
            }
            start = end;
        }
        done += part.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::piece::{compress_all, Pieces, ZSTD_PIECE};
    use crate::compress::Compression;
    use ruzstd::decoding::FrameDecoder;

    const TIERS: [Tier; 4] = [Tier::Fastest, Tier::Default, Tier::Better, Tier::Best];
    const LEVELS: [u8; 10] = [0, 1, 2, 3, 5, 6, 9, 10, 19, 22];
    const MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
    /// First 8 bytes of the SHA-256 of `bytes_are_pinned`'s output at levels 1, 3, 6, 10.
    const PINNED: [&str; 4] = ["75b96840a18d3975", "e88e34091d8f5aed", "0c3de587e4951433", "6e5df4d3dd0ab574"];

    fn level(tier: Tier) -> u8 {
        match tier {
            Tier::Fastest => 1,
            Tier::Default => 3,
            Tier::Better => 6,
            Tier::Best => 10,
        }
    }

    fn compress(level: u8, data: &[u8], chunk: usize) -> Vec<u8> {
        compress_all(Compression::Zstd { level }, data, chunk)
    }

    /// Decoded by ruzstd and, when the zstd CLI is installed, tested by it; one frame only.
    fn decompress(compressed: &[u8], expected_len: usize) -> Vec<u8> {
        assert_eq!(&compressed[..4], &MAGIC);
        let mut out = Vec::with_capacity(expected_len + 1);
        let mut decoder = FrameDecoder::new();
        let mut input = compressed;
        decoder.reset(&mut input).expect("a frame header");
        decoder.decode_blocks(&mut input, ruzstd::decoding::BlockDecodingStrategy::All).expect("valid blocks");
        out.extend_from_slice(&decoder.collect().unwrap_or_default());
        assert!(input.is_empty(), "one frame, nothing after it");
        let checksum = u32::from_le_bytes(compressed[compressed.len() - 4..].try_into().unwrap());
        assert_eq!(checksum, twox_hash::XxHash64::oneshot(0, &out) as u32, "content checksum");
        let mut whole = Vec::with_capacity(expected_len + 1);
        FrameDecoder::new().decode_all_to_vec(compressed, &mut whole).expect("valid zstd");
        assert_eq!(whole, out);
        cli_test(compressed);
        out
    }

    fn cli_test(compressed: &[u8]) {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let Ok(mut child) =
            Command::new("zstd").args(["-t", "-q"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn()
        else {
            return; // no zstd CLI here
        };
        child.stdin.take().unwrap().write_all(compressed).unwrap();
        let result = child.wait_with_output().unwrap();
        assert!(result.status.success(), "zstd -t: {}", String::from_utf8_lossy(&result.stderr));
    }

    /// Text that repeats with variation, like a tree of config files and scripts: words drawn from
    /// a small vocabulary by a fixed pseudo-random sequence, with some numbers mixed in.
    fn varied_text(len: usize) -> Vec<u8> {
        const WORDS: [&str; 24] = [
            "export", "layer", "digest", "sha256", "manifest", "config", "index", "blob", "the", "of", "tar", "gzip",
            "zstd", "image", "platform", "linux", "amd64", "arm64", "name", "value", "=", "{", "}", "\n",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut out = Vec::with_capacity(len + 16);
        while out.len() < len {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let pick = (state >> 33) as usize;
            out.extend_from_slice(WORDS[pick % WORDS.len()].as_bytes());
            if pick.is_multiple_of(7) {
                out.extend_from_slice(format!("{}", pick % 1000).as_bytes());
            }
            out.push(b' ');
        }
        out.truncate(len);
        out
    }

    fn noise(len: usize, seed: u32) -> Vec<u8> {
        (0..len as u32).map(|i| (i.wrapping_add(seed).wrapping_mul(2654435761) >> 13) as u8 ^ (i >> 11) as u8).collect()
    }

    #[test]
    fn levels_map_onto_klauspost_tiers() {
        let tiers: Vec<Tier> = (0..=22).map(Tier::from_level).collect();
        assert_eq!(&tiers[..3], &[Tier::Fastest; 3]);
        assert_eq!(&tiers[3..6], &[Tier::Default; 3]);
        assert_eq!(&tiers[6..10], &[Tier::Better; 4]);
        assert!(tiers[10..].iter().all(|t| *t == Tier::Best));
        assert_eq!(Tier::from_level(DEFAULT_LEVEL), Tier::Default);
    }

    #[test]
    fn every_level_boundary_round_trips_as_one_frame() {
        let mut data = varied_text(300_000);
        data.extend(std::iter::repeat_n(0u8, 200_000)); // a run longer than a block: RLE blocks
        data.extend(noise(50_000, 7)); // incompressible: raw blocks
        data.extend(varied_text(ZSTD_PIECE)); // into a second piece
        for level in LEVELS {
            let zst = compress(level, &data, 65_536);
            assert_eq!(zst.windows(4).filter(|w| w == &MAGIC).count(), 1, "level {level}: one frame");
            assert_eq!(decompress(&zst, data.len()), data, "level {level}");
        }
    }

    #[test]
    fn a_block_that_only_repeats_earlier_data_round_trips() {
        let half = varied_text(128 * 1024);
        let data = [half.as_slice(), half.as_slice()].concat();
        for tier in TIERS {
            let zst = compress(level(tier), &data, 4096);
            assert_eq!(decompress(&zst, data.len()), data, "{tier:?}");
        }
    }

    #[test]
    fn empty_input_is_one_frame_with_one_empty_last_block() {
        for level in LEVELS {
            let zst = compress(level, &[], 1);
            // header, an empty last raw block, the checksum of nothing
            assert_eq!(zst.len(), 6 + 3 + 4, "level {level}");
            assert_eq!(&zst[6..9], &[1, 0, 0]);
            assert!(decompress(&zst, 0).is_empty());
        }
    }

    #[test]
    fn sizes_at_piece_and_block_boundaries_round_trip() {
        let text = varied_text(2 * ZSTD_PIECE + BLOCK + 2);
        for len in [
            1,
            2,
            3,
            8,
            9,
            17,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            ZSTD_PIECE - 1,
            ZSTD_PIECE,
            ZSTD_PIECE + 1,
            2 * ZSTD_PIECE + BLOCK + 1,
        ] {
            for level in [1, 3, 6] {
                let zst = compress(level, &text[..len], 100_000);
                assert_eq!(decompress(&zst, len), &text[..len], "len {len} level {level}");
            }
        }
    }

    #[test]
    fn incompressible_input_is_stored_raw() {
        let data = noise(3 * BLOCK + 5, 1);
        for tier in TIERS {
            let zst = compress(level(tier), &data, 1 << 16);
            assert!(zst.len() <= data.len() + 6 + 4 + 3 * 4, "{tier:?}: {}", zst.len());
            assert_eq!(decompress(&zst, data.len()), data);
        }
    }

    #[test]
    fn a_long_run_of_one_byte_is_rle_blocks() {
        let data = vec![b'x'; ZSTD_PIECE + 3 * BLOCK + 7];
        for tier in TIERS {
            let zst = compress(level(tier), &data, 1 << 16);
            // every block four bytes or a tiny compressed one
            assert!(zst.len() < 10 + 4 * (data.len() / BLOCK + 2) + 16, "{tier:?}: {}", zst.len());
            assert_eq!(decompress(&zst, data.len()), data);
        }
    }

    #[test]
    fn repeat_offsets_carry_records_of_one_shape() {
        // Records of fixed width where only a counter changes: nearly every match is at the record
        // width, so repeat offsets dominate.
        let mut data = Vec::new();
        let mut i = 0u32;
        while data.len() < 3 * ZSTD_PIECE / 2 {
            data.extend_from_slice(
                format!("record {:08} state=ok owner=root mode=0644 size={:6}\n", i, i % 977).as_bytes(),
            );
            i += 1;
        }
        for tier in TIERS {
            let zst = compress(level(tier), &data, 1 << 16);
            assert!(zst.len() * 10 < data.len(), "{tier:?}: {} of {}", zst.len(), data.len());
            assert_eq!(decompress(&zst, data.len()), data, "{tier:?}");
        }
    }

    #[test]
    fn write_sizes_do_not_change_bytes() {
        let data = [varied_text(ZSTD_PIECE + 70_000), noise(100_000, 3), varied_text(ZSTD_PIECE)].concat();
        for level in [1, 3, 7] {
            let one = compress(level, &data, data.len());
            assert_eq!(one, compress(level, &data, 1_000), "level {level}");
            assert_eq!(one, compress(level, &data, ZSTD_PIECE - 1), "level {level}");
        }
    }

    #[test]
    fn pieces_compressed_out_of_order_give_the_same_bytes() {
        let data = [varied_text(2 * ZSTD_PIECE), noise(10_000, 9), varied_text(ZSTD_PIECE / 2)].concat();
        let compression = Compression::Zstd { level: 3 };
        let mut pieces = Pieces::new(compression).unwrap();
        let mut ready = Vec::new();
        pieces.push(&data, &mut ready);
        let header = pieces.header();
        let trailer = pieces.finish(&mut ready);
        assert!(ready.len() >= 3);
        assert!(ready[0].prefix().is_empty() && !ready[1].prefix().is_empty());
        let mut parts: Vec<(usize, Vec<u8>)> =
            ready.iter().enumerate().rev().map(|(i, p)| (i, crate::compress::piece::compress_piece(p))).collect();
        parts.sort_by_key(|(i, _)| *i);
        let mut out = header;
        parts.iter().for_each(|(_, bytes)| out.extend_from_slice(bytes));
        out.extend_from_slice(&trailer);
        assert_eq!(out, compress(3, &data, 12_345));
        assert_eq!(decompress(&out, data.len()), data);
    }

    #[test]
    fn priming_reaches_into_the_piece_before() {
        // The same PREFIX bytes four times: two pieces, the second one's repeats are all in the
        // piece before it. Primed, they are nearly free.
        let first = varied_text(PREFIX);
        let data = first.repeat(2 * ZSTD_PIECE / PREFIX);
        for tier in TIERS {
            let one = compress(level(tier), &first, 1 << 20).len();
            let two = compress(level(tier), &data, 1 << 20).len();
            assert!(two < one + one / 20, "{tier:?}: {one} for one copy, {two} for two");
        }
    }

    #[test]
    fn each_tier_compresses_smaller_than_the_one_below() {
        let data = varied_text(1 << 20);
        let sizes: Vec<usize> = TIERS.iter().map(|t| compress(level(*t), &data, 1 << 16).len()).collect();
        eprintln!("zstd sizes per tier of {} bytes: {sizes:?}", data.len());
        for pair in sizes.windows(2) {
            assert!(pair[1] < pair[0], "sizes per tier: {sizes:?}");
        }
        assert!(sizes[0] < data.len() / 2, "sizes per tier: {sizes:?}");
    }

    /// Many small streams of mixed content, cut into two pieces at a random point (so the second is
    /// primed and starts with unknown repeat offsets), at every tier.
    #[test]
    fn random_streams_cut_anywhere_round_trip() {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: usize| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as usize) % bound.max(1)
        };
        for case in 0..240 {
            let mut data = Vec::new();
            let target = next(200_000);
            while data.len() < target {
                match next(5) {
                    0 => data.extend(std::iter::repeat_n(next(256) as u8, next(3000))),
                    1 => data.extend(noise(next(2000), next(1000) as u32)),
                    2 if !data.is_empty() => {
                        // a copy of earlier data, at a distance that repeats often
                        let distance = [1, 4, 8, 13, 64, 1000][next(6)].min(data.len());
                        for _ in 0..next(500) + 3 {
                            data.push(data[data.len() - distance]);
                        }
                    }
                    3 if !data.is_empty() => {
                        let from = next(data.len());
                        let len = next(data.len() - from).min(5000);
                        data.extend_from_within(from..from + len);
                    }
                    _ => data.extend_from_slice(&varied_text(next(4000))),
                }
            }
            let cut = next(data.len() + 1);
            let level = [1, 3, 6, 10][case % 4];
            let mut zst = frame_header().to_vec();
            zst.extend(compress_piece(level, &data[..cut], 0, false));
            zst.extend(compress_piece(level, &data, cut, true));
            zst.extend_from_slice(&(twox_hash::XxHash64::oneshot(0, &data) as u32).to_le_bytes());
            assert_eq!(decompress(&zst, data.len()), data, "case {case}: {} bytes cut at {cut}", data.len());
        }
    }

    /// The bytes are part of layer digests: they must not change by accident, nor differ between
    /// targets (this test also runs on wasm32, whose usize is 32 bits wide).
    #[test]
    fn bytes_are_pinned() {
        use sha2::{Digest, Sha256};
        let data = [varied_text(ZSTD_PIECE + 300_000), noise(70_000, 5), vec![7; 1000], varied_text(9_999)].concat();
        let digests: Vec<String> = [1, 3, 6, 10]
            .iter()
            .map(|&level| {
                let digest = Sha256::digest(compress(level, &data, 1 << 16));
                digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
            })
            .collect();
        assert_eq!(digests, PINNED, "compressed bytes changed");
    }

    #[test]
    fn the_stream_encoder_writes_the_pieces_bytes() {
        let data = varied_text(ZSTD_PIECE + 5);
        let mut out = Vec::new();
        let mut enc = crate::compress::Encoder::new(Compression::Zstd { level: 3 }, &mut out);
        for chunk in data.chunks(77_777) {
            enc.write(chunk, &mut out).unwrap();
        }
        enc.finish(&mut out).unwrap();
        assert_eq!(out, compress(3, &data, 1 << 20));
    }
}

/// Measurement harness, not run by CI:
/// `ZSTD_BENCH_FILE=/tmp/layer.tar ZSTD_BENCH_REF=<bytes of zstd -3> cargo test --release -p outport
/// --lib zstd::bench -- --ignored --nocapture` prints, per level, MB/s on one thread and the size
/// against the reference. `ZSTD_BENCH_LEVELS=1,3` picks levels.
#[cfg(test)]
mod bench {
    #[test]
    #[ignore]
    fn bench() {
        let Ok(path) = std::env::var("ZSTD_BENCH_FILE") else {
            eprintln!("set ZSTD_BENCH_FILE");
            return;
        };
        let data = std::fs::read(path).expect("readable ZSTD_BENCH_FILE");
        let reference: Option<f64> = std::env::var("ZSTD_BENCH_REF").ok().and_then(|r| r.parse().ok());
        let levels: Vec<u8> = std::env::var("ZSTD_BENCH_LEVELS")
            .unwrap_or_else(|_| "1,3,6,10".into())
            .split(',')
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        for level in levels {
            let compression = crate::compress::Compression::Zstd { level };
            let started = std::time::Instant::now();
            let out = crate::compress::piece::compress_all(compression, &data, 1 << 20);
            let seconds = started.elapsed().as_secs_f64();
            // What a worker spends: the pieces' compression alone, without cutting the stream.
            let mut pieces = crate::compress::piece::Pieces::new(compression).expect("zstd pieces");
            let mut ready = Vec::new();
            pieces.push(&data, &mut ready);
            pieces.finish(&mut ready);
            let started = std::time::Instant::now();
            let piece_bytes: usize = ready.iter().map(|p| crate::compress::piece::compress_piece(p).len()).sum();
            let piece_seconds = started.elapsed().as_secs_f64();
            assert_eq!(piece_bytes + 6 + 4, out.len());
            let ratio = reference.map(|r| format!(", {:.4}× the reference", out.len() as f64 / r)).unwrap_or_default();
            eprintln!(
                "level {level}: {} → {} bytes ({:.4}){ratio}, {:.1} MB/s (pieces alone: {:.1} MB/s)",
                data.len(),
                out.len(),
                out.len() as f64 / data.len() as f64,
                data.len() as f64 / seconds / 1e6,
                data.len() as f64 / piece_seconds / 1e6
            );
        }
    }
}
