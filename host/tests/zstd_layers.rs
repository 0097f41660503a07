//! `compression=zstd` end to end: the layer is read by the zstd CLI and tar at every speed tier, the
//! archive by skopeo, and each tier compresses smaller than the one below.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};

const OCI_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
const DOCKER_ZSTD: &str = "application/vnd.docker.image.rootfs.diff.tar.zstd";

/// Text files that repeat with variation, like a tree of configs and scripts: words from a small
/// vocabulary in a fixed pseudo-random order. About 9 MiB, so the layer spans two zstd frames.
fn varied_tree(root: &Path) -> Vec<String> {
    const WORDS: [&str; 20] = [
        "export", "layer", "digest", "manifest", "config", "index", "blob", "the", "of", "image", "platform", "linux",
        "amd64", "arm64", "name", "value", "=", "{", "}", "\n",
    ];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut names = Vec::new();
    for dir in ["etc", "usr/share/doc", "srv/app"] {
        fs::create_dir_all(root.join(dir)).unwrap();
        for file in 0..12 {
            let mut text = String::new();
            while text.len() < 256 * 1024 {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let pick = (state >> 33) as usize;
                text.push_str(WORDS[pick % WORDS.len()]);
                if pick.is_multiple_of(5) {
                    text.push_str(&(pick % 500).to_string());
                }
                text.push(' ');
            }
            let name = format!("{dir}/file-{file:02}.txt");
            fs::write(root.join(&name), text).unwrap();
            names.push(name);
        }
    }
    names
}

/// Unpacks an oci or docker tarball into `dir` and returns its single layer's blob and media type.
fn layer_blob(tarball: &Path, dir: &Path) -> (PathBuf, String) {
    fs::create_dir_all(dir).unwrap();
    run("tar", &["-xf", tarball.to_str().unwrap(), "-C", dir.to_str().unwrap()]);
    let blob = |digest: &serde_json::Value| dir.join("blobs/sha256").join(&digest.as_str().unwrap()["sha256:".len()..]);
    let index = read_json(&dir.join("index.json"));
    let manifest = read_json(&blob(&index["manifests"][0]["digest"]));
    let layer = &manifest["layers"][0];
    (blob(&layer["digest"]), layer["mediaType"].as_str().unwrap().to_string())
}

#[test]
fn every_tier_gives_a_layer_the_zstd_cli_reads_and_each_is_smaller() {
    let work = tempdir().unwrap();
    let rootfs = work.path().join("rootfs");
    let files = varied_tree(&rootfs);
    let mut sizes = Vec::new();
    let mut layer_tar = PathBuf::new();
    for level in ["0", "3", "9", "19"] {
        let dest = work.path().join(format!("zstd-{level}.tar"));
        let spec = format!("type=oci,dest={},compression=zstd,compression-level={level}", dest.display());
        ok(export_tree(work.path(), &rootfs, &spec, &[]));
        run("skopeo", &["inspect", &format!("oci-archive:{}", dest.display())]);

        let (blob, media_type) = layer_blob(&dest, &work.path().join(format!("unpacked-{level}")));
        assert_eq!(media_type, OCI_ZSTD, "level {level}");
        run("zstd", &["-t", "-q", blob.to_str().unwrap()]);
        layer_tar = work.path().join(format!("layer-{level}.tar"));
        run("zstd", &["-d", "-q", "-f", blob.to_str().unwrap(), "-o", layer_tar.to_str().unwrap()]);
        let listed = run("tar", &["-tf", layer_tar.to_str().unwrap()]);
        for file in &files {
            assert!(listed.lines().any(|l| l == file), "level {level}: {file} missing from {listed}");
        }
        sizes.push(fs::metadata(&blob).unwrap().len());
    }
    // For comparison in the test log: the reference implementation's default level on the same tar.
    let reference = work.path().join("reference.zst");
    run("zstd", &["-3", "-q", "-f", layer_tar.to_str().unwrap(), "-o", reference.to_str().unwrap()]);
    eprintln!(
        "layer of {} bytes; levels 0/3/9/19: {sizes:?}; zstd -3: {}",
        fs::metadata(&layer_tar).unwrap().len(),
        fs::metadata(&reference).unwrap().len()
    );
    for pair in sizes.windows(2) {
        assert!(pair[1] < pair[0], "levels 0/3/9/19 gave {sizes:?}");
    }
}

#[test]
fn docker_media_types_give_buildkits_docker_zstd_layer_type() {
    let work = tempdir().unwrap();
    let dest = work.path().join("docker.tar");
    let spec = format!("type=docker,dest={},compression=zstd", dest.display());
    ok(export_tree(work.path(), &example_rootfs(), &spec, &[]));
    let (blob, media_type) = layer_blob(&dest, &work.path().join("unpacked"));
    assert_eq!(media_type, DOCKER_ZSTD);
    run("zstd", &["-t", "-q", blob.to_str().unwrap()]);
}
