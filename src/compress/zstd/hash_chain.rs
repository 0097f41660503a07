//! Hash-chain match finder for the zstd tiers above "fastest". ruzstd only ships a fastest-level
//! matcher and leaves stronger ones to callers through its `Matcher` trait; this is ours.
//!
//! It keeps the whole current frame (the encoder caps frames at a few MiB), so an offset is simply a
//! distance back into `data`. Positions are chained by a hash of their first four bytes; the chain
//! table is a ring of `window` entries, which bounds memory and is exactly how far a match may reach.

use ruzstd::encoding::{CompressionLevel, Matcher, Sequence};

/// How hard one tier searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SearchParams {
    /// log2 of the farthest match distance, also announced as the frame's window size.
    pub window_log: u32,
    /// log2 of the number of hash buckets.
    pub hash_log: u32,
    /// Candidates compared per position.
    pub chain_depth: u32,
    /// How many following positions may be tried for a better match before one is taken (0: greedy).
    pub lazy_steps: u32,
    /// A match at least this long ends the search at once.
    pub nice_len: usize,
}

/// Shorter matches cost about as much as the literals they replace.
const MIN_MATCH: usize = 4;
/// zstd's largest block; ruzstd asks the matcher for one block-sized space at a time.
const BLOCK_SIZE: usize = 128 * 1024;
const EMPTY: u32 = u32::MAX;

pub struct HashChainMatcher {
    params: SearchParams,
    /// The frame so far; the block being matched is `data[block_start..]`.
    data: Vec<u8>,
    block_start: usize,
    /// Positions below this are in the hash chains.
    inserted: usize,
    /// Most recent position per hash bucket.
    head: Vec<u32>,
    /// Previous position with the same hash, indexed by position modulo the ring's length.
    chain: Vec<u32>,
    /// The block buffer handed to ruzstd, kept for reuse.
    spare: Vec<u8>,
    /// The current block's matches (start, match), kept for reuse.
    matches: Vec<(usize, Found)>,
}

#[derive(Debug, Clone, Copy)]
struct Found {
    len: usize,
    offset: usize,
}

impl Found {
    /// zstd's lazy heuristic: four units per matched byte, minus the bits the offset costs.
    fn gain(self) -> i64 {
        4 * self.len as i64 - (self.offset as u64 + 1).ilog2() as i64
    }
}

impl HashChainMatcher {
    pub fn new(params: SearchParams) -> HashChainMatcher {
        HashChainMatcher {
            params,
            data: Vec::new(),
            block_start: 0,
            inserted: 0,
            head: Vec::new(),
            chain: Vec::new(),
            spare: Vec::new(),
            matches: Vec::new(),
        }
    }

    fn window(&self) -> usize {
        1 << self.params.window_log
    }

    fn word(&self, pos: usize) -> u32 {
        u32::from_le_bytes(self.data[pos..pos + 4].try_into().expect("four bytes"))
    }

    fn hash(&self, pos: usize) -> usize {
        (self.word(pos).wrapping_mul(0x9E37_79B1) >> (32 - self.params.hash_log)) as usize
    }

    /// Chains every position below `target` that has four bytes to hash.
    fn insert_until(&mut self, target: usize) {
        let end = target.min(self.data.len().saturating_sub(MIN_MATCH - 1));
        let mask = self.chain.len() - 1;
        for pos in self.inserted..end {
            let bucket = self.hash(pos);
            self.chain[pos & mask] = self.head[bucket];
            self.head[bucket] = pos as u32;
        }
        self.inserted = self.inserted.max(end);
    }

    /// The longest match for `pos` among the chained candidates, ending no later than `end`.
    fn find(&self, pos: usize, end: usize) -> Option<Found> {
        let limit = end - pos;
        if limit < MIN_MATCH {
            return None;
        }
        let nice = self.params.nice_len.min(limit);
        let mask = self.chain.len() - 1;
        let mut best: Option<Found> = None;
        let mut best_len = MIN_MATCH - 1;
        let mut candidate = self.head[self.hash(pos)];
        for _ in 0..self.params.chain_depth {
            if candidate == EMPTY {
                break;
            }
            let cand = candidate as usize;
            let offset = pos - cand;
            if offset > self.window() {
                break;
            }
            // Cheap reject: a longer match must agree on the four bytes ending at the current best length.
            if self.word(cand + best_len - 3) == self.word(pos + best_len - 3) {
                let len = common_prefix(&self.data[cand..], &self.data[pos..end]);
                if len > best_len {
                    best_len = len;
                    best = Some(Found { len, offset });
                    if len >= nice {
                        break;
                    }
                }
            }
            candidate = self.chain[cand & mask];
        }
        best
    }

    /// The match taken at `pos` after looking up to `lazy_steps` positions ahead for a better one;
    /// returns where it starts. Biases as in zstd's lazy2: a later match must be clearly better.
    fn choose(&mut self, mut pos: usize, mut found: Found, end: usize) -> (usize, Found) {
        for step in 1..=self.params.lazy_steps {
            if found.len >= self.params.nice_len {
                break; // long enough: looking further costs more than it could win
            }
            self.insert_until(pos + 1);
            match self.find(pos + 1, end) {
                Some(next) if next.gain() > found.gain() + if step == 1 { 4 } else { 7 } => {
                    pos += 1;
                    found = next;
                }
                _ => break,
            }
        }
        (pos, found)
    }
}

/// True when each match starts right where the previous one (or the block) ends.
fn no_literals_before_any(block_start: usize, matches: &[(usize, Found)]) -> bool {
    let mut next = block_start;
    matches.iter().all(|&(start, found)| {
        let adjacent = start == next;
        next = start + found.len;
        adjacent
    })
}

/// How many leading bytes `a` and `b` share; compares eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let max = a.len().min(b.len());
    let mut len = 0;
    while len + 8 <= max {
        let x = u64::from_le_bytes(a[len..len + 8].try_into().expect("eight bytes"));
        let y = u64::from_le_bytes(b[len..len + 8].try_into().expect("eight bytes"));
        if x != y {
            return len + ((x ^ y).trailing_zeros() / 8) as usize;
        }
        len += 8;
    }
    while len < max && a[len] == b[len] {
        len += 1;
    }
    len
}

/// Implemented on a borrow so one matcher (and its tables) serves every frame of a layer.
impl Matcher for &mut HashChainMatcher {
    fn get_next_space(&mut self) -> Vec<u8> {
        let mut space = std::mem::take(&mut self.spare);
        space.resize(BLOCK_SIZE, 0);
        space
    }

    fn get_last_space(&mut self) -> &[u8] {
        &self.data[self.block_start..]
    }

    fn commit_space(&mut self, space: Vec<u8>) {
        self.block_start = self.data.len();
        self.data.extend_from_slice(&space);
        self.spare = space;
        // The ring grows with the frame up to the window; while it is no shorter than the data,
        // a position's slot is the position itself, so growing keeps every entry valid.
        let ring = self.data.len().next_power_of_two().min(self.window());
        if self.chain.len() < ring {
            self.chain.resize(ring, EMPTY);
        }
    }

    fn skip_matching(&mut self) {
        self.insert_until(self.data.len());
    }

    fn start_matching(&mut self, mut handle_sequence: impl for<'a> FnMut(Sequence<'a>)) {
        let end = self.data.len();
        let mut matches = std::mem::take(&mut self.matches);
        matches.clear();
        let mut pos = self.block_start;
        while pos + MIN_MATCH <= end {
            self.insert_until(pos);
            let Some(found) = self.find(pos, end) else {
                pos += 1;
                continue;
            };
            let (start, found) = self.choose(pos, found, end);
            matches.push((start, found));
            pos = start + found.len;
        }
        // ruzstd's FSE table builder panics when every sequence of a block has the same literal
        // length code and it is 0. Giving up the first match as literals avoids that case.
        let skip = usize::from(!matches.is_empty() && no_literals_before_any(self.block_start, &matches));
        let mut literals_from = self.block_start;
        for &(start, found) in &matches[skip..] {
            handle_sequence(Sequence::Triple {
                literals: &self.data[literals_from..start],
                offset: found.offset,
                match_len: found.len,
            });
            literals_from = start + found.len;
        }
        if literals_from < end {
            handle_sequence(Sequence::Literals { literals: &self.data[literals_from..end] });
        }
        self.matches = matches;
    }

    /// A new frame: no history. Stale chain entries need no clearing: a slot is only read for a
    /// position inserted in this frame, which rewrote it.
    fn reset(&mut self, _level: CompressionLevel) {
        self.data.clear();
        self.block_start = 0;
        self.inserted = 0;
        self.head.clear();
        self.head.resize(1 << self.params.hash_log, EMPTY);
    }

    fn window_size(&self) -> u64 {
        1 << self.params.window_log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_prefix_counts_across_word_boundaries() {
        let a = b"abcdefghijklmnopq";
        assert_eq!(common_prefix(a, b"abcdefghijkXmnopq"), 11);
        assert_eq!(common_prefix(a, a), a.len());
        assert_eq!(common_prefix(b"abc", b"abd"), 2);
        assert_eq!(common_prefix(b"", b"abc"), 0);
    }

    #[test]
    fn matches_stay_inside_the_block_and_point_backwards() {
        let params = SearchParams { window_log: 16, hash_log: 12, chain_depth: 16, lazy_steps: 2, nice_len: 64 };
        let mut matcher = HashChainMatcher::new(params);
        let mut m = &mut matcher;
        m.reset(CompressionLevel::Fastest);
        let text = b"the quick brown fox jumps over the lazy dog; the quick brown cat naps. ".repeat(40);
        let mut space = m.get_next_space();
        space.truncate(text.len());
        space.copy_from_slice(&text);
        m.commit_space(space);
        let mut rebuilt: Vec<u8> = Vec::new();
        m.start_matching(|seq| match seq {
            Sequence::Literals { literals } => rebuilt.extend_from_slice(literals),
            Sequence::Triple { literals, offset, match_len } => {
                rebuilt.extend_from_slice(literals);
                assert!(offset >= 1 && offset <= rebuilt.len() && match_len >= MIN_MATCH);
                for _ in 0..match_len {
                    rebuilt.push(rebuilt[rebuilt.len() - offset]);
                }
            }
        });
        assert_eq!(rebuilt, text);
    }
}
