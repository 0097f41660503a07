//! The names a layer's entries may have: whoever unpacks the layer writes them under its root, so
//! every name and hardlink target must stay inside it. Symlink targets are data, not checked.

use super::header::Entry;

/// Why `entry` would leave the layer root, if it would.
pub fn check_entry(entry: &Entry) -> Result<(), String> {
    if entry.typeflag == b'g' {
        // A global header is not unpacked.
        return Ok(());
    }
    check(&entry.name, "name")?;
    if let Some(sparse_name) = entry.pax.get(&b"GNU.sparse.name"[..]).filter(|n| !n.is_empty()) {
        check(sparse_name, "GNU sparse name")?;
    }
    if entry.typeflag == b'1' {
        if entry.linkname.is_empty() {
            return Err("hardlink without a target".into());
        }
        check(&entry.linkname, "hardlink target")?;
    }
    Ok(())
}

/// Relative, and no `..` component.
fn check(path: &[u8], what: &str) -> Result<(), String> {
    let show = || String::from_utf8_lossy(path);
    if path.is_empty() {
        Err(format!("empty {what}"))
    } else if path[0] == b'/' {
        Err(format!("absolute {what} {:?}", show()))
    } else if path.split(|&c| c == b'/').any(|part| part == b"..") {
        Err(format!("{what} {:?} leaves the layer root (\"..\")", show()))
    } else {
        Ok(())
    }
}
