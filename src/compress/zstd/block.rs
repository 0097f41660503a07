//! The entropy stage: one block's literals and sequences into a compressed block body, choosing per
//! section the cheapest representation (literals raw / RLE / Huffman with a new or the previous
//! tree; per sequence stream predefined / RLE / new / previous FSE table). "Previous" only ever
//! means an earlier block of the same piece, which the decoder has seen just before.

use super::bits::BitWriter;
use super::fse::{Distribution, Table};
use super::huff::HuffTable;

/// One sequence: literals, then a match. `off_base` is zstd's offset value: 1–3 a repeat offset,
/// above 3 an offset of `off_base - 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seq {
    pub lit_len: u32,
    pub off_base: u32,
    pub match_len: u32,
}

const LL_NORM: [i16; 36] =
    [4, 3, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 2, 1, 1, 1, 1, 1, -1, -1, -1, -1];
const ML_NORM: [i16; 53] = [
    1, 4, 3, 2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1, -1, -1,
];
const OF_NORM: [i16; 29] = [1, 1, 1, 1, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, -1, -1, -1, -1, -1];

const LL_BASE: [u32; 36] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 18, 20, 22, 24, 28, 32, 40, 48, 64, 128, 256, 512, 1024,
    2048, 4096, 8192, 16384, 32768, 65536,
];
const LL_BITS: [u32; 36] =
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const ML_BASE: [u32; 53] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
    33, 34, 35, 37, 39, 41, 43, 47, 51, 59, 67, 83, 99, 131, 259, 515, 1027, 2051, 4099, 8195, 16387, 32771, 65539,
];
const ML_BITS: [u32; 53] = [
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2,
    3, 3, 4, 4, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
];

fn ll_code(ll: u32) -> u8 {
    if ll < 64 {
        LL_BASE.iter().rposition(|&b| b <= ll).unwrap_or(0) as u8
    } else {
        (31 - ll.leading_zeros()) as u8 + 19
    }
}

fn ml_code(ml: u32) -> u8 {
    let base = ml - 3;
    if base < 128 {
        ML_BASE.iter().rposition(|&b| b <= ml).unwrap_or(0) as u8
    } else {
        (31 - base.leading_zeros()) as u8 + 36
    }
}

/// Lookup tables for the small lengths (the codes above are searched once, here).
struct Codes {
    ll: [u8; 64],
    ml: [u8; 128],
}

impl Codes {
    fn new() -> Codes {
        Codes { ll: std::array::from_fn(|i| ll_code(i as u32)), ml: std::array::from_fn(|i| ml_code(i as u32 + 3)) }
    }

    #[inline]
    fn ll(&self, ll: u32) -> u8 {
        if ll < 64 {
            self.ll[ll as usize]
        } else {
            (31 - ll.leading_zeros()) as u8 + 19
        }
    }

    #[inline]
    fn ml(&self, ml: u32) -> u8 {
        let base = ml - 3;
        if base < 128 {
            self.ml[base as usize]
        } else {
            (31 - base.leading_zeros()) as u8 + 36
        }
    }
}

/// What the decoder remembers between blocks of a frame; reset for every piece.
pub struct EntropyState {
    huff: Option<HuffTable>,
    previous: [Option<Table>; 3],
    predefined: [Table; 3],
    codes: Codes,
    /// Scratch buffers, reused between blocks.
    ll_codes: Vec<u8>,
    of_codes: Vec<u8>,
    ml_codes: Vec<u8>,
    streams: Vec<u8>,
}

/// What a block would change in `EntropyState` if it is emitted compressed.
pub struct Update {
    huff: Option<HuffTable>,
    tables: [Option<Option<Table>>; 3],
}

const LL: usize = 0;
const OF: usize = 1;
const ML: usize = 2;
const MAX_LOG: [u32; 3] = [9, 8, 9];

enum Mode {
    Predefined,
    Rle(u8),
    New(Table),
    Repeat,
}

impl Default for EntropyState {
    fn default() -> Self {
        EntropyState::new()
    }
}

impl EntropyState {
    pub fn new() -> EntropyState {
        EntropyState {
            huff: None,
            previous: [None, None, None],
            predefined: [
                Table::new(Distribution::predefined(&LL_NORM, 6)),
                Table::new(Distribution::predefined(&OF_NORM, 5)),
                Table::new(Distribution::predefined(&ML_NORM, 6)),
            ],
            codes: Codes::new(),
            ll_codes: Vec::new(),
            of_codes: Vec::new(),
            ml_codes: Vec::new(),
            streams: Vec::new(),
        }
    }

    /// The decoder saw the block: keep its tables for the next.
    pub fn commit(&mut self, update: Update) {
        if let Some(h) = update.huff {
            self.huff = Some(h);
        }
        for (prev, new) in self.previous.iter_mut().zip(update.tables) {
            if let Some(new) = new {
                *prev = new;
            }
        }
    }

    /// A compressed block body (literals section, sequences section) appended to `out`.
    pub fn encode_block(&mut self, literals: &[u8], seqs: &[Seq], out: &mut Vec<u8>) -> Update {
        let huff = self.encode_literals(literals, out);
        let tables = self.encode_sequences(seqs, out);
        Update { huff, tables }
    }

    fn encode_literals(&mut self, lits: &[u8], out: &mut Vec<u8>) -> Option<HuffTable> {
        let n = lits.len();
        if n == 0 {
            out.push(0);
            return None;
        }
        if lits.iter().all(|&b| b == lits[0]) && n > 2 {
            raw_header(1, n, out);
            out.push(lits[0]);
            return None;
        }
        if n < 64 {
            raw_literals(lits, out);
            return None;
        }
        let mut counts = [0u32; 256];
        for &b in lits {
            counts[b as usize] += 1;
        }
        let four = n >= 256;
        let overhead = if four { 6 + 5 } else { 3 };
        let new = HuffTable::build(&counts);
        let mut description = Vec::new();
        let new_cost = new
            .as_ref()
            .and_then(|t| t.write_description(&mut description).map(|_| t.cost_bits(&counts).div_ceil(8) as usize))
            .map(|c| c + description.len() + overhead);
        let repeat_cost = self
            .huff
            .as_ref()
            .filter(|t| t.covers(&counts))
            .map(|t| t.cost_bits(&counts).div_ceil(8) as usize + overhead);
        let raw_cost = n + 3;
        let (table, treeless) = match (new_cost, repeat_cost) {
            (Some(nc), Some(rc)) if rc <= nc && rc < raw_cost => (self.huff.as_ref().expect("checked"), true),
            (Some(nc), _) if nc < raw_cost => (new.as_ref().expect("built"), false),
            (None, Some(rc)) if rc < raw_cost => (self.huff.as_ref().expect("checked"), true),
            _ => {
                raw_literals(lits, out);
                return None;
            }
        };
        let streams = &mut self.streams;
        streams.clear();
        if !treeless {
            streams.extend_from_slice(&description);
        }
        if four {
            let seg = n.div_ceil(4);
            let jump = streams.len();
            streams.extend_from_slice(&[0; 6]);
            for i in 0..4 {
                let start = streams.len();
                table.encode_stream(&lits[(i * seg).min(n)..((i + 1) * seg).min(n)], streams);
                if i < 3 {
                    let size = (streams.len() - start) as u16;
                    streams[jump + 2 * i..jump + 2 * i + 2].copy_from_slice(&size.to_le_bytes());
                }
            }
        } else {
            table.encode_stream(lits, streams);
        }
        let c = streams.len();
        let kind = if treeless { 3u64 } else { 2 };
        let header_len = match (four, n.max(c)) {
            (false, _) => 3,
            (true, m) if m < 1024 => 3,
            (true, m) if m < 16384 => 4,
            _ => 5,
        };
        if c + header_len >= raw_cost {
            raw_literals(lits, out);
            return None;
        }
        let (sf, bits) = match (four, header_len) {
            (false, _) => (0u64, 10),
            (true, 3) => (1, 10),
            (true, 4) => (2, 14),
            _ => (3, 18),
        };
        let header = kind | sf << 2 | (n as u64) << 4 | (c as u64) << (4 + bits);
        out.extend_from_slice(&header.to_le_bytes()[..header_len]);
        out.extend_from_slice(streams);
        if treeless {
            None
        } else {
            new
        }
    }

    fn encode_sequences(&mut self, seqs: &[Seq], out: &mut Vec<u8>) -> [Option<Option<Table>>; 3] {
        let n = seqs.len();
        if n == 0 {
            out.push(0);
            return [None, None, None];
        }
        if n < 128 {
            out.push(n as u8);
        } else if n < 0x7F00 {
            out.extend_from_slice(&[(n >> 8) as u8 + 0x80, n as u8]);
        } else {
            out.push(0xFF);
            out.extend_from_slice(&((n - 0x7F00) as u16).to_le_bytes());
        }
        self.ll_codes.clear();
        self.of_codes.clear();
        self.ml_codes.clear();
        let mut counts = [[0u32; 53]; 3];
        for s in seqs {
            let ll = self.codes.ll(s.lit_len);
            let of = (31 - s.off_base.leading_zeros()) as u8;
            let ml = self.codes.ml(s.match_len);
            counts[LL][ll as usize] += 1;
            counts[OF][of as usize] += 1;
            counts[ML][ml as usize] += 1;
            self.ll_codes.push(ll);
            self.of_codes.push(of);
            self.ml_codes.push(ml);
        }
        let mut modes: [Mode; 3] = [Mode::Predefined, Mode::Predefined, Mode::Predefined];
        let mut descriptions: [Vec<u8>; 3] = Default::default();
        for k in 0..3 {
            let c = &counts[k];
            let last = c.iter().rposition(|&x| x > 0).expect("one sequence at least");
            let c = &c[..=last];
            if c.iter().filter(|&&x| x > 0).count() == 1 {
                modes[k] = Mode::Rle(last as u8);
                continue;
            }
            let mut best = u64::MAX;
            if self.predefined[k].dist.covers(c) {
                best = self.predefined[k].dist.cost(c);
                modes[k] = Mode::Predefined;
            }
            if let Some(prev) = self.previous[k].as_ref().filter(|t| t.dist.covers(c)) {
                let cost = prev.dist.cost(c);
                if cost < best {
                    best = cost;
                    modes[k] = Mode::Repeat;
                }
            }
            let dist = Distribution::from_counts(c, MAX_LOG[k]);
            let mut description = Vec::new();
            dist.write(&mut description);
            let cost = dist.cost(c) + description.len() as u64 * 8 * 256;
            if cost < best {
                modes[k] = Mode::New(Table::new(dist));
                descriptions[k] = description;
            }
        }
        let mode_bits = |m: &Mode| match m {
            Mode::Predefined => 0u8,
            Mode::Rle(_) => 1,
            Mode::New(_) => 2,
            Mode::Repeat => 3,
        };
        out.push(mode_bits(&modes[LL]) << 6 | mode_bits(&modes[OF]) << 4 | mode_bits(&modes[ML]) << 2);
        for k in [LL, OF, ML] {
            match &modes[k] {
                Mode::Rle(s) => out.push(*s),
                Mode::New(_) => out.extend_from_slice(&descriptions[k]),
                _ => {}
            }
        }
        let table = |k: usize| -> Option<&Table> {
            match &modes[k] {
                Mode::Predefined => Some(&self.predefined[k]),
                Mode::Rle(_) => None,
                Mode::New(t) => Some(t),
                Mode::Repeat => self.previous[k].as_ref(),
            }
        };
        let (llt, oft, mlt) = (table(LL), table(OF), table(ML));
        let mut w = BitWriter::new(out);
        let last = n - 1;
        let init = |t: Option<&Table>, s: u8| t.map_or(0, |t| t.init(s));
        let mut ml_state = init(mlt, self.ml_codes[last]);
        let mut of_state = init(oft, self.of_codes[last]);
        let mut ll_state = init(llt, self.ll_codes[last]);
        let extras = |w: &mut BitWriter, i: usize| {
            let s = &seqs[i];
            let (ll, of, ml) = (self.ll_codes[i] as usize, self.of_codes[i] as u32, self.ml_codes[i] as usize);
            w.add((s.lit_len - LL_BASE[ll]) as u64, LL_BITS[ll]);
            w.add((s.match_len - ML_BASE[ml]) as u64, ML_BITS[ml]);
            w.add(s.off_base as u64, of);
        };
        extras(&mut w, last);
        for i in (0..last).rev() {
            if let Some(t) = oft {
                t.encode(&mut w, &mut of_state, self.of_codes[i]);
            }
            if let Some(t) = mlt {
                t.encode(&mut w, &mut ml_state, self.ml_codes[i]);
            }
            if let Some(t) = llt {
                t.encode(&mut w, &mut ll_state, self.ll_codes[i]);
            }
            extras(&mut w, i);
        }
        for (t, s) in [(mlt, ml_state), (oft, of_state), (llt, ll_state)] {
            if let Some(t) = t {
                t.flush(&mut w, s);
            }
        }
        w.close();
        let mut update: [Option<Option<Table>>; 3] = [None, None, None];
        for (k, mode) in modes.into_iter().enumerate() {
            update[k] = match mode {
                Mode::Predefined => Some(Some(self.predefined[k].clone())),
                Mode::Rle(_) => Some(None),
                Mode::New(t) => Some(Some(t)),
                Mode::Repeat => None,
            };
        }
        update
    }
}

fn raw_header(kind: u64, n: usize, out: &mut Vec<u8>) {
    let n = n as u64;
    if n < 32 {
        out.push((kind | n << 3) as u8);
    } else if n < 4096 {
        out.extend_from_slice(&((kind | 1 << 2 | n << 4) as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(kind | 3 << 2 | n << 4).to_le_bytes()[..3]);
    }
}

fn raw_literals(lits: &[u8], out: &mut Vec<u8>) {
    raw_header(0, lits.len(), out);
    out.extend_from_slice(lits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_codes_follow_the_specification() {
        let codes = Codes::new();
        for ll in [0u32, 15, 16, 17, 63, 64, 127, 128, 65535, 65536, 131071] {
            let c = codes.ll(ll) as usize;
            assert!(LL_BASE[c] <= ll && ll - LL_BASE[c] < 1 << LL_BITS[c], "ll {ll}");
        }
        for ml in [3u32, 34, 35, 36, 130, 131, 258, 259, 65539, 131074] {
            let c = codes.ml(ml) as usize;
            assert!(ML_BASE[c] <= ml && ml - ML_BASE[c] < 1 << ML_BITS[c], "ml {ml}");
        }
    }
}
