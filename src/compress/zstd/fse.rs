//! Finite State Entropy tables for the encoder, after zstd's lib/compress/fse_compress.c:
//! normalization of counts, the table description (NCount), the coding table, and cost estimates.
//! All integer arithmetic, so the bytes are the same on every target.

use super::bits::BitWriter;

/// A normalized distribution: per symbol its share of `1 << log` (-1: "less than one").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distribution {
    pub norm: Vec<i16>,
    pub log: u32,
}

/// An encoding table built from a distribution.
#[derive(Debug, Clone)]
pub struct Table {
    pub dist: Distribution,
    state_table: Vec<u16>,
    /// Per symbol: (delta_nb_bits, delta_find_state).
    symbols: Vec<(u32, i32)>,
}

/// log2(x) in 1/256 bits, integer only (x ≥ 1).
pub fn log2_fp(x: u32) -> u32 {
    let n = 31 - x.leading_zeros();
    // x scaled into [2^16, 2^17): the fraction's bits by repeated squaring.
    let mut y: u64 = (x as u64) << (16 - n.min(16)) >> n.saturating_sub(16);
    let mut frac = 0;
    for bit in (0..8).rev() {
        y = (y * y) >> 16;
        if y >= 1 << 17 {
            frac |= 1 << bit;
            y >>= 1;
        }
    }
    (n << 8) | frac
}

impl Distribution {
    /// zstd's FSE_normalizeCount for `counts` (whose last entry is non-zero, at least two symbols
    /// used), the table log chosen as FSE_optimalTableLog does, at most `max_log`.
    pub fn from_counts(counts: &[u32], max_log: u32) -> Distribution {
        let total: u64 = counts.iter().map(|&c| c as u64).sum();
        let max_symbol = counts.len() as u32 - 1;
        // FSE_optimalTableLog
        let high = |v: u64| 63 - v.max(1).leading_zeros();
        let max_bits_src = high(total.saturating_sub(1)).saturating_sub(2);
        let min_bits = (high(total) + 1).min(high(max_symbol as u64) + 2);
        let mut log = max_log;
        if max_bits_src < log {
            log = max_bits_src;
        }
        if min_bits > log {
            log = min_bits;
        }
        let log = log.clamp(5, 12);
        let scale = 62 - log as u64;
        let step = (1u64 << 62) / total;
        let v_step = 1u64 << (scale - 20);
        let low_threshold = total >> log;
        const RTB: [u64; 8] = [0, 473195, 504333, 520860, 550000, 700000, 750000, 830000];
        let mut norm = vec![0i16; counts.len()];
        let mut still = 1i64 << log;
        let mut largest = 0;
        let mut largest_p = 0i16;
        for (s, &c) in counts.iter().enumerate() {
            let c = c as u64;
            if c == 0 {
                continue;
            }
            if c <= low_threshold {
                norm[s] = -1;
                still -= 1;
            } else {
                let mut p = ((c * step) >> scale) as i16;
                if p < 8 {
                    let rest_to_beat = v_step * RTB[p as usize];
                    if c * step - ((p as u64) << scale) > rest_to_beat {
                        p += 1;
                    }
                }
                if p > largest_p {
                    largest_p = p;
                    largest = s;
                }
                norm[s] = p;
                still -= p as i64;
            }
        }
        if -still >= (norm[largest] >> 1) as i64 {
            // The simple fix would starve the largest symbol: shave the others one by one instead.
            while still < 0 {
                let (s, _) = norm
                    .iter()
                    .enumerate()
                    .filter(|(_, &p)| p > 1)
                    .max_by_key(|(i, &p)| (p, usize::MAX - i))
                    .expect("a symbol above one");
                norm[s] -= 1;
                still += 1;
            }
            norm[largest] += still as i16;
        } else {
            norm[largest] += still as i16;
        }
        Distribution { norm, log }
    }

    /// A predefined distribution from the format specification.
    pub fn predefined(norm: &[i16], log: u32) -> Distribution {
        Distribution { norm: norm.to_vec(), log }
    }

    /// Whether every symbol with a count can be coded.
    pub fn covers(&self, counts: &[u32]) -> bool {
        counts.iter().enumerate().all(|(s, &c)| c == 0 || self.norm.get(s).is_some_and(|&p| p != 0))
    }

    /// Estimated bits (in 1/256) to code `counts` with this distribution; `covers` must hold.
    pub fn cost(&self, counts: &[u32]) -> u64 {
        let full = self.log << 8;
        counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(s, &c)| {
                let p = self.norm[s].max(1) as u32;
                c as u64 * (full - log2_fp(p)) as u64
            })
            .sum()
    }

    /// The table description (FSE_writeNCount), appended to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = BitWriter::new(out);
        let table_size = 1i32 << self.log;
        w.add((self.log - 5) as u64, 4);
        let mut remaining = table_size + 1;
        let mut threshold = table_size;
        let mut nb_bits = self.log + 1;
        let mut symbol = 0;
        let mut previous0 = false;
        let alphabet = self.norm.len();
        while symbol < alphabet && remaining > 1 {
            if previous0 {
                let mut start = symbol;
                while symbol < alphabet && self.norm[symbol] == 0 {
                    symbol += 1;
                }
                if symbol == alphabet {
                    break;
                }
                while symbol >= start + 24 {
                    start += 24;
                    w.add(0xFFFF, 16);
                }
                while symbol >= start + 3 {
                    start += 3;
                    w.add(3, 2);
                }
                w.add((symbol - start) as u64, 2);
            }
            let mut count = self.norm[symbol] as i32;
            symbol += 1;
            let max = (2 * threshold - 1) - remaining;
            remaining -= count.abs();
            count += 1;
            if count >= threshold {
                count += max;
            }
            let bits = if count < max { nb_bits - 1 } else { nb_bits };
            w.add(count as u64, bits);
            previous0 = count == 1;
            while remaining < threshold {
                nb_bits -= 1;
                threshold >>= 1;
            }
        }
        w.flush();
    }
}

impl Table {
    /// FSE_buildCTable.
    pub fn new(dist: Distribution) -> Table {
        let log = dist.log;
        let size = 1usize << log;
        let mask = size - 1;
        let step = (size >> 1) + (size >> 3) + 3;
        let symbols_n = dist.norm.len();
        let mut cumul = vec![0usize; symbols_n + 1];
        let mut table_symbol = vec![0u8; size];
        let mut high = size - 1;
        for s in 0..symbols_n {
            if dist.norm[s] == -1 {
                cumul[s + 1] = cumul[s] + 1;
                table_symbol[high] = s as u8;
                high = high.wrapping_sub(1);
            } else {
                cumul[s + 1] = cumul[s] + dist.norm[s].max(0) as usize;
            }
        }
        let mut position = 0;
        for s in 0..symbols_n {
            for _ in 0..dist.norm[s].max(0) {
                table_symbol[position] = s as u8;
                position = (position + step) & mask;
                while position > high {
                    position = (position + step) & mask;
                }
            }
        }
        let mut state_table = vec![0u16; size];
        for (u, &s) in table_symbol.iter().enumerate() {
            let s = s as usize;
            state_table[cumul[s]] = (size + u) as u16;
            cumul[s] += 1;
        }
        let mut symbols = vec![(0u32, 0i32); symbols_n];
        let mut total = 0i32;
        for (symbol, &norm) in symbols.iter_mut().zip(&dist.norm) {
            match norm {
                0 => *symbol = (((log + 1) << 16) - size as u32, 0),
                -1 | 1 => {
                    *symbol = ((log << 16) - size as u32, total - 1);
                    total += 1;
                }
                p => {
                    let p = p as u32;
                    let max_bits_out = log - (31 - (p - 1).leading_zeros());
                    let min_state_plus = p << max_bits_out;
                    *symbol = ((max_bits_out << 16) - min_state_plus, total - p as i32);
                    total += p as i32;
                }
            }
        }
        Table { dist, state_table, symbols }
    }

    /// FSE_initCState2: the state that codes `symbol` first (no bits written).
    #[inline]
    pub fn init(&self, symbol: u8) -> u32 {
        let (delta_bits, delta_find) = self.symbols[symbol as usize];
        let nb_bits_out = (delta_bits + (1 << 15)) >> 16;
        let value = (nb_bits_out << 16).wrapping_sub(delta_bits);
        self.state_table[((value >> nb_bits_out) as i32 + delta_find) as usize] as u32
    }

    /// FSE_encodeSymbol.
    #[inline(always)]
    pub fn encode(&self, w: &mut BitWriter, state: &mut u32, symbol: u8) {
        let (delta_bits, delta_find) = self.symbols[symbol as usize];
        let nb_bits_out = (*state + delta_bits) >> 16;
        w.add(*state as u64, nb_bits_out);
        *state = self.state_table[((*state >> nb_bits_out) as i32 + delta_find) as usize] as u32;
    }

    /// FSE_flushCState.
    #[inline]
    pub fn flush(&self, w: &mut BitWriter, state: u32) {
        w.add(state as u64, self.dist.log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log2_fixed_point() {
        assert_eq!(log2_fp(1), 0);
        assert_eq!(log2_fp(2), 256);
        assert_eq!(log2_fp(512), 9 << 8);
        assert!((log2_fp(3) as i32 - 406).abs() <= 1); // log2(3) = 1.585
        assert!((log2_fp(100_000) as i32 - 4252).abs() <= 2); // 16.61
    }

    #[test]
    fn normalized_counts_sum_to_the_table() {
        for counts in [
            vec![1000, 1, 0, 3, 70],
            vec![5, 5],
            vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            vec![
                100_000, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1,
            ],
        ] {
            let d = Distribution::from_counts(&counts, 9);
            let sum: i32 = d.norm.iter().map(|&p| if p == -1 { 1 } else { p as i32 }).sum();
            assert_eq!(sum, 1 << d.log, "{counts:?} {d:?}");
            assert!(d.covers(&counts));
        }
    }
}
