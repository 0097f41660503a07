//! `compression=estargz` end to end: the layer is checked by the reference eStargz reader
//! (stargz-snapshotter's `estargz` package, built offline from Debian's Go sources: see
//! tests/support/estargz-verify), by gzip and tar, the image by skopeo; the manifest carries the
//! eStargz annotations and the config the diffID of the whole decompressed blob.

mod common;
#[path = "../../tests/support/go_build.rs"]
mod go_build;

use common::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const OCI_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const TOC_DIGEST: &str = "containerd.io/snapshot/stargz/toc.digest";
const UNCOMPRESSED_SIZE: &str = "io.containers.estargz.uncompressed-size";

fn sha256(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Text-like bytes (compressible, but not trivially).
fn text(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&str; 12] = ["layer", "chunk", "gzip", "member", "toc", "the", "of", "index", "json", " ", "\n", "="];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 16);
    while out.len() < len {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let pick = (state >> 33) as usize;
        out.extend_from_slice(WORDS[pick % WORDS.len()].as_bytes());
        if pick.is_multiple_of(7) {
            out.extend_from_slice((pick % 1000).to_string().as_bytes());
        }
    }
    out.truncate(len);
    out
}

/// A tree with a file of several 4 MiB chunks, one of exactly one chunk, an empty file, a symlink, a
/// hardlink, directories and a path longer than 100 bytes.
fn tree(root: &Path) {
    let long_dir = root.join("usr/share").join("a-rather-long-directory-name-".repeat(4));
    fs::create_dir_all(&long_dir).unwrap();
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("empty-dir")).unwrap();
    fs::write(root.join("bin/big"), text(9 * 1024 * 1024 + 12_345, 1)).unwrap();
    fs::write(root.join("bin/exact"), text(4 * 1024 * 1024, 2)).unwrap();
    fs::write(root.join("bin/small"), b"hello estargz\n").unwrap();
    fs::write(root.join("bin/empty"), b"").unwrap();
    fs::write(long_dir.join("file-with-a-long-name.txt"), text(5000, 3)).unwrap();
    std::os::unix::fs::symlink("small", root.join("bin/link")).unwrap();
    fs::hard_link(root.join("bin/small"), root.join("bin/hard")).unwrap();
}

/// Export `rootfs` as an OCI layout directory with `options`; returns the layout, its manifest and
/// the path of the single layer blob.
fn export_layout(work: &Path, rootfs: &Path, name: &str, options: &str) -> (PathBuf, serde_json::Value, PathBuf) {
    let dest = work.join(name);
    let spec = format!("type=oci,dest={},tar=false{options}", dest.display());
    ok(export_tree(work, rootfs, &spec, &[]));
    let blob =
        |digest: &serde_json::Value| dest.join("blobs/sha256").join(&digest.as_str().unwrap()["sha256:".len()..]);
    let index = read_json(&dest.join("index.json"));
    let manifest = read_json(&blob(&index["manifests"][0]["digest"]));
    let layer = blob(&manifest["layers"][0]["digest"]);
    let config = read_json(&blob(&manifest["config"]["digest"]));
    let mut manifest = manifest;
    manifest["config-json"] = config;
    (dest, manifest, layer)
}

fn gunzip(blob: &Path) -> Vec<u8> {
    let out = Command::new("gzip").args(["-dc", blob.to_str().unwrap()]).output().expect("running gzip");
    assert!(out.status.success(), "gzip -dc {}: {}", blob.display(), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// `tar -t` of a tar file; `all`: read past end-of-archive markers (GNU tar's --ignore-zeros), which
/// an eStargz blob needs to show its TOC entry.
fn tar_list(path: &Path, all: bool) -> Vec<String> {
    let mut args = vec!["-t", "-f", path.to_str().unwrap()];
    if all {
        args.insert(0, "--ignore-zeros");
    }
    run("tar", &args).lines().map(str::to_string).collect()
}

/// Build the Go verifier offline (GOPATH mode over Debian's Go sources). CI installs golang-go and
/// golang-github-containerd-stargz-snapshotter-dev (scripts/setup.sh): their absence is a failure.
fn build_verifier(work: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/estargz-verify/main.go");
    go_build::go_build(&source, work, "estargz-verify", "golang-github-containerd-stargz-snapshotter-dev")
}

#[test]
fn estargz_layer_passes_the_reference_reader_and_carries_its_annotations() {
    let work = tempdir().unwrap();
    let rootfs = work.path().join("rootfs");
    tree(&rootfs);
    let verifier = build_verifier(work.path());

    let (layout, manifest, blob) = export_layout(work.path(), &rootfs, "estargz", ",compression=estargz");
    let (_, gzip_manifest, gzip_blob) = export_layout(work.path(), &rootfs, "gzip", "");
    let (_, _, plain_blob) = export_layout(work.path(), &rootfs, "plain", ",compression=uncompressed");
    run("skopeo", &["inspect", &format!("oci:{}", layout.display())]);

    // Descriptor: gzip's OCI type, the two eStargz annotations (and nothing internal).
    let layer = &manifest["layers"][0];
    assert_eq!(manifest["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(layer["mediaType"], OCI_GZIP);
    let annotations = layer["annotations"].as_object().expect("layer annotations");
    assert_eq!(annotations.len(), 2, "{annotations:?}");
    let toc_digest = annotations[TOC_DIGEST].as_str().unwrap();
    assert!(gzip_manifest["layers"][0].get("annotations").is_none());

    // diffID and uncompressed size: the whole decompressed stream, TOC tar included.
    let decompressed = gunzip(&blob);
    assert_eq!(annotations[UNCOMPRESSED_SIZE], decompressed.len().to_string());
    assert_eq!(manifest["config-json"]["rootfs"]["diff_ids"][0], sha256(&decompressed));
    assert_eq!(layer["size"], fs::metadata(&blob).unwrap().len());

    // The payload is the plain layer tar unchanged; the TOC tar follows it.
    let plain = fs::read(&plain_blob).unwrap();
    assert_eq!(&decompressed[..plain.len()], &plain[..]);
    assert_ne!(manifest["config-json"]["rootfs"]["diff_ids"][0], sha256(&plain));
    let listed_plain = tar_list(&plain_blob, false);
    let unpacked = work.path().join("estargz-decompressed.tar");
    fs::write(&unpacked, &decompressed).unwrap();
    let mut expected = listed_plain.clone();
    expected.push("stargz.index.json".into());
    assert_eq!(tar_list(&unpacked, true), expected);
    for name in ["bin/big", "bin/empty", "bin/link", "bin/hard", "empty-dir/"] {
        assert!(listed_plain.iter().any(|l| l == name), "{name} missing from {listed_plain:?}");
    }
    assert!(listed_plain.iter().any(|l| l.len() > 100), "no long name in {listed_plain:?}");

    // The reference reader: footer, TOC digest, every chunk, file digests, unpacked payload, and the
    // TOC the reference writer makes from the same tar.
    let out = Command::new(&verifier).args([blob.to_str().unwrap(), toc_digest]).output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "estargz-verify: {}\n{report}", String::from_utf8_lossy(&out.stderr));
    assert!(report.lines().any(|l| l == format!("toc {toc_digest}")), "{report}");
    assert!(report.lines().any(|l| l == format!("payload {}", sha256(&plain))), "{report}");
    assert_eq!(report.lines().last(), Some("ok"));
    let entries: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("entry ")).collect();
    let names: Vec<&str> = entries.iter().map(|e| e.split_once(' ').unwrap().1).collect();
    assert_eq!(names, listed_plain.iter().map(String::as_str).collect::<Vec<_>>());
    // Entries go in byte order, so bin/hard holds the data and bin/small links to it.
    for kind in
        ["reg bin/big", "reg bin/empty", "symlink bin/link", "reg bin/hard", "hardlink bin/small", "dir empty-dir/"]
    {
        assert!(entries.contains(&kind), "{kind} not in {entries:?}");
    }

    // A wrong expected TOC digest must fail the reader (the check can fail).
    let wrong = format!("sha256:{}", "0".repeat(64));
    let out = Command::new(&verifier).args([blob.to_str().unwrap(), &wrong]).output().unwrap();
    assert!(!out.status.success());

    // Same tree, same bytes.
    let (_, again, _) = export_layout(work.path(), &rootfs, "again", ",compression=estargz");
    assert_eq!(again["layers"][0], manifest["layers"][0]);

    let (estargz_size, gzip_size) = (fs::metadata(&blob).unwrap().len(), fs::metadata(&gzip_blob).unwrap().len());
    eprintln!("layer of {} bytes: gzip {gzip_size}, estargz {estargz_size}", plain.len());
    assert!(estargz_size > gzip_size, "estargz {estargz_size} should cost more than gzip {gzip_size}");
}

#[test]
fn levels_and_media_type_decisions() {
    let work = tempdir().unwrap();
    let rootfs = work.path().join("rootfs");
    fs::create_dir_all(&rootfs).unwrap();
    fs::write(rootfs.join("text"), text(600_000, 4)).unwrap();
    let size = |level: &str| {
        let (_, _, blob) = export_layout(
            work.path(),
            &rootfs,
            &format!("l{level}"),
            &format!(",compression=estargz,compression-level={level}"),
        );
        fs::metadata(blob).unwrap().len()
    };
    let (l0, l1, l9) = (size("0"), size("1"), size("9"));
    assert!(l9 <= l1 && l1 < l0, "levels 0/1/9: {l0} {l1} {l9}");

    // Docker types by default for type=docker: eStargz switches them to OCI, with a warning.
    let dest = work.path().join("docker.tar");
    let out =
        ok(export_tree(work.path(), &rootfs, &format!("type=docker,dest={},compression=estargz", dest.display()), &[]));
    assert!(stderr(&out).contains("forcibly turning on oci-mediatype mode"), "{}", stderr(&out));
    let unpacked = work.path().join("docker");
    fs::create_dir_all(&unpacked).unwrap();
    run("tar", &["-xf", dest.to_str().unwrap(), "-C", unpacked.to_str().unwrap()]);
    let index = read_json(&unpacked.join("index.json"));
    assert_eq!(index["manifests"][0]["mediaType"], "application/vnd.oci.image.manifest.v1+json");

    // …and an explicit oci-mediatypes=false is a conflict.
    let spec = format!("type=docker,dest={},compression=estargz,oci-mediatypes=false", dest.display());
    let out = export_tree(work.path(), &rootfs, &spec, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(r#"exporter option "compression=estargz" conflicts with "oci-mediatypes=false""#),
        "{}",
        stderr(&out)
    );
}
