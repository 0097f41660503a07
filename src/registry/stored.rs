//! `outport push NAME`: push an image that is already in the local store, by walking its index or
//! manifest to every blob it reaches.

use super::push::{push, PushJob};
use crate::error::{Error, Result};
use crate::export::layout::IMAGE_NAME;
use crate::host::Host;
use crate::image::mediatypes::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::image::spec::Descriptor;
use crate::reference::Reference;
use serde::Deserialize;
use serde_json::Value;

/// Manifests and indexes are small; anything bigger in the store is not one.
const MAX_MANIFEST: u64 = 4 << 20;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    pub name: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub by_digest: bool,
}

pub async fn push_stored<H: Host>(host: &H, request: &PushRequest) -> Result<Value> {
    let name = Reference::parse_normalized(&request.name)?;
    let root = find(host, &name).await?;
    let mut manifests = Vec::new();
    let mut blobs = vec![(root.digest.clone(), root.size)];
    if root.media_type == OCI_INDEX || root.media_type == DOCKER_MANIFEST_LIST {
        for child in children(&read_json(host, &root).await?, "manifests")? {
            blobs.extend(manifest_blobs(host, &child).await?);
            manifests.push(child);
        }
    } else {
        blobs.extend(manifest_blobs(host, &root).await?);
    }
    let job = PushJob {
        root: &root,
        manifests: &manifests,
        blobs: &blobs,
        insecure: request.insecure,
        by_digest: request.by_digest,
    };
    push(host, &name, &job, &[]).await?;
    Ok(serde_json::json!({"containerimage.digest": root.digest, "image.name": name.full()}))
}

/// The root descriptor the store records for `name`.
async fn find<H: Host>(host: &H, name: &Reference) -> Result<Descriptor> {
    let missing = || Error::store(format!("no image named {} in the store (see `outport images`)", name.full()));
    let bytes = host.store_index_read().await?.ok_or_else(missing)?;
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("store index.json is not valid JSON: {e}")))?;
    let entry = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"][IMAGE_NAME].as_str() == Some(name.full().as_str()))
        .ok_or_else(missing)?;
    descriptor(entry).ok_or_else(|| Error::store(format!("store index.json: malformed entry for {}", name.full())))
}

/// A manifest's own blob, its config and its layers, with sizes.
async fn manifest_blobs<H: Host>(host: &H, manifest: &Descriptor) -> Result<Vec<(String, u64)>> {
    let json = read_json(host, manifest).await?;
    let mut blobs = vec![(manifest.digest.clone(), manifest.size)];
    let config = descriptor(&json["config"])
        .ok_or_else(|| Error::store(format!("manifest {} has no config", manifest.digest)))?;
    blobs.push((config.digest, config.size));
    blobs.extend(children(&json, "layers")?.into_iter().map(|l| (l.digest, l.size)));
    Ok(blobs)
}

async fn read_json<H: Host>(host: &H, d: &Descriptor) -> Result<Value> {
    if d.size > MAX_MANIFEST {
        return Err(Error::store(format!("{} claims {} bytes: too big for a manifest", d.digest, d.size)));
    }
    let bytes = host.blob_read(&d.digest, 0, d.size as u32).await?;
    if crate::digest::sha256(&bytes) != d.digest {
        return Err(Error::store(format!("stored blob {} does not match its digest", d.digest)));
    }
    serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("stored manifest {} is not JSON: {e}", d.digest)))
}

fn children(json: &Value, field: &str) -> Result<Vec<Descriptor>> {
    json[field]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| descriptor(v).ok_or_else(|| Error::store(format!("malformed descriptor in {field}"))))
        .collect()
}

fn descriptor(v: &Value) -> Option<Descriptor> {
    let digest = v["digest"].as_str().filter(|d| crate::digest::hex_part(d).is_some())?;
    Some(Descriptor::new(v["mediaType"].as_str()?, digest, v["size"].as_u64()?))
}
