//! Walk source trees through the host and emit a deterministic tar stream, the way BuildKit's
//! differ does: depth first, names byte-sorted within each directory, parents before children,
//! no root entry, directories with a trailing '/', hardlinks as typeflag 1 pointing at the first
//! path seen, sockets skipped, symlinks recorded and never followed.
//!
//! Several roots are merged as stacked layers (the tar exporter's final filesystem): for each name
//! the topmost layer that has it wins, and a directory's contents come from every layer, top down,
//! until one where that name is not a directory.

use super::tar::{self, typeflag, Header};
use crate::error::{Error, Result};
use crate::host::{EntryKind, Host, SourceEntry};
use std::collections::HashMap;

/// How much of a file is requested from the host at a time.
const READ_CHUNK: u32 = 1 << 20;

/// Where tar bytes go: a layer blob being compressed, or an output file.
#[allow(async_fn_in_trait)]
pub trait TarSink {
    async fn write(&mut self, data: &[u8]) -> Result<()>;
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
    fn apply(self, mtime: i64) -> i64 {
        match self {
            Mtime::Keep => mtime,
            Mtime::Clamp(epoch) => mtime.min(epoch),
            Mtime::Set(epoch) => epoch,
        }
    }
}

pub struct Tree<'a> {
    /// Host paths of the layer roots, bottom first.
    pub roots: &'a [Vec<u8>],
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
}

/// What the walk found at one name.
pub enum Item<'a> {
    Directory,
    /// A regular file; its content is read from `source` (a host path).
    File {
        source: &'a [u8],
    },
    /// Another name (already visited) for the same file.
    Hardlink {
        target: &'a [u8],
    },
    Symlink,
    /// Character or block device, or fifo.
    Special,
}

/// Receives the merged tree in order: parents before children, names byte-sorted.
#[allow(async_fn_in_trait)]
pub trait Visitor {
    /// `name`: relative, with the tree's prefix, no trailing '/'. `entry.mtime` is already adjusted.
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()>;
}

/// Visit every entry of the merged tree (sockets are skipped).
pub async fn walk<H: Host, V: Visitor>(host: &H, tree: &Tree<'_>, visitor: &mut V) -> Result<()> {
    for root in tree.roots {
        if host.source_stat(root).await?.kind != EntryKind::Directory {
            return Err(Error::source(format!("rootfs {} is not a directory", show(root))));
        }
    }
    let top_first: Vec<usize> = (0..tree.roots.len()).rev().collect();
    let mut first_path_of_inode: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    // Each frame: the directory's relative path (trailing '/', empty for the root) and its remaining
    // children, reversed so `pop` yields them in sorted order.
    let mut stack: Vec<(Vec<u8>, Vec<Child>)> =
        vec![(Vec::new(), merged_children(host, tree.roots, &top_first, b"").await?)];
    while let Some((dir, children)) = stack.last_mut() {
        let Some(Child { mut entry, root, dir_roots }) = children.pop() else {
            stack.pop();
            continue;
        };
        entry.mtime = tree.mtime.apply(entry.mtime);
        let mut rel = dir.clone();
        rel.extend_from_slice(&entry.name);
        let name = [tree.prefix, &rel].concat();
        match entry.kind {
            EntryKind::Socket => {}
            EntryKind::Directory => {
                visitor.visit(&name, &entry, Item::Directory).await?;
                rel.push(b'/');
                let children = merged_children(host, tree.roots, &dir_roots, &rel).await?;
                stack.push((rel, children));
            }
            EntryKind::Regular => {
                let key = (entry.device, entry.inode);
                match first_path_of_inode.get(&key).filter(|_| entry.nlink > 1) {
                    Some(target) => visitor.visit(&name, &entry, Item::Hardlink { target }).await?,
                    None => {
                        if entry.nlink > 1 {
                            first_path_of_inode.insert(key, name.clone());
                        }
                        let source = join(&tree.roots[root], &rel);
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

/// Write the tree's entries (not the end-of-archive trailer) to `out`.
pub async fn write_tree<H: Host, S: TarSink>(host: &H, tree: &Tree<'_>, out: &mut S) -> Result<()> {
    walk(host, tree, &mut TarVisitor { host, out }).await
}

/// Turns visited entries into tar headers and file data.
struct TarVisitor<'a, H: Host, S: TarSink> {
    host: &'a H,
    out: &'a mut S,
}

impl<H: Host, S: TarSink> Visitor for TarVisitor<'_, H, S> {
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()> {
        let header = match item {
            Item::Directory => header(entry, [name, b"/"].concat(), typeflag::DIRECTORY),
            Item::File { source } => return write_file(self.host, source, entry, name.to_vec(), self.out).await,
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

/// The merged children of directory `rel` over `dir_roots` (top first), sorted for popping.
async fn merged_children<H: Host>(host: &H, roots: &[Vec<u8>], dir_roots: &[usize], rel: &[u8]) -> Result<Vec<Child>> {
    let mut merged: Vec<Child> = Vec::new();
    let mut index: HashMap<Vec<u8>, usize> = HashMap::new();
    // Names whose directory chain ended at a non-directory: lower layers no longer contribute.
    let mut closed: Vec<bool> = Vec::new();
    for &root in dir_roots {
        let dir = join(&roots[root], rel);
        for entry in host.source_read_dir(&dir).await? {
            if entry.name.is_empty() || entry.name.contains(&b'/') || entry.name == b"." || entry.name == b".." {
                return Err(Error::source(format!(
                    "host returned an invalid entry name {:?} in {}",
                    show(&entry.name),
                    show(&dir)
                )));
            }
            match index.get(&entry.name) {
                None => {
                    index.insert(entry.name.clone(), merged.len());
                    let is_dir = entry.kind == EntryKind::Directory;
                    closed.push(!is_dir);
                    merged.push(Child { entry, root, dir_roots: if is_dir { vec![root] } else { Vec::new() } });
                }
                Some(&i) if !closed[i] => {
                    if entry.kind == EntryKind::Directory {
                        merged[i].dir_roots.push(root);
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

async fn write_file<H: Host, S: TarSink>(
    host: &H,
    path: &[u8],
    entry: &SourceEntry,
    name: Vec<u8>,
    out: &mut S,
) -> Result<()> {
    let mut h = header(entry, name, typeflag::REGULAR);
    h.size = entry.size as i64;
    out.write(&tar::encode(&h)).await?;
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
