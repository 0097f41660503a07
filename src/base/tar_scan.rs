//! Read a tar file front to back through the host's source imports, one regular file entry at a
//! time, with `crate::tar`'s reader (Go's archive/tar rules: PAX and GNU long names, either checksum,
//! base-256 numbers). The host offers no seeking, so a caller looking for several entries either
//! finds them in one pass or starts a new scan.

use crate::error::{Error, Result};
use crate::host::{Handle, Host};
use crate::tar::{Event, Reader, Truncation};

const READ_CHUNK: u32 = 1 << 20;

/// One entry as [`TarScan::next_entry`] gives it.
pub struct ScanEntry {
    /// Without a leading `./`.
    pub name: String,
    pub size: u64,
    pub typeflag: u8,
    pub linkname: String,
}

impl ScanEntry {
    pub fn is_file(&self) -> bool {
        matches!(self.typeflag, b'0' | b'7')
    }
}

pub struct TarScan<'h, H: Host> {
    host: &'h H,
    input: Input,
    path: String,
    tar: Reader,
    buffer: Vec<u8>,
    pos: usize,
}

/// Where the archive's bytes come from.
enum Input {
    File(Handle),
    Blob { digest: String, offset: u64 },
}

impl<'h, H: Host> TarScan<'h, H> {
    pub async fn open(host: &'h H, path: &str) -> Result<TarScan<'h, H>> {
        let handle = host.source_open(path.as_bytes()).await?;
        let path = path.to_string();
        Ok(TarScan { host, input: Input::File(handle), path, tar: Reader::new(), buffer: Vec::new(), pos: 0 })
    }

    /// A tar archive kept in the store as blob `digest` (e.g. one an engine sent); `shown` names it.
    pub fn open_blob(host: &'h H, digest: &str, shown: &str) -> TarScan<'h, H> {
        let input = Input::Blob { digest: digest.to_string(), offset: 0 };
        TarScan { host, input, path: shown.to_string(), tar: Reader::new(), buffer: Vec::new(), pos: 0 }
    }

    pub async fn close(self) {
        if let Input::File(handle) = self.input {
            self.host.source_close(handle).await;
        }
    }

    /// The next regular file: its name (without a leading `./`) and size; None at the end.
    pub async fn next_file(&mut self) -> Result<Option<(String, u64)>> {
        while let Some(entry) = self.next_entry().await? {
            if entry.is_file() {
                return Ok(Some((entry.name, entry.size)));
            }
        }
        Ok(None)
    }

    /// The next entry of any kind (links too: `docker save` writes a layer it already wrote as a
    /// symlink to it); None at the end.
    pub async fn next_entry(&mut self) -> Result<Option<ScanEntry>> {
        loop {
            if self.pos == self.buffer.len() && !self.fill().await? {
                // Like Go's reader: the file may end between two blocks, with or without end marker.
                return match self.tar.finish() {
                    Ok(()) | Err(Truncation::Empty | Truncation::NoEndMarker { clean: true }) => Ok(None),
                    Err(_) => Err(self.damaged("unexpected end of file")),
                };
            }
            let (n, event) = self.tar.read(&self.buffer[self.pos..]).map_err(|e| self.damaged(&e.to_string()))?;
            let entry = match event {
                Some(Event::Entry(entry)) => Some(entry),
                Some(Event::End) => return Ok(None),
                _ => None,
            };
            self.pos += n;
            if let Some(entry) = entry.filter(|e| e.typeflag != b'g') {
                let name = String::from_utf8_lossy(&entry.name).trim_start_matches("./").to_string();
                let linkname = String::from_utf8_lossy(&entry.linkname).into_owned();
                return Ok(Some(ScanEntry { name, size: entry.data_size(), typeflag: entry.typeflag, linkname }));
            }
        }
    }

    /// Up to `max` bytes more of the current entry; empty at its end.
    pub async fn read(&mut self, max: u32) -> Result<Vec<u8>> {
        if self.tar.data_left() == 0 {
            return Ok(Vec::new());
        }
        if self.pos == self.buffer.len() && !self.fill().await? {
            return Err(self.damaged("unexpected end of file"));
        }
        let end = self.buffer.len().min(self.pos + max as usize);
        let (n, event) = self.tar.read(&self.buffer[self.pos..end]).map_err(|e| self.damaged(&e.to_string()))?;
        let data = match event {
            Some(Event::Data(data)) => data.to_vec(),
            _ => Vec::new(),
        };
        self.pos += n;
        Ok(data)
    }

    /// The rest of the current entry (a small one: the caller checked its size).
    pub async fn read_all(&mut self) -> Result<Vec<u8>> {
        let mut data = Vec::new();
        loop {
            let chunk = self.read(READ_CHUNK).await?;
            if chunk.is_empty() {
                return Ok(data);
            }
            data.extend_from_slice(&chunk);
        }
    }

    /// Read one more chunk into the buffer; false at end of file.
    async fn fill(&mut self) -> Result<bool> {
        let chunk = match &mut self.input {
            Input::File(handle) => self.host.source_read(*handle, READ_CHUNK).await?,
            Input::Blob { digest, offset } => {
                let chunk = self.host.blob_read(digest, *offset, READ_CHUNK).await?;
                *offset += chunk.len() as u64;
                chunk
            }
        };
        if chunk.is_empty() {
            return Ok(false);
        }
        self.buffer.drain(..self.pos);
        self.pos = 0;
        self.buffer.extend_from_slice(&chunk);
        Ok(true)
    }

    fn damaged(&self, why: &str) -> Error {
        Error::source(format!("{}: not a readable tar archive: {why}", self.path))
    }
}
