//! The compression cache: a layer whose tar stream was compressed the same way before is not
//! compressed again. Records live in the store under a key made of the tar stream's digest and the
//! compression with its level; a record is used only after the blob it names is read back and its
//! digest checked, so a stale or damaged record costs a recompression, never a wrong layer.
//!
//! Beside each record of a walked tree, a shape record keyed by the digest of the tar's header blocks
//! alone (names, modes, owners, sizes, mtimes; see `walk::write_headers`). Equal tar streams have
//! equal headers, so when no shape record exists the tar cannot be in the cache either, and the
//! source need not be read twice to find that out.
//!
//! And a files record: the tar stream a tree gave, keyed by its headers plus each file's identity and
//! change time (device, inode, ctime in nanoseconds). Any write to a file moves its ctime, so an
//! unchanged tree is recognized without reading it. Trees with a file changed within the last
//! seconds before the export are not recorded, as git treats "racily clean" files: a write in the
//! same clock tick as the export could leave the ctime as it was.

use crate::compress::Compression;
use crate::digest::sha256;
use crate::error::Result;
use crate::host::Host;
use crate::layer::WrittenBlob;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    /// sha256 of the tar stream that was compressed (for eStargz not the blob's diffID).
    tar_digest: String,
    compression: String,
    blob: WrittenBlob,
}

/// How a compression, its level and the encoder are named in keys and records.
fn compression_name(compression: Compression) -> String {
    format!("{compression:?} by {}", compression.encoder())
}

fn key(tar_digest: &str, compression: Compression) -> String {
    let digest = sha256(format!("{tar_digest} {}", compression_name(compression)).as_bytes());
    digest.trim_start_matches("sha256:").to_string()
}

/// The blob stored for `tar_digest` compressed with `compression`, if the cache has one and the
/// blob is whole.
pub async fn lookup<H: Host>(host: &H, tar_digest: &str, compression: Compression) -> Result<Option<WrittenBlob>> {
    let Some(record) = read::<H, Record>(host, &key(tar_digest, compression)).await? else {
        return Ok(None);
    };
    if record.tar_digest != tar_digest || record.compression != compression_name(compression) {
        return Ok(None);
    }
    let blob = record.blob;
    if host.blob_size(&blob.digest).await? != Some(blob.size) || !blob_matches(host, &blob.digest).await? {
        return Ok(None);
    }
    Ok(Some(blob))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShapeRecord {
    headers_digest: String,
    compression: String,
}

fn shape_key(headers_digest: &str, compression: Compression) -> String {
    key(&format!("headers {headers_digest}"), compression)
}

/// Whether a tree with these tar headers was ever cached compressed with `compression` (if not,
/// its tar stream is not in the cache).
pub async fn shape_seen<H: Host>(host: &H, headers_digest: &str, compression: Compression) -> Result<bool> {
    let record = read::<H, ShapeRecord>(host, &shape_key(headers_digest, compression)).await?;
    Ok(record.is_some_and(|r| r.headers_digest == headers_digest && r.compression == compression_name(compression)))
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FilesRecord {
    files_key: String,
    compression: String,
    tar_digest: String,
}

fn files_key(files: &str, compression: Compression) -> String {
    key(&format!("files {files}"), compression)
}

/// The tar stream's digest recorded for a tree whose headers and files are `files`, if any.
pub async fn tar_for_files<H: Host>(host: &H, files: &str, compression: Compression) -> Result<Option<String>> {
    let Some(record) = read::<H, FilesRecord>(host, &files_key(files, compression)).await? else {
        return Ok(None);
    };
    let matches = record.files_key == files && record.compression == compression_name(compression);
    Ok(matches.then_some(record.tar_digest))
}

/// Remember that the tree whose headers and files are `files` gave the tar stream `tar_digest`.
pub async fn record_files<H: Host>(host: &H, files: &str, compression: Compression, tar_digest: &str) -> Result<()> {
    let record = FilesRecord {
        files_key: files.into(),
        compression: compression_name(compression),
        tar_digest: tar_digest.into(),
    };
    write(host, &files_key(files, compression), &record).await
}

/// Remember that a tree with these tar headers was cached compressed with `compression`.
pub async fn record_shape<H: Host>(host: &H, headers_digest: &str, compression: Compression) -> Result<()> {
    let record = ShapeRecord { headers_digest: headers_digest.into(), compression: compression_name(compression) };
    write(host, &shape_key(headers_digest, compression), &record).await
}

/// Remember that `tar_digest` compressed with `compression` gave `blob`.
pub async fn record<H: Host>(host: &H, tar_digest: &str, compression: Compression, blob: &WrittenBlob) -> Result<()> {
    let record =
        Record { tar_digest: tar_digest.into(), compression: compression_name(compression), blob: blob.clone() };
    write(host, &key(tar_digest, compression), &record).await
}

/// The record under `key`; None when there is none or it does not parse (a stale or damaged record
/// only costs the work it would have saved).
async fn read<H: Host, T: serde::de::DeserializeOwned>(host: &H, key: &str) -> Result<Option<T>> {
    Ok(host.cache_read(key).await?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
}

async fn write<H: Host, T: Serialize>(host: &H, key: &str, record: &T) -> Result<()> {
    let bytes = serde_json::to_vec(record).expect("cache records are plain data");
    host.cache_write(key, &bytes).await
}

/// Have the host hash the stored blob and check it matches its name.
async fn blob_matches<H: Host>(host: &H, digest: &str) -> Result<bool> {
    Ok(host.blob_digest(digest).await?.as_deref() == Some(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_compression_and_level() {
        let tar = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
        let keys = [
            key(tar, Compression::Gzip { level: 6 }),
            key(tar, Compression::Gzip { level: 9 }),
            key(tar, Compression::Zstd { level: 6 }),
        ];
        assert!(keys.iter().all(|k| k.len() == 64 && k.bytes().all(|b| b.is_ascii_hexdigit())));
        assert!(keys[0] != keys[1] && keys[0] != keys[2] && keys[1] != keys[2]);
        // Records of another encoder (other bytes for the same tar) are other keys.
        assert_eq!(compression_name(Compression::Gzip { level: 6 }), "Gzip { level: 6 } by zlib-rs 0.6.9");
        // Level 0's bytes changed to Go's framing: records of zlib-rs's level 0 are not reused.
        assert_eq!(
            compression_name(Compression::Gzip { level: 0 }),
            "Gzip { level: 0 } by stored blocks as Go's compress/flate"
        );
    }
}
