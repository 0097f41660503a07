//! Huffman coding of literals as zstd specifies it: code lengths of at most 11 bits, canonical codes
//! assigned from the longest, the tree described by weights (FSE-compressed or 4 bits each).

use super::bits::BitWriter;
use super::fse::{Distribution, Table};

const MAX_BITS: u32 = 11;

#[derive(Debug, Clone)]
pub struct HuffTable {
    /// Per symbol: (code, length); length 0 for symbols that cannot be coded.
    codes: Vec<(u16, u8)>,
    max_bits: u32,
}

impl HuffTable {
    /// A table for `counts` (256 entries), or `None` when fewer than two symbols occur.
    pub fn build(counts: &[u32; 256]) -> Option<HuffTable> {
        let symbols: Vec<usize> = (0..256).filter(|&s| counts[s] > 0).collect();
        if symbols.len() < 2 {
            return None;
        }
        let mut lengths = [0u32; 256];
        huffman_lengths(counts, &symbols, &mut lengths);
        limit_lengths(counts, &symbols, &mut lengths);
        let max_bits = symbols.iter().map(|&s| lengths[s]).max().unwrap_or(0);
        // Canonical codes: from the longest length down, in symbol order, as zstd's decoder rebuilds them.
        let mut codes = vec![(0u16, 0u8); 256];
        let mut next = 0u32;
        for len in (1..=max_bits).rev() {
            for &s in &symbols {
                if lengths[s] == len {
                    codes[s] = (next as u16, len as u8);
                    next += 1;
                }
            }
            next >>= 1;
        }
        Some(HuffTable { codes, max_bits })
    }

    /// Whether every symbol in `counts` has a code.
    pub fn covers(&self, counts: &[u32; 256]) -> bool {
        counts.iter().zip(&self.codes).all(|(&c, &(_, len))| c == 0 || len > 0)
    }

    /// Exact bits of the coded symbols.
    pub fn cost_bits(&self, counts: &[u32; 256]) -> u64 {
        counts.iter().zip(&self.codes).map(|(&c, &(_, len))| c as u64 * len as u64).sum()
    }

    /// The tree description; `None` when it cannot be written (zstd then stores literals raw).
    pub fn write_description(&self, out: &mut Vec<u8>) -> Option<()> {
        let last = self.codes.iter().rposition(|&(_, len)| len > 0)?;
        let weights: Vec<u8> = self.codes[..last]
            .iter()
            .map(|&(_, len)| if len == 0 { 0 } else { (self.max_bits + 1 - len as u32) as u8 })
            .collect();
        let mut compressed = Vec::new();
        let fse_ok = compress_weights(&weights, &mut compressed);
        if fse_ok && compressed.len() < 128 && (weights.len() > 128 || compressed.len() < weights.len().div_ceil(2)) {
            out.push(compressed.len() as u8);
            out.extend_from_slice(&compressed);
            return Some(());
        }
        if weights.len() > 128 {
            return None;
        }
        out.push(127 + weights.len() as u8);
        for pair in weights.chunks(2) {
            out.push((pair[0] << 4) | pair.get(1).copied().unwrap_or(0));
        }
        Some(())
    }

    /// One backward stream of `data`'s codes.
    pub fn encode_stream(&self, data: &[u8], out: &mut Vec<u8>) {
        let mut w = BitWriter::new(out);
        for &b in data.iter().rev() {
            let (code, len) = self.codes[b as usize];
            w.add(code as u64, len as u32);
        }
        w.close();
    }
}

/// Huffman code lengths by the two-queue method over symbols sorted by count.
fn huffman_lengths(counts: &[u32; 256], symbols: &[usize], lengths: &mut [u32; 256]) {
    let mut leaves: Vec<(u64, usize)> = symbols.iter().map(|&s| (counts[s] as u64, s)).collect();
    leaves.sort_unstable();
    let n = leaves.len();
    // Nodes 0..n are leaves, n.. internal; parent links give depths.
    let mut weight: Vec<u64> = leaves.iter().map(|l| l.0).collect();
    let mut parent = vec![0usize; 2 * n - 1];
    let (mut leaf, mut inner) = (0, n);
    for next in n..2 * n - 1 {
        let mut pick = |weight: &Vec<u64>| {
            if leaf < n && (inner >= next || weight[leaf] <= weight[inner]) {
                leaf += 1;
                leaf - 1
            } else {
                inner += 1;
                inner - 1
            }
        };
        let a = pick(&weight);
        let b = pick(&weight);
        weight.push(weight[a] + weight[b]);
        parent[a] = next;
        parent[b] = next;
    }
    let mut depth = vec![0u32; 2 * n - 1];
    for node in (0..2 * n - 2).rev() {
        depth[node] = depth[parent[node]] + 1;
    }
    for (i, &(_, s)) in leaves.iter().enumerate() {
        lengths[s] = depth[i];
    }
}

/// Caps lengths at 11 bits and keeps the code complete (Kraft sum exactly one), as zstd needs:
/// lengthen the least costly codes until the sum fits, then shorten to fill what is left.
fn limit_lengths(counts: &[u32; 256], symbols: &[usize], lengths: &mut [u32; 256]) {
    let full = 1u32 << MAX_BITS;
    let mut kraft: u32 = 0;
    for &s in symbols {
        lengths[s] = lengths[s].min(MAX_BITS);
        kraft += full >> lengths[s];
    }
    // Symbols by count ascending (ties: symbol order), the cheapest to lengthen first.
    let mut order: Vec<usize> = symbols.to_vec();
    order.sort_by_key(|&s| (counts[s], s));
    while kraft > full {
        // Lengthen the longest code below the cap among the rarest symbols.
        let best = order
            .iter()
            .copied()
            .filter(|&s| lengths[s] < MAX_BITS)
            .max_by_key(|&s| (lengths[s], u32::MAX - counts[s]));
        let Some(s) = best else { break };
        kraft -= full >> (lengths[s] + 1);
        lengths[s] += 1;
    }
    while kraft < full {
        // Shorten the most frequent symbol whose shortening still fits.
        let slack = full - kraft;
        let best = order.iter().rev().copied().find(|&s| lengths[s] > 1 && (full >> lengths[s]) <= slack);
        let Some(s) = best else { break };
        kraft += full >> lengths[s];
        lengths[s] -= 1;
    }
}

/// HUF_compressWeights: weights FSE-coded with two interleaved states, table log at most 6.
fn compress_weights(weights: &[u8], out: &mut Vec<u8>) -> bool {
    if weights.len() < 2 {
        return false;
    }
    let mut counts = [0u32; 13];
    for &w in weights {
        counts[w as usize] += 1;
    }
    let max = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    if counts.iter().filter(|&&c| c > 0).count() < 2 {
        return false;
    }
    let dist = Distribution::from_counts(&counts[..=max], 6);
    dist.write(out);
    let table = Table::new(dist);
    let mut w = BitWriter::new(out);
    let n = weights.len();
    let mut i = n;
    let (mut s1, mut s2);
    if n & 1 == 1 {
        s1 = table.init(weights[i - 1]);
        s2 = table.init(weights[i - 2]);
        table.encode(&mut w, &mut s1, weights[i - 3]);
        i -= 3;
    } else {
        s2 = table.init(weights[i - 1]);
        s1 = table.init(weights[i - 2]);
        i -= 2;
    }
    while i > 0 {
        table.encode(&mut w, &mut s2, weights[i - 1]);
        table.encode(&mut w, &mut s1, weights[i - 2]);
        i -= 2;
    }
    table.flush(&mut w, s2);
    table.flush(&mut w, s1);
    w.close();
    true
}
