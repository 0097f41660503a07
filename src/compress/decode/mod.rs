//! Decompressing streams of outside bytes (layer tarballs, stored base layers): gzip (every member,
//! as `gzip -dc` does) and zstd (frame by frame, block by block), told apart from plain data by their
//! magic bytes. Memory stays bounded whatever the size.

mod gunzip;
mod input;
mod sources;
mod unzstd;

use crate::error::{Error, Result};
pub use gunzip::{FCOMMENT, FEXTRA, FHCRC, FNAME};
use input::Input;
pub use sources::{HostFile, StoredBlob};

/// Inflated bytes per step.
const INFLATE_CHUNK: usize = 256 << 10;

/// Where the compressed bytes come from.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// The next bytes; empty at the end.
    async fn read(&mut self) -> Result<Vec<u8>>;
}

/// Where decompressed bytes go.
#[allow(async_fn_in_trait)]
pub trait Sink {
    async fn write(&mut self, data: &[u8]) -> Result<()>;
}

/// Bytes in memory, handed out `chunk` at a time (tests and fuzzing).
pub struct Chunks<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
}

impl Source for Chunks<'_> {
    async fn read(&mut self) -> Result<Vec<u8>> {
        let (now, rest) = self.data.split_at(self.chunk.max(1).min(self.data.len()));
        self.data = rest;
        Ok(now.to_vec())
    }
}

/// The bytes of `source` (plain, gzip or zstd, told apart by their magic bytes, not by name) into
/// `out`, decompressed; `what` names the source in messages.
pub async fn decode<R: Source, S: Sink>(source: &mut R, what: &str, out: &mut S) -> Result<()> {
    let mut input = Input::new(source);
    input.ensure(6).await?;
    match detect(input.data()) {
        Kind::Gzip => gunzip::gunzip(&mut input, what, out).await,
        Kind::Zstd => unzstd::unzstd(&mut input, what, out).await,
        Kind::Unsupported(kind) => Err(Error::source(format!(
            "{what}: {kind}-compressed layer tarballs are not supported (use plain tar, gzip or zstd)"
        ))),
        Kind::Tar => loop {
            if input.data().is_empty() && !input.fill().await? {
                return Ok(());
            }
            out.write(input.data()).await?;
            let n = input.data().len();
            input.consume(n);
        },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    Gzip,
    Zstd,
    Unsupported(&'static str),
}

/// What a tarball's first bytes (up to 6) say it is.
pub fn detect(magic: &[u8]) -> Kind {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (magic.len() >= 4 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18])
    {
        // A frame, or a skippable frame first.
        Kind::Zstd
    } else if magic.starts_with(b"BZh") {
        Kind::Unsupported("bzip2")
    } else if magic.starts_with(b"\xfd7zXZ\0") {
        Kind::Unsupported("xz")
    } else {
        Kind::Tar
    }
}
