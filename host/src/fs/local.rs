//! The local exporter's file-system operations. Nothing here follows a symlink that is already in
//! the destination: an existing entry of the wrong kind is removed and replaced.

use crate::bindings::{CoreError, ErrorKind};
use crate::errors::io_error;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn err(path: &Path, e: io::Error) -> CoreError {
    io_error(ErrorKind::Output, path, &e)
}

/// Remove whatever is at `path` unless it is a real directory (symlinks are removed, not followed).
fn clear(path: &Path, keep_dir: bool) -> Result<(), CoreError> {
    match fs::symlink_metadata(path) {
        Ok(m) if keep_dir && m.is_dir() => Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(|e| err(path, e)),
        Ok(_) => fs::remove_file(path).map_err(|e| err(path, e)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(err(path, e)),
    }
}

pub fn create_dir(path: &str) -> Result<(), CoreError> {
    let p = Path::new(path);
    clear(p, true)?;
    match fs::create_dir(p) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(err(p, e)),
    }
}

pub fn symlink(path: &str, target: &[u8]) -> Result<(), CoreError> {
    let p = Path::new(path);
    clear(p, false)?;
    std::os::unix::fs::symlink(OsStr::from_bytes(target), p).map_err(|e| err(p, e))
}

pub fn hardlink(path: &str, target: &str) -> Result<(), CoreError> {
    let p = Path::new(path);
    clear(p, false)?;
    fs::hard_link(target, p).map_err(|e| err(p, e))
}

/// Names in `path` with whether each is a real directory; None when `path` is not a directory.
pub fn list_dir(path: &str) -> Result<Option<Vec<(String, bool)>>, CoreError> {
    let p = Path::new(path);
    match fs::symlink_metadata(p) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(p, e)),
    }
    let mut names = Vec::new();
    for entry in fs::read_dir(p).map_err(|e| err(p, e))? {
        let entry = entry.map_err(|e| err(p, e))?;
        let is_dir = entry.file_type().map_err(|e| err(&entry.path(), e))?.is_dir();
        names.push((entry.file_name().to_string_lossy().into_owned(), is_dir));
    }
    Ok(Some(names))
}

pub fn remove(path: &str) -> Result<(), CoreError> {
    clear(Path::new(path), false)
}

/// Mode and mtime always; ownership only where the process may change it (root), as an
/// unprivileged `docker buildx --output type=local` leaves files owned by the user. A symlink gets
/// its own owner and time, never its target's.
pub fn set_attributes(path: &str, mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<(), CoreError> {
    let p = Path::new(path);
    let meta = fs::symlink_metadata(p).map_err(|e| err(p, e))?;
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::lchown(p, Some(uid), Some(gid)).map_err(|e| err(p, e))?;
    }
    // Times before permissions: a mode like 0000 must not stop us from setting them.
    set_mtime(p, mtime)?;
    if !meta.file_type().is_symlink() {
        fs::set_permissions(p, fs::Permissions::from_mode(mode & 0o7777)).map_err(|e| err(p, e))?;
    }
    Ok(())
}

fn set_mtime(p: &Path, mtime: i64) -> Result<(), CoreError> {
    let c_path =
        std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(|_| err(p, io::ErrorKind::InvalidInput.into()))?;
    let time = libc::timespec { tv_sec: mtime as libc::time_t, tv_nsec: 0 };
    let times = [time, time];
    // SAFETY: c_path is a valid NUL-terminated string and times points at two timespecs.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c_path.as_ptr(), times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc != 0 {
        return Err(err(p, io::Error::last_os_error()));
    }
    Ok(())
}

/// Move a staged entry into place (see `output-move` in the WIT): true when moved, false when
/// `from` and `to` are both directories and the core merges them.
pub fn move_entry(from: &str, to: &str, into_link: bool) -> Result<bool, CoreError> {
    let (source, target) = (Path::new(from), Path::new(to));
    let from_dir = fs::symlink_metadata(source).map_err(|e| err(source, e))?.is_dir();
    match fs::symlink_metadata(target) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(target, e)),
        Ok(m) if m.is_dir() && from_dir => return Ok(false),
        Ok(m) if m.file_type().is_symlink() && into_link && from_dir && target.is_dir() => return Ok(false),
        Ok(m) if into_link && from_dir && !m.file_type().is_symlink() => {
            return Err(crate::errors::error(ErrorKind::Output, format!("destination directory {to} is a file")))
        }
        // A file over a file is one atomic rename; anything else goes first.
        Ok(m) if m.is_dir() || from_dir => clear(target, false)?,
        Ok(_) => {}
    }
    fs::rename(source, target).map_err(|e| err(target, e))?;
    crate::signals::forget(source);
    Ok(true)
}
