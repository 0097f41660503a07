//! SIGINT and SIGTERM end a run cleanly: the temporary files it has open (outputs being written,
//! staged directories, store ingest files, the store lock) are removed, then the process exits
//! with 128 + the signal's number, as a shell reports it. Handling them also makes them work when
//! outport is PID 1 in a container, where the kernel ignores a signal that has no handler.
//!
//! The signals are blocked in every thread (set before any thread starts, so all inherit it) and
//! taken by one thread with sigwait: the clean-up runs as ordinary code, not in a signal handler.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static TEMPORARY: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// Remove `path` (a file or a directory tree) if the run is stopped by a signal.
pub fn remember(path: &Path) {
    TEMPORARY.lock().unwrap_or_else(|e| e.into_inner()).insert(path.to_path_buf());
}

/// `path` was committed, renamed or removed: leave it alone.
pub fn forget(path: &Path) {
    TEMPORARY.lock().unwrap_or_else(|e| e.into_inner()).remove(path);
}

/// Call first thing in main, before any other thread exists.
pub fn install() {
    // SAFETY: plain libc signal-set calls on a local, zero-initialised sigset_t.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal = 0;
        // SAFETY: set is a valid signal set and signal a valid out-pointer.
        while unsafe { libc::sigwait(&set, &mut signal) } != 0 {}
        let paths = std::mem::take(&mut *TEMPORARY.lock().unwrap_or_else(|e| e.into_inner()));
        // Newest-named last: remove everything, files and staged directories alike.
        for path in paths.iter().rev() {
            let _ = match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
                _ => std::fs::remove_file(path),
            };
        }
        let name = if signal == libc::SIGINT { "interrupted" } else { "terminated" };
        eprintln!("error: {name}: temporary files removed");
        std::process::exit(128 + signal);
    });
}
