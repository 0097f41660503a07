//! A layer's byte pipeline: tar bytes → diffID hash → compressor → digest hash → host blob store.
//! Compressed bytes are handed to the host in chunks of about `FLUSH_AT`, so memory stays bounded
//! whatever the layer's size.

use crate::compress::estargz::{self, DigestSlot, HashWork};
use crate::compress::piece::Piece;
use crate::compress::{Compression, Encoder, Finished, PieceStream};
use crate::digest::StreamHasher;
use crate::error::Result;
use crate::host::{Handle, Host};

const FLUSH_AT: usize = 1 << 20;

pub struct BlobWriter<'h, H: Host> {
    host: &'h H,
    handle: Handle,
    diff_id: StreamHasher,
    digest: StreamHasher,
    /// eStargz: sha256 of the tar written, which its diffID (covering the TOC too) is not.
    tar_digest: Option<StreamHasher>,
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
    in_flight: std::collections::VecDeque<InFlight>,
    /// How many of `in_flight` the host is compressing.
    on_host: usize,
    /// Enough pieces on the host to keep every host thread busy, and no more (memory). Pieces
    /// already compressed (a few bytes each) do not count, or they would take host threads' turns.
    limit: usize,
    /// eStargz's TOC digests being hashed by the host (a chunk's, and a file's of several chunks).
    toc_hashes: Vec<(DigestSlot, StreamHasher)>,
}

enum InFlight {
    Host(Handle),
    /// A piece that is already compressed bytes (`Compression::Uncompressed`: an eStargz member's
    /// gzip header or trailer), waiting for its turn.
    Done(Vec<u8>),
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
            Some(mut stream) => {
                pending.extend_from_slice(&stream.header());
                stream.hash_outside();
                let limit = (threads + 1).min(16);
                let toc_hashes = Vec::new();
                (None, Some(Parallel { stream, in_flight: Default::default(), on_host: 0, limit, toc_hashes }))
            }
            None => (Some(Encoder::new(compression, &mut pending)), None),
        };
        Ok(BlobWriter {
            host,
            handle,
            diff_id: StreamHasher::new(host).await?,
            digest: StreamHasher::new(host).await?,
            tar_digest: match compression {
                Compression::Estargz { .. } => Some(StreamHasher::new(host).await?),
                _ => None,
            },
            encoder,
            parallel,
            pending,
            size: 0,
            uncompressed_size: 0,
        })
    }

    pub async fn write(&mut self, data: &[u8]) -> Result<()> {
        self.diff_id.update(self.host, data).await?;
        if let Some(tar_digest) = self.tar_digest.as_mut() {
            tar_digest.update(self.host, data).await?;
        }
        self.uncompressed_size += data.len() as u64;
        if let Some(encoder) = self.encoder.as_mut() {
            encoder.write(data, &mut self.pending)?;
        }
        if let Some(parallel) = self.parallel.as_mut() {
            let mut ready = Vec::new();
            parallel.stream.push(data, &mut ready)?;
            let work = parallel.stream.take_hash_work();
            self.hash_toc(work, data).await?;
            self.submit(ready).await?;
        }
        if self.pending.len() >= FLUSH_AT {
            self.flush().await?;
        }
        Ok(())
    }

    /// The TOC hashing the last `data` pushed asked for, by the host.
    async fn hash_toc(&mut self, work: Vec<HashWork>, data: &[u8]) -> Result<()> {
        let host = self.host;
        let Some(parallel) = self.parallel.as_mut() else { return Ok(()) };
        for step in work {
            match step {
                HashWork::Start(slot) => parallel.toc_hashes.push((slot, StreamHasher::new(host).await?)),
                HashWork::Update(slot, range) => {
                    let at = open_hash(&parallel.toc_hashes, slot)?;
                    parallel.toc_hashes[at].1.update(host, &data[range]).await?;
                }
                HashWork::Finish(slot) => {
                    let at = open_hash(&parallel.toc_hashes, slot)?;
                    let digest = parallel.toc_hashes.swap_remove(at).1.finish(host).await?;
                    parallel.stream.digested(slot, digest);
                }
            }
        }
        Ok(())
    }

    /// Hand `ready` pieces to the host, first collecting the oldest ones in flight while at the limit.
    async fn submit(&mut self, ready: Vec<Piece>) -> Result<()> {
        for piece in ready {
            let entry = match piece.compression {
                Compression::Uncompressed => InFlight::Done(piece.input),
                _ => {
                    while self.parallel.as_ref().is_some_and(|p| p.on_host >= p.limit) {
                        self.collect_oldest().await?;
                    }
                    let handle = self.host.compress_start(piece).await?;
                    self.parallel.as_mut().expect("submitting in parallel mode").on_host += 1;
                    InFlight::Host(handle)
                }
            };
            self.parallel.as_mut().expect("submitting in parallel mode").in_flight.push_back(entry);
        }
        Ok(())
    }

    /// Append the oldest piece's compressed bytes to the blob.
    async fn collect_oldest(&mut self) -> Result<()> {
        let Some(parallel) = self.parallel.as_mut() else { return Ok(()) };
        let bytes = match parallel.in_flight.pop_front() {
            None => return Ok(()),
            Some(InFlight::Done(bytes)) => bytes,
            Some(InFlight::Host(handle)) => {
                parallel.on_host -= 1;
                self.host.compress_wait(handle).await?
            }
        };
        if let Some(parallel) = self.parallel.as_mut() {
            parallel.stream.compressed(bytes.len());
        }
        // A piece's bytes that would overflow `pending` go to the host as they are, after what is
        // pending: copying them in would grow it (and the core's memory, which never shrinks) to
        // hold megabytes at once.
        if self.pending.len() + bytes.len() > self.pending.capacity() {
            self.flush().await?;
            return self.write_out(&bytes).await;
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
        let pending = std::mem::take(&mut self.pending);
        let result = self.write_out(&pending).await;
        self.pending = pending;
        self.pending.clear();
        result
    }

    /// Compressed bytes into the blob (and its digest).
    async fn write_out(&mut self, bytes: &[u8]) -> Result<()> {
        self.size += bytes.len() as u64;
        self.digest.update(self.host, bytes).await?;
        self.host.blob_write(self.handle, bytes).await
    }

    /// Finish compression and commit the blob under its digest.
    pub async fn commit(self) -> Result<WrittenBlob> {
        Ok(self.commit_with_tar_digest().await?.0)
    }

    /// `commit`, also giving the sha256 of the tar written: the diffID, except for eStargz.
    pub async fn commit_with_tar_digest(mut self) -> Result<(WrittenBlob, String)> {
        let finished = match self.finish_compression().await {
            Ok(finished) => finished,
            Err(e) => {
                self.abort().await;
                return Err(e);
            }
        };
        self.uncompressed_size += finished.uncompressed_tail.len() as u64;
        let mut annotations = Vec::new();
        if let Some(toc_digest) = finished.toc_digest {
            annotations = estargz::annotations(&toc_digest, self.uncompressed_size);
        }
        let ended = async {
            self.diff_id.update(self.host, &finished.uncompressed_tail).await?;
            self.flush().await
        };
        if let Err(e) = ended.await {
            self.abort().await;
            return Err(e);
        }
        let host = self.host;
        let digest = self.digest.finish(host).await?;
        let diff_id = self.diff_id.finish(host).await?;
        let tar_digest = match self.tar_digest.take() {
            Some(tar_digest) => tar_digest.finish(host).await?,
            None => diff_id.clone(),
        };
        host.blob_commit(self.handle, &digest).await?;
        let blob =
            WrittenBlob { digest, size: self.size, diff_id, uncompressed_size: self.uncompressed_size, annotations };
        Ok((blob, tar_digest))
    }

    /// Drop the partial blob (after an error elsewhere in the pipeline), and the pieces in flight.
    pub async fn abort(self) {
        for entry in self.parallel.iter().flat_map(|p| p.in_flight.iter()) {
            if let InFlight::Host(handle) = entry {
                let _ = self.host.compress_wait(*handle).await;
            }
        }
        // Hashes the host still holds are ended too.
        let toc_hashes = self.parallel.into_iter().flat_map(|p| p.toc_hashes).map(|(_, hash)| hash);
        for hash in [self.diff_id, self.digest].into_iter().chain(self.tar_digest).chain(toc_hashes) {
            let _ = hash.finish(self.host).await;
        }
        self.host.blob_abort(self.handle).await;
    }
}

/// Where an eStargz TOC hash the encoder names is (it starts each before using it).
fn open_hash(hashes: &[(DigestSlot, StreamHasher)], slot: DigestSlot) -> Result<usize> {
    estargz::hash_of(hashes, slot)
        .ok_or_else(|| crate::error::Error::internal(format!("compression=estargz: no open hash for {slot:?}")))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::estargz::reader;
    use crate::fuzzing::block_on;
    use crate::memory_host::MemoryHost;
    use crate::tar::{encode, padding, typeflag, Header, TRAILER};

    /// Many small files, directories, and one file of three 4 MiB chunks.
    fn layer_tar() -> Vec<u8> {
        let mut tar = Vec::new();
        let mut add = |name: String, flag: u8, data: &[u8]| {
            let size = data.len() as i64;
            tar.extend(encode(&Header {
                name: name.into_bytes(),
                typeflag: flag,
                mode: 0o644,
                size,
                ..Default::default()
            }));
            tar.extend_from_slice(data);
            tar.resize(tar.len() + padding(data.len() as u64), 0);
        };
        let text = include_str!("walk.rs").as_bytes();
        for i in 0..60usize {
            if i % 8 == 0 {
                add(format!("d{i}/"), typeflag::DIRECTORY, &[]);
            }
            add(format!("d{}/f{i}", i / 8 * 8), typeflag::REGULAR, &text[i * 50..i * 50 + i * 97 % 3000]);
        }
        let big: Vec<u8> = (0..(9 << 20) + 5).map(|i| text[i % text.len()] ^ (i >> 14) as u8).collect();
        add("big".into(), typeflag::REGULAR, &big);
        tar.extend_from_slice(&TRAILER);
        tar
    }

    fn write_layer(host: &MemoryHost, compression: Compression, tar: &[u8]) -> (WrittenBlob, Vec<u8>) {
        let written = block_on(async {
            let mut writer = BlobWriter::create(host, compression).await.unwrap();
            for part in tar.chunks(300_001) {
                writer.write(part).await.unwrap();
            }
            writer.commit().await.unwrap()
        });
        let blob = host.committed.borrow_mut().pop().expect("a committed blob").1;
        (written, blob)
    }

    #[test]
    fn host_threads_give_the_serial_bytes() {
        let tar = layer_tar();
        for compression in
            [Compression::Estargz { level: 6 }, Compression::Gzip { level: 1 }, Compression::Zstd { level: 3 }]
        {
            let serial_host = MemoryHost::default();
            let (serial, serial_blob) = write_layer(&serial_host, compression, &tar);
            assert!(serial_host.algorithms.borrow().is_empty());
            // Hosts that hash (as the real ones do, natively) and hosts that leave it to the core.
            for (threads, hashes) in [(1, false), (3, false), (1, true), (2, true)] {
                let host = MemoryHost { threads, hashes, ..Default::default() };
                let (written, blob) = write_layer(&host, compression, &tar);
                assert_eq!(written, serial, "{compression:?} with {threads} threads");
                assert!(blob == serial_blob, "{compression:?} with {threads} threads, host hashing {hashes}");
                if hashes {
                    let hashing = host.hashing.borrow();
                    // The diffID and digest; eStargz also its tar's and the TOC's chunks' and files'.
                    let estargz = matches!(compression, Compression::Estargz { .. });
                    let expected = if estargz { hashing.len() > 5 } else { hashing.len() == 2 };
                    assert!(expected, "{compression:?}: {} host hashes", hashing.len());
                    assert!(hashing.iter().all(Option::is_none), "{compression:?}: a host hash left open");
                }
                let algorithms = host.algorithms.borrow();
                assert!(algorithms.len() > 2, "{compression:?}: {} pieces", algorithms.len());
                // eStargz members are cut into gzip pieces.
                let name = match compression {
                    Compression::Estargz { .. } | Compression::Gzip { .. } => "gzip",
                    _ => "zstd",
                };
                assert!(algorithms.iter().all(|&a| a == name), "{algorithms:?}");
                // At most threads + 1 pieces in flight: never the whole layer.
                assert_eq!(host.most_in_flight.get(), (threads as usize + 1).min(algorithms.len()), "{compression:?}");
                assert_eq!(host.in_flight.get(), 0);
            }
            if let Compression::Estargz { .. } = compression {
                let toc = reader::parse_blob(&serial_blob).unwrap();
                let mut whole = tar.clone();
                whole.extend_from_slice(&toc.toc_tar);
                assert_eq!(serial.diff_id, crate::digest::sha256(&whole));
                assert_eq!(serial.uncompressed_size, whole.len() as u64);
                assert_eq!(serial.annotations, estargz::annotations(&toc.digest, whole.len() as u64));
                // 60 small files (one empty) and the big file's three chunks.
                assert_eq!(toc.entries.iter().filter(|e| e.offset > 0).count(), 59 + 3);
            }
        }
    }

    #[test]
    fn long_header_runs_pass_through_in_order() {
        // 11,000 directories: a member of 5.4 MiB of headers, sent to the host 1 MiB at a time as it
        // grows, between its gzip header and trailer, which pass through.
        let mut tar = Vec::new();
        for i in 0..11_000 {
            let name = format!("dir{i:05}/").into_bytes();
            tar.extend(encode(&Header { name, typeflag: typeflag::DIRECTORY, mode: 0o755, ..Default::default() }));
        }
        tar.extend(encode(&Header { name: b"f".to_vec(), typeflag: typeflag::REGULAR, size: 2, ..Default::default() }));
        tar.extend_from_slice(b"hi");
        tar.resize(tar.len() + padding(2), 0);
        tar.extend_from_slice(&TRAILER);
        let compression = Compression::Estargz { level: 6 };
        let (serial, serial_blob) = write_layer(&MemoryHost::default(), compression, &tar);
        let host = MemoryHost { threads: 2, ..Default::default() };
        let (written, blob) = write_layer(&host, compression, &tar);
        assert_eq!(written, serial);
        assert!(blob == serial_blob);
        // The headers' member in six pieces (the last closing it), the file's in one.
        assert_eq!(*host.algorithms.borrow(), ["gzip"; 7]);
        assert_eq!(host.most_in_flight.get(), 3);
        let toc = reader::parse_blob(&blob).unwrap();
        let file = toc.entries.iter().find(|e| e.name == "f").unwrap();
        let at = file.offset as usize;
        assert_eq!(&blob[at..at + 3], &[0x1f, 0x8b, 8]);
        assert!(at > 10_000, "{at}");
    }
}
