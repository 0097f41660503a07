//! Uploading one blob: a single streamed PUT for small blobs; for big ones a chunked upload (PATCH
//! with Content-Range, following each reply's Location and Range) that survives a dropped
//! connection by asking the registry where the upload stands and going on from there.

use super::{backoff, request, Repository, Sending};
use crate::error::{Error, ErrorKind, Result};
use crate::host::{Host, HttpBody, HttpResponse, ProgressEvent};

const MIB: u64 = 1024 * 1024;
/// Blobs up to this size go up in one PUT: one round trip, and a retry costs little.
pub const MONOLITHIC_MAX: u64 = 32 * MIB;
/// The chunk of a chunked upload: what a dropped connection costs at most (when the registry resumes).
pub const CHUNK: u64 = 16 * MIB;
/// Interruptions tolerated per blob before giving up (each one resumed or restarted).
const INTERRUPTIONS: u32 = 8;

/// Upload `digest` (`size` bytes, in the store) to `repo`; the caller checked it is not there yet.
/// With `mount_from` (another repository of the same registry that holds it) the registry is first
/// asked to link it from there, which costs no upload at all.
pub async fn upload_blob<H: Host>(
    host: &H,
    repo: &Repository,
    digest: &str,
    size: u64,
    mount_from: Option<&str>,
) -> Result<()> {
    progress(host, digest, 0, size);
    let location = match mount_from {
        Some(from) => match mount(host, repo, digest, from).await {
            Mount::Done => {
                progress(host, digest, size, size);
                return Ok(());
            }
            Mount::Upload(location) => location,
            Mount::Refused => start(host, repo, digest).await?,
        },
        None => start(host, repo, digest).await?,
    };
    if size <= MONOLITHIC_MAX {
        let headers = vec![content_type(), ("Content-Length".into(), size.to_string())];
        let body = HttpBody::Blob { digest: digest.into(), offset: 0, length: size };
        let put = request("PUT", with_digest(&location, digest), headers, body);
        repo.send(host, &format!("upload {digest}"), put, &[201]).await?;
    } else {
        let location = send_chunks(host, repo, digest, size, location).await?;
        let headers = vec![("Content-Length".into(), "0".into())];
        let put = request("PUT", with_digest(&location, digest), headers, HttpBody::Empty);
        repo.send(host, &format!("finish upload of {digest}"), put, &[201]).await?;
    }
    progress(host, digest, size, size);
    Ok(())
}

enum Mount {
    Done,
    /// The registry could not mount and opened an upload session instead (OCI spec: 202).
    Upload(String),
    /// Any failure (no pull access to the source, an old registry): upload as usual.
    Refused,
}

/// POST …/blobs/uploads/?mount=DIGEST&from=REPOSITORY.
async fn mount<H: Host>(host: &H, repo: &Repository, digest: &str, from: &str) -> Mount {
    let url = repo.url(&format!("blobs/uploads/?mount={}&from={from}", digest.replace(':', "%3A")));
    let post = request("POST", url, vec![("Content-Length".into(), "0".into())], HttpBody::Empty);
    match repo.send(host, &format!("mount {digest} from {from}"), post, &[201, 202]).await {
        Ok(reply) if reply.status == 201 => Mount::Done,
        Ok(reply) => next_location(repo, &reply, digest).map_or(Mount::Refused, Mount::Upload),
        Err(_) => Mount::Refused,
    }
}

/// POST …/blobs/uploads/: the upload session's Location.
async fn start<H: Host>(host: &H, repo: &Repository, digest: &str) -> Result<String> {
    let post =
        request("POST", repo.url("blobs/uploads/"), vec![("Content-Length".into(), "0".into())], HttpBody::Empty);
    let started = repo.send(host, &format!("start upload of {digest}"), post, &[202]).await?;
    next_location(repo, &started, digest)
}

/// PATCH every chunk in order; returns the Location to finish the upload at.
async fn send_chunks<H: Host>(
    host: &H,
    repo: &Repository,
    digest: &str,
    size: u64,
    mut location: String,
) -> Result<String> {
    let mut offset = 0;
    let mut interruptions = 0;
    while offset < size {
        let length = CHUNK.min(size - offset);
        let headers = vec![
            content_type(),
            ("Content-Range".into(), format!("{offset}-{}", offset + length - 1)),
            ("Content-Length".into(), length.to_string()),
        ];
        let body = HttpBody::Blob { digest: digest.into(), offset, length };
        let what = format!("upload {digest} bytes {offset}-{}", offset + length - 1);
        // Not retried as is: the registry may hold part of the chunk, so a blind repeat could be refused.
        match repo
            .send_with(host, &what, request("PATCH", location.clone(), headers, body), &[202], Sending::ONCE)
            .await
        {
            Ok(reply) => {
                location = next_location(repo, &reply, digest)?;
                offset = stored_bytes(&reply).unwrap_or(offset + length);
            }
            Err(e) if e.kind == ErrorKind::Registry && interruptions < INTERRUPTIONS => {
                interruptions += 1;
                host.sleep(backoff(interruptions)).await;
                (location, offset) = resume_point(host, repo, digest, &location).await?;
            }
            Err(e) => return Err(e),
        }
        progress(host, digest, offset, size);
    }
    Ok(location)
}

/// Where to go on after an interrupted chunk: the registry's own account of the upload (GET on its
/// Location gives the bytes it holds), or, when it has dropped the session (Distribution cancels an
/// upload whose size no longer matches the client's state), a new upload from the start.
async fn resume_point<H: Host>(host: &H, repo: &Repository, digest: &str, location: &str) -> Result<(String, u64)> {
    let status = request("GET", location.to_string(), vec![], HttpBody::Empty);
    if let Ok(reply) = repo.send(host, &format!("check upload of {digest}"), status, &[204]).await {
        if let (Ok(next), Some(offset)) = (next_location(repo, &reply, digest), stored_bytes(&reply)) {
            return Ok((next, offset));
        }
    }
    Ok((start(host, repo, digest).await?, 0))
}

/// The bytes the registry holds, from `Range: 0-<last>` (OCI distribution spec). Distribution writes
/// `0-0` for an empty upload as well as for one byte; taken as empty, the next PATCH settles it.
fn stored_bytes(reply: &HttpResponse) -> Option<u64> {
    let range = reply.header("Range")?;
    let last: u64 = range.trim().strip_prefix("bytes=").unwrap_or(range.trim()).strip_prefix("0-")?.parse().ok()?;
    Some(if last == 0 { 0 } else { last + 1 })
}

fn next_location(repo: &Repository, reply: &HttpResponse, digest: &str) -> Result<String> {
    let location = reply.header("Location").ok_or_else(|| {
        Error::new(
            ErrorKind::Registry,
            format!("push to {}: upload of {digest}: the registry gave no upload Location", repo.display),
        )
    })?;
    repo.resolve(location)
}

fn with_digest(location: &str, digest: &str) -> String {
    let separator = if location.contains('?') { '&' } else { '?' };
    format!("{location}{separator}digest={}", digest.replace(':', "%3A"))
}

fn content_type() -> (String, String) {
    ("Content-Type".into(), "application/octet-stream".into())
}

fn progress<H: Host>(host: &H, digest: &str, current: u64, total: u64) {
    host.progress(ProgressEvent { phase: "push".into(), id: digest.into(), current, total });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(range: &str) -> HttpResponse {
        HttpResponse { status: 202, headers: vec![("Range".into(), range.into())], body: vec![] }
    }

    #[test]
    fn range_header_gives_the_stored_byte_count() {
        assert_eq!(stored_bytes(&reply("0-16777215")), Some(16 * MIB));
        assert_eq!(stored_bytes(&reply("bytes=0-99")), Some(100));
        assert_eq!(stored_bytes(&reply("0-0")), Some(0));
        assert_eq!(stored_bytes(&reply("5-9")), None);
        assert_eq!(stored_bytes(&reply("0-x")), None);
    }

    #[test]
    fn digest_joins_the_location_query() {
        assert_eq!(
            with_digest("http://r/v2/a/blobs/uploads/u?_state=s", "sha256:ab"),
            "http://r/v2/a/blobs/uploads/u?_state=s&digest=sha256%3Aab"
        );
        assert_eq!(with_digest("/v2/a/blobs/uploads/u", "sha256:ab"), "/v2/a/blobs/uploads/u?digest=sha256%3Aab");
    }
}
