//! `outport push NAME`: push an image that is already in the local store, by walking its index or
//! manifest to every blob it reaches.

use super::graph::{descriptors, read_manifest};
use crate::error::{Error, Result};
use crate::export::layout::IMAGE_NAME;
use crate::host::Host;
use crate::image::mediatypes::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::image::spec::Descriptor;
use crate::reference::Reference;
use crate::registry::push::{push, PushJob};
use serde::Deserialize;
use serde_json::Value;

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
        let what = format!("index {}", root.digest);
        for child in descriptors(&read_manifest(host, &root, &what).await?, "manifests", &what)? {
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
    let mut found = descriptors(&serde_json::json!({ "entry": entry }), "entry", "store index.json")?;
    Ok(found.remove(0))
}

/// A manifest's own blob, its config and its layers, with sizes.
async fn manifest_blobs<H: Host>(host: &H, manifest: &Descriptor) -> Result<Vec<(String, u64)>> {
    let what = format!("manifest {}", manifest.digest);
    let json = read_manifest(host, manifest, &what).await?;
    let mut blobs = vec![(manifest.digest.clone(), manifest.size)];
    let config = descriptors(&json, "config", &what)?;
    if config.is_empty() {
        return Err(Error::store(format!("{what} has no config")));
    }
    let layers = descriptors(&json, "layers", &what)?.into_iter().filter(|d| !d.is_foreign());
    blobs.extend(config.into_iter().chain(layers).map(|d| (d.digest, d.size)));
    Ok(blobs)
}
