//! The two places compressed input comes from: a host file (a `--layer` tarball, a base layout's
//! blob), read through the host's source calls, and a stored blob (a base layer in the store).

use super::Source;
use crate::error::Result;
use crate::host::{Handle, Host};

/// Read this much at a time.
const READ_CHUNK: u32 = 1 << 20;

/// An open host file (the caller opens and closes it).
pub struct HostFile<'h, H: Host> {
    pub host: &'h H,
    pub handle: Handle,
}

impl<H: Host> Source for HostFile<'_, H> {
    async fn read(&mut self) -> Result<Vec<u8>> {
        self.host.source_read(self.handle, READ_CHUNK).await
    }
}

/// A stored blob from `offset` up to `end` (an eStargz blob's end is where its TOC begins).
pub struct StoredBlob<'h, H: Host> {
    pub host: &'h H,
    pub digest: &'h str,
    pub offset: u64,
    pub end: u64,
}

impl<H: Host> Source for StoredBlob<'_, H> {
    async fn read(&mut self) -> Result<Vec<u8>> {
        let want = (self.end - self.offset).min(u64::from(READ_CHUNK)) as u32;
        if want == 0 {
            return Ok(Vec::new());
        }
        let chunk = self.host.blob_read(self.digest, self.offset, want).await?;
        self.offset += chunk.len() as u64;
        Ok(chunk)
    }
}
