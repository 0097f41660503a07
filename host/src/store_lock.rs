//! One writer at a time in a store: `<store>/lock` holds the writer's process id while an export or
//! a gc runs, so that two exports never lose each other's index.json update and gc never deletes
//! blobs an export has just written. The npm host takes the same lock the same way
//! (npm/lib/store-lock.js), so both hosts can share a store. A lock whose process is gone (killed)
//! is taken over. Processes on other machines sharing the directory are not seen: not supported.

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
const GIVE_UP: Duration = Duration::from_secs(600);

pub struct StoreLock {
    path: PathBuf,
}

impl StoreLock {
    /// Wait for the store's lock (saying so on stderr once) and take it.
    pub fn acquire(store: &Path) -> Result<StoreLock, String> {
        fs::create_dir_all(store).map_err(|e| format!("{}: {e}", store.display()))?;
        let path = store.join("lock");
        let started = Instant::now();
        let mut said = false;
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut file) => {
                    file.write_all(format!("{}\n", std::process::id()).as_bytes())
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    return Ok(StoreLock { path });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
            let holder = fs::read_to_string(&path).ok().and_then(|text| text.trim().parse::<i32>().ok());
            match holder {
                Some(pid) if alive(pid) => {
                    if started.elapsed() > GIVE_UP {
                        return Err(format!("the store {} is still locked by process {pid}", store.display()));
                    }
                    if !said {
                        eprintln!("waiting for the store {} (in use by process {pid})", store.display());
                        said = true;
                    }
                    std::thread::sleep(POLL);
                }
                // Gone (killed), or a lock file caught half-written: a stale lock is removed. A file
                // being written right now gets one poll of grace before it counts as stale.
                None if started.elapsed() < POLL => std::thread::sleep(POLL),
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn alive(pid: i32) -> bool {
    // Signal 0 checks for existence; EPERM means it exists under another user.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}
