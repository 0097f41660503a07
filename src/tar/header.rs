//! One header block read as Go's archive/tar reads it (reader.go: readHeader, next, handleRegularFile,
//! handleSparseFile): either checksum (unsigned, or the historical signed sum), every numeric field
//! octal or base-256 (blank is 0), USTAR/STAR prefixes, and the PAX records and GNU long names of
//! the metadata entries before it applied to the entry they precede.

use super::error::TarError;
use super::numbers::{c_string, parse_numeric, parse_octal};
use super::pax::{self, Records};
use super::BLOCK;
use std::ops::Range;

/// Go's maxSpecialFileSize: PAX headers and GNU long names above this are refused.
pub const MAX_META: u64 = 1 << 20;

/// One entry's header, with the PAX records and long names before it merged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub size: i64,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    /// Seconds and nanoseconds since the Unix epoch (nanoseconds only from a PAX `mtime`).
    pub mtime: (i64, i64),
    pub linkname: Vec<u8>,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub devmajor: i64,
    pub devminor: i64,
    /// The PAX records of the `x` header before the entry (or of a `g` header itself).
    pub pax: Records,
}

impl Entry {
    /// Bytes of data after the header, as Go's handleRegularFile counts them: none for the types that
    /// are only a header, whatever their size says.
    pub fn data_size(&self) -> u64 {
        data_size(self.typeflag, self.size)
    }
}

pub fn data_size(typeflag: u8, size: i64) -> u64 {
    if header_only(typeflag) {
        0
    } else {
        size.max(0) as u64
    }
}

fn header_only(typeflag: u8) -> bool {
    matches!(typeflag, b'1' | b'2' | b'3' | b'4' | b'5' | b'6')
}

/// What one header block is.
#[derive(Debug, PartialEq, Eq)]
pub enum Block {
    /// A zero block: the end-of-archive marker starts.
    Zero,
    /// A PAX header (`x`, `g`) or GNU long name/link (`L`, `K`): `size` bytes of data follow.
    Meta { kind: u8, size: u64, name: Vec<u8> },
    /// A real entry.
    Entry(Entry),
}

/// What the metadata entries read so far say about the next real entry.
#[derive(Debug, Default)]
pub struct Pending {
    pax: Records,
    long_name: Vec<u8>,
    long_link: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    V7,
    Ustar,
    Star,
    Gnu,
}

/// Go's getFormat: None when the checksum field matches neither sum.
fn format(b: &[u8; BLOCK]) -> Option<Format> {
    let stored = parse_octal(&b[148..156])?;
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &c) in b.iter().enumerate() {
        let c = if (148..156).contains(&i) { b' ' } else { c };
        unsigned += c as i64;
        signed += c as i8 as i64;
    }
    if stored != unsigned && stored != signed {
        return None;
    }
    Some(match (&b[257..263], &b[263..265], &b[508..512]) {
        (b"ustar\0", _, b"tar\0") => Format::Star,
        (b"ustar\0", _, _) => Format::Ustar,
        (b"ustar ", b" \0", _) => Format::Gnu,
        _ => Format::V7,
    })
}

/// Parse one header block; `pending` collects metadata entries and is used up by a real entry.
pub fn parse_header(b: &[u8; BLOCK], pending: &mut Pending) -> Result<Block, TarError> {
    if b.iter().all(|&x| x == 0) {
        return Ok(Block::Zero);
    }
    let format = format(b).ok_or(TarError::Checksum)?;
    let number = |range: Range<usize>, field: &'static str| parse_numeric(&b[range]).ok_or(TarError::Field(field));
    let mut h = Entry {
        typeflag: b[156],
        name: c_string(&b[..100]).to_vec(),
        linkname: c_string(&b[157..257]).to_vec(),
        size: number(124..136, "size")?,
        mode: number(100..108, "mode")?,
        uid: number(108..116, "uid")?,
        gid: number(116..124, "gid")?,
        mtime: (number(136..148, "mtime")?, 0),
        ..Default::default()
    };
    if format != Format::V7 {
        h.uname = c_string(&b[265..297]).to_vec();
        h.gname = c_string(&b[297..329]).to_vec();
        h.devmajor = number(329..337, "devmajor")?;
        h.devminor = number(337..345, "devminor")?;
        let prefix = match format {
            Format::Ustar => c_string(&b[345..500]),
            Format::Star => {
                number(476..488, "atime")?;
                number(488..500, "ctime")?;
                c_string(&b[345..476])
            }
            // Go's pre-1.8 writer put a USTAR prefix into GNU headers; Go reads such a header (one
            // whose access or change time does not parse) with that prefix when it is ASCII.
            _ => {
                let broken = |r: Range<usize>| b[r.start] != 0 && parse_numeric(&b[r]).is_none();
                match c_string(&b[345..500]) {
                    p if (broken(345..357) || broken(357..369)) && p.is_ascii() => p,
                    _ => b"",
                }
            }
        };
        if !prefix.is_empty() {
            h.name = [prefix, b"/", &h.name].concat();
        }
    }
    if h.size < 0 && !header_only(h.typeflag) {
        return Err(TarError::NegativeSize);
    }
    if matches!(h.typeflag, b'x' | b'g' | b'L' | b'K') {
        if h.size as u64 > MAX_META {
            return Err(TarError::MetaTooLong(h.size as u64));
        }
        return Ok(Block::Meta { kind: h.typeflag, size: h.size as u64, name: h.name });
    }
    finish_entry(h, std::mem::take(pending)).map(Block::Entry)
}

/// Go's next() for a real entry: PAX records, then long names, then the legacy type.
fn finish_entry(mut h: Entry, pending: Pending) -> Result<Entry, TarError> {
    pax::merge(&mut h, &pending.pax)?;
    if !pending.long_name.is_empty() {
        h.name = pending.long_name;
    }
    if !pending.long_link.is_empty() {
        h.linkname = pending.long_link;
    }
    if h.typeflag == 0 {
        // A legacy regular file; a trailing slash makes it a directory.
        h.typeflag = if h.name.ends_with(b"/") { b'5' } else { b'0' };
    }
    if h.size < 0 && !header_only(h.typeflag) {
        return Err(if pending.pax.contains_key(&b"size"[..]) {
            TarError::PaxValue("size".into())
        } else {
            TarError::NegativeSize
        });
    }
    if h.typeflag == b'S' || pax::is_sparse(&pending.pax) {
        return Err(TarError::Sparse { name: h.name, typeflag: h.typeflag });
    }
    h.pax = pending.pax;
    Ok(h)
}

/// The data of a metadata entry is complete: keep it for the next entry. A global header (`g`) is
/// an entry of its own for Go, returned as one; what came before it is dropped.
pub fn parse_meta(kind: u8, name: &[u8], data: &[u8], pending: &mut Pending) -> Result<Option<Entry>, TarError> {
    match kind {
        b'L' => pending.long_name = c_string(data).to_vec(),
        b'K' => pending.long_link = c_string(data).to_vec(),
        b'x' => pending.pax = pax::parse(data)?,
        _ => {
            let mut global = Entry { name: name.to_vec(), typeflag: kind, ..Default::default() };
            let records = pax::parse(data)?;
            // Go merges a global header's records into it without checking them.
            let _ = pax::merge(&mut global, &records);
            global.pax = records;
            *pending = Pending::default();
            return Ok(Some(global));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::testing::regular as file;
    use crate::tar::{encode, padding, typeflag, Header};

    fn block(bytes: &[u8]) -> [u8; BLOCK] {
        bytes[..BLOCK].try_into().unwrap()
    }

    /// Parse a header as our tar writer encodes it, following any PAX header.
    fn round_trip(h: &Header) -> Entry {
        let bytes = encode(h);
        let mut pending = Pending::default();
        let mut at = 0;
        loop {
            match parse_header(&block(&bytes[at..]), &mut pending).unwrap() {
                Block::Meta { kind, size, name } => {
                    let data = &bytes[at + BLOCK..at + BLOCK + size as usize];
                    assert_eq!(parse_meta(kind, &name, data, &mut pending).unwrap(), None);
                    at += BLOCK + size as usize + padding(size);
                }
                Block::Entry(e) => return e,
                Block::Zero => panic!("zero block"),
            }
        }
    }

    #[test]
    fn reads_what_our_tar_writer_writes() {
        let e = round_trip(&file("etc/hosts"));
        assert_eq!((e.name.as_slice(), e.typeflag, e.size, e.mode), (&b"etc/hosts"[..], b'0', 5, 0o644));
        assert_eq!(e.mtime, (1_445_412_480, 0));

        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        assert_eq!(round_trip(&file(&long)).name, long.as_bytes(), "ustar prefix");

        let longer = "x".repeat(150);
        let mut h = file(&longer);
        h.mtime = -86_400;
        h.uid = 3_000_000;
        h.pax_records.insert("SCHILY.xattr.security.capability".into(), vec![1, 0, 0, 2]);
        let e = round_trip(&h);
        assert_eq!(e.name, longer.as_bytes());
        assert_eq!((e.uid, e.mtime), (3_000_000, (-86_400, 0)));
        assert_eq!(e.pax.get(&b"SCHILY.xattr.security.capability"[..]), Some(&vec![1, 0, 0, 2]));

        let link = Header {
            typeflag: typeflag::SYMLINK,
            linkname: "t".repeat(130).into_bytes(),
            size: 0,
            ..file("dir/héllo")
        };
        let e = round_trip(&link);
        assert_eq!((e.name.as_slice(), e.linkname.len()), ("dir/héllo".as_bytes(), 130));
    }

    #[test]
    fn gnu_long_names_and_bad_blocks() {
        let mut pending = Pending::default();
        parse_meta(b'L', b"", b"a/very/long/name\0", &mut pending).unwrap();
        parse_meta(b'K', b"", b"target\0\0", &mut pending).unwrap();
        let Block::Entry(e) = parse_header(&block(&encode(&file("short"))), &mut pending).unwrap() else { panic!() };
        assert_eq!((e.name.as_slice(), e.linkname.as_slice()), (&b"a/very/long/name"[..], &b"target"[..]));
        // Used up: the next entry gets its own name.
        let Block::Entry(e) = parse_header(&block(&encode(&file("next"))), &mut pending).unwrap() else { panic!() };
        assert_eq!(e.name, b"next");

        let mut bad = block(&encode(&file("x")));
        bad[0] = b'y';
        assert_eq!(parse_header(&bad, &mut pending), Err(TarError::Checksum));
        assert_eq!(parse_header(&[0; BLOCK], &mut pending).unwrap(), Block::Zero);
    }
}
