//! Walk source trees through the host and emit a deterministic tar stream, the way BuildKit's
//! differ does: depth first, names byte-sorted within each directory, parents before children,
//! no root entry, directories with a trailing '/', hardlinks as typeflag 1 pointing at the first
//! path seen, sockets skipped (a copied source's become empty files), symlinks recorded and never
//! followed.
//!
//! Several roots are merged as stacked layers (the tar exporter's final filesystem): for each name
//! the topmost layer that has it wins, and a directory's contents come from every layer, top down,
//! until one where that name is not a directory. A source placed at a destination contributes the
//! directories on the way to it (root's, 0755) and its own entries below it; excluded names are
//! left out, and an excluded directory is written only when an exclude exception keeps something
//! below it.

use super::source::{LayerSource, SourceKind};
use super::tar::{self, typeflag, Header};
use crate::digest::Hasher;
use crate::error::{Error, Result};
use crate::host::{EntryKind, Host, ProgressEvent, SourceEntry};
use std::collections::HashMap;

/// How much of a file is requested from the host at a time.
const READ_CHUNK: u32 = 1 << 20;

/// Where tar bytes go: a layer blob being compressed, or an output file.
#[allow(async_fn_in_trait)]
pub trait TarSink {
    async fn write(&mut self, data: &[u8]) -> Result<()>;
}

/// Collects the tar in memory (tests, fuzzing, small outputs).
impl TarSink for Vec<u8> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
}

/// What happens to entry mtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mtime {
    Keep,
    /// rewrite-timestamp: entries newer than the epoch get it, older ones keep theirs.
    Clamp(i64),
    /// local/tar exporters with an epoch: every entry gets it.
    Set(i64),
}

impl Mtime {
    pub fn apply(self, mtime: i64) -> i64 {
        match self {
            Mtime::Keep => mtime,
            Mtime::Clamp(epoch) => mtime.min(epoch),
            Mtime::Set(epoch) => epoch,
        }
    }
}

pub struct Tree<'a> {
    /// The layers' sources, bottom first (directories and files; tarballs are not walked).
    pub roots: &'a [LayerSource],
    pub mtime: Mtime,
    /// Prepended to every entry name (e.g. `linux_amd64/`), or empty.
    pub prefix: &'a [u8],
}

/// One child in the merged view: the winning entry, the root its data comes from, and for a
/// directory the roots (top first) whose same-named directories it merges.
struct Child {
    entry: SourceEntry,
    root: usize,
    dir_roots: Vec<usize>,
    /// An excluded directory walked only because an exclude exception may bring back something
    /// below it: its own entry is written only if something below is.
    excluded: bool,
}

/// A directory being walked: its path relative to the image root (trailing '/', empty for the
/// root), its remaining children reversed so `pop` yields them in sorted order, and, for an
/// excluded directory, its entry until something below it is written.
struct Frame {
    rel: Vec<u8>,
    children: Vec<Child>,
    held_back: Option<(Vec<u8>, SourceEntry)>,
}

/// What the walk found at one name.
pub enum Item<'a> {
    Directory,
    /// A regular file; its content is read from `source` (a host path).
    File {
        source: &'a [u8],
    },
    /// A regular file whose content is `entry.size` bytes of the stored blob `pack` from `offset`
    /// (a base layer's file); `sha256` is the content's digest.
    Packed {
        pack: &'a str,
        offset: u64,
        sha256: &'a str,
        /// Its `security.capability` extended attribute, if any (a tar carries it as a PAX record).
        capability: Option<&'a [u8]>,
    },
    /// Another name (already visited) for the same file.
    Hardlink {
        target: &'a [u8],
    },
    Symlink,
    /// Character or block device, or fifo.
    Special,
    /// A regular file with no content and nothing to read (a copied source's socket).
    EmptyFile,
}

/// Receives the merged tree in order: parents before children, names byte-sorted.
#[allow(async_fn_in_trait)]
pub trait Visitor {
    /// `name`: relative, with the tree's prefix, no trailing '/'. `entry.mtime` is already adjusted.
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()>;
}

/// Visit every entry of the merged tree (sockets and excluded entries are skipped).
pub async fn walk<H: Host, V: Visitor>(host: &H, tree: &Tree<'_>, visitor: &mut V) -> Result<()> {
    for root in tree.roots {
        check_root(host, root).await?;
    }
    let top_first: Vec<usize> = (0..tree.roots.len()).rev().collect();
    let mut first_path_of_inode: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    let mut stack: Vec<Frame> = vec![Frame {
        rel: Vec::new(),
        children: merged_children(host, tree.roots, &top_first, b"").await?,
        held_back: None,
    }];
    while let Some(frame) = stack.last_mut() {
        let Some(Child { mut entry, root, dir_roots, excluded }) = frame.children.pop() else {
            stack.pop();
            continue;
        };
        entry.mtime = tree.mtime.apply(entry.mtime);
        let mut rel = frame.rel.clone();
        rel.extend_from_slice(&entry.name);
        let name = [tree.prefix, &rel].concat();
        if entry.kind == EntryKind::Socket && !tree.roots[root].copied {
            continue;
        }
        if excluded {
            rel.push(b'/');
            let children = merged_children(host, tree.roots, &dir_roots, &rel).await?;
            stack.push(Frame { rel, children, held_back: Some((name, entry)) });
            continue;
        }
        // Excluded directories above this entry are written after all.
        for frame in stack.iter_mut() {
            if let Some((dir_name, dir_entry)) = frame.held_back.take() {
                visitor.visit(&dir_name, &dir_entry, Item::Directory).await?;
            }
        }
        match entry.kind {
            EntryKind::Socket => {
                // What BuildKit's COPY makes of a socket in the build context.
                entry.mode = 0o755;
                entry.size = 0;
                visitor.visit(&name, &entry, Item::EmptyFile).await?
            }
            EntryKind::Directory => {
                visitor.visit(&name, &entry, Item::Directory).await?;
                rel.push(b'/');
                let children = merged_children(host, tree.roots, &dir_roots, &rel).await?;
                stack.push(Frame { rel, children, held_back: None });
            }
            EntryKind::Regular => {
                let key = (entry.device, entry.inode);
                match first_path_of_inode.get(&key).filter(|_| entry.nlink > 1) {
                    Some(target) => visitor.visit(&name, &entry, Item::Hardlink { target }).await?,
                    None => {
                        if entry.nlink > 1 {
                            first_path_of_inode.insert(key, name.clone());
                        }
                        let source = host_path(&tree.roots[root], &rel);
                        visitor.visit(&name, &entry, Item::File { source: &source }).await?;
                    }
                }
            }
            EntryKind::Symlink => visitor.visit(&name, &entry, Item::Symlink).await?,
            EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo => {
                visitor.visit(&name, &entry, Item::Special).await?
            }
        }
    }
    Ok(())
}

/// A source must be what it was when the request was resolved: a directory stays one.
async fn check_root<H: Host>(host: &H, root: &LayerSource) -> Result<()> {
    match root.kind {
        SourceKind::Directory if host.source_stat(&root.path).await?.kind != EntryKind::Directory => {
            Err(Error::source(format!("{} is not a directory", show(&root.path))))
        }
        SourceKind::Tarball => Err(Error::option(format!(
            "{}: a layer tarball cannot go into this output (its files would have to be unpacked)",
            show(&root.path)
        ))),
        _ => Ok(()),
    }
}

/// Write the tree's entries (not the end-of-archive trailer) to `out`.
pub async fn write_tree<H: Host, S: TarSink>(host: &H, tree: &Tree<'_>, out: &mut S) -> Result<()> {
    walk(host, tree, &mut TarVisitor { host, out, file_data: true, skipped: 0, files: None, newest_change_ns: 0 }).await
}

/// What a headers-only walk learns beside the headers.
pub struct Headers {
    /// Bytes of file data and padding left out: the whole tar is that much longer.
    pub file_data: u64,
    /// sha256 over each regular file's (device, inode, ctime); None if the host gave no ctime.
    pub files: Option<String>,
    /// The latest ctime among the regular files, in nanoseconds.
    pub newest_change_ns: i64,
}

/// Only the header blocks `write_tree` would write: the tree's shape, from directory listings alone
/// (no file is opened). Two trees whose tar streams are equal have equal headers.
pub async fn write_headers<H: Host, S: TarSink>(host: &H, tree: &Tree<'_>, out: &mut S) -> Result<Headers> {
    let mut visitor =
        TarVisitor { host, out, file_data: false, skipped: 0, files: Some(Hasher::new()), newest_change_ns: 0 };
    walk(host, tree, &mut visitor).await?;
    let files = visitor.files.map(Hasher::finish);
    Ok(Headers { file_data: visitor.skipped, files, newest_change_ns: visitor.newest_change_ns })
}

/// A visitor writing the tar stream of what it visits (headers and data, no trailer).
pub fn tar_visitor<'a, H: Host, S: TarSink>(host: &'a H, out: &'a mut S) -> TarVisitor<'a, H, S> {
    TarVisitor { host, out, file_data: true, skipped: 0, files: None, newest_change_ns: 0 }
}

/// Turns visited entries into tar headers and file data.
pub struct TarVisitor<'a, H: Host, S: TarSink> {
    host: &'a H,
    out: &'a mut S,
    file_data: bool,
    /// Without file data: the data and padding bytes not written, and the files' identities.
    skipped: u64,
    files: Option<Hasher>,
    newest_change_ns: i64,
}

impl<H: Host, S: TarSink> Visitor for TarVisitor<'_, H, S> {
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()> {
        let header = match item {
            Item::Directory => header(entry, [name, b"/"].concat(), typeflag::DIRECTORY),
            Item::File { source: _ } if !self.file_data => {
                self.skipped += entry.size + tar::padding(entry.size) as u64;
                self.newest_change_ns = self.newest_change_ns.max(entry.change_time_ns);
                if entry.change_time_ns == 0 {
                    self.files = None;
                }
                if let Some(files) = self.files.as_mut() {
                    for n in [entry.device, entry.inode, entry.change_time_ns as u64] {
                        files.update(&n.to_le_bytes());
                    }
                }
                file_header(entry, name.to_vec())
            }
            Item::File { source } => return write_file(self.host, source, entry, name.to_vec(), self.out).await,
            Item::Packed { pack, offset, capability, .. } => {
                let mut header = file_header(entry, name.to_vec());
                if let Some(value) = capability {
                    header.pax_records.insert("SCHILY.xattr.security.capability".into(), value.to_vec());
                }
                self.out.write(&tar::encode(&header)).await?;
                copy_blob(self.host, pack, offset, entry.size, self.out).await?;
                return self.out.write(&[0u8; tar::BLOCK][..tar::padding(entry.size)]).await;
            }
            Item::EmptyFile => file_header(entry, name.to_vec()),
            Item::Hardlink { target } => {
                Header { linkname: target.to_vec(), ..header(entry, name.to_vec(), typeflag::HARDLINK) }
            }
            Item::Symlink => {
                Header { linkname: entry.link_target.clone(), ..header(entry, name.to_vec(), typeflag::SYMLINK) }
            }
            Item::Special => {
                let flag = match entry.kind {
                    EntryKind::CharDevice => typeflag::CHAR,
                    EntryKind::BlockDevice => typeflag::BLOCK,
                    _ => typeflag::FIFO,
                };
                let mut h = header(entry, name.to_vec(), flag);
                if flag != typeflag::FIFO {
                    h.devmajor = entry.dev_major as i64;
                    h.devminor = entry.dev_minor as i64;
                }
                h
            }
        };
        self.out.write(&tar::encode(&header)).await
    }
}

fn header(entry: &SourceEntry, name: Vec<u8>, flag: u8) -> Header {
    Header {
        name,
        typeflag: flag,
        mode: (entry.mode & 0o7777) as i64,
        uid: entry.uid as i64,
        gid: entry.gid as i64,
        size: 0,
        mtime: entry.mtime,
        ..Default::default()
    }
}

fn file_header(entry: &SourceEntry, name: Vec<u8>) -> Header {
    Header { size: entry.size as i64, ..header(entry, name, typeflag::REGULAR) }
}

/// The merged children of directory `rel` over `dir_roots` (top first), sorted for popping.
async fn merged_children<H: Host>(
    host: &H,
    roots: &[LayerSource],
    dir_roots: &[usize],
    rel: &[u8],
) -> Result<Vec<Child>> {
    let mut merged: Vec<Child> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    // Names whose directory chain ended at a non-directory: lower layers no longer contribute.
    let mut closed: Vec<bool> = Vec::new();
    for &root in dir_roots {
        for (entry, excluded) in source_children(host, &roots[root], rel).await? {
            match index.get(&entry.name) {
                None => {
                    index.insert(entry.name.clone(), merged.len());
                    let is_dir = entry.kind == EntryKind::Directory;
                    closed.push(!is_dir);
                    let dir_roots = if is_dir { vec![root] } else { Vec::new() };
                    merged.push(Child { entry, root, dir_roots, excluded });
                }
                Some(&i) if !closed[i] => {
                    if entry.kind == EntryKind::Directory {
                        merged[i].dir_roots.push(root);
                        merged[i].excluded &= excluded;
                    } else {
                        closed[i] = true;
                    }
                }
                Some(_) => {}
            }
        }
    }
    // Reverse byte order: the walk pops from the end.
    merged.sort_by(|a, b| b.entry.name.cmp(&a.entry.name));
    Ok(merged)
}

/// What `source` puts directly in image directory `rel` (trailing '/', empty for the root), each
/// entry with whether it is an excluded directory walked only for exclude exceptions.
async fn source_children<H: Host>(host: &H, source: &LayerSource, rel: &[u8]) -> Result<Vec<(SourceEntry, bool)>> {
    let dest = &source.dest;
    let Some(inside) = inside_source(dest, rel) else {
        // Above the destination: the next directory on the way to it, or the source itself.
        let Some(rest) =
            dest.strip_prefix(rel).filter(|rest| !rest.is_empty() && (rel.is_empty() || rel.ends_with(b"/")))
        else {
            return Ok(Vec::new());
        };
        let (name, last) = match rest.iter().position(|&b| b == b'/') {
            Some(i) => (&rest[..i], false),
            None => (rest, true),
        };
        let entry = if last {
            owned(source, SourceEntry { name: name.to_vec(), ..host.source_stat(&source.path).await? })
        } else {
            created_directory(name)
        };
        return Ok(vec![(entry, false)]);
    };
    let dir = join(&source.path, inside);
    let mut entries = host.source_read_dir(&dir).await?;
    leave_out_outputs(host, source, &dir, &mut entries).await;
    let mut children = Vec::new();
    for entry in entries {
        if entry.name.is_empty() || entry.name.contains(&b'/') || entry.name == b"." || entry.name == b".." {
            return Err(Error::source(format!(
                "host returned an invalid entry name {:?} in {}",
                show(&entry.name),
                show(&dir)
            )));
        }
        if inside.is_empty() && !source.takes_top_level(&entry.name) {
            continue;
        }
        let path = [inside, &entry.name].concat();
        let mut excluded = false;
        if source.ignore.excludes(&path) {
            if entry.kind != EntryKind::Directory || !source.ignore.may_include_below(&path) {
                continue;
            }
            excluded = true;
        }
        children.push((owned(source, entry), excluded));
    }
    Ok(children)
}

/// Drop the run's own outputs (and their temporary names) from a directory listing, saying so.
async fn leave_out_outputs<H: Host>(host: &H, source: &LayerSource, dir: &[u8], entries: &mut Vec<SourceEntry>) {
    if source.reserved.is_empty() || !entries.iter().any(|e| source.reserved.may_be(&e.name)) {
        return;
    }
    let Some(identity) = host.output_identity(&String::from_utf8_lossy(dir)).await else { return };
    entries.retain(|entry| {
        let ours = source.reserved.holds(identity, &entry.name);
        if ours {
            let id = format!("{}/{}: an output of this run", show(dir).trim_end_matches('/'), show(&entry.name));
            host.progress(ProgressEvent { phase: "leave-out".into(), id, current: 1, total: 1 });
        }
        !ours
    });
}

/// `rel` relative to the source directory, when `rel` is the destination or below it.
fn inside_source<'r>(dest: &[u8], rel: &'r [u8]) -> Option<&'r [u8]> {
    if dest.is_empty() {
        return Some(rel);
    }
    rel.strip_prefix(dest).and_then(|rest| rest.strip_prefix(b"/"))
}

/// The host path of image path `rel` (no trailing '/') that `source` gives.
fn host_path(source: &LayerSource, rel: &[u8]) -> Vec<u8> {
    match source.kind {
        SourceKind::File => source.path.clone(),
        _ => {
            let inside = if source.dest.is_empty() { rel } else { rel.get(source.dest.len() + 1..).unwrap_or(b"") };
            join(&source.path, inside)
        }
    }
}

/// An entry as the source gives it to the layer: its owner and mtime overridden where the source
/// says so.
fn owned(source: &LayerSource, mut entry: SourceEntry) -> SourceEntry {
    if let Some((uid, gid)) = source.owner {
        entry.uid = uid;
        entry.gid = gid;
    }
    if let Some(mtime) = source.mtime {
        entry.mtime = mtime;
    }
    entry
}

/// A directory on the way to a destination that the source does not provide: root's, 0755, and
/// time 0 so the layer does not depend on when it was built.
fn created_directory(name: &[u8]) -> SourceEntry {
    SourceEntry {
        name: name.to_vec(),
        kind: EntryKind::Directory,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        link_target: Vec::new(),
        dev_major: 0,
        dev_minor: 0,
        device: 0,
        inode: 0,
        nlink: 1,
        change_time_ns: 0,
    }
}

async fn write_file<H: Host, S: TarSink>(
    host: &H,
    path: &[u8],
    entry: &SourceEntry,
    name: Vec<u8>,
    out: &mut S,
) -> Result<()> {
    out.write(&tar::encode(&file_header(entry, name))).await?;
    copy_source(host, path, entry.size, out).await?;
    out.write(&[0u8; tar::BLOCK][..tar::padding(entry.size)]).await
}

/// Stream the source file at `path`, which must hold exactly `size` bytes, into `out`.
pub async fn copy_source<H: Host, S: TarSink>(host: &H, path: &[u8], size: u64, out: &mut S) -> Result<()> {
    let handle = host.source_open(path).await?;
    let copied = copy_file(host, handle, size, path, out).await;
    host.source_close(handle).await;
    copied
}

async fn copy_file<H: Host, S: TarSink>(host: &H, handle: u32, size: u64, path: &[u8], out: &mut S) -> Result<()> {
    let changed = || Error::source(format!("{} changed size while being read (expected {size} bytes)", show(path)));
    let mut done = 0u64;
    loop {
        let want = (size - done).min(READ_CHUNK as u64) as u32;
        // Ask for one byte more at the expected end, to notice a file that grew.
        let chunk = host.source_read(handle, want.max(1)).await?;
        if chunk.is_empty() {
            return if done == size { Ok(()) } else { Err(changed()) };
        }
        done += chunk.len() as u64;
        if done > size {
            return Err(changed());
        }
        out.write(&chunk).await?;
    }
}

/// Stream `size` bytes of the stored blob `digest` from `offset` into `out`.
pub async fn copy_blob<H: Host, S: TarSink>(host: &H, digest: &str, offset: u64, size: u64, out: &mut S) -> Result<()> {
    let mut done = 0u64;
    while done < size {
        let want = (size - done).min(READ_CHUNK as u64) as u32;
        let chunk = host.blob_read(digest, offset + done, want).await?;
        if chunk.is_empty() {
            return Err(Error::store(format!("blob {digest} ends before byte {}", offset + size)));
        }
        done += chunk.len() as u64;
        out.write(&chunk).await?;
    }
    Ok(())
}

fn join(root: &[u8], rel: &[u8]) -> Vec<u8> {
    let rel = rel.strip_suffix(b"/").unwrap_or(rel);
    if rel.is_empty() {
        return root.to_vec();
    }
    let mut p = root.strip_suffix(b"/").unwrap_or(root).to_vec();
    p.push(b'/');
    p.extend_from_slice(rel);
    p
}

/// A path for messages: lossy UTF-8 is fine there.
pub fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::source::{self, LayerSpec, SourceOptions};
    use super::*;
    use crate::fuzzing::block_on;
    use crate::host::Handle;
    use std::cell::RefCell;

    /// A source tree in memory: a directory `/src` owned by uid 1000 with a file and a socket.
    struct TreeHost {
        open: RefCell<Vec<Vec<u8>>>,
    }

    fn entry(name: &[u8], kind: EntryKind, mode: u32, size: u64) -> SourceEntry {
        SourceEntry {
            name: name.to_vec(),
            kind,
            mode,
            uid: 1000,
            gid: 1001,
            size,
            mtime: 1_000,
            link_target: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
            device: 1,
            inode: name.len() as u64,
            nlink: 1,
            change_time_ns: 0,
        }
    }

    impl Host for TreeHost {
        async fn source_stat(&self, path: &[u8]) -> Result<SourceEntry> {
            match path {
                b"/src" => Ok(entry(b"src", EntryKind::Directory, 0o750, 0)),
                _ => Err(Error::source(format!("{}: not found", show(path)))),
            }
        }
        async fn source_read_dir(&self, path: &[u8]) -> Result<Vec<SourceEntry>> {
            assert_eq!(path, b"/src");
            Ok(vec![entry(b"file", EntryKind::Regular, 0o640, 2), entry(b"sock", EntryKind::Socket, 0o777, 0)])
        }
        async fn source_open(&self, path: &[u8]) -> Result<Handle> {
            assert_eq!(path, b"/src/file", "only the regular file is read");
            self.open.borrow_mut().push(b"hi".to_vec());
            Ok(self.open.borrow().len() as Handle - 1)
        }
        async fn source_read(&self, handle: Handle, _: u32) -> Result<Vec<u8>> {
            Ok(std::mem::take(&mut self.open.borrow_mut()[handle as usize]))
        }
        async fn source_close(&self, _: Handle) {}
        async fn blob_size(&self, _: &str) -> Result<Option<u64>> {
            unimplemented!()
        }
        async fn blob_create(&self) -> Result<Handle> {
            unimplemented!()
        }
        async fn blob_write(&self, _: Handle, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn blob_commit(&self, _: Handle, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn blob_abort(&self, _: Handle) {
            unimplemented!()
        }
        async fn blob_read(&self, _: &str, _: u64, _: u32) -> Result<Vec<u8>> {
            unimplemented!()
        }
        async fn blob_list(&self) -> Result<Vec<String>> {
            unimplemented!()
        }
        async fn cache_read(&self, _: &str) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn cache_write(&self, _: &str, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn blob_remove(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn store_index_read(&self) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn store_index_write(&self, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn store_unpack_dir(&self, _: &str) -> Result<String> {
            unimplemented!()
        }
        async fn output_open(&self, _: &str) -> Result<Handle> {
            unimplemented!()
        }
        async fn output_write(&self, _: Handle, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn output_write_blob(&self, _: Handle, _: &str) -> Result<u64> {
            unimplemented!()
        }
        async fn output_commit(&self, _: Handle) -> Result<()> {
            unimplemented!()
        }
        async fn output_abort(&self, _: Handle) {
            unimplemented!()
        }
        async fn output_mkdir(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_read(&self, _: &str) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn output_create_dir(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_symlink(&self, _: &str, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn output_hardlink(&self, _: &str, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_list_dir(&self, _: &str) -> Result<Option<Vec<(String, bool)>>> {
            unimplemented!()
        }
        async fn output_remove(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_set_attributes(&self, _: &str, _: u32, _: u32, _: u32, _: i64) -> Result<()> {
            unimplemented!()
        }
        async fn http_send(&self, _: crate::host::HttpRequest, _: u32) -> Result<crate::host::HttpResponse> {
            unimplemented!()
        }
        async fn credentials(&self, _: &str, _: bool) -> Result<Option<crate::host::Credential>> {
            unimplemented!()
        }
        fn compress_threads(&self) -> u32 {
            0
        }
        async fn compress_start(&self, _: crate::compress::piece::Piece) -> Result<Handle> {
            unimplemented!()
        }
        async fn compress_wait(&self, _: Handle) -> Result<Vec<u8>> {
            unimplemented!()
        }
        async fn sleep(&self, _: u32) {
            unimplemented!()
        }
        fn progress(&self, _: crate::host::ProgressEvent) {
            unimplemented!()
        }
    }

    /// (typeflag, name, mode, uid, gid, size) of each entry of a layer tar.
    fn entries(tar: &[u8]) -> Vec<(u8, String, u32, u32, u32, u64)> {
        let octal = |field: &[u8]| {
            let text = std::str::from_utf8(field).unwrap().trim_matches(|c: char| c == '\0' || c == ' ');
            u64::from_str_radix(text, 8).unwrap()
        };
        let mut out = Vec::new();
        let mut at = 0;
        while at + 512 <= tar.len() && tar[at] != 0 {
            let h = &tar[at..at + 512];
            let name = String::from_utf8(h[..100].iter().take_while(|&&b| b != 0).copied().collect()).unwrap();
            let size = octal(&h[124..136]);
            out.push((
                h[156],
                name,
                octal(&h[100..108]) as u32,
                octal(&h[108..116]) as u32,
                octal(&h[116..124]) as u32,
                size,
            ));
            at += 512 + (size as usize).div_ceil(512) * 512;
        }
        out
    }

    fn layer(source: LayerSource) -> Vec<(u8, String, u32, u32, u32, u64)> {
        let host = TreeHost { open: RefCell::new(Vec::new()) };
        let roots = [source];
        let tree = Tree { roots: &roots, mtime: Mtime::Keep, prefix: b"" };
        let mut tar = Vec::new();
        block_on(write_tree(&host, &tree, &mut tar)).unwrap();
        entries(&tar)
    }

    fn source(spec: Option<&str>, owner: Option<&str>) -> LayerSource {
        let host = TreeHost { open: RefCell::new(Vec::new()) };
        let options = SourceOptions::new(owner, &[]).unwrap();
        match spec {
            Some(spec) => block_on(source::from_spec(&host, &LayerSpec::Text(spec.into()), &options)).unwrap(),
            None => block_on(LayerSource::root_directory(&host, "/src", &options)).unwrap(),
        }
    }

    #[test]
    fn copied_sources_are_roots_and_their_sockets_empty_files() {
        // --layer: as BuildKit's COPY of a build context buildx sent with uid/gid 0.
        assert_eq!(
            layer(source(Some("/src:/app"), None)),
            [
                (b'5', "app/".into(), 0o750, 0, 0, 0),
                (b'0', "app/file".into(), 0o640, 0, 0, 2),
                (b'0', "app/sock".into(), 0o755, 0, 0, 0),
            ]
        );
        // --owner still wins.
        assert_eq!(
            layer(source(Some("/src"), Some("7:8"))),
            [(b'0', "file".into(), 0o640, 7, 8, 2), (b'0', "sock".into(), 0o755, 7, 8, 0)]
        );
        // ROOTFS keeps its owners and skips sockets, as BuildKit's differ does.
        assert_eq!(layer(source(None, None)), [(b'0', "file".into(), 0o640, 1000, 1001, 2)]);
        assert_eq!(layer(source(None, Some("7:8"))), [(b'0', "file".into(), 0o640, 7, 8, 2)]);
    }
}
