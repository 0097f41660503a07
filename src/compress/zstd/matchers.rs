//! Match finders after zstd's strategies: "fast" (one hash table, faster skipping on misses),
//! "double-fast" (a long 8-byte and a short 5-byte hash, repeat offset first) and a lazy hash-chain
//! search. Each works on one buffer, the piece's prefix followed by its data; positions are u32
//! offsets into it (a buffer is at most a few MiB), and tables are fresh for every piece, so a
//! table entry is always a real earlier position (0 included): a candidate is taken only when its
//! bytes compare equal.

use super::store::SeqStore;

/// The farthest a match may reach back (the announced window).
pub const MAX_OFFSET: usize = 8 << 20;
/// zstd's smallest match.
const MIN_MATCH: usize = 4;

#[inline(always)]
fn read32(buf: &[u8], i: usize) -> u32 {
    u32::from_le_bytes(buf[i..i + 4].try_into().expect("four bytes"))
}

#[inline(always)]
fn read64(buf: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(buf[i..i + 8].try_into().expect("eight bytes"))
}

/// How many bytes from `a` and `b` (a < b) agree, not reading at or past `end`.
#[inline(always)]
fn count(buf: &[u8], mut a: usize, mut b: usize, end: usize) -> usize {
    let start = b;
    while b + 8 <= end {
        let x = read64(buf, a) ^ read64(buf, b);
        if x != 0 {
            return b - start + (x.trailing_zeros() / 8) as usize;
        }
        a += 8;
        b += 8;
    }
    while b < end && buf[a] == buf[b] {
        a += 1;
        b += 1;
    }
    b - start
}

#[inline(always)]
fn hash_bytes(value: u64, bytes: u32, log: u32) -> usize {
    const PRIME5: u64 = 889_523_592_379;
    const PRIME6: u64 = 227_718_039_650_203;
    const PRIME8: u64 = 0xCF1B_BCDC_B7A5_6463;
    let h = match bytes {
        5 => (value << 24).wrapping_mul(PRIME5),
        6 => (value << 16).wrapping_mul(PRIME6),
        _ => value.wrapping_mul(PRIME8),
    };
    (h >> (64 - log)) as usize
}

/// Whether a candidate at `cand` may serve position `ip`.
#[inline(always)]
fn reachable(cand: usize, ip: usize) -> bool {
    cand < ip && ip - cand <= MAX_OFFSET
}

/// After a match ending at `ip`: as long as the second repeat offset matches right there, take it
/// (no literals: zstd's cheapest sequence). Returns the new position.
#[inline(always)]
fn repeat_after_match(buf: &[u8], mut ip: usize, ilimit: usize, end: usize, store: &mut SeqStore) -> usize {
    while ip < ilimit {
        let r1 = store.reps.0[1] as usize;
        if r1 == 0 || r1 > ip || read32(buf, ip - r1) != read32(buf, ip) {
            break;
        }
        let len = MIN_MATCH + count(buf, ip - r1 + MIN_MATCH, ip + MIN_MATCH, end);
        store.push(&[], r1 as u32, len as u32);
        ip += len;
    }
    ip
}

/// The repeat offset 0 at `ip` (literals before it), as zstd's fast and double-fast try first.
#[inline(always)]
fn repeat0(buf: &[u8], ip: usize, end: usize, store: &SeqStore) -> Option<usize> {
    let r0 = store.reps.0[0] as usize;
    if r0 != 0 && r0 <= ip && read32(buf, ip - r0) == read32(buf, ip) {
        Some(MIN_MATCH + count(buf, ip - r0 + MIN_MATCH, ip + MIN_MATCH, end))
    } else {
        None
    }
}

/// Extends a match at `ip` from `cand` backwards over the literals since `anchor`.
#[inline(always)]
fn extend_back(buf: &[u8], mut ip: usize, mut cand: usize, anchor: usize, mut len: usize) -> (usize, usize) {
    while ip > anchor && cand > 0 && buf[ip - 1] == buf[cand - 1] {
        ip -= 1;
        cand -= 1;
        len += 1;
    }
    (ip, len)
}

pub enum Matcher {
    Fast(Fast),
    DoubleFast(DoubleFast),
    Lazy(Lazy),
}

impl Matcher {
    /// Back to the state of a new matcher (tables emptied), keeping the allocations.
    pub fn reset(&mut self) {
        match self {
            Matcher::Fast(m) => m.table.fill(0),
            Matcher::DoubleFast(m) => {
                m.long.fill(0);
                m.short.fill(0);
            }
            Matcher::Lazy(m) => {
                m.long.fill(0);
                m.head.fill(0);
                m.chain.fill(0);
                m.inserted = 0;
            }
        }
    }

    /// Enters `buf[..end]` (the prefix) into the tables; no output.
    pub fn prime(&mut self, buf: &[u8], end: usize) {
        match self {
            Matcher::Fast(m) => m.prime(buf, end),
            Matcher::DoubleFast(m) => m.prime(buf, end),
            Matcher::Lazy(m) => m.prime(buf, end),
        }
    }

    /// The sequences of the block `buf[start..end]` into `store` (matches stay inside the block).
    pub fn block(&mut self, buf: &[u8], start: usize, end: usize, store: &mut SeqStore) {
        match self {
            Matcher::Fast(m) => m.block(buf, start, end, store),
            Matcher::DoubleFast(m) => m.block(buf, start, end, store),
            Matcher::Lazy(m) => m.block(buf, start, end, store),
        }
    }
}

/// Beyond this distance a short match must have six bytes: five cost about what the offset does.
const FAR: usize = 1 << 18;

/// Priming covers at most this much of the prefix: older entries would be overwritten anyway.
const PRIME_SPAN: usize = 4 << 20;

pub struct Fast {
    table: Vec<u32>,
    log: u32,
}

impl Fast {
    pub fn new(log: u32) -> Fast {
        Fast { table: vec![0; 1 << log], log }
    }

    fn prime(&mut self, buf: &[u8], end: usize) {
        let end = end.min(buf.len().saturating_sub(8));
        let mut p = end.saturating_sub(PRIME_SPAN);
        while p < end {
            self.table[hash_bytes(read64(buf, p), 6, self.log)] = p as u32;
            p += 3;
        }
    }

    fn block(&mut self, buf: &[u8], start: usize, end: usize, store: &mut SeqStore) {
        let ilimit = end.saturating_sub(8);
        let mut anchor = start;
        let mut ip = start + usize::from(start == 0);
        while ip < ilimit {
            let h = hash_bytes(read64(buf, ip), 6, self.log);
            let cand = self.table[h] as usize;
            self.table[h] = ip as u32;
            let match_start;
            if let Some(len) = repeat0(buf, ip + 1, end, store) {
                store.push(&buf[anchor..ip + 1], store.reps.0[0], len as u32);
                match_start = ip + 1;
                ip += 1 + len;
            } else if reachable(cand, ip) && read32(buf, cand) == read32(buf, ip) {
                let len = MIN_MATCH + count(buf, cand + MIN_MATCH, ip + MIN_MATCH, end);
                let offset = ip - cand;
                let (start_at, len) = extend_back(buf, ip, cand, anchor, len);
                store.push(&buf[anchor..start_at], offset as u32, len as u32);
                match_start = start_at;
                ip = start_at + len;
            } else {
                ip += ((ip - anchor) >> 6) + 1;
                continue;
            }
            if ip < ilimit {
                let p = match_start + 2;
                self.table[hash_bytes(read64(buf, p), 6, self.log)] = p as u32;
                self.table[hash_bytes(read64(buf, ip - 2), 6, self.log)] = (ip - 2) as u32;
            }
            ip = repeat_after_match(buf, ip, ilimit, end, store);
            anchor = ip;
        }
        store.finish(&buf[anchor.min(end)..end]);
    }
}

pub struct DoubleFast {
    long: Vec<u32>,
    short: Vec<u32>,
    long_log: u32,
    short_log: u32,
}

impl DoubleFast {
    pub fn new(long_log: u32, short_log: u32) -> DoubleFast {
        DoubleFast { long: vec![0; 1 << long_log], short: vec![0; 1 << short_log], long_log, short_log }
    }

    #[inline(always)]
    fn insert(&mut self, buf: &[u8], p: usize) {
        let v = read64(buf, p);
        self.long[hash_bytes(v, 8, self.long_log)] = p as u32;
        self.short[hash_bytes(v, 5, self.short_log)] = p as u32;
    }

    /// The long table over the whole prefix, every eighth position (every fourth overwrote more of
    /// the older entries than it added, and cost more); the short one, whose entries are
    /// overwritten sooner, only over the last stretch it can hold.
    fn prime(&mut self, buf: &[u8], end: usize) {
        let end = end.min(buf.len().saturating_sub(8));
        let mut p = end.saturating_sub(PRIME_SPAN);
        while p < end {
            self.long[hash_bytes(read64(buf, p), 8, self.long_log)] = p as u32;
            p += 8;
        }
        let mut p = end.saturating_sub(2 << self.short_log);
        while p < end {
            self.short[hash_bytes(read64(buf, p), 5, self.short_log)] = p as u32;
            p += 2;
        }
    }

    fn block(&mut self, buf: &[u8], start: usize, end: usize, store: &mut SeqStore) {
        // Reading 8 bytes at ip + 1 stays inside the block.
        let ilimit = end.saturating_sub(9);
        let mut anchor = start;
        let mut ip = start + usize::from(start == 0);
        while ip < ilimit {
            let v = read64(buf, ip);
            let hl = hash_bytes(v, 8, self.long_log);
            let hs = hash_bytes(v, 5, self.short_log);
            let cand_long = self.long[hl] as usize;
            let cand_short = self.short[hs] as usize;
            self.long[hl] = ip as u32;
            self.short[hs] = ip as u32;
            let match_start;
            if let Some(len) = repeat0(buf, ip + 1, end, store) {
                store.push(&buf[anchor..ip + 1], store.reps.0[0], len as u32);
                match_start = ip + 1;
                ip += 1 + len;
            } else {
                let found = if reachable(cand_long, ip) && read64(buf, cand_long) == v {
                    let len = 8 + count(buf, cand_long + 8, ip + 8, end);
                    // One position on, a longer match may start (a cheap step of lazy matching).
                    let next = read64(buf, ip + 1);
                    let hl1 = hash_bytes(next, 8, self.long_log);
                    let cand = self.long[hl1] as usize;
                    self.long[hl1] = (ip + 1) as u32;
                    if reachable(cand, ip + 1) && read64(buf, cand) == next {
                        let len1 = 8 + count(buf, cand + 8, ip + 9, end);
                        if len1 > len + 1 {
                            Some((ip + 1, cand, len1))
                        } else {
                            Some((ip, cand_long, len))
                        }
                    } else {
                        Some((ip, cand_long, len))
                    }
                } else if reachable(cand_short, ip)
                    && read64(buf, cand_short) & 0xFF_FFFF_FFFF == v & 0xFF_FFFF_FFFF
                    && (ip - cand_short < FAR || read64(buf, cand_short) & 0xFFFF_FFFF_FFFF == v & 0xFFFF_FFFF_FFFF)
                {
                    // A long match one position on is usually the better choice.
                    let next = read64(buf, ip + 1);
                    let hl1 = hash_bytes(next, 8, self.long_log);
                    let cand = self.long[hl1] as usize;
                    self.long[hl1] = (ip + 1) as u32;
                    let short_len = MIN_MATCH + count(buf, cand_short + MIN_MATCH, ip + MIN_MATCH, end);
                    if reachable(cand, ip + 1) && read64(buf, cand) == next {
                        let len1 = 8 + count(buf, cand + 8, ip + 9, end);
                        if len1 > short_len {
                            Some((ip + 1, cand, len1))
                        } else {
                            Some((ip, cand_short, short_len))
                        }
                    } else {
                        Some((ip, cand_short, short_len))
                    }
                } else {
                    None
                };
                let Some((at, cand, len)) = found else {
                    ip += ((ip - anchor) >> 10) + 1;
                    continue;
                };
                let offset = at - cand;
                let (start_at, len) = extend_back(buf, at, cand, anchor, len);
                store.push(&buf[anchor..start_at], offset as u32, len as u32);
                match_start = start_at;
                ip = start_at + len;
            }
            if ip < ilimit {
                self.insert(buf, match_start + 2);
                let v = read64(buf, ip - 2);
                self.long[hash_bytes(v, 8, self.long_log)] = (ip - 2) as u32;
                let v = read64(buf, ip - 1);
                self.short[hash_bytes(v, 5, self.short_log)] = (ip - 1) as u32;
            }
            ip = repeat_after_match(buf, ip, ilimit, end, store);
            anchor = ip;
        }
        store.finish(&buf[anchor.min(end)..end]);
    }
}

/// How hard the lazy matcher searches.
#[derive(Debug, Clone, Copy)]
pub struct LazyParams {
    pub hash_log: u32,
    pub chain_log: u32,
    pub depth: u32,
    /// Positions after a match that may be tried for a better one (1: lazy, 2: lazy2).
    pub lazy_steps: u32,
    pub nice_len: usize,
    /// Shortest match taken from the chains (4 or 5; repeat offsets always from 4): on text, a
    /// 4-byte match far back costs about what its literals would.
    pub min_match: usize,
}

pub struct Lazy {
    p: LazyParams,
    /// Most recent position per hash of 8 bytes: a long match the chains may hold too deep.
    long: Vec<u32>,
    head: Vec<u32>,
    chain: Vec<u32>,
    /// Positions below this are in the chains.
    inserted: usize,
}

#[derive(Clone, Copy)]
struct Found {
    len: usize,
    offset: usize,
    gain: i64,
}

impl Lazy {
    pub fn new(p: LazyParams) -> Lazy {
        Lazy {
            p,
            long: vec![0; 1 << (p.hash_log + 1)],
            head: vec![0; 1 << p.hash_log],
            chain: vec![0; 1 << p.chain_log],
            inserted: 0,
        }
    }

    #[inline(always)]
    fn hash(&self, buf: &[u8], p: usize) -> usize {
        if self.p.min_match >= 5 {
            hash_bytes(read64(buf, p), 5, self.p.hash_log)
        } else {
            (read32(buf, p).wrapping_mul(0x9E37_79B1) >> (32 - self.p.hash_log)) as usize
        }
    }

    fn insert_until(&mut self, buf: &[u8], target: usize) {
        let end = target.min(buf.len().saturating_sub(7));
        let mask = self.chain.len() - 1;
        let long_log = self.p.hash_log + 1;
        for p in self.inserted..end {
            let h = self.hash(buf, p);
            self.chain[p & mask] = self.head[h];
            self.head[h] = p as u32;
            self.long[hash_bytes(read64(buf, p), 8, long_log)] = p as u32;
        }
        self.inserted = self.inserted.max(end);
    }

    fn prime(&mut self, buf: &[u8], end: usize) {
        self.inserted = end.saturating_sub(PRIME_SPAN);
        self.insert_until(buf, end);
    }

    /// The best match at `pos` (literals since `anchor`), repeat offsets tried first; gain as
    /// zstd's lazy: four per byte minus the offset code's bits.
    fn find(&mut self, buf: &[u8], pos: usize, anchor: usize, end: usize, store: &SeqStore) -> Option<Found> {
        if pos + MIN_MATCH > end {
            return None;
        }
        self.insert_until(buf, pos);
        let lit_len = (pos - anchor) as u32;
        let gain = |len: usize, offset: usize| {
            let mut reps = store.reps;
            let off_base = reps.encode(offset as u32, lit_len);
            4 * len as i64 - (31 - off_base.leading_zeros()) as i64
        };
        let mut best: Option<Found> = None;
        let mut best_len = MIN_MATCH - 1;
        for &r in &store.reps.0 {
            let r = r as usize;
            if r != 0 && r <= pos && read32(buf, pos - r) == read32(buf, pos) {
                let len = MIN_MATCH + count(buf, pos - r + MIN_MATCH, pos + MIN_MATCH, end);
                let g = gain(len, r);
                if best.is_none_or(|b| g > b.gain) {
                    best = Some(Found { len, offset: r, gain: g });
                    best_len = best_len.max(len);
                }
            }
        }
        let nice = self.p.nice_len.min(end - pos);
        best_len = best_len.max(self.p.min_match - 1);
        if best_len >= nice || pos + 8 > buf.len() {
            return best;
        }
        let long = self.long[hash_bytes(read64(buf, pos), 8, self.p.hash_log + 1)] as usize;
        if reachable(long, pos) && read64(buf, long) == read64(buf, pos) {
            let len = count(buf, long, pos, end);
            let g = gain(len, pos - long);
            if len > best_len && best.is_none_or(|b| g > b.gain) {
                best_len = len;
                best = Some(Found { len, offset: pos - long, gain: g });
                if len >= nice {
                    return best;
                }
            }
        }
        let mask = self.chain.len() - 1;
        let mut cand = self.head[self.hash(buf, pos)] as usize;
        for _ in 0..self.p.depth {
            if !reachable(cand, pos) {
                break;
            }
            // A longer match must agree on the four bytes ending at the current best length.
            if pos + best_len < end && read32(buf, cand + best_len - 3) == read32(buf, pos + best_len - 3) {
                let len = count(buf, cand, pos, end);
                if len > best_len {
                    let g = gain(len, pos - cand);
                    if best.is_none_or(|b| g > b.gain) {
                        best_len = len;
                        best = Some(Found { len, offset: pos - cand, gain: g });
                        if len >= nice {
                            break;
                        }
                    }
                }
            }
            // The chain is a ring: a slot older than its length was overwritten.
            if pos - cand > mask {
                break;
            }
            let next = self.chain[cand & mask] as usize;
            if next >= cand {
                break;
            }
            cand = next;
        }
        best
    }

    fn block(&mut self, buf: &[u8], start: usize, end: usize, store: &mut SeqStore) {
        let ilimit = end.saturating_sub(8);
        let mut anchor = start;
        let mut ip = start + usize::from(start == 0);
        while ip < ilimit {
            let Some(mut found) = self.find(buf, ip, anchor, end, store) else {
                ip += 1 + ((ip - anchor) >> 8);
                continue;
            };
            let mut at = ip;
            for step in 1..=self.p.lazy_steps {
                if found.len >= self.p.nice_len || at + 1 >= ilimit {
                    break;
                }
                match self.find(buf, at + 1, anchor, end, store) {
                    Some(next) if next.gain > found.gain + if step == 1 { 4 } else { 7 } => {
                        at += 1;
                        found = next;
                    }
                    _ => break,
                }
            }
            let is_rep = store.reps.0.contains(&(found.offset as u32));
            let (start_at, len) =
                if is_rep { (at, found.len) } else { extend_back(buf, at, at - found.offset, anchor, found.len) };
            store.push(&buf[anchor..start_at], found.offset as u32, len as u32);
            ip = repeat_after_match(buf, start_at + len, ilimit, end, store);
            anchor = ip;
        }
        store.finish(&buf[anchor.min(end)..end]);
    }
}
