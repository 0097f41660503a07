//! `outport push NAME…`: push images that are already in the local store, by walking each one's
//! index or manifest to every blob it reaches.

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

/// `name` (one image: the answer is its metadata, a failure an error) or `names` (several: see
/// [`push_many`]).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub names: Option<Vec<String>>,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub by_digest: bool,
}

/// Push the request's image(s): `name` gives `{containerimage.digest, image.name}`, `names`
/// gives `{results: […]}`.
pub async fn push_request<H: Host>(host: &H, request: &PushRequest) -> Result<Value> {
    match (&request.name, &request.names) {
        (Some(name), None) => {
            let name = Reference::parse_normalized(name)?;
            let root = find(host, &name).await?.ok_or_else(|| not_stored(&name.full()))?;
            push_stored(host, &name, &root, request, &[]).await
        }
        (None, Some(names)) => push_many(host, names, request).await,
        _ => Err(Error::option("push: give the image's name, or several names")),
    }
}

/// Push several stored images, one after the other, as a demanding user of `docker push` would
/// have them: every name is looked up first (one not in the store fails the whole request before
/// anything is sent), then each is pushed whatever became of the ones before it. The answer lists
/// each name in the order given (repeats dropped): `{"image.name", "containerimage.digest"}`, or
/// `{"image.name", "error": {kind, message}}` for one that failed. Blobs of a name pushed before
/// are mounted from its repository when the next name is on the same registry.
pub async fn push_many<H: Host>(host: &H, names: &[String], request: &PushRequest) -> Result<Value> {
    if names.is_empty() {
        return Err(Error::option("push: name at least one image (see `outport images`)"));
    }
    let mut wanted: Vec<Reference> = Vec::new();
    for name in names {
        let name = Reference::parse_normalized(name)?;
        if !wanted.iter().any(|w| w.full() == name.full()) {
            wanted.push(name);
        }
    }
    let mut roots = Vec::new();
    let mut missing = Vec::new();
    for name in &wanted {
        match find(host, name).await? {
            Some(root) => roots.push(root),
            None => missing.push(name.full()),
        }
    }
    if !missing.is_empty() {
        let mut error = not_stored(&missing.join(", "));
        error.message.push_str("; nothing pushed");
        return Err(error);
    }
    let mut results = Vec::new();
    let mut pushed: Vec<Reference> = Vec::new();
    for (name, root) in wanted.iter().zip(&roots) {
        match push_stored(host, name, root, request, &pushed).await {
            Ok(metadata) => {
                results.push(metadata);
                pushed.push(name.clone());
            }
            Err(e) => results.push(serde_json::json!({
                "image.name": name.full(),
                "error": {"kind": e.kind.as_str(), "message": e.message},
            })),
        }
    }
    Ok(serde_json::json!({ "results": results }))
}

/// Push one stored image (`root`, what the store records for `name`).
async fn push_stored<H: Host>(
    host: &H,
    name: &Reference,
    root: &Descriptor,
    request: &PushRequest,
    pushed_before: &[Reference],
) -> Result<Value> {
    let mut manifests = Vec::new();
    let mut blobs = vec![(root.digest.clone(), root.size)];
    if root.media_type == OCI_INDEX || root.media_type == DOCKER_MANIFEST_LIST {
        let what = format!("index {}", root.digest);
        for child in descriptors(&read_manifest(host, root, &what).await?, "manifests", &what)? {
            blobs.extend(manifest_blobs(host, &child).await?);
            manifests.push(child);
        }
    } else {
        blobs.extend(manifest_blobs(host, root).await?);
    }
    let job = PushJob {
        root,
        manifests: &manifests,
        blobs: &blobs,
        insecure: request.insecure,
        by_digest: request.by_digest,
    };
    push(host, name, &job, pushed_before).await?;
    Ok(serde_json::json!({"containerimage.digest": root.digest, "image.name": name.full()}))
}

fn not_stored(names: &str) -> Error {
    Error::store(format!("no image named {names} in the store (see `outport images`)"))
}

/// The root descriptor the store records for `name`, if it has one.
async fn find<H: Host>(host: &H, name: &Reference) -> Result<Option<Descriptor>> {
    let Some(bytes) = host.store_index_read().await? else {
        return Ok(None);
    };
    let index: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::store(format!("store index.json is not valid JSON: {e}")))?;
    let entry = index["manifests"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["annotations"][IMAGE_NAME].as_str() == Some(name.full().as_str()));
    let Some(entry) = entry else {
        return Ok(None);
    };
    let mut found = descriptors(&serde_json::json!({ "entry": entry }), "entry", "store index.json")?;
    Ok(Some(found.remove(0)))
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
