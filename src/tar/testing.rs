//! Tar builders for tests: headers as our writer encodes them, patched by hand where a case needs
//! bytes the writer never writes.

use super::{encode, padding, typeflag, Header, BLOCK, TRAILER};

/// A header as our writer encodes it (USTAR), for patching.
pub fn ustar(name: &str, flag: u8, size: i64) -> Vec<u8> {
    let h = Header { name: name.into(), typeflag: flag, mode: 0o644, size, mtime: 1_700_000_000, ..Default::default() };
    let block = encode(&h);
    assert_eq!(block.len(), BLOCK, "a USTAR header");
    block
}

/// Store the checksum of `block` after patching: the unsigned sum, or the historical signed one.
pub fn checksum(block: &mut [u8], signed: bool) {
    block[148..156].fill(b' ');
    let sum: i64 = block[..BLOCK].iter().map(|&c| if signed { c as i8 as i64 } else { c as i64 }).sum();
    block[148..155].copy_from_slice(format!("{:06o}\0", sum & 0o777777).as_bytes());
}

pub fn with_data(mut header: Vec<u8>, data: &[u8]) -> Vec<u8> {
    header.extend_from_slice(data);
    header.resize(header.len() + padding(data.len() as u64), 0);
    header
}

pub fn meta(flag: u8, data: &[u8]) -> Vec<u8> {
    with_data(ustar("././@LongLink", flag, data.len() as i64), data)
}

pub fn pax(flag: u8, records: &[(&str, &[u8])]) -> Vec<u8> {
    let mut data = Vec::new();
    for (key, value) in records {
        let body = [key.as_bytes(), b"=", value, b"\n"].concat();
        let mut len = body.len() + 2;
        while format!("{len} ").len() + body.len() != len {
            len += 1;
        }
        data.extend_from_slice(format!("{len} ").as_bytes());
        data.extend_from_slice(&body);
    }
    meta(flag, &data)
}

pub fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
    [parts.concat(), TRAILER.to_vec()].concat()
}

pub fn file(name: &str, data: &[u8]) -> Vec<u8> {
    with_data(ustar(name, typeflag::REGULAR, data.len() as i64), data)
}

/// A 5-byte regular file's header.
pub fn regular(name: &str) -> Header {
    Header {
        name: name.as_bytes().to_vec(),
        typeflag: typeflag::REGULAR,
        mode: 0o644,
        size: 5,
        mtime: 1_445_412_480,
        ..Default::default()
    }
}
