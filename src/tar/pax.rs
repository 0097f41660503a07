//! PAX extended header records (`<length> <key>=<value>\n`), as Go's parsePAX and mergePAX take them.

use super::error::TarError;
use super::header::Entry;
use super::numbers::{parse_decimal, parse_pax_time};
use std::collections::BTreeMap;

pub type Records = BTreeMap<Vec<u8>, Vec<u8>>;

const SPARSE_OFFSET: &[u8] = b"GNU.sparse.offset";
const SPARSE_NUMBYTES: &[u8] = b"GNU.sparse.numbytes";
const SPARSE_MAP: &[u8] = b"GNU.sparse.map";

/// Go's parsePAX: every record well formed or the whole header is refused; GNU sparse 0.0 offsets
/// and sizes alternate (offset first) and are joined into `GNU.sparse.map`.
pub fn parse(mut data: &[u8]) -> Result<Records, TarError> {
    let mut records = Records::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    while !data.is_empty() {
        let (key, value, rest) = record(data).ok_or(TarError::Pax)?;
        data = rest;
        if key == SPARSE_OFFSET || key == SPARSE_NUMBYTES {
            let expected = if sparse_map.len().is_multiple_of(2) { SPARSE_OFFSET } else { SPARSE_NUMBYTES };
            if key != expected || value.contains(&b',') {
                return Err(TarError::Pax);
            }
            sparse_map.push(value);
        } else {
            records.insert(key.to_vec(), value.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(SPARSE_MAP.to_vec(), sparse_map.join(&b','));
    }
    Ok(records)
}

/// Go's parsePAXRecord and validPAXRecord: one record, and what follows it.
fn record(data: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let space = data.iter().position(|&b| b == b' ')?;
    let len = parse_decimal(&data[..space])?;
    if len < 5 || len > data.len() as i64 || len as usize <= space + 1 {
        return None;
    }
    let (record, rest) = data.split_at(len as usize);
    let record = record[space + 1..].strip_suffix(b"\n")?;
    let eq = record.iter().position(|&b| b == b'=')?;
    let (key, value) = (&record[..eq], &record[eq + 1..]);
    let names_a_string = matches!(key, b"path" | b"linkpath" | b"uname" | b"gname");
    let nul_free = if names_a_string { value } else { key };
    if key.is_empty() || nul_free.contains(&0) {
        return None;
    }
    Some((key, value, rest))
}

/// Go's mergePAX: the records override the header's fields; an empty value keeps the header's own.
pub fn merge(entry: &mut Entry, records: &Records) -> Result<(), TarError> {
    for (key, value) in records.iter().filter(|(_, v)| !v.is_empty()) {
        let bad = || TarError::PaxValue(String::from_utf8_lossy(key).into_owned());
        let int = |v: &[u8]| parse_decimal(v).ok_or_else(bad);
        match key.as_slice() {
            b"path" => entry.name = value.clone(),
            b"linkpath" => entry.linkname = value.clone(),
            b"uname" => entry.uname = value.clone(),
            b"gname" => entry.gname = value.clone(),
            b"uid" => entry.uid = int(value)?,
            b"gid" => entry.gid = int(value)?,
            b"size" => entry.size = int(value)?,
            b"mtime" => entry.mtime = parse_pax_time(value).ok_or_else(bad)?,
            b"atime" | b"ctime" => _ = parse_pax_time(value).ok_or_else(bad)?,
            _ => {}
        }
    }
    Ok(())
}

/// Go's readGNUSparsePAXHeaders decides from these records whether an entry is a sparse file.
pub fn is_sparse(records: &Records) -> bool {
    let get = |k: &[u8]| records.get(k).map_or(&[][..], Vec::as_slice);
    let (major, minor) = (get(b"GNU.sparse.major"), get(b"GNU.sparse.minor"));
    match (major, minor) {
        (b"0", b"0" | b"1") | (b"1", b"0") => true,
        (b"", b"") => !get(SPARSE_MAP).is_empty(),
        // An unknown version: Go reads the entry as a plain file.
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_as_go_parses_them() {
        assert!(parse(b"9 path=a\n").is_ok());
        assert!(parse(b"9 path=a").is_err());
        assert!(parse(b"8 path=a\n").is_err());
        assert!(parse(b"99 path=short\n").is_err());
        assert!(parse(b"10 path=a\0\n").is_err(), "NUL in a path");
        assert!(parse(b"9 a\0b=c\n").is_err(), "NUL in a key");
        assert!(parse(b"10 foo=a\0\n").is_ok(), "NUL in another value is data");
        let r = parse(b"30 mtime=1445412480.000000000\n23 path=blobs/sha256/x\n").unwrap();
        assert_eq!(r[&b"path"[..]], b"blobs/sha256/x");
        let sparse = parse(b"23 GNU.sparse.offset=0\n25 GNU.sparse.numbytes=5\n").unwrap();
        assert_eq!(sparse[SPARSE_MAP], b"0,5");
        assert!(is_sparse(&sparse));
        assert!(parse(b"25 GNU.sparse.numbytes=5\n").is_err(), "a size before its offset");
        assert!(!is_sparse(&parse(b"21 GNU.sparse.name=x\n").unwrap()));
    }
}
