//! The local content store: an OCI-layout-shaped directory, blobs at `blobs/sha256/<hex>`.
//! New blobs are written under `ingest/` and renamed into place, so a blob never sits under its
//! final name with partial content.

pub mod lock;

use crate::bindings::{CoreError, ErrorKind};
use crate::errors::{error, io_error};
use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

pub struct BlobStore {
    root: PathBuf,
    writers: HashMap<u32, (File, PathBuf)>,
    next: u32,
    /// Blobs hashed in this run and found right, with the identity of the file hashed: a blob
    /// whose file is unchanged since is not hashed again (a cached re-export hashes each once).
    verified: std::sync::Mutex<HashMap<String, FileIdentity>>,
}

/// What tells a file apart from any rewrite of it: inode, size and change time (any write or
/// rename-over moves ctime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    ctime_ns: i128,
}

impl FileIdentity {
    fn of(metadata: &fs::Metadata) -> FileIdentity {
        use std::os::unix::fs::MetadataExt;
        FileIdentity {
            dev: metadata.dev(),
            ino: metadata.ino(),
            len: metadata.len(),
            ctime_ns: i128::from(metadata.ctime()) * 1_000_000_000 + i128::from(metadata.ctime_nsec()),
        }
    }
}

/// The `<hex>` of a well-formed sha256 digest; digests become file names, so nothing else passes.
pub fn hex_of(digest: &str) -> Result<&str, CoreError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .ok_or_else(|| error(ErrorKind::Internal, format!("invalid digest {digest:?}")))
}

impl BlobStore {
    pub fn new(root: PathBuf) -> BlobStore {
        BlobStore { root, writers: HashMap::new(), next: 0, verified: Default::default() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, CoreError> {
        Ok(self.root.join("blobs").join("sha256").join(hex_of(digest)?))
    }

    fn io(&self, path: &Path, e: std::io::Error) -> CoreError {
        io_error(ErrorKind::Store, path, &e)
    }

    pub fn size(&self, digest: &str) -> Result<Option<u64>, CoreError> {
        let path = self.blob_path(digest)?;
        match fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    pub fn create(&mut self) -> Result<u32, CoreError> {
        let ingest = self.root.join("ingest");
        fs::create_dir_all(&ingest).map_err(|e| self.io(&ingest, e))?;
        self.next += 1;
        let temp = ingest.join(format!("{}-{}.tmp", std::process::id(), self.next));
        let file = File::create(&temp).map_err(|e| self.io(&temp, e))?;
        crate::signals::remember(&temp);
        self.writers.insert(self.next, (file, temp));
        Ok(self.next)
    }

    pub fn write(&mut self, handle: u32, data: &[u8]) -> Result<(), CoreError> {
        let (file, temp) = self.writer(handle)?;
        file.write_all(data).map_err(|e| io_error(ErrorKind::Store, temp, &e))
    }

    pub fn commit(&mut self, handle: u32, digest: &str) -> Result<(), CoreError> {
        let final_path = self.blob_path(digest)?;
        let (file, temp) = self.writers.remove(&handle).ok_or_else(|| bad_handle(handle))?;
        let result = file.sync_all().map_err(|e| self.io(&temp, e)).and_then(|()| {
            let dir = final_path.parent().expect("blob paths have a parent");
            fs::create_dir_all(dir).map_err(|e| self.io(dir, e))?;
            fs::rename(&temp, &final_path).map_err(|e| self.io(&final_path, e))
        });
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        crate::signals::forget(&temp);
        result
    }

    pub fn abort(&mut self, handle: u32) {
        if let Some((_, temp)) = self.writers.remove(&handle) {
            let _ = fs::remove_file(&temp);
            crate::signals::forget(&temp);
        }
    }

    pub fn read(&self, digest: &str, offset: u64, max: u32) -> Result<Vec<u8>, CoreError> {
        let path = self.blob_path(digest)?;
        let mut file = File::open(&path).map_err(|e| self.io(&path, e))?;
        file.seek(SeekFrom::Start(offset)).map_err(|e| self.io(&path, e))?;
        let mut buf = Vec::with_capacity(max as usize);
        file.take(max as u64).read_to_end(&mut buf).map_err(|e| self.io(&path, e))?;
        Ok(buf)
    }

    /// sha256 of the stored blob's bytes as they are now, hashed natively; None if absent.
    pub fn digest(&self, digest: &str) -> Result<Option<String>, CoreError> {
        let path = self.blob_path(digest)?;
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io(&path, e)),
        };
        let identity = FileIdentity::of(&file.metadata().map_err(|e| self.io(&path, e))?);
        if self.verified.lock().expect("not poisoned").get(digest) == Some(&identity) {
            return Ok(Some(digest.to_string()));
        }
        let actual = hash_file(&mut file).map_err(|e| self.io(&path, e))?;
        self.remember(digest, &actual, identity);
        Ok(Some(actual))
    }

    /// The blob's file if it was verified in this run and is unchanged since (then no need to
    /// hash it again).
    pub fn verified_file(&self, digest: &str) -> Result<Option<(File, PathBuf)>, CoreError> {
        let path = self.blob_path(digest)?;
        let Ok(file) = File::open(&path) else { return Ok(None) };
        let identity = file.metadata().map(|m| FileIdentity::of(&m)).ok();
        let known = self.verified.lock().expect("not poisoned").get(digest).copied();
        Ok((identity.is_some() && identity == known).then_some((file, path)))
    }

    /// Note a hash of `file` (as it was when `identity` was taken) that came out `actual`.
    pub fn remember_file(&self, digest: &str, actual: &str, file: &File) {
        if let Ok(metadata) = file.metadata() {
            self.remember(digest, actual, FileIdentity::of(&metadata));
        }
    }

    fn remember(&self, digest: &str, actual: &str, identity: FileIdentity) {
        let mut verified = self.verified.lock().expect("not poisoned");
        if actual == digest {
            verified.insert(digest.to_string(), identity);
        } else {
            verified.remove(digest);
        }
    }

    /// Every blob under `blobs/sha256/` whose name is a digest (anything else is not ours).
    pub fn list(&self) -> Result<Vec<String>, CoreError> {
        let dir = self.root.join("blobs").join("sha256");
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(self.io(&dir, e)),
        };
        let mut digests = Vec::new();
        for entry in entries {
            let name = entry.map_err(|e| self.io(&dir, e))?.file_name();
            let digest = format!("sha256:{}", name.to_string_lossy());
            if hex_of(&digest).is_ok() {
                digests.push(digest);
            }
        }
        digests.sort();
        Ok(digests)
    }

    pub fn remove(&self, digest: &str) -> Result<(), CoreError> {
        let path = self.blob_path(digest)?;
        fs::remove_file(&path).map_err(|e| self.io(&path, e))
    }

    /// `<store>/unpacked/<hex>`: where unpack=true extracts image `digest`.
    pub fn unpack_dir(&self, digest: &str) -> Result<String, CoreError> {
        let parent = self.root.join("unpacked");
        fs::create_dir_all(&parent).map_err(|e| self.io(&parent, e))?;
        Ok(parent.join(hex_of(digest)?).to_string_lossy().into_owned())
    }

    /// `<store>/cache/<key>`: a compression cache record (the core checks it before use).
    fn cache_path(&self, key: &str) -> Result<PathBuf, CoreError> {
        if key.len() != 64 || !key.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
            return Err(error(ErrorKind::Internal, format!("invalid cache key {key:?}")));
        }
        Ok(self.root.join("cache").join(key))
    }

    pub fn read_cache(&self, key: &str) -> Result<Option<Vec<u8>>, CoreError> {
        let path = self.cache_path(key)?;
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    pub fn write_cache(&self, key: &str, data: &[u8]) -> Result<(), CoreError> {
        let path = self.cache_path(key)?;
        let dir = self.root.join("cache");
        let temp = dir.join(format!(".{key}.{}.tmp", std::process::id()));
        let written =
            fs::create_dir_all(&dir).and_then(|()| fs::write(&temp, data)).and_then(|()| fs::rename(&temp, &path));
        written.map_err(|e| {
            let _ = fs::remove_file(&temp);
            self.io(&path, e)
        })
    }

    pub fn read_index(&self) -> Result<Option<Vec<u8>>, CoreError> {
        let path = self.root.join("index.json");
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    /// Replace index.json atomically; `oci-layout` is written alongside so the store is an OCI layout.
    pub fn write_index(&self, data: &[u8]) -> Result<(), CoreError> {
        fs::create_dir_all(&self.root).map_err(|e| self.io(&self.root, e))?;
        for (name, bytes) in [("oci-layout", &br#"{"imageLayoutVersion":"1.0.0"}"#[..]), ("index.json", data)] {
            let path = self.root.join(name);
            let temp = self.root.join(format!(".{name}.{}.tmp", std::process::id()));
            let written = fs::write(&temp, bytes).and_then(|()| fs::rename(&temp, &path));
            if let Err(e) = written {
                let _ = fs::remove_file(&temp);
                return Err(self.io(&path, e));
            }
        }
        Ok(())
    }

    fn writer(&mut self, handle: u32) -> Result<&mut (File, PathBuf), CoreError> {
        self.writers.get_mut(&handle).ok_or_else(|| bad_handle(handle))
    }
}

fn bad_handle(handle: u32) -> CoreError {
    error(ErrorKind::Internal, format!("blob handle {handle} is not open"))
}

/// sha256 of a whole file, read 1 MiB at a time.
pub fn hash_file(file: &mut File) -> std::io::Result<String> {
    use sha2::Digest as _;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(format!("sha256:{:x}", hasher.finalize())),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

impl BlobStore {
    /// Temporary files no running process owns: each name carries its writer's PID
    /// (`ingest/PID-N.tmp`, `.NAME.PID.tmp`, `cache/.KEY.PID.tmp`, `lock.PID.tmp`). Removed first
    /// when `remove` (gc, which holds the store lock).
    pub fn temporaries(&self, remove: bool) -> Result<Vec<(String, u64)>, CoreError> {
        let mut found = Vec::new();
        for dir in ["", "ingest", "cache"] {
            let path = self.root.join(dir);
            let entries = match fs::read_dir(&path) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(&path, e)),
            };
            for entry in entries {
                let entry = entry.map_err(|e| self.io(&path, e))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                let Some(pid) = temporary_owner(&name) else { continue };
                let meta = entry.metadata().map_err(|e| self.io(&entry.path(), e))?;
                if !meta.is_file() || crate::store::lock::pid_exists(pid) {
                    continue;
                }
                if remove {
                    fs::remove_file(entry.path()).map_err(|e| self.io(&entry.path(), e))?;
                }
                found.push((if dir.is_empty() { name } else { format!("{dir}/{name}") }, meta.len()));
            }
        }
        found.sort();
        Ok(found)
    }
}

/// The PID in a temporary file's name: `PID-N.tmp`, `.NAME.PID.tmp` or `lock.PID.tmp`.
fn temporary_owner(name: &str) -> Option<i32> {
    let stem = name.strip_suffix(".tmp")?;
    let digits = match stem.split_once('-') {
        Some((pid, n)) if !stem.starts_with('.') && n.bytes().all(|b| b.is_ascii_digit()) => pid,
        _ => stem.rsplit('.').next()?,
    };
    digits.parse().ok().filter(|&pid| pid > 0)
}

#[cfg(test)]
mod temporary_tests {
    #[test]
    fn temporary_names_carry_their_owner() {
        assert_eq!(super::temporary_owner("123-4.tmp"), Some(123));
        assert_eq!(super::temporary_owner(".index.json.77.tmp"), Some(77));
        assert_eq!(super::temporary_owner("lock.9.tmp"), Some(9));
        assert_eq!(super::temporary_owner("index.json"), None);
        assert_eq!(super::temporary_owner("lock"), None);
    }
}
