//! Output files: written under a hidden temporary name beside the destination and renamed on
//! commit, so an interrupted export never leaves a half-written file at `dest`.

use crate::bindings::{CoreError, ErrorKind};
use crate::errors::{error, io_error};
use crate::store::BlobStore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

enum Target {
    Stdout,
    File { file: io::BufWriter<File>, temp: PathBuf, dest: PathBuf },
}

#[derive(Default)]
pub struct Outputs {
    open: HashMap<u32, Target>,
    next: u32,
    /// Staging directories of directory outputs, removed on drop if still there.
    staged: Vec<PathBuf>,
}

const COPY_CHUNK: usize = 1 << 20;

impl Outputs {
    pub fn open(&mut self, path: &str) -> Result<u32, CoreError> {
        let target = if path == "-" {
            if io::stdout().is_terminal() {
                return Err(error(
                    ErrorKind::Output,
                    "dest file is required for the output: refusing to write to a terminal",
                ));
            }
            Target::Stdout
        } else {
            let (temp, dest) = self.temp_for(path)?;
            let file = File::create(&temp).map_err(|e| io_error(ErrorKind::Output, &temp, &e))?;
            crate::signals::remember(&temp);
            Target::File { file: io::BufWriter::with_capacity(COPY_CHUNK, file), temp, dest }
        };
        self.next += 1;
        self.open.insert(self.next, target);
        Ok(self.next)
    }

    /// A new hidden temporary name beside `path` (whose parent must exist), and `path` itself.
    fn temp_for(&mut self, path: &str) -> Result<(PathBuf, PathBuf), CoreError> {
        let dest = PathBuf::from(path);
        if dest.is_dir() {
            return Err(error(ErrorKind::Output, format!("destination file {path} is a directory")));
        }
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(error(
                ErrorKind::Output,
                format!("{path}: parent directory {} does not exist", parent.display()),
            ));
        }
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.next += 1;
        Ok((parent.join(format!(".{name}.outport-{}-{}.tmp", std::process::id(), self.next)), dest))
    }

    pub fn write(&mut self, handle: u32, data: &[u8]) -> Result<(), CoreError> {
        match self.open.get_mut(&handle).ok_or_else(|| bad_handle(handle))? {
            Target::Stdout => {
                io::stdout().lock().write_all(data).map_err(|e| io_error(ErrorKind::Output, Path::new("<stdout>"), &e))
            }
            Target::File { file, temp, .. } => file.write_all(data).map_err(|e| io_error(ErrorKind::Output, temp, &e)),
        }
    }

    /// Stream a stored blob into the output, verifying its digest on the way (unless this run
    /// verified the unchanged file already).
    pub fn write_blob(&mut self, handle: u32, store: &BlobStore, digest: &str) -> Result<u64, CoreError> {
        let (mut blob, path, verified) = match store.verified_file(digest)? {
            Some((file, path)) => (file, path, true),
            None => {
                let path = store.blob_path(digest)?;
                (File::open(&path).map_err(|e| io_error(ErrorKind::Store, &path, &e))?, path, false)
            }
        };
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut total = 0u64;
        loop {
            let n = match blob.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(ErrorKind::Store, &path, &e)),
            };
            if !verified {
                hasher.update(&buf[..n]);
            }
            self.write(handle, &buf[..n])?;
            total += n as u64;
        }
        if !verified {
            let actual = format!("sha256:{:x}", hasher.finalize());
            store.remember_file(digest, &actual, &blob);
            if actual != digest {
                return Err(corrupt(digest, &path, &actual));
            }
        }
        Ok(total)
    }

    /// Put a stored blob at `path` as a whole file (an OCI layout's `blobs/`): a reflink or hard
    /// link to the store's file where both are on one file system, else a copy. The digest is
    /// checked either way, once per run for an unchanged blob. Returns the blob's size.
    pub fn place_blob(&mut self, path: &str, store: &BlobStore, digest: &str) -> Result<u64, CoreError> {
        let source = store.blob_path(digest)?;
        if store.verified_file(digest)?.is_none() {
            match store.digest(digest)? {
                Some(actual) if actual == digest => {}
                Some(actual) => return Err(corrupt(digest, &source, &actual)),
                None => return Err(error(ErrorKind::Store, format!("blob {digest} is not in the store"))),
            }
        }
        let (temp, dest) = self.temp_for(path)?;
        if link_or_clone(&source, &temp).is_ok() {
            let size = fs::metadata(&temp).map(|m| m.len());
            return match size.and_then(|size| fs::rename(&temp, &dest).map(|()| size)) {
                Ok(size) => Ok(size),
                Err(e) => {
                    let _ = fs::remove_file(&temp);
                    Err(io_error(ErrorKind::Output, &dest, &e))
                }
            };
        }
        let handle = self.open(path)?;
        match self.write_blob(handle, store, digest) {
            Ok(size) => self.commit(handle).map(|()| size),
            Err(e) => {
                self.abort(handle);
                Err(e)
            }
        }
    }

    pub fn commit(&mut self, handle: u32) -> Result<(), CoreError> {
        match self.open.remove(&handle).ok_or_else(|| bad_handle(handle))? {
            Target::Stdout => io::stdout().flush().map_err(|e| io_error(ErrorKind::Output, Path::new("<stdout>"), &e)),
            Target::File { file, temp, dest } => {
                let result = file
                    .into_inner()
                    .map_err(|e| e.into_error())
                    .and_then(|f| f.sync_all())
                    .and_then(|()| fs::rename(&temp, &dest))
                    .map_err(|e| io_error(ErrorKind::Output, &dest, &e));
                if result.is_err() {
                    let _ = fs::remove_file(&temp);
                }
                crate::signals::forget(&temp);
                result
            }
        }
    }

    pub fn abort(&mut self, handle: u32) {
        if let Some(Target::File { temp, .. }) = self.open.remove(&handle) {
            let _ = fs::remove_file(&temp);
            crate::signals::forget(&temp);
        }
    }

    /// A new, empty, hidden directory beside `path` to build a directory output in; `path`'s
    /// missing parents are created first, as buildx creates them for type=local.
    pub fn stage_dir(&mut self, path: &str) -> Result<String, CoreError> {
        let dest = Path::new(path);
        if let Some(parent) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(|e| io_error(ErrorKind::Output, parent, &e))?;
        }
        if fs::metadata(dest).is_ok_and(|m| !m.is_dir()) {
            return Err(error(ErrorKind::Output, format!("destination directory {path} is a file")));
        }
        let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        self.next += 1;
        let stage = parent.join(format!(".{name}.outport-{}-{}.tmp", std::process::id(), self.next));
        fs::create_dir(&stage).map_err(|e| io_error(ErrorKind::Output, &stage, &e))?;
        crate::signals::remember(&stage);
        self.staged.push(stage.clone());
        stage.into_os_string().into_string().map_err(|_| error(ErrorKind::Output, format!("{path}: not UTF-8")))
    }
}

fn corrupt(digest: &str, path: &Path, actual: &str) -> CoreError {
    error(ErrorKind::Store, format!("blob {digest} in the store is corrupt ({} has content {actual})", path.display()))
}

/// `temp` as a copy-on-write clone of `source` (btrfs, XFS: no bytes copied, and the two stay
/// independent), else as a hard link to it (the store's blobs are never written again in place).
fn link_or_clone(source: &Path, temp: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let from = File::open(source)?;
        let to = File::create(temp)?;
        // SAFETY: FICLONE takes two open descriptors and touches no memory of ours.
        if unsafe { libc::ioctl(to.as_raw_fd(), libc::FICLONE, from.as_raw_fd()) } == 0 {
            return Ok(());
        }
        drop(to);
        fs::remove_file(temp)?;
    }
    fs::hard_link(source, temp)
}

impl Drop for Outputs {
    /// Whatever was not committed (e.g. the core trapped) is removed, never left behind.
    fn drop(&mut self) {
        for (_, target) in self.open.drain() {
            if let Target::File { temp, .. } = target {
                let _ = fs::remove_file(&temp);
                crate::signals::forget(&temp);
            }
        }
        // A staged directory still here was not moved into place: the run failed.
        for stage in self.staged.drain(..) {
            let _ = fs::remove_dir_all(&stage);
            crate::signals::forget(&stage);
        }
    }
}

/// (device, inode) of `path`, symlinks followed.
pub fn identity(path: &str) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Create one directory; its parent must exist. An existing directory is fine.
pub fn mkdir(path: &str) -> Result<(), CoreError> {
    let p = Path::new(path);
    match fs::create_dir(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if p.is_dir() {
                Ok(())
            } else {
                Err(error(ErrorKind::Output, format!("destination directory {path} is a file")))
            }
        }
        Err(e) => Err(io_error(ErrorKind::Output, p, &e)),
    }
}

pub fn read(path: &str) -> Result<Option<Vec<u8>>, CoreError> {
    match fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error(ErrorKind::Output, Path::new(path), &e)),
    }
}

fn bad_handle(handle: u32) -> CoreError {
    error(ErrorKind::Internal, format!("output handle {handle} is not open"))
}
