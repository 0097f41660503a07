//! Layer sources: what one new layer is made of and where it goes in the image.
//!
//! A directory's contents or a single file, placed at a container path (default `/`), with an
//! ownership override and excludes (`--exclude`, the directory's `.outportignore`); or a layer
//! tarball (`.tar`, `.tar.gz`, `.tgz`, `.tar.zst`) taken as is. walk.rs reads the first kind,
//! tarball.rs the second.

use super::ignore::Ignore;
use super::reserved::Reserved;
use super::walk::show;
use crate::error::{Error, Result};
use crate::host::{read_small_file, EntryKind, Host, ProgressEvent};
use serde::{Deserialize, Serialize};

/// The file in a source directory that lists what to leave out, as `.dockerignore` does for a
/// build context. It never goes into the layer itself.
pub const IGNORE_FILE: &[u8] = b".outportignore";
/// Read as buildx reads it from a build context, when there is no `.outportignore`; it never goes
/// into the layer either (it may name secrets' paths).
pub const DOCKER_IGNORE_FILE: &[u8] = b".dockerignore";

/// Ignore files are short; anything bigger is a mistake.
const MAX_IGNORE_FILE: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// The directory's contents go under the destination.
    Directory,
    /// One file (or link) becomes the destination path.
    File,
    /// A tar archive (plain, gzip or zstd) that is the layer.
    Tarball,
}

/// Which names directly in a source directory take part: the Node preset splits one directory
/// into a dependencies layer and an application layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopLevel {
    All,
    Only(Vec<Vec<u8>>),
    Except(Vec<Vec<u8>>),
}

#[derive(Debug, Clone)]
pub struct LayerSource {
    /// Host path of the source.
    pub path: Vec<u8>,
    /// Container path relative to `/` (no leading or trailing '/'; empty for the root). For a file
    /// source, the file's own path.
    pub dest: Vec<u8>,
    pub kind: SourceKind,
    /// UID and GID every entry from the source gets (directories created for `dest` stay root's);
    /// None keeps the files' own.
    pub owner: Option<(u32, u32)>,
    /// Copied as BuildKit's COPY copies a build context (`--layer`, `--node-app`): buildx and
    /// BuildKit's client send it with every uid/gid reset to 0, so entries are root's unless
    /// `--owner` says otherwise, and a socket becomes an empty regular file with mode 0755. A root
    /// filesystem (ROOTFS, `--result` layer directories) is not: it keeps its owners and skips
    /// sockets, as BuildKit's differ does.
    pub copied: bool,
    /// The mtime every entry gets: for copied sources SOURCE_DATE_EPOCH, else 0, so that a layer
    /// does not change when nothing in it changed (`npm ci` gives node_modules new mtimes; ko's
    /// rule, on purpose unlike BuildKit's COPY). None keeps the files' own (ROOTFS, `--keep-mtimes`).
    pub mtime: Option<i64>,
    /// Matched against paths relative to the source directory.
    pub ignore: Ignore,
    pub top_level: TopLevel,
    /// The run's own outputs, left out wherever the walk meets them.
    pub reserved: Reserved,
}

impl LayerSource {
    /// A directory whose contents become the image's root, with the run's owner and excludes.
    pub async fn root_directory<H: Host>(host: &H, path: &str, options: &SourceOptions) -> Result<LayerSource> {
        directory(host, path, Vec::new(), TopLevel::All, options, false).await
    }

    /// Whether a name directly inside the source directory takes part (before excludes).
    pub fn takes_top_level(&self, name: &[u8]) -> bool {
        name != IGNORE_FILE
            && name != DOCKER_IGNORE_FILE
            && match &self.top_level {
                TopLevel::All => true,
                TopLevel::Only(names) => names.iter().any(|n| n == name),
                TopLevel::Except(names) => !names.iter().any(|n| n == name),
            }
    }

    /// How messages and progress name it: `SRC` or `SRC:/DEST`, and which part of the directory
    /// when it is split (`--node-app`'s `(node_modules)` and `(app)` layers).
    pub fn describe(&self) -> String {
        let place =
            if self.dest.is_empty() { show(&self.path) } else { format!("{}:/{}", show(&self.path), show(&self.dest)) };
        match &self.top_level {
            TopLevel::All => place,
            TopLevel::Only(names) => {
                let names: Vec<String> = names.iter().map(|n| show(n)).collect();
                format!("{place} ({})", names.join(", "))
            }
            TopLevel::Except(_) => format!("{place} (app)"),
        }
    }
}

/// `--layer SRC[:DEST]` as the CLI gives it, or `{ src, dest }` from the npm API.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum LayerSpec {
    Text(String),
    Object(LayerObject),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LayerObject {
    pub src: String,
    #[serde(default)]
    pub dest: Option<String>,
}

impl LayerSpec {
    /// (SRC, DEST). In the text form DEST follows the last ':' (a source whose name has a ':' takes
    /// an explicit destination: `a:b:/`).
    fn parts(&self) -> (&str, Option<&str>) {
        match self {
            LayerSpec::Object(o) => (&o.src, o.dest.as_deref()),
            LayerSpec::Text(t) => match t.rsplit_once(':') {
                Some((src, dest)) if !src.is_empty() && !dest.is_empty() => (src, Some(dest)),
                _ => (t, None),
            },
        }
    }
}

/// What applies to every layer built from sources: `--owner`, `--exclude` and the places the run
/// writes itself.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    pub owner: Option<(u32, u32)>,
    pub excludes: Ignore,
    pub reserved: Reserved,
    /// The mtime of copied sources' entries (see [`LayerSource::mtime`]).
    pub copied_mtime: Option<i64>,
}

impl SourceOptions {
    pub fn new(owner: Option<&str>, excludes: &[String]) -> Result<SourceOptions> {
        Ok(SourceOptions {
            owner: owner.map(parse_owner).transpose()?,
            excludes: Ignore::from_patterns("--exclude", excludes)?,
            reserved: Reserved::default(),
            copied_mtime: None,
        })
    }
}

/// `--owner UID:GID`: numeric IDs, as a layer records them (names would need the image's
/// /etc/passwd).
pub fn parse_owner(value: &str) -> Result<(u32, u32)> {
    let bad = || Error::option(format!("--owner {value}: expected UID:GID as numbers, e.g. 1000:1000"));
    let (uid, gid) = value.split_once(':').ok_or_else(bad)?;
    Ok((uid.parse().map_err(|_| bad())?, gid.parse().map_err(|_| bad())?))
}

/// One `--layer` value.
pub async fn from_spec<H: Host>(host: &H, spec: &LayerSpec, options: &SourceOptions) -> Result<LayerSource> {
    let (src, dest) = spec.parts();
    let what = format!("--layer {src}");
    if src.is_empty() {
        return Err(Error::option("--layer: empty source path"));
    }
    let dest_text = dest.unwrap_or("/");
    let dest_path = container_path(&what, dest_text)?;
    let entry = host.source_stat(src.as_bytes()).await.map_err(|e| Error::source(format!("{what}: {}", e.message)))?;
    match entry.kind {
        EntryKind::Directory => directory(host, src, dest_path, TopLevel::All, options, true).await,
        EntryKind::Regular if is_tarball(src) => {
            if !dest_path.is_empty() {
                return Err(Error::option(format!(
                    "{what}:{dest_text}: a layer tarball is taken as is, so its destination can only be /"
                )));
            }
            Ok(LayerSource {
                path: src.as_bytes().to_vec(),
                dest: Vec::new(),
                kind: SourceKind::Tarball,
                owner: None,
                copied: false,
                mtime: None,
                ignore: Ignore::default(),
                top_level: TopLevel::All,
                reserved: Reserved::default(),
            })
        }
        EntryKind::Regular | EntryKind::Symlink => {
            // Like COPY: a destination ending in '/' (or the root) is the directory to put it in.
            let dest = if dest_text.ends_with('/') || dest_path.is_empty() {
                let name = src.trim_end_matches('/').rsplit('/').next().unwrap_or(src);
                [dest_path.as_slice(), if dest_path.is_empty() { b"" } else { b"/" }, name.as_bytes()].concat()
            } else {
                dest_path
            };
            Ok(LayerSource {
                path: src.as_bytes().to_vec(),
                dest,
                kind: SourceKind::File,
                owner: Some(options.owner.unwrap_or((0, 0))),
                copied: true,
                mtime: options.copied_mtime,
                ignore: Ignore::default(),
                top_level: TopLevel::All,
                reserved: Reserved::default(),
            })
        }
        _ => Err(Error::source(format!("{what}: not a directory, regular file or symlink"))),
    }
}

/// Names the Node preset never puts into the image (as containerify), besides `node_modules`,
/// which has its own layer. `.npmrc` often holds a registry token.
const NODE_APP_LEFT_OUT: [&[u8]; 8] =
    [b".git", b".gitignore", b".npmrc", b".DS_Store", b"npm-debug.log", b".svn", b".hg", b"CVS"];

/// `--node-app DIR` at `workdir`: `node_modules` in one layer (when there is one), the rest of the
/// app in the layer above, so a code-only change leaves the dependencies layer as it was.
pub async fn node_app<H: Host>(
    host: &H,
    dir: &str,
    workdir: &str,
    options: &SourceOptions,
) -> Result<Vec<LayerSource>> {
    let what = format!("--node-app {dir}");
    let entry = host.source_stat(dir.as_bytes()).await.map_err(|e| Error::source(format!("{what}: {}", e.message)))?;
    if entry.kind != EntryKind::Directory {
        return Err(Error::source(format!("{what}: not a directory")));
    }
    let dest = container_path("--workdir", workdir)?;
    let mut layers = Vec::new();
    let modules = format!("{}/node_modules", dir.trim_end_matches('/'));
    if host.source_stat(modules.as_bytes()).await.is_ok_and(|e| e.kind == EntryKind::Directory) {
        let only = TopLevel::Only(vec![b"node_modules".to_vec()]);
        layers.push(directory(host, dir, dest.clone(), only, options, true).await?);
    }
    let mut left_out: Vec<Vec<u8>> = NODE_APP_LEFT_OUT.iter().map(|n| n.to_vec()).collect();
    left_out.push(b"node_modules".to_vec());
    layers.push(directory(host, dir, dest, TopLevel::Except(left_out), options, true).await?);
    Ok(layers)
}

/// A directory source: its `.outportignore` first, then `--exclude` (later patterns win).
async fn directory<H: Host>(
    host: &H,
    path: &str,
    dest: Vec<u8>,
    top_level: TopLevel,
    options: &SourceOptions,
    copied: bool,
) -> Result<LayerSource> {
    let mut ignore = Ignore::default();
    // .outportignore wins over .dockerignore; the one used is named in progress output.
    for file in [IGNORE_FILE, DOCKER_IGNORE_FILE] {
        let ignore_path = format!("{}/{}", path.trim_end_matches('/'), show(file));
        if host.source_stat(ignore_path.as_bytes()).await.is_ok_and(|e| e.kind == EntryKind::Regular) {
            let bytes = read_small_file(host, &ignore_path, MAX_IGNORE_FILE).await?;
            let text = String::from_utf8(bytes).map_err(|_| Error::source(format!("{ignore_path}: not UTF-8 text")))?;
            ignore = Ignore::parse_file(&ignore_path, &text)?;
            host.progress(ProgressEvent { phase: "ignore-file".into(), id: ignore_path, current: 1, total: 1 });
            break;
        }
    }
    ignore.extend(options.excludes.clone());
    Ok(LayerSource {
        path: path.as_bytes().to_vec(),
        dest,
        kind: SourceKind::Directory,
        owner: if copied { Some(options.owner.unwrap_or((0, 0))) } else { options.owner },
        copied,
        mtime: if copied { options.copied_mtime } else { None },
        ignore,
        top_level,
        reserved: options.reserved.clone(),
    })
}

fn is_tarball(path: &str) -> bool {
    let lower = path.to_ascii_lowercase();
    [".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"].iter().any(|ext| lower.ends_with(ext))
}

/// An absolute container path, cleaned, relative to `/` (empty for the root itself).
pub fn container_path(what: &str, path: &str) -> Result<Vec<u8>> {
    if !path.starts_with('/') {
        return Err(Error::option(format!("{what}: {path:?} is not an absolute path in the image")));
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(Error::option(format!("{what}: {path:?} must not contain '..'"))),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/").into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_specs_split_at_the_last_colon_before_an_absolute_path() {
        let parts = |t: &str| {
            let spec = LayerSpec::Text(t.into());
            let (s, d) = spec.parts();
            (s.to_string(), d.map(String::from))
        };
        assert_eq!(parts("./app:/srv/app"), ("./app".into(), Some("/srv/app".into())));
        assert_eq!(parts("./app"), ("./app".into(), None));
        assert_eq!(parts("a:b:/x/"), ("a:b".into(), Some("/x/".into())));
        assert_eq!(parts("a:b"), ("a".into(), Some("b".into())));
        assert_eq!(parts("a:"), ("a:".into(), None));
    }

    #[test]
    fn container_paths_are_cleaned_and_must_be_absolute() {
        assert_eq!(container_path("t", "/").unwrap(), b"");
        assert_eq!(container_path("t", "//srv/./app/").unwrap(), b"srv/app");
        assert!(container_path("t", "srv").unwrap_err().message.contains("not an absolute path"));
        assert!(container_path("t", "/srv/../etc").unwrap_err().message.contains(".."));
    }

    #[test]
    fn owner_is_two_numbers() {
        assert_eq!(parse_owner("1000:1001").unwrap(), (1000, 1001));
        for bad in ["1000", "a:b", "1000:", ":1", "-1:0"] {
            assert!(parse_owner(bad).unwrap_err().message.contains("--owner"), "{bad}");
        }
    }

    #[test]
    fn tarballs_are_known_by_name() {
        for t in ["l.tar", "l.TAR.GZ", "l.tgz", "l.tar.zst"] {
            assert!(is_tarball(t), "{t}");
        }
        assert!(!is_tarball("app.js"));
    }
}
