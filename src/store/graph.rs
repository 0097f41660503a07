//! What the store's named images reach: their indexes, manifests, configs and layers, read from
//! the store and checked against their descriptors (for `verify`, `gc` and pushing a stored image).

use crate::error::{Error, Result};
use crate::host::Host;
use crate::image::mediatypes::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::image::spec::Descriptor;
use serde_json::Value;
use std::collections::BTreeMap;

/// Manifests and indexes are small; anything bigger in the store is not one.
const MAX_MANIFEST: u64 = 4 << 20;

/// Every blob the store's named images reach (digest → size and who refers to it), and the number
/// of index.json entries.
pub(super) async fn reachable<H: Host>(host: &H) -> Result<(BTreeMap<String, (u64, String)>, usize)> {
    let Some(bytes) = host.store_index_read().await? else { return Ok((BTreeMap::new(), 0)) };
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("store index.json is not valid JSON: {e}")))?;
    let entries = descriptors(&index, "manifests", "store index.json")?;
    let mut found = BTreeMap::new();
    let mut pending: Vec<(Descriptor, String)> = entries.iter().map(|d| (d.clone(), "index.json".into())).collect();
    while let Some((descriptor, from)) = pending.pop() {
        if found.contains_key(&descriptor.digest) {
            continue;
        }
        found.insert(descriptor.digest.clone(), (descriptor.size, from));
        let what = format!("{} {}", kind(&descriptor.media_type), descriptor.digest);
        if descriptor.media_type == OCI_INDEX || descriptor.media_type == DOCKER_MANIFEST_LIST {
            let json = read_manifest(host, &descriptor, &what).await?;
            pending.extend(descriptors(&json, "manifests", &what)?.into_iter().map(|d| (d, what.clone())));
        } else if descriptor.media_type.contains("manifest") {
            let json = read_manifest(host, &descriptor, &what).await?;
            pending.extend(descriptors(&json, "config", &what)?.into_iter().map(|d| (d, what.clone())));
            let layers = descriptors(&json, "layers", &what)?.into_iter().filter(|d| !d.is_foreign());
            pending.extend(layers.map(|d| (d, what.clone())));
        }
    }
    Ok((found, entries.len()))
}

fn kind(media_type: &str) -> &'static str {
    if media_type == OCI_INDEX || media_type == DOCKER_MANIFEST_LIST {
        "index"
    } else {
        "manifest"
    }
}

pub async fn read_manifest<H: Host>(host: &H, descriptor: &Descriptor, what: &str) -> Result<Value> {
    if descriptor.size > MAX_MANIFEST {
        return Err(Error::store(format!("{what} claims {} bytes: too big for a manifest", descriptor.size)));
    }
    if host.blob_size(&descriptor.digest).await?.is_none() {
        return Err(Error::store(format!("{what} is missing from the store")));
    }
    let bytes = host.blob_read(&descriptor.digest, 0, descriptor.size as u32).await?;
    if crate::digest::sha256(&bytes) != descriptor.digest {
        return Err(Error::store(format!("{what} does not match its digest")));
    }
    serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("{what} is not valid JSON: {e}")))
}

/// The descriptors in `field` (an array, or a single object such as `config`).
pub fn descriptors(json: &Value, field: &str, what: &str) -> Result<Vec<Descriptor>> {
    let values: Vec<&Value> = match &json[field] {
        Value::Array(items) => items.iter().collect(),
        Value::Null => vec![],
        single => vec![single],
    };
    values
        .into_iter()
        .map(|v| {
            let digest = v["digest"].as_str().filter(|d| crate::digest::hex_part(d).is_some());
            match (v["mediaType"].as_str(), digest, v["size"].as_u64()) {
                (Some(media_type), Some(digest), Some(size)) => Ok(Descriptor::new(media_type, digest, size)),
                _ => Err(Error::store(format!("{what}: malformed descriptor in {field}"))),
            }
        })
        .collect()
}
