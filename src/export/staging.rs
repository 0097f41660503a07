//! Directory outputs (type=local, oci/docker with tar=false) are built in a hidden directory beside
//! their destination and moved into place only when the whole run succeeded: a failed or killed
//! export leaves the destination exactly as it was, and an existing destination keeps its files
//! until the commit.
//!
//! Committing renames the staged tree onto the destination when nothing is there. Into an existing
//! directory (or a symlink to one: a mounted volume), entries are moved one by one, each a rename
//! that replaces the old entry; directories present on both sides are merged, as the local
//! exporter's copy mode and an OCI layout's blobs/ need. Links already inside the destination are
//! replaced, never followed; only the destination itself may be a link (see README, "Outputs").

use crate::error::Result;
use crate::host::Host;

/// A directory output under construction.
pub struct Staged {
    /// Where this run writes: the staging directory, or `dest` from a host that cannot stage.
    pub dir: String,
    pub dest: String,
    staged: bool,
}

impl Staged {
    pub async fn begin<H: Host>(host: &H, dest: &str) -> Result<Staged> {
        let dest = dest.trim_end_matches('/');
        let dest = if dest.is_empty() { "/" } else { dest };
        Ok(match host.output_stage_dir(dest).await? {
            Some(dir) => Staged { dir, dest: dest.to_string(), staged: true },
            None => {
                host.output_create_dir(dest).await?;
                Staged { dir: dest.to_string(), dest: dest.to_string(), staged: false }
            }
        })
    }

    /// Move the staged tree into place. Returns whether it was merged into an existing directory
    /// (then the directories it merged into have new times: the caller sets them again).
    pub async fn commit<H: Host>(&self, host: &H) -> Result<bool> {
        if !self.staged || host.output_move(&self.dir, &self.dest, true).await? {
            return Ok(false);
        }
        merge(host, &self.dir, &self.dest).await?;
        host.output_remove(&self.dir).await?;
        Ok(true)
    }

    /// Drop the staged tree; the destination was never touched.
    pub async fn abort<H: Host>(&self, host: &H) {
        if self.staged {
            let _ = host.output_remove(&self.dir).await;
        }
    }

    /// The final path of `path` (a path under `dir`), once committed.
    pub fn final_path(&self, path: &str) -> String {
        match path.strip_prefix(&self.dir) {
            Some(rest) => format!("{}{rest}", self.dest),
            None => path.to_string(),
        }
    }
}

/// Move every entry of `from` into the existing directory `to`, in name order and each merged
/// directory completely before the next name (an OCI layout's blobs/ is in place before its
/// index.json). An explicit stack: trees can be deep.
async fn merge<H: Host>(host: &H, from: &str, to: &str) -> Result<()> {
    let mut stack = vec![Frame::open(host, from, to).await?];
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.pop() else {
            stack.pop();
            continue;
        };
        let (source, target) = (format!("{}/{name}", frame.from), format!("{}/{name}", frame.to));
        if !host.output_move(&source, &target, false).await? {
            stack.push(Frame::open(host, &source, &target).await?);
        }
    }
    Ok(())
}

/// A directory being merged and its names still to move (reversed: `pop` gives them in order).
struct Frame {
    from: String,
    to: String,
    names: Vec<String>,
}

impl Frame {
    async fn open<H: Host>(host: &H, from: &str, to: &str) -> Result<Frame> {
        let mut names: Vec<String> =
            host.output_list_dir(from).await?.unwrap_or_default().into_iter().map(|(name, _)| name).collect();
        names.sort_by(|a, b| b.cmp(a));
        Ok(Frame { from: from.to_string(), to: to.to_string(), names })
    }
}
