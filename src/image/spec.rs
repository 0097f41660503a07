//! Image-spec objects with fields in the Go structs' order, so our JSON bytes match BuildKit's.

use crate::platform::Platform;
use serde::Serialize;
use std::collections::BTreeMap;

pub type Annotations = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    /// Where a non-distributable (foreign) layer is fetched from instead of the registry.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
    /// Embedded content, base64 (the OCI empty descriptor carries `e30=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
}

impl Descriptor {
    /// A non-distributable ("foreign") layer: referenced by images, never copied between registries
    /// or into layouts (containerd's `IsNonDistributable`).
    pub fn is_foreign(&self) -> bool {
        self.media_type.starts_with("application/vnd.oci.image.layer.nondistributable.")
            || self.media_type.starts_with("application/vnd.docker.image.rootfs.foreign.")
    }

    pub fn new(media_type: &str, digest: &str, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.to_string(),
            digest: digest.to_string(),
            size,
            urls: Vec::new(),
            annotations: Annotations::new(),
            data: None,
            platform: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    #[serde(rename = "artifactType", skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Index {
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(rename = "mediaType")]
    pub media_type: String,
    pub manifests: Vec<Descriptor>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: Annotations,
}

/// One `history` entry (Go order: created, created_by, author, comment, empty_layer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    pub created: String,
    pub created_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
}
