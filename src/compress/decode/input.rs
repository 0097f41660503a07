//! Buffered input with enough look-ahead for compression headers.

use super::Source;
use crate::error::Result;

/// Buffered input with enough look-ahead for headers.
pub struct Input<'s, R: Source> {
    source: &'s mut R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<'s, R: Source> Input<'s, R> {
    pub fn new(source: &'s mut R) -> Input<'s, R> {
        Input { source, buf: Vec::new(), pos: 0, eof: false }
    }

    pub fn data(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Read more; false at the end.
    pub async fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let chunk = self.source.read().await?;
        if chunk.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        if self.pos == self.buf.len() {
            self.buf = chunk;
        } else {
            self.buf.drain(..self.pos);
            self.buf.extend_from_slice(&chunk);
        }
        self.pos = 0;
        Ok(true)
    }

    /// Have at least `n` bytes buffered; false if the input ends first.
    pub async fn ensure(&mut self, n: usize) -> Result<bool> {
        while self.data().len() < n {
            if !self.fill().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Pass over `n` bytes, adding them to `crc` if given; false if the input ends first.
    pub async fn skip(&mut self, mut n: u64, mut crc: Option<&mut crc32fast::Hasher>) -> Result<bool> {
        while n > 0 {
            if self.data().is_empty() && !self.fill().await? {
                return Ok(false);
            }
            let step = (self.data().len() as u64).min(n) as usize;
            if let Some(crc) = crc.as_deref_mut() {
                crc.update(&self.data()[..step]);
            }
            self.consume(step);
            n -= step as u64;
        }
        Ok(true)
    }

    /// Pass over a NUL-terminated string (gzip's FNAME and FCOMMENT); false if the input ends first.
    pub async fn skip_string(&mut self, crc: &mut crc32fast::Hasher) -> Result<bool> {
        loop {
            if self.data().is_empty() && !self.fill().await? {
                return Ok(false);
            }
            let data = self.data();
            let (n, found) = match data.iter().position(|&b| b == 0) {
                Some(i) => (i + 1, true),
                None => (data.len(), false),
            };
            crc.update(&data[..n]);
            self.consume(n);
            if found {
                return Ok(true);
            }
        }
    }
}
