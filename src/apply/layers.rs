//! Reading layers into the [`Model`]: tar layers (base image blobs in the store, `--layer`
//! tarballs on the host) are decoded with the shared decoders and read with the push tar parser,
//! twice: once for the headers (the final view), once more to copy the contents that survive into
//! the store. Directory sources go through the source walk.

use super::model::{Content, Inode, Meta, Model, Put};
use crate::compress::decode::{decode, HostFile, Sink, StoredBlob};
use crate::compress::estargz::reader as estargz;
use crate::digest::Hasher;
use crate::error::{Error, Result};
use crate::host::{EntryKind, Handle, Host, SourceEntry};
use crate::image::spec::Descriptor;
use crate::layer::source::LayerSource;
use crate::layer::walk::{self, Item, Mtime, Tree, Visitor};
use crate::tar::{paths, Entry, Event, Reader, TarError};
use std::collections::{HashMap, HashSet};

/// The PAX record of the `security.capability` extended attribute.
pub const CAPABILITY: &[u8; 32] = b"SCHILY.xattr.security.capability";

/// Where a tar layer's (compressed or plain) bytes are.
#[derive(Debug, Clone)]
pub enum TarLayer {
    /// A base image layer in the store.
    Stored(Descriptor),
    /// A layer tarball on the host.
    HostFile(Vec<u8>),
}

impl TarLayer {
    pub fn describe(&self) -> String {
        match self {
            TarLayer::Stored(d) => format!("base layer {}", d.digest),
            TarLayer::HostFile(path) => format!("layer tarball {}", walk::show(path)),
        }
    }

    /// Decode the layer's tar stream into `out`. Returns whether it was cut before an eStargz TOC
    /// (then the tar has no end-of-archive marker).
    async fn stream<H: Host, S: Sink>(&self, host: &H, out: &mut S) -> Result<bool> {
        let what = self.describe();
        match self {
            TarLayer::Stored(d) => {
                if host.blob_size(&d.digest).await?.is_none() {
                    return Err(Error::source(format!(
                        "{what} is not in the store{}: its files cannot be unpacked",
                        if d.urls.is_empty() { "" } else { " (a foreign layer, never pulled)" }
                    )));
                }
                // eStargz: the original tar is the blob before its TOC member (as BuildKit keeps it).
                let toc = estargz::read(host, &d.digest, d.size).await?;
                let end = toc.as_ref().map_or(d.size, |t| t.toc_offset);
                let mut source = StoredBlob { host, digest: &d.digest, offset: 0, end };
                decode(&mut source, &what, out).await?;
                Ok(toc.is_some())
            }
            TarLayer::HostFile(path) => {
                let handle = host.source_open(path).await?;
                let result = decode(&mut HostFile { host, handle }, &what, out).await;
                host.source_close(handle).await;
                result.map(|()| false)
            }
        }
    }
}

fn damaged(what: &str, tar: &Reader, e: TarError) -> Error {
    Error::source(format!("{what}: not a valid tar archive: {e} (header at byte {})", tar.header_at()))
}

/// The tar must be complete, except one cut before its eStargz TOC.
fn finished(what: &str, cut_at_toc: bool, tar: &Reader) -> Result<()> {
    match tar.finish() {
        Err(t) if !cut_at_toc => Err(Error::source(format!("{what}: truncated tar archive: {t}"))),
        _ => Ok(()),
    }
}

/// Pass 1: apply every header of tar layer number `index` to `model`.
pub async fn apply_tar<H: Host>(host: &H, model: &mut Model, index: usize, layer: &TarLayer) -> Result<()> {
    let what = layer.describe();
    let mut sink = Headers { model, index, what: &what, tar: Reader::new(), ordinal: 0 };
    let cut_at_toc = layer.stream(host, &mut sink).await?;
    finished(&what, cut_at_toc, &sink.tar)
}

struct Headers<'m> {
    model: &'m mut Model,
    index: usize,
    what: &'m str,
    tar: Reader,
    ordinal: u64,
}

impl Sink for Headers<'_> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let (n, event) = self.tar.read(rest).map_err(|e| damaged(self.what, &self.tar, e))?;
            rest = &rest[n..];
            if let Some(Event::Entry(entry)) = event {
                let ordinal = self.ordinal;
                self.ordinal += 1;
                paths::check_entry(&entry).map_err(|problem| {
                    Error::source(format!("{}: entry {:?}: {problem}", self.what, walk::show(&entry.name)))
                })?;
                if let Some(put) = put_of(&entry, self.index, ordinal, self.what)? {
                    self.model.apply(self.index, &entry.name, put, true, self.what)?;
                }
            }
        }
        Ok(())
    }
}

/// What a tar entry puts in the tree (None for a PAX global header).
fn put_of(entry: &Entry, layer: usize, ordinal: u64, what: &str) -> Result<Option<Put>> {
    let meta = |kind: EntryKind| Meta {
        kind,
        mode: (entry.mode & 0o7777) as u32,
        uid: entry.uid.clamp(0, u32::MAX as i64) as u32,
        gid: entry.gid.clamp(0, u32::MAX as i64) as u32,
        mtime: entry.mtime.0,
        size: 0,
        link_target: Vec::new(),
        dev_major: entry.devmajor.clamp(0, u32::MAX as i64) as u32,
        dev_minor: entry.devminor.clamp(0, u32::MAX as i64) as u32,
        capability: entry.pax.get(&CAPABILITY[..]).cloned(),
    };
    let special = |kind: EntryKind| Put::File(Inode { meta: meta(kind), content: Content::Empty });
    Ok(Some(match entry.typeflag {
        b'g' => return Ok(None),
        0 if entry.name.ends_with(b"/") => Put::Dir(meta(EntryKind::Directory)),
        b'0' | 0 | b'7' => {
            let size = entry.data_size();
            let content = if size == 0 { Content::Empty } else { Content::Member { layer, ordinal } };
            Put::File(Inode { meta: Meta { size, ..meta(EntryKind::Regular) }, content })
        }
        b'1' => Put::Link { target: entry.linkname.clone(), meta: Some(meta(EntryKind::Regular)) },
        b'2' => Put::File(Inode {
            meta: Meta { link_target: entry.linkname.clone(), ..meta(EntryKind::Symlink) },
            content: Content::Empty,
        }),
        b'3' => special(EntryKind::CharDevice),
        b'4' => special(EntryKind::BlockDevice),
        b'5' => Put::Dir(meta(EntryKind::Directory)),
        b'6' => special(EntryKind::Fifo),
        other => {
            return Err(Error::source(format!(
                "{what}: entry {:?}: unsupported tar entry type {:?}",
                walk::show(&entry.name),
                other as char
            )))
        }
    }))
}

/// Apply a directory source (ROOTFS, `--layer DIR`) as layer number `index`.
pub async fn apply_dir<H: Host>(host: &H, model: &mut Model, index: usize, source: &LayerSource) -> Result<()> {
    let roots = std::slice::from_ref(source);
    let what = format!("layer {}", walk::show(&source.path));
    let mut collect = Collect { model, index, what };
    walk::walk(host, &Tree { roots, mtime: Mtime::Keep, prefix: b"" }, &mut collect).await
}

struct Collect<'m> {
    model: &'m mut Model,
    index: usize,
    what: String,
}

impl Visitor for Collect<'_> {
    async fn visit(&mut self, name: &[u8], entry: &SourceEntry, item: Item<'_>) -> Result<()> {
        let meta = Meta {
            kind: entry.kind,
            mode: entry.mode & 0o7777,
            uid: entry.uid,
            gid: entry.gid,
            mtime: entry.mtime,
            size: 0,
            link_target: Vec::new(),
            dev_major: entry.dev_major,
            dev_minor: entry.dev_minor,
            capability: None,
        };
        let put = match item {
            Item::Directory => Put::Dir(meta),
            Item::File { source } => Put::File(Inode {
                meta: Meta { kind: EntryKind::Regular, size: entry.size, ..meta },
                content: if entry.size == 0 { Content::Empty } else { Content::Host(source.to_vec()) },
            }),
            Item::Packed { pack, offset, sha256, .. } => Put::File(Inode {
                meta: Meta { kind: EntryKind::Regular, size: entry.size, ..meta },
                content: Content::Packed { pack: pack.to_string(), offset, sha256: sha256.to_string() },
            }),
            Item::EmptyFile => {
                Put::File(Inode { meta: Meta { kind: EntryKind::Regular, ..meta }, content: Content::Empty })
            }
            Item::Hardlink { target } => Put::Link { target: target.to_vec(), meta: None },
            Item::Symlink => Put::File(Inode {
                meta: Meta { link_target: entry.link_target.clone(), ..meta },
                content: Content::Empty,
            }),
            Item::Special => Put::File(Inode { meta, content: Content::Empty }),
        };
        self.model.apply(self.index, name, put, false, &self.what)
    }
}

/// Pass 2 for one tar layer: the data of members `wanted`, one after the other, into one blob of
/// the store (the layer's pack). Returns the pack's digest (None when nothing was wanted) and, per
/// member ordinal, where its data starts in the pack and its sha256; `created` gets the pack unless
/// the store had it already.
pub async fn spill<H: Host>(
    host: &H,
    layer: &TarLayer,
    wanted: &HashSet<u64>,
    created: &mut Vec<String>,
) -> Result<(Option<String>, HashMap<u64, (u64, String)>)> {
    if wanted.is_empty() {
        return Ok((None, HashMap::new()));
    }
    let what = layer.describe();
    let handle = host.blob_create().await?;
    let mut sink = Spill {
        host,
        handle,
        what: &what,
        tar: Reader::new(),
        ordinal: 0,
        wanted,
        pack: Hasher::new(),
        written: 0,
        open: None,
        found: HashMap::new(),
    };
    if let Err(e) = layer.stream(host, &mut sink).await {
        host.blob_abort(handle).await;
        return Err(e);
    }
    let Spill { pack, found, .. } = sink;
    let digest = pack.finish();
    if host.blob_size(&digest).await?.is_some() {
        host.blob_abort(handle).await;
    } else {
        host.blob_commit(handle, &digest).await?;
        created.push(digest.clone());
    }
    Ok((Some(digest), found))
}

struct Spill<'a, H: Host> {
    host: &'a H,
    handle: Handle,
    what: &'a str,
    tar: Reader,
    ordinal: u64,
    wanted: &'a HashSet<u64>,
    /// The whole pack's hash and length so far.
    pack: Hasher,
    written: u64,
    /// The member being copied: its ordinal, where it starts in the pack, its own hash.
    open: Option<(u64, u64, Hasher)>,
    found: HashMap<u64, (u64, String)>,
}

impl<H: Host> Sink for Spill<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        let mut rest = data;
        while !rest.is_empty() {
            let (n, event) = self.tar.read(rest).map_err(|e| damaged(self.what, &self.tar, e))?;
            rest = &rest[n..];
            match event {
                Some(Event::Entry(entry)) => {
                    let ordinal = self.ordinal;
                    self.ordinal += 1;
                    if entry.data_size() > 0 && self.wanted.contains(&ordinal) {
                        self.open = Some((ordinal, self.written, Hasher::new()));
                    }
                }
                Some(Event::Data(chunk)) => {
                    if let Some((_, _, hasher)) = self.open.as_mut() {
                        hasher.update(chunk);
                        self.pack.update(chunk);
                        self.written += chunk.len() as u64;
                        self.host.blob_write(self.handle, chunk).await?;
                    }
                    if self.tar.data_left() == 0 {
                        if let Some((ordinal, start, hasher)) = self.open.take() {
                            self.found.insert(ordinal, (start, hasher.finish()));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
