//! A hand-made two-layer base (a whiteout, an opaque directory, a file replaced by a directory and
//! the reverse, a hardlink to a lower layer's file, symlinks pointing outside the root with entries
//! beneath them, a device and a fifo) under a new directory layer, through the tar and local
//! exporters. The expected tree is what `umoci unpack` gives for that image.

use crate::build_result::PlatformInput;
use crate::digest::sha256;
use crate::export::filesystem::{self, Attestations, Local};
use crate::fuzzing::block_on;
use crate::host::Host;
use crate::image::config;
use crate::image::spec::Descriptor;
use crate::layer::source::{LayerSource, SourceOptions};
use crate::memory_host::{MemoryHost, Output};
use crate::platform::Platform;
use crate::tar::{encode, padding, typeflag, Event, Header, Reader, TRAILER};

const GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TAR: &str = "application/vnd.oci.image.layer.v1.tar";

fn entry(name: &str, flag: u8, mode: i64, data: &[u8], link: &str) -> Vec<u8> {
    let header = Header {
        name: name.into(),
        typeflag: flag,
        mode,
        uid: 1,
        gid: 2,
        size: data.len() as i64,
        mtime: 1_600_000_000,
        linkname: link.into(),
        devmajor: if flag == typeflag::CHAR { 1 } else { 0 },
        devminor: if flag == typeflag::CHAR { 3 } else { 0 },
        ..Default::default()
    };
    let mut bytes = encode(&header);
    bytes.extend_from_slice(data);
    bytes.resize(bytes.len() + padding(data.len() as u64), 0);
    bytes
}

fn dir(name: &str) -> Vec<u8> {
    entry(name, typeflag::DIRECTORY, 0o755, b"", "")
}
fn file(name: &str, data: &str) -> Vec<u8> {
    entry(name, typeflag::REGULAR, 0o644, data.as_bytes(), "")
}

fn lower() -> Vec<u8> {
    [
        dir("etc/"),
        file("etc/passwd", "root:x:0:0"),
        file("etc/gone", "whited out"),
        dir("opaque/"),
        file("opaque/old", "hidden"),
        dir("opaque/sub/"),
        file("opaque/sub/deep", "hidden too"),
        file("f2d", "a file, then a directory"),
        dir("d2f/"),
        file("d2f/child", "goes with its directory"),
        dir("bin/"),
        entry("bin/busybox", typeflag::REGULAR, 0o755, b"busybox", ""),
        entry("evil", typeflag::SYMLINK, 0o777, b"", "../../../../tmp"),
        entry("abs", typeflag::SYMLINK, 0o777, b"", "/etc"),
        dir("dev/"),
        entry("dev/null", typeflag::CHAR, 0o666, b"", ""),
        entry("fifo", typeflag::FIFO, 0o600, b"", ""),
        TRAILER.to_vec(),
    ]
    .concat()
}

fn upper() -> Vec<u8> {
    [
        dir("./"),
        file("etc/.wh.gone", ""),
        dir("opaque/"),
        file("opaque/.wh..wh..opq", ""),
        file("opaque/new", "new"),
        dir("f2d/"),
        file("f2d/inside", "inside"),
        file("d2f", "now a file"),
        entry("bin/sh", typeflag::HARDLINK, 0o755, b"", "bin/busybox"),
        file("evil/escaped", "stays inside"),
        file("abs/hosts", "127.0.0.1 localhost"),
        TRAILER.to_vec(),
    ]
    .concat()
}

/// A host with the two layers stored (the upper one gzipped) and a source tree `/src/app/main`.
fn host_and_input() -> (MemoryHost, PlatformInput) {
    let host = MemoryHost::with_files([(b"/src/app/main".to_vec(), b"main".to_vec())]);
    let mut base_layers = Vec::new();
    for (bytes, media_type) in [(lower(), TAR), (crate::compress::gzip::gzip_member(6, &upper()), GZIP)] {
        let digest = host.put_blob(&bytes);
        base_layers.push((Descriptor::new(media_type, &digest, bytes.len() as u64), String::new()));
    }
    let options = SourceOptions::new(None, &[]).unwrap();
    let rootfs = block_on(LayerSource::root_directory(&host, "/src", &options)).unwrap();
    let input = on_base(vec![rootfs], base_layers);
    (host, input)
}

const NO_FILES: Attestations = Attestations { attestations: &[], generated: true, prefix: "", split: false, time: 0 };

/// (name, typeflag, link name, data, mode, mtime) of every entry.
fn listing(tar: &[u8]) -> Vec<(String, char, String, String, i64, i64)> {
    let mut reader = Reader::new();
    let mut rest = tar;
    let mut out: Vec<(String, char, String, String, i64, i64)> = Vec::new();
    while !rest.is_empty() {
        let (n, event) = reader.read(rest).unwrap();
        rest = &rest[n..];
        match event {
            Some(Event::Entry(e)) => out.push((
                String::from_utf8(e.name).unwrap(),
                e.typeflag as char,
                String::from_utf8(e.linkname).unwrap(),
                String::new(),
                e.mode,
                e.mtime.0,
            )),
            Some(Event::Data(d)) => out.last_mut().unwrap().3.push_str(std::str::from_utf8(d).unwrap()),
            Some(Event::End) => break,
            None => {}
        }
    }
    reader.finish().unwrap();
    out
}

fn tar_of(host: &MemoryHost, input: &PlatformInput, epoch: Option<i64>) -> Vec<u8> {
    let handle = block_on(host.output_open("/out.tar")).unwrap();
    block_on(filesystem::write_tar(host, std::slice::from_ref(input), epoch, handle, &NO_FILES)).unwrap();
    block_on(host.output_commit(handle)).unwrap();
    match host.outputs.borrow().get("/out.tar") {
        Some(Output::File { data, .. }) => data.clone(),
        other => panic!("no tar: {other:?}"),
    }
}

#[test]
fn tar_output_is_the_applied_tree_in_buildkit_order() {
    let (host, input) = host_and_input();
    let stored_before = host.committed.borrow().len();
    let tar = tar_of(&host, &input, None);
    let names: Vec<(String, char, String, String)> =
        listing(&tar).into_iter().map(|(n, t, l, d, _, _)| (n, t, l, d)).collect();
    let e = |n: &str, t: char, l: &str, d: &str| (n.to_string(), t, l.to_string(), d.to_string());
    assert_eq!(
        names,
        [
            e("abs", '2', "/etc", ""),
            e("app/", '5', "", ""),
            e("app/main", '0', "", "main"),
            e("bin/", '5', "", ""),
            e("bin/busybox", '0', "", "busybox"),
            e("bin/sh", '1', "bin/busybox", ""),
            e("d2f", '0', "", "now a file"),
            e("dev/", '5', "", ""),
            e("dev/null", '3', "", ""),
            e("etc/", '5', "", ""),
            e("etc/hosts", '0', "", "127.0.0.1 localhost"),
            e("etc/passwd", '0', "", "root:x:0:0"),
            e("evil", '2', "../../../../tmp", ""),
            e("f2d/", '5', "", ""),
            e("f2d/inside", '0', "", "inside"),
            e("fifo", '6', "", ""),
            e("opaque/", '5', "", ""),
            e("opaque/new", '0', "", "new"),
            e("tmp/", '5', "", ""),
            e("tmp/escaped", '0', "", "stays inside"),
        ]
    );
    // The contents copied out for the ordered write are gone from the store again.
    assert_eq!(host.committed.borrow().len(), stored_before);
    // Both runs give the same bytes.
    assert_eq!(tar_of(&host, &input, None), tar);
}

#[test]
fn an_epoch_sets_every_time_in_tar_and_local() {
    let (host, input) = host_and_input();
    let tar = tar_of(&host, &input, Some(7));
    assert!(listing(&tar).iter().all(|(.., mtime)| *mtime == 7));
    // Without one, base entries keep their own times and sources theirs.
    let tar = tar_of(&host, &input, None);
    let times: Vec<(String, i64)> = listing(&tar).into_iter().map(|(n, .., m)| (n, m)).collect();
    assert!(times.contains(&("etc/passwd".into(), 1_600_000_000)));
    assert!(times.contains(&("app/main".into(), 1000)));
    // An unpack gives the layers as they are: every entry keeps its time whatever the epoch.
    let local = Local { root: "/unpack", split: false, layer_times: true };
    block_on(filesystem::write_local(&host, &[input], Some(7), &local, &NO_FILES, &mut Vec::new())).unwrap();
    let outputs = host.outputs.borrow();
    assert!(matches!(outputs.get("/unpack/etc/passwd"), Some(Output::File { mtime: 1_600_000_000, .. })));
    assert!(matches!(outputs.get("/unpack/app/main"), Some(Output::File { mtime: 1000, .. })));
}

#[test]
fn local_output_is_the_same_tree_and_stays_inside_dest() {
    let (host, input) = host_and_input();
    let local = Local { root: "/out", split: false, layer_times: false };
    let mut warnings = Vec::new();
    block_on(filesystem::write_local(&host, &[input], None, &local, &NO_FILES, &mut warnings)).unwrap();
    let outputs = host.outputs.borrow();
    assert!(outputs.keys().all(|k| k == "/out" || k.starts_with("/out/")), "{:?}", outputs.keys());
    let listed: Vec<&str> = outputs.keys().map(String::as_str).collect();
    assert_eq!(
        listed,
        [
            "/out",
            "/out/abs",
            "/out/app",
            "/out/app/main",
            "/out/bin",
            "/out/bin/busybox",
            "/out/bin/sh",
            "/out/d2f",
            "/out/dev",
            "/out/etc",
            "/out/etc/hosts",
            "/out/etc/passwd",
            "/out/evil",
            "/out/f2d",
            "/out/f2d/inside",
            "/out/opaque",
            "/out/opaque/new",
            "/out/tmp",
            "/out/tmp/escaped",
        ]
    );
    assert_eq!(outputs["/out/abs"], Output::Symlink(b"/etc".to_vec()));
    assert_eq!(outputs["/out/evil"], Output::Symlink(b"../../../../tmp".to_vec()));
    let Output::File { data, mode, owner, link, .. } = &outputs["/out/bin/sh"] else { panic!() };
    assert_eq!(
        (data.as_slice(), *mode, *owner, link.as_deref()),
        (&b"busybox"[..], 0o755, (1, 2), Some("/out/bin/busybox"))
    );
    assert!(matches!(&outputs["/out/d2f"], Output::File { data, .. } if data == b"now a file"));
    assert!(matches!(&outputs["/out/f2d"], Output::Dir { mode: 0o755, owner: (1, 2), .. }));
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings.iter().any(|w| w.contains("dev/null")) && warnings.iter().any(|w| w.contains("fifo")));
}

fn refused(layer: Vec<u8>) -> String {
    let host = MemoryHost::default();
    let digest = host.put_blob(&layer);
    let descriptor = Descriptor::new(TAR, &digest, layer.len() as u64);
    let input = on_base(Vec::new(), vec![(descriptor, String::new())]);
    let handle = block_on(host.output_open("/out.tar")).unwrap();
    let error = block_on(filesystem::write_tar(&host, &[input], None, handle, &NO_FILES)).unwrap_err();
    assert!(error.message.contains(&format!("base layer {digest}")), "{}", error.message);
    error.message
}

#[test]
fn names_leaving_the_root_and_broken_links_are_refused() {
    assert!(refused([file("/etc/passwd", "x"), TRAILER.to_vec()].concat()).contains("absolute name"));
    assert!(refused([file("a/../../x", "x"), TRAILER.to_vec()].concat()).contains("leaves the layer root"));
    let link = entry("l", typeflag::HARDLINK, 0o644, b"", "missing");
    assert!(refused([link, TRAILER.to_vec()].concat()).contains("not there"));
    let loop_ = [
        entry("a", typeflag::SYMLINK, 0o777, b"", "b"),
        entry("b", typeflag::SYMLINK, 0o777, b"", "a"),
        file("a/x", "x"),
        TRAILER.to_vec(),
    ];
    assert!(refused(loop_.concat()).contains("too many levels of symbolic links"));
    let under_file = [file("f", "x"), file("f/x", "x"), TRAILER.to_vec()];
    assert!(refused(under_file.concat()).contains("f is not a directory"));
}

#[test]
fn a_whiteout_hides_only_lower_layers() {
    // Same layer: the file before its own whiteout stays (OCI: whiteouts apply to lower layers).
    let host = MemoryHost::default();
    let mut base_layers = Vec::new();
    let layers = [
        [dir("d/"), file("d/a", "lower"), file("d/b", "lower"), TRAILER.to_vec()].concat(),
        [file("d/a", "upper"), file("d/.wh.a", ""), file("d/.wh.b", ""), TRAILER.to_vec()].concat(),
    ];
    for layer in layers {
        let digest = host.put_blob(&layer);
        base_layers.push((Descriptor::new(TAR, &digest, layer.len() as u64), String::new()));
    }
    let input = on_base(Vec::new(), base_layers);
    let tar = tar_of(&host, &input, None);
    let names: Vec<(String, String)> = listing(&tar).into_iter().map(|(n, _, _, d, _, _)| (n, d)).collect();
    assert_eq!(names, [("d/".to_string(), String::new()), ("d/a".to_string(), "upper".to_string())]);
}

#[test]
fn an_estargz_base_layer_gives_its_files_not_its_toc() {
    use crate::compress::Compression;
    use crate::layer::blob_writer::BlobWriter;
    let host = MemoryHost::default();
    let tar = [dir("d/"), file("d/a", "estargz"), TRAILER.to_vec()].concat();
    let blob = block_on(async {
        let mut writer = BlobWriter::create(&host, Compression::Estargz { level: 6 }).await?;
        writer.write(&tar).await?;
        writer.commit().await
    })
    .unwrap();
    let input = on_base(Vec::new(), vec![(Descriptor::new(GZIP, &blob.digest, blob.size), blob.diff_id.clone())]);
    let names: Vec<(String, String)> =
        listing(&tar_of(&host, &input, None)).into_iter().map(|(n, _, _, d, _, _)| (n, d)).collect();
    assert_eq!(names, [("d/".to_string(), String::new()), ("d/a".to_string(), "estargz".to_string())]);
}

#[test]
fn attestation_subjects_cover_the_base_files() {
    let (host, input) = host_and_input();
    let attestation = crate::attest::Attestation {
        predicate_type: "https://example.com/p".into(),
        predicate: serde_json::json!({}),
        subjects: None,
        file_name: "p.json".into(),
    };
    let files = Attestations {
        attestations: std::slice::from_ref(&attestation),
        generated: true,
        prefix: "",
        split: false,
        time: 0,
    };
    let handle = block_on(host.output_open("/att.tar")).unwrap();
    block_on(filesystem::write_tar(&host, std::slice::from_ref(&input), None, handle, &files)).unwrap();
    block_on(host.output_commit(handle)).unwrap();
    let Some(Output::File { data, .. }) = host.outputs.borrow().get("/att.tar").cloned() else { panic!() };
    let statement = &listing(&data).last().unwrap().3.clone();
    let statement: serde_json::Value = serde_json::from_str(statement).unwrap();
    let subjects = statement["subject"].as_array().unwrap();
    let digest_of = |name: &str| subjects.iter().find(|s| s["name"] == name).map(|s| s["digest"]["sha256"].clone());
    let hex = |text: &str| serde_json::json!(sha256(text.as_bytes()).trim_start_matches("sha256:"));
    assert_eq!(digest_of("etc/passwd"), Some(hex("root:x:0:0")));
    assert_eq!(digest_of("bin/sh"), Some(hex("busybox")));
    assert_eq!(digest_of("app/main"), Some(hex("main")));
    assert_eq!(digest_of("etc/gone"), None);
}

#[test]
fn a_file_capability_is_carried_into_the_tar() {
    let host = MemoryHost::default();
    let mut header = Header {
        name: b"bin/ping".to_vec(),
        typeflag: typeflag::REGULAR,
        mode: 0o755,
        size: 4,
        mtime: 1,
        ..Default::default()
    };
    header.pax_records.insert("SCHILY.xattr.security.capability".into(), b"\x01\x00\x00\x02".to_vec());
    let layer = [encode(&header), b"ping".to_vec(), vec![0; padding(4)], TRAILER.to_vec()].concat();
    let digest = host.put_blob(&layer);
    let descriptor = Descriptor::new(TAR, &digest, layer.len() as u64);
    let input = on_base(Vec::new(), vec![(descriptor, String::new())]);
    let tar = tar_of(&host, &input, None);
    let mut reader = Reader::new();
    let mut rest = tar.as_slice();
    let mut found = None;
    while !rest.is_empty() {
        let (n, event) = reader.read(rest).unwrap();
        rest = &rest[n..];
        if let Some(Event::Entry(e)) = event {
            if e.name == b"bin/ping" {
                found = e.pax.get(&b"SCHILY.xattr.security.capability"[..]).cloned();
            }
        }
    }
    assert_eq!(found.as_deref(), Some(&b"\x01\x00\x00\x02"[..]));
}

/// linux/amd64 inputs: `layers` over `base_layers` (stored blobs with their diffIDs), default config.
fn on_base(layers: Vec<LayerSource>, base_layers: Vec<(Descriptor, String)>) -> PlatformInput {
    let platform = Platform::parse("linux/amd64").unwrap();
    PlatformInput { base_layers, ..PlatformInput::without_base(platform, layers, config::default_config("linux")) }
}
