//! The eStargz table of contents (`stargz.index.json`) and its JSON bytes as estargz writes them:
//! Go's `json.MarshalIndent(toc, "", "\t")` of `JTOC{Version: 1, Entries: …}`, fields in the order of
//! estargz's `TOCEntry`, every field but `name` and `type` omitted when zero.

use crate::timefmt::rfc3339;
use std::collections::BTreeMap;

/// One TOC entry (a tar entry, or a further chunk of a large regular file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TocEntry {
    pub name: Vec<u8>,
    /// `dir`, `reg`, `symlink`, `hardlink`, `char`, `block`, `fifo` or `chunk`.
    pub kind: &'static str,
    pub size: i64,
    /// Unix seconds (already rounded); None when zero, as estargz omits it.
    pub modtime: Option<i64>,
    pub link_name: Vec<u8>,
    pub mode: i64,
    pub uid: i64,
    pub gid: i64,
    pub user_name: Vec<u8>,
    pub group_name: Vec<u8>,
    /// Compressed offset of the gzip member where this entry's data starts.
    pub offset: u64,
    pub dev_major: i64,
    pub dev_minor: i64,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    pub digest: String,
    pub chunk_offset: u64,
    pub chunk_size: u64,
    pub chunk_digest: String,
}

/// `json.MarshalIndent(JTOC{Version: 1, Entries: entries}, "", "\t")`.
pub fn to_json(entries: &[TocEntry]) -> Vec<u8> {
    let mut out = b"{\n\t\"version\": 1,\n\t\"entries\": ".to_vec();
    if entries.is_empty() {
        // A nil slice in Go.
        out.extend_from_slice(b"null");
    } else {
        out.extend_from_slice(b"[\n");
        for (i, entry) in entries.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b",\n");
            }
            write_entry(&mut out, entry);
        }
        out.extend_from_slice(b"\n\t]");
    }
    out.extend_from_slice(b"\n}");
    out
}

fn write_entry(out: &mut Vec<u8>, e: &TocEntry) {
    let mut fields = Fields { out, first: true };
    fields.string("name", &e.name, true);
    fields.string("type", e.kind.as_bytes(), true);
    fields.int("size", e.size);
    if let Some(t) = e.modtime {
        fields.string("modtime", rfc3339(t).as_bytes(), false);
    }
    fields.string("linkName", &e.link_name, false);
    fields.int("mode", e.mode);
    fields.int("uid", e.uid);
    fields.int("gid", e.gid);
    fields.string("userName", &e.user_name, false);
    fields.string("groupName", &e.group_name, false);
    fields.int("offset", e.offset as i64);
    fields.int("devMajor", e.dev_major);
    fields.int("devMinor", e.dev_minor);
    if !e.xattrs.is_empty() {
        fields.key("xattrs");
        fields.out.extend_from_slice(b"{");
        for (i, (k, v)) in e.xattrs.iter().enumerate() {
            fields.out.extend_from_slice(if i == 0 { b"\n\t\t\t\t" } else { b",\n\t\t\t\t" });
            go_string(fields.out, k);
            fields.out.extend_from_slice(b": \"");
            fields.out.extend_from_slice(base64(v).as_bytes());
            fields.out.push(b'"');
        }
        fields.out.extend_from_slice(b"\n\t\t\t}");
    }
    fields.string("digest", e.digest.as_bytes(), false);
    fields.int("chunkOffset", e.chunk_offset as i64);
    fields.int("chunkSize", e.chunk_size as i64);
    fields.string("chunkDigest", e.chunk_digest.as_bytes(), false);
    out.extend_from_slice(b"\n\t\t}");
}

/// The members of one entry object, at the indentation of an object inside `entries`.
struct Fields<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl Fields<'_> {
    fn key(&mut self, key: &str) {
        self.out.extend_from_slice(if self.first { b"\t\t{\n\t\t\t" } else { b",\n\t\t\t" });
        self.first = false;
        self.out.push(b'"');
        self.out.extend_from_slice(key.as_bytes());
        self.out.extend_from_slice(b"\": ");
    }

    fn string(&mut self, key: &str, value: &[u8], always: bool) {
        if always || !value.is_empty() {
            self.key(key);
            go_string(self.out, value);
        }
    }

    fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.key(key);
            self.out.extend_from_slice(value.to_string().as_bytes());
        }
    }
}

/// A JSON string as Go's encoding/json writes one (HTML escaping on): `<`, `>`, `&`, U+2028 and
/// U+2029 escaped, control characters as `\u00XX` except `\b \f \n \r \t`, and each byte that is not
/// part of valid UTF-8 as `\ufffd`.
pub fn go_string(out: &mut Vec<u8>, s: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    let mut rest = s;
    while !rest.is_empty() {
        let (valid, bad) = match std::str::from_utf8(rest) {
            Ok(v) => (v, false),
            Err(e) => (std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(), true),
        };
        for c in valid.chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\u{8}' => out.extend_from_slice(b"\\b"),
                '\u{c}' => out.extend_from_slice(b"\\f"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '<' | '>' | '&' | '\0'..='\u{1f}' => {
                    let b = c as u8;
                    out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
                }
                '\u{2028}' => out.extend_from_slice(b"\\u2028"),
                '\u{2029}' => out.extend_from_slice(b"\\u2029"),
                c => {
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        rest = &rest[valid.len()..];
        if bad {
            // Go replaces one invalid byte at a time.
            out.extend_from_slice(b"\\ufffd");
            rest = &rest[1..];
        }
    }
    out.push(b'"');
}

/// Standard base64 with padding: how Go's encoding/json writes a `[]byte`.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for group in data.chunks(3) {
        let n = group.iter().enumerate().fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                s.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                s.push('=');
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_string(s: &[u8]) -> String {
        let mut out = Vec::new();
        go_string(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(json_string(b"a/b c"), r#""a/b c""#);
        assert_eq!(json_string(b"<&>\"\\"), r#""\u003c\u0026\u003e\"\\""#);
        assert_eq!(json_string(b"\x01\x08\x0c\n\r\t\x1f\x7f"), "\"\\u0001\\b\\f\\n\\r\\t\\u001f\x7f\"");
        assert_eq!(json_string("h\u{e9}\u{2028}".as_bytes()), "\"h\u{e9}\\u2028\"");
        // Invalid UTF-8: one \ufffd per bad byte, valid text around it kept.
        assert_eq!(json_string(b"a\xff\xfeb\xc3"), r#""a\ufffd\ufffdb\ufffd""#);
    }

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(&[1, 0, 0, 2, 0xff]), "AQAAAv8=");
    }

    #[test]
    fn marshal_indent_with_tabs() {
        assert_eq!(to_json(&[]), b"{\n\t\"version\": 1,\n\t\"entries\": null\n}");
        let dir =
            TocEntry { name: b"bin/".to_vec(), kind: "dir", mode: 0o755, modtime: Some(86_400), ..Default::default() };
        let mut xattrs = BTreeMap::new();
        xattrs.insert(b"security.capability".to_vec(), vec![1, 0, 0, 2]);
        xattrs.insert(b"a".to_vec(), b"x".to_vec());
        let file = TocEntry {
            name: b"bin/a".to_vec(),
            kind: "reg",
            size: 10,
            modtime: Some(1_445_412_480),
            mode: 0o644,
            uid: 1000,
            user_name: b"me".to_vec(),
            offset: 123,
            xattrs,
            digest: "sha256:d".into(),
            chunk_size: 4,
            chunk_digest: "sha256:c".into(),
            ..Default::default()
        };
        let chunk =
            TocEntry { name: b"bin/a".to_vec(), kind: "chunk", offset: 456, chunk_offset: 4, ..Default::default() };
        let expected =
            "{\n\t\"version\": 1,\n\t\"entries\": [\n\t\t{\n\t\t\t\"name\": \"bin/\",\n\t\t\t\"type\": \"dir\",\n\
            \t\t\t\"modtime\": \"1970-01-02T00:00:00Z\",\n\t\t\t\"mode\": 493\n\t\t},\n\t\t{\n\
            \t\t\t\"name\": \"bin/a\",\n\t\t\t\"type\": \"reg\",\n\t\t\t\"size\": 10,\n\
            \t\t\t\"modtime\": \"2015-10-21T07:28:00Z\",\n\t\t\t\"mode\": 420,\n\t\t\t\"uid\": 1000,\n\
            \t\t\t\"userName\": \"me\",\n\t\t\t\"offset\": 123,\n\t\t\t\"xattrs\": {\n\t\t\t\t\"a\": \"eA==\",\n\
            \t\t\t\t\"security.capability\": \"AQAAAg==\"\n\t\t\t},\n\t\t\t\"digest\": \"sha256:d\",\n\
            \t\t\t\"chunkSize\": 4,\n\t\t\t\"chunkDigest\": \"sha256:c\"\n\t\t},\n\t\t{\n\
            \t\t\t\"name\": \"bin/a\",\n\t\t\t\"type\": \"chunk\",\n\t\t\t\"offset\": 456,\n\t\t\t\"chunkOffset\": 4\n\
            \t\t}\n\t]\n}";
        assert_eq!(String::from_utf8(to_json(&[dir, file, chunk])).unwrap(), expected);
    }
}
