//! A layer's byte pipeline: tar bytes → diffID hash → compressor → digest hash → host blob store.
//! Compressed bytes are handed to the host in chunks of about `FLUSH_AT`, so memory stays bounded
//! whatever the layer's size.

use crate::compress::piece::Piece;
use crate::compress::{estargz, Compression, Encoder, Finished, PieceStream};
use crate::digest::Hasher;
use crate::error::Result;
use crate::host::{Handle, Host};

const FLUSH_AT: usize = 1 << 20;

pub struct BlobWriter<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    diff_id: Hasher,
    digest: Hasher,
    encoder: Option<Encoder>,
    /// Instead of `encoder` when the host compresses pieces on other threads.
    parallel: Option<Parallel>,
    pending: Vec<u8>,
    size: u64,
    uncompressed_size: u64,
}

/// Pieces being compressed by the host, oldest first: their bytes go into the blob in this order.
struct Parallel {
    stream: PieceStream,
    in_flight: std::collections::VecDeque<Handle>,
    /// Enough pieces in flight to keep every host thread busy, and no more (memory).
    limit: usize,
}

/// What a finished layer blob is known by.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrittenBlob {
    pub digest: String,
    pub size: u64,
    /// sha256 and length of the whole decompressed blob (for eStargz including the TOC tar).
    pub diff_id: String,
    pub uncompressed_size: u64,
    /// Annotations the blob's descriptor carries in OCI manifests (eStargz: TOC digest and
    /// uncompressed size).
    pub annotations: Vec<(String, String)>,
}

impl<H: Host> super::walk::TarSink for BlobWriter<'_, H> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        BlobWriter::write(self, data).await
    }
}

impl<'h, H: Host> BlobWriter<'h, H> {
    pub async fn create(host: &'h H, compression: Compression) -> Result<BlobWriter<'h, H>> {
        let handle = host.blob_create().await?;
        let mut pending = Vec::with_capacity(FLUSH_AT + FLUSH_AT / 4);
        let threads = host.compress_threads() as usize;
        let (encoder, parallel) = match PieceStream::new(compression).filter(|_| threads > 0) {
            Some(stream) => {
                pending.extend_from_slice(&stream.header());
                let limit = (threads + 1).min(16);
                (None, Some(Parallel { stream, in_flight: Default::default(), limit }))
            }
            None => (Some(Encoder::new(compression, &mut pending)), None),
        };
        Ok(BlobWriter {
            host,
            handle,
            diff_id: Hasher::new(),
            digest: Hasher::new(),
            encoder,
            parallel,
            pending,
            size: 0,
            uncompressed_size: 0,
        })
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.diff_id.update(data);
        self.uncompressed_size += data.len() as u64;
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.write(data, &mut self.pending)?;
        }
        if let Some(parallel) = self.parallel.as_mut() {
            let mut ready = Vec::new();
            parallel.stream.push(data, &mut ready)?;
            self.submit(ready).await?;
        }
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// Hand `ready` pieces to the host, first collecting the oldest ones in flight while at the limit.
    async fn submit(&mut self, ready: Vec<Piece>) -> Result<()> {
        for piece in ready {
            while self.parallel.as_ref().is_some_and(|p| p.in_flight.len() >= p.limit) {
                self.collect_oldest().await?;
            }
            let handle = self.host.compress_start(&piece).await?;
            self.parallel.as_mut().expect("submitting in parallel mode").in_flight.push_back(handle);
        }
        Ok(())
    }

    /// Append the oldest piece's compressed bytes to the blob.
    async fn collect_oldest(&mut self) -> Result<()> {
        let Some(parallel) = self.parallel.as_mut() else { return Ok(()) };
        let Some(handle) = parallel.in_flight.pop_front() else { return Ok(()) };
        let bytes = self.host.compress_wait(handle).await?;
        if let Some(parallel) = self.parallel.as_mut() {
            parallel.stream.compressed(bytes.len());
        }
        self.pending.extend_from_slice(&bytes);
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// The end of the compressed stream: the last pieces (parallel mode) and what follows them.
    async fn finish_compression(&mut self) -> Result<Finished> {
        if let Some(encoder) = self.encoder.take() {
            return encoder.finish(&mut self.pending);
        }
        let Some(parallel) = self.parallel.as_mut() else { return Ok(Finished::default()) };
        let mut ready = Vec::new();
        parallel.stream.end(&mut ready)?;
        self.submit(ready).await?;
        while self.parallel.as_ref().is_some_and(|p| !p.in_flight.is_empty()) {
            self.collect_oldest().await?;
        }
        let parallel = self.parallel.take().expect("parallel mode");
        parallel.stream.finish(&mut self.pending)
    }

    async fn flush(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.digest.update(&self.pending);
        self.size += self.pending.len() as u64;
        let result = self.host.blob_write(self.handle, &self.pending).await;
        self.pending.clear();
        result
    }

    /// Finish compression and commit the blob under its digest.
    pub async fn commit(mut self) -> Result<WrittenBlob> {
        let finished = match self.finish_compression().await {
            Ok(finished) => finished,
            Err(e) => {
                self.abort().await;
                return Err(e);
            }
        };
        self.diff_id.update(&finished.uncompressed_tail);
        self.uncompressed_size += finished.uncompressed_tail.len() as u64;
        let mut annotations = Vec::new();
        if let Some(toc_digest) = finished.toc_digest {
            annotations = estargz::annotations(&toc_digest, self.uncompressed_size);
        }
        self.flush().await?;
        let digest = std::mem::take(&mut self.digest).finish();
        self.host.blob_commit(self.handle, &digest).await?;
        Ok(WrittenBlob {
            digest,
            size: self.size,
            diff_id: std::mem::take(&mut self.diff_id).finish(),
            uncompressed_size: self.uncompressed_size,
            annotations,
        })
    }

    /// Drop the partial blob (after an error elsewhere in the pipeline), and the pieces in flight.
    pub async fn abort(self) {
        for handle in self.parallel.iter().flat_map(|p| p.in_flight.iter()) {
            let _ = self.host.compress_wait(*handle).await;
        }
        self.host.blob_abort(self.handle).await;
    }
}

/// Store a small in-memory blob (config, manifest) and return its digest.
pub async fn put_blob<H: Host>(host: &H, data: &[u8]) -> Result<String> {
    let digest = crate::digest::sha256(data);
    if host.blob_size(&digest).await? == Some(data.len() as u64) {
        return Ok(digest);
    }
    let handle = host.blob_create().await?;
    if let Err(e) = host.blob_write(handle, data).await {
        host.blob_abort(handle).await;
        return Err(e);
    }
    host.blob_commit(handle, &digest).await?;
    Ok(digest)
}
