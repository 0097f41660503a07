//! `--base REF`: the image a new one is built on. Resolves the reference (a registry image, an OCI
//! layout directory, an OCI layout tarball or a `docker save` tarball), picks the platform's
//! manifest, reads and verifies its config and copies its layer blobs into the store, so every
//! output can reuse them unchanged.

pub mod archive;
pub mod docker_archive;
pub mod layout;
pub mod manifest;
pub(crate) mod tar_scan;

use crate::engine::EngineAccess;
use crate::error::{Error, Result};
use crate::host::{EntryKind, Host};
use crate::image::config::{self, ImageConfig};
use crate::image::mediatypes::MediaTypes;
use crate::image::spec::Descriptor;
use crate::platform::Platform;
use crate::reference::Reference;
use crate::registry::auth::Access;
use crate::registry::{pull, Repository};
use archive::Archive;
use docker_archive::DockerArchive;
use layout::Layout;
use manifest::Parsed;
use serde_json::Value;

/// Image configs are small; anything bigger is not one.
const MAX_CONFIG: u32 = 8 << 20;

/// A resolved base image, its layers already in the store.
#[derive(Debug, Clone)]
pub struct BaseImage {
    pub platform: Platform,
    /// The base config as it is (history and rootfs are completed per output).
    pub config: ImageConfig,
    /// Layer descriptors as the base manifest gives them, with their diffIDs, bottom first.
    pub layers: Vec<(Descriptor, String)>,
    /// The base config's history, to tell base entries from new ones (SOURCE_DATE_EPOCH clamping).
    pub history: Vec<Value>,
    /// The digest of what the reference resolved to (the index of a multi-platform base): the
    /// provenance's material.
    pub digest: String,
}

/// Where a base image comes from.
enum Source {
    Registry { repo: Box<Repository>, reference: Reference },
    Layout(Layout),
    Archive(Archive),
    DockerArchive(DockerArchive),
}

/// `SCHEME:PATH[:TAG]`: how a base read from a file or directory is named in messages (as written).
fn spelled(scheme: &str, path: &str, tag: Option<&str>) -> String {
    match tag {
        Some(tag) => format!("{scheme}:{path}:{tag}"),
        None => format!("{scheme}:{path}"),
    }
}

/// `PATH[:TAG]`: a last `:` part without `/` is the tag (containers-image's rule for oci: names).
fn path_and_tag(rest: &str) -> (&str, Option<String>) {
    match rest.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') && !path.is_empty() => (path, Some(tag.to_string())),
        _ => (rest, None),
    }
}

impl Source {
    fn parse(raw: &str, insecure: bool) -> Result<Source> {
        if let Some(rest) = raw.strip_prefix("oci:") {
            let (dir, tag) = path_and_tag(rest);
            if dir.is_empty() {
                return Err(Error::option(format!("--base {raw}: oci: needs a directory (oci:DIR[:TAG])")));
            }
            return Ok(Source::Layout(Layout { dir: dir.to_string(), tag }));
        }
        if let Some(rest) = raw.strip_prefix("oci-archive:") {
            let (file, tag) = path_and_tag(rest);
            if file.is_empty() {
                return Err(Error::option(format!("--base {raw}: oci-archive: needs a file (oci-archive:FILE[:TAG])")));
            }
            return Ok(Source::Archive(Archive { file: file.to_string(), tag }));
        }
        if let Some(rest) = raw.strip_prefix("docker-archive:") {
            let archive = docker_archive::parse(rest);
            if archive.file.is_empty() {
                return Err(Error::option(format!(
                    "--base {raw}: docker-archive: needs a file (docker-archive:FILE[:NAME])"
                )));
            }
            return Ok(Source::DockerArchive(archive));
        }
        let reference = Reference::parse_normalized(raw.strip_prefix("docker://").unwrap_or(raw))
            .map_err(|e| Error::option(format!("--base: {}", e.message)))?;
        Ok(Source::Registry { repo: Box::new(Repository::new(&reference, Access::Pull, insecure)), reference })
    }

    fn name(&self) -> String {
        match self {
            Source::Registry { reference, .. } => reference.full(),
            Source::Layout(layout) => layout.name(),
            Source::Archive(archive) => archive.name(),
            Source::DockerArchive(archive) => archive.name(),
        }
    }

    /// The manifest or index the reference names, and its media type if known.
    async fn root<H: Host>(&self, host: &H) -> Result<(Vec<u8>, Option<String>)> {
        match self {
            Source::Registry { repo, reference } => {
                let tag_or_digest = reference.digest.as_deref().or(reference.tag.as_deref()).unwrap_or("latest");
                let fetched = pull::manifest(host, repo, tag_or_digest).await?;
                Ok((fetched.bytes, fetched.content_type))
            }
            Source::Layout(layout) => {
                let root = layout.root(host).await?;
                let bytes = layout.small_blob(host, &root, pull::MAX_MANIFEST as u64).await?;
                Ok((bytes, Some(root.media_type).filter(|t| !t.is_empty())))
            }
            Source::Archive(archive) => {
                let root = archive.root(host).await?;
                let bytes = archive.small_blob(host, &root, pull::MAX_MANIFEST as u64).await?;
                Ok((bytes, Some(root.media_type).filter(|t| !t.is_empty())))
            }
            Source::DockerArchive(archive) => archive.root(host).await,
        }
    }

    /// An index's child manifest, verified.
    async fn child_manifest<H: Host>(&self, host: &H, expected: &Descriptor) -> Result<Vec<u8>> {
        match self {
            Source::Registry { repo, .. } => pull::child_manifest(host, repo, expected).await,
            _ => self.small_blob(host, expected, pull::MAX_MANIFEST).await,
        }
    }

    /// A config (or, from a layout, any small blob), verified.
    async fn small_blob<H: Host>(&self, host: &H, expected: &Descriptor, limit: u32) -> Result<Vec<u8>> {
        match self {
            Source::Registry { repo, .. } => pull::small_blob(host, repo, expected, limit).await,
            Source::Layout(layout) => layout.small_blob(host, expected, limit as u64).await,
            Source::Archive(archive) => archive.small_blob(host, expected, limit as u64).await,
            Source::DockerArchive(archive) => archive.config(expected),
        }
    }

    /// Copy the layers into the store (those already there are skipped), each verified. Foreign
    /// layers are not the registry's to give: they stay references.
    async fn store_layers<H: Host>(&self, host: &H, layers: &[Descriptor]) -> Result<()> {
        let layers: Vec<Descriptor> = layers.iter().filter(|l| !l.is_foreign()).cloned().collect();
        let layers = layers.as_slice();
        match self {
            Source::Registry { repo, .. } => {
                for layer in layers {
                    pull::store_blob(host, repo, layer).await?;
                }
            }
            Source::Layout(layout) => {
                for layer in layers {
                    layout.store_blob(host, layer).await?;
                }
            }
            Source::Archive(archive) => archive.store_blobs(host, layers).await?,
            // Stored while the archive was read.
            Source::DockerArchive(_) => {}
        }
        Ok(())
    }
}

/// `docker-daemon:NAME`: the engine's `docker save` of NAME, kept in the store and read as a
/// docker archive.
async fn daemon_source<H: Host>(host: &H, name: &str, engine: Option<EngineAccess<'_>>) -> Result<Source> {
    if name.is_empty() {
        return Err(Error::option("--base docker-daemon: needs an image name (docker-daemon:NAME)"));
    }
    let access = engine
        .ok_or_else(|| Error::option("docker-daemon: bases need a Docker engine, which this run has no access to"))?;
    let engine = crate::engine::connect(host, access.flag, access.env).await?;
    let stored = crate::engine::save_image(host, &engine, name).await?;
    let mut archive = docker_archive::parse("");
    archive.file = name.to_string();
    archive.stored = Some(stored);
    Ok(Source::DockerArchive(archive))
}

/// `--base DIR` (or FILE) that is not a reference but a local layout or archive: say which prefix
/// it needs, instead of a reference parser's complaint.
async fn local_base_hint<H: Host>(host: &H, raw: &str) -> Option<Error> {
    let entry = host.source_stat(raw.as_bytes()).await.ok()?;
    let prefixed = match entry.kind {
        EntryKind::Directory => {
            let layout = format!("{}/oci-layout", raw.trim_end_matches('/'));
            host.source_stat(layout.as_bytes()).await.ok()?;
            format!("oci:{raw}")
        }
        EntryKind::Regular => format!("oci-archive:{raw}` (or `docker-archive:{raw}` for a docker save tarball"),
        _ => return None,
    };
    Some(Error::option(format!(
        "--base {raw}: a local image needs its kind as a prefix: `--base {prefixed}` (docker://{raw} for a registry image)"
    )))
}

/// Resolve `--base raw` for `requested` (or, for a multi-platform base, `fallback`: this machine's
/// platform) and copy its layers into the store.
pub async fn load<H: Host>(
    host: &H,
    raw: &str,
    insecure: bool,
    requested: Option<&Platform>,
    fallback: &Platform,
) -> Result<BaseImage> {
    load_with_engine(host, raw, insecure, requested, fallback, None).await
}

/// [`load`], with the Docker engine a `docker-daemon:NAME` base comes from.
pub async fn load_with_engine<H: Host>(
    host: &H,
    raw: &str,
    insecure: bool,
    requested: Option<&Platform>,
    fallback: &Platform,
    engine: Option<EngineAccess<'_>>,
) -> Result<BaseImage> {
    // A path to a local layout or archive without its prefix would be read as a registry name
    // (`layout` is docker.io/library/layout): say which prefix it needs (docker:// forces a registry).
    if !raw.contains(':') || raw.starts_with('.') || raw.starts_with('/') {
        if let Some(hint) = local_base_hint(host, raw).await {
            return Err(hint);
        }
    }
    let source = match raw.strip_prefix("docker-daemon:") {
        Some(name) => daemon_source(host, name, engine).await?,
        None => Source::parse(raw, insecure)?,
    };
    let what = format!("base image {}", source.name());
    let (bytes, content_type) = source.root(host).await?;
    let (config_descriptor, layers, index_platform) = match manifest::parse(&what, &bytes, content_type.as_deref())? {
        Parsed::Manifest { config, layers } => (config, layers, None),
        Parsed::Index(entries) => {
            let wanted = requested.unwrap_or(fallback);
            let chosen = manifest::pick(&what, &entries, wanted)?;
            let child = source.child_manifest(host, chosen).await?;
            let child_what = format!("{what} ({} manifest {})", wanted.id(), chosen.digest);
            match manifest::parse(&child_what, &child, Some(&chosen.media_type))? {
                Parsed::Manifest { config, layers } => (config, layers, Some(wanted.clone())),
                Parsed::Index(_) => {
                    return Err(Error::source(format!("{child_what}: nested indexes are not supported")))
                }
            }
        }
    };
    let config_bytes = source.small_blob(host, &config_descriptor, MAX_CONFIG).await?;
    let config_what = format!("{what}: config {}", config_descriptor.digest);
    let config = config::parse_config(&config_what, &config_bytes)?;
    let platform = match (index_platform, config::config_platform(&config_what, &config)?, requested) {
        (Some(p), _, _) => p,
        (None, Some(own), Some(asked)) if own != *asked => {
            return Err(Error::option(format!("{what} is for {}, not {}", own.id(), asked.id())));
        }
        (None, Some(own), _) => own,
        (None, None, asked) => asked.unwrap_or(fallback).clone(),
    };
    let diff_ids = diff_ids(&config_what, &config)?;
    if diff_ids.len() != layers.len() {
        return Err(Error::source(format!(
            "{config_what}: lists {} diff_ids for the manifest's {} layers",
            diff_ids.len(),
            layers.len()
        )));
    }
    source.store_layers(host, &layers).await?;
    let history = match config.get("history") {
        Some(Value::Array(entries)) => entries.clone(),
        _ => Vec::new(),
    };
    let digest = crate::digest::sha256(&bytes);
    Ok(BaseImage { platform, config, layers: layers.into_iter().zip(diff_ids).collect(), history, digest })
}

/// Layer annotations that describe the blob itself (eStargz, overlaybd): the only ones BuildKit keeps
/// from a pulled base layer.
const BLOB_ANNOTATION_PREFIXES: &[&str] =
    &["containerd.io/snapshot/stargz/", "io.containers.estargz.", "containerd.io/snapshot/overlaybd/"];

/// A base layer's descriptor in a new image: the same blob, its media type spelled as the output
/// needs; in Docker mode no annotations, in OCI mode only those describing the blob.
pub fn reused_layer(base: &Descriptor, media_types: MediaTypes) -> Descriptor {
    let mut descriptor = Descriptor::new(&media_types.existing_layer(&base.media_type), &base.digest, base.size);
    descriptor.urls = base.urls.clone();
    if media_types == MediaTypes::Oci {
        descriptor.annotations = base
            .annotations
            .iter()
            .filter(|(key, _)| BLOB_ANNOTATION_PREFIXES.iter().any(|p| key.starts_with(p)))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
    descriptor
}

fn diff_ids(what: &str, config: &ImageConfig) -> Result<Vec<String>> {
    let listed = config.get("rootfs").and_then(|r| r.get("diff_ids")).and_then(Value::as_array);
    let bad = || Error::source(format!("{what}: rootfs.diff_ids must be a list of sha256 digests"));
    listed
        .ok_or_else(bad)?
        .iter()
        .map(|d| d.as_str().filter(|d| crate::digest::hex_part(d).is_some()).map(str::to_string).ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let Source::Layout(l) = Source::parse("oci:/tmp/base:1", false).unwrap() else { panic!() };
        assert_eq!((l.dir.as_str(), l.tag.as_deref()), ("/tmp/base", Some("1")));
        let Source::Layout(l) = Source::parse("oci:./a/b", false).unwrap() else { panic!() };
        assert_eq!((l.dir.as_str(), l.tag), ("./a/b", None));
        let Source::Registry { reference, .. } = Source::parse("127.0.0.1:5000/node:20", true).unwrap() else {
            panic!()
        };
        assert_eq!(reference.full(), "127.0.0.1:5000/node:20");
        assert_eq!(Source::parse("alpine", false).unwrap().name(), "docker.io/library/alpine:latest");
        let error = |raw: &str| Source::parse(raw, false).err().map(|e| e.message).unwrap_or_default();
        assert!(error("oci:").contains("oci: needs a directory"));
        let Source::Archive(a) = Source::parse("oci-archive:out/app.tar:v1", false).unwrap() else { panic!() };
        assert_eq!((a.file.as_str(), a.tag.as_deref()), ("out/app.tar", Some("v1")));
        let Source::DockerArchive(a) = Source::parse("docker-archive:x.tar:app:1", false).unwrap() else { panic!() };
        assert_eq!((a.file.as_str(), a.name.as_deref()), ("x.tar", Some("app:1")));
        assert!(error("docker-archive:").contains("docker-archive: needs a file"));
        assert!(error("Bad Name").starts_with("--base: "));
    }

    #[test]
    fn reused_layers_keep_the_blob_and_only_blob_annotations() {
        let mut base = Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", "sha256:x", 3);
        base.annotations.insert("containerd.io/snapshot/stargz/toc.digest".into(), "sha256:t".into());
        base.annotations.insert("org.example.note".into(), "dropped".into());
        let oci = reused_layer(&base, MediaTypes::Oci);
        assert_eq!((oci.digest.as_str(), oci.size, oci.annotations.len()), ("sha256:x", 3, 1));
        let docker = reused_layer(&base, MediaTypes::Docker);
        assert_eq!(docker.media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
        assert!(docker.annotations.is_empty());
    }

    #[test]
    fn reads_diff_ids() {
        let ok = config::parse_config("c", br#"{"rootfs":{"type":"layers","diff_ids":["sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]}}"#).unwrap();
        assert_eq!(diff_ids("c", &ok).unwrap().len(), 1);
        let bad = config::parse_config("c", br#"{"rootfs":{"diff_ids":["x"]}}"#).unwrap();
        assert!(diff_ids("c", &bad).is_err());
    }
}
