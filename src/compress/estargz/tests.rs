//! The encoder against its own decoding: every gzip member inflated separately, the payload compared
//! with the input tar, the TOC read back and every offset and digest checked against the members.

use super::*;
use crate::compress::deflate::RawInflate;
use crate::compress::piece::{compress_piece, Piece};
use crate::tar::{encode, padding, typeflag, Header, TRAILER};
use serde_json::Value;

/// One gzip member of a blob: where it starts and what it decompresses to.
struct Member {
    offset: usize,
    data: Vec<u8>,
}

/// Split a blob into its gzip members, checking each one's framing, CRC and length.
fn members(blob: &[u8]) -> Vec<Member> {
    let mut result = Vec::new();
    let mut at = 0;
    while at < blob.len() {
        assert_eq!(&blob[at..at + 3], &[0x1f, 0x8b, 8], "member at {at}");
        let flags = blob[at + 3];
        let mut body = at + 10;
        if flags & 4 != 0 {
            body += 2 + u16::from_le_bytes([blob[body], blob[body + 1]]) as usize;
        }
        let (data, input) = RawInflate::inflate_all(&blob[body..], usize::MAX)
            .unwrap_or_else(|e| panic!("inflate error {e:?} in member at {at}"));
        let end = blob.len() - input.len();
        assert_eq!(u32::from_le_bytes(blob[end..end + 4].try_into().unwrap()), crc32fast::hash(&data));
        assert_eq!(u32::from_le_bytes(blob[end + 4..end + 8].try_into().unwrap()), data.len() as u32);
        result.push(Member { offset: at, data });
        at = end + 8;
    }
    result
}

fn entry(name: &str, flag: u8, size: usize) -> Header {
    Header {
        name: name.as_bytes().to_vec(),
        typeflag: flag,
        mode: if flag == typeflag::DIRECTORY { 0o755 } else { 0o644 },
        size: size as i64,
        mtime: 1_445_412_480,
        ..Default::default()
    }
}

/// Pseudo-random bytes that deflate cannot shrink much, so chunk members have real sizes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A tar like our layer writer's: dir, files of several sizes around `chunk`, empty file, symlink,
/// hardlink, a long PAX name, an xattr, a user name, a device. Returns the tar and its files.
fn sample_tar(chunk: usize) -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
    let mut tar = Vec::new();
    let mut files = Vec::new();
    let long = format!("usr/{}/file", "long-directory-name-".repeat(8));
    let mut xattr = entry("bin/cap", typeflag::REGULAR, 3);
    xattr.pax_records.insert("SCHILY.xattr.security.capability".into(), vec![1, 0, 0, 2, 0, 0x20]);
    let contents: Vec<(Header, Vec<u8>)> = vec![
        (entry("bin/", typeflag::DIRECTORY, 0), vec![]),
        (entry("bin/a", typeflag::REGULAR, 10), b"0123456789".to_vec()),
        (xattr, b"cap".to_vec()),
        (entry("bin/empty", typeflag::REGULAR, 0), vec![]),
        (entry("bin/exact", typeflag::REGULAR, chunk), noise(chunk, 1)),
        (entry("bin/big", typeflag::REGULAR, 2 * chunk + 100), noise(2 * chunk + 100, 2)),
        (Header { linkname: b"a".to_vec(), ..entry("bin/sym", typeflag::SYMLINK, 0) }, vec![]),
        (Header { linkname: b"bin/a".to_vec(), ..entry("bin/hard", typeflag::HARDLINK, 0) }, vec![]),
        (Header { devmajor: 1, devminor: 3, ..entry("dev/null", typeflag::CHAR, 0) }, vec![]),
        (entry(&long, typeflag::REGULAR, 700), noise(700, 3)),
        (Header { uid: 1000, gid: 1000, ..entry("home/u/", typeflag::DIRECTORY, 0) }, vec![]),
    ];
    for (h, data) in contents {
        tar.extend(encode(&h));
        tar.extend_from_slice(&data);
        tar.resize(tar.len() + padding(data.len() as u64), 0);
        if h.typeflag == typeflag::REGULAR {
            files.push((String::from_utf8(h.name.clone()).unwrap(), data));
        }
    }
    tar.extend_from_slice(&TRAILER);
    (tar, files)
}

/// Encode `tar` handing it over in pieces of `piece` bytes.
fn encode_in_pieces(tar: &[u8], level: u8, chunk: u64, piece: usize) -> (Vec<u8>, Trailer) {
    let mut enc = EstargzEncoder::with_chunk_size(level, chunk);
    let mut out = Vec::new();
    let mut blob = Vec::new();
    for p in tar.chunks(piece) {
        enc.write(p, &mut out).unwrap();
        // The caller drains `out` now and then: offsets must not depend on it.
        if out.len() > 3000 {
            blob.append(&mut out);
        }
    }
    let trailer = enc.finish(&mut out).unwrap();
    blob.append(&mut out);
    (blob, trailer)
}

fn toc_of(trailer: &Trailer) -> Value {
    let size = usize::from_str_radix(std::str::from_utf8(&trailer.toc_tar[124..135]).unwrap(), 8).unwrap();
    serde_json::from_slice(&trailer.toc_tar[512..512 + size]).unwrap()
}

#[test]
fn round_trip_members_toc_and_footer() {
    const CHUNK: usize = 1000;
    let (tar, files) = sample_tar(CHUNK);
    let (blob, trailer) = encode_in_pieces(&tar, 6, CHUNK as u64, 4096);
    let members = members(&blob);

    // Footer: the last member, 51 bytes, empty, pointing at the TOC member (the one before it).
    let footer_member = members.last().unwrap();
    assert_eq!(footer_member.offset, blob.len() - FOOTER_SIZE);
    assert!(footer_member.data.is_empty());
    let toc_offset = parse_footer(&blob[blob.len() - FOOTER_SIZE..]).unwrap() as usize;
    let toc_member = &members[members.len() - 2];
    assert_eq!(toc_member.offset, toc_offset);
    assert_eq!(toc_member.data, trailer.toc_tar);

    // Payload: the members before the TOC decompress to exactly the input tar.
    let payload: Vec<u8> = members.iter().take_while(|m| m.offset < toc_offset).flat_map(|m| m.data.clone()).collect();
    assert_eq!(payload, tar);
    assert_eq!(members[0].offset, 0);

    // The TOC tar: one entry named stargz.index.json (mode 0, mtime 0), then a two-block trailer.
    let t = &trailer.toc_tar;
    assert_eq!(&t[..18], b"stargz.index.json\0");
    assert_eq!(&t[100..108], b"0000000\0");
    assert_eq!(&t[136..148], b"00000000000\0");
    assert_eq!(t[156], b'0');
    assert_eq!(t.len() % 512, 0);
    assert!(t[t.len() - 1024..].iter().all(|&b| b == 0));
    let json_len = usize::from_str_radix(std::str::from_utf8(&t[124..135]).unwrap(), 8).unwrap();
    assert_eq!(trailer.toc_digest, sha256(&t[512..512 + json_len]));

    let toc = toc_of(&trailer);
    assert_eq!(toc["version"], 1);
    let entries = toc["entries"].as_array().unwrap();
    let names: Vec<&str> =
        entries.iter().filter(|e| e["type"] != "chunk").map(|e| e["name"].as_str().unwrap()).collect();
    let long = format!("usr/{}/file", "long-directory-name-".repeat(8));
    assert_eq!(
        names,
        [
            "bin/",
            "bin/a",
            "bin/cap",
            "bin/empty",
            "bin/exact",
            "bin/big",
            "bin/sym",
            "bin/hard",
            "dev/null",
            &long,
            "home/u/"
        ]
    );

    let by_offset = |offset: u64| members.iter().find(|m| m.offset as u64 == offset).expect("offset starts a member");
    for (name, data) in &files {
        let chunks: Vec<&Value> = entries.iter().filter(|e| e["name"] == name.as_str()).collect();
        let reg = chunks[0];
        assert_eq!(reg["type"], "reg", "{name}");
        assert_eq!(reg["digest"], sha256(data), "{name}");
        assert_eq!(reg["size"].as_u64().unwrap_or(0), data.len() as u64, "{name}");
        assert_eq!(reg["modtime"], "2015-10-21T07:28:00Z");
        assert_eq!(reg["mode"], 420);
        if data.is_empty() {
            // Empty files start no member and have no chunk fields.
            assert!(reg.get("offset").is_none() && reg.get("chunkDigest").is_none(), "{reg}");
            continue;
        }
        assert_eq!(chunks.len(), data.len().div_ceil(CHUNK), "{name}");
        let mut rebuilt = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            assert_eq!(c["type"], if i == 0 { "reg" } else { "chunk" });
            let start = c["chunkOffset"].as_u64().unwrap_or(0) as usize;
            assert_eq!(start, i * CHUNK);
            let len = (data.len() - start).min(CHUNK);
            // chunkSize only on full-size chunks; omitted on a shorter last one.
            assert_eq!(c.get("chunkSize").and_then(Value::as_u64), (len == CHUNK).then_some(CHUNK as u64), "{c}");
            let chunk = &data[start..start + len];
            assert_eq!(c["chunkDigest"], sha256(chunk));
            // The chunk's data begins its member.
            let member = by_offset(c["offset"].as_u64().unwrap());
            assert_eq!(&member.data[..len], chunk, "{name} chunk {i}");
            rebuilt.extend_from_slice(chunk);
        }
        assert_eq!(&rebuilt, data);
    }

    let get = |name: &str| entries.iter().find(|e| e["name"] == name).unwrap();
    assert_eq!(get("bin/")["type"], "dir");
    assert_eq!(get("bin/")["mode"], 493);
    assert!(get("bin/").get("offset").is_none());
    assert_eq!((&get("bin/sym")["type"], &get("bin/sym")["linkName"]), (&"symlink".into(), &"a".into()));
    assert_eq!((&get("bin/hard")["type"], &get("bin/hard")["linkName"]), (&"hardlink".into(), &"bin/a".into()));
    assert_eq!((&get("dev/null")["devMajor"], &get("dev/null")["devMinor"]), (&1.into(), &3.into()));
    assert_eq!(get("bin/cap")["xattrs"]["security.capability"], "AQAAAgAg");
    assert_eq!((&get("home/u/")["uid"], &get("home/u/")["gid"]), (&1000.into(), &1000.into()));

    // Members: one for the leading headers, one per chunk, the TOC, the footer.
    let chunk_count: usize = files.iter().map(|(_, d)| d.len().div_ceil(CHUNK)).sum();
    assert_eq!(members.len(), 1 + chunk_count + 2);
}

#[test]
fn diff_id_covers_the_whole_decompressed_stream() {
    let (tar, _) = sample_tar(1000);
    let (blob, trailer) = encode_in_pieces(&tar, 6, 1000, 777);
    let all: Vec<u8> = members(&blob).into_iter().flat_map(|m| m.data).collect();
    let mut with_toc = tar.clone();
    with_toc.extend_from_slice(&trailer.toc_tar);
    assert_eq!(all, with_toc);
    // What the blob writer computes from the input and the tail.
    let mut hasher = Hasher::new();
    hasher.update(&tar);
    hasher.update(&trailer.toc_tar);
    assert_eq!(hasher.finish(), sha256(&all));
    assert_ne!(sha256(&all), sha256(&tar));
}

#[test]
fn deterministic_whatever_the_pieces() {
    let (tar, _) = sample_tar(1000);
    let (reference, trailer) = encode_in_pieces(&tar, 6, 1000, tar.len());
    for piece in [1, 7, 511, 512, 513, 4096] {
        let (blob, t) = encode_in_pieces(&tar, 6, 1000, piece);
        assert!(blob == reference, "piece {piece}");
        assert_eq!(t, trailer);
    }
}

#[test]
fn default_chunk_size_splits_big_files_at_4_mib() {
    let size = 9 << 20;
    let data = noise(size, 9);
    let mut tar = encode(&entry("a", typeflag::REGULAR, 10));
    tar.extend_from_slice(b"0123456789");
    tar.resize(tar.len() + padding(10), 0);
    tar.extend(encode(&entry("big", typeflag::REGULAR, size)));
    tar.extend_from_slice(&data);
    tar.extend_from_slice(&TRAILER);
    let (blob, trailer) = encode_in_pieces(&tar, 1, CHUNK_SIZE, 1 << 20);
    let toc = toc_of(&trailer);
    let big: Vec<&Value> = toc["entries"].as_array().unwrap().iter().filter(|e| e["name"] == "big").collect();
    assert_eq!(big.len(), 3);
    assert_eq!(big[0]["chunkSize"], 4_194_304);
    assert_eq!(big[1]["chunkOffset"], 4_194_304);
    assert_eq!(big[1]["chunkSize"], 4_194_304);
    assert_eq!(big[2]["chunkOffset"], 8_388_608);
    assert!(big[2].get("chunkSize").is_none());
    // Members as the reference's anatomy: headers + "a"'s header; "a"'s data + big's header; three
    // chunks; TOC; footer.
    let members = members(&blob);
    assert_eq!(members.len(), 7);
    assert_eq!(members[0].data.len(), 512);
    assert_eq!(members[4].data.len(), (1 << 20) + 1024);
}

#[test]
fn higher_levels_are_smaller() {
    let mut tar = Vec::new();
    let text = include_str!("../estargz.rs").repeat(30);
    for i in 0..4 {
        tar.extend(encode(&entry(&format!("f{i}"), typeflag::REGULAR, text.len())));
        tar.extend_from_slice(text.as_bytes());
        tar.resize(tar.len() + padding(text.len() as u64), 0);
    }
    tar.extend_from_slice(&TRAILER);
    let size = |level| encode_in_pieces(&tar, level, CHUNK_SIZE, 65536).0.len();
    let (l0, l1, l6, l9) = (size(0), size(1), size(6), size(9));
    assert!(l9 <= l6 && l6 <= l1 && l1 < l0, "{l0} {l1} {l6} {l9}");
    assert!(l0 > tar.len());
}

#[test]
fn footer_is_51_bytes_and_parses_back() {
    let f = footer(0x1234_5678_9abc);
    assert_eq!(f.len(), 51);
    assert_eq!(&f[16..38], b"0000123456789abcSTARGZ");
    assert_eq!(parse_footer(&f), Some(0x1234_5678_9abc));
    assert!(members(&f)[0].data.is_empty());
    let mut bad = f;
    bad[33] = b'x';
    assert_eq!(parse_footer(&bad), None);
}

#[test]
fn empty_input_gives_toc_at_offset_zero() {
    let mut out = Vec::new();
    let trailer = EstargzEncoder::new(6).finish(&mut out).unwrap();
    assert_eq!(parse_footer(&out[out.len() - FOOTER_SIZE..]), Some(0));
    assert_eq!(toc_of(&trailer)["entries"], Value::Null);
    // Only the trailer: one member for the end marker.
    let mut enc = EstargzEncoder::new(6);
    let mut out = Vec::new();
    enc.write(&TRAILER, &mut out).unwrap();
    enc.finish(&mut out).unwrap();
    assert_eq!(members(&out).len(), 3);
}

#[test]
fn refuses_what_estargz_refuses() {
    let fail = |tar: &[u8]| {
        let mut enc = EstargzEncoder::new(6);
        let mut out = Vec::new();
        match enc.write(tar, &mut out) {
            Err(e) => e.message,
            Ok(()) => enc.finish(&mut out).unwrap_err().message,
        }
    };
    let toc = encode(&entry("./stargz.index.json", typeflag::REGULAR, 0));
    assert!(fail(&toc).contains("existing TOC JSON is not allowed"), "{}", fail(&toc));
    let sparse = encode(&entry("s", b'S', 0));
    assert!(fail(&sparse).contains("unsupported input tar entry 'S'"), "{}", fail(&sparse));
    let mut truncated = encode(&entry("t", typeflag::REGULAR, 100));
    truncated.extend_from_slice(&[1; 50]);
    assert!(fail(&truncated).contains("unexpected EOF"));
    assert!(fail(&[0x55; 512]).contains("invalid tar header"));
    let mut zero_then_data = vec![0; 512];
    zero_then_data.extend(encode(&entry("x", typeflag::REGULAR, 0)));
    assert!(fail(&zero_then_data).contains("invalid tar header"));
}

#[test]
fn user_names_only_when_changed() {
    let mut tar = Vec::new();
    for (name, uid, uname) in [("a", 1, "alice"), ("b", 1, "alice"), ("c", 2, "bob"), ("d", 1, "al")] {
        let mut h = entry(name, typeflag::DIRECTORY, 0);
        h.uid = uid;
        h.pax_records.insert("uname".into(), uname.as_bytes().to_vec());
        tar.extend(encode(&h));
    }
    tar.extend_from_slice(&TRAILER);
    let (_, trailer) = encode_in_pieces(&tar, 6, CHUNK_SIZE, 100);
    let toc = toc_of(&trailer);
    let names: Vec<Option<&str>> = toc["entries"].as_array().unwrap().iter().map(|e| e["userName"].as_str()).collect();
    assert_eq!(names, [Some("alice"), None, Some("bob"), Some("al")]);
}

/// The inputs of the piece tests: name, tar, chunk size.
fn piece_cases() -> Vec<(&'static str, Vec<u8>, u64)> {
    let mut many = Vec::new();
    for i in 0..200 {
        let data = noise(i * 37 % 1500, i as u64);
        many.extend(encode(&entry(&format!("d{}/f{i}", i % 7), typeflag::REGULAR, data.len())));
        many.extend_from_slice(&data);
        many.resize(many.len() + padding(data.len() as u64), 0);
        if i % 10 == 0 {
            many.extend(encode(&entry(&format!("dir{i}/"), typeflag::DIRECTORY, 0)));
        }
    }
    many.extend_from_slice(&TRAILER);
    let mut chunked = encode(&entry("big", typeflag::REGULAR, 5 * 4096 + 1));
    // Text that compresses like source code (the old estargz header reader, kept so the inputs stay the same).
    let text = include_str!("testdata/sample-text").as_bytes();
    chunked.extend((0..5 * 4096 + 1).map(|i| text[i % text.len()] ^ (i >> 10) as u8));
    chunked.resize(chunked.len() + padding(5 * 4096 + 1), 0);
    chunked.extend_from_slice(&TRAILER);
    // Files of exactly one, two and three chunks, back to back: every chunk ends on a boundary.
    let mut exact = Vec::new();
    for i in 1..4 {
        exact.extend(encode(&entry(&format!("e{i}"), typeflag::REGULAR, 1024 * i)));
        exact.extend(noise(1024 * i, i as u64 + 40));
    }
    exact.extend_from_slice(&TRAILER);
    // Long runs of headers without file data (one member each): directories, then symlinks.
    let mut runs = Vec::new();
    for i in 0..300 {
        runs.extend(encode(&entry(&format!("dir{i:03}/"), typeflag::DIRECTORY, 0)));
    }
    runs.extend(encode(&entry("file", typeflag::REGULAR, 5)));
    runs.extend_from_slice(b"hello");
    runs.resize(runs.len() + padding(5), 0);
    for i in 0..300 {
        runs.extend(encode(&Header { linkname: b"file".to_vec(), ..entry(&format!("l{i}"), typeflag::SYMLINK, 0) }));
    }
    runs.extend_from_slice(&TRAILER);
    vec![
        ("sample", sample_tar(1000).0, 1000),
        ("many small files", many, CHUNK_SIZE),
        ("one file of six chunks", chunked, 4096),
        ("exact chunk boundaries", exact, 1024),
        ("runs of headers", runs, CHUNK_SIZE),
        ("only the end marker", TRAILER.to_vec(), CHUNK_SIZE),
        ("empty", Vec::new(), CHUNK_SIZE),
    ]
}

/// What a host with threads does: the pieces sent through the host boundary (algorithm name, level,
/// prefix), compressed out of order (last first), joined in order, their sizes told back in order;
/// the pieces that pass through (members' gzip headers and trailers) are never sent. Then the TOC
/// member and footer. Also returns each piece's data length, and whether it passed through.
fn encode_in_parallel(tar: &[u8], level: u8, chunk: u64, write: usize) -> (Vec<u8>, Trailer, Vec<(usize, bool)>) {
    let mut enc = EstargzPieces::with_chunk_size(level, chunk);
    let mut pieces = Vec::new();
    for w in tar.chunks(write.max(1)) {
        enc.push(w, &mut pieces).unwrap();
    }
    enc.end(&mut pieces).unwrap();
    let mut compressed = vec![Vec::new(); pieces.len()];
    for (i, piece) in pieces.iter().enumerate().rev() {
        if piece.compression == Compression::Uncompressed {
            compressed[i] = compress_piece(piece);
            continue;
        }
        let (algorithm, level) = piece.algorithm();
        assert_eq!(algorithm, "gzip");
        let crossed = Piece::from_parts(algorithm, level, piece.input.clone(), piece.start, piece.last).unwrap();
        compressed[i] = compress_piece(&crossed);
    }
    let mut blob = Vec::new();
    for bytes in compressed {
        enc.compressed(bytes.len());
        blob.extend_from_slice(&bytes);
    }
    let trailer = enc.finish(&mut blob).unwrap();
    let shapes = pieces.iter().map(|p| (p.data().len(), p.compression == Compression::Uncompressed)).collect();
    (blob, trailer, shapes)
}

#[test]
fn pieces_compressed_out_of_order_give_the_serial_bytes() {
    for (name, tar, chunk) in piece_cases() {
        for level in [1, 6] {
            let (serial, serial_trailer) = encode_in_pieces(&tar, level, chunk, 4096);
            for write in [tar.len(), 1000] {
                let (parallel, trailer, pieces) = encode_in_parallel(&tar, level, chunk, write);
                assert!(parallel == serial, "{name}: level {level} write {write}");
                assert_eq!(trailer, serial_trailer, "{name}");
                // Every member before the TOC: a header and a trailer passed through, deflate
                // pieces between them.
                let toc_offset = parse_footer(&serial[serial.len() - FOOTER_SIZE..]).unwrap() as usize;
                let passed = pieces.iter().filter(|p| p.1).count();
                assert_eq!(passed, 2 * members(&serial[..toc_offset]).len(), "{name}");
                assert!(pieces.len() >= 3 * passed / 2, "{name}");
            }
        }
    }
}

#[test]
fn piece_blobs_read_back_with_every_chunk_at_its_member() {
    for (name, tar, chunk) in piece_cases() {
        let (blob, trailer, _) = encode_in_parallel(&tar, 6, chunk, 777);
        let toc = reader::parse_blob(&blob).unwrap();
        assert_eq!(toc.digest, trailer.toc_digest, "{name}");
        assert_eq!(toc.toc_tar, trailer.toc_tar, "{name}");
        let members = members(&blob[..toc.toc_offset as usize]);
        let payload: Vec<u8> = members.iter().flat_map(|m| m.data.clone()).collect();
        assert_eq!(payload, tar, "{name}");
        // Every chunk the reader finds starts the member at its offset, and that member begins with
        // the chunk's bytes (as the digest the encoder took from the input says).
        let json = toc_of(&trailer);
        let digests = json["entries"].as_array().cloned().unwrap_or_default();
        assert_eq!(toc.entries.len(), digests.len(), "{name}");
        let (mut chunks, mut file_size) = (0, 0);
        for (e, json) in toc.entries.iter().zip(&digests) {
            assert_eq!(json["name"], e.name.as_str());
            if e.kind == "reg" {
                file_size = e.size;
            }
            if e.kind != "chunk" && (e.kind != "reg" || e.size == 0) {
                assert_eq!(e.offset, 0, "{name}: {e:?}");
                continue;
            }
            let member = members.iter().find(|m| m.offset as i64 == e.offset).expect("offset starts a member");
            let len = if e.chunk_size > 0 { e.chunk_size } else { file_size - e.chunk_offset };
            assert_eq!(json["chunkDigest"], sha256(&member.data[..len as usize]), "{name}: {e:?}");
            chunks += 1;
        }
        // The first member holds the leading headers; every other one starts a chunk.
        assert_eq!(members.len(), chunks + !tar.is_empty() as usize, "{name}");
    }
}

/// A tar with a run of `dirs` directories, then a file of `size` bytes.
fn dirs_then_file(dirs: usize, size: usize) -> Vec<u8> {
    let mut tar = Vec::new();
    for i in 0..dirs {
        tar.extend(encode(&entry(&format!("dir{i:05}/"), typeflag::DIRECTORY, 0)));
    }
    // Text that compresses like source code (the old estargz header reader, kept so the inputs stay the same).
    let text = include_str!("testdata/sample-text").as_bytes();
    tar.extend(encode(&entry("big", typeflag::REGULAR, size)));
    tar.extend((0..size).map(|i| text[i % text.len()] ^ (i >> 14) as u8));
    tar.resize(tar.len() + padding(size as u64), 0);
    tar.extend_from_slice(&TRAILER);
    tar
}

#[test]
fn no_piece_holds_more_than_1_mib() {
    // 20,000 directories: a member of 9.8 MiB of headers; then a 9 MiB file in 4 MiB chunks.
    let tar = dirs_then_file(20_000, 9 << 20);
    for write in [1 << 20, 3 << 20, 100_001] {
        let (blob, trailer, pieces) = encode_in_parallel(&tar, 1, CHUNK_SIZE, write);
        let biggest = pieces.iter().map(|p| p.0).max().unwrap();
        assert!(biggest <= 1 << 20, "write {write}: a piece of {biggest} bytes");
        let (serial, serial_trailer) = encode_in_pieces(&tar, 1, CHUNK_SIZE, 65_536);
        assert!(blob == serial, "write {write}");
        assert_eq!(trailer, serial_trailer);
    }
}

#[test]
fn every_member_is_a_whole_gzip_member() {
    let tar = dirs_then_file(20_000, 9 << 20);
    let (blob, trailer, _) = encode_in_parallel(&tar, 6, CHUNK_SIZE, 1 << 20);
    let toc = reader::parse_blob(&blob).unwrap();
    // `members` inflates each member on its own and checks its CRC-32 and length.
    let members = members(&blob[..toc.toc_offset as usize]);
    let payload: Vec<u8> = members.iter().flat_map(|m| m.data.clone()).collect();
    assert!(payload == tar);
    // The headers' member, then the file's three chunks.
    let sizes: Vec<usize> = members.iter().map(|m| m.data.len()).collect();
    assert_eq!(sizes.len(), 4, "{sizes:?}");
    assert_eq!(sizes[0], 20_001 * 512);
    assert_eq!(sizes[1..3], [4 << 20, 4 << 20]);
    // And the whole blob, TOC member and footer included, is one gzip stream of members.
    let mut whole = tar.clone();
    whole.extend_from_slice(&trailer.toc_tar);
    let all: Vec<u8> = self::members(&blob).into_iter().flat_map(|m| m.data).collect();
    assert!(all == whole);
}

#[test]
fn a_9_mib_file_is_3_members_of_at_least_9_pieces() {
    let tar = dirs_then_file(0, 9 << 20);
    let (blob, _, pieces) = encode_in_parallel(&tar, 6, 4 << 20, 1 << 20);
    let toc = reader::parse_blob(&blob).unwrap();
    let members = members(&blob[..toc.toc_offset as usize]);
    // The tar header's member, then the three chunks'.
    assert_eq!(members.len(), 4);
    assert_eq!(members[1..].iter().map(|m| m.data.len()).collect::<Vec<_>>()[..2], [4 << 20, 4 << 20]);
    // At least 4 + 4 + 1 deflate pieces for the chunks (one for the tar header's member), each
    // member with its header and trailer.
    let chunk_pieces = pieces.iter().filter(|p| !p.1).count() - 1;
    assert!(chunk_pieces >= 9, "{chunk_pieces} deflate pieces");
    assert_eq!(pieces.iter().filter(|p| p.1).count(), 2 * 4);
    let chunks: Vec<_> = toc.entries.iter().filter(|e| e.name == "big").collect();
    assert_eq!(chunks.len(), 3);
    for (chunk, member) in chunks.iter().zip(&members[1..]) {
        assert_eq!(chunk.offset as usize, member.offset);
    }
}

#[test]
fn finishing_before_every_member_is_back_fails() {
    let (tar, _) = sample_tar(1000);
    let mut enc = EstargzPieces::with_chunk_size(6, 1000);
    let mut pieces = Vec::new();
    enc.push(&tar, &mut pieces).unwrap();
    enc.end(&mut pieces).unwrap();
    for piece in &pieces[1..] {
        enc.compressed(compress_piece(piece).len());
    }
    let message = enc.finish(&mut Vec::new()).unwrap_err().message;
    assert!(message.contains(&format!("finishing with {} of {} pieces", pieces.len() - 1, pieces.len())), "{message}");
}
