//! Push an exported image: every blob the root reaches (skipping those the registry has), then
//! child manifests by digest, then the root by tag (or by digest only).

use super::{request, Repository};
use crate::error::{Error, ErrorKind, Result};
use crate::host::{Host, HttpBody, ProgressEvent};
use crate::image::spec::Descriptor;
use crate::reference::Reference;
use futures_util::stream::{self, TryStreamExt};

/// Blobs in flight at once: enough to overlap round trips and hide one slow upload, few enough not
/// to swamp a registry (docker push uses 3 to 5).
const CONCURRENT_UPLOADS: usize = 4;

pub struct PushJob<'a> {
    pub root: &'a Descriptor,
    /// Child manifests (platform and attestation manifests), pushed before the root.
    pub manifests: &'a [Descriptor],
    /// Every blob the root reaches, with its size (manifests included; they are skipped here).
    pub blobs: &'a [(String, u64)],
    pub insecure: bool,
    /// No tag: the root is pushed by digest only.
    pub by_digest: bool,
}

/// `pushed_before`: repositories holding this image's blobs (names it already went to in this run,
/// then its base image's); a blob missing from `name`'s repository is mounted from the first one on
/// the same registry instead of uploaded again (a blob that repository lacks is then uploaded).
pub async fn push<H: Host>(host: &H, name: &Reference, job: &PushJob<'_>, pushed_before: &[Reference]) -> Result<()> {
    let repo = Repository::new(name, super::auth::Access::Push, job.insecure);
    let mount_from = pushed_before.iter().find(|r| r.domain == name.domain && r.path != name.path).map(|r| &r.path);
    let is_manifest = |d: &str| d == job.root.digest || job.manifests.iter().any(|m| m.digest == d);
    repo.ping(host).await?;
    let blobs = job.blobs.iter().filter(|(d, _)| !is_manifest(d));
    let mount_from = mount_from.map(String::as_str);
    stream::iter(blobs.map(Ok))
        .try_for_each_concurrent(CONCURRENT_UPLOADS, |(digest, size)| {
            let repo = &repo;
            async move {
                if !registry_has(host, repo, digest, *size).await? {
                    super::upload::upload_blob(host, repo, digest, *size, mount_from).await?;
                }
                Ok(())
            }
        })
        .await?;
    for manifest in job.manifests {
        put_manifest(host, &repo, manifest, &manifest.digest).await?;
    }
    let reference = match (&name.tag, job.by_digest) {
        (Some(tag), false) => tag.clone(),
        _ => job.root.digest.clone(),
    };
    put_manifest(host, &repo, job.root, &reference).await
}

/// Whether `repo` has blob `digest` already (then it is reported as there, and not uploaded).
async fn registry_has<H: Host>(host: &H, repo: &Repository, digest: &str, size: u64) -> Result<bool> {
    let url = repo.url(&format!("blobs/{digest}"));
    let head = repo
        .send(host, &format!("check blob {digest}"), request("HEAD", url, vec![], HttpBody::Empty), &[200, 404])
        .await?;
    if head.status == 200 {
        // Nothing sent: its own phase, so no one reads it as a transfer (at an absurd rate).
        host.progress(ProgressEvent { phase: "exists".into(), id: digest.into(), current: size, total: size });
    }
    Ok(head.status == 200)
}

async fn put_manifest<H: Host>(host: &H, repo: &Repository, manifest: &Descriptor, reference: &str) -> Result<()> {
    let bytes = host.blob_read(&manifest.digest, 0, manifest.size as u32).await?;
    if bytes.len() as u64 != manifest.size {
        return Err(Error::store(format!(
            "stored manifest {} is {} bytes, expected {}",
            manifest.digest,
            bytes.len(),
            manifest.size
        )));
    }
    let headers =
        vec![("Content-Type".into(), manifest.media_type.clone()), ("Content-Length".into(), bytes.len().to_string())];
    let url = repo.url(&format!("manifests/{reference}"));
    let what = format!("put manifest {reference}");
    let response = repo.send(host, &what, request("PUT", url, headers, HttpBody::Bytes(bytes)), &[201]).await?;
    // A registry that stored other bytes than ours (a proxy rewriting them) says so here.
    match response.header("Docker-Content-Digest").map(str::trim).filter(|d| !d.is_empty()) {
        Some(stated) if stated != manifest.digest => Err(repo.error(
            ErrorKind::Registry,
            &what,
            &format!("the registry stored it as {stated}, not {}", manifest.digest),
        )),
        _ => Ok(()),
    }
}
