//! Layer application: the final root filesystem of a platform whose layers are not all directories
//! on the host (a `--base` image's layers, `--layer` tarballs), for the outputs that write the
//! filesystem itself (type=local, type=tar, unpack=true).
//!
//! Layers are applied in order by the OCI image-spec's changeset rules, as containerd's applier and
//! umoci apply them: `.wh.NAME` hides NAME of the lower layers, `.wh..wh..opq` everything the lower
//! layers had in its directory; a later entry replaces an earlier one (a directory over a directory
//! merges, anything else takes the lower one's place and its subtree goes); hardlinks within and
//! across layers share the file; whiteouts never appear. Symlinks met on the way to an entry (or a
//! hardlink target) are resolved inside the root, never outside it: `lib -> /usr/lib` puts
//! `lib/x` at `usr/lib/x`, `evil -> ../../..` puts `evil/x` at `x`. Names that are absolute or
//! climb with `..` are refused, as in `--layer` tarballs.
//!
//! Memory holds only paths and metadata. The output order is BuildKit's (depth first, names
//! byte-sorted), which a layer's own order is not, so contents cannot be streamed from the layers
//! while writing: pass 1 reads every layer's headers to compute the final tree; pass 2 decodes each
//! layer once more and copies the contents that survive, one after the other, into one blob of the
//! store per layer (its pack); the output then reads each file from its pack, by offset, in order.
//! The packs are removed when the output is written ([`Final::release`]).

pub mod layers;
pub mod model;
#[cfg(test)]
mod tests;

use crate::error::{Error, Result};
use crate::host::{EntryKind, Host, ProgressEvent, SourceEntry};
use crate::image::spec::Descriptor;
use crate::layer::source::{LayerSource, SourceKind};
use crate::layer::walk::{self, Item, Mtime, Tree, Visitor};
use layers::TarLayer;
use model::{path_of, Content, Model, NodeKind};
use std::collections::{HashMap, HashSet};

/// One platform's final filesystem, ready to be visited (any number of times).
pub enum Final<'a> {
    /// Only directory sources: the source walk merges them itself.
    Walk(&'a [LayerSource]),
    /// Layers applied into a model; `spilled` are the blobs pass 2 added to the store.
    Applied { model: Model, spilled: Vec<String> },
}

impl<'a> Final<'a> {
    /// The filesystem of `base` (stored layers, bottom first) under `layers`.
    pub async fn prepare<H: Host>(
        host: &H,
        base: &[(Descriptor, String)],
        layers: &'a [LayerSource],
    ) -> Result<Final<'a>> {
        if base.is_empty() && layers.iter().all(|l| l.kind != SourceKind::Tarball) {
            return Ok(Final::Walk(layers));
        }
        let mut model = Model::default();
        let mut tars: Vec<(usize, TarLayer)> = Vec::new();
        let stored = base.iter().map(|(d, _)| Step::Tar(TarLayer::Stored(d.clone())));
        let given = layers.iter().map(|l| match l.kind {
            SourceKind::Tarball => Step::Tar(TarLayer::HostFile(l.path.clone())),
            _ => Step::Dir(l),
        });
        for (index, step) in stored.chain(given).enumerate() {
            match step {
                Step::Dir(source) => layers::apply_dir(host, &mut model, index, source).await?,
                Step::Tar(tar) => {
                    progress(host, &tar, 0);
                    layers::apply_tar(host, &mut model, index, &tar).await?;
                    progress(host, &tar, 1);
                    tars.push((index, tar));
                }
            }
        }
        let mut spilled = Vec::new();
        match spill(host, &mut model, &tars, &mut spilled).await {
            Ok(()) => Ok(Final::Applied { model, spilled }),
            Err(e) => {
                remove(host, &spilled).await;
                Err(e)
            }
        }
    }

    /// Visit the final tree in BuildKit's order, every name with `prefix`.
    pub async fn visit<H: Host, V: Visitor>(
        &self,
        host: &H,
        mtime: Mtime,
        prefix: &[u8],
        visitor: &mut V,
    ) -> Result<()> {
        match self {
            Final::Walk(roots) => walk::walk(host, &Tree { roots, mtime, prefix }, visitor).await,
            Final::Applied { model, .. } => emit(model, mtime, prefix, visitor).await,
        }
    }

    /// Remove the blobs this tree added to the store.
    pub async fn release<H: Host>(&self, host: &H) {
        if let Final::Applied { spilled, .. } = self {
            remove(host, spilled).await;
        }
    }
}

/// Phase `apply` per tar layer: 1 of 2 once its headers are applied, 2 once its surviving
/// contents are copied out.
fn progress<H: Host>(host: &H, tar: &TarLayer, current: u64) {
    let id = match tar {
        TarLayer::Stored(d) => d.digest.clone(),
        TarLayer::HostFile(path) => walk::show(path),
    };
    host.progress(ProgressEvent { phase: "apply".into(), id, current, total: 2 });
}

/// One layer to apply.
enum Step<'s> {
    Tar(TarLayer),
    Dir(&'s LayerSource),
}

async fn remove<H: Host>(host: &H, blobs: &[String]) {
    for digest in blobs {
        let _ = host.blob_remove(digest).await;
    }
}

/// Pass 2: the contents of every file still in the tree, copied out of their tar layers.
async fn spill<H: Host>(
    host: &H,
    model: &mut Model,
    tars: &[(usize, TarLayer)],
    created: &mut Vec<String>,
) -> Result<()> {
    let live: HashSet<usize> = model
        .nodes
        .values()
        .filter_map(|n| match n.kind {
            NodeKind::File(i) => Some(i),
            NodeKind::Dir(_) => None,
        })
        .collect();
    let mut wanted: HashMap<usize, HashSet<u64>> = HashMap::new();
    for &i in &live {
        if let Content::Member { layer, ordinal } = model.inodes[i].content {
            wanted.entry(layer).or_default().insert(ordinal);
        }
    }
    for (index, tar) in tars {
        let Some(members) = wanted.get(index) else {
            progress(host, tar, 2);
            continue;
        };
        let (pack, found) = layers::spill(host, tar, members, created).await?;
        progress(host, tar, 2);
        let Some(pack) = pack else { continue };
        for &i in &live {
            let inode = &mut model.inodes[i];
            if let Content::Member { layer, ordinal } = inode.content {
                if layer == *index {
                    let (offset, sha256) = found.get(&ordinal).cloned().ok_or_else(|| {
                        Error::internal(format!("{}: member {ordinal} was not found again", tar.describe()))
                    })?;
                    inode.content = Content::Packed { pack: pack.clone(), offset, sha256 };
                }
            }
        }
    }
    Ok(())
}

/// Hand the model's entries to `visitor` in key order (depth first, byte-sorted): a file with
/// several names is written at the first and linked at the others.
async fn emit<V: Visitor>(model: &Model, mtime: Mtime, prefix: &[u8], visitor: &mut V) -> Result<()> {
    let mut names = vec![0u64; model.inodes.len()];
    for node in model.nodes.values() {
        if let NodeKind::File(i) = node.kind {
            names[i] += 1;
        }
    }
    let mut first: HashMap<usize, Vec<u8>> = HashMap::new();
    for (key, node) in &model.nodes {
        let name = [prefix, &path_of(key)].concat();
        let last = key.rsplit(|&b| b == 0).next().unwrap_or_default().to_vec();
        let (meta, inode) = match &node.kind {
            NodeKind::Dir(meta) => (meta, None),
            NodeKind::File(i) => (&model.inodes[*i].meta, Some(*i)),
        };
        let entry = SourceEntry {
            name: last,
            kind: meta.kind,
            mode: meta.mode,
            uid: meta.uid,
            gid: meta.gid,
            size: meta.size,
            mtime: mtime.apply(meta.mtime),
            link_target: meta.link_target.clone(),
            dev_major: meta.dev_major,
            dev_minor: meta.dev_minor,
            device: 0,
            inode: inode.map_or(0, |i| i as u64 + 1),
            nlink: inode.map_or(1, |i| names[i]),
            change_time_ns: 0,
        };
        let Some(i) = inode else {
            visitor.visit(&name, &entry, Item::Directory).await?;
            continue;
        };
        if let Some(target) = first.get(&i) {
            visitor.visit(&name, &entry, Item::Hardlink { target }).await?;
            continue;
        }
        if names[i] > 1 {
            first.insert(i, name.clone());
        }
        let item = match (meta.kind, &model.inodes[i].content) {
            (EntryKind::Directory, _) => Item::Directory,
            (EntryKind::Regular, Content::Empty) => Item::EmptyFile,
            (EntryKind::Regular, Content::Packed { pack, offset, sha256 }) => {
                Item::Packed { pack, offset: *offset, sha256, capability: meta.capability.as_deref() }
            }
            (EntryKind::Regular, Content::Host(source)) => Item::File { source },
            (EntryKind::Regular, Content::Member { .. }) => {
                return Err(Error::internal(format!("{}: content not copied out", walk::show(&name))))
            }
            (EntryKind::Symlink, _) => Item::Symlink,
            _ => Item::Special,
        };
        visitor.visit(&name, &entry, item).await?;
    }
    Ok(())
}
