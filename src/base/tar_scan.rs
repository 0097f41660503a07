//! Read a tar file front to back through the host's source imports, one regular file entry at a
//! time (ustar names, PAX `path` and GNU long names understood). The host offers no seeking, so a
//! caller looking for several entries either finds them in one pass or starts a new scan.

use crate::error::{Error, Result};
use crate::host::{Handle, Host};

const BLOCK: usize = 512;
const READ_CHUNK: u32 = 1 << 20;
/// PAX and GNU long-name records are small; a bigger one means a damaged archive.
const MAX_META: u64 = 1 << 20;

pub struct TarScan<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    path: String,
    buffer: Vec<u8>,
    pos: usize,
    /// Data of the current entry not yet read, then its padding to the next block.
    remaining: u64,
    padding: u64,
}

impl<'h, H: Host> TarScan<'h, H> {
    pub async fn open(host: &'h H, path: &str) -> Result<TarScan<'h, H>> {
        let handle = host.source_open(path.as_bytes()).await?;
        let path = path.to_string();
        Ok(TarScan { host, handle, path, buffer: Vec::new(), pos: 0, remaining: 0, padding: 0 })
    }

    pub async fn close(self) {
        self.host.source_close(self.handle).await;
    }

    /// The next regular file: its name (without a leading `./`) and size; None at the end.
    pub async fn next_file(&mut self) -> Result<Option<(String, u64)>> {
        let mut long_name: Option<String> = None;
        loop {
            self.skip(self.remaining.saturating_add(self.padding)).await?;
            (self.remaining, self.padding) = (0, 0);
            let Some(block) = self.header().await? else { return Ok(None) };
            if block.iter().all(|&b| b == 0) {
                return Ok(None);
            }
            self.check_sum(&block)?;
            let size = self.number(&block[124..136])?;
            let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
            match block[156] {
                b'x' | b'L' => {
                    if size > MAX_META {
                        return Err(self.damaged("oversized metadata entry"));
                    }
                    let data = self.take(size as usize).await?;
                    self.skip(padding).await?;
                    long_name = if block[156] == b'L' { Some(c_string(&data)) } else { pax_path(&data).or(long_name) };
                }
                b'0' | b'\0' | b'7' => {
                    let name = long_name.take().unwrap_or_else(|| ustar_name(&block));
                    (self.remaining, self.padding) = (size, padding);
                    return Ok(Some((name.trim_start_matches("./").to_string(), size)));
                }
                _ => {
                    long_name = None;
                    (self.remaining, self.padding) = (size, padding);
                }
            }
        }
    }

    /// Up to `max` bytes more of the current entry; empty at its end.
    pub async fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        let n = self.remaining.min(max as u64) as usize;
        let data = self.take(n).await?;
        self.remaining -= n as u64;
        Ok(data)
    }

    /// The next header block, or None at the very end of the file (an archive without trailer).
    async fn header(&mut self) -> Result<Option<Vec<u8>>> {
        if self.buffer.len() == self.pos && !self.fill().await? {
            return Ok(None);
        }
        self.take(BLOCK).await.map(Some)
    }

    /// Read one more chunk into the buffer; false at end of file.
    async fn fill(&mut self) -> Result<bool> {
        let chunk = self.host.source_read(self.handle, READ_CHUNK).await?;
        if chunk.is_empty() {
            return Ok(false);
        }
        self.buffer.drain(..self.pos);
        self.pos = 0;
        self.buffer.extend_from_slice(&chunk);
        Ok(true)
    }

    async fn take(&mut self, n: usize) -> Result<Vec<u8>> {
        while self.buffer.len() - self.pos < n {
            if !self.fill().await? {
                return Err(self.damaged("unexpected end of file"));
            }
        }
        let data = self.buffer[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(data)
    }

    async fn skip(&mut self, mut n: u64) -> Result<()> {
        while n > 0 {
            let buffered = (self.buffer.len() - self.pos) as u64;
            if buffered == 0 && !self.fill().await? {
                return Err(self.damaged("unexpected end of file"));
            }
            let step = n.min((self.buffer.len() - self.pos) as u64);
            self.pos += step as usize;
            n -= step;
        }
        Ok(())
    }

    fn check_sum(&self, block: &[u8]) -> Result<()> {
        let stored = self.number(&block[148..156])?;
        let sum: u64 =
            block.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { b as u64 }).sum();
        if sum != stored {
            return Err(self.damaged("header checksum mismatch (not a tar file?)"));
        }
        Ok(())
    }

    /// A numeric header field: octal text, or base-256 when the high bit is set.
    fn number(&self, field: &[u8]) -> Result<u64> {
        if field.first().is_some_and(|b| b & 0x80 != 0) {
            let mut value: u64 = (field[0] & 0x7f) as u64;
            for &b in &field[1..] {
                value = value
                    .checked_mul(256)
                    .and_then(|v| v.checked_add(b as u64))
                    .ok_or_else(|| self.damaged("number out of range"))?;
            }
            return Ok(value);
        }
        let text: String = field.iter().map(|&b| b as char).filter(|c| !matches!(c, '\0' | ' ')).collect();
        if text.is_empty() {
            return Ok(0);
        }
        u64::from_str_radix(&text, 8).map_err(|_| self.damaged("malformed numeric field"))
    }

    fn damaged(&self, why: &str) -> Error {
        Error::source(format!("{}: not a readable tar archive: {why}", self.path))
    }
}

fn c_string(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// ustar: `prefix/name` when the prefix field is used.
fn ustar_name(block: &[u8]) -> String {
    let name = c_string(&block[..100]);
    let prefix = if &block[257..262] == b"ustar" { c_string(&block[345..500]) } else { String::new() };
    if prefix.is_empty() {
        name
    } else {
        format!("{prefix}/{name}")
    }
}

/// The `path` record of a PAX extended header (`<len> path=<value>\n` records).
fn pax_path(data: &[u8]) -> Option<String> {
    let mut rest = data;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return None;
        }
        let record = &rest[space + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(value) = record.strip_prefix(b"path=") {
            return Some(String::from_utf8_lossy(value).into_owned());
        }
        rest = &rest[len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_pax_paths_and_ustar_names() {
        assert_eq!(
            pax_path(b"30 mtime=1445412480.000000000\n23 path=blobs/sha256/x\n").as_deref(),
            Some("blobs/sha256/x")
        );
        assert_eq!(pax_path(b"99 path=short\n"), None);
        let mut block = vec![0u8; BLOCK];
        block[..4].copy_from_slice(b"name");
        block[257..262].copy_from_slice(b"ustar");
        block[345..351].copy_from_slice(b"prefix");
        assert_eq!(ustar_name(&block), "prefix/name");
    }
}
