//! Layers: a source tree becomes a deterministic tar stream, compressed into a stored blob.

pub mod blob_writer;
pub mod ignore;
mod progress;
pub mod recompress;
pub mod reserved;
pub mod source;
pub mod tarball;
pub mod walk;

/// walk.rs names the writer as `super::tar`.
use crate::tar;

use crate::compress::Compression;
use crate::digest::{Hasher, StreamHasher};
use crate::error::Result;
use crate::host::Host;
use crate::store::cache;
pub use blob_writer::{put_blob, WrittenBlob};
use source::{LayerSource, SourceKind};

/// Build one layer from `source` and store it; also the sha256 of its tar (the diffID, except for
/// eStargz). `clamp_mtime`: rewrite-timestamp's epoch (a tarball is taken as is). `tar_size`: the
/// tar stream's expected length for progress, 0 if unknown.
async fn from_source<H: Host>(
    host: &H,
    source: &LayerSource,
    compression: Compression,
    clamp_mtime: Option<i64>,
    tar_size: u64,
) -> Result<(WrittenBlob, String)> {
    let mut writer = blob_writer::BlobWriter::create(host, compression).await?;
    let id = source.describe();
    let mut counting = progress::Counting::new(host, &mut writer, &id, tar_size);
    let written = write_tar(host, source, clamp_mtime, &mut counting).await;
    if written.is_ok() {
        counting.finish();
    }
    match written {
        Ok(()) => writer.commit_with_tar_digest().await,
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

/// Files changed less than this long before the export are not trusted to show a later change in
/// their ctime (a write in the same clock tick leaves it as it was): such trees get no files record.
const RACY_SECONDS: i64 = 2;

/// Build one layer from `source`, or take the blob the compression cache holds for the same tar
/// stream compressed the same way. `now`: the export's time (Unix seconds).
/// - A tree whose files are all as they were when cached is not read at all.
/// - A tree whose tar headers the cache has seen is read twice (once to hash its tar, which is far
///   cheaper than compressing it again).
/// - Any other is read once.
pub async fn build<H: Host>(
    host: &H,
    source: &LayerSource,
    compression: Compression,
    clamp_mtime: Option<i64>,
    now: i64,
) -> Result<WrittenBlob> {
    let shape = match source.kind {
        SourceKind::Tarball => None,
        SourceKind::Directory | SourceKind::File => Some(tree_shape(host, source, clamp_mtime).await?),
    };
    let tar_size = shape.as_ref().map_or(0, |s| s.tar_size);
    if compression == Compression::Uncompressed {
        return Ok(from_source(host, source, compression, clamp_mtime, tar_size).await?.0);
    }
    if let Some(files) = shape.as_ref().and_then(|s| s.files.as_deref()) {
        if let Some(tar_digest) = cache::tar_for_files(host, files, compression).await? {
            if let Some(blob) = cache::lookup(host, &tar_digest, compression).await? {
                return Ok(blob);
            }
        }
    }
    let seen = match &shape {
        Some(shape) => cache::shape_seen(host, &shape.headers, compression).await?,
        None => true,
    };
    let (blob, tar_digest, built) = if !seen {
        let (blob, tar_digest) = from_source(host, source, compression, clamp_mtime, tar_size).await?;
        (blob, tar_digest, true)
    } else {
        let tar_digest = tar_digest(host, source, clamp_mtime).await?;
        match cache::lookup(host, &tar_digest, compression).await? {
            Some(blob) => (blob, tar_digest, false),
            None => (from_source(host, source, compression, clamp_mtime, tar_size).await?.0, tar_digest, true),
        }
    };
    // A blob taken from the cache already has its record.
    if built {
        cache::record(host, &tar_digest, compression, &blob).await?;
    }
    if let Some(shape) = &shape {
        if !seen {
            cache::record_shape(host, &shape.headers, compression).await?;
        }
        let settled = shape.newest_change_ns < now.saturating_sub(RACY_SECONDS).saturating_mul(1_000_000_000);
        if let Some(files) = shape.files.as_deref().filter(|_| settled) {
            cache::record_files(host, files, compression, &tar_digest).await?;
        }
    }
    Ok(blob)
}

/// What a stat-only walk of a directory or file source tells.
struct TreeShape {
    /// sha256 of the tar's header blocks alone.
    headers: String,
    /// The length the whole tar will have.
    tar_size: u64,
    /// The headers and each file's identity and ctime, hashed; None if the host gave no ctimes.
    files: Option<String>,
    newest_change_ns: i64,
}

/// The tree's shape from directory listings alone (no file is read).
async fn tree_shape<H: Host>(host: &H, source: &LayerSource, clamp_mtime: Option<i64>) -> Result<TreeShape> {
    let mut sink = Digesting(Hasher::new(), 0);
    let mtime = clamp_mtime.map_or(walk::Mtime::Keep, walk::Mtime::Clamp);
    let tree = walk::Tree { roots: std::slice::from_ref(source), mtime, prefix: b"" };
    let walked = walk::write_headers(host, &tree, &mut sink).await?;
    let headers = sink.0.finish();
    let files = walked.files.map(|files| crate::digest::sha256(format!("{headers} {files}").as_bytes()));
    Ok(TreeShape {
        tar_size: sink.1 + walked.file_data + tar::TRAILER.len() as u64,
        headers,
        files,
        newest_change_ns: walked.newest_change_ns,
    })
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
    let mut sink = HostDigesting(host, StreamHasher::new(host).await?);
    let written = write_tar(host, source, clamp_mtime, &mut sink).await;
    let digest = sink.1.finish(host).await;
    written.and(digest)
}

/// Hashes what passes, natively where the host can (a whole layer's tar).
struct HostDigesting<'h, H: Host>(&'h H, StreamHasher);

impl<H: Host> walk::TarSink for HostDigesting<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.1.update(self.0, data).await
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
