//! Walk a source tree through the host and emit a deterministic tar stream, the way BuildKit's
//! differ does: depth first, names byte-sorted within each directory, parents before children,
//! no root entry, directories with a trailing '/', hardlinks as typeflag 1 pointing at the first
//! path seen, sockets skipped, symlinks recorded and never followed.

use super::blob_writer::BlobWriter;
use super::tar::{self, typeflag, Header};
use crate::error::{Error, Result};
use crate::host::{EntryKind, Host, SourceEntry};
use std::collections::HashMap;

/// How much of a file is requested from the host at a time.
const READ_CHUNK: u32 = 1 << 20;

/// `clamp_mtime`: rewrite-timestamp's epoch; entries newer than it get it, older ones keep theirs.
pub async fn write_tree<H: Host>(
    host: &H,
    root: &[u8],
    clamp_mtime: Option<i64>,
    out: &mut BlobWriter<'_, H>,
) -> Result<()> {
    let root_entry = host.source_stat(root).await?;
    if root_entry.kind != EntryKind::Directory {
        return Err(Error::source(format!("rootfs {} is not a directory", show(root))));
    }
    let mut first_path_of_inode: HashMap<(u64, u64), Vec<u8>> = HashMap::new();
    // Each stack frame: the directory's relative path (with trailing '/', empty for the root) and its
    // remaining children, reversed so `pop` yields them in sorted order.
    let mut stack: Vec<(Vec<u8>, Vec<SourceEntry>)> = vec![(Vec::new(), sorted_children(host, root, b"").await?)];
    while let Some((dir, children)) = stack.last_mut() {
        let Some(mut entry) = children.pop() else {
            stack.pop();
            continue;
        };
        if let Some(epoch) = clamp_mtime {
            entry.mtime = entry.mtime.min(epoch);
        }
        let mut rel = dir.clone();
        rel.extend_from_slice(&entry.name);
        match entry.kind {
            EntryKind::Socket => continue,
            EntryKind::Directory => {
                rel.push(b'/');
                out.write(&tar::encode(&header(&entry, rel.clone(), typeflag::DIRECTORY))).await?;
                let children = sorted_children(host, root, &rel).await?;
                stack.push((rel, children));
            }
            EntryKind::Regular if entry.nlink > 1 => {
                let key = (entry.device, entry.inode);
                if let Some(target) = first_path_of_inode.get(&key) {
                    let mut h = header(&entry, rel, typeflag::HARDLINK);
                    h.linkname = target.clone();
                    h.size = 0;
                    out.write(&tar::encode(&h)).await?;
                } else {
                    first_path_of_inode.insert(key, rel.clone());
                    write_file(host, root, &entry, rel, out).await?;
                }
            }
            EntryKind::Regular => write_file(host, root, &entry, rel, out).await?,
            EntryKind::Symlink => {
                let mut h = header(&entry, rel, typeflag::SYMLINK);
                h.linkname = entry.link_target.clone();
                out.write(&tar::encode(&h)).await?;
            }
            EntryKind::CharDevice | EntryKind::BlockDevice => {
                let flag = if entry.kind == EntryKind::CharDevice { typeflag::CHAR } else { typeflag::BLOCK };
                let mut h = header(&entry, rel, flag);
                h.devmajor = entry.dev_major as i64;
                h.devminor = entry.dev_minor as i64;
                out.write(&tar::encode(&h)).await?;
            }
            EntryKind::Fifo => out.write(&tar::encode(&header(&entry, rel, typeflag::FIFO))).await?,
        }
    }
    out.write(&tar::TRAILER).await
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

async fn sorted_children<H: Host>(host: &H, root: &[u8], rel: &[u8]) -> Result<Vec<SourceEntry>> {
    let mut children = host.source_read_dir(&join(root, rel)).await?;
    for child in &children {
        if child.name.is_empty() || child.name.contains(&b'/') || child.name == b"." || child.name == b".." {
            return Err(Error::source(format!(
                "host returned an invalid entry name {:?} in {}",
                show(&child.name),
                show(&join(root, rel))
            )));
        }
    }
    // Reverse byte order: the walk pops from the end.
    children.sort_by(|a, b| b.name.cmp(&a.name));
    Ok(children)
}

async fn write_file<H: Host>(
    host: &H,
    root: &[u8],
    entry: &SourceEntry,
    rel: Vec<u8>,
    out: &mut BlobWriter<'_, H>,
) -> Result<()> {
    let path = join(root, &rel);
    let mut h = header(entry, rel, typeflag::REGULAR);
    h.size = entry.size as i64;
    out.write(&tar::encode(&h)).await?;
    let handle = host.source_open(&path).await?;
    let copied = copy_file(host, handle, entry.size, &path, out).await;
    host.source_close(handle).await;
    copied?;
    out.write(&[0u8; tar::BLOCK][..tar::padding(entry.size)]).await
}

async fn copy_file<H: Host>(host: &H, handle: u32, size: u64, path: &[u8], out: &mut BlobWriter<'_, H>) -> Result<()> {
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
