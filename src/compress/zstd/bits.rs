//! Little-endian bit writer, least significant bit first, as zstd's bitstreams are written (its
//! backward streams are read from the end, so their encoders write the last symbol first).

pub struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    bits: u32,
}

impl<'a> BitWriter<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> BitWriter<'a> {
        BitWriter { out, acc: 0, bits: 0 }
    }

    /// Appends the low `n` bits of `value` (`n` ≤ 32).
    #[inline(always)]
    pub fn add(&mut self, value: u64, n: u32) {
        debug_assert!(n <= 32);
        self.acc |= (value & ((1u64 << n) - 1)) << self.bits;
        self.bits += n;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Writes out the bits left, the last byte padded with zeros.
    pub fn flush(mut self) {
        while self.bits > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits = self.bits.saturating_sub(8);
        }
    }

    /// Closes a backward stream: the end mark (a 1 bit), then zero padding to a byte.
    pub fn close(mut self) {
        self.add(1, 1);
        self.flush();
    }
}
