//! eStargz as BuildKit's `compression=estargz` writes it (stargz-snapshotter's
//! `NewWriterLevel(out, level)` + `AppendTarLossLess` + `Close`): the layer tar passes through
//! unchanged, split into gzip members so that every chunk (at most 4 MiB) of every non-empty regular
//! file starts a member of its own; headers, padding and the tar's own end marker go into whichever
//! member is open. Then a member holding a tar of the TOC (`stargz.index.json`) and the 51-byte
//! footer that points at it. No prefetch landmarks (decision §0).
//!
//! Streaming and parallel: the tar is parsed as it arrives, and [`EstargzPieces`] hands out each
//! member as it grows, the way gzip layers are cut (piece.rs, one `Pieces` per member): its 10-byte
//! gzip header as a piece that passes through, then deflate pieces of at most 1 MiB of its bytes
//! (each primed with the 32 KiB of the same member before it, the member's last one closing its
//! deflate stream), then its CRC-32 and length as a piece that passes through. So hosts compress
//! 1 MiB at a time on several threads, and neither they nor the core ever hold a whole member. A TOC
//! entry records the index of the piece its member starts with (its header); the compressed sizes of
//! the pieces, as they come back in order, turn indexes into offsets when finishing. In memory: at
//! most 1 MiB of the open member, the pieces in flight, the TOC entries and one size per piece.
//! [`EstargzEncoder`] compresses the same pieces one after the other on the calling thread: the same
//! bytes for any number of threads.
//!
//! The TOC's digests (of each chunk, and of each file of several chunks) are sha256 over the file
//! data. wasm has no SHA instructions, so a caller with a host that hashes natively asks for them
//! as [`HashWork`] (`hash_outside`) and hands the digests back (`digested`); otherwise they are
//! hashed here.

mod fields;
pub mod reader;
mod toc;

use super::piece::{Piece, Pieces};
use super::{Compression, Encoder, PieceStream};
use crate::digest::{sha256, Hasher};
use crate::error::{Error, Result};
use crate::tar as tar_writer;
use crate::tar::{Entry, Event, Reader, TarError, Truncation};
use std::collections::BTreeMap;
use std::ops::Range;
pub use toc::TocEntry;

/// estargz's default chunk size.
pub const CHUNK_SIZE: u64 = 4 << 20;
pub const TOC_TAR_NAME: &str = "stargz.index.json";
/// Descriptor annotation: `sha256:` of the TOC JSON.
pub const TOC_DIGEST_ANNOTATION: &str = "containerd.io/snapshot/stargz/toc.digest";
/// Descriptor annotation: length of the whole decompressed blob.
pub const UNCOMPRESSED_SIZE_ANNOTATION: &str = "io.containers.estargz.uncompressed-size";
pub const FOOTER_SIZE: usize = 51;

/// The layer descriptor annotations of an eStargz blob.
pub fn annotations(toc_digest: &str, uncompressed_size: u64) -> Vec<(String, String)> {
    vec![
        (TOC_DIGEST_ANNOTATION.to_string(), toc_digest.to_string()),
        (UNCOMPRESSED_SIZE_ANNOTATION.to_string(), uncompressed_size.to_string()),
    ]
}

/// What finishing adds beyond the compressed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// The uncompressed TOC tar appended after the layer tar: part of the diffID.
    pub toc_tar: Vec<u8>,
    /// `sha256:` of the TOC JSON.
    pub toc_digest: String,
}

/// Where the encoder is in the tar stream: the tar reader decides everything but a regular file's
/// data, which is cut into chunks here.
enum State {
    Tar,
    /// A regular file's data.
    Data(Box<FileData>),
}

struct FileData {
    /// Index of the file's `reg` TOC entry, and of the entry of the chunk being written.
    reg: usize,
    chunk: usize,
    name: Vec<u8>,
    size: u64,
    done: u64,
    chunk_left: u64,
    /// The file has several chunks, so its digest is hashed on its own (a file of one chunk has
    /// its chunk's digest: hashing it twice would cost a third of an eStargz export in wasm).
    several_chunks: bool,
}

/// A digest the TOC needs: of the chunk whose entry is `entry` (its `chunkDigest`), or with
/// `whole_file` of the file of several chunks whose `reg` entry is `entry` (its `digest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestSlot {
    pub entry: usize,
    pub whole_file: bool,
}

/// Hashing for the TOC, in the order it must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashWork {
    /// A new hash for the slot.
    Start(DigestSlot),
    /// Bytes `range` of the input given to the last `push` go into the slot's hash.
    Update(DigestSlot, Range<usize>),
    /// The slot's hash is complete: its digest goes back through `digested`.
    Finish(DigestSlot),
}

/// The eStargz encoder proper: parses the layer tar and cuts it into members, handed out as pieces
/// to compress (in order, each to one whole gzip member); the TOC member and the footer are written
/// by `finish` once every member's compressed size is known.
pub struct EstargzPieces {
    level: u8,
    chunk_size: u64,
    /// The open member: one gzip stream cut into pieces.
    member: Option<Pieces>,
    /// Pieces handed out so far: the index of the next one.
    pieces: usize,
    /// Compressed sizes of the pieces back so far, in order.
    sizes: Vec<u64>,
    state: State,
    tar: Reader,
    toc: Vec<TocEntry>,
    /// estargz's nameIfChanged: a user or group name is recorded when it differs from the last one
    /// seen for the same id.
    user_names: BTreeMap<i64, Vec<u8>>,
    group_names: BTreeMap<i64, Vec<u8>>,
    /// Hashing asked for by the last `push`: done by the caller (`hash_outside`), else here with
    /// `own_hashes`.
    hash_work: Vec<HashWork>,
    hash_outside: bool,
    own_hashes: Vec<(DigestSlot, Hasher)>,
    /// Digests finished but not yet handed back.
    digests_due: usize,
}

impl EstargzPieces {
    pub fn new(level: u8) -> EstargzPieces {
        EstargzPieces::with_chunk_size(level, CHUNK_SIZE)
    }

    pub fn with_chunk_size(level: u8, chunk_size: u64) -> EstargzPieces {
        EstargzPieces {
            level,
            chunk_size: chunk_size.max(1),
            member: None,
            pieces: 0,
            sizes: Vec::new(),
            state: State::Tar,
            tar: Reader::new(),
            toc: Vec::new(),
            user_names: BTreeMap::new(),
            group_names: BTreeMap::new(),
            hash_work: Vec::new(),
            hash_outside: false,
            own_hashes: Vec::new(),
            digests_due: 0,
        }
    }

    /// From now on the TOC's hashing is left to the caller: after each `push` (and before the
    /// next), it does what `take_hash_work` lists and hands each finished digest to `digested`.
    pub fn hash_outside(&mut self) {
        self.hash_outside = true;
    }

    /// The hashing the last `push` asked for (with `hash_outside`).
    pub fn take_hash_work(&mut self) -> Vec<HashWork> {
        std::mem::take(&mut self.hash_work)
    }

    /// The digest of a slot whose hash `HashWork::Finish` completed.
    pub fn digested(&mut self, slot: DigestSlot, digest: String) {
        self.digests_due -= 1;
        let entry = &mut self.toc[slot.entry];
        if slot.whole_file {
            entry.digest = digest;
            return;
        }
        // A file of one chunk: its digest is its chunk's.
        if entry.kind == "reg" && entry.size as u64 <= self.chunk_size {
            entry.digest = digest.clone();
        }
        entry.chunk_digest = digest;
    }

    /// Take more of the layer tar; every piece it completes goes to `ready`, in order.
    pub fn push(&mut self, input: &[u8], ready: &mut Vec<Piece>) -> Result<()> {
        let mut at = 0;
        while at < input.len() {
            at += self.step(input, at, ready)?;
        }
        if !self.hash_outside {
            self.hash_here(input);
        }
        Ok(())
    }

    /// Without `hash_outside`: the hashing `push` asked for, done here.
    fn hash_here(&mut self, input: &[u8]) {
        for work in std::mem::take(&mut self.hash_work) {
            match work {
                HashWork::Start(slot) => self.own_hashes.push((slot, Hasher::new())),
                HashWork::Update(slot, range) => {
                    let at = hash_of(&self.own_hashes, slot).expect("an updated hash was started");
                    self.own_hashes[at].1.update(&input[range]);
                }
                HashWork::Finish(slot) => {
                    let at = hash_of(&self.own_hashes, slot).expect("a finished hash was started");
                    let digest = self.own_hashes.swap_remove(at).1.finish();
                    self.digested(slot, digest);
                }
            }
        }
    }

    fn ask(&mut self, work: HashWork) {
        if matches!(work, HashWork::Finish(_)) {
            self.digests_due += 1;
        }
        self.hash_work.push(work);
    }

    /// Consume some of `input[at..]` (at least one byte); returns how many. A file's data is read up
    /// to the end of its chunk at most, so each chunk starts a member of its own.
    fn step(&mut self, whole: &[u8], at: usize, ready: &mut Vec<Piece>) -> Result<usize> {
        let input = &whole[at..];
        let limit = match &self.state {
            State::Data(file) => (file.chunk_left as usize).min(input.len()),
            State::Tar => input.len(),
        };
        let (n, event) = self.tar.read(&input[..limit]).map_err(tar_error)?;
        // Headers and padding go into the open member before anything the event starts.
        self.emit(&input[..n], ready);
        match event {
            Some(Event::Entry(h)) => self.entry(h, ready)?,
            // The tar reader's data is the start of its input.
            Some(Event::Data(data)) => self.data(at..at + data.len(), ready),
            Some(Event::End) | None => {}
        }
        Ok(n)
    }

    /// Some of the current regular file's data (within one chunk): bytes `range` of the input.
    fn data(&mut self, range: Range<usize>, ready: &mut Vec<Piece>) {
        let State::Data(file) = &mut self.state else { return };
        let len = range.len() as u64;
        let chunk = DigestSlot { entry: file.chunk, whole_file: false };
        let whole = file.several_chunks.then_some(DigestSlot { entry: file.reg, whole_file: true });
        file.chunk_left -= len;
        file.done += len;
        let (chunk_done, file_done) = (file.chunk_left == 0, file.done >= file.size);
        if let Some(whole) = whole {
            self.ask(HashWork::Update(whole, range.clone()));
        }
        self.ask(HashWork::Update(chunk, range));
        if !chunk_done {
            return;
        }
        self.ask(HashWork::Finish(chunk));
        if !file_done {
            self.start_chunk(ready);
            return;
        }
        if let Some(whole) = whole {
            self.ask(HashWork::Finish(whole));
        }
        self.state = State::Tar;
    }

    /// A real tar entry: its TOC entry, and for a non-empty regular file the first chunk's member.
    fn entry(&mut self, h: Entry, ready: &mut Vec<Piece>) -> Result<()> {
        if fields::clean_name(&h.name) == TOC_TAR_NAME.as_bytes() {
            return Err(Error::source(format!(
                "compression=estargz: the layer has its own {TOC_TAR_NAME}: existing TOC JSON is not allowed; decompress layer before append"
            )));
        }
        let kind = match h.typeflag {
            b'1' => "hardlink",
            b'2' => "symlink",
            b'5' => "dir",
            b'0' => "reg",
            b'3' => "char",
            b'4' => "block",
            b'6' => "fifo",
            other => {
                let shown =
                    if other.is_ascii_graphic() { (other as char).to_string() } else { format!("\\x{other:02x}") };
                return Err(Error::source(format!(
                    "compression=estargz: {}: unsupported input tar entry '{shown}'",
                    String::from_utf8_lossy(&h.name)
                )));
            }
        };
        let xattrs =
            h.pax.iter().filter_map(|(k, v)| Some((k.strip_prefix(b"SCHILY.xattr.")?.to_vec(), v.clone()))).collect();
        let mut entry = TocEntry {
            name: h.name.clone(),
            kind,
            modtime: fields::toc_modtime(h.mtime),
            mode: h.mode,
            uid: h.uid,
            gid: h.gid,
            user_name: name_if_changed(&mut self.user_names, h.uid, &h.uname),
            group_name: name_if_changed(&mut self.group_names, h.gid, &h.gname),
            xattrs,
            ..Default::default()
        };
        match kind {
            "hardlink" | "symlink" => entry.link_name = h.linkname.clone(),
            "char" | "block" => (entry.dev_major, entry.dev_minor) = (h.devmajor, h.devminor),
            "reg" => entry.size = h.size,
            _ => {}
        }
        let size = h.data_size();
        if kind == "reg" && size == 0 {
            entry.digest = sha256(b"");
        }
        self.toc.push(entry);
        if kind != "reg" || size == 0 {
            return Ok(());
        }
        let reg = self.toc.len() - 1;
        let name = h.name;
        let several_chunks = size > self.chunk_size;
        let file = FileData { reg, chunk: reg, name, size, done: 0, chunk_left: 0, several_chunks };
        self.state = State::Data(Box::new(file));
        if several_chunks {
            self.ask(HashWork::Start(DigestSlot { entry: reg, whole_file: true }));
        }
        self.start_chunk(ready);
        Ok(())
    }

    /// Close the open member and start the next chunk of the current file in a new one.
    fn start_chunk(&mut self, ready: &mut Vec<Piece>) {
        self.close_member(ready);
        let piece = self.pieces as u64;
        let chunk_size = self.chunk_size;
        let State::Data(file) = &mut self.state else { unreachable!("start_chunk outside file data") };
        let left = file.size - file.done;
        if file.done > 0 {
            self.toc.push(TocEntry { name: file.name.clone(), kind: "chunk", ..Default::default() });
            file.chunk = self.toc.len() - 1;
        }
        let entry = &mut self.toc[file.chunk];
        // The index of the member's first piece until `finish` knows the offsets.
        entry.offset = piece;
        entry.chunk_offset = file.done;
        if left >= chunk_size {
            entry.chunk_size = chunk_size;
        }
        file.chunk_left = left.min(chunk_size);
        let chunk = DigestSlot { entry: file.chunk, whole_file: false };
        self.ask(HashWork::Start(chunk));
        self.open_member(ready);
    }

    /// The gzip members' compression (each member is one gzip stream cut as gzip layers are).
    fn gzip(&self) -> Compression {
        Compression::Gzip { level: self.level }
    }

    /// Start a member: its gzip header goes out as a piece that passes through.
    fn open_member(&mut self, ready: &mut Vec<Piece>) {
        let member = Pieces::new(self.gzip()).expect("gzip is cut into pieces");
        self.hand_out(ready, Piece::passed_on(member.header()));
        self.member = Some(member);
    }

    /// Hand out the open member's last piece and its trailer, if a member is open.
    fn close_member(&mut self, ready: &mut Vec<Piece>) {
        let Some(member) = self.member.take() else { return };
        let before = ready.len();
        let trailer = member.finish(ready);
        self.pieces += ready.len() - before;
        self.hand_out(ready, Piece::passed_on(trailer));
    }

    fn hand_out(&mut self, ready: &mut Vec<Piece>, piece: Piece) {
        ready.push(piece);
        self.pieces += 1;
    }

    /// Add `data` to the open member (opening one if none is); every full 1 MiB piece goes out.
    fn emit(&mut self, data: &[u8], ready: &mut Vec<Piece>) {
        if data.is_empty() {
            return;
        }
        if self.member.is_none() {
            self.open_member(ready);
        }
        let before = ready.len();
        self.member.as_mut().expect("an open member").push(data, ready);
        self.pieces += ready.len() - before;
    }

    /// The tar has ended: its last member goes to `ready`.
    pub fn end(&mut self, ready: &mut Vec<Piece>) -> Result<()> {
        // Go's reader ends without an error between two blocks, end marker or not.
        if let Err(Truncation::NoEndMarker { clean: false } | Truncation::InsideEntry(_)) = self.tar.finish() {
            return Err(Error::source("compression=estargz: reading the layer tar: unexpected EOF"));
        }
        self.close_member(ready);
        Ok(())
    }

    /// The compressed size of the next piece, in the order they were handed out.
    pub fn compressed(&mut self, size: usize) {
        self.sizes.push(size as u64);
    }

    /// After `end` and every piece's compressed size: write the TOC member (compressed here) and the
    /// footer.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<Trailer> {
        if self.digests_due > 0 {
            return Err(Error::internal(format!(
                "compression=estargz: finishing with {} digests due",
                self.digests_due
            )));
        }
        if self.member.is_some() || self.sizes.len() != self.pieces {
            return Err(Error::internal(format!(
                "compression=estargz: finishing with {} of {} pieces compressed",
                self.sizes.len(),
                self.pieces + self.member.is_some() as usize
            )));
        }
        // Where each piece starts; entries without data hold 0, which is where piece 0 starts.
        let mut starts = Vec::with_capacity(self.sizes.len() + 1);
        let mut toc_offset = 0;
        for size in std::mem::take(&mut self.sizes) {
            starts.push(toc_offset);
            toc_offset += size;
        }
        starts.push(toc_offset);
        for entry in &mut self.toc {
            entry.offset = starts[entry.offset as usize];
        }
        let json = toc::to_json(&self.toc);
        let toc_tar = toc_tar(&json);
        out.extend_from_slice(&super::gzip::gzip_member(self.level, &toc_tar));
        out.extend_from_slice(&footer(toc_offset));
        Ok(Trailer { toc_tar, toc_digest: sha256(&json) })
    }
}

/// The serial driver: [`EstargzPieces`] with every member compressed in place, in order, as
/// `compress::Encoder` does for any piecewise stream.
pub struct EstargzEncoder(Encoder);

impl EstargzEncoder {
    pub fn new(level: u8) -> EstargzEncoder {
        EstargzEncoder::with_chunk_size(level, CHUNK_SIZE)
    }

    pub fn with_chunk_size(level: u8, chunk_size: u64) -> EstargzEncoder {
        let pieces = EstargzPieces::with_chunk_size(level, chunk_size);
        EstargzEncoder(Encoder::Pieces(Box::new(PieceStream::Estargz(Box::new(pieces)))))
    }

    pub fn write(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        self.0.write(input, out)
    }

    /// Close the last member, then write the TOC member and the footer.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<Trailer> {
        let finished = self.0.finish(out)?;
        let toc_digest = finished.toc_digest.ok_or_else(|| Error::internal("compression=estargz: no TOC digest"))?;
        Ok(Trailer { toc_tar: finished.uncompressed_tail, toc_digest })
    }
}

/// Where `slot`'s hash is among the open ones.
pub fn hash_of<T>(hashes: &[(DigestSlot, T)], slot: DigestSlot) -> Option<usize> {
    hashes.iter().position(|(s, _)| *s == slot)
}

/// What eStargz (Go's reader, then estargz's own checks) says about a tar it cannot take.
fn tar_error(e: TarError) -> Error {
    match e {
        TarError::Sparse { name, typeflag: b'S' } => Error::source(format!(
            "compression=estargz: {}: unsupported input tar entry 'S'",
            String::from_utf8_lossy(&name)
        )),
        e @ TarError::Sparse { .. } => Error::source(format!("compression=estargz: {e}")),
        e => Error::source(format!("compression=estargz: reading the layer tar: {}", e.go_text())),
    }
}

fn name_if_changed(seen: &mut BTreeMap<i64, Vec<u8>>, id: i64, name: &[u8]) -> Vec<u8> {
    if name.is_empty() || seen.get(&id).is_some_and(|n| n == name) {
        return Vec::new();
    }
    seen.insert(id, name.to_vec());
    name.to_vec()
}

/// The TOC member's content: a tar holding `json` as its one regular file `stargz.index.json`
/// (minimal header: mode 0, mtime 0), with the tar's own end-of-archive marker.
pub fn toc_tar(json: &[u8]) -> Vec<u8> {
    let mut tar = tar_writer::encode(&tar_writer::Header {
        name: TOC_TAR_NAME.as_bytes().to_vec(),
        typeflag: tar_writer::typeflag::REGULAR,
        size: json.len() as i64,
        ..Default::default()
    });
    tar.extend_from_slice(json);
    tar.resize(tar.len() + tar_writer::padding(json.len() as u64), 0);
    tar.extend_from_slice(&tar_writer::TRAILER);
    tar
}

/// estargz's gzipFooterBytes: an empty gzip member (stored, as Go's NoCompression writes it) whose
/// extra field is the subfield `SG` holding `%016x` of the TOC offset and `STARGZ`.
pub fn footer(toc_offset: u64) -> [u8; FOOTER_SIZE] {
    let mut f = [0u8; FOOTER_SIZE];
    f[..12].copy_from_slice(&[0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 255, 26, 0]);
    f[12..16].copy_from_slice(&[b'S', b'G', 22, 0]);
    f[16..32].copy_from_slice(format!("{toc_offset:016x}").as_bytes());
    f[32..38].copy_from_slice(b"STARGZ");
    // Final stored block of length 0, then CRC-32 and size of nothing.
    f[38..43].copy_from_slice(&[1, 0, 0, 0xff, 0xff]);
    f
}

/// The TOC offset a footer points at; None if it is not an eStargz footer.
pub fn parse_footer(f: &[u8]) -> Option<u64> {
    if f.len() != FOOTER_SIZE || f[..4] != [0x1f, 0x8b, 8, 4] || f[10..16] != [26, 0, b'S', b'G', 22, 0] {
        return None;
    }
    if &f[32..38] != b"STARGZ" {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&f[16..32]).ok()?, 16).ok()
}

#[cfg(test)]
mod tests;
