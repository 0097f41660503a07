//! The local image store's names: its index.json holds one entry per name (as containerd's image
//! store would), each the root descriptor plus `io.containerd.image.name` and the ref name.

use crate::error::{Error, Result};
use crate::export::layout::{merge_index, named_entries, IMAGE_NAME};
use crate::host::Host;
use crate::image::spec::Descriptor;
use crate::reference::Reference;
use serde::Serialize;
use serde_json::Value;

/// Record `names` (normalized references) for `root` in the store, replacing older images of the same names.
pub async fn name_image<H: Host>(host: &H, root: &Descriptor, names: &[Reference]) -> Result<()> {
    let entries = named_entries(root, names);
    let existing = host.store_index_read().await?;
    let merged =
        merge_index(existing.as_deref(), entries).map_err(|e| Error::store(format!("store index.json: {e}")))?;
    host.store_index_write(&merged).await
}

/// One named image in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageRow {
    pub name: String,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

pub async fn list<H: Host>(host: &H) -> Result<Vec<ImageRow>> {
    let Some(bytes) = host.store_index_read().await? else { return Ok(Vec::new()) };
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("store index.json is not valid JSON: {e}")))?;
    let mut rows: Vec<ImageRow> = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some(ImageRow {
                name: m["annotations"][IMAGE_NAME].as_str()?.to_string(),
                digest: m["digest"].as_str()?.to_string(),
                media_type: m["mediaType"].as_str().unwrap_or_default().to_string(),
                size: m["size"].as_u64().unwrap_or_default(),
            })
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(rows)
}

/// `outport rm NAME…`: forget these names (any spelling: `app` is `docker.io/library/app:latest`).
/// The blobs stay until `store gc` finds nothing reaching them. Every name must be in the store;
/// nothing is removed when one is not. Returns the full names removed.
pub async fn remove<H: Host>(host: &H, names: &[String]) -> Result<Vec<String>> {
    if names.is_empty() {
        return Err(Error::option("rm: name at least one image (see `outport images`)"));
    }
    let wanted =
        names.iter().map(|n| Reference::parse_normalized(n).map(|r| r.full())).collect::<Result<Vec<String>>>()?;
    let bytes = host.store_index_read().await?.unwrap_or_else(|| br#"{"schemaVersion":2,"manifests":[]}"#.to_vec());
    let mut index: serde_json::Map<String, Value> =
        serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("store index.json is not valid JSON: {e}")))?;
    let Some(Value::Array(manifests)) = index.get_mut("manifests") else {
        return Err(Error::store("store index.json has no manifests list"));
    };
    let name_of = |m: &Value| m["annotations"][IMAGE_NAME].as_str().map(str::to_string);
    if let Some(missing) = wanted.iter().find(|w| !manifests.iter().any(|m| name_of(m).as_ref() == Some(*w))) {
        return Err(Error::option(format!("rm: no image named {missing} in the store (see `outport images`)")));
    }
    manifests.retain(|m| !name_of(m).is_some_and(|n| wanted.contains(&n)));
    host.store_index_write(&crate::gojson::compact(&index)).await?;
    Ok(wanted)
}
