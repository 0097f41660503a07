//! Tar headers byte-for-byte as Go's archive/tar writes them in PAX format (what BuildKit's layer
//! differ and containerd's archive writer use): USTAR when every field fits (with prefix/name
//! splitting), otherwise a PAX extended header carrying what does not fit.

use std::collections::BTreeMap;

pub const BLOCK: usize = 512;

pub mod typeflag {
    pub const REGULAR: u8 = b'0';
    pub const HARDLINK: u8 = b'1';
    pub const SYMLINK: u8 = b'2';
    pub const CHAR: u8 = b'3';
    pub const BLOCK: u8 = b'4';
    pub const DIRECTORY: u8 = b'5';
    pub const FIFO: u8 = b'6';
    pub const PAX: u8 = b'x';
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Header {
    pub name: Vec<u8>,
    pub typeflag: u8,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub size: i64,
    pub mtime: i64,
    pub linkname: Vec<u8>,
    pub devmajor: i64,
    pub devminor: i64,
    /// Extra PAX records (e.g. `SCHILY.xattr.security.capability`); they force the PAX form.
    pub pax_records: BTreeMap<String, Vec<u8>>,
}

const NAME_SIZE: usize = 100;
const PREFIX_SIZE: usize = 155;

/// Bytes to append after `size` bytes of file data to reach a block boundary.
pub fn padding(size: u64) -> usize {
    (BLOCK - (size % BLOCK as u64) as usize) % BLOCK
}

/// The end-of-archive marker: two zero blocks (Go writes no further record padding).
pub const TRAILER: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

fn is_ascii(s: &[u8]) -> bool {
    s.iter().all(|&b| b < 0x80 && b != 0)
}

fn to_ascii(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&b| b < 0x80 && b != 0).collect()
}

fn fits_in_octal(width: usize, x: i64) -> bool {
    let octal_bits = 3 * (width as u32 - 1);
    x >= 0 && (octal_bits >= 63 || x < 1i64 << octal_bits)
}

/// Go's splitUSTARPath: split a long ASCII name into prefix and name at a '/'.
fn split_ustar_path(name: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length = name.len();
    if length <= NAME_SIZE || !is_ascii(name) {
        return None;
    } else if length > PREFIX_SIZE + 1 {
        length = PREFIX_SIZE + 1;
    } else if name[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].iter().rposition(|&b| b == b'/')?;
    let (nlen, plen) = (name.len() - i - 1, i);
    if i == 0 || nlen > NAME_SIZE || nlen == 0 || plen > PREFIX_SIZE {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

struct Block([u8; BLOCK]);

impl Block {
    fn new() -> Block {
        Block([0; BLOCK])
    }
    fn string(&mut self, offset: usize, width: usize, s: &[u8]) {
        let n = s.len().min(width);
        self.0[offset..offset + n].copy_from_slice(&s[..n]);
        if n < width {
            self.0[offset + n] = 0; // Go's formatString NUL-terminates short values
        }
    }
    fn octal(&mut self, offset: usize, width: usize, x: i64) {
        let x = if fits_in_octal(width, x) { x } else { 0 };
        let digits = format!("{:0w$o}", x, w = width - 1);
        self.string(offset, width, digits.as_bytes());
    }
    /// Set the USTAR/PAX magic and the checksum, as Go's setFormat does.
    fn finish(mut self) -> [u8; BLOCK] {
        self.string(257, 6, b"ustar\0");
        self.string(263, 2, b"00");
        self.0[148..156].copy_from_slice(b"        ");
        let sum: i64 = self.0.iter().map(|&b| b as i64).sum();
        self.octal(148, 7, sum);
        self.0[155] = b' ';
        self.0
    }
}

/// The main header block: name/linkname already chosen, numbers that do not fit written as 0.
fn main_block(h: &Header, name: &[u8], prefix: &[u8], linkname: &[u8]) -> [u8; BLOCK] {
    let mut b = Block::new();
    b.string(0, 100, name);
    b.octal(100, 8, h.mode);
    b.octal(108, 8, h.uid);
    b.octal(116, 8, h.gid);
    b.octal(124, 12, h.size);
    b.octal(136, 12, h.mtime);
    b.0[156] = h.typeflag;
    b.string(157, 100, linkname);
    // uname (265) and gname (297) stay empty: layers carry no user or group names.
    b.octal(329, 8, h.devmajor);
    b.octal(337, 8, h.devminor);
    b.string(345, 155, prefix);
    b.finish()
}

/// Go's formatPAXRecord: "<len> key=value\n" where len counts the whole record.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3;
    let mut size = body + body.to_string().len();
    if (body + size.to_string().len()) != size {
        size = body + size.to_string().len();
    }
    let mut rec = format!("{size} {key}=").into_bytes();
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// Encode one entry's header block(s): 512 bytes, or a PAX header entry plus 512 bytes.
pub fn encode(h: &Header) -> Vec<u8> {
    let mut pax: BTreeMap<String, Vec<u8>> = h.pax_records.clone();
    let mut ustar_ok = pax.is_empty();
    let name_split = split_ustar_path(&h.name);
    if !is_ascii(&h.name) || h.name.len() > NAME_SIZE {
        if name_split.is_none() {
            ustar_ok = false;
        }
        pax.insert("path".into(), h.name.clone());
    }
    if !is_ascii(&h.linkname) || h.linkname.len() > NAME_SIZE {
        ustar_ok = false;
        pax.insert("linkpath".into(), h.linkname.clone());
    }
    for (key, width, value) in [("uid", 8, h.uid), ("gid", 8, h.gid), ("size", 12, h.size), ("mtime", 12, h.mtime)] {
        if !fits_in_octal(width, value) {
            ustar_ok = false;
            pax.insert(key.into(), value.to_string().into_bytes());
        }
    }

    if ustar_ok {
        let (prefix, name) = name_split.unwrap_or((&[], &h.name));
        return main_block(h, name, prefix, &h.linkname).to_vec();
    }

    let mut data = Vec::new();
    for (k, v) in &pax {
        data.extend(pax_record(k, v));
    }
    let mut out = Vec::with_capacity(3 * BLOCK + data.len());
    out.extend_from_slice(&pax_header_block(&h.name, data.len() as i64));
    out.extend_from_slice(&data);
    out.resize(out.len() + padding(data.len() as u64), 0);
    out.extend_from_slice(&main_block(h, &to_ascii(&h.name), &[], &to_ascii(&h.linkname)));
    out
}

/// Go's writeRawFile for the PAX entry: name `dir/PaxHeaders.0/file`, only v7 fields set.
fn pax_header_block(real_name: &[u8], size: i64) -> [u8; BLOCK] {
    let trimmed = real_name.strip_suffix(b"/").unwrap_or(real_name);
    let split = trimmed.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
    let (dir, file) =
        if real_name.ends_with(b"/") { (real_name, &b""[..]) } else { (&real_name[..split], &real_name[split..]) };
    let mut name = dir.to_vec();
    name.extend_from_slice(b"PaxHeaders.0");
    if !file.is_empty() {
        name.push(b'/');
        name.extend_from_slice(file);
    }
    let mut name = to_ascii(&name);
    name.truncate(NAME_SIZE);
    while name.last() == Some(&b'/') {
        name.pop();
    }
    let mut b = Block::new();
    b.string(0, 100, &name);
    b.octal(100, 8, 0);
    b.octal(108, 8, 0);
    b.octal(116, 8, 0);
    b.octal(124, 12, size);
    b.octal(136, 12, 0);
    b.0[156] = typeflag::PAX;
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tar::testing::regular as file;

    #[test]
    fn ustar_fields_like_go() {
        let b = encode(&file("etc/hosts"));
        assert_eq!(b.len(), 512);
        assert_eq!(&b[0..9], b"etc/hosts");
        assert_eq!(&b[100..108], b"0000644\0");
        assert_eq!(&b[124..136], b"00000000005\0");
        assert_eq!(&b[136..148], b"12611637200\0");
        assert_eq!(&b[257..265], b"ustar\x0000");
        assert_eq!(&b[329..337], b"0000000\0");
        let sum: u32 = b.iter().enumerate().map(|(i, &c)| if (148..156).contains(&i) { 32 } else { c as u32 }).sum();
        assert_eq!(std::str::from_utf8(&b[148..154]).unwrap(), format!("{sum:06o}"));
        assert_eq!(&b[154..156], b"\0 ");
    }

    #[test]
    fn long_ascii_names_use_prefix() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(50));
        let b = encode(&file(&long));
        assert_eq!(b.len(), 512);
        assert_eq!(&b[345..465], "d".repeat(120).as_bytes());
        assert_eq!(&b[0..50], "f".repeat(50).as_bytes());
    }

    #[test]
    fn unsplittable_and_unicode_names_use_pax() {
        let long = "x".repeat(150);
        let b = encode(&file(&long));
        assert_eq!(b.len(), 3 * 512);
        assert_eq!(b[156], typeflag::PAX);
        assert!(b[..100].starts_with(b"PaxHeaders.0/xxx"));
        let record = format!("160 path={long}\n");
        assert_eq!(&b[512..512 + record.len()], record.as_bytes());

        let b = encode(&file("dir/héllo"));
        assert!(b[..100].starts_with(b"dir/PaxHeaders.0/hllo"));
        assert!(b[512..].starts_with("19 path=dir/héllo\n".as_bytes()));
        assert_eq!(&b[1024..1032], b"dir/hllo");
    }

    #[test]
    fn negative_mtime_and_big_ids_use_pax() {
        let mut h = file("a");
        h.mtime = -86_400;
        h.uid = 3_000_000;
        let b = encode(&h);
        let data = String::from_utf8_lossy(&b[512..1024]);
        assert!(data.starts_with("16 mtime=-86400\n15 uid=3000000\n"), "{data}");
        assert_eq!(&b[1024 + 108..1024 + 116], b"0000000\0");
    }

    #[test]
    fn pax_record_lengths_self_count() {
        assert_eq!(pax_record("path", b"a"), b"9 path=a\n");
        // 99 bytes plus a 2-digit length would be 101, whose 3 digits make it 102.
        let v = vec![b'a'; 92];
        let r = pax_record("path", &v);
        assert_eq!(r.len(), 102);
        assert!(r.starts_with(b"102 path="));
    }

    #[test]
    fn padding_to_block() {
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
