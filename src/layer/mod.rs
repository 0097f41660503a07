//! Layers: a source tree becomes a deterministic tar stream, compressed into a stored blob.

pub mod blob_writer;
pub mod ignore;
pub mod tar;
pub mod tarball;
pub mod walk;

use crate::compress::Compression;
use crate::error::Result;
use crate::host::Host;
pub use blob_writer::{put_blob, WrittenBlob};

/// Build one layer from the directory at `root` (a host path) and store it. `clamp_mtime`:
/// rewrite-timestamp's epoch.
pub async fn from_directory<H: Host>(
    host: &H,
    root: &[u8],
    compression: Compression,
    clamp_mtime: Option<i64>,
) -> Result<WrittenBlob> {
    let mut writer = blob_writer::BlobWriter::create(host, compression).await?;
    let roots = [root.to_vec()];
    let mtime = clamp_mtime.map_or(walk::Mtime::Keep, walk::Mtime::Clamp);
    let tree = walk::Tree { roots: &roots, mtime, prefix: b"" };
    let written = match walk::write_tree(host, &tree, &mut writer).await {
        Ok(()) => writer.write(&tar::TRAILER).await,
        Err(e) => Err(e),
    };
    match written {
        Ok(()) => writer.commit().await,
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}
