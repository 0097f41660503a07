//! Sequences of one block, with zstd's repeat-offset history kept exactly as the decoder keeps it.

use super::block::Seq;

/// The three repeat offsets; 0 is "unknown" (a piece after the first cannot know the history the
/// decoder will have at its start, as in zstd's multi-threaded mode), never used for a repeat code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reps(pub [u32; 3]);

impl Reps {
    pub const START: Reps = Reps([1, 4, 8]);
    pub const UNKNOWN: Reps = Reps([0, 0, 0]);

    /// zstd's offset value for a match at `offset` after `lit_len` literals; updates the history as
    /// the decoder will.
    #[inline]
    pub fn encode(&mut self, offset: u32, lit_len: u32) -> u32 {
        let r = &mut self.0;
        if lit_len > 0 {
            if offset == r[0] {
                return 1;
            }
            if offset == r[1] {
                r.swap(0, 1);
                return 2;
            }
            if offset == r[2] {
                *r = [r[2], r[0], r[1]];
                return 3;
            }
        } else {
            if offset == r[1] {
                r.swap(0, 1);
                return 1;
            }
            if offset == r[2] {
                *r = [r[2], r[0], r[1]];
                return 2;
            }
            if r[0] > 1 && offset == r[0] - 1 {
                *r = [offset, r[0], r[1]];
                return 3;
            }
        }
        *r = [offset, r[0], r[1]];
        offset + 3
    }
}

pub struct SeqStore {
    pub seqs: Vec<Seq>,
    pub literals: Vec<u8>,
    pub reps: Reps,
}

impl SeqStore {
    pub fn new(reps: Reps) -> SeqStore {
        SeqStore { seqs: Vec::new(), literals: Vec::new(), reps }
    }

    pub fn clear(&mut self) {
        self.seqs.clear();
        self.literals.clear();
    }

    /// Literals, then a match of `match_len` (≥ 3) at `offset` (≥ 1).
    #[inline]
    pub fn push(&mut self, literals: &[u8], offset: u32, match_len: u32) {
        debug_assert!(offset >= 1 && match_len >= 3);
        self.literals.extend_from_slice(literals);
        let lit_len = literals.len() as u32;
        let off_base = self.reps.encode(offset, lit_len);
        self.seqs.push(Seq { lit_len, off_base, match_len });
    }

    /// The block's last literals, after its last match.
    pub fn finish(&mut self, literals: &[u8]) {
        self.literals.extend_from_slice(literals);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_history_updates_as_the_decoder_does() {
        let mut r = Reps::START;
        assert_eq!(r.encode(4, 5), 2); // rep1 with literals: swap
        assert_eq!(r.0, [4, 1, 8]);
        assert_eq!(r.encode(4, 3), 1); // rep0: unchanged
        assert_eq!(r.encode(1, 0), 1); // no literals: code 1 means rep1
        assert_eq!(r.0, [1, 4, 8]);
        assert_eq!(r.encode(8, 0), 2);
        assert_eq!(r.0, [8, 1, 4]);
        assert_eq!(r.encode(7, 0), 3); // rep0 - 1
        assert_eq!(r.0, [7, 8, 1]);
        assert_eq!(r.encode(7, 0), 10); // rep0 without literals is not a repeat code
        assert_eq!(r.0, [7, 7, 8]);
        let mut u = Reps::UNKNOWN;
        assert_eq!(u.encode(0x10, 0), 0x13);
        assert_eq!(u.0, [0x10, 0, 0]);
        assert_eq!(u.encode(1, 4), 4); // never an unknown slot
    }
}
