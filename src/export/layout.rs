//! OCI image layouts (`oci-layout`, `index.json`, `blobs/sha256/…`), as a tarball or a directory,
//! laid out as containerd's archive exporter and BuildKit's client write them.

use super::staging::Staged;
use crate::digest::hex_part;
use crate::error::{Error, Result};
use crate::gojson;
use crate::host::{Handle, Host};
use crate::image::mediatypes::OCI_INDEX;
use crate::image::spec::{Annotations, Descriptor, Index};
use crate::tar::{self, typeflag, Header};

pub const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
pub const IMAGE_NAME: &str = "io.containerd.image.name";

pub struct Layout<'a> {
    /// The entries of `index.json`.
    pub index_entries: Vec<Descriptor>,
    /// Every blob to include, as (digest, size); order does not matter.
    pub blobs: &'a [(String, u64)],
    /// The docker variant's `manifest.json` (tarballs only).
    pub manifest_json: Option<Vec<u8>>,
}

/// One copy of `root` per name, carrying the full name and its ref name (tag), as containerd's
/// archive exporter and image store record names.
pub fn named_entries(root: &Descriptor, names: &[crate::reference::Reference]) -> Vec<Descriptor> {
    names
        .iter()
        .map(|name| {
            let mut entry = root.clone();
            entry.annotations.insert(IMAGE_NAME.into(), name.full());
            entry.annotations.insert(REF_NAME.into(), name.layout_ref_name());
            entry
        })
        .collect()
}

fn index_json(entries: Vec<Descriptor>) -> Vec<u8> {
    gojson::compact(&Index {
        schema_version: 2,
        media_type: OCI_INDEX.into(),
        manifests: entries,
        annotations: Annotations::new(),
    })
}

fn sorted_blobs(blobs: &[(String, u64)]) -> Result<Vec<(&str, &str, u64)>> {
    let mut out = Vec::with_capacity(blobs.len());
    for (digest, size) in blobs {
        let hex = hex_part(digest).ok_or_else(|| Error::internal(format!("invalid blob digest {digest:?}")))?;
        out.push((hex, digest.as_str(), *size));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn entry(name: &str, flag: u8, mode: i64, size: u64) -> Vec<u8> {
    tar::encode(&Header {
        name: name.as_bytes().to_vec(),
        typeflag: flag,
        mode,
        size: size as i64,
        ..Default::default()
    })
}

/// Where a layout tarball's bytes go: an opened output file, a Docker engine's load request, or a
/// byte count.
#[allow(async_fn_in_trait)]
pub trait TarOut {
    async fn write(&mut self, data: &[u8]) -> Result<()>;
    /// Append the stored blob `digest` (`size` bytes as described), digest verified on the way;
    /// returns the bytes written.
    async fn write_blob(&mut self, digest: &str, size: u64) -> Result<u64>;
}

/// An opened output: the host streams stored blobs into it itself.
pub struct OutputFile<'h, H: Host> {
    pub host: &'h H,
    pub handle: Handle,
}

impl<H: Host> TarOut for OutputFile<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.host.output_write(self.handle, data).await
    }
    async fn write_blob(&mut self, digest: &str, _size: u64) -> Result<u64> {
        self.host.output_write_blob(self.handle, digest).await
    }
}

/// Counts the bytes a layout tarball will have, reading no blob.
#[derive(Default)]
pub struct TarSize(pub u64);

impl TarOut for TarSize {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.0 += data.len() as u64;
        Ok(())
    }
    async fn write_blob(&mut self, _digest: &str, size: u64) -> Result<u64> {
        self.0 += size;
        Ok(size)
    }
}

/// Write the layout as a tarball: entries byte-sorted, mtime 0, uid/gid 0.
pub async fn write_tar<O: TarOut>(out: &mut O, layout: &Layout<'_>) -> Result<()> {
    let blobs = sorted_blobs(layout.blobs)?;
    let mut head = entry("blobs/", typeflag::DIRECTORY, 0o755, 0);
    head.extend(entry("blobs/sha256/", typeflag::DIRECTORY, 0o755, 0));
    out.write(&head).await?;
    for (hex, digest, size) in blobs {
        out.write(&entry(&format!("blobs/sha256/{hex}"), typeflag::REGULAR, 0o444, size)).await?;
        let copied = out.write_blob(digest, size).await?;
        if copied != size {
            return Err(Error::store(format!("stored blob {digest} has {copied} bytes, expected {size}")));
        }
        out.write(&[0u8; tar::BLOCK][..tar::padding(size)]).await?;
    }
    // Byte order of names: index.json < manifest.json (docker only) < oci-layout.
    let mut files = vec![("index.json", 0o644, index_json(layout.index_entries.clone()))];
    if let Some(manifest_json) = &layout.manifest_json {
        files.push(("manifest.json", 0o644, manifest_json.clone()));
    }
    files.push(("oci-layout", 0o444, OCI_LAYOUT.to_vec()));
    let mut tail = Vec::new();
    for (name, mode, data) in files {
        tail.extend(entry(name, typeflag::REGULAR, mode, data.len() as u64));
        tail.extend_from_slice(&data);
        tail.resize(tail.len() + tar::padding(data.len() as u64), 0);
    }
    tail.extend_from_slice(&tar::TRAILER);
    out.write(&tail).await
}

/// Write (or update) the layout as a directory, in its staging directory; index.json keeps the
/// entries of other images that the destination's index.json has.
pub async fn write_dir<H: Host>(host: &H, staged: &Staged, layout: Layout<'_>) -> Result<()> {
    let dest = staged.dir.trim_end_matches('/');
    for dir in [dest.to_string(), format!("{dest}/blobs"), format!("{dest}/blobs/sha256")] {
        host.output_mkdir(&dir).await?;
    }
    for (hex, digest, size) in sorted_blobs(layout.blobs)? {
        let path = format!("{dest}/blobs/sha256/{hex}");
        let placed = host.output_place_blob(&path, digest).await?;
        if placed != size {
            // Not ours to leave behind: a blob whose size disagrees with its descriptor.
            let _ = host.output_remove(&path).await;
            return Err(Error::store(format!("stored blob {digest} has {placed} bytes, expected {size}")));
        }
    }
    write_file(host, &format!("{dest}/oci-layout"), OCI_LAYOUT).await?;
    let existing_path = format!("{}/index.json", staged.dest);
    let existing = host.output_read(&existing_path).await?;
    let merged = merge_index(existing.as_deref(), layout.index_entries)
        .map_err(|e| Error::output(format!("{existing_path}: {e}")))?;
    write_file(host, &format!("{dest}/index.json"), &merged).await
}

async fn write_file<H: Host>(host: &H, path: &str, data: &[u8]) -> Result<()> {
    let h = host.output_open(path).await?;
    if let Err(e) = host.output_write(h, data).await {
        host.output_abort(h).await;
        return Err(e);
    }
    host.output_commit(h).await
}

/// BuildKit's client (ociindex): drop existing entries with the same (ref name, image name) as a new
/// one, keep the rest, append the new ones.
pub(crate) fn merge_index(existing: Option<&[u8]>, new: Vec<Descriptor>) -> std::result::Result<Vec<u8>, String> {
    let mut index: serde_json::Map<String, serde_json::Value> = match existing {
        Some(bytes) => {
            serde_json::from_slice(bytes).map_err(|e| format!("existing index.json is not valid JSON: {e}"))?
        }
        None => serde_json::Map::new(),
    };
    let key_of = |annotations: Option<&serde_json::Value>| {
        let get = |k: &str| annotations.and_then(|a| a.get(k)).and_then(|v| v.as_str()).map(str::to_string);
        (get(REF_NAME), get(IMAGE_NAME))
    };
    let new_keys: Vec<_> =
        new.iter().map(|d| (d.annotations.get(REF_NAME).cloned(), d.annotations.get(IMAGE_NAME).cloned())).collect();
    let mut manifests: Vec<serde_json::Value> = match index.remove("manifests") {
        Some(serde_json::Value::Array(list)) => list,
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(_) => return Err("existing index.json has a non-array \"manifests\"".into()),
    };
    manifests.retain(|m| !new_keys.contains(&key_of(m.get("annotations"))));
    manifests.extend(new.iter().map(|d| serde_json::to_value(d).expect("descriptor is plain data")));
    // Go field order of ocispec.Index: schemaVersion, mediaType, manifests, annotations.
    let mut out = serde_json::Map::new();
    out.insert("schemaVersion".into(), index.remove("schemaVersion").unwrap_or(2.into()));
    out.insert("mediaType".into(), index.remove("mediaType").unwrap_or(OCI_INDEX.into()));
    out.insert("manifests".into(), manifests.into());
    if let Some(a) = index.remove("annotations") {
        out.insert("annotations".into(), a);
    }
    Ok(gojson::compact(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(digest: &str, name: &str) -> Descriptor {
        let mut d = Descriptor::new("application/vnd.oci.image.manifest.v1+json", digest, 1);
        d.annotations.insert(REF_NAME.into(), name.into());
        d
    }

    #[test]
    fn merge_replaces_same_name_keeps_others() {
        let first = merge_index(None, vec![named("sha256:a", "latest"), named("sha256:b", "v1")]).unwrap();
        let second = merge_index(Some(&first), vec![named("sha256:c", "latest")]).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&second).unwrap();
        let digests: Vec<&str> =
            v["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
        assert_eq!(digests, ["sha256:b", "sha256:c"]);
        assert!(String::from_utf8(second)
            .unwrap()
            .starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":["#));
    }

    #[test]
    fn merge_rejects_garbage() {
        assert!(merge_index(Some(b"not json"), vec![]).unwrap_err().contains("not valid JSON"));
    }
}
