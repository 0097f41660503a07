//! Layers: a source tree becomes a deterministic tar stream, compressed into a stored blob.

pub mod blob_writer;
pub mod ignore;
pub mod source;
pub mod tar;
pub mod tarball;
pub mod walk;

use crate::compress::Compression;
use crate::error::Result;
use crate::host::Host;
pub use blob_writer::{put_blob, WrittenBlob};
use source::{LayerSource, SourceKind};

/// Build one layer from `source` and store it. `clamp_mtime`: rewrite-timestamp's epoch (a
/// tarball is taken as is).
pub async fn from_source<H: Host>(
    host: &H,
    source: &LayerSource,
    compression: Compression,
    clamp_mtime: Option<i64>,
) -> Result<WrittenBlob> {
    let mut writer = blob_writer::BlobWriter::create(host, compression).await?;
    match write_tar(host, source, clamp_mtime, &mut writer).await {
        Ok(()) => writer.commit().await,
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// The layer's tar stream into `out`: a tarball's own bytes, or the walked source and the trailer.
async fn write_tar<H: Host, S: walk::TarSink>(
    host: &H,
    source: &LayerSource,
    clamp_mtime: Option<i64>,
    out: &mut S,
) -> Result<()> {
    match source.kind {
        SourceKind::Tarball => tarball::copy_tarball(host, &source.path, out).await,
        SourceKind::Directory | SourceKind::File => {
            let mtime = clamp_mtime.map_or(walk::Mtime::Keep, walk::Mtime::Clamp);
            let tree = walk::Tree { roots: std::slice::from_ref(source), mtime, prefix: b"" };
            walk::write_tree(host, &tree, out).await?;
            out.write(&tar::TRAILER).await
        }
    }
}
