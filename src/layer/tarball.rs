//! A layer given as a tarball (`.tar`, `.tar.gz`, `.tar.zst`) is taken as is: its uncompressed
//! bytes become the layer's tar stream byte for byte, so the layer's diffID is the sha256 of what
//! `gzip -dc` prints. The tarball comes from outside and whoever pulls the image unpacks it, so
//! every entry is checked on the way, the way Go's archive/tar reads it (what containerd and Docker
//! unpack layers with): well-formed headers, and names that stay inside the layer root.
//!
//! Compression is recognized by its magic bytes. Memory stays bounded whatever the size: gzip is
//! inflated as a stream (every member, as `gzip -dc` does), zstd frame by frame and block by block.

use super::walk::{show, TarSink};
use crate::compress::deflate::RawInflate;
use crate::error::{Error, Result};
use crate::host::{Handle, Host};
use crate::tar::BLOCK;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};

/// How much of the tarball is requested from the host at a time.
const READ_CHUNK: u32 = 1 << 20;
/// Inflated bytes per step.
const INFLATE_CHUNK: usize = 256 << 10;
/// PAX and GNU long-name records are small: Go's archive/tar refuses them above 1 MiB.
const MAX_META: u64 = 1 << 20;
/// A zstd frame header is at most 18 bytes; a block at most 3 + 128 KiB, and a checksum follows.
const ZSTD_FRAME_HEADER: usize = 18;
const ZSTD_BLOCK: usize = 3 + (128 << 10) + 4;

/// Stream the layer tarball at host path `path` (plain tar, gzip or zstd, told apart by their magic
/// bytes, not by name) into `out` as the uncompressed tar it holds, checking every entry.
pub async fn copy_tarball<H: Host, S: TarSink>(host: &H, path: &[u8], out: &mut S) -> Result<()> {
    let handle = host.source_open(path).await?;
    let copied = copy_stream(&mut HostFile { host, handle }, &show(path), out).await;
    host.source_close(handle).await;
    copied
}

/// Where tarball bytes come from.
#[allow(async_fn_in_trait)]
pub trait Source {
    /// The next bytes; empty at the end.
    async fn read(&mut self) -> Result<Vec<u8>>;
}

struct HostFile<'h, H: Host> {
    host: &'h H,
    handle: Handle,
}

impl<H: Host> Source for HostFile<'_, H> {
    async fn read(&mut self) -> Result<Vec<u8>> {
        self.host.source_read(self.handle, READ_CHUNK).await
    }
}

/// Bytes in memory, handed out `chunk` at a time (tests and fuzzing).
pub struct Chunks<'a> {
    pub data: &'a [u8],
    pub chunk: usize,
}

impl Source for Chunks<'_> {
    async fn read(&mut self) -> Result<Vec<u8>> {
        let (now, rest) = self.data.split_at(self.chunk.max(1).min(self.data.len()));
        self.data = rest;
        Ok(now.to_vec())
    }
}

/// [`copy_tarball`] over any source; `what` names it in messages.
pub async fn copy_stream<R: Source, S: TarSink>(source: &mut R, what: &str, out: &mut S) -> Result<()> {
    let mut input = Input { source, buf: Vec::new(), pos: 0, eof: false };
    let mut sink = Checked { tar: TarCheck::new(what), out };
    input.ensure(6).await?;
    match detect(input.data()) {
        Kind::Gzip => gunzip(&mut input, what, &mut sink).await?,
        Kind::Zstd => unzstd(&mut input, what, &mut sink).await?,
        Kind::Unsupported(kind) => {
            return Err(Error::source(format!(
                "{what}: {kind}-compressed layer tarballs are not supported (use plain tar, gzip or zstd)"
            )))
        }
        Kind::Tar => loop {
            if input.data().is_empty() && !input.fill().await? {
                break;
            }
            sink.write(input.data()).await?;
            input.pos = input.buf.len();
        },
    }
    sink.tar.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Tar,
    Gzip,
    Zstd,
    Unsupported(&'static str),
}

/// What a tarball's first bytes (up to 6) say it is.
pub fn detect(magic: &[u8]) -> Kind {
    if magic.starts_with(&[0x1f, 0x8b]) {
        Kind::Gzip
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd])
        || (magic.len() >= 4 && magic[0] & 0xf0 == 0x50 && magic[1..4] == [0x2a, 0x4d, 0x18])
    {
        // A frame, or a skippable frame first.
        Kind::Zstd
    } else if magic.starts_with(b"BZh") {
        Kind::Unsupported("bzip2")
    } else if magic.starts_with(b"\xfd7zXZ\0") {
        Kind::Unsupported("xz")
    } else {
        Kind::Tar
    }
}

/// Buffered input with enough look-ahead for headers.
struct Input<'s, R: Source> {
    source: &'s mut R,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<R: Source> Input<'_, R> {
    fn data(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
    }

    /// Read more; false at the end.
    async fn fill(&mut self) -> Result<bool> {
        if self.eof {
            return Ok(false);
        }
        let chunk = self.source.read().await?;
        if chunk.is_empty() {
            self.eof = true;
            return Ok(false);
        }
        if self.pos == self.buf.len() {
            self.buf = chunk;
        } else {
            self.buf.drain(..self.pos);
            self.buf.extend_from_slice(&chunk);
        }
        self.pos = 0;
        Ok(true)
    }

    /// Have at least `n` bytes buffered; false if the input ends first.
    async fn ensure(&mut self, n: usize) -> Result<bool> {
        while self.data().len() < n {
            if !self.fill().await? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Pass over `n` bytes, adding them to `crc` if given; false if the input ends first.
    async fn skip(&mut self, mut n: u64, mut crc: Option<&mut crc32fast::Hasher>) -> Result<bool> {
        while n > 0 {
            if self.data().is_empty() && !self.fill().await? {
                return Ok(false);
            }
            let step = (self.data().len() as u64).min(n) as usize;
            if let Some(crc) = crc.as_deref_mut() {
                crc.update(&self.data()[..step]);
            }
            self.consume(step);
            n -= step as u64;
        }
        Ok(true)
    }

    /// Pass over a NUL-terminated string (gzip's FNAME and FCOMMENT); false if the input ends first.
    async fn skip_string(&mut self, crc: &mut crc32fast::Hasher) -> Result<bool> {
        loop {
            if self.data().is_empty() && !self.fill().await? {
                return Ok(false);
            }
            let data = self.data();
            let (n, found) = match data.iter().position(|&b| b == 0) {
                Some(i) => (i + 1, true),
                None => (data.len(), false),
            };
            crc.update(&data[..n]);
            self.consume(n);
            if found {
                return Ok(true);
            }
        }
    }
}

/// The output side: every byte goes through the tar checks, then to the sink.
struct Checked<'o, S: TarSink> {
    tar: TarCheck,
    out: &'o mut S,
}

impl<S: TarSink> Checked<'_, S> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.tar.feed(data)?;
        self.out.write(data).await
    }
}

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// Every gzip member in turn: header, deflate data, then CRC-32 and length checked.
async fn gunzip<R: Source, S: TarSink>(input: &mut Input<'_, R>, what: &str, sink: &mut Checked<'_, S>) -> Result<()> {
    let bad = |why: &str| Error::source(format!("{what}: invalid gzip data: {why}"));
    let truncated = || Error::source(format!("{what}: truncated gzip data (unexpected end of file)"));
    let mut inflate = RawInflate::new();
    let mut out = vec![0u8; INFLATE_CHUNK];
    let mut first = true;
    loop {
        // Like Go's gzip reader (and `gzip -dc`): members may follow each other; anything else may not.
        if !first && !input.ensure(1).await? {
            return Ok(());
        }
        first = false;
        let complete = input.ensure(10).await?;
        if !input.data().starts_with(&[0x1f, 0x8b][..input.data().len().min(2)]) {
            return Err(bad("data after the end of the gzip stream is not another gzip member"));
        }
        if !complete {
            return Err(truncated());
        }
        let header: [u8; 10] = input.data()[..10].try_into().expect("10 bytes");
        if header[2] != 8 {
            return Err(bad(&format!("unknown compression method {}", header[2])));
        }
        let flags = header[3];
        if flags & 0xe0 != 0 {
            return Err(bad(&format!("reserved header flags {flags:#04x} set")));
        }
        let mut header_crc = crc32fast::Hasher::new();
        header_crc.update(&header);
        input.consume(10);
        if flags & FEXTRA != 0 {
            if !input.ensure(2).await? {
                return Err(truncated());
            }
            let len = u16::from_le_bytes([input.data()[0], input.data()[1]]);
            header_crc.update(&input.data()[..2]);
            input.consume(2);
            if !input.skip(len as u64, Some(&mut header_crc)).await? {
                return Err(truncated());
            }
        }
        for flag in [FNAME, FCOMMENT] {
            if flags & flag != 0 && !input.skip_string(&mut header_crc).await? {
                return Err(truncated());
            }
        }
        if flags & FHCRC != 0 {
            if !input.ensure(2).await? {
                return Err(truncated());
            }
            let stored = u16::from_le_bytes([input.data()[0], input.data()[1]]);
            if stored != header_crc.finalize() as u16 {
                return Err(bad("header checksum mismatch"));
            }
            input.consume(2);
        }

        let mut crc = crc32fast::Hasher::new();
        let mut size = 0u32;
        loop {
            if input.data().is_empty() && !input.fill().await? {
                return Err(truncated());
            }
            let step = inflate.step(input.data(), &mut out).map_err(|_| bad("corrupt deflate stream"))?;
            input.consume(step.consumed);
            let produced = &out[..step.written];
            crc.update(produced);
            size = size.wrapping_add(produced.len() as u32);
            sink.write(produced).await?;
            if step.end {
                break;
            }
        }
        if !input.ensure(8).await? {
            return Err(truncated());
        }
        let trailer = &input.data()[..8];
        if u32::from_le_bytes(trailer[..4].try_into().expect("4 bytes")) != crc.finalize() {
            return Err(bad("CRC-32 mismatch (the data is corrupt)"));
        }
        if u32::from_le_bytes(trailer[4..].try_into().expect("4 bytes")) != size {
            return Err(bad("length mismatch (the data is corrupt)"));
        }
        input.consume(8);
        inflate.reset();
    }
}

/// Every zstd frame in turn (skippable frames skipped), block by block, checksums checked.
async fn unzstd<R: Source, S: TarSink>(input: &mut Input<'_, R>, what: &str, sink: &mut Checked<'_, S>) -> Result<()> {
    let bad = |why: String| Error::source(format!("{what}: invalid or truncated zstd data: {why}"));
    let mut decoder = FrameDecoder::new();
    loop {
        if !input.ensure(1).await? {
            return Ok(());
        }
        input.ensure(ZSTD_FRAME_HEADER).await?;
        let mut src = input.data();
        let before = src.len();
        let started = decoder.reset(&mut src);
        let used = before - src.len();
        input.consume(used);
        match started {
            Ok(()) => {}
            Err(FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::SkipFrame { length, .. })) => {
                if !input.skip(length as u64, None).await? {
                    return Err(bad("skippable frame cut short".into()));
                }
                continue;
            }
            Err(e) => return Err(bad(e.to_string())),
        }
        let mut produced = 0u64;
        loop {
            input.ensure(ZSTD_BLOCK).await?;
            let mut src = input.data();
            let before = src.len();
            let decoded = decoder.decode_blocks(&mut src, BlockDecodingStrategy::UptoBlocks(1));
            let used = before - src.len();
            input.consume(used);
            decoded.map_err(|e| bad(e.to_string()))?;
            // While the frame goes on this keeps the window; at its end it drains everything.
            if let Some(data) = decoder.collect() {
                produced += data.len() as u64;
                sink.write(&data).await?;
            }
            if decoder.is_finished() {
                break;
            }
        }
        if let Some(stored) = decoder.get_checksum_from_data() {
            if Some(stored) != decoder.get_calculated_checksum() {
                return Err(bad("content checksum mismatch (the data is corrupt)".into()));
            }
        }
        let declared = decoder.content_size();
        if declared != 0 && declared != produced {
            return Err(bad(format!("frame declares {declared} bytes but holds {produced}")));
        }
    }
}

/// Where the tar checker is in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a header block.
    Header,
    /// Collecting the data of a PAX (`x`, `g`) or GNU long-name (`L`, `K`) entry.
    Meta { kind: u8, remaining: u64, padding: u64 },
    /// Passing over entry data and padding.
    Data { remaining: u64 },
    /// Collecting an old-GNU sparse extension block; then `data` bytes of data and padding.
    SparseExtension { data: u64 },
    /// After one zero block: the second must follow.
    SecondZero,
    /// After the end-of-archive marker: whatever follows (record padding) passes.
    End,
}

/// What a PAX extended header (`x`) says about the next entry; Go replaces it at each `x`.
#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<Vec<u8>>,
    sparse_name: Option<Vec<u8>>,
}

/// Go archive/tar's reading rules as a push parser: bytes go in as they come, in any chunks.
struct TarCheck {
    what: String,
    state: State,
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes of tar consumed so far, and where the last header block started.
    offset: u64,
    header_at: u64,
    meta: Vec<u8>,
    pax: Option<Pax>,
    long_name: Vec<u8>,
    long_link: Vec<u8>,
    /// The entry being passed over, for messages.
    entry: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Star,
    Gnu,
}

impl TarCheck {
    fn new(what: &str) -> TarCheck {
        TarCheck {
            what: what.to_string(),
            state: State::Header,
            block: [0; BLOCK],
            filled: 0,
            offset: 0,
            header_at: 0,
            meta: Vec::new(),
            pax: None,
            long_name: Vec::new(),
            long_link: Vec::new(),
            entry: Vec::new(),
        }
    }

    fn feed(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let n = match self.state {
                State::End => data.len(),
                State::Data { remaining } => {
                    let n = remaining.min(data.len() as u64);
                    self.state = if n == remaining { State::Header } else { State::Data { remaining: remaining - n } };
                    n as usize
                }
                State::Meta { kind, remaining, padding } => {
                    let n = remaining.min(data.len() as u64);
                    self.meta.extend_from_slice(&data[..n as usize]);
                    self.state = State::Meta { kind, remaining: remaining - n, padding };
                    if n == remaining {
                        self.end_meta(kind, padding)?;
                    }
                    n as usize
                }
                State::Header | State::SecondZero | State::SparseExtension { .. } => {
                    let n = (BLOCK - self.filled).min(data.len());
                    self.block[self.filled..self.filled + n].copy_from_slice(&data[..n]);
                    self.filled += n;
                    if self.filled == BLOCK {
                        self.filled = 0;
                        self.offset += n as u64;
                        data = &data[n..];
                        self.on_block()?;
                        continue;
                    }
                    n
                }
            };
            self.offset += n as u64;
            data = &data[n..];
        }
        Ok(())
    }

    /// At the end of the stream: the end-of-archive marker must have been seen.
    fn finish(&self) -> Result<()> {
        let problem = match self.state {
            State::End => return Ok(()),
            State::Header if self.offset == 0 && self.filled == 0 => "it is empty".to_string(),
            State::Header | State::SecondZero => {
                "it ends without the end-of-archive marker (two zero blocks); the file is cut short".to_string()
            }
            State::Meta { .. } | State::Data { .. } | State::SparseExtension { .. } => {
                format!("it ends inside entry {:?}; the file is cut short", show(&self.entry))
            }
        };
        Err(Error::source(format!("{}: truncated tar archive: {problem}", self.what)))
    }

    fn damaged(&self, why: &str) -> Error {
        Error::source(format!("{}: not a valid tar archive: {why} (header at byte {})", self.what, self.header_at))
    }

    fn unsafe_entry(&self, name: &[u8], why: String) -> Error {
        Error::source(format!("{}: entry {:?}: {why}", self.what, show(name)))
    }

    fn on_block(&mut self) -> Result<()> {
        match self.state {
            State::SecondZero if self.block.iter().all(|&b| b == 0) => self.state = State::End,
            State::SecondZero => return Err(self.damaged("a zero block followed by a non-zero block")),
            // The old GNU sparse map continues while the block's last flag is set.
            State::SparseExtension { data } if self.block[504] == 0 => {
                self.state = if data == 0 { State::Header } else { State::Data { remaining: data } }
            }
            State::SparseExtension { .. } => {}
            _ => self.header()?,
        }
        Ok(())
    }

    fn header(&mut self) -> Result<()> {
        self.header_at = self.offset - BLOCK as u64;
        let b = self.block;
        if b.iter().all(|&x| x == 0) {
            self.state = State::SecondZero;
            return Ok(());
        }
        // Go accepts both the unsigned and the (historical) signed sum.
        let (mut unsigned, mut signed) = (0i64, 0i64);
        for (i, &c) in b.iter().enumerate() {
            let c = if (148..156).contains(&i) { b' ' } else { c };
            unsigned += c as i64;
            signed += c as i8 as i64;
        }
        match parse_octal(&b[148..156]) {
            Some(sum) if sum == unsigned || sum == signed => {}
            _ => return Err(self.damaged("header checksum mismatch (not a tar archive, or a damaged one)")),
        }
        let format = if &b[257..263] == b"ustar\0" {
            if &b[508..512] == b"tar\0" {
                Format::Star
            } else {
                Format::Ustar
            }
        } else if &b[257..263] == b"ustar " && &b[263..265] == b" \0" {
            Format::Gnu
        } else {
            Format::V7
        };
        let number = |range: std::ops::Range<usize>, field: &str| {
            parse_numeric(&b[range]).ok_or_else(|| self.damaged(&format!("malformed {field} field")))
        };
        let mut size = number(124..136, "size")?;
        for (range, field) in [(100..108, "mode"), (108..116, "uid"), (116..124, "gid"), (136..148, "mtime")] {
            number(range, field)?;
        }
        if format != Format::V7 {
            number(329..337, "devmajor")?;
            number(337..345, "devminor")?;
        }
        if size < 0 {
            return Err(self.damaged("negative size"));
        }
        let flag = b[156];
        if matches!(flag, b'x' | b'g' | b'L' | b'K') {
            if size as u64 > MAX_META {
                return Err(self.damaged(&format!("{size}-byte extended header (at most {MAX_META})")));
            }
            self.meta.clear();
            self.entry = c_string(&b[..100]).to_vec();
            let padding = pad(size as u64);
            self.state = State::Meta { kind: flag, remaining: size as u64, padding };
            if size == 0 {
                self.end_meta(flag, padding)?;
            }
            return Ok(());
        }

        // An entry: its name, link and size as the extended headers before it leave them.
        let mut name = c_string(&b[..100]).to_vec();
        let mut prefix: &[u8] = match format {
            Format::Ustar => c_string(&b[345..500]),
            Format::Star => c_string(&b[345..476]),
            Format::Gnu | Format::V7 => b"",
        };
        if format == Format::Gnu {
            // Go reads an old GNU header whose access or change time does not parse as one written
            // by its own pre-1.8 writer, which put a USTAR prefix there.
            let broken = |r: std::ops::Range<usize>| b[r.start] != 0 && parse_numeric(&b[r]).is_none();
            if broken(345..357) || broken(357..369) {
                let p = c_string(&b[345..500]);
                if p.is_ascii() {
                    prefix = p;
                }
            }
        }
        if !prefix.is_empty() {
            name = [prefix, b"/", &name].concat();
        }
        let mut link = c_string(&b[157..257]).to_vec();
        let mut sparse_name = None;
        if let Some(pax) = self.pax.take() {
            let given = |v: Option<Vec<u8>>| v.filter(|v| !v.is_empty());
            if let Some(path) = given(pax.path) {
                name = path;
            }
            if let Some(linkpath) = given(pax.linkpath) {
                link = linkpath;
            }
            if let Some(value) = given(pax.size) {
                size = parse_decimal(&value).filter(|&s| s >= 0).ok_or_else(|| self.damaged("malformed PAX size"))?;
            }
            sparse_name = given(pax.sparse_name);
        }
        if !self.long_name.is_empty() {
            name = std::mem::take(&mut self.long_name);
        }
        if !self.long_link.is_empty() {
            link = std::mem::take(&mut self.long_link);
        }
        let flag = if flag == 0 && name.ends_with(b"/") { b'5' } else { flag };
        self.entry = name.clone();

        self.check_path(&name, &name, "name")?;
        if let Some(sparse_name) = sparse_name {
            self.check_path(&name, &sparse_name, "GNU sparse name")?;
        }
        if flag == b'1' {
            if link.is_empty() {
                return Err(self.unsafe_entry(&name, "hardlink without a target".into()));
            }
            self.check_path(&name, &link, "hardlink target")?;
        }

        // Go reads no data for these, whatever their size field says.
        let header_only = matches!(flag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        let data = if header_only { 0 } else { size as u64 };
        let data = data + pad(data);
        if flag == b'S' {
            if format != Format::Gnu {
                return Err(self.damaged("sparse entry not in GNU format"));
            }
            if b[482] != 0 {
                self.state = State::SparseExtension { data };
                return Ok(());
            }
        }
        self.state = if data == 0 { State::Header } else { State::Data { remaining: data } };
        Ok(())
    }

    /// A name that must stay inside the layer: relative, without `..`.
    fn check_path(&self, entry: &[u8], path: &[u8], what: &str) -> Result<()> {
        let problem = if path.is_empty() {
            format!("empty {what}")
        } else if path[0] == b'/' {
            format!("absolute {what} {:?}", show(path))
        } else if path.split(|&c| c == b'/').any(|part| part == b"..") {
            format!("{what} {:?} leaves the layer root (\"..\")", show(path))
        } else {
            return Ok(());
        };
        Err(self.unsafe_entry(entry, problem))
    }

    /// The data of a metadata entry is complete.
    fn end_meta(&mut self, kind: u8, padding: u64) -> Result<()> {
        match kind {
            b'x' | b'g' => {
                let pax = parse_pax(&self.meta).ok_or_else(|| self.damaged("malformed PAX extended header"))?;
                if kind == b'x' {
                    self.pax = Some(pax);
                } else {
                    // A global header is an entry of its own for Go: what came before it is dropped.
                    self.pax = None;
                    self.long_name.clear();
                    self.long_link.clear();
                }
            }
            b'L' => self.long_name = c_string(&self.meta).to_vec(),
            _ => self.long_link = c_string(&self.meta).to_vec(),
        }
        self.meta = Vec::new();
        self.state = if padding == 0 { State::Header } else { State::Data { remaining: padding } };
        Ok(())
    }
}

/// Bytes up to the first NUL.
fn c_string(field: &[u8]) -> &[u8] {
    &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())]
}

fn pad(size: u64) -> u64 {
    crate::tar::padding(size) as u64
}

/// Go's parseOctal: NULs and spaces around, then octal digits up to a NUL; empty is zero.
fn parse_octal(field: &[u8]) -> Option<i64> {
    let start = field.iter().position(|&b| b != 0 && b != b' ')?;
    let end = field.iter().rposition(|&b| b != 0 && b != b' ')? + 1;
    let digits = c_string(&field[start..end]);
    if digits.is_empty() || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    let mut value = 0u64;
    for &d in digits {
        value = value.checked_mul(8)?.checked_add((d - b'0') as u64)?;
    }
    Some(value as i64)
}

/// Go's parseNumeric: base-256 two's complement when the high bit is set, else octal.
fn parse_numeric(field: &[u8]) -> Option<i64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let inv = if field[0] & 0x40 != 0 { 0xff } else { 0 };
        let mut x = 0u64;
        for (i, &c) in field.iter().enumerate() {
            let mut c = c ^ inv;
            if i == 0 {
                c &= 0x7f;
            }
            if x >> 56 > 0 {
                return None;
            }
            x = x << 8 | c as u64;
        }
        if x >> 63 > 0 {
            return None;
        }
        return Some(if inv == 0xff { !(x as i64) } else { x as i64 });
    }
    if field.iter().all(|&b| b == 0 || b == b' ') {
        return Some(0);
    }
    parse_octal(field)
}

/// Go's strconv.ParseInt(s, 10, 64).
fn parse_decimal(s: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(s).ok()?;
    text.parse::<i64>().ok()
}

/// PAX records (`<length> <key>=<value>\n`), as strictly as Go's parsePAX; None if malformed.
fn parse_pax(mut data: &[u8]) -> Option<Pax> {
    let mut pax = Pax::default();
    let mut offset_next = true;
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ')?;
        let len = parse_decimal(&data[..space])?;
        if len < 5 || len > data.len() as i64 || len as usize <= space + 1 {
            return None;
        }
        let record = data[space + 1..len as usize].strip_suffix(b"\n")?;
        data = &data[len as usize..];
        let eq = record.iter().position(|&b| b == b'=')?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let names_a_string = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
        if key.is_empty() || (names_a_string && value.contains(&0)) || (!names_a_string && key.contains(&0)) {
            return None;
        }
        let number = |v: &[u8]| v.is_empty() || parse_decimal(v).is_some();
        match key {
            b"path" => pax.path = Some(value.to_vec()),
            b"linkpath" => pax.linkpath = Some(value.to_vec()),
            b"size" => pax.size = Some(value.to_vec()),
            b"GNU.sparse.name" => pax.sparse_name = Some(value.to_vec()),
            b"uid" | b"gid" if !number(value) => return None,
            b"mtime" | b"atime" | b"ctime" if !value.is_empty() && !pax_time(value) => return None,
            // GNU sparse format 0.0: offsets and sizes must alternate, starting with an offset.
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => {
                let expected: &[u8] = if offset_next { b"GNU.sparse.offset" } else { b"GNU.sparse.numbytes" };
                if key != expected || value.contains(&b',') {
                    return None;
                }
                offset_next = !offset_next;
            }
            _ => {}
        }
    }
    Some(pax)
}

/// Go's parsePAXTime: decimal seconds, optionally a dot and more digits.
fn pax_time(value: &[u8]) -> bool {
    let (seconds, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (&value[..dot], &value[dot + 1..]),
        None => (value, &[][..]),
    };
    parse_decimal(seconds).is_some() && fraction.iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fuzzing::block_on;
    use crate::tar::{encode, typeflag, Header, TRAILER};

    fn entry(name: &str, flag: u8, data: &[u8]) -> Vec<u8> {
        let header = Header {
            name: name.as_bytes().to_vec(),
            typeflag: flag,
            mode: 0o644,
            size: data.len() as i64,
            mtime: 1_700_000_000,
            ..Default::default()
        };
        let mut out = encode(&header);
        out.extend_from_slice(data);
        out.resize(out.len() + pad(data.len() as u64) as usize, 0);
        out
    }

    fn archive(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out = entries.concat();
        out.extend_from_slice(&TRAILER);
        out
    }

    fn sample() -> Vec<u8> {
        let big: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        archive(&[
            entry("etc/", typeflag::DIRECTORY, b""),
            entry("etc/hosts", typeflag::REGULAR, b"127.0.0.1 localhost\n"),
            entry("bin/big", typeflag::REGULAR, &big),
            entry(&format!("deep/{}/file", "d".repeat(150)), typeflag::REGULAR, b"x"),
            entry("dir/héllo", typeflag::REGULAR, b"unicode via PAX"),
        ])
    }

    /// Run the whole pipeline over `data` handed out `chunk` bytes at a time.
    fn run_chunked(data: &[u8], chunk: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        block_on(copy_stream(&mut Chunks { data, chunk }, "layer.tar", &mut out))?;
        Ok(out)
    }

    /// Run in one piece and in awkward chunks: the outcome must not depend on chunking.
    fn run(data: &[u8]) -> Result<Vec<u8>> {
        let whole = run_chunked(data, usize::MAX);
        for chunk in [1, 7, 512, 4099] {
            assert_eq!(run_chunked(data, chunk), whole, "chunk size {chunk}");
        }
        whole
    }

    fn error(data: &[u8]) -> String {
        run(data).expect_err("must be rejected").message
    }

    fn gzip_member(data: &[u8], level: u8) -> Vec<u8> {
        crate::compress::gzip::gzip_member(level, data)
    }

    fn zstd_frames(data: &[u8]) -> Vec<u8> {
        crate::compress::piece::compress_all(crate::compress::Compression::Zstd { level: 3 }, data, 1 << 20)
    }

    #[test]
    fn plain_tar_passes_through() {
        let tar = sample();
        assert_eq!(run(&tar).unwrap(), tar);
        // Record padding after the trailer passes unchanged.
        let mut padded = tar.clone();
        padded.resize(padded.len().div_ceil(10240) * 10240 + 10240, 0);
        assert_eq!(run(&padded).unwrap(), padded);
        // An empty archive is just the trailer.
        assert_eq!(run(&TRAILER).unwrap(), TRAILER);
    }

    #[test]
    fn gzip_single_and_multi_member() {
        let tar = sample();
        assert_eq!(run(&gzip_member(&tar, 6)).unwrap(), tar);
        assert_eq!(run(&gzip_member(&tar, 0)).unwrap(), tar);
        // Concatenated members, split mid-entry (as estargz blobs are), with an empty one between.
        let (a, b) = tar.split_at(100_000);
        let multi = [gzip_member(a, 1), gzip_member(b"", 6), gzip_member(b, 9)].concat();
        assert_eq!(run(&multi).unwrap(), tar);
    }

    #[test]
    fn gzip_optional_header_fields() {
        let tar = sample();
        let plain = gzip_member(&tar, 6);
        // FEXTRA, FNAME, FCOMMENT and FHCRC, as `gzip -N` and others write them.
        let mut header = vec![0x1f, 0x8b, 8, FEXTRA | FNAME | FCOMMENT | FHCRC, 0, 0, 0, 0, 0, 3];
        header.extend_from_slice(&[4, 0, b'A', b'B', 0, 0]);
        header.extend_from_slice(b"layer.tar\0");
        header.extend_from_slice(b"a comment\0");
        let hcrc = crc32fast::hash(&header) as u16;
        header.extend_from_slice(&hcrc.to_le_bytes());
        let gz = [header.clone(), plain[10..].to_vec()].concat();
        assert_eq!(run(&gz).unwrap(), tar);

        let mut bad_hcrc = gz.clone();
        bad_hcrc[header.len() - 1] ^= 1;
        assert!(error(&bad_hcrc).contains("header checksum mismatch"));
        let mut reserved = plain.clone();
        reserved[3] = 0x20;
        assert!(error(&reserved).contains("reserved header flags"));
        let mut method = plain.clone();
        method[2] = 7;
        assert!(error(&method).contains("unknown compression method 7"));
    }

    #[test]
    fn gzip_damage_is_reported() {
        let tar = sample();
        let gz = gzip_member(&tar, 6);
        for cut in [5, 10, 200, gz.len() / 2, gz.len() - 8, gz.len() - 1] {
            let message = error(&gz[..cut]);
            assert!(message.contains("layer.tar: truncated gzip data"), "cut at {cut}: {message}");
        }
        let mut crc = gz.clone();
        let n = crc.len();
        crc[n - 8] ^= 0xff;
        assert_eq!(error(&crc), "layer.tar: invalid gzip data: CRC-32 mismatch (the data is corrupt)");
        let mut len = gz.clone();
        len[n - 1] ^= 0x01;
        assert!(error(&len).contains("length mismatch"));
        let mut body = gz.clone();
        body[n / 2] ^= 0x55;
        let message = error(&body);
        assert!(message.starts_with("layer.tar: "), "{message}");
        let trailing = [gz.clone(), b"garbage".to_vec()].concat();
        assert!(error(&trailing).contains("not another gzip member"));
        let zeros = [gz.clone(), vec![0; 16]].concat();
        assert!(error(&zeros).contains("not another gzip member"));
    }

    #[test]
    fn zstd_frames_and_skippable_frames() {
        let tar = sample();
        assert_eq!(run(&zstd_frames(&tar)).unwrap(), tar);
        // Several frames back to back, with skippable frames before, between and after.
        let (a, b) = tar.split_at(70_001);
        let skippable = |magic: u8, payload: &[u8]| {
            [vec![magic, 0x2a, 0x4d, 0x18], (payload.len() as u32).to_le_bytes().to_vec(), payload.to_vec()].concat()
        };
        let multi = [
            skippable(0x50, b"metadata"),
            zstd_frames(a),
            skippable(0x5f, b""),
            zstd_frames(b),
            skippable(0x53, &[7; 300]),
        ]
        .concat();
        assert_eq!(run(&multi).unwrap(), tar);

        let whole = zstd_frames(&tar);
        for cut in [3, 10, whole.len() / 2, whole.len() - 1] {
            let message = error(&whole[..cut]);
            assert!(message.starts_with("layer.tar: "), "cut at {cut}: {message}");
        }
        // The frame's content checksum (last 4 bytes) is verified.
        let mut sum = whole.clone();
        let n = sum.len();
        sum[n - 2] ^= 0x10;
        assert!(error(&sum).contains("checksum mismatch"), "{}", error(&sum));
        let trailing = [whole.clone(), b"junk".to_vec()].concat();
        assert!(error(&trailing).contains("invalid or truncated zstd data"));
    }

    #[test]
    fn unsafe_names_are_refused() {
        let cases: &[(Vec<u8>, &str)] = &[
            (archive(&[entry("../x", typeflag::REGULAR, b"x")]), "entry \"../x\": name \"../x\" leaves the layer root"),
            (archive(&[entry("a/../../x", typeflag::REGULAR, b"")]), "leaves the layer root"),
            (archive(&[entry("a/..", typeflag::DIRECTORY, b"")]), "leaves the layer root"),
            (archive(&[entry("/etc/passwd", typeflag::REGULAR, b"x")]), "absolute name \"/etc/passwd\""),
        ];
        for (tar, expected) in cases {
            let message = error(tar);
            assert!(message.starts_with("layer.tar: entry "), "{message}");
            assert!(message.contains(expected), "{message}");
            // The same through gzip and zstd.
            assert_eq!(error(&gzip_member(tar, 6)), message);
            assert_eq!(error(&zstd_frames(tar)), message);
        }
        // Hardlink targets are checked; symlink targets are data.
        let hardlink = |target: &str| {
            let h = Header {
                name: b"link".to_vec(),
                typeflag: typeflag::HARDLINK,
                linkname: target.into(),
                ..Default::default()
            };
            archive(&[encode(&h)])
        };
        assert!(error(&hardlink("../../etc/shadow")).contains("hardlink target \"../../etc/shadow\" leaves"));
        assert!(error(&hardlink("/etc/shadow")).contains("absolute hardlink target"));
        assert!(error(&hardlink("")).contains("hardlink without a target"));
        assert!(run(&hardlink("etc/hosts")).is_ok());
        let symlink = Header {
            name: b"s".to_vec(),
            typeflag: typeflag::SYMLINK,
            linkname: b"../../../etc".to_vec(),
            ..Default::default()
        };
        assert!(run(&archive(&[encode(&symlink)])).is_ok());
        // Names with dots that are not `..` are fine.
        assert!(run(&archive(&[entry("./a/..b/.../c..", typeflag::REGULAR, b"")])).is_ok());
    }

    /// Real tools' output: `gzip -9` (with FNAME) and `zstd -19 --check` of a 10240-byte tar
    /// written by Python's tarfile (padded to GNU tar's record size). The layer's diffID must be
    /// the sha256 of what `gzip -dc` prints.
    #[test]
    fn real_gzip_and_zstd_files() {
        let gz: &[u8] = GZ;
        let zst: &[u8] = ZST;
        let want = "sha256:acc32a257e9288d55a6ac6354bc1d4a340832d47ef455b794fe43ebfc2a9beb2";
        for compressed in [gz, zst] {
            let tar = run(compressed).unwrap();
            assert_eq!(tar.len(), 10240);
            assert!(tar.starts_with(b"hello.txt\0"));
            assert_eq!(crate::digest::sha256(&tar), want);
        }
    }

    const GZ: &[u8] =
        b"\x1f\x8b\x08\x08\x3f\x0f\x04\x6b\x02\x03\x73\x6d\x61\x6c\x6c\x2e\x74\x61\x72\x00\xed\xd1\x31\x0a\
            \xc2\x40\x10\x05\xd0\xa9\x3d\x85\x27\x90\x55\xc6\xec\x79\x2c\x02\x29\x02\x01\x5d\xc1\xe3\xbb\x49\
            \x69\x1f\x41\x7c\xaf\xf9\x30\xbf\xf8\xc5\x4c\xe3\x3c\x2f\xa7\xf6\x6a\xb1\x9f\xd2\x0d\x99\x5b\x76\
            \x9f\xb9\xb6\x71\xce\xeb\x25\x6b\x2d\xb9\xdd\xeb\x90\x35\x8e\x25\xbe\xe0\xf9\x68\xb7\x7b\x9f\x8c\
            \xff\x34\xad\xff\x3f\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x3f\xe6\x0d\x31\xd5\x3b\xa5\x00\x28\
            \x00\x00";
    const ZST: &[u8] =
        b"\x28\xb5\x2f\xfd\x64\x00\x27\x3d\x02\x00\xf2\x42\x0a\x10\xb0\xeb\x00\xc9\x13\x9a\x97\x14\x47\x52\
            \xd2\x92\x5f\x35\x74\x52\x05\xb5\xbb\x4c\x63\xae\x75\x68\x1e\xf3\xce\x3c\x29\x1f\x45\xf7\x47\xb7\
            \xbd\x26\x54\x4a\x07\x05\x0a\x20\x20\x31\xb5\x39\xf6\xc5\x38\x0e\x20\x84\x79\xd4\x79\x9f\xb3\x9a\
            \x87\x05\x07\x18\x14\xc0\x6e\x12\x5d\xc2\xae\x70\x0c";

    /// A PAX extended header entry with the given records.
    fn pax_header(records: &[(&str, &[u8])]) -> Vec<u8> {
        let mut data = Vec::new();
        for (key, value) in records {
            // `<length> key=value\n`, the length counting its own digits.
            let body = [key.as_bytes(), b"=", value, b"\n"].concat();
            let mut len = body.len() + 2;
            while format!("{len} ").len() + body.len() != len {
                len += 1;
            }
            data.extend_from_slice(format!("{len} ").as_bytes());
            data.extend_from_slice(&body);
        }
        let h = Header {
            name: b"PaxHeaders.0/x".to_vec(),
            typeflag: typeflag::PAX,
            size: data.len() as i64,
            ..Default::default()
        };
        let mut out = encode(&h);
        out.extend_from_slice(&data);
        out.resize(out.len() + pad(data.len() as u64) as usize, 0);
        out
    }

    fn gnu_long(flag: u8, value: &[u8]) -> Vec<u8> {
        let mut data = value.to_vec();
        data.push(0);
        let h =
            Header { name: b"././@LongLink".to_vec(), typeflag: flag, size: data.len() as i64, ..Default::default() };
        let mut out = encode(&h);
        out.extend_from_slice(&data);
        out.resize(out.len() + pad(data.len() as u64) as usize, 0);
        out
    }

    #[test]
    fn pax_and_gnu_names_apply_to_the_next_entry() {
        // Our own encoder's PAX form (non-ASCII and long names) reads back fine.
        assert!(run(&sample()).is_ok());
        let evil =
            archive(&[pax_header(&[("path", b"../../etc/cron.d/x")]), entry("harmless", typeflag::REGULAR, b"x")]);
        assert!(
            error(&evil).contains("entry \"../../etc/cron.d/x\": name \"../../etc/cron.d/x\" leaves the layer root")
        );
        let evil_link = archive(&[pax_header(&[("linkpath", b"/etc/shadow")]), entry("l", typeflag::HARDLINK, b"")]);
        assert!(error(&evil_link).contains("absolute hardlink target"));
        let sparse = archive(&[pax_header(&[("GNU.sparse.name", b"../x")]), entry("ok", typeflag::REGULAR, b"")]);
        assert!(error(&sparse).contains("GNU sparse name \"../x\""));
        // A later `x` header replaces an earlier one; an empty value keeps the header's name.
        let replaced = archive(&[
            pax_header(&[("path", b"../bad")]),
            pax_header(&[("mtime", b"1.5")]),
            entry("fine", typeflag::REGULAR, b""),
        ]);
        assert!(run(&replaced).is_ok());
        assert!(run(&archive(&[pax_header(&[("path", b"")]), entry("fine", typeflag::REGULAR, b"")])).is_ok());

        let long = format!("{}/file", "n".repeat(300));
        let gnu = archive(&[gnu_long(b'L', long.as_bytes()), entry("short", typeflag::REGULAR, b"data")]);
        assert_eq!(run(&gnu).unwrap(), gnu);
        let gnu_evil = archive(&[gnu_long(b'L', b"/abs/olute"), entry("short", typeflag::REGULAR, b"")]);
        assert!(error(&gnu_evil).contains("entry \"/abs/olute\": absolute name"));
        let gnu_link = archive(&[gnu_long(b'K', b"x/../../y"), entry("l", typeflag::HARDLINK, b"")]);
        assert!(error(&gnu_link).contains("hardlink target \"x/../../y\""));
        // The GNU long name wins over a PAX path, as in Go.
        let both =
            archive(&[pax_header(&[("path", b"ok")]), gnu_long(b'L', b"../no"), entry("s", typeflag::REGULAR, b"")]);
        assert!(error(&both).contains("\"../no\""));
        // A global header drops what came before it.
        let global = {
            let mut g = pax_header(&[("comment", b"hi")]);
            g[156] = b'g';
            let sum: u32 =
                g[..512].iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 32 } else { c as u32 }).sum();
            g[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
            g
        };
        assert!(run(&archive(&[gnu_long(b'L', b"../no"), global, entry("s", typeflag::REGULAR, b"")])).is_ok());
    }

    #[test]
    fn malformed_headers_are_refused() {
        let tar = sample();
        let mut sum = tar.clone();
        sum[3] ^= 1;
        assert_eq!(
            error(&sum),
            "layer.tar: not a valid tar archive: header checksum mismatch (not a tar archive, or a damaged one) (header at byte 0)"
        );
        let bad_pax = archive(&[{
            let mut p = pax_header(&[("path", b"x")]);
            p[512] = b'8'; // the record's length no longer matches
            p
        }]);
        assert!(error(&bad_pax).contains("malformed PAX extended header"));
        assert!(
            error(&archive(&[pax_header(&[("size", b"-1")]), entry("x", b'0', b"")])).contains("malformed PAX size")
        );
        assert!(error(&archive(&[pax_header(&[("uid", b"abc")])])).contains("malformed PAX"));
        // A zero block, then not a second one.
        let half = [vec![0; 512], entry("x", b'0', b"")].concat();
        assert!(error(&half).contains("a zero block followed by a non-zero block"));
        // Too big a metadata entry.
        let mut meta = encode(&Header { name: b"L".to_vec(), typeflag: b'L', size: 2 << 20, ..Default::default() });
        meta.extend_from_slice(&[b'a'; 1024]);
        assert!(error(&meta).contains("extended header (at most 1048576)"));
    }

    #[test]
    fn truncation_is_reported() {
        let tar = sample();
        assert_eq!(error(b""), "layer.tar: truncated tar archive: it is empty");
        let no_trailer = &tar[..tar.len() - 1024];
        assert!(error(no_trailer).contains("ends without the end-of-archive marker"));
        assert!(error(&tar[..tar.len() - 512]).contains("ends without the end-of-archive marker"));
        assert!(error(&tar[..tar.len() - 1]).contains("ends without the end-of-archive marker"));
        let message = error(&tar[..3000]);
        assert!(message.contains("it ends inside entry \"bin/big\""), "{message}");
        assert!(error(&tar[..100]).contains("ends without the end-of-archive marker"));
        // The same truncated tar, well compressed: the tar check catches it.
        assert!(error(&gzip_member(no_trailer, 6)).contains("ends without the end-of-archive marker"));
        assert!(error(&zstd_frames(&tar[..3000])).contains("ends inside entry"));
    }

    #[test]
    fn garbage_and_other_formats() {
        let garbage: Vec<u8> = (0..5000u32).map(|i| (i * 7919 % 256) as u8).collect();
        assert!(error(&garbage).contains("not a valid tar archive"));
        assert!(error(b"BZh91AY&SY").contains("bzip2-compressed layer tarballs are not supported"));
        assert!(error(b"\xfd7zXZ\0\0\0").contains("xz-compressed"));
        assert!(error(b"\x1f\x8b").contains("truncated gzip data"));
        assert!(error(b"\x28\xb5\x2f\xfd").starts_with("layer.tar: invalid or truncated zstd data"));
        assert!(error(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]).starts_with("layer.tar: "));
    }

    #[test]
    fn numbers_as_go_reads_them() {
        assert_eq!(parse_numeric(b"0000644\0"), Some(0o644));
        assert_eq!(parse_numeric(b"  644 \0"), Some(0o644));
        assert_eq!(parse_numeric(b"\0\0\0\0"), Some(0));
        assert_eq!(parse_numeric(b"12 4\0"), None);
        assert_eq!(parse_numeric(b"9\0"), None);
        assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), Some(1 << 32));
        assert_eq!(parse_numeric(&[0xff; 8]), Some(-1));
        assert_eq!(parse_numeric(&[0x80, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(parse_octal(b"0012345\0"), Some(0o12345));
        assert!(pax_time(b"1700000000.123") && pax_time(b"-5") && !pax_time(b".5") && !pax_time(b"1.x"));
    }

    #[test]
    fn big_sizes_in_base256_and_pax() {
        // A header with a base-256 size, as GNU tar writes sizes of 8 GiB and more.
        let mut h = encode(&Header { name: b"f".to_vec(), typeflag: b'0', size: 0, ..Default::default() });
        h[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x00]);
        let sum: u32 = h.iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 32 } else { c as u32 }).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        let tar = archive(&[[h, vec![7; 512]].concat()]);
        assert_eq!(run(&tar).unwrap(), tar);
        // A PAX size overrides the header's.
        let tar = archive(&[
            pax_header(&[("size", b"3")]),
            [encode(&Header { name: b"g".into(), typeflag: b'0', ..Default::default() }), vec![1; 512]].concat(),
        ]);
        assert_eq!(run(&tar).unwrap(), tar);
    }

    type OpenFile = (Vec<u8>, usize);

    /// A minimal host: the source calls only, over files in memory.
    struct MemHost {
        files: std::collections::HashMap<Vec<u8>, Vec<u8>>,
        /// Per handle: the file's bytes and how far it has been read; None once closed.
        open: std::cell::RefCell<Vec<Option<OpenFile>>>,
    }

    impl Host for MemHost {
        async fn source_stat(&self, _: &[u8]) -> Result<crate::host::SourceEntry> {
            unimplemented!()
        }
        async fn source_read_dir(&self, _: &[u8]) -> Result<Vec<crate::host::SourceEntry>> {
            unimplemented!()
        }
        async fn source_open(&self, path: &[u8]) -> Result<Handle> {
            let data = self.files.get(path).ok_or_else(|| Error::source(format!("{}: not found", show(path))))?;
            let mut open = self.open.borrow_mut();
            open.push(Some((data.clone(), 0)));
            Ok(open.len() as Handle - 1)
        }
        async fn source_read(&self, handle: Handle, max: u32) -> Result<Vec<u8>> {
            let mut open = self.open.borrow_mut();
            let (data, pos) = open[handle as usize].as_mut().expect("open handle");
            let n = (max as usize).min(data.len() - *pos);
            *pos += n;
            Ok(data[*pos - n..*pos].to_vec())
        }
        async fn source_close(&self, handle: Handle) {
            self.open.borrow_mut()[handle as usize] = None;
        }
        async fn blob_size(&self, _: &str) -> Result<Option<u64>> {
            unimplemented!()
        }
        async fn blob_create(&self) -> Result<Handle> {
            unimplemented!()
        }
        async fn blob_write(&self, _: Handle, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn blob_commit(&self, _: Handle, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn blob_abort(&self, _: Handle) {
            unimplemented!()
        }
        async fn blob_read(&self, _: &str, _: u64, _: u32) -> Result<Vec<u8>> {
            unimplemented!()
        }
        async fn blob_list(&self) -> Result<Vec<String>> {
            unimplemented!()
        }
        async fn cache_read(&self, _: &str) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn cache_write(&self, _: &str, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn blob_remove(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn store_index_read(&self) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn store_index_write(&self, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn store_unpack_dir(&self, _: &str) -> Result<String> {
            unimplemented!()
        }
        async fn output_open(&self, _: &str) -> Result<Handle> {
            unimplemented!()
        }
        async fn output_write(&self, _: Handle, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn output_write_blob(&self, _: Handle, _: &str) -> Result<u64> {
            unimplemented!()
        }
        async fn output_commit(&self, _: Handle) -> Result<()> {
            unimplemented!()
        }
        async fn output_abort(&self, _: Handle) {
            unimplemented!()
        }
        async fn output_mkdir(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_read(&self, _: &str) -> Result<Option<Vec<u8>>> {
            unimplemented!()
        }
        async fn output_create_dir(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_symlink(&self, _: &str, _: &[u8]) -> Result<()> {
            unimplemented!()
        }
        async fn output_hardlink(&self, _: &str, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_list_dir(&self, _: &str) -> Result<Option<Vec<(String, bool)>>> {
            unimplemented!()
        }
        async fn output_remove(&self, _: &str) -> Result<()> {
            unimplemented!()
        }
        async fn output_set_attributes(&self, _: &str, _: u32, _: u32, _: u32, _: i64) -> Result<()> {
            unimplemented!()
        }
        async fn http_send(&self, _: crate::host::HttpRequest, _: u32) -> Result<crate::host::HttpResponse> {
            unimplemented!()
        }
        async fn credentials(&self, _: &str, _: bool) -> Result<Option<crate::host::Credential>> {
            unimplemented!()
        }
        fn compress_threads(&self) -> u32 {
            0
        }
        async fn compress_start(&self, _: crate::compress::piece::Piece) -> Result<Handle> {
            unimplemented!()
        }
        async fn compress_wait(&self, _: Handle) -> Result<Vec<u8>> {
            unimplemented!()
        }
        async fn sleep(&self, _: u32) {
            unimplemented!()
        }
        fn progress(&self, _: crate::host::ProgressEvent) {
            unimplemented!()
        }
    }

    #[test]
    fn copies_from_the_host_and_closes() {
        let tar = sample();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8 ^ (i >> 12) as u8).collect();
        let big_tar = archive(&[entry("big", b'0', &big)]);
        let files = [
            (b"/in/layer.tar".to_vec(), tar.clone()),
            (b"/in/layer.tgz".to_vec(), gzip_member(&big_tar, 1)),
            (b"/in/layer.tzst".to_vec(), zstd_frames(&big_tar)),
            (b"/in/bad.tar.gz".to_vec(), gzip_member(&tar[..3000], 6)),
        ];
        let host = MemHost { files: files.into_iter().collect(), open: Default::default() };
        let copy = |path: &[u8]| {
            let mut out = Vec::new();
            block_on(copy_tarball(&host, path, &mut out)).map(|()| out)
        };
        assert_eq!(copy(b"/in/layer.tar").unwrap(), tar);
        assert_eq!(copy(b"/in/layer.tgz").unwrap(), big_tar);
        assert_eq!(copy(b"/in/layer.tzst").unwrap(), big_tar);
        let message = copy(b"/in/bad.tar.gz").unwrap_err().message;
        assert!(
            message.starts_with("/in/bad.tar.gz: truncated tar archive: it ends inside entry \"bin/big\""),
            "{message}"
        );
        assert!(copy(b"/in/missing").is_err());
        assert!(host.open.borrow().iter().all(Option::is_none), "every handle closed");
    }
}
