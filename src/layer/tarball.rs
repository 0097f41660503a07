//! A layer given as a tarball (`.tar`, `.tar.gz`, `.tar.zst`) is taken as is: its uncompressed
//! bytes become the layer's tar stream byte for byte, so the layer's diffID is the sha256 of what
//! `gzip -dc` prints. The tarball comes from outside and whoever pulls the image unpacks it, so
//! every entry is checked on the way, the way Go's archive/tar reads it (what containerd and Docker
//! unpack layers with; `crate::tar`): well-formed headers, and names that stay inside the layer root.
//! Unlike Go, the end-of-archive marker must be there: a tarball cut short is not taken.

use super::walk::{show, TarSink};
use crate::compress::decode::{decode, HostFile, Sink};
pub use crate::compress::decode::{detect, Chunks, Kind, Source};
use crate::error::{Error, Result};
use crate::host::Host;
use crate::tar::{paths, Event, Reader, TarError};

/// Stream the layer tarball at host path `path` (plain tar, gzip or zstd, told apart by their magic
/// bytes, not by name) into `out` as the uncompressed tar it holds, checking every entry.
pub async fn copy_tarball<H: Host, S: TarSink>(host: &H, path: &[u8], out: &mut S) -> Result<()> {
    let handle = host.source_open(path).await?;
    let copied = copy_stream(&mut HostFile { host, handle }, &show(path), out).await;
    host.source_close(handle).await;
    copied
}

/// [`copy_tarball`] over any source; `what` names it in messages.
pub async fn copy_stream<R: Source, S: TarSink>(source: &mut R, what: &str, out: &mut S) -> Result<()> {
    let mut checked = Checked { tar: Reader::new(), what, out };
    decode(source, what, &mut checked).await?;
    checked.tar.finish().map_err(|t| Error::source(format!("{what}: truncated tar archive: {t}")))
}

/// The output side: every byte goes through the tar checks, then to the sink.
struct Checked<'o, S: TarSink> {
    tar: Reader,
    what: &'o str,
    out: &'o mut S,
}

impl<S: TarSink> Sink for Checked<'_, S> {
    async fn write(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut rest = data;
        while !rest.is_empty() {
            let (n, event) = self.tar.read(rest).map_err(|e| self.damaged(e))?;
            rest = &rest[n..];
            if let Some(Event::Entry(entry)) = event {
                paths::check_entry(&entry).map_err(|problem| {
                    Error::source(format!("{}: entry {:?}: {problem}", self.what, show(&entry.name)))
                })?;
            }
        }
        self.out.write(data).await
    }
}

impl<S: TarSink> Checked<'_, S> {
    fn damaged(&self, e: TarError) -> Error {
        match e {
            TarError::Sparse { .. } => Error::source(format!("{}: {e}", self.what)),
            e => Error::source(format!(
                "{}: not a valid tar archive: {e} (header at byte {})",
                self.what,
                self.tar.header_at()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compress::decode::{FCOMMENT, FEXTRA, FHCRC, FNAME};
    use crate::fuzzing::block_on;
    use crate::memory_host::MemoryHost;
    use crate::tar::{encode, typeflag, Header, TRAILER};

    fn pad(size: u64) -> u64 {
        crate::tar::padding(size) as u64
    }

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
        crate::tar::testing::pax(typeflag::PAX, records)
    }

    fn gnu_long(flag: u8, value: &[u8]) -> Vec<u8> {
        crate::tar::testing::meta(flag, &[value, b"\0"].concat())
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
        // Go checks the records when they apply to an entry (one before the end marker is unused).
        assert!(error(&archive(&[pax_header(&[("uid", b"abc")]), entry("x", b'0', b"")])).contains("malformed PAX"));
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
        let host = MemoryHost::with_files(files);
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
