//! Copy a blob of known digest and size into the store (a base image's layers). The host's store
//! renames whatever it is given, so the core checks size and digest before the blob gets its name.

use crate::digest::Hasher;
use crate::error::{Error, ErrorKind, Result};
use crate::host::{Handle, Host, ProgressEvent};
use crate::image::spec::Descriptor;

pub struct Ingest<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    hasher: Hasher,
    written: u64,
    digest: String,
    size: u64,
    /// Where the bytes come from (`registry/repo`, `oci:DIR`), for messages.
    source: String,
    /// Registry for pulled blobs, Source for layout directories.
    kind: ErrorKind,
}

impl<'h, H: Host> Ingest<'h, H> {
    pub async fn start(host: &'h H, expected: &Descriptor, source: &str, kind: ErrorKind) -> Result<Ingest<'h, H>> {
        Ok(Ingest {
            host,
            handle: host.blob_create().await?,
            hasher: Hasher::new(),
            written: 0,
            digest: expected.digest.clone(),
            size: expected.size,
            source: source.to_string(),
            kind,
        })
    }

    pub fn written(&self) -> u64 {
        self.written
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.written += data.len() as u64;
        if self.written > self.size {
            return Err(self.mismatch(&format!("more than the {} bytes its descriptor gives", self.size)));
        }
        self.hasher.update(data);
        self.host.blob_write(self.handle, data).await
    }

    /// Verify and give the blob its name; on a mismatch nothing is stored.
    pub async fn commit(self) -> Result<()> {
        let actual = self.hasher.clone().finish();
        let problem = if self.written != self.size {
            Some(format!("{} bytes, its descriptor gives {}", self.written, self.size))
        } else if actual != self.digest {
            Some(format!("its content has digest {actual}"))
        } else {
            None
        };
        match problem {
            None => self.host.blob_commit(self.handle, &self.digest).await,
            Some(why) => {
                let error = self.mismatch(&why);
                self.host.blob_abort(self.handle).await;
                Err(error)
            }
        }
    }

    pub async fn abort(self) {
        self.host.blob_abort(self.handle).await;
    }

    /// Commit if `copied` (the copy into this ingest) succeeded; otherwise abort and pass its error on.
    pub async fn conclude(self, copied: Result<()>) -> Result<()> {
        match copied {
            Ok(()) => self.commit().await,
            Err(e) => {
                self.abort().await;
                Err(e)
            }
        }
    }

    fn mismatch(&self, why: &str) -> Error {
        Error::new(self.kind, format!("blob {} from {} does not match its descriptor: {why}", self.digest, self.source))
    }
}

/// Whether the store holds `expected` already (its size matches); if so it is reported as pulled,
/// so the caller copies only blobs this says it lacks.
pub async fn stored_already<H: Host>(host: &H, expected: &Descriptor) -> Result<bool> {
    if host.blob_size(&expected.digest).await? != Some(expected.size) {
        return Ok(false);
    }
    pulled(host, expected);
    Ok(true)
}

/// Report `blob` as pulled whole (in the store already, or just copied there).
pub fn pulled<H: Host>(host: &H, blob: &Descriptor) {
    let (id, total) = (blob.digest.clone(), blob.size);
    host.progress(ProgressEvent { phase: "pull".into(), id, current: total, total });
}

/// Fail unless `bytes` are what `expected` describes (manifests and configs read whole).
pub fn verify(bytes: &[u8], expected: &Descriptor, source: &str, kind: ErrorKind) -> Result<()> {
    let actual = crate::digest::sha256(bytes);
    if bytes.len() as u64 == expected.size && actual == expected.digest {
        return Ok(());
    }
    Err(Error::new(
        kind,
        format!(
            "{} from {source} does not match its descriptor: {} bytes with digest {actual}, expected {} bytes with digest {}",
            expected.digest,
            bytes.len(),
            expected.size,
            expected.digest
        ),
    ))
}
