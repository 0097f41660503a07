//! Image objects: config, manifest, index and their media types, serialized as BuildKit does.

pub mod attestation;
pub mod config;
pub mod mediatypes;
pub mod settings;
pub mod spec;

use crate::error::Result;
use crate::gojson;
use crate::host::Host;
use crate::layer::put_blob;
use crate::platform::Platform;
use mediatypes::MediaTypes;
use spec::{Annotations, Descriptor, Manifest};

/// A single-platform image assembled and stored: its manifest descriptor and config digest.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub manifest: Descriptor,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
    /// Every blob the manifest reaches, with its size: config, layers, then the manifest itself.
    pub blobs: Vec<(String, u64)>,
}

/// What goes into one platform's image.
pub struct ImageSpec<'a> {
    pub platform: &'a Platform,
    /// The config to complete: default, `--config` file and flags already applied.
    pub config: config::ImageConfig,
    /// The base image's share of `layers` and history.
    pub base: config::FromBase<'a>,
    /// SOURCE_DATE_EPOCH, for clamping history times.
    pub epoch: Option<i64>,
    /// Layer descriptors (media type and annotations already chosen) with their diffIDs, bottom first.
    pub layers: Vec<(Descriptor, String)>,
    pub media_types: MediaTypes,
    /// The time new layers' history entries get (clamped to `epoch` if later).
    pub now: crate::timefmt::GoTime,
    /// `annotations` of the manifest.
    pub annotations: Annotations,
}

/// Store the config and manifest and return the manifest descriptor (with platform).
pub async fn assemble<H: Host>(host: &H, spec: ImageSpec<'_>) -> Result<BuiltImage> {
    let types = spec.media_types;
    let diff_ids: Vec<String> = spec.layers.iter().map(|(_, diff_id)| diff_id.clone()).collect();
    let config_bytes =
        gojson::compact(&config::finish(spec.config, spec.platform, &diff_ids, spec.base, spec.now, spec.epoch));
    let config_digest = put_blob(host, &config_bytes).await?;
    let manifest = Manifest {
        schema_version: 2,
        media_type: types.manifest().to_string(),
        config: Descriptor::new(types.config(), &config_digest, config_bytes.len() as u64),
        artifact_type: None,
        layers: spec.layers.into_iter().map(|(d, _)| d).collect(),
        subject: None,
        annotations: spec.annotations,
    };
    let manifest_bytes = gojson::pretty(&manifest);
    let manifest_digest = put_blob(host, &manifest_bytes).await?;
    let mut blobs = vec![(config_digest.clone(), config_bytes.len() as u64)];
    // Foreign layers are referenced, not carried: not in layouts, not uploaded.
    blobs.extend(manifest.layers.iter().filter(|l| !l.is_foreign()).map(|l| (l.digest.clone(), l.size)));
    blobs.push((manifest_digest.clone(), manifest_bytes.len() as u64));
    let mut descriptor = Descriptor::new(types.manifest(), &manifest_digest, manifest_bytes.len() as u64);
    descriptor.platform = Some(spec.platform.clone());
    Ok(BuiltImage {
        manifest: descriptor,
        config_digest,
        layer_digests: manifest.layers.iter().map(|l| l.digest.clone()).collect(),
        blobs,
    })
}
