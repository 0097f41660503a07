//! Image objects: config, manifest, index and their media types, serialized as BuildKit does.

pub mod config;
pub mod mediatypes;
pub mod spec;

use crate::error::Result;
use crate::gojson;
use crate::host::Host;
use crate::layer::{put_blob, WrittenBlob};
use crate::platform::Platform;
use mediatypes::MediaTypes;
use spec::{Annotations, Descriptor, Manifest};

/// A single-platform image assembled and stored: its manifest descriptor and config digest.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest: Descriptor,
    pub config_digest: String,
    /// Every blob the manifest reaches, with its size: config, layers, then the manifest itself.
    pub blobs: Vec<(String, u64)>,
}

/// Store the config and manifest for `layers` and return the manifest descriptor (with platform).
pub async fn assemble<H: Host>(
    host: &H,
    platform: &Platform,
    layers: &[(WrittenBlob, &'static str)],
    types: MediaTypes,
    created: i64,
) -> Result<BuiltImage> {
    let written: Vec<WrittenBlob> = layers.iter().map(|(l, _)| l.clone()).collect();
    let config_bytes = gojson::compact(&config::scratch_config(platform, &written, created));
    let config_digest = put_blob(host, &config_bytes).await?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: types.manifest().to_string(),
        config: Descriptor::new(types.config(), &config_digest, config_bytes.len() as u64),
        layers: layers
            .iter()
            .map(|(l, media_type)| Descriptor::new(media_type, &l.digest, l.size))
            .collect(),
        annotations: Annotations::new(),
    };
    let manifest_bytes = gojson::pretty(&manifest);
    let manifest_digest = put_blob(host, &manifest_bytes).await?;
    let mut blobs = vec![(config_digest.clone(), config_bytes.len() as u64)];
    blobs.extend(layers.iter().map(|(l, _)| (l.digest.clone(), l.size)));
    blobs.push((manifest_digest.clone(), manifest_bytes.len() as u64));
    let mut descriptor = Descriptor::new(types.manifest(), &manifest_digest, manifest_bytes.len() as u64);
    descriptor.platform = Some(platform.clone());
    Ok(BuiltImage {
        manifest: descriptor,
        config_digest,
        blobs,
    })
}
