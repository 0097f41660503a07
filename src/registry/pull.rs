//! Pull a base image's pieces: manifests by tag or digest (bounded, verified when the digest is
//! known), small blobs read whole, and layer blobs streamed into the store in Range-request chunks.

use super::{request, Repository, Sending};
use crate::error::{ErrorKind, Result};
use crate::host::{Host, HttpBody, ProgressEvent};
use crate::image::mediatypes::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use crate::image::spec::Descriptor;
use crate::store::ingest::{pulled, stored_already, verify, Ingest};

/// Manifests and indexes larger than this are refused (distribution's own limit is 4 MiB).
pub const MAX_MANIFEST: u32 = 4 << 20;

/// Layer blobs are fetched this many bytes per request, so memory stays bounded.
const CHUNK: u64 = 8 << 20;

/// A manifest or index as the registry sent it.
#[derive(Debug)]
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// GET `manifests/<reference>` (a tag or a digest). A digest reference is verified against the bytes.
pub async fn manifest<H: Host>(host: &H, repo: &Repository, reference: &str) -> Result<FetchedManifest> {
    let accept = [OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST].join(", ");
    let url = repo.url(&format!("manifests/{reference}"));
    let get = request("GET", url, vec![("Accept".into(), accept)], HttpBody::Empty);
    let what = format!("get manifest {reference}");
    let response = repo.send_with(host, &what, get, &[200], Sending::bounded(MAX_MANIFEST + 1)).await?;
    if response.body.len() as u64 > MAX_MANIFEST as u64 {
        return Err(repo.error(ErrorKind::Registry, &what, &format!("larger than {MAX_MANIFEST} bytes")));
    }
    // By digest, the bytes must have it; by tag, they must have the digest the registry states
    // (Docker-Content-Digest), else what was pinned as "the tag's digest" is not what was used.
    let stated = response.header("Docker-Content-Digest").map(str::trim).filter(|d| !d.is_empty());
    let expected = if reference.starts_with("sha256:") { Some(reference) } else { stated };
    if let Some(expected) = expected {
        let actual = crate::digest::sha256(&response.body);
        if actual != expected {
            let said = if expected == reference { "asked for" } else { "its Docker-Content-Digest says" };
            return Err(repo.error(
                ErrorKind::Registry,
                &what,
                &format!("the registry sent content with digest {actual}, but {said} {expected}"),
            ));
        }
    }
    let content_type = response.header("Content-Type").map(|t| t.split(';').next().unwrap_or(t).trim().to_string());
    Ok(FetchedManifest { bytes: response.body, content_type })
}

/// An index's child manifest, by digest, verified against its descriptor.
pub async fn child_manifest<H: Host>(host: &H, repo: &Repository, expected: &Descriptor) -> Result<Vec<u8>> {
    let bytes = manifest(host, repo, &expected.digest).await?.bytes;
    verify(&bytes, expected, &repo.display, ErrorKind::Registry)?;
    Ok(bytes)
}

/// A small blob (a config): read whole (it is at most `limit` bytes) and verified.
pub async fn small_blob<H: Host>(host: &H, repo: &Repository, expected: &Descriptor, limit: u32) -> Result<Vec<u8>> {
    let what = format!("get blob {}", expected.digest);
    if expected.size > limit as u64 {
        return Err(repo.error(ErrorKind::Registry, &what, &format!("larger than {limit} bytes")));
    }
    let url = repo.url(&format!("blobs/{}", expected.digest));
    let get = request("GET", url, vec![], HttpBody::Empty);
    let bytes = repo.send_with(host, &what, get, &[200], Sending::bounded(limit + 1)).await?.body;
    verify(&bytes, expected, &repo.display, ErrorKind::Registry)?;
    Ok(bytes)
}

/// Copy a layer blob into the store unless it is there already; the store gets it only if its size
/// and digest match the descriptor.
pub async fn store_blob<H: Host>(host: &H, repo: &Repository, expected: &Descriptor) -> Result<()> {
    if stored_already(host, expected).await? {
        return Ok(());
    }
    let (id, total) = (expected.digest.clone(), expected.size);
    host.progress(ProgressEvent { phase: "pull".into(), id, current: 0, total });
    let mut ingest = Ingest::start(host, expected, &repo.display, ErrorKind::Registry).await?;
    let copied = download(host, repo, expected, &mut ingest).await;
    ingest.conclude(copied).await?;
    pulled(host, expected);
    Ok(())
}

async fn download<H: Host>(
    host: &H,
    repo: &Repository,
    expected: &Descriptor,
    ingest: &mut Ingest<'_, H>,
) -> Result<()> {
    let url = repo.url(&format!("blobs/{}", expected.digest));
    let what = format!("get blob {}", expected.digest);
    while ingest.written() < expected.size {
        let start = ingest.written();
        let end = (start + CHUNK).min(expected.size) - 1;
        let range = vec![("Range".into(), format!("bytes={start}-{end}"))];
        let get = request("GET", url.clone(), range, HttpBody::Empty);
        let response = repo.send_with(host, &what, get, &[200, 206], Sending::bounded(CHUNK as u32)).await?;
        let wanted = end + 1 - start;
        let usable = match response.status {
            206 => response.body.len() as u64 == wanted && content_range_start(&response) == Some(start),
            // A registry may ignore Range: fine when the whole blob fitted in one answer.
            _ => start == 0 && response.body.len() as u64 == expected.size,
        };
        if !usable {
            return Err(repo.error(
                ErrorKind::Registry,
                &what,
                &format!(
                    "asked for bytes {start}-{end}, got HTTP {} with {} bytes (the registry must honour Range requests for blobs over {CHUNK} bytes)",
                    response.status,
                    response.body.len()
                ),
            ));
        }
        ingest.write(&response.body).await?;
        let (id, total) = (expected.digest.clone(), expected.size);
        host.progress(ProgressEvent { phase: "pull".into(), id, current: ingest.written(), total });
    }
    Ok(())
}

/// The first byte position of `Content-Range: bytes a-b/n`.
fn content_range_start(response: &crate::host::HttpResponse) -> Option<u64> {
    let value = response.header("Content-Range")?.trim();
    let range = value.strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::HttpResponse;

    #[test]
    fn reads_content_range() {
        let with =
            |v: &str| HttpResponse { status: 206, headers: vec![("content-range".into(), v.into())], body: vec![] };
        assert_eq!(content_range_start(&with("bytes 8388608-16777215/20000000")), Some(8_388_608));
        assert_eq!(content_range_start(&with("bytes 0-9/10")), Some(0));
        assert_eq!(content_range_start(&with("items 0-9/10")), None);
    }
}
