//! One writer at a time in a store: `<store>/lock` holds the writer's process id while an export or
//! a gc runs, so that two exports never lose each other's index.json update and gc never deletes
//! blobs an export has just written. The npm host takes the same lock the same way
//! (npm/lib/store-lock.js), so both hosts can share a store. A lock whose process is gone (killed)
//! is taken over. Processes on other machines sharing the directory are not seen: not supported.

use std::fs;
use std::io::ErrorKind;
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
        // The lock appears with its content at once (a hard link of a finished file), so a reader
        // never sees it empty.
        let mine = store.join(format!("lock.{}.tmp", std::process::id()));
        fs::write(&mine, format!("{}\n", std::process::id())).map_err(|e| format!("{}: {e}", mine.display()))?;
        let result = Self::wait_for(store, &path, &mine);
        let _ = fs::remove_file(&mine);
        result
    }

    fn wait_for(store: &Path, path: &Path, mine: &Path) -> Result<StoreLock, String> {
        let started = Instant::now();
        let mut said = false;
        loop {
            match fs::hard_link(mine, path) {
                Ok(()) => return Ok(StoreLock { path: path.to_path_buf() }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
            let Some(holder) = holder(path) else { continue }; // released meanwhile: try again
            if let Some(pid) = holder.filter(|&pid| alive(pid)) {
                if started.elapsed() > GIVE_UP {
                    return Err(format!("the store {} is still locked by process {pid}", store.display()));
                }
                if !said {
                    eprintln!("waiting for the store {} (in use by process {pid})", store.display());
                    said = true;
                }
                std::thread::sleep(POLL);
            } else if self::holder(path) == Some(holder) {
                // Its process is gone (killed): take it over, unless someone just did.
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// The lock's holder: None if there is no lock, Some(None) if its content is not a process id.
fn holder(path: &Path) -> Option<Option<i32>> {
    match fs::read_to_string(path) {
        Ok(text) => Some(text.trim().parse().ok()),
        Err(_) => None,
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
