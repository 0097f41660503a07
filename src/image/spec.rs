//! Image-spec objects with fields in the Go structs' order, so our JSON bytes match BuildKit's.

use crate::platform::Platform;
use crate::timefmt::GoTime;
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

/// One `history` entry as Go's `ocispecs.History` marshals it: created, created_by, author, comment,
/// empty_layer, each left out when empty (a time keeps the offset it was written with).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "go_time")]
    pub created: Option<GoTime>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub created_by: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub comment: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_layer: bool,
}

fn go_time<S: serde::Serializer>(time: &Option<GoTime>, s: S) -> Result<S::Ok, S::Error> {
    match time {
        Some(t) => s.collect_str(t),
        None => s.serialize_none(),
    }
}
