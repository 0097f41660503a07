//! `outport store verify`: check that the local store is whole: every blob's content matches its
//! name, index.json parses, and nothing a named image reaches is missing or of the wrong size.

use super::graph::reachable;
use crate::error::Result;
use crate::host::Host;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// Every blob hashed and every reference followed. Problems are listed, not raised: the caller
/// reports them all (and fails when there is any).
pub async fn verify<H: Host>(host: &H) -> Result<Value> {
    let mut problems = Vec::new();
    let mut bytes = 0;
    let stored = host.blob_list().await?;
    for digest in &stored {
        // Hashed by the host (natively); a blob removed meanwhile is no longer part of the store.
        let Some(actual) = host.blob_digest(digest).await? else { continue };
        bytes += host.blob_size(digest).await?.unwrap_or(0);
        if &actual != digest {
            problems.push(format!("blob {digest} holds content with digest {actual}"));
        }
    }
    let (reachable, images) = match reachable(host).await {
        Ok(found) => found,
        Err(e) => {
            problems.push(e.message);
            (BTreeMap::new(), 0)
        }
    };
    for (digest, (size, from)) in &reachable {
        match host.blob_size(digest).await? {
            None => problems.push(format!("{from} needs blob {digest}, which is missing")),
            Some(actual) if actual != *size => {
                problems.push(format!("{from} says blob {digest} has {size} bytes, the store has {actual}"))
            }
            Some(_) => {}
        }
    }
    // Left by a kill or a full disk: not a problem (no image refers to them), but space to reclaim.
    let stale: Vec<Value> = host
        .store_temporaries(false)
        .await?
        .into_iter()
        .map(|(path, size)| json!({"path": path, "size": size}))
        .collect();
    Ok(json!({"blobs": stored.len(), "bytes": bytes, "images": images, "problems": problems, "stale": stale}))
}
