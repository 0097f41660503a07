//! Reading an eStargz blob back: its footer, its TOC member and the table of contents in it.
//! BuildKit tells an eStargz layer from plain gzip this way (a footer that points at a member whose
//! tar holds `stargz.index.json` as its last entry), and converting such a layer to another
//! compression keeps only what lies before the TOC member: the original layer tar.
//!
//! Everything here reads bytes from outside (pulled base layers), so every size is bounded and every
//! offset checked before it is used.

use super::{parse_footer, FOOTER_SIZE, TOC_TAR_NAME};
use crate::compress::deflate::{InflateAllError, RawInflate};
use crate::digest::sha256;
use crate::error::Result;
use crate::host::Host;
use crate::tar::header::{parse_header, Block, Pending};
use crate::tar::{padding, BLOCK};
use serde::Deserialize;

/// The footer stargz wrote before eStargz: the extra field is `%016xSTARGZ` without a subfield header.
pub const LEGACY_FOOTER_SIZE: usize = 47;
/// Bounds on what is read and inflated: a TOC lists every file and chunk of a layer, so even a
/// layer of a million files stays far below these.
pub const MAX_TOC_MEMBER: u64 = 64 << 20;
pub const MAX_TOC_TAR: usize = 256 << 20;

/// An eStargz blob's table of contents and where it sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Toc {
    /// Compressed offset of the TOC member: the original layer tar is the blob's bytes before it.
    pub toc_offset: u64,
    pub footer_size: usize,
    /// The TOC member inflated: a tar holding `stargz.index.json` (part of the blob's diffID).
    pub toc_tar: Vec<u8>,
    /// `sha256:` of the TOC JSON (the `containerd.io/snapshot/stargz/toc.digest` annotation).
    pub digest: String,
    pub entries: Vec<Entry>,
}

/// The fields of a TOC entry that locate data; the rest are not needed to read the layer back.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub size: i64,
    #[serde(default)]
    pub offset: i64,
    #[serde(default)]
    pub chunk_offset: i64,
    #[serde(default)]
    pub chunk_size: i64,
}

#[derive(Deserialize)]
struct JsonToc {
    version: i64,
    entries: Option<Vec<Entry>>,
}

const KINDS: &[&str] = &["dir", "reg", "symlink", "hardlink", "char", "block", "fifo", "chunk"];

/// The TOC offset and the footer's size from the end of a blob (`tail`: its last bytes, at least
/// [`FOOTER_SIZE`] of them when the blob is that long); None if it is not an eStargz footer.
pub fn parse_tail(tail: &[u8]) -> Option<(u64, usize)> {
    if let Some(offset) = tail.len().checked_sub(FOOTER_SIZE).and_then(|at| parse_footer(&tail[at..])) {
        return Some((offset, FOOTER_SIZE));
    }
    let legacy = &tail[tail.len().checked_sub(LEGACY_FOOTER_SIZE)?..];
    if legacy[..4] != [0x1f, 0x8b, 8, 4] || legacy[10..12] != [22, 0] || &legacy[28..34] != b"STARGZ" {
        return None;
    }
    let hex = std::str::from_utf8(&legacy[12..28]).ok()?;
    Some((u64::from_str_radix(hex, 16).ok()?, LEGACY_FOOTER_SIZE))
}

/// Parse `member` (the bytes from the TOC offset to the footer) as the TOC member of a blob whose
/// TOC starts at `toc_offset`.
pub fn parse_toc_member(member: &[u8], toc_offset: u64, footer_size: usize) -> std::result::Result<Toc, String> {
    let toc_tar = gunzip_member(member)?;
    let json = toc_json(&toc_tar)?;
    let toc: JsonToc = serde_json::from_slice(json).map_err(|e| format!("the TOC JSON does not parse: {e}"))?;
    if toc.version != 1 {
        return Err(format!("TOC version {} (only version 1 exists)", toc.version));
    }
    let entries = toc.entries.unwrap_or_default();
    for entry in &entries {
        check_entry(entry, toc_offset)?;
    }
    Ok(Toc { toc_offset, footer_size, digest: sha256(json), toc_tar, entries })
}

/// A whole eStargz blob in memory (tests, fuzzing).
pub fn parse_blob(blob: &[u8]) -> std::result::Result<Toc, String> {
    let (toc_offset, footer_size) = parse_tail(blob).ok_or("no eStargz footer")?;
    let end = blob.len() - footer_size;
    let start = usize::try_from(toc_offset).ok().filter(|&s| s < end).ok_or("the footer points past the blob")?;
    parse_toc_member(&blob[start..end], toc_offset, footer_size)
}

/// The TOC of the stored blob `digest` (`size` bytes) if it is an eStargz blob. As in BuildKit, a blob
/// whose footer or TOC does not parse is plain gzip: None, not an error.
pub async fn read<H: Host>(host: &H, digest: &str, size: u64) -> Result<Option<Toc>> {
    if size < LEGACY_FOOTER_SIZE as u64 {
        return Ok(None);
    }
    let tail_len = size.min(FOOTER_SIZE as u64);
    let tail = read_exact(host, digest, size - tail_len, tail_len).await?;
    let Some((toc_offset, footer_size)) = parse_tail(&tail) else {
        return Ok(None);
    };
    let end = size - footer_size as u64;
    if toc_offset >= end || end - toc_offset > MAX_TOC_MEMBER {
        return Ok(None);
    }
    let member = read_exact(host, digest, toc_offset, end - toc_offset).await?;
    Ok(parse_toc_member(&member, toc_offset, footer_size).ok())
}

async fn read_exact<H: Host>(host: &H, digest: &str, mut offset: u64, len: u64) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(len as usize);
    while (out.len() as u64) < len {
        let want = (len - out.len() as u64).min(1 << 20) as u32;
        let chunk = host.blob_read(digest, offset, want).await?;
        if chunk.is_empty() {
            return Err(crate::Error::source(format!("blob {digest} ends before byte {}", offset + u64::from(want))));
        }
        offset += chunk.len() as u64;
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// One whole gzip member, nothing after it, inflated to at most [`MAX_TOC_TAR`] bytes.
fn gunzip_member(member: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let deflate = skip_gzip_header(member).ok_or("the TOC member is not a gzip member")?;
    let (out, input) = RawInflate::inflate_all(deflate, MAX_TOC_TAR).map_err(|e| match e {
        InflateAllError::TooLarge => format!("the TOC member inflates to more than {MAX_TOC_TAR} bytes"),
        InflateAllError::Truncated => "the TOC member is cut short".to_string(),
        InflateAllError::Corrupt => "the TOC member does not inflate: corrupt deflate data".to_string(),
    })?;
    let trailer: [u8; 8] =
        input.try_into().map_err(|_| "the TOC member's gzip trailer is missing or followed by other bytes")?;
    let crc = u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes"));
    let len = u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes"));
    if crc != crc32fast::hash(&out) || len != out.len() as u32 {
        return Err("the TOC member's CRC or length does not match its content".into());
    }
    Ok(out)
}

/// The deflate data of a gzip member (RFC 1952 header with its optional fields skipped).
fn skip_gzip_header(member: &[u8]) -> Option<&[u8]> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if member.len() < 10 || member[..3] != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = member[3];
    let mut rest = &member[10..];
    if flags & FEXTRA != 0 {
        let len = u16::from_le_bytes(rest.get(..2)?.try_into().ok()?) as usize;
        rest = rest.get(2 + len..)?;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            rest = &rest[rest.iter().position(|&b| b == 0)? + 1..];
        }
    }
    if flags & FHCRC != 0 {
        rest = rest.get(2..)?;
    }
    Some(rest)
}

/// The content of `stargz.index.json`, which must be the tar's only entry. Its header is read as
/// the encoder reads layer tars (Go's archive/tar rules, checksum included).
fn toc_json(tar: &[u8]) -> std::result::Result<&[u8], String> {
    let block: &[u8; BLOCK] = tar.get(..BLOCK).and_then(|b| b.try_into().ok()).ok_or("the TOC tar has no header")?;
    let entry = match parse_header(block, &mut Pending::default()) {
        Ok(Block::Entry(entry)) => entry,
        Ok(_) => return Err("the TOC tar does not start with an entry".into()),
        Err(e) => {
            return Err(format!("the TOC tar's header: compression=estargz: reading the layer tar: {}", e.go_text()))
        }
    };
    if entry.name != TOC_TAR_NAME.as_bytes() || entry.typeflag != b'0' {
        return Err(format!("the TOC tar's entry is not a regular file named {TOC_TAR_NAME}"));
    }
    let size = entry.size as u64;
    let body = &tar[BLOCK..];
    let padded = size.checked_add(padding(size) as u64).filter(|&p| p <= body.len() as u64);
    let padded = padded.ok_or("the TOC tar is shorter than its entry")? as usize;
    // The end-of-archive marker and nothing else may follow: the TOC is the last entry.
    if body.len() - padded < 2 * BLOCK || body[padded..].iter().any(|&b| b != 0) {
        return Err(format!("{TOC_TAR_NAME} is not the last entry of the TOC tar"));
    }
    Ok(&body[..size as usize])
}

/// Offsets must lie inside the compressed layer before the TOC; chunks inside their file.
fn check_entry(entry: &Entry, toc_offset: u64) -> std::result::Result<(), String> {
    let name = &entry.name;
    if !KINDS.contains(&entry.kind.as_str()) {
        return Err(format!("TOC entry {name:?} has the unknown type {:?}", entry.kind));
    }
    let in_layer = |n: i64| u64::try_from(n).is_ok_and(|n| n <= toc_offset);
    if !in_layer(entry.offset) || entry.size < 0 {
        return Err(format!("TOC entry {name:?} points outside the layer (offset {})", entry.offset));
    }
    if entry.chunk_offset < 0 || entry.chunk_size < 0 {
        return Err(format!("TOC entry {name:?} has a negative chunk offset or size"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::estargz::EstargzEncoder;
    use crate::fuzzing::block_on;
    use crate::layer::tarball::{copy_stream, Chunks};
    use crate::tar as tar_writer;

    fn sample_tar() -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, size) in [("a.txt", 10usize), ("big.bin", 9 << 20), ("empty", 0)] {
            tar.extend(tar_writer::encode(&tar_writer::Header {
                name: name.as_bytes().to_vec(),
                typeflag: tar_writer::typeflag::REGULAR,
                size: size as i64,
                mode: 0o644,
                ..Default::default()
            }));
            tar.extend((0..size).map(|i| (i * 7 % 251) as u8));
            tar.resize(tar.len() + tar_writer::padding(size as u64), 0);
        }
        tar.extend_from_slice(&tar_writer::TRAILER);
        tar
    }

    fn estargz(tar: &[u8]) -> (Vec<u8>, String) {
        let mut blob = Vec::new();
        let mut encoder = EstargzEncoder::new(6);
        encoder.write(tar, &mut blob).unwrap();
        let trailer = encoder.finish(&mut blob).unwrap();
        (blob, trailer.toc_digest)
    }

    #[test]
    fn reads_back_what_the_encoder_wrote() {
        let tar = sample_tar();
        let (blob, toc_digest) = estargz(&tar);
        let toc = parse_blob(&blob).unwrap();
        assert_eq!(toc.digest, toc_digest);
        assert_eq!(toc.footer_size, FOOTER_SIZE);
        let kinds: Vec<_> = toc.entries.iter().map(|e| (e.name.as_str(), e.kind.as_str())).collect();
        assert_eq!(
            kinds,
            [("a.txt", "reg"), ("big.bin", "reg"), ("big.bin", "chunk"), ("big.bin", "chunk"), ("empty", "reg")]
        );
        // Everything before the TOC member is the original tar.
        let mut prefix = Vec::new();
        let members = Chunks { data: &blob[..toc.toc_offset as usize], chunk: 1 << 16 };
        block_on(copy_stream(&mut { members }, "prefix", &mut prefix)).unwrap();
        assert_eq!(prefix, tar);
    }

    #[test]
    fn plain_gzip_and_damaged_blobs_are_not_estargz() {
        let tar = sample_tar();
        let gzip = crate::compress::gzip::gzip_member(6, &tar);
        assert_eq!(parse_blob(&gzip).unwrap_err(), "no eStargz footer");

        let (blob, _) = estargz(&tar);
        let toc_at = parse_tail(&blob).unwrap().0 as usize;
        let mut bad = blob.clone();
        bad[toc_at + 20] ^= 0x55;
        assert!(parse_blob(&bad).is_err());
        // A footer pointing at the wrong member.
        let mut moved = blob[..blob.len() - FOOTER_SIZE].to_vec();
        moved.extend_from_slice(&super::super::footer(0));
        assert!(parse_blob(&moved).is_err());
        let mut past = blob[..blob.len() - FOOTER_SIZE].to_vec();
        past.extend_from_slice(&super::super::footer(u64::MAX));
        assert_eq!(parse_blob(&past).unwrap_err(), "the footer points past the blob");
    }

    #[test]
    fn legacy_footer_is_accepted() {
        let (blob, toc_digest) = estargz(&sample_tar());
        let (toc_offset, _) = parse_tail(&blob).unwrap();
        let mut legacy = blob[..blob.len() - FOOTER_SIZE].to_vec();
        legacy.extend_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, 22, 0]);
        legacy.extend_from_slice(format!("{toc_offset:016x}STARGZ").as_bytes());
        legacy.extend_from_slice(&[1, 0, 0, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0]);
        let toc = parse_blob(&legacy).unwrap();
        assert_eq!((toc.digest, toc.footer_size), (toc_digest, LEGACY_FOOTER_SIZE));
    }
}
