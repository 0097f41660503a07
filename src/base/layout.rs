//! A base image from an OCI image layout directory (`oci:DIR[:TAG]`), read through the host's
//! source-tree imports. Every blob is verified against its descriptor as it is read.

use crate::error::{Error, ErrorKind, Result};
use crate::host::{read_small_file, EntryKind, Host};
use crate::image::spec::Descriptor;
use crate::ingest::{pulled, stored_already, verify, Ingest};
use serde::Deserialize;

const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const MAX_INDEX: u64 = 4 << 20;
const READ_CHUNK: u32 = 1 << 20;

pub struct Layout {
    pub dir: String,
    pub tag: Option<String>,
}

#[derive(Deserialize)]
struct LayoutIndex {
    #[serde(default)]
    manifests: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// The entry of an OCI layout's `index.json` (`what` names it) for `tag`, or its only entry when no
/// tag is given.
pub fn pick_root(what: &str, index_json: &[u8], tag: Option<&str>) -> Result<Descriptor> {
    let index: LayoutIndex =
        serde_json::from_slice(index_json).map_err(|e| Error::source(format!("{what}: invalid index.json: {e}")))?;
    let tags: Vec<&str> =
        index.manifests.iter().filter_map(|m| m.annotations.get(REF_NAME)).map(String::as_str).collect();
    let entry = match tag {
        Some(tag) => index.manifests.iter().find(|m| m.annotations.get(REF_NAME).map(String::as_str) == Some(tag)),
        None if index.manifests.len() == 1 => index.manifests.first(),
        None => None,
    };
    let Some(entry) = entry else {
        let wanted = tag.map_or("an image (no tag given)".to_string(), |t| format!("tag {t:?}"));
        let listed = if tags.is_empty() { "none".to_string() } else { tags.join(", ") };
        return Err(Error::source(format!(
            "{what} has no {wanted} ({} entries; tags: {listed})",
            index.manifests.len()
        )));
    };
    if crate::digest::hex_part(&entry.digest).is_none() {
        return Err(Error::source(format!("{what}: malformed digest {:?}", entry.digest)));
    }
    Ok(Descriptor::new(&entry.media_type, &entry.digest, entry.size))
}

impl Layout {
    pub fn name(&self) -> String {
        super::spelled("oci", &self.dir, self.tag.as_deref())
    }

    /// The root descriptor `index.json` lists for the tag (or its only entry when no tag is given).
    pub async fn root<H: Host>(&self, host: &H) -> Result<Descriptor> {
        let path = format!("{}/index.json", self.dir);
        let bytes = read_small_file(host, &path, MAX_INDEX).await?;
        pick_root(&format!("{}: {path}", self.name()), &bytes, self.tag.as_deref())
    }

    fn blob_path(&self, digest: &str) -> Result<String> {
        let hex = crate::digest::hex_part(digest)
            .ok_or_else(|| Error::source(format!("{}: malformed digest {digest:?}", self.name())))?;
        Ok(format!("{}/blobs/sha256/{hex}", self.dir))
    }

    /// The path of a blob that is a regular file of the layout: a fifo would hang the read, and
    /// a symlink may only name another file in blobs/sha256 (never one outside the layout).
    async fn blob_file<H: Host>(&self, host: &H, digest: &str) -> Result<String> {
        let path = self.blob_path(digest)?;
        let refuse = |why: &str| Err(Error::source(format!("{}: blob {digest} ({path}) {why}", self.name())));
        let entry = host.source_stat(path.as_bytes()).await?;
        let file = match entry.kind {
            EntryKind::Regular => return Ok(path),
            EntryKind::Symlink => {
                let target = &entry.link_target;
                if target.is_empty() || target.contains(&b'/') || target.starts_with(b".") {
                    return refuse("is a symlink out of blobs/sha256: refused");
                }
                format!("{}/blobs/sha256/{}", self.dir, String::from_utf8_lossy(target))
            }
            _ => return refuse("is not a regular file"),
        };
        match host.source_stat(file.as_bytes()).await?.kind {
            EntryKind::Regular => Ok(file),
            _ => refuse("is a symlink to something other than a regular file"),
        }
    }

    /// A manifest or config, read whole (at most `limit` bytes) and verified.
    pub async fn small_blob<H: Host>(&self, host: &H, expected: &Descriptor, limit: u64) -> Result<Vec<u8>> {
        let bytes = read_small_file(host, &self.blob_file(host, &expected.digest).await?, limit).await?;
        verify(&bytes, expected, &self.name(), ErrorKind::Source)?;
        Ok(bytes)
    }

    /// Copy a layer blob into the store unless it is there already, verifying it on the way.
    pub async fn store_blob<H: Host>(&self, host: &H, expected: &Descriptor) -> Result<()> {
        if stored_already(host, expected).await? {
            return Ok(());
        }
        let path = self.blob_file(host, &expected.digest).await?;
        let handle = host.source_open(path.as_bytes()).await?;
        let mut ingest = match Ingest::start(host, expected, &self.name(), ErrorKind::Source).await {
            Ok(i) => i,
            Err(e) => {
                host.source_close(handle).await;
                return Err(e);
            }
        };
        let copied = loop {
            match host.source_read(handle, READ_CHUNK).await {
                Ok(chunk) if chunk.is_empty() => break Ok(()),
                Ok(chunk) => {
                    if let Err(e) = ingest.write(&chunk).await {
                        break Err(e);
                    }
                }
                Err(e) => break Err(e),
            }
        };
        host.source_close(handle).await;
        ingest.conclude(copied).await?;
        pulled(host, expected);
        Ok(())
    }
}
