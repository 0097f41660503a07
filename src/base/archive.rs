//! A base image from an OCI layout in a tar file (`oci-archive:FILE[:TAG]`, what `type=oci` and
//! skopeo write). The host reads files front to back only, so each lookup is one pass over the
//! archive, and all missing layers are copied in a single pass.

use super::layout::{pick_root, MAX_INDEX};
use super::tar_scan::TarScan;
use crate::error::{Error, ErrorKind, Result};
use crate::host::Host;
use crate::image::spec::Descriptor;
use crate::ingest::{pulled, stored_already, verify, Ingest};
use std::collections::BTreeMap;

const READ_CHUNK: u32 = 1 << 20;

pub struct Archive {
    pub file: String,
    pub tag: Option<String>,
}

fn blob_entry(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

impl Archive {
    pub fn name(&self) -> String {
        super::spelled("oci-archive", &self.file, self.tag.as_deref())
    }

    pub async fn root<H: Host>(&self, host: &H) -> Result<Descriptor> {
        let bytes = self.read_entry(host, "index.json", MAX_INDEX).await?;
        pick_root(&format!("{}: index.json", self.name()), &bytes, self.tag.as_deref())
    }

    /// A manifest or config, read whole (at most `limit` bytes) and verified.
    pub async fn small_blob<H: Host>(&self, host: &H, expected: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        if expected.size > limit {
            return Err(Error::source(format!("{}: {} is larger than {limit} bytes", self.name(), expected.digest)));
        }
        let bytes = self.read_entry(host, &blob_entry(&expected.digest), expected.size).await?;
        verify(&bytes, expected, &self.name(), ErrorKind::Source)?;
        Ok(bytes)
    }

    /// One entry's whole content; an entry over `limit` bytes is an error.
    async fn read_entry<H: Host>(&self, host: &H, entry: &str, limit: u64) -> Result<Vec<u8>> {
        let mut scan = TarScan::open(host, &self.file).await?;
        let result = async {
            while let Some((name, size)) = scan.next_file().await? {
                if name != entry {
                    continue;
                }
                if size > limit {
                    return Err(Error::source(format!("{}: {entry} is larger than {limit} bytes", self.name())));
                }
                return scan.read_all().await;
            }
            Err(Error::source(format!("{}: the archive has no {entry}", self.name())))
        }
        .await;
        scan.close().await;
        result
    }

    /// Copy every layer not yet in the store, verifying each, in one pass over the archive.
    pub async fn store_blobs<H: Host>(&self, host: &H, layers: &[Descriptor]) -> Result<()> {
        let mut wanted: BTreeMap<String, &Descriptor> = BTreeMap::new();
        for layer in layers {
            if !stored_already(host, layer).await? {
                wanted.insert(blob_entry(&layer.digest), layer);
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut scan = TarScan::open(host, &self.file).await?;
        let result = async {
            while let Some((name, _)) = scan.next_file().await? {
                let Some(layer) = wanted.remove(&name) else { continue };
                copy(host, &mut scan, layer, &self.name()).await?;
                if wanted.is_empty() {
                    return Ok(());
                }
            }
            let missing: Vec<&str> = wanted.values().map(|d| d.digest.as_str()).collect();
            Err(Error::source(format!("{}: the archive has no blob {}", self.name(), missing.join(", "))))
        }
        .await;
        scan.close().await;
        result
    }
}

/// The current entry into the store as `expected`.
async fn copy<H: Host>(host: &H, scan: &mut TarScan<'_, H>, expected: &Descriptor, source: &str) -> Result<()> {
    let mut ingest = Ingest::start(host, expected, source, ErrorKind::Source).await?;
    let copied = async {
        loop {
            let chunk = scan.read(READ_CHUNK).await?;
            if chunk.is_empty() {
                return Ok(());
            }
            ingest.write(&chunk).await?;
        }
    }
    .await;
    ingest.conclude(copied).await?;
    pulled(host, expected);
    Ok(())
}
