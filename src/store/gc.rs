//! `outport store gc`: remove the blobs no stored image reaches, and the temporary files a killed
//! run left behind.

use super::graph::reachable;
use crate::error::Result;
use crate::host::Host;
use serde_json::{json, Value};

/// Remove every blob that no image in index.json reaches. Refuses to run on a store whose index
/// cannot be read whole (it would delete what it cannot see).
pub async fn gc<H: Host>(host: &H) -> Result<Value> {
    let (reachable, images) = reachable(host).await?;
    let (mut removed, mut freed) = (0, 0);
    for digest in host.blob_list().await? {
        if reachable.contains_key(&digest) {
            continue;
        }
        freed += host.blob_size(&digest).await?.unwrap_or(0);
        host.blob_remove(&digest).await?;
        removed += 1;
    }
    let stale = host.store_temporaries(true).await?;
    freed += stale.iter().map(|(_, size)| size).sum::<u64>();
    Ok(
        json!({"images": images, "kept": reachable.len(), "removed": removed, "freed": freed, "temporaries": stale.len()}),
    )
}
