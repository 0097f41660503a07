//! `outport store verify` and `outport store gc`: check that the local store is whole (every blob's
//! content matches its name, index.json parses, nothing an image reaches is missing) and remove the
//! blobs no stored image reaches, and the temporary files a killed run left behind.

use crate::error::{Error, Result};
use crate::host::Host;
use crate::image::mediatypes::{DOCKER_MANIFEST_LIST, OCI_INDEX};
use crate::image::spec::Descriptor;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Manifests and indexes are small; anything bigger in the store is not one.
const MAX_MANIFEST: u64 = 4 << 20;

/// Every blob hashed and every reference followed. Problems are listed, not raised: the caller
/// reports them all (and fails when there is any).
pub async fn verify<H: Host>(host: &H) -> Result<Value> {
    let mut problems = Vec::new();
    let mut bytes = 0;
    let stored = host.blob_list().await?;
    for digest in &stored {
        // Hashed by the host (natively); a blob removed meanwhile is no longer part of the store.
        let Some(actual) = host.blob_digest(digest).await? else { continue };
        bytes += host.blob_size(digest).await?.unwrap_or(0);
        if &actual != digest {
            problems.push(format!("blob {digest} holds content with digest {actual}"));
        }
    }
    let (reachable, images) = match reachable(host).await {
        Ok(found) => found,
        Err(e) => {
            problems.push(e.message);
            (BTreeMap::new(), 0)
        }
    };
    for (digest, (size, from)) in &reachable {
        match host.blob_size(digest).await? {
            None => problems.push(format!("{from} needs blob {digest}, which is missing")),
            Some(actual) if actual != *size => {
                problems.push(format!("{from} says blob {digest} has {size} bytes, the store has {actual}"))
            }
            Some(_) => {}
        }
    }
    // Left by a kill or a full disk: not a problem (no image refers to them), but space to reclaim.
    let stale: Vec<Value> = host
        .store_temporaries(false)
        .await?
        .into_iter()
        .map(|(path, size)| json!({"path": path, "size": size}))
        .collect();
    Ok(json!({"blobs": stored.len(), "bytes": bytes, "images": images, "problems": problems, "stale": stale}))
}

/// Remove every blob that no image in index.json reaches. Refuses to run on a store whose index
/// cannot be read whole (it would delete what it cannot see).
pub async fn gc<H: Host>(host: &H) -> Result<Value> {
    let (reachable, images) = reachable(host).await?;
    let (mut removed, mut freed) = (0, 0);
    for digest in host.blob_list().await? {
        if reachable.contains_key(&digest) {
            continue;
        }
        freed += host.blob_size(&digest).await?.unwrap_or(0);
        host.blob_remove(&digest).await?;
        removed += 1;
    }
    let stale = host.store_temporaries(true).await?;
    freed += stale.iter().map(|(_, size)| size).sum::<u64>();
    Ok(
        json!({"images": images, "kept": reachable.len(), "removed": removed, "freed": freed, "temporaries": stale.len()}),
    )
}

/// Every blob the store's named images reach (digest → size and who refers to it), and the number
/// of index.json entries.
async fn reachable<H: Host>(host: &H) -> Result<(BTreeMap<String, (u64, String)>, usize)> {
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

pub(crate) async fn read_manifest<H: Host>(host: &H, descriptor: &Descriptor, what: &str) -> Result<Value> {
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
pub(crate) fn descriptors(json: &Value, field: &str, what: &str) -> Result<Vec<Descriptor>> {
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
