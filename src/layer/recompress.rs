//! `force-compression`: a base layer stored in another compression is decompressed and compressed
//! again the way the output asks. Its tar stream, and so its diffID, stays the same; the entries are
//! checked on the way as a layer tarball's are. An eStargz layer becomes its original tar (the blob
//! before the TOC member) as in BuildKit, so its diffID changes to that tar's.

use super::blob_writer::{BlobWriter, WrittenBlob};
use super::tarball;
use super::walk::TarSink;
use crate::compress::decode::StoredBlob;
use crate::compress::estargz::reader as estargz;
use crate::compress::Compression;
use crate::digest::StreamHasher;
use crate::error::{Error, Result};
use crate::host::Host;
use crate::store::cache;

/// The stored base layer blob `digest` of `size` bytes (whose whole decompressed stream is
/// `diff_id`) in `compression`.
pub async fn recompress<H: Host>(
    host: &H,
    digest: &str,
    size: u64,
    diff_id: &str,
    compression: Compression,
) -> Result<WrittenBlob> {
    if let Some(blob) = cache::lookup(host, diff_id, compression).await? {
        return Ok(blob);
    }
    let what = format!("base layer {digest}");
    let toc = match compression {
        Compression::Estargz { .. } => None,
        _ => estargz::read(host, digest, size).await?,
    };
    let mut tee =
        Tee { host, digest: StreamHasher::new(host).await?, writer: BlobWriter::create(host, compression).await? };
    let end = toc.as_ref().map_or(u64::MAX, |toc| toc.toc_offset);
    let mut stored = StoredBlob { host, digest, offset: 0, end };
    let mut copied = tarball::copy_stream(&mut stored, &what, &mut tee).await;
    // The diffID the image gives covers the TOC tar (and the footer's empty member) too.
    if let (Ok(()), Some(toc)) = (&copied, &toc) {
        copied = tee.digest.update(host, &toc.toc_tar).await;
    }
    let found = tee.digest.finish(host).await;
    let found = match copied.and(found) {
        Ok(found) => found,
        Err(e) => {
            tee.writer.abort().await;
            return Err(e);
        }
    };
    if found != diff_id {
        tee.writer.abort().await;
        return Err(Error::source(format!("{what}: its content is {found}, not the diffID {diff_id} its image gives")));
    }
    let blob = tee.writer.commit().await?;
    cache::record(host, diff_id, compression, &blob).await?;
    Ok(blob)
}

/// The tar stream into the blob writer, hashed on the way (an eStargz blob's own diffID covers more).
struct Tee<'h, H: Host> {
    host: &'h H,
    digest: StreamHasher,
    writer: BlobWriter<'h, H>,
}

impl<H: Host> TarSink for Tee<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.digest.update(self.host, data).await?;
        self.writer.write(data).await
    }
}
