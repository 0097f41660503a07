//! The final root filesystem as paths and metadata only: every layer's entries applied in order by
//! the OCI image-spec's changeset rules, as containerd's applier and umoci apply them. File contents
//! are not here, only where they come from (a layer member, a host file, a spilled blob).
//!
//! Paths are keys of components joined by NUL: NUL sorts below every byte a name can hold, so the
//! map's order is depth first with names byte-sorted in each directory (BuildKit's walk order), and
//! a subtree is one key range.

use crate::error::{Error, Result};
use crate::host::EntryKind;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Symlinks followed while resolving one path, as Linux allows (ELOOP past it).
const MAX_LINKS: usize = 255;

/// Where a regular file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// No bytes (an empty file).
    Empty,
    /// The data of member number `ordinal` of tar layer `layer`.
    Member { layer: usize, ordinal: u64 },
    /// A host file (a directory source's).
    Host(Vec<u8>),
    /// Bytes of a blob in the store from `offset` (a member copied out into its layer's pack),
    /// with their own sha256.
    Packed { pack: String, offset: u64, sha256: String },
}

/// Metadata shared by every name of one file (a hardlink group), or a directory's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub size: u64,
    pub link_target: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    /// The `security.capability` extended attribute (the only one BuildKit's tars carry).
    pub capability: Option<Vec<u8>>,
}

impl Meta {
    pub fn directory(mode: u32, uid: u32, gid: u32, mtime: i64) -> Meta {
        Meta {
            kind: EntryKind::Directory,
            mode,
            uid,
            gid,
            mtime,
            size: 0,
            link_target: Vec::new(),
            dev_major: 0,
            dev_minor: 0,
            capability: None,
        }
    }
}

/// A non-directory: its metadata and content, shared by its names.
#[derive(Debug, Clone)]
pub struct Inode {
    pub meta: Meta,
    pub content: Content,
}

#[derive(Debug, Clone)]
pub enum NodeKind {
    Dir(Meta),
    /// An index into [`Model::inodes`].
    File(usize),
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The layer that last wrote this path (whiteouts hide only lower layers' entries).
    pub layer: usize,
    pub kind: NodeKind,
}

/// The final tree being built.
#[derive(Debug, Default)]
pub struct Model {
    pub nodes: BTreeMap<Vec<u8>, Node>,
    pub inodes: Vec<Inode>,
}

/// What one entry of a layer puts at its path.
pub enum Put {
    Dir(Meta),
    File(Inode),
    /// A hardlink to the file at this path (as the layer names it), with the link's own metadata.
    Link {
        target: Vec<u8>,
        meta: Option<Meta>,
    },
}

pub fn key_of(components: &[&[u8]]) -> Vec<u8> {
    components.join(&0u8)
}

/// A key as a path: components joined by '/'.
pub fn path_of(key: &[u8]) -> Vec<u8> {
    key.iter().map(|&b| if b == 0 { b'/' } else { b }).collect()
}

/// The components of a layer entry's name: `./`, empty and `.` parts dropped (the name was
/// checked: relative, no `..`).
pub fn components(name: &[u8]) -> Vec<&[u8]> {
    name.split(|&b| b == b'/').filter(|c| !c.is_empty() && *c != b".").collect()
}

/// Keys strictly below `key` (all keys for the root).
fn below(key: &[u8]) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    if key.is_empty() {
        return (Bound::Unbounded, Bound::Unbounded);
    }
    (Bound::Included([key, b"\0"].concat()), Bound::Excluded([key, b"\x01"].concat()))
}

impl Model {
    fn is_dir(&self, key: &[u8]) -> bool {
        matches!(self.nodes.get(key), Some(Node { kind: NodeKind::Dir(_), .. }))
    }

    fn symlink_target(&self, key: &[u8]) -> Option<&[u8]> {
        match self.nodes.get(key) {
            Some(Node { kind: NodeKind::File(i), .. }) if self.inodes[*i].meta.kind == EntryKind::Symlink => {
                Some(&self.inodes[*i].meta.link_target)
            }
            _ => None,
        }
    }

    /// The directory `parents` names, with every symlink on the way resolved inside the root (an
    /// absolute target from the root, `..` stopping at the root: what containerd's and umoci's
    /// securejoin do), as components. `what` names the entry for errors.
    pub fn resolve_dir(&self, parents: &[&[u8]], what: &dyn Fn() -> String) -> Result<Vec<Vec<u8>>> {
        let mut resolved: Vec<Vec<u8>> = Vec::new();
        let mut pending: Vec<Vec<u8>> = parents.iter().rev().map(|c| c.to_vec()).collect();
        let mut followed = 0;
        while let Some(part) = pending.pop() {
            match part.as_slice() {
                b"" | b"." => continue,
                b".." => {
                    resolved.pop();
                    continue;
                }
                _ if part.contains(&0) => {
                    return Err(Error::source(format!("{}: a name or link target holds a NUL byte", what())));
                }
                _ => {}
            }
            resolved.push(part);
            let key = resolved.join(&0u8);
            let Some(target) = self.symlink_target(&key) else { continue };
            followed += 1;
            if followed > MAX_LINKS {
                return Err(Error::source(format!("{}: too many levels of symbolic links", what())));
            }
            resolved.pop();
            if target.starts_with(b"/") {
                resolved.clear();
            }
            pending.extend(target.split(|&b| b == b'/').rev().map(<[u8]>::to_vec));
        }
        Ok(resolved)
    }

    /// Create the directories on the way to `dir` that are missing (0755, root's, time 0, as
    /// an applier's MkdirAll); one that is there but not a directory is an error.
    fn make_parents(&mut self, dir: &[Vec<u8>], layer: usize, what: &dyn Fn() -> String) -> Result<()> {
        for i in 1..=dir.len() {
            let key = dir[..i].join(&0u8);
            match self.nodes.get(&key) {
                Some(Node { kind: NodeKind::Dir(_), .. }) => {}
                Some(_) => {
                    return Err(Error::source(format!(
                        "{}: {} is not a directory",
                        what(),
                        String::from_utf8_lossy(&path_of(&key))
                    )))
                }
                None => {
                    let meta = Meta::directory(0o755, 0, 0, 0);
                    self.nodes.insert(key, Node { layer, kind: NodeKind::Dir(meta) });
                }
            }
        }
        Ok(())
    }

    /// Remove `key` and everything below it.
    fn remove_tree(&mut self, key: &[u8]) {
        self.nodes.remove(key);
        let doomed: Vec<Vec<u8>> = self.nodes.range(below(key)).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
    }

    /// A whiteout's effect: what layers below `layer` have at `key` (itself too unless `only_below`)
    /// and under it goes; a directory still holding this layer's entries stays.
    fn hide_lower(&mut self, key: &[u8], layer: usize, only_below: bool) {
        let mut keys: Vec<Vec<u8>> = self.nodes.range(below(key)).map(|(k, _)| k.clone()).collect();
        if !only_below && self.nodes.contains_key(key) {
            keys.insert(0, key.to_vec());
        }
        // Children before their parents, so a parent knows whether anything stayed below it.
        for k in keys.into_iter().rev() {
            let node = &self.nodes[&k];
            if node.layer >= layer {
                continue;
            }
            let dir_kept = matches!(node.kind, NodeKind::Dir(_)) && self.nodes.range(below(&k)).next().is_some();
            if !dir_kept {
                self.nodes.remove(&k);
            }
        }
    }

    /// Apply one layer entry named `name` (already checked: relative, no `..`) from `layer`.
    /// Whiteouts are only interpreted when `whiteouts` (tar layers; a directory source's files
    /// named `.wh.*` are plain files). `what` names the layer for errors.
    pub fn apply(&mut self, layer: usize, name: &[u8], put: Put, whiteouts: bool, what: &str) -> Result<()> {
        if name.contains(&0) {
            return Err(Error::source(format!("{what}: a name holds a NUL byte: {}", String::from_utf8_lossy(name))));
        }
        let parts = components(name);
        let Some((last, parents)) = parts.split_last() else {
            // The root itself: its metadata is not exported.
            return Ok(());
        };
        let describe = || format!("{what}: {}", String::from_utf8_lossy(name));
        let dir = self.resolve_dir(parents, &describe)?;
        if whiteouts {
            if let Some(hidden) = last.strip_prefix(b".wh.") {
                let dir_key = dir.join(&0u8);
                if hidden == b".wh..opq" {
                    if !dir_key.is_empty() && !self.is_dir(&dir_key) {
                        self.make_parents(&dir, layer, &describe)?;
                    }
                    self.hide_lower(&dir_key, layer, true);
                } else if !hidden.starts_with(b".wh.") && !hidden.is_empty() {
                    // (Other `.wh..wh.` names are AUFS bookkeeping: skipped, as containerd does.)
                    let key = [dir.as_slice(), &[hidden.to_vec()]].concat().join(&0u8);
                    self.hide_lower(&key, layer, false);
                }
                return Ok(());
            }
        }
        self.make_parents(&dir, layer, &describe)?;
        let key = [dir.as_slice(), &[last.to_vec()]].concat().join(&0u8);
        let kind = match put {
            Put::Dir(meta) => {
                if let Some(Node { kind: NodeKind::Dir(old), layer: l }) = self.nodes.get_mut(&key) {
                    // A directory over a directory: the contents merge, the upper one's metadata wins.
                    *old = meta;
                    *l = layer;
                    return Ok(());
                }
                NodeKind::Dir(meta)
            }
            Put::File(inode) => {
                self.inodes.push(inode);
                NodeKind::File(self.inodes.len() - 1)
            }
            Put::Link { target, meta } => {
                if target.contains(&0) {
                    return Err(Error::source(format!("{}: the hardlink target holds a NUL byte", describe())));
                }
                let target_parts = components(&target);
                let Some((target_last, target_parents)) = target_parts.split_last() else {
                    return Err(Error::source(format!("{}: hardlink to the root", describe())));
                };
                let target_dir = self.resolve_dir(target_parents, &describe)?;
                let target_key = [target_dir.as_slice(), &[target_last.to_vec()]].concat().join(&0u8);
                let index = match self.nodes.get(&target_key) {
                    Some(Node { kind: NodeKind::File(i), .. }) => *i,
                    Some(_) => {
                        return Err(Error::source(format!(
                            "{}: hardlink to directory {}",
                            describe(),
                            String::from_utf8_lossy(&target)
                        )))
                    }
                    None => {
                        return Err(Error::source(format!(
                            "{}: hardlink to {}, which is not there",
                            describe(),
                            String::from_utf8_lossy(&target)
                        )))
                    }
                };
                if target_key == key {
                    return Ok(());
                }
                // The link's header changes the file all its names share (chown/chmod on the link).
                if let Some(meta) = meta {
                    let shared = &mut self.inodes[index].meta;
                    (shared.mode, shared.uid, shared.gid, shared.mtime) = (meta.mode, meta.uid, meta.gid, meta.mtime);
                    if meta.capability.is_some() {
                        shared.capability = meta.capability;
                    }
                }
                NodeKind::File(index)
            }
        };
        // A file over anything, or a directory over a non-directory: the lower one and its subtree go.
        self.remove_tree(&key);
        self.nodes.insert(key, Node { layer, kind });
        Ok(())
    }
}
