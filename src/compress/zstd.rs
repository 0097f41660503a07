//! Streaming zstd with ruzstd, at four speed tiers chosen from the zstd level the way BuildKit's
//! encoder (klauspost/compress, `EncoderLevelFromZstd`) chooses them.
//!
//! ruzstd's frame compressor pulls its whole input from a reader in one call, while our layers
//! arrive in chunks. So the input is cut into blocks of `FRAME_INPUT` bytes and each becomes its own
//! frame: a zstd stream may hold any number of frames, and decoders concatenate them. 8 MiB is the
//! window BuildKit's encoder uses by default, so the best tier can still reach 8 MiB back, while
//! memory stays bounded (the pending block, the matcher's copy of it, and its tables) whatever the
//! layer's size. Frames are cut at fixed input offsets, so the bytes do not depend on how the
//! input was chunked.

mod hash_chain;

use hash_chain::{HashChainMatcher, SearchParams};
use ruzstd::encoding::{CompressionLevel, FrameCompressor};

/// BuildKit's default zstd level.
pub const DEFAULT_LEVEL: u8 = 3;

/// Uncompressed bytes per frame.
const FRAME_INPUT: usize = 8 << 20;

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

    /// Our own match finder's effort; `None` for fastest, which is ruzstd's built-in matcher.
    /// Windows double per tier (2, 4, 8 MiB), chains deepen. Even the default tier looks one
    /// position ahead: ruzstd's entropy stage never uses zstd's repeat offsets, and lazy matching
    /// wins most of that back for about 15% more time (about 2% above `zstd -3` on a perl tree).
    fn search(self) -> Option<SearchParams> {
        let params = |window_log, hash_log, chain_depth, lazy_steps, nice_len| SearchParams {
            window_log,
            hash_log,
            chain_depth,
            lazy_steps,
            nice_len,
        };
        match self {
            Tier::Fastest => None,
            Tier::Default => Some(params(21, 17, 8, 1, 32)),
            Tier::Better => Some(params(22, 18, 24, 1, 64)),
            Tier::Best => Some(params(23, 20, 48, 2, 128)),
        }
    }
}

pub struct ZstdEncoder {
    /// `None`: the fastest tier, whose matcher ruzstd builds per frame.
    matcher: Option<HashChainMatcher>,
    pending: Vec<u8>,
    frame_input: usize,
    frames: usize,
}

impl ZstdEncoder {
    pub fn new(level: u8) -> ZstdEncoder {
        ZstdEncoder::with_frame_input(Tier::from_level(level), FRAME_INPUT)
    }

    fn with_frame_input(tier: Tier, frame_input: usize) -> ZstdEncoder {
        ZstdEncoder { matcher: tier.search().map(HashChainMatcher::new), pending: Vec::new(), frame_input, frames: 0 }
    }

    pub fn write(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while !input.is_empty() {
            let take = input.len().min(self.frame_input - self.pending.len());
            self.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.pending.len() == self.frame_input {
                self.flush_frame(out);
            }
        }
    }

    /// Compresses what is pending; an empty layer still gets one (empty) frame.
    pub fn finish(mut self, out: &mut Vec<u8>) {
        if !self.pending.is_empty() || self.frames == 0 {
            self.flush_frame(out);
        }
    }

    fn flush_frame(&mut self, out: &mut Vec<u8>) {
        compress_frame_with(self.matcher.as_mut(), &self.pending, out);
        self.pending.clear();
        self.frames += 1;
    }
}

thread_local! {
    /// Match finders by tier, kept between frames: their tables are megabytes, allocated once.
    static MATCHERS: std::cell::RefCell<Vec<(Tier, HashChainMatcher)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// `input` as one zstd frame at `tier`.
pub fn compress_frame(tier: Tier, input: &[u8], out: &mut Vec<u8>) {
    let Some(params) = tier.search() else {
        return compress_frame_with(None, input, out);
    };
    MATCHERS.with(|matchers| {
        let mut matchers = matchers.borrow_mut();
        let index = match matchers.iter().position(|(t, _)| *t == tier) {
            Some(i) => i,
            None => {
                matchers.push((tier, HashChainMatcher::new(params)));
                matchers.len() - 1
            }
        };
        compress_frame_with(Some(&mut matchers[index].1), input, out);
    })
}

fn compress_frame_with(matcher: Option<&mut HashChainMatcher>, input: &[u8], out: &mut Vec<u8>) {
    // ruzstd only runs its block loop for "fastest" (and "uncompressed"); the tier's strength
    // comes from the matcher, so the frame compressor is always asked for "fastest".
    match matcher {
        None => {
            let mut frame = FrameCompressor::new(CompressionLevel::Fastest);
            frame.set_source(input);
            frame.set_drain(&mut *out);
            frame.compress();
        }
        Some(matcher) => {
            let mut frame = FrameCompressor::new_with_matcher(matcher, CompressionLevel::Fastest);
            frame.set_source(input);
            frame.set_drain(&mut *out);
            frame.compress();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruzstd::decoding::FrameDecoder;

    const TIERS: [Tier; 4] = [Tier::Fastest, Tier::Default, Tier::Better, Tier::Best];

    fn compress(tier: Tier, frame_input: usize, data: &[u8], chunk: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = ZstdEncoder::with_frame_input(tier, frame_input);
        for piece in data.chunks(chunk.max(1)) {
            enc.write(piece, &mut out);
        }
        enc.finish(&mut out);
        out
    }

    fn decompress(compressed: &[u8], expected_len: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(expected_len + 1);
        FrameDecoder::new().decode_all_to_vec(compressed, &mut out).expect("valid zstd");
        out
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
    fn every_tier_round_trips() {
        let mut data = varied_text(300_000);
        data.extend(std::iter::repeat_n(0u8, 200_000)); // a run longer than a block: RLE blocks
        data.extend((0..50_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)); // incompressible
        for tier in TIERS {
            let zst = compress(tier, FRAME_INPUT, &data, 65_536);
            assert_eq!(&zst[..4], &[0x28, 0xb5, 0x2f, 0xfd], "{tier:?}");
            assert_eq!(decompress(&zst, data.len()), data, "{tier:?}");
        }
    }

    #[test]
    fn a_block_that_only_repeats_earlier_data_round_trips() {
        // Block two is one match with no literals: the case ruzstd's table builder cannot take as is.
        let half = varied_text(128 * 1024);
        let data = [half.as_slice(), half.as_slice()].concat();
        for tier in TIERS {
            let zst = compress(tier, FRAME_INPUT, &data, 4096);
            assert_eq!(decompress(&zst, data.len()), data, "{tier:?}");
        }
    }

    #[test]
    fn empty_input_is_one_empty_frame() {
        for tier in TIERS {
            let zst = compress(tier, FRAME_INPUT, &[], 1);
            assert_eq!(&zst[..4], &[0x28, 0xb5, 0x2f, 0xfd]);
            assert!(decompress(&zst, 0).is_empty());
        }
    }

    #[test]
    fn frames_are_cut_at_fixed_input_offsets() {
        let data = varied_text(250_000);
        for tier in TIERS {
            let one = compress(tier, 100_000, &data, 250_000);
            assert_eq!(one, compress(tier, 100_000, &data, 1_000), "{tier:?}");
            assert_eq!(one, compress(tier, 100_000, &data, 99_999), "{tier:?}");
            assert_eq!(decompress(&one, data.len()), data, "{tier:?}");
            let magic = one.windows(4).filter(|w| w == &[0x28, 0xb5, 0x2f, 0xfd]).count();
            assert!(magic >= 3, "{tier:?}: three frames expected");
        }
    }

    #[test]
    fn each_tier_compresses_smaller_than_the_one_below() {
        let data = varied_text(1 << 20);
        let sizes: Vec<usize> = TIERS.iter().map(|t| compress(*t, FRAME_INPUT, &data, 1 << 16).len()).collect();
        eprintln!("zstd sizes per tier of {} bytes: {sizes:?}", data.len());
        for pair in sizes.windows(2) {
            assert!(pair[1] < pair[0], "sizes per tier: {sizes:?}");
        }
        assert!(sizes[0] < data.len() / 2, "sizes per tier: {sizes:?}");
    }
}
