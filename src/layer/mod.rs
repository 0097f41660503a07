//! Layers: a source tree becomes a deterministic tar stream, compressed into a stored blob.

pub mod blob_writer;
pub mod cache;
pub mod ignore;
mod progress;
pub mod recompress;
pub mod source;
pub mod tar;
pub mod tarball;
pub mod walk;

use crate::compress::Compression;
use crate::digest::Hasher;
use crate::error::Result;
use crate::host::Host;
pub use blob_writer::{put_blob, WrittenBlob};
use source::{LayerSource, SourceKind};

/// Build one layer from `source` and store it. `clamp_mtime`: rewrite-timestamp's epoch (a
/// tarball is taken as is). `tar_size`: the tar stream's expected length for progress, 0 if unknown.
pub async fn from_source<H: Host>(
    host: &H,
    source: &LayerSource,
    compression: Compression,
    clamp_mtime: Option<i64>,
    tar_size: u64,
) -> Result<WrittenBlob> {
    let mut writer = blob_writer::BlobWriter::create(host, compression).await?;
    let id = source.describe();
    let mut counting = progress::Counting::new(host, &mut writer, &id, tar_size);
    let written = write_tar(host, source, clamp_mtime, &mut counting).await;
    if written.is_ok() {
        counting.finish();
    }
    match written {
        Ok(()) => writer.commit().await,
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// Build one layer from `source`, or take the blob the compression cache holds for the same tar
/// stream compressed the same way. A tree whose tar headers the cache has seen is read twice (once
/// to hash its tar, which is far cheaper than compressing it again); any other is read once.
pub async fn build<H: Host>(
    host: &H,
    source: &LayerSource,
    compression: Compression,
    clamp_mtime: Option<i64>,
) -> Result<WrittenBlob> {
    let shape = match source.kind {
        SourceKind::Tarball => None,
        SourceKind::Directory | SourceKind::File => Some(tree_shape(host, source, clamp_mtime).await?),
    };
    let tar_size = shape.as_ref().map_or(0, |(_, size)| *size);
    if compression == Compression::Uncompressed {
        return from_source(host, source, compression, clamp_mtime, tar_size).await;
    }
    let headers = shape.map(|(digest, _)| digest);
    let seen = match &headers {
        Some(headers) => cache::shape_seen(host, headers, compression).await?,
        None => true,
    };
    // An eStargz blob's diffID covers its TOC, so only a separate pass gives its tar's digest.
    let blob = if !seen && !matches!(compression, Compression::Estargz { .. }) {
        let blob = from_source(host, source, compression, clamp_mtime, tar_size).await?;
        cache::record(host, &blob.diff_id, compression, &blob).await?;
        blob
    } else {
        let tar_digest = tar_digest(host, source, clamp_mtime).await?;
        if let Some(blob) = cache::lookup(host, &tar_digest, compression).await? {
            return Ok(blob);
        }
        let blob = from_source(host, source, compression, clamp_mtime, tar_size).await?;
        cache::record(host, &tar_digest, compression, &blob).await?;
        blob
    };
    if let Some(headers) = &headers {
        cache::record_shape(host, headers, compression).await?;
    }
    Ok(blob)
}

/// sha256 of the tar's header blocks alone, and the length the whole tar will have (a directory or
/// file source; only directory listings are read).
async fn tree_shape<H: Host>(host: &H, source: &LayerSource, clamp_mtime: Option<i64>) -> Result<(String, u64)> {
    let mut sink = Digesting(Hasher::new(), 0);
    let mtime = clamp_mtime.map_or(walk::Mtime::Keep, walk::Mtime::Clamp);
    let tree = walk::Tree { roots: std::slice::from_ref(source), mtime, prefix: b"" };
    let file_data = walk::write_headers(host, &tree, &mut sink).await?;
    Ok((sink.0.finish(), sink.1 + file_data + tar::TRAILER.len() as u64))
}

/// Hashes and counts what passes.
struct Digesting(Hasher, u64);

impl walk::TarSink for Digesting {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.0.update(data);
        self.1 += data.len() as u64;
        Ok(())
    }
}

/// sha256 of the tar stream `source` gives, without compressing or storing it.
async fn tar_digest<H: Host>(host: &H, source: &LayerSource, clamp_mtime: Option<i64>) -> Result<String> {
    let mut sink = Digesting(Hasher::new(), 0);
    write_tar(host, source, clamp_mtime, &mut sink).await?;
    Ok(sink.0.finish())
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
