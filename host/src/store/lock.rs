//! One writer at a time in a store: `<store>/lock` names the writer while an export or a gc runs,
//! so that two exports never lose each other's index.json update and gc never deletes blobs an
//! export has just written. The npm host takes the same lock the same way
//! (npm/lib/store-lock.js), so both hosts can share a store.
//!
//! The lock names its holder as `PID START HOST`: the process id, the process's start time (clock
//! ticks since boot, /proc/PID/stat field 22) and the host name. A lock whose holder is gone is
//! taken over; one whose PID now belongs to another process (PID reuse, or PID 1 in a container
//! whose previous run was killed) is gone too, because the start time differs. A lock from another
//! machine sharing the directory cannot be checked: it is waited for until the timeout.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POLL: Duration = Duration::from_millis(100);
/// How long to wait for another writer unless OUTPORT_LOCK_TIMEOUT (seconds) says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct StoreLock {
    path: PathBuf,
}

/// Who holds a lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Holder {
    pid: i32,
    /// None in a lock written by an older outport (PID only).
    start: Option<u64>,
    host: Option<String>,
}

impl Holder {
    fn me() -> Holder {
        let pid = std::process::id() as i32;
        Holder { pid, start: start_time(pid), host: Some(host_name()) }
    }

    fn parse(text: &str) -> Option<Holder> {
        let mut words = text.split_whitespace();
        let pid = words.next()?.parse().ok()?;
        let start = words.next().and_then(|w| w.parse().ok()).filter(|&s| s != 0);
        // "-": the writer could not tell its host name.
        Some(Holder { pid, start, host: words.next().filter(|h| *h != "-").map(str::to_string) })
    }

    fn line(&self) -> String {
        format!("{} {} {}\n", self.pid, self.start.unwrap_or(0), self.host.as_deref().unwrap_or("-"))
    }

    /// Whether the process that wrote the lock still runs. One on another machine is assumed to.
    fn alive(&self) -> bool {
        if self.host.as_deref().is_some_and(|h| h != host_name()) {
            return true;
        }
        if self.pid <= 0 || !pid_exists(self.pid) {
            return false;
        }
        match (self.start, start_time(self.pid)) {
            (Some(written), Some(now)) => written == now,
            _ => true,
        }
    }

    fn describe(&self) -> String {
        match &self.host {
            Some(host) => format!("process {} on {host}", self.pid),
            None => format!("process {}", self.pid),
        }
    }
}

impl StoreLock {
    /// Wait for the store's lock (saying who holds it, once) and take it.
    pub fn acquire(store: &Path) -> Result<StoreLock, String> {
        fs::create_dir_all(store).map_err(|e| format!("{}: {e}", store.display()))?;
        let path = store.join("lock");
        let me = Holder::me();
        // The lock appears with its content at once (a hard link of a finished file), so a reader
        // never sees it empty.
        let mine = store.join(format!("lock.{}.tmp", me.pid));
        fs::write(&mine, me.line()).map_err(|e| format!("{}: {e}", mine.display()))?;
        let result = Self::wait_for(store, &path, &mine, timeout()?);
        let _ = fs::remove_file(&mine);
        result
    }

    fn wait_for(store: &Path, path: &Path, mine: &Path, timeout: Duration) -> Result<StoreLock, String> {
        let started = Instant::now();
        let mut said = false;
        loop {
            match fs::hard_link(mine, path) {
                Ok(()) => {
                    crate::signals::remember(path);
                    return Ok(StoreLock { path: path.to_path_buf() });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
                Err(e) => return Err(format!("{}: {e}", path.display())),
            }
            match fs::symlink_metadata(path) {
                Ok(m) if !m.file_type().is_file() => {
                    return Err(format!(
                        "the store lock {} is not a regular file: remove it (rm -r {}) if no outport process uses the store",
                        path.display(),
                        path.display()
                    ))
                }
                _ => {}
            }
            let Some(holder) = read_holder(path) else { continue }; // released meanwhile: try again
            match holder.as_ref().filter(|h| h.alive()) {
                Some(h) => {
                    if started.elapsed() >= timeout {
                        return Err(format!(
                            "the store {} is still locked by {} after {} s (OUTPORT_LOCK_TIMEOUT): if no outport process uses the store, remove {}",
                            store.display(),
                            h.describe(),
                            timeout.as_secs(),
                            path.display()
                        ));
                    }
                    if !said {
                        eprintln!("waiting for the store {}: locked by {}", store.display(), h.describe());
                        said = true;
                    }
                    std::thread::sleep(POLL);
                }
                // Its process is gone (killed), or the content names no process: take it over,
                // unless someone just did.
                None if read_holder(path).as_ref() == Some(&holder) => {
                    let _ = fs::remove_file(path);
                }
                None => {}
            }
        }
    }
}

/// OUTPORT_LOCK_TIMEOUT in whole seconds, or the default.
fn timeout() -> Result<Duration, String> {
    match std::env::var("OUTPORT_LOCK_TIMEOUT") {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("OUTPORT_LOCK_TIMEOUT={v}: expected a whole number of seconds")),
        _ => Ok(DEFAULT_TIMEOUT),
    }
}

/// The lock's holder: None if there is no lock, Some(None) if its content names no process.
fn read_holder(path: &Path) -> Option<Option<Holder>> {
    match fs::read_to_string(path) {
        Ok(text) => Some(Holder::parse(&text)),
        Err(_) => None,
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
        crate::signals::forget(&self.path);
    }
}

pub fn pid_exists(pid: i32) -> bool {
    // Signal 0 checks for existence; EPERM means it exists under another user.
    // SAFETY: kill with signal 0 sends nothing.
    let sent = unsafe { libc::kill(pid, 0) } == 0;
    sent || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The process's start time in clock ticks since boot (Linux), None where /proc does not tell.
fn start_time(pid: i32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is writable for its length; gethostname NUL-terminates within it on success.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return "-".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).into_owned();
    if name.is_empty() || name.contains(char::is_whitespace) {
        "-".into()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lock_line_names_pid_start_and_host() {
        let me = Holder::me();
        assert_eq!(Holder::parse(&me.line()), Some(me.clone()));
        assert!(me.alive());
        assert_eq!(Holder::parse("42\n"), Some(Holder { pid: 42, start: None, host: None }));
        assert_eq!(Holder::parse("garbage"), None);
    }

    #[test]
    fn a_reused_pid_is_not_the_holder() {
        let mut other = Holder::me();
        other.start = other.start.map(|s| s + 1);
        assert!(!other.alive(), "same PID, another start time: a different process");
        let remote = Holder { pid: 1, start: Some(1), host: Some("elsewhere.example".into()) };
        assert!(remote.alive(), "another machine's lock cannot be checked");
    }
}
