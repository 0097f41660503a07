//! Tar header blocks read as Go's archive/tar reads them (the tar-split fork eStargz uses): USTAR, PAX
//! and GNU headers, PAX `x` records and GNU long names (`L`, `K`) applied to the entry they precede.

use crate::error::{Error, Result};
use std::collections::BTreeMap;

pub const BLOCK: usize = 512;
/// Go's maxSpecialFileSize: PAX records and GNU long names bigger than this are refused.
pub const MAX_META: u64 = 1 << 20;

/// One entry's header, with its PAX records and long names merged in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryHeader {
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
    /// All PAX records of the entry (the last `x` header before it).
    pub pax: BTreeMap<Vec<u8>, Vec<u8>>,
}

/// What one header block is.
#[derive(Debug, PartialEq, Eq)]
pub enum Block {
    /// A zero block: the end-of-archive marker starts.
    Zero,
    /// A PAX `x` header or GNU long name/link whose `size` bytes of data describe the next entry.
    Meta { kind: u8, size: u64 },
    /// A real entry.
    Entry(EntryHeader),
}

/// Metadata collected from `x`, `L` and `K` entries for the next real entry.
#[derive(Debug, Default)]
pub struct Pending {
    pax: BTreeMap<Vec<u8>, Vec<u8>>,
    long_name: Vec<u8>,
    long_link: Vec<u8>,
}

fn invalid() -> Error {
    Error::source("compression=estargz: reading the layer tar: archive/tar: invalid tar header")
}

/// Bytes of `b` up to the first NUL (Go's parseString).
fn c_string(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]
}

/// Go's parseNumeric: base-256 when the high bit is set, otherwise octal with spaces and NULs trimmed.
fn numeric(b: &[u8]) -> Result<i64> {
    if b.first().is_some_and(|&c| c & 0x80 != 0) {
        let inv: u8 = if b[0] & 0x40 != 0 { 0xff } else { 0 };
        let mut x: u64 = 0;
        for (i, &c) in b.iter().enumerate() {
            let c = if i == 0 { (c ^ inv) & 0x7f } else { c ^ inv };
            if x >> 56 > 0 {
                return Err(invalid());
            }
            x = x << 8 | c as u64;
        }
        if x >> 63 > 0 {
            return Err(invalid());
        }
        return Ok(if inv == 0xff { !(x as i64) } else { x as i64 });
    }
    let start = b.iter().position(|&c| c != b' ' && c != 0).unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ' && c != 0).map_or(start, |i| i + 1);
    let trimmed = c_string(&b[start..end.max(start)]);
    if trimmed.is_empty() {
        return Ok(0);
    }
    let text = std::str::from_utf8(trimmed).map_err(|_| invalid())?;
    u64::from_str_radix(text, 8).map(|x| x as i64).map_err(|_| invalid())
}

/// Go's block.getFormat: the checksum (unsigned or signed sum) must match.
fn checksum_ok(block: &[u8; BLOCK]) -> bool {
    let Ok(stored) = numeric(&block[148..156]) else { return false };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as i64;
        signed += b as i8 as i64;
    }
    stored == unsigned || stored == signed
}

/// Bytes after `size` bytes of entry data up to the next block boundary.
pub fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

/// Size of the data following a header, as Go's handleRegularFile counts it: none for the
/// header-only types whatever the size field says.
pub fn data_size(typeflag: u8, size: i64) -> u64 {
    match typeflag {
        b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
        _ => size.max(0) as u64,
    }
}

/// Parse one header block (not the second block of the end marker).
pub fn parse_block(block: &[u8; BLOCK], pending: &mut Pending) -> Result<Block> {
    if block.iter().all(|&b| b == 0) {
        return Ok(Block::Zero);
    }
    if !checksum_ok(block) {
        return Err(invalid());
    }
    let typeflag = block[156];
    let size = numeric(&block[124..136])?;
    if size < 0 {
        return Err(invalid());
    }
    if matches!(typeflag, b'x' | b'L' | b'K') {
        if size as u64 > MAX_META {
            return Err(Error::source(
                "compression=estargz: reading the layer tar: archive/tar: header field too long",
            ));
        }
        return Ok(Block::Meta { kind: typeflag, size: size as u64 });
    }

    let (magic, version) = (&block[257..263], &block[263..265]);
    let ustar = magic == b"ustar\0";
    let star = ustar && &block[508..512] == b"tar\0";
    let gnu = magic == b"ustar " && version == b" \0";
    let mut h = EntryHeader {
        name: c_string(&block[..100]).to_vec(),
        typeflag,
        size,
        mode: numeric(&block[100..108])?,
        uid: numeric(&block[108..116])?,
        gid: numeric(&block[116..124])?,
        mtime: (numeric(&block[136..148])?, 0),
        linkname: c_string(&block[157..257]).to_vec(),
        ..Default::default()
    };
    if ustar || gnu {
        h.uname = c_string(&block[265..297]).to_vec();
        h.gname = c_string(&block[297..329]).to_vec();
        h.devmajor = numeric(&block[329..337])?;
        h.devminor = numeric(&block[337..345])?;
        let prefix = match (star, ustar) {
            (true, _) => c_string(&block[345..476]),
            (false, true) => c_string(&block[345..500]),
            _ => &[][..],
        };
        if !prefix.is_empty() {
            h.name = [prefix, b"/", &h.name].concat();
        }
    }

    let pending = std::mem::take(pending);
    merge_pax(&mut h, &pending.pax)?;
    h.pax = pending.pax;
    if !pending.long_name.is_empty() {
        h.name = pending.long_name;
    }
    if !pending.long_link.is_empty() {
        h.linkname = pending.long_link;
    }
    if h.typeflag == 0 {
        // Legacy archives: a trailing slash means a directory.
        h.typeflag = if h.name.ends_with(b"/") { b'5' } else { b'0' };
    }
    if h.size < 0 {
        return Err(invalid());
    }
    Ok(Block::Entry(h))
}

/// Record the data of a metadata entry for the entry that follows it.
pub fn parse_meta(kind: u8, data: &[u8], pending: &mut Pending) -> Result<()> {
    match kind {
        b'L' => pending.long_name = c_string(data).to_vec(),
        b'K' => pending.long_link = c_string(data).to_vec(),
        _ => pending.pax = parse_pax(data)?,
    }
    Ok(())
}

/// Go's parsePAX: `<len> <key>=<value>\n` records; a later `x` header replaces an earlier one.
fn parse_pax(mut data: &[u8]) -> Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let mut records = BTreeMap::new();
    while !data.is_empty() {
        let space = data.iter().position(|&b| b == b' ').ok_or_else(invalid)?;
        let len: usize = std::str::from_utf8(&data[..space]).ok().and_then(|s| s.parse().ok()).ok_or_else(invalid)?;
        if len < 5 || len > data.len() || len <= space + 1 || data[len - 1] != b'\n' {
            return Err(invalid());
        }
        let record = &data[space + 1..len - 1];
        let eq = record.iter().position(|&b| b == b'=').ok_or_else(invalid)?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let checked = if matches!(key, b"path" | b"linkpath" | b"uname" | b"gname") { value } else { key };
        if key.is_empty() || checked.contains(&0) {
            return Err(invalid());
        }
        records.insert(key.to_vec(), value.to_vec());
        data = &data[len..];
    }
    Ok(records)
}

/// Go's mergePAX: records with an empty value keep the header's own field.
fn merge_pax(h: &mut EntryHeader, pax: &BTreeMap<Vec<u8>, Vec<u8>>) -> Result<()> {
    let int = |v: &[u8]| -> Result<i64> {
        std::str::from_utf8(v).ok().and_then(|s| s.parse::<i64>().ok()).ok_or_else(invalid)
    };
    for (key, value) in pax.iter().filter(|(_, v)| !v.is_empty()) {
        match key.as_slice() {
            b"path" => h.name = value.clone(),
            b"linkpath" => h.linkname = value.clone(),
            b"uname" => h.uname = value.clone(),
            b"gname" => h.gname = value.clone(),
            b"uid" => h.uid = int(value)?,
            b"gid" => h.gid = int(value)?,
            b"size" => h.size = int(value)?,
            b"mtime" => h.mtime = pax_time(value).ok_or_else(invalid)?,
            _ => {}
        }
    }
    Ok(())
}

/// Go's parsePAXTime: `[-]seconds[.fraction]`, the fraction truncated to nanoseconds.
fn pax_time(v: &[u8]) -> Option<(i64, i64)> {
    let text = std::str::from_utf8(v).ok()?;
    let (secs, frac) = text.split_once('.').unwrap_or((text, ""));
    let secs: i64 = secs.parse().ok()?;
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits: String = frac.chars().chain(std::iter::repeat('0')).take(9).collect();
    let nanos: i64 = digits.parse().ok()?;
    Some((secs, if text.starts_with('-') { -nanos } else { nanos }))
}

/// The entry's mtime as estargz's formatModtime keeps it: None for the zero time or Unix 0,
/// otherwise rounded to the second (halves up).
pub fn toc_modtime((secs, nanos): (i64, i64)) -> Option<i64> {
    let total = secs as i128 * 1_000_000_000 + nanos as i128;
    if total.div_euclid(1_000_000_000) == 0 {
        return None;
    }
    Some((total + 500_000_000).div_euclid(1_000_000_000) as i64)
}

/// Go's path.Clean("/" + name) without the leading slash (estargz's cleanEntryName).
pub fn clean_name(name: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join(&b'/')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::{encode, typeflag, Header};

    fn block(bytes: &[u8]) -> [u8; BLOCK] {
        bytes[..BLOCK].try_into().unwrap()
    }

    fn file(name: &str) -> Header {
        Header {
            name: name.as_bytes().to_vec(),
            typeflag: typeflag::REGULAR,
            mode: 0o644,
            size: 5,
            mtime: 1_445_412_480,
            ..Default::default()
        }
    }

    /// Parse a header as our tar writer encodes it, following any PAX header.
    fn round_trip(h: &Header) -> EntryHeader {
        let bytes = encode(h);
        let mut pending = Pending::default();
        let mut at = 0;
        loop {
            match parse_block(&block(&bytes[at..]), &mut pending).unwrap() {
                Block::Meta { kind, size } => {
                    parse_meta(kind, &bytes[at + BLOCK..at + BLOCK + size as usize], &mut pending).unwrap();
                    at += BLOCK + size as usize + padding(size) as usize;
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
        parse_meta(b'L', b"a/very/long/name\0", &mut pending).unwrap();
        parse_meta(b'K', b"target\0\0", &mut pending).unwrap();
        let Block::Entry(e) = parse_block(&block(&encode(&file("short"))), &mut pending).unwrap() else { panic!() };
        assert_eq!((e.name.as_slice(), e.linkname.as_slice()), (&b"a/very/long/name"[..], &b"target"[..]));
        // Consumed: the next entry gets its own name.
        let Block::Entry(e) = parse_block(&block(&encode(&file("next"))), &mut pending).unwrap() else { panic!() };
        assert_eq!(e.name, b"next");

        let mut bad = block(&encode(&file("x")));
        bad[0] = b'y';
        assert!(parse_block(&bad, &mut pending).unwrap_err().message.contains("invalid tar header"));
        assert_eq!(parse_block(&[0; BLOCK], &mut pending).unwrap(), Block::Zero);
        assert!(parse_pax(b"9 path=a\n").is_ok());
        assert!(parse_pax(b"9 path=a").is_err());
        assert!(parse_pax(b"8 path=a\n").is_err());
    }

    #[test]
    fn numbers_times_and_names() {
        assert_eq!(numeric(b"0000644\0").unwrap(), 0o644);
        assert_eq!(numeric(b"  644 \0").unwrap(), 0o644);
        assert_eq!(numeric(b"\0\0\0").unwrap(), 0);
        assert_eq!(numeric(&[0x80, 0, 0, 0, 0, 0, 1, 0]).unwrap(), 256);
        assert_eq!(numeric(&[0xff; 8]).unwrap(), -1);
        assert!(numeric(b"0009\0").is_err());
        assert_eq!(pax_time(b"1.5"), Some((1, 500_000_000)));
        assert_eq!(pax_time(b"-1.25"), Some((-1, -250_000_000)));
        assert_eq!(pax_time(b"7"), Some((7, 0)));
        assert_eq!(pax_time(b"1.x"), None);
        assert_eq!(toc_modtime((0, 0)), None);
        assert_eq!(toc_modtime((0, 999_999_999)), None);
        assert_eq!(toc_modtime((5, 499_999_999)), Some(5));
        assert_eq!(toc_modtime((5, 500_000_000)), Some(6));
        assert_eq!(toc_modtime((-1, -500_000_000)), Some(-1));
        assert_eq!(toc_modtime((-86_400, 0)), Some(-86_400));
        assert_eq!(clean_name(b"./stargz.index.json"), b"stargz.index.json");
        assert_eq!(clean_name(b"../a/../stargz.index.json/"), b"stargz.index.json");
        assert_eq!(clean_name(b"dir/stargz.index.json"), b"dir/stargz.index.json");
        assert_eq!(data_size(b'5', 100), 0);
        assert_eq!(data_size(b'0', 100), 100);
    }
}
