//! Media types in the two spellings (reference §3.1).

use crate::compress::Compression;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Layer media types in their two spellings (OCI, Docker).
const LAYER_SPELLINGS: &[(&str, &str)] = &[
    ("application/vnd.oci.image.layer.v1.tar", "application/vnd.docker.image.rootfs.diff.tar"),
    ("application/vnd.oci.image.layer.v1.tar+gzip", "application/vnd.docker.image.rootfs.diff.tar.gzip"),
    ("application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.docker.image.rootfs.diff.tar.zstd"),
    (
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    ),
    ("application/vnd.oci.image.layer.nondistributable.v1.tar", "application/vnd.docker.image.rootfs.foreign.diff.tar"),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaTypes {
    Oci,
    Docker,
}

impl MediaTypes {
    pub fn index(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_INDEX,
            MediaTypes::Docker => DOCKER_MANIFEST_LIST,
        }
    }

    pub fn manifest(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_MANIFEST,
            MediaTypes::Docker => DOCKER_MANIFEST,
        }
    }

    pub fn config(self) -> &'static str {
        match self {
            MediaTypes::Oci => OCI_CONFIG,
            MediaTypes::Docker => DOCKER_CONFIG,
        }
    }

    /// An existing layer's media type in this spelling (compression unchanged); unknown types are
    /// kept as they are, as BuildKit does.
    pub fn existing_layer(self, media_type: &str) -> String {
        let pair = LAYER_SPELLINGS.iter().find(|(oci, docker)| media_type == *oci || media_type == *docker);
        match (pair, self) {
            (Some((oci, _)), MediaTypes::Oci) => oci.to_string(),
            (Some((_, docker)), MediaTypes::Docker) => docker.to_string(),
            (None, _) => media_type.to_string(),
        }
    }

    /// Whether a layer of `media_type` is compressed the way `compression` compresses (levels
    /// aside); unknown media types never are.
    pub fn same_compression(media_type: &str, compression: Compression) -> bool {
        let algorithm = match media_type.rsplit(['+', '.']).next() {
            Some("gzip") => "gzip",
            Some("zstd") => "zstd",
            Some("tar") => "tar",
            _ => return false,
        };
        matches!(
            (algorithm, compression),
            ("gzip", Compression::Gzip { .. } | Compression::Estargz { .. })
                | ("zstd", Compression::Zstd { .. })
                | ("tar", Compression::Uncompressed)
        )
    }

    pub fn layer(self, compression: Compression) -> &'static str {
        match (self, compression) {
            (MediaTypes::Oci, Compression::Uncompressed) => "application/vnd.oci.image.layer.v1.tar",
            // eStargz is gzip-compatible and keeps gzip's type.
            (MediaTypes::Oci, Compression::Gzip { .. } | Compression::Estargz { .. }) => {
                "application/vnd.oci.image.layer.v1.tar+gzip"
            }
            (MediaTypes::Docker, Compression::Uncompressed) => "application/vnd.docker.image.rootfs.diff.tar",
            // Plans never pair eStargz with Docker types (they force OCI, or refuse), but the type is gzip's.
            (MediaTypes::Docker, Compression::Gzip { .. } | Compression::Estargz { .. }) => {
                "application/vnd.docker.image.rootfs.diff.tar.gzip"
            }
            (MediaTypes::Oci, Compression::Zstd { .. }) => "application/vnd.oci.image.layer.v1.tar+zstd",
            // BuildKit's non-standard Docker spelling, which decision §0 keeps for zstd in Docker mode.
            (MediaTypes::Docker, Compression::Zstd { .. }) => "application/vnd.docker.image.rootfs.diff.tar.zstd",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_a_layer_compression_from_its_media_type() {
        let gzip = Compression::Gzip { level: 6 };
        assert!(MediaTypes::same_compression("application/vnd.oci.image.layer.v1.tar+gzip", gzip));
        assert!(MediaTypes::same_compression("application/vnd.docker.image.rootfs.diff.tar.gzip", gzip));
        assert!(!MediaTypes::same_compression("application/vnd.oci.image.layer.v1.tar+zstd", gzip));
        assert!(MediaTypes::same_compression("application/vnd.oci.image.layer.v1.tar", Compression::Uncompressed));
        assert!(!MediaTypes::same_compression("application/octet-stream", Compression::Uncompressed));
    }

    #[test]
    fn converts_existing_layers_between_spellings() {
        let gzip_oci = "application/vnd.oci.image.layer.v1.tar+gzip";
        assert_eq!(MediaTypes::Docker.existing_layer(gzip_oci), "application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert_eq!(MediaTypes::Oci.existing_layer(gzip_oci), gzip_oci);
        assert_eq!(
            MediaTypes::Oci.existing_layer("application/vnd.docker.image.rootfs.diff.tar.zstd"),
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        assert_eq!(MediaTypes::Docker.existing_layer("application/x-custom"), "application/x-custom");
    }
}
