//! Layer compressors. Each takes the tar stream in chunks and appends compressed bytes to a buffer.

pub mod decode;
pub mod deflate;
pub mod estargz;
pub mod gzip;
pub mod piece;
pub mod zstd;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Compression {
    Uncompressed,
    Gzip {
        level: u8,
    },
    Zstd {
        level: u8,
    },
    /// eStargz: gzip members per file chunk, a TOC and a footer; the level is gzip's.
    Estargz {
        level: u8,
    },
}

impl Compression {
    /// From the `compression` and `compression-level` options (level validated per our decision:
    /// gzip and estargz 0–9, zstd 0–22).
    pub fn from_options(kind: Option<&str>, level: Option<&str>) -> Result<Compression> {
        let level = match level {
            None => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                Error::option(format!(
                    "non-integer value {v} specified for compression-level: strconv.ParseInt: parsing {v:?}: invalid syntax"
                ))
            })?),
        };
        let check = |max: i64, name: &str| -> Result<Option<u8>> {
            match level {
                Some(l) if !(0..=max).contains(&l) => Err(Error::option(format!(
                    "compression-level={l} is out of range for compression={name} (0-{max})"
                ))),
                l => Ok(l.map(|l| l as u8)),
            }
        };
        match kind.unwrap_or("gzip") {
            "gzip" => Ok(Compression::Gzip { level: check(9, "gzip")?.unwrap_or(gzip::DEFAULT_LEVEL) }),
            "uncompressed" => Ok(Compression::Uncompressed),
            "zstd" => Ok(Compression::Zstd { level: check(22, "zstd")?.unwrap_or(zstd::DEFAULT_LEVEL) }),
            // BuildKit passes Go's gzip default level, not estargz's own default (best compression).
            "estargz" => Ok(Compression::Estargz { level: check(9, "estargz")?.unwrap_or(gzip::DEFAULT_LEVEL) }),
            other => Err(Error::option(format!("unsupported compression type {other}"))),
        }
    }
}

impl Compression {
    /// Which encoder makes this compression's bytes. Part of the compression cache's keys, so a
    /// store filled by an earlier encoder (other bytes for the same tar) is never served as ours:
    /// change it whenever an encoder's output changes.
    pub fn encoder(self) -> &'static str {
        match self {
            Compression::Uncompressed => "identity",
            // Level 0 is our own writer of Go's stored blocks, not zlib-rs's.
            Compression::Gzip { level: 0 } => "stored blocks as Go's compress/flate",
            Compression::Estargz { level: 0 } => "stored blocks as Go's compress/flate, per member",
            Compression::Gzip { .. } => "zlib-rs 0.6.9",
            Compression::Estargz { .. } => "zlib-rs 0.6.9, 1 MiB pieces",
            Compression::Zstd { .. } => "outport zstd 3 (one frame, 2 MiB pieces)",
        }
    }
}

/// A layer stream cut into pieces that compress independently, so hosts can compress several at once:
/// gzip and zstd at fixed offsets (piece.rs), eStargz at its gzip members, each cut as gzip is
/// (estargz.rs). The pieces' compressed bytes, joined in order between `header` and what `finish` writes, are the blob.
pub enum PieceStream {
    Fixed {
        /// Taken by `end`, which leaves the trailer.
        pieces: Option<piece::Pieces>,
        trailer: Vec<u8>,
    },
    Estargz(Box<estargz::EstargzPieces>),
}

impl PieceStream {
    /// `None` for an uncompressed layer.
    pub fn new(compression: Compression) -> Option<PieceStream> {
        match compression {
            Compression::Uncompressed => None,
            Compression::Estargz { level } => Some(PieceStream::Estargz(Box::new(estargz::EstargzPieces::new(level)))),
            _ => Some(PieceStream::Fixed { pieces: piece::Pieces::new(compression), trailer: Vec::new() }),
        }
    }

    /// What comes before the first piece's bytes.
    pub fn header(&self) -> Vec<u8> {
        match self {
            PieceStream::Fixed { pieces, .. } => pieces.as_ref().map(|p| p.header()).unwrap_or_default(),
            PieceStream::Estargz(_) => Vec::new(),
        }
    }

    /// Take more of the layer tar; every piece it completes goes to `ready`, in order. Only eStargz,
    /// which parses the tar, can fail.
    pub fn push(&mut self, input: &[u8], ready: &mut Vec<piece::Piece>) -> Result<()> {
        match self {
            PieceStream::Fixed { pieces, .. } => {
                pieces.as_mut().expect("pushing before the end").push(input, ready);
                Ok(())
            }
            PieceStream::Estargz(e) => e.push(input, ready),
        }
    }

    /// Leave eStargz's TOC hashing to the caller (`take_hash_work`, `digested`): a host hashes
    /// natively, wasm does not.
    pub fn hash_outside(&mut self) {
        if let PieceStream::Estargz(e) = self {
            e.hash_outside();
        }
    }

    /// With `hash_outside`: the hashing the last `push` asked for, to do before the next one.
    pub fn take_hash_work(&mut self) -> Vec<estargz::HashWork> {
        match self {
            PieceStream::Estargz(e) => e.take_hash_work(),
            PieceStream::Fixed { .. } => Vec::new(),
        }
    }

    /// The digest of a hash that `HashWork::Finish` completed.
    pub fn digested(&mut self, slot: estargz::DigestSlot, digest: String) {
        if let PieceStream::Estargz(e) = self {
            e.digested(slot, digest);
        }
    }

    /// The input has ended: the last pieces go to `ready`.
    pub fn end(&mut self, ready: &mut Vec<piece::Piece>) -> Result<()> {
        match self {
            PieceStream::Fixed { pieces, trailer } => {
                if let Some(p) = pieces.take() {
                    *trailer = p.finish(ready);
                }
                Ok(())
            }
            PieceStream::Estargz(e) => e.end(ready),
        }
    }

    /// The compressed size of the next piece, in the order they were handed out.
    pub fn compressed(&mut self, size: usize) {
        if let PieceStream::Estargz(e) = self {
            e.compressed(size);
        }
    }

    /// After `end` and every piece's bytes: what follows them.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<Finished> {
        match self {
            PieceStream::Fixed { trailer, .. } => {
                out.extend_from_slice(&trailer);
                Ok(Finished::default())
            }
            PieceStream::Estargz(e) => {
                let trailer = e.finish(out)?;
                Ok(Finished { uncompressed_tail: trailer.toc_tar, toc_digest: Some(trailer.toc_digest) })
            }
        }
    }
}

/// A running compressor for one layer.
pub enum Encoder {
    Identity,
    /// In pieces, here compressed one after the other on this thread.
    Pieces(Box<PieceStream>),
}

/// What finishing an encoder tells beyond the compressed bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Finished {
    /// Uncompressed bytes the encoder added after its input (eStargz: the TOC tar). They are part
    /// of the decompressed blob, so of its diffID and uncompressed size.
    pub uncompressed_tail: Vec<u8>,
    /// eStargz: `sha256:` of the TOC JSON.
    pub toc_digest: Option<String>,
}

impl Encoder {
    pub fn new(compression: Compression, out: &mut Vec<u8>) -> Encoder {
        match PieceStream::new(compression) {
            None => Encoder::Identity,
            Some(stream) => {
                out.extend_from_slice(&stream.header());
                Encoder::Pieces(Box::new(stream))
            }
        }
    }

    /// Compress more of the layer tar. Only eStargz, which parses the tar, can fail.
    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        match self {
            Encoder::Identity => out.extend_from_slice(input),
            Encoder::Pieces(stream) => {
                let mut ready = Vec::new();
                stream.push(input, &mut ready)?;
                compress_in_order(stream, &ready, out);
            }
        }
        Ok(())
    }

    pub fn finish(self, out: &mut Vec<u8>) -> Result<Finished> {
        match self {
            Encoder::Identity => Ok(Finished::default()),
            Encoder::Pieces(mut stream) => {
                let mut ready = Vec::new();
                stream.end(&mut ready)?;
                compress_in_order(&mut stream, &ready, out);
                stream.finish(out)
            }
        }
    }
}

/// The serial path: each piece compressed here, its size told to the stream, its bytes appended.
fn compress_in_order(stream: &mut PieceStream, ready: &[piece::Piece], out: &mut Vec<u8>) {
    for piece in ready {
        let bytes = piece::compress_piece(piece);
        stream.compressed(bytes.len());
        out.extend_from_slice(&bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_options() {
        assert_eq!(Compression::from_options(None, None).unwrap(), Compression::Gzip { level: 6 });
        assert_eq!(Compression::from_options(Some("gzip"), Some("9")).unwrap(), Compression::Gzip { level: 9 });
        assert_eq!(Compression::from_options(Some("uncompressed"), Some("99")).unwrap(), Compression::Uncompressed);
        assert_eq!(
            Compression::from_options(Some("foo"), None).unwrap_err().message,
            "unsupported compression type foo"
        );
        assert!(Compression::from_options(Some("gzip"), Some("10"))
            .unwrap_err()
            .message
            .contains("compression-level=10"));
        assert!(Compression::from_options(None, Some("abc")).unwrap_err().message.contains("non-integer value abc"));
        assert!(Compression::from_options(Some("zstd"), Some("23")).unwrap_err().message.contains("(0-22)"));
        assert_eq!(Compression::from_options(Some("zstd"), None).unwrap(), Compression::Zstd { level: 3 });
        assert_eq!(Compression::from_options(Some("zstd"), Some("0")).unwrap(), Compression::Zstd { level: 0 });
        assert_eq!(Compression::from_options(Some("zstd"), Some("22")).unwrap(), Compression::Zstd { level: 22 });
        assert_eq!(Compression::from_options(Some("estargz"), None).unwrap(), Compression::Estargz { level: 6 });
        assert_eq!(Compression::from_options(Some("estargz"), Some("0")).unwrap(), Compression::Estargz { level: 0 });
        assert_eq!(Compression::from_options(Some("estargz"), Some("9")).unwrap(), Compression::Estargz { level: 9 });
        assert!(Compression::from_options(Some("estargz"), Some("10")).unwrap_err().message.contains("(0-9)"));
    }
}
