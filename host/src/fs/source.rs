//! The source tree: lstat-based entries (symlinks described, never followed) and chunked reads.

use crate::bindings::outport::core::types::{EntryKind, SourceEntry};
use crate::bindings::{CoreError, ErrorKind};
use crate::errors::io_error;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

fn path_of(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}

pub fn stat(path: &[u8]) -> Result<SourceEntry, CoreError> {
    let path = path_of(path);
    let meta = fs::symlink_metadata(path).map_err(|e| io_error(ErrorKind::Source, path, &e))?;
    let name = path.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
    entry(path, name, &meta)
}

pub fn read_dir(path: &[u8]) -> Result<Vec<SourceEntry>, CoreError> {
    let dir = path_of(path);
    let err = |p: &Path, e: std::io::Error| io_error(ErrorKind::Source, p, &e);
    let mut entries = Vec::new();
    for child in fs::read_dir(dir).map_err(|e| err(dir, e))? {
        let child = child.map_err(|e| err(dir, e))?;
        let child_path = child.path();
        let meta = fs::symlink_metadata(&child_path).map_err(|e| err(&child_path, e))?;
        entries.push(entry(&child_path, child.file_name().as_bytes().to_vec(), &meta)?);
    }
    Ok(entries)
}

fn entry(path: &Path, name: Vec<u8>, meta: &Metadata) -> Result<SourceEntry, CoreError> {
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        EntryKind::Symlink
    } else if ft.is_dir() {
        EntryKind::Directory
    } else if ft.is_file() {
        EntryKind::Regular
    } else if ft.is_char_device() {
        EntryKind::CharDevice
    } else if ft.is_block_device() {
        EntryKind::BlockDevice
    } else if ft.is_fifo() {
        EntryKind::Fifo
    } else {
        EntryKind::Socket
    };
    let link_target = if ft.is_symlink() {
        fs::read_link(path).map_err(|e| io_error(ErrorKind::Source, path, &e))?.as_os_str().as_bytes().to_vec()
    } else {
        Vec::new()
    };
    let is_device = ft.is_char_device() || ft.is_block_device();
    let rdev = meta.rdev();
    Ok(SourceEntry {
        name,
        kind,
        mode: meta.mode() & 0o7777,
        uid: meta.uid(),
        gid: meta.gid(),
        size: if ft.is_file() { meta.size() } else { 0 },
        mtime: meta.mtime(),
        link_target,
        dev_major: if is_device { major(rdev) } else { 0 },
        dev_minor: if is_device { minor(rdev) } else { 0 },
        device: meta.dev(),
        inode: meta.ino(),
        nlink: meta.nlink(),
        change_time_ns: meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec()),
    })
}

/// glibc's gnu_dev_major / gnu_dev_minor.
fn major(rdev: u64) -> u32 {
    (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff)) as u32
}
fn minor(rdev: u64) -> u32 {
    ((rdev & 0xff) | ((rdev >> 12) & !0xff)) as u32
}

/// Open source files by handle.
#[derive(Default)]
pub struct SourceFiles {
    files: HashMap<u32, (File, Vec<u8>)>,
    next: u32,
}

impl SourceFiles {
    pub fn open(&mut self, path: &[u8]) -> Result<u32, CoreError> {
        let file = File::open(path_of(path)).map_err(|e| io_error(ErrorKind::Source, path_of(path), &e))?;
        self.next += 1;
        self.files.insert(self.next, (file, path.to_vec()));
        Ok(self.next)
    }

    pub fn read(&mut self, handle: u32, max: u32) -> Result<Vec<u8>, CoreError> {
        let (file, path) = self
            .files
            .get_mut(&handle)
            .ok_or_else(|| crate::errors::error(ErrorKind::Internal, format!("source handle {handle} is not open")))?;
        let mut buf = vec![0u8; max as usize];
        let mut filled = 0;
        // Fill the whole request unless the file ends: the core treats a short read as the end.
        while filled < buf.len() {
            match file.read(&mut buf[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_error(ErrorKind::Source, path_of(path), &e)),
            }
        }
        buf.truncate(filled);
        Ok(buf)
    }

    pub fn close(&mut self, handle: u32) {
        self.files.remove(&handle);
    }
}
