//! The tar and local exporters: the final root filesystem of each platform (its layers stacked,
//! upper layers winning), as one uncompressed tar stream like BuildKit's fsutil tar writer, or
//! written into a directory. Several platforms go to `<os>_<arch>[_<variant>]/` directories; with an
//! epoch every entry's mtime is the epoch.

use super::staging::Staged;
use crate::apply::Final;
use crate::attest::{self, Attestation};
use crate::build_result::PlatformInput;
use crate::digest::Hasher;
use crate::error::{Error, Result};
use crate::host::{Handle, Host, ProgressEvent, SourceEntry};
use crate::layer::walk::{self, Item, Mtime, TarSink, Visitor};
use crate::tar::{self, typeflag, Header};
use serde_json::{json, Value};
use std::collections::HashMap;

const FLUSH_AT: usize = 1 << 20;

/// Tar bytes into an opened output, handed over in large pieces.
struct OutputTar<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    pending: Vec<u8>,
}

impl<H: Host> TarSink for OutputTar<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.pending.extend_from_slice(data);
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }
}

impl<H: Host> OutputTar<'_, H> {
    async fn flush(&mut self) -> Result<()> {
        let result = self.host.output_write(self.handle, &self.pending).await;
        self.pending.clear();
        result
    }
}

pub async fn write_tar<H: Host>(
    host: &H,
    inputs: &[PlatformInput],
    epoch: Option<i64>,
    handle: Handle,
    attestations: &Attestations<'_>,
) -> Result<()> {
    let mut out = OutputTar { host, handle, pending: Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4) };
    let mtime = epoch.map_or(Mtime::Keep, Mtime::Set);
    for input in inputs {
        host.progress(ProgressEvent { phase: "tar".into(), id: input.platform.id(), current: 0, total: 1 });
        let prefix =
            if inputs.len() > 1 { format!("{}/", input.platform.id().replace('/', "_")) } else { String::new() };
        if !prefix.is_empty() {
            // The platform directory itself: root-owned, 0755, the epoch (or 0) as its time.
            let dir = Header {
                name: prefix.clone().into_bytes(),
                typeflag: typeflag::DIRECTORY,
                mode: 0o755,
                mtime: epoch.unwrap_or(0),
                ..Default::default()
            };
            out.write(&tar::encode(&dir)).await?;
        }
        let tree = Final::prepare(host, &input.base_layers, &input.layers).await?;
        let written =
            write_platform_tar(host, &tree, mtime, &prefix, &mut out, attestations, input, inputs.len() > 1).await;
        tree.release(host).await;
        written?;
        host.progress(ProgressEvent { phase: "tar".into(), id: input.platform.id(), current: 1, total: 1 });
    }
    out.write(&tar::TRAILER).await?;
    out.flush().await
}

/// One platform's tree and attestation files into the tar.
#[allow(clippy::too_many_arguments)]
async fn write_platform_tar<H: Host>(
    host: &H,
    tree: &Final<'_>,
    mtime: Mtime,
    prefix: &str,
    out: &mut OutputTar<'_, H>,
    attestations: &Attestations<'_>,
    input: &PlatformInput,
    several: bool,
) -> Result<()> {
    tree.visit(host, mtime, prefix.as_bytes(), &mut walk::tar_visitor(host, out)).await?;
    for (name, bytes) in attestations.files(host, tree, input, several).await? {
        let header = Header {
            name: format!("{prefix}{name}").into_bytes(),
            typeflag: typeflag::REGULAR,
            mode: 0o600,
            size: bytes.len() as i64,
            mtime: attestations.time,
            ..Default::default()
        };
        out.write(&tar::encode(&header)).await?;
        out.write(&bytes).await?;
        out.write(&[0u8; tar::BLOCK][..tar::padding(bytes.len() as u64)]).await?;
    }
    Ok(())
}

/// The local exporter: write each platform's filesystem under `target.root` (in `<os>_<arch>/`
/// when `split`). Without split, a path two platforms both produce is an error, as in BuildKit.
/// Fifos and devices cannot be created portably: they are skipped with a warning. `root` is the
/// staging directory; [`finish_local`] completes the export once it is in place.
pub async fn write_local<H: Host>(
    host: &H,
    inputs: &[PlatformInput],
    epoch: Option<i64>,
    target: &Local<'_>,
    attestations: &Attestations<'_>,
    warnings: &mut Vec<String>,
) -> Result<LocalWritten> {
    let root = target.root.trim_end_matches('/');
    let split = target.split;
    let mtime = match epoch {
        Some(epoch) if !target.layer_times => Mtime::Set(epoch),
        _ => Mtime::Keep,
    };
    let mut local = LocalVisitor {
        host,
        base: String::new(),
        platform: String::new(),
        written: HashMap::new(),
        dirs: Vec::new(),
        skipped: Vec::new(),
    };
    for input in inputs {
        local.platform = input.platform.id();
        local.base = if split { format!("{root}/{}", local.platform.replace('/', "_")) } else { root.to_string() };
        host.output_create_dir(&local.base).await?;
        local.written.insert(local.base.clone(), local.platform.clone());
        host.progress(ProgressEvent { phase: "local".into(), id: local.platform.clone(), current: 0, total: 1 });
        let tree = Final::prepare(host, &input.base_layers, &input.layers).await?;
        let several = !split && inputs.len() > 1;
        let written = write_platform_local(host, &tree, mtime, &mut local, attestations, input, several).await;
        tree.release(host).await;
        written?;
        host.progress(ProgressEvent { phase: "local".into(), id: local.platform.clone(), current: 1, total: 1 });
    }
    // Directory times last, deepest first: writing their children changed them.
    local.dirs.sort_by(|a, b| b.0.cmp(&a.0));
    set_directory_attributes(host, &local.dirs, |p| p.to_string()).await?;
    warnings.extend(local.skipped);
    Ok(LocalWritten { written: local.written, dirs: local.dirs })
}

/// One platform's tree and attestation files into its directory.
async fn write_platform_local<H: Host>(
    host: &H,
    tree: &Final<'_>,
    mtime: Mtime,
    local: &mut LocalVisitor<'_, H>,
    attestations: &Attestations<'_>,
    input: &PlatformInput,
    several: bool,
) -> Result<()> {
    tree.visit(host, mtime, b"", local).await?;
    for (name, bytes) in attestations.files(host, tree, input, several).await? {
        let path = local.path(name.as_bytes(), false)?;
        let handle = host.output_open(&path).await?;
        if let Err(e) = host.output_write(handle, &bytes).await {
            host.output_abort(handle).await;
            return Err(e);
        }
        host.output_commit(handle).await?;
        host.output_set_attributes(&path, 0o600, 0, 0, attestations.time).await?;
    }
    Ok(())
}

/// What a local export wrote (paths under its staging root), for [`finish_local`].
pub struct LocalWritten {
    /// Path → the platform that wrote it.
    written: HashMap<String, String>,
    /// Directories with their entries, deepest first.
    dirs: Vec<(String, SourceEntry)>,
}

/// After the staged tree is in place: mode=delete removes what the destination holds beyond the
/// result; directories merged into existing ones get their times and modes again.
pub async fn finish_local<H: Host>(
    host: &H,
    staged: &Staged,
    done: &LocalWritten,
    delete: bool,
    merged: bool,
) -> Result<()> {
    if delete {
        let written: HashMap<String, String> =
            done.written.iter().map(|(path, platform)| (staged.final_path(path), platform.clone())).collect();
        delete_stale(host, &staged.dest, &written).await?;
    }
    if merged {
        set_directory_attributes(host, &done.dirs, |p| staged.final_path(p)).await?;
    }
    Ok(())
}

async fn set_directory_attributes<H: Host>(
    host: &H,
    dirs: &[(String, SourceEntry)],
    place: impl Fn(&str) -> String,
) -> Result<()> {
    for (path, entry) in dirs {
        host.output_set_attributes(&place(path), entry.mode, entry.uid, entry.gid, entry.mtime).await?;
    }
    Ok(())
}

/// Where and how the local exporter writes.
pub struct Local<'a> {
    /// The directory written: the output's staging directory.
    pub root: &'a str,
    /// One `<os>_<arch>` directory per platform.
    pub split: bool,
    /// Every entry keeps its own time whatever the epoch: an unpack gives the image's layers as
    /// they are (their times are not rewritten: rewrite-timestamp does not go with unpack).
    /// Otherwise an epoch is every entry's time, as BuildKit's local exporter sets it.
    pub layer_times: bool,
}

/// Remove every entry under `dest` that this export did not write (links are not followed).
async fn delete_stale<H: Host>(host: &H, dest: &str, written: &HashMap<String, String>) -> Result<()> {
    let dest = dest.trim_end_matches('/');
    let mut pending = vec![dest.to_string()];
    while let Some(dir) = pending.pop() {
        for (name, is_dir) in host.output_list_dir(&dir).await?.unwrap_or_default() {
            let path = format!("{dir}/{name}");
            if !written.contains_key(&path) {
                host.output_remove(&path).await?;
            } else if is_dir {
                pending.push(path);
            }
        }
    }
    Ok(())
}

struct LocalVisitor<'h, H: Host> {
    host: &'h H,
    /// Where this platform's tree goes.
    base: String,
    platform: String,
    /// Output path → the platform that wrote it (for the no-split overwrite check).
    written: HashMap<String, String>,
    dirs: Vec<(String, SourceEntry)>,
    skipped: Vec<String>,
}

impl<H: Host> LocalVisitor<'_, H> {
    fn path(&mut self, name: &[u8], is_dir: bool) -> Result<String> {
        let name = std::str::from_utf8(name).map_err(|_| {
            Error::output(format!("{}: the local exporter cannot write names that are not UTF-8 yet", walk::show(name)))
        })?;
        let path = format!("{}/{name}", self.base);
        match self.written.insert(path.clone(), self.platform.clone()) {
            Some(previous) if previous != self.platform && !is_dir => Err(Error::output(format!(
                "cannot overwrite {name} from {previous} with {} when split option is disabled",
                self.platform
            ))),
            _ => Ok(path),
        }
    }
}

/// Where a local export's file content comes from: a source file, or part of a stored blob (a
/// base layer's file, packed by `apply`).
enum Content<'a> {
    Source(&'a [u8]),
    Stored(&'a str, u64),
}

/// One output file, written whole or not at all.
async fn write_file<H: Host>(host: &H, path: &str, content: Content<'_>, size: u64) -> Result<()> {
    let handle = host.output_open(path).await?;
    let mut out = OutputTar { host, handle, pending: Vec::new() };
    let copied = match content {
        Content::Source(source) => walk::copy_source(host, source, size, &mut out).await,
        Content::Stored(pack, offset) => walk::copy_blob(host, pack, offset, size, &mut out).await,
    };
    let written = match copied {
        Ok(()) => out.flush().await,
        Err(e) => Err(e),
    };
    if let Err(e) = written {
        host.output_abort(handle).await;
        return Err(e);
    }
    host.output_commit(handle).await
}

impl<H: Host> Visitor for LocalVisitor<'_, H> {
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()> {
        let host = self.host;
        let path = self.path(name, matches!(item, Item::Directory))?;
        match item {
            Item::Directory => {
                host.output_create_dir(&path).await?;
                self.dirs.push((path, entry.clone()));
                return Ok(());
            }
            Item::File { source } => write_file(host, &path, Content::Source(source), entry.size).await?,
            Item::Packed { pack, offset, .. } => {
                write_file(host, &path, Content::Stored(pack, offset), entry.size).await?
            }
            Item::EmptyFile => {
                let handle = host.output_open(&path).await?;
                host.output_commit(handle).await?;
            }
            Item::Hardlink { target } => {
                let target = format!("{}/{}", self.base, String::from_utf8_lossy(target));
                return host.output_hardlink(&path, &target).await;
            }
            Item::Symlink => host.output_symlink(&path, &entry.link_target).await?,
            Item::Special => {
                self.skipped
                    .push(format!("type=local: skipped {}: fifos and devices are not created", walk::show(name)));
                return Ok(());
            }
        }
        host.output_set_attributes(&path, entry.mode, entry.uid, entry.gid, entry.mtime).await
    }
}

/// Attestation files (BuildKit's local and tar exporters): one pretty-printed statement per
/// attestation, named `<prefix><file name>`, mode 0600, its subjects every regular file exported.
pub struct Attestations<'a> {
    pub attestations: &'a [Attestation],
    /// Also each platform's own (`sbom`, `provenance`): not in an unpacked image.
    pub generated: bool,
    pub prefix: &'a str,
    pub split: bool,
    /// Their mtime: the epoch, or the export time.
    pub time: i64,
}

impl Attestations<'_> {
    /// (file name, bytes) for one platform. `platform_suffix`: several platforms share a
    /// directory, so the platform goes before the extension (`provenance.linux_amd64.json`).
    async fn files<H: Host>(
        &self,
        host: &H,
        tree: &Final<'_>,
        input: &PlatformInput,
        several: bool,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let own: &[Attestation] = if self.generated { &input.attestations } else { &[] };
        if self.attestations.is_empty() && own.is_empty() {
            return Ok(Vec::new());
        }
        let mut subjects = Subjects { host, list: Vec::new(), digests: HashMap::new() };
        tree.visit(host, Mtime::Keep, b"", &mut subjects).await?;
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for a in self.attestations.iter().chain(own) {
            let mut name = format!("{}{}", self.prefix, a.file_name);
            if several && !self.split {
                let platform = input.platform.id().replace('/', "_");
                name = match name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}.{platform}.{ext}"),
                    None => format!("{name}.{platform}"),
                };
            }
            if files.iter().any(|(n, _)| *n == name) {
                return Err(Error::option(format!("duplicate attestation path name {name}")));
            }
            files.push((name, attest::file_statement(a, subjects.list.clone())));
        }
        Ok(files)
    }
}

/// Every regular file of a tree with its sha256, as in-toto subjects (hardlinks share the digest).
struct Subjects<'h, H: Host> {
    host: &'h H,
    list: Vec<Value>,
    digests: HashMap<Vec<u8>, String>,
}

struct HashSink(Hasher);

impl TarSink for HashSink {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.0.update(data);
        Ok(())
    }
}

impl<H: Host> Visitor for Subjects<'_, H> {
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()> {
        let hex = match item {
            Item::File { source } => {
                let mut sink = HashSink(Hasher::new());
                walk::copy_source(self.host, source, entry.size, &mut sink).await?;
                sink.0.finish().trim_start_matches("sha256:").to_string()
            }
            Item::Packed { sha256, .. } => sha256.trim_start_matches("sha256:").to_string(),
            Item::EmptyFile => Hasher::new().finish().trim_start_matches("sha256:").to_string(),
            Item::Hardlink { target } => self.digests.get(target).cloned().unwrap_or_default(),
            _ => return Ok(()),
        };
        self.digests.insert(name.to_vec(), hex.clone());
        self.list.push(json!({"name": walk::show(name), "digest": {"sha256": hex}}));
        Ok(())
    }
}
