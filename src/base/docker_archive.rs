//! A base image from a `docker save` tarball (`docker-archive:FILE[:NAME]`, also what `podman save`
//! and our `type=docker` write): `manifest.json` lists each image's config file, repo tags and
//! layer files (plain tar or compressed: `<id>/layer.tar`, `<hex>.tar`, `blobs/sha256/<hex>`).
//! NAME picks an image by one of its repo tags, or `@N` by position; without it the archive must
//! hold one image.
//!
//! The archive has no manifest with layer digests, so reading it is two passes: one for
//! `manifest.json`, one that reads the config and copies every layer into the store, hashing it on
//! the way. The image is then given as the Docker manifest those digests make, which the common
//! base code reads like any other.

use super::tar_scan::TarScan;
use crate::digest::{hex_part, sha256, Hasher};
use crate::error::{Error, Result};
use crate::host::{Host, ProgressEvent};
use crate::image::spec::Descriptor;
use crate::reference::Reference;
use serde::Deserialize;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::BTreeMap;

const READ_CHUNK: u32 = 1 << 20;
/// `manifest.json` and configs are small; anything bigger is not one.
const MAX_JSON: u64 = 8 << 20;

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

pub struct DockerArchive {
    pub file: String,
    pub name: Option<String>,
    /// `docker-daemon:`: the archive the engine sent, kept in the store as this blob (then `file`
    /// is the image's name in the engine).
    pub stored: Option<String>,
    /// The config, once read.
    config: RefCell<Option<(Descriptor, Vec<u8>)>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

/// `FILE[:NAME]`: the first `:` ends the file name (containers-image's rule).
pub fn parse(rest: &str) -> DockerArchive {
    let (file, name) = match rest.split_once(':') {
        Some((file, name)) if !name.is_empty() => (file, Some(name.to_string())),
        Some((file, _)) => (file, None),
        None => (rest, None),
    };
    DockerArchive { file: file.to_string(), name, stored: None, config: RefCell::new(None) }
}

/// The same tag, however it is spelled (`alpine`, `docker.io/library/alpine:latest`).
fn same_name(a: &str, b: &str) -> bool {
    a == b
        || matches!((Reference::parse_normalized(a), Reference::parse_normalized(b)),
            (Ok(x), Ok(y)) if x.full() == y.full())
}

fn clean(path: &str) -> &str {
    path.trim_start_matches("./")
}

/// A stored layer: its blob and the media type its first bytes say.
#[derive(Clone)]
struct Stored {
    digest: String,
    size: u64,
    media_type: &'static str,
}

impl DockerArchive {
    pub fn name(&self) -> String {
        if self.stored.is_some() {
            return format!("docker-daemon:{}", self.file);
        }
        super::spelled("docker-archive", &self.file, self.name.as_deref())
    }

    async fn open<'h, H: Host>(&self, host: &'h H) -> Result<TarScan<'h, H>> {
        match &self.stored {
            Some(digest) => Ok(TarScan::open_blob(host, digest, &self.name())),
            None => TarScan::open(host, &self.file).await,
        }
    }

    fn error(&self, why: impl std::fmt::Display) -> Error {
        Error::source(format!("{}: {why}", self.name()))
    }

    /// Read the archive: the image's config into memory, its layers into the store. Returns the
    /// Docker manifest that describes them.
    pub async fn root<H: Host>(&self, host: &H) -> Result<(Vec<u8>, Option<String>)> {
        let list = self.read_manifest_json(host).await?;
        let entries: Vec<Entry> =
            serde_json::from_slice(&list).map_err(|e| self.error(format!("manifest.json: {e}")))?;
        let entry = self.pick(&entries)?;
        let (config, layers) = self.read_image(host, entry).await?;
        let config_descriptor = Descriptor::new(DOCKER_CONFIG, &sha256(&config), config.len() as u64);
        self.check_layers(&config, entry, &layers)?;
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": config_descriptor,
            "layers": entry.layers.iter().map(|path| {
                let s = &layers[clean(path)];
                Descriptor::new(s.media_type, &s.digest, s.size)
            }).collect::<Vec<_>>(),
        });
        *self.config.borrow_mut() = Some((config_descriptor, config));
        Ok((serde_json::to_vec(&manifest).expect("plain data"), Some(DOCKER_MANIFEST.to_string())))
    }

    /// The config read by [`root`](Self::root).
    pub fn config(&self, expected: &Descriptor) -> Result<Vec<u8>> {
        match &*self.config.borrow() {
            Some((descriptor, bytes)) if descriptor.digest == expected.digest => Ok(bytes.clone()),
            _ => Err(self.error(format!("no blob {}", expected.digest))),
        }
    }

    fn pick<'e>(&self, entries: &'e [Entry]) -> Result<&'e Entry> {
        let tags = |e: &Entry| e.repo_tags.clone().unwrap_or_default().join(", ");
        match &self.name {
            Some(name) if name.starts_with('@') => {
                let index: usize = name[1..].parse().map_err(|_| self.error("@N needs a number"))?;
                entries.get(index).ok_or_else(|| self.error(format!("has {} images, no @{index}", entries.len())))
            }
            Some(name) => {
                entries.iter().find(|e| e.repo_tags.iter().flatten().any(|t| same_name(t, name))).ok_or_else(|| {
                    let all: Vec<String> = entries.iter().map(tags).collect();
                    self.error(format!("no image tagged {name} (tags: {})", all.join("; ")))
                })
            }
            None => match entries {
                [one] => Ok(one),
                [] => Err(self.error("manifest.json lists no image")),
                _ => Err(self.error(format!(
                    "holds {} images: name one (docker-archive:{}:NAME or :@N)",
                    entries.len(),
                    self.file
                ))),
            },
        }
    }

    async fn read_manifest_json<H: Host>(&self, host: &H) -> Result<Vec<u8>> {
        let mut scan = self.open(host).await?;
        let result = async {
            while let Some((name, size)) = scan.next_file().await? {
                if name == "manifest.json" {
                    if size > MAX_JSON {
                        return Err(self.error(format!("manifest.json is larger than {MAX_JSON} bytes")));
                    }
                    return scan.read_all().await;
                }
            }
            Err(self.error("the archive has no manifest.json (not a docker save tarball?)"))
        }
        .await;
        scan.close().await;
        result
    }

    /// One pass: the config's bytes, and every layer file copied into the store by path. A layer
    /// path that is a link (`docker save` links a layer it already wrote) takes its target's blob;
    /// a target the image does not list itself needs one more pass.
    async fn read_image<H: Host>(&self, host: &H, entry: &Entry) -> Result<(Vec<u8>, BTreeMap<String, Stored>)> {
        let config_path = clean(&entry.config);
        let wanted: Vec<&str> = entry.layers.iter().map(|l| clean(l)).collect();
        let mut layers: BTreeMap<String, Stored> = BTreeMap::new();
        let mut links: BTreeMap<String, String> = BTreeMap::new();
        let mut config = None;
        self.scan(host, |name| wanted.contains(&name), &mut layers, &mut links, Some((config_path, &mut config)))
            .await?;
        let config = config.ok_or_else(|| self.error(format!("the archive has no {config_path}")))?;
        let targets: Vec<String> = links.values().filter(|t| !layers.contains_key(*t)).cloned().collect();
        if !targets.is_empty() {
            let mut more = BTreeMap::new();
            self.scan(host, |name| targets.iter().any(|t| t == name), &mut layers, &mut more, None).await?;
        }
        for (path, target) in links {
            if let Some(stored) = layers.get(&target).cloned() {
                layers.entry(path).or_insert(stored);
            }
        }
        if let Some(missing) = entry.layers.iter().find(|l| !layers.contains_key(clean(l))) {
            return Err(self.error(format!("the archive has no layer file {missing}")));
        }
        Ok((config, layers))
    }

    /// One pass over the archive: files `wanted` says yes to into the store (`layers`), links
    /// among them into `links` (path → target path), and the config if asked for.
    async fn scan<H: Host>(
        &self,
        host: &H,
        wanted: impl Fn(&str) -> bool,
        layers: &mut BTreeMap<String, Stored>,
        links: &mut BTreeMap<String, String>,
        mut config: Option<(&str, &mut Option<Vec<u8>>)>,
    ) -> Result<()> {
        let mut scan = self.open(host).await?;
        let result = async {
            while let Some(found) = scan.next_entry().await? {
                let name = found.name.clone();
                if let Some((path, bytes)) = config.as_mut().filter(|(path, _)| *path == name && found.is_file()) {
                    if found.size > MAX_JSON {
                        return Err(self.error(format!("{path} is larger than {MAX_JSON} bytes")));
                    }
                    **bytes = Some(scan.read_all().await?);
                } else if !wanted(&name) || layers.contains_key(&name) {
                    continue;
                } else if found.is_file() {
                    let stored = store(host, &mut scan, found.size).await?;
                    let (id, total) = (stored.digest.clone(), stored.size);
                    host.progress(ProgressEvent { phase: "pull".into(), id, current: total, total });
                    layers.insert(name, stored);
                } else if matches!(found.typeflag, b'1' | b'2') {
                    links.insert(name.clone(), link_target(&name, &found.linkname, found.typeflag == b'2'));
                }
            }
            Ok(())
        }
        .await;
        scan.close().await;
        result
    }

    /// What can be checked without decompressing: a plain layer's digest is its diffID; a layer
    /// stored under its digest (`blobs/sha256/<hex>`) has that digest.
    fn check_layers(&self, config: &[u8], entry: &Entry, layers: &BTreeMap<String, Stored>) -> Result<()> {
        let config: Value = serde_json::from_slice(config).map_err(|e| self.error(format!("config: {e}")))?;
        let diff_ids: Vec<&str> = config
            .pointer("/rootfs/diff_ids")
            .and_then(Value::as_array)
            .map(|ids| ids.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if diff_ids.len() != entry.layers.len() {
            return Err(self.error(format!(
                "the config lists {} diff_ids for the {} layers of manifest.json",
                diff_ids.len(),
                entry.layers.len()
            )));
        }
        for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
            let stored = &layers[clean(path)];
            let named = clean(path).strip_prefix("blobs/sha256/").map(|hex| format!("sha256:{hex}"));
            if named.as_ref().is_some_and(|d| *d != stored.digest) {
                return Err(self.error(format!("{path} holds content {}, not what its name says", stored.digest)));
            }
            if stored.media_type.ends_with(".tar") && stored.digest != diff_id {
                return Err(
                    self.error(format!("layer {path} is {}, not the diffID {diff_id} its config gives", stored.digest))
                );
            }
            if hex_part(diff_id).is_none() {
                return Err(self.error(format!("config: diffID {diff_id:?} is not a sha256 digest")));
            }
        }
        Ok(())
    }
}

/// Where a link entry points, as an archive path: a symlink relative to its own directory, a
/// hardlink from the archive's root.
fn link_target(name: &str, target: &str, symbolic: bool) -> String {
    let mut parts: Vec<&str> = Vec::new();
    if symbolic && !target.starts_with('/') {
        parts.extend(name.split('/').filter(|p| !p.is_empty()));
        parts.pop();
    }
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// The current entry into the store under the sha256 of its bytes.
async fn store<H: Host>(host: &H, scan: &mut TarScan<'_, H>, size: u64) -> Result<Stored> {
    let handle = host.blob_create().await?;
    let mut hasher = Hasher::new();
    let mut media_type = None;
    let copied = async {
        loop {
            let chunk = scan.read(READ_CHUNK).await?;
            if chunk.is_empty() {
                return Ok(());
            }
            media_type.get_or_insert_with(|| match crate::compress::decode::detect(&chunk) {
                crate::compress::decode::Kind::Gzip => "application/vnd.docker.image.rootfs.diff.tar.gzip",
                crate::compress::decode::Kind::Zstd => "application/vnd.docker.image.rootfs.diff.tar.zstd",
                _ => "application/vnd.docker.image.rootfs.diff.tar",
            });
            hasher.update(&chunk);
            host.blob_write(handle, &chunk).await?;
        }
    }
    .await;
    if let Err(e) = copied {
        host.blob_abort(handle).await;
        return Err(e);
    }
    let digest = hasher.finish();
    if host.blob_size(&digest).await? == Some(size) {
        host.blob_abort(handle).await;
    } else {
        host.blob_commit(handle, &digest).await?;
    }
    Ok(Stored { digest, size, media_type: media_type.unwrap_or("application/vnd.docker.image.rootfs.diff.tar") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_file_and_name() {
        let a = parse("out/app.tar");
        assert_eq!((a.file.as_str(), a.name.as_deref()), ("out/app.tar", None));
        let a = parse("out/app.tar:registry.example:5000/app:1");
        assert_eq!((a.file.as_str(), a.name.as_deref()), ("out/app.tar", Some("registry.example:5000/app:1")));
        assert!(same_name("alpine", "docker.io/library/alpine:latest"));
        assert!(!same_name("alpine:3", "alpine:latest"));
    }

    use crate::fuzzing::block_on;
    use crate::memory_host::MemoryHost;
    use crate::platform::Platform;
    use crate::tar::testing::{archive, file};

    /// A `docker save` tarball: a plain layer as `<id>/layer.tar`, a gzipped one as a blob path.
    fn saved(tag: &str, config_diff: Option<&str>) -> (Vec<u8>, String, String) {
        let plain = archive(&[file("a", b"one")]);
        let gz = crate::compress::gzip::gzip_member(6, &archive(&[file("b", b"two")]));
        let (plain_id, gz_id) = (sha256(&plain), sha256(&archive(&[file("b", b"two")])));
        let gz_digest = sha256(&gz);
        let config = format!(
            r#"{{"architecture":"arm64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{gz_id}"]}}}}"#,
            config_diff.unwrap_or(&plain_id)
        );
        let manifest = format!(
            r#"[{{"Config":"cfg.json","RepoTags":["{tag}"],"Layers":["abc/layer.tar","blobs/sha256/{}"]}}]"#,
            &gz_digest[7..]
        );
        let tarball = archive(&[
            file("abc/layer.tar", &plain),
            file(&format!("blobs/sha256/{}", &gz_digest[7..]), &gz),
            file("cfg.json", config.as_bytes()),
            file("manifest.json", manifest.as_bytes()),
        ]);
        (tarball, plain_id, gz_digest)
    }

    #[test]
    fn loads_a_docker_save_tarball() {
        let (tarball, plain_id, gz_digest) = saved("app:1", None);
        let host = MemoryHost::with_files([(b"/s.tar".to_vec(), tarball)]);
        let fallback = Platform::parse("linux/amd64").unwrap();
        let image = block_on(crate::base::load(&host, "docker-archive:/s.tar:app:1", false, None, &fallback)).unwrap();
        assert_eq!(image.platform.id(), "linux/arm64");
        let digests: Vec<(&str, &str)> =
            image.layers.iter().map(|(d, _)| (d.digest.as_str(), d.media_type.as_str())).collect();
        assert_eq!(
            digests,
            [
                (plain_id.as_str(), "application/vnd.docker.image.rootfs.diff.tar"),
                (gz_digest.as_str(), "application/vnd.docker.image.rootfs.diff.tar.gzip")
            ]
        );
        for (layer, _) in &image.layers {
            assert!(block_on(host.blob_size(&layer.digest)).unwrap().is_some());
        }
        // Without a name: the only image. A tag it does not have is an error naming the tags.
        assert!(block_on(crate::base::load(&host, "docker-archive:/s.tar", false, None, &fallback)).is_ok());
        let e = block_on(crate::base::load(&host, "docker-archive:/s.tar:other", false, None, &fallback)).unwrap_err();
        assert!(e.message.contains("no image tagged other (tags: app:1)"), "{}", e.message);
    }

    #[test]
    fn a_plain_layer_must_be_its_diff_id() {
        let wrong = format!("sha256:{}", "0".repeat(64));
        let (tarball, ..) = saved("app:1", Some(&wrong));
        let host = MemoryHost::with_files([(b"/s.tar".to_vec(), tarball)]);
        let fallback = Platform::parse("linux/amd64").unwrap();
        let e = block_on(crate::base::load(&host, "docker-archive:/s.tar", false, None, &fallback)).unwrap_err();
        assert!(e.message.contains("not the diffID"), "{}", e.message);
    }

    #[test]
    fn linked_layers_and_a_second_image_by_position() {
        use crate::tar::{encode, typeflag, Header};
        let plain = archive(&[file("a", b"one")]);
        let plain_id = sha256(&plain);
        let config = format!(r#"{{"rootfs":{{"type":"layers","diff_ids":["{plain_id}"]}}}}"#);
        let link = encode(&Header {
            name: b"def/layer.tar".to_vec(),
            typeflag: typeflag::SYMLINK,
            linkname: b"../abc/layer.tar".to_vec(),
            mode: 0o777,
            ..Default::default()
        });
        let manifest = r#"[{"Config":"c.json","RepoTags":["a:1"],"Layers":["abc/layer.tar"]},
            {"Config":"c.json","RepoTags":null,"Layers":["def/layer.tar"]}]"#;
        let tarball = archive(&[
            file("abc/layer.tar", &plain),
            link,
            file("c.json", config.as_bytes()),
            file("manifest.json", manifest.as_bytes()),
        ]);
        let host = MemoryHost::with_files([(b"/s.tar".to_vec(), tarball)]);
        let fallback = Platform::parse("linux/amd64").unwrap();
        let image = block_on(crate::base::load(&host, "docker-archive:/s.tar:@1", false, None, &fallback)).unwrap();
        assert_eq!(image.layers[0].0.digest, plain_id);
        let e = block_on(crate::base::load(&host, "docker-archive:/s.tar", false, None, &fallback)).unwrap_err();
        assert!(e.message.contains("holds 2 images"), "{}", e.message);
        assert_eq!(link_target("a/b/layer.tar", "../c/layer.tar", true), "a/c/layer.tar");
        assert_eq!(link_target("a/layer.tar", "b/layer.tar", false), "b/layer.tar");
    }
}
