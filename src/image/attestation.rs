//! Attestation manifests (reference §3.3): one per platform image, listed in the index after all
//! platform manifests with platform unknown/unknown and the `vnd.docker.reference.*` annotations.

use super::mediatypes::{MediaTypes, OCI_EMPTY, OCI_MANIFEST};
use super::spec::{Annotations, Descriptor, Manifest};
use super::BuiltImage;
use crate::attest::{self, Attestation};
use crate::error::Result;
use crate::gojson;
use crate::host::Host;
use crate::layer::put_blob;
use crate::platform::Platform;
use crate::reference::Reference;
use serde_json::json;

pub const IN_TOTO: &str = "application/vnd.in-toto+json";
pub const PREDICATE_TYPE: &str = "in-toto.io/predicate-type";
pub const ARTIFACT_TYPE: &str = "application/vnd.docker.attestation.manifest.v1+json";
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";

/// Store the statements and the attestation manifest for `image`; returns its index descriptor
/// and the blobs it added.
pub async fn attestation_manifest<H: Host>(
    host: &H,
    attestations: &[Attestation],
    names: &[Reference],
    image: &BuiltImage,
    platform: &Platform,
    oci_artifact: bool,
) -> Result<(Descriptor, Vec<(String, u64)>)> {
    let mut blobs = Vec::new();
    let mut layers = Vec::new();
    for a in attestations {
        let bytes = attest::statement(a, names, platform, &image.manifest.digest);
        let digest = put_blob(host, &bytes).await?;
        let mut layer = Descriptor::new(IN_TOTO, &digest, bytes.len() as u64);
        layer.annotations.insert(PREDICATE_TYPE.into(), a.predicate_type.clone());
        blobs.push((digest, bytes.len() as u64));
        layers.push(layer);
    }
    let (config_bytes, config_type) = if oci_artifact {
        (b"{}".to_vec(), OCI_EMPTY)
    } else {
        // The legacy form: an unknown/unknown image config whose diff_ids are the statements.
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
        let config = json!({"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        (gojson::compact(&config), MediaTypes::Oci.config())
    };
    let config_digest = put_blob(host, &config_bytes).await?;
    blobs.push((config_digest.clone(), config_bytes.len() as u64));
    let mut config = Descriptor::new(config_type, &config_digest, config_bytes.len() as u64);
    if oci_artifact {
        config.data = Some("e30=".into());
    }
    let manifest = Manifest {
        schema_version: 2,
        media_type: OCI_MANIFEST.into(),
        artifact_type: oci_artifact.then(|| ARTIFACT_TYPE.to_string()),
        config,
        layers,
        subject: oci_artifact
            .then(|| Descriptor::new(&image.manifest.media_type, &image.manifest.digest, image.manifest.size)),
        annotations: Annotations::new(),
    };
    let bytes = gojson::pretty(&manifest);
    let digest = put_blob(host, &bytes).await?;
    blobs.push((digest.clone(), bytes.len() as u64));
    let mut descriptor = Descriptor::new(OCI_MANIFEST, &digest, bytes.len() as u64);
    descriptor.annotations.insert(REFERENCE_DIGEST.into(), image.manifest.digest.clone());
    descriptor.annotations.insert(REFERENCE_TYPE.into(), "attestation-manifest".into());
    descriptor.platform = Some(Platform { architecture: "unknown".into(), os: "unknown".into(), variant: None });
    Ok((descriptor, blobs))
}
