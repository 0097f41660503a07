//! One table of tar cases run through every reader of outside tars (a `--layer x.tar`, an
//! `oci-archive:` base scan, eStargz re-encoding) against the verdict Go's archive/tar gives (what
//! containerd, Docker and BuildKit read layers with). Go's verdicts are pinned below; they came from
//! tests/support/go-tar-verdicts (run it over the cases `write_cases_for_go` writes to regenerate).
//!
//! Before crate::tar the three readers had their own header code and disagreed with Go on 14 of these
//! (the table run against commit 41e1259): the oci-archive scan refused a signed checksum and took bad
//! PAX records, junk numbers and a zero block followed by a header; the layer tarball check refused
//! unused and global PAX records Go ignores; none of the three checked a STAR header's times.

use super::testing::{archive, checksum, file, meta, pax, ustar, with_data};
use super::{encode, typeflag, Header, BLOCK, TRAILER};
use crate::base::tar_scan::TarScan;
use crate::compress::estargz::EstargzEncoder;
use crate::fuzzing::block_on;
use crate::layer::recompress::recompress;
use crate::layer::tarball::{copy_stream, copy_tarball, Chunks};
use crate::memory_host::MemoryHost;

/// Go 1.19's verdict for each case: reading every entry and all its data with tar.Reader.
const GO: &[(&str, &str)] = &[
    ("signed_checksum_non_ascii_name", "ok"),
    ("unsigned_checksum_non_ascii_name", "ok"),
    ("wrong_checksum", "archive/tar: invalid tar header"),
    ("base256_size_and_mtime", "ok"),
    ("base256_negative_size", "archive/tar: invalid tar header"),
    ("all_nul_numeric_fields", "ok"),
    ("garbage_numeric_field", "archive/tar: invalid tar header"),
    ("pax_overrides", "ok"),
    ("pax_bad_mtime", "archive/tar: invalid tar header"),
    ("pax_bad_uid", "archive/tar: invalid tar header"),
    ("pax_negative_size", "archive/tar: invalid tar header"),
    ("pax_nul_in_path", "archive/tar: invalid tar header"),
    ("pax_bad_record_length", "archive/tar: invalid tar header"),
    ("pax_unused_bad_uid", "ok"),
    ("pax_global_bad_uid", "ok"),
    ("gnu_long_name_and_link", "ok"),
    ("star_bad_atime", "archive/tar: invalid tar header"),
    ("v7_garbage_in_ustar_fields", "ok"),
    ("zero_block_then_header", "archive/tar: invalid tar header"),
    ("sparse_old_gnu", "ok"),
    ("sparse_pax_1_0", "ok"),
];

/// Where a reader knowingly differs from Go, and why.
fn exception(case: &str, reader: &str) -> Option<&'static str> {
    match (case, reader) {
        (c, _) if c.starts_with("sparse_") => Some("sparse files are refused everywhere"),
        ("pax_global_bad_uid", "estargz" | "estargz_base_layer") => Some("eStargz has no TOC type for a global header"),
        _ => None,
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    let non_ascii = |signed: bool| {
        let mut h = ustar("x", typeflag::REGULAR, 5);
        h[..12].copy_from_slice(b"caf\xe9-\xff\xfe.txt\0");
        checksum(&mut h, signed);
        archive(&[with_data(h, b"hello")])
    };
    let mut wrong_checksum = ustar("f", typeflag::REGULAR, 0);
    wrong_checksum[150] ^= 1;
    let mut base256 = ustar("big", typeflag::REGULAR, 0);
    base256[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x58]); // 600
    base256[136..148].copy_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfc, 0x18]); // -1000
    checksum(&mut base256, false);
    let mut negative = ustar("neg", typeflag::REGULAR, 0);
    negative[124..136].fill(0xff);
    checksum(&mut negative, false);
    let mut nul_fields = ustar("nul", typeflag::REGULAR, 0);
    for range in [100..108, 108..116, 116..124, 124..136, 136..148, 329..337, 337..345] {
        nul_fields[range].fill(0);
    }
    checksum(&mut nul_fields, false);
    let mut garbage = ustar("g", typeflag::REGULAR, 0);
    garbage[108..116].copy_from_slice(b"12 4\0\0\0\0");
    checksum(&mut garbage, false);
    let long_path = "pax/ünïcode-and-a-name-longer-than-one-hundred-bytes-".repeat(3);
    let overrides: &[(&str, &[u8])] = &[
        ("path", long_path.as_bytes()),
        ("size", b"5"),
        ("mtime", b"1700000000.123456789"),
        ("uid", b"3000000000"),
        ("gid", b"4000000000"),
        ("uname", "üser".as_bytes()),
        ("gname", b"group"),
        ("SCHILY.xattr.user.k", b"v"),
    ];
    let mut star = ustar("star", typeflag::REGULAR, 0);
    star[508..512].copy_from_slice(b"tar\0");
    star[476..488].copy_from_slice(b"zz\0\0\0\0\0\0\0\0\0\0");
    checksum(&mut star, false);
    let mut v7 = ustar("v7", typeflag::REGULAR, 0);
    v7[257..345].fill(b'z'); // no magic: these are not fields for Go
    checksum(&mut v7, false);
    let long_name = format!("{}/file", "long-directory-name".repeat(12));
    let link = Header { name: "l".into(), typeflag: typeflag::HARDLINK, linkname: "x".into(), ..Default::default() };

    // GNU sparse files: an old GNU `S` entry (one 5-byte region), and PAX format 1.0.
    let mut old = ustar("sparse", b'S', 5);
    old[257..265].copy_from_slice(b"ustar  \0");
    old[329..345].fill(0);
    old[386..398].copy_from_slice(b"00000000000\0");
    old[398..410].copy_from_slice(b"00000000005\0");
    old[483..495].copy_from_slice(b"00000000005\0");
    checksum(&mut old, false);
    let mut map = b"1\n0\n5\n".to_vec();
    map.resize(BLOCK, 0);
    map.extend_from_slice(b"hello");
    let sparse_pax = [
        pax(
            typeflag::PAX,
            &[
                ("GNU.sparse.major", b"1"),
                ("GNU.sparse.minor", b"0"),
                ("GNU.sparse.name", b"sparse"),
                ("GNU.sparse.realsize", b"5"),
            ],
        ),
        with_data(ustar("GNUSparseFile.0/sparse", typeflag::REGULAR, map.len() as i64), &map),
    ];

    vec![
        ("signed_checksum_non_ascii_name", non_ascii(true)),
        ("unsigned_checksum_non_ascii_name", non_ascii(false)),
        ("wrong_checksum", archive(&[wrong_checksum])),
        ("base256_size_and_mtime", archive(&[with_data(base256, &[7; 600])])),
        ("base256_negative_size", archive(&[negative])),
        ("all_nul_numeric_fields", archive(&[nul_fields])),
        ("garbage_numeric_field", archive(&[garbage])),
        ("pax_overrides", archive(&[pax(typeflag::PAX, overrides), with_data(ustar("short", b'0', 0), b"12345")])),
        ("pax_bad_mtime", archive(&[pax(typeflag::PAX, &[("mtime", b"1.x")]), file("f", b"")])),
        ("pax_bad_uid", archive(&[pax(typeflag::PAX, &[("uid", b"abc")]), file("f", b"")])),
        ("pax_negative_size", archive(&[pax(typeflag::PAX, &[("size", b"-1")]), file("f", b"")])),
        ("pax_nul_in_path", archive(&[pax(typeflag::PAX, &[("path", b"a\0b")]), file("f", b"")])),
        ("pax_bad_record_length", archive(&[meta(typeflag::PAX, b"99 path=a\n"), file("f", b"")])),
        ("pax_unused_bad_uid", archive(&[file("f", b"x"), pax(typeflag::PAX, &[("uid", b"abc")])])),
        ("pax_global_bad_uid", archive(&[pax(b'g', &[("uid", b"abc")]), file("f", b"x")])),
        (
            "gnu_long_name_and_link",
            archive(&[meta(b'L', long_name.as_bytes()), file("short", b"data"), meta(b'K', b"short"), encode(&link)]),
        ),
        ("star_bad_atime", archive(&[star])),
        ("v7_garbage_in_ustar_fields", archive(&[v7])),
        ("zero_block_then_header", [vec![0; BLOCK], file("f", b""), TRAILER.to_vec()].concat()),
        ("sparse_old_gnu", archive(&[with_data(old, b"hello")])),
        ("sparse_pax_1_0", archive(&sparse_pax)),
    ]
}

/// Each reader's verdict: Ok, or its message.
type ReadTar = fn(&[u8]) -> Result<(), String>;

/// `--layer x.tar`: read from the host, checked, passed on.
fn layer_tarball(tar: &[u8]) -> Result<(), String> {
    let host = MemoryHost::with_files([(b"x.tar".to_vec(), tar.to_vec())]);
    let mut out = Vec::new();
    block_on(copy_tarball(&host, b"x.tar", &mut out)).map_err(|e| e.message)?;
    assert_eq!(out, tar, "a layer tarball passes unchanged");
    // The same in small chunks.
    block_on(copy_stream(&mut Chunks { data: tar, chunk: 100 }, "x.tar", &mut Vec::new())).map_err(|e| e.message)
}

fn oci_archive_scan(tar: &[u8]) -> Result<(), String> {
    let host = MemoryHost::with_files([(b"base.tar".to_vec(), tar.to_vec())]);
    block_on(async {
        let mut scan = TarScan::open(&host, "base.tar").await?;
        let scanned = async {
            while scan.next_file().await?.is_some() {
                while !scan.read(100).await?.is_empty() {}
            }
            Ok(())
        }
        .await;
        scan.close().await;
        scanned
    })
    .map_err(|e: crate::error::Error| e.message)
}

/// `force-compression` of a stored (uncompressed) base layer into eStargz: the layer tarball check,
/// then the eStargz encoder.
fn estargz_base_layer(tar: &[u8]) -> Result<(), String> {
    let digest = crate::digest::sha256(tar);
    let host = MemoryHost::default();
    host.committed.borrow_mut().push((digest.clone(), tar.to_vec()));
    let estargz = crate::compress::Compression::Estargz { level: 1 };
    block_on(recompress(&host, &digest, tar.len() as u64, &digest, estargz)).map(drop).map_err(|e| e.message)
}

/// The eStargz encoder alone.
fn estargz(tar: &[u8]) -> Result<(), String> {
    let mut encoder = EstargzEncoder::new(1);
    let mut out = Vec::new();
    for chunk in tar.chunks(100) {
        encoder.write(chunk, &mut out).map_err(|e| e.message)?;
    }
    encoder.finish(&mut out).map(drop).map_err(|e| e.message)
}

#[test]
fn every_reader_gives_gos_verdict() {
    let cases = cases();
    assert_eq!(cases.len(), GO.len());
    let mut report = Vec::new();
    for ((name, tar), (go_name, go)) in cases.iter().zip(GO) {
        assert_eq!(name, go_name);
        let readers: [(&str, ReadTar); 4] = [
            ("layer_tarball", layer_tarball),
            ("oci_archive", oci_archive_scan),
            ("estargz", estargz),
            ("estargz_base_layer", estargz_base_layer),
        ];
        for (reader, read) in readers {
            let verdict = read(tar);
            let expected_ok = *go == "ok" && exception(name, reader).is_none();
            if verdict.is_ok() != expected_ok {
                report.push(format!("{name} via {reader}: Go says {go:?}, we say {verdict:?}"));
            }
        }
    }
    assert!(report.is_empty(), "{}", report.join("\n"));
}

#[test]
fn sparse_files_are_refused_clearly() {
    for (name, tar) in cases().into_iter().filter(|(name, _)| name.starts_with("sparse_")) {
        let message = layer_tarball(&tar).unwrap_err();
        assert!(message.contains("GNU sparse file, which is not supported"), "{name}: {message}");
    }
}

/// `OUTPORT_TAR_CASES=DIR cargo test --release -p outport --lib write_cases_for_go -- --ignored`,
/// then `go run tests/support/go-tar-verdicts/main.go DIR`.
#[test]
#[ignore]
fn write_cases_for_go() {
    let dir = std::env::var("OUTPORT_TAR_CASES").expect("OUTPORT_TAR_CASES=DIR");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, tar) in cases() {
        std::fs::write(format!("{dir}/{name}.tar"), tar).unwrap();
    }
}
