//! Reading a base image's manifests: index or manifest, the platform's entry in an index, and the
//! layer and config descriptors of a manifest. Anything malformed is an error, never a panic.

use crate::error::{Error, Result};
use crate::image::mediatypes::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::image::spec::{Annotations, Descriptor};
use crate::platform::Platform;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct RemoteDescriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<Annotations>,
    #[serde(default)]
    urls: Option<Vec<String>>,
    #[serde(default)]
    platform: Option<RemotePlatform>,
}

#[derive(Debug, Deserialize)]
struct RemotePlatform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RemoteObject {
    #[serde(rename = "mediaType", default)]
    media_type: Option<String>,
    #[serde(rename = "schemaVersion", default)]
    schema_version: Option<u32>,
    #[serde(default)]
    manifests: Option<Vec<RemoteDescriptor>>,
    #[serde(default)]
    config: Option<RemoteDescriptor>,
    #[serde(default)]
    layers: Option<Vec<RemoteDescriptor>>,
}

/// What a manifest or index reference resolved to.
#[derive(Debug)]
pub enum Parsed {
    /// An index: its image manifests with their platforms (attestations left out).
    Index(Vec<(Descriptor, Option<Platform>)>),
    Manifest {
        config: Descriptor,
        layers: Vec<Descriptor>,
    },
}

/// Parse a manifest or index; `what` names it in errors. `content_type` is the registry's
/// Content-Type, used when the document has no `mediaType`.
pub fn parse(what: &str, bytes: &[u8], content_type: Option<&str>) -> Result<Parsed> {
    let bad = |why: String| Error::source(format!("{what}: {why}"));
    let object: RemoteObject = serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid manifest JSON: {e}")))?;
    if object.schema_version != Some(2) {
        return Err(bad("only schema version 2 manifests and indexes are supported".into()));
    }
    let media_type = object.media_type.as_deref().or(content_type).unwrap_or("");
    match (object.manifests, object.config, object.layers) {
        (Some(manifests), None, None) if matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST | "") => {
            let mut entries = Vec::new();
            for m in manifests.into_iter().filter(|m| !is_attestation(m)) {
                let platform = m.platform.as_ref().and_then(|p| {
                    let id = match &p.variant {
                        Some(v) if !v.is_empty() => format!("{}/{}/{v}", p.os, p.architecture),
                        _ => format!("{}/{}", p.os, p.architecture),
                    };
                    Platform::parse(&id).ok()
                });
                entries.push((descriptor(what, m)?, platform));
            }
            Ok(Parsed::Index(entries))
        }
        (None, Some(config), Some(layers)) if matches!(media_type, OCI_MANIFEST | DOCKER_MANIFEST | "") => {
            let layers = layers.into_iter().map(|l| descriptor(what, l)).collect::<Result<Vec<_>>>()?;
            Ok(Parsed::Manifest { config: descriptor(what, config)?, layers })
        }
        _ => Err(bad(format!("unsupported manifest (media type {media_type:?})"))),
    }
}

fn is_attestation(d: &RemoteDescriptor) -> bool {
    d.annotations.as_ref().and_then(|a| a.get("vnd.docker.reference.type")).map(String::as_str)
        == Some("attestation-manifest")
}

/// A descriptor whose digest is a well-formed sha256 (digests become store file names).
fn descriptor(what: &str, remote: RemoteDescriptor) -> Result<Descriptor> {
    if crate::digest::hex_part(&remote.digest).is_none() {
        return Err(Error::source(format!("{what}: unsupported or malformed digest {:?}", remote.digest)));
    }
    let mut d = Descriptor::new(&remote.media_type, &remote.digest, remote.size);
    d.annotations = remote.annotations.unwrap_or_default();
    d.urls = remote.urls.unwrap_or_default();
    Ok(d)
}

/// The index entry for `wanted`; a missing platform names the ones there are.
pub fn pick<'a>(
    what: &str,
    entries: &'a [(Descriptor, Option<Platform>)],
    wanted: &Platform,
) -> Result<&'a Descriptor> {
    if let Some((d, _)) = entries.iter().find(|(_, p)| p.as_ref() == Some(wanted)) {
        return Ok(d);
    }
    let available: Vec<String> = entries.iter().filter_map(|(_, p)| p.as_ref().map(Platform::id)).collect();
    let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
    Err(Error::option(format!("{what}: no image for platform {} (available: {available})", wanted.id())))
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    #[test]
    fn picks_platform_and_skips_attestations() {
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[
            {{"mediaType":"{OCI_MANIFEST}","digest":"{A}","size":1,"platform":{{"architecture":"arm64","os":"linux","variant":"v8"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{B}","size":2,"platform":{{"architecture":"amd64","os":"linux"}}}},
            {{"mediaType":"{OCI_MANIFEST}","digest":"{B}","size":3,"platform":{{"architecture":"unknown","os":"unknown"}},
              "annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}}]}}"#
        );
        let Parsed::Index(entries) = parse("r", index.as_bytes(), None).unwrap() else { panic!("an index") };
        assert_eq!(entries.len(), 2);
        let arm = pick("r", &entries, &Platform::parse("linux/arm64").unwrap()).unwrap();
        assert_eq!((arm.digest.as_str(), arm.size), (A, 1));
        let err = pick("base x:1", &entries, &Platform::parse("linux/s390x").unwrap()).unwrap_err();
        assert!(err
            .message
            .contains("base x:1: no image for platform linux/s390x (available: linux/arm64, linux/amd64)"));
    }

    #[test]
    fn reads_manifests_and_refuses_the_rest() {
        let manifest = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"c","digest":"{A}","size":5}},"layers":[{{"mediaType":"l","digest":"{B}","size":7}}]}}"#
        );
        let Parsed::Manifest { config, layers } = parse("r", manifest.as_bytes(), Some(DOCKER_MANIFEST)).unwrap()
        else {
            panic!("a manifest")
        };
        assert_eq!((config.size, layers.len(), layers[0].media_type.as_str()), (5, 1, "l"));
        assert!(parse("r", br#"{"schemaVersion":1,"fsLayers":[]}"#, None).is_err());
        assert!(parse("r", b"[]", None).is_err());
        let traversal = manifest.replace(B, "sha256:../../x");
        assert!(parse("r", traversal.as_bytes(), None).unwrap_err().message.contains("malformed digest"));
    }
}
