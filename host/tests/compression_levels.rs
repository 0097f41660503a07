//! Every level boundary of every compression, end to end through the CLI: the layer decompresses
//! (with the reference tools: `gzip -t`, `zstd -t`) to exactly the tar whose sha256 the config
//! gives as its diffID; a zstd layer is one frame; levels that change the algorithm change the size
//! the way they should.

mod common;

use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files that compress: text with variation, a run of one byte, some noise; a little over 9 MiB
/// in all, so a layer spans several pieces of every compression: `work/root`.
fn tree(work: &Path) -> PathBuf {
    let root = work.join("root");
    const WORDS: [&str; 16] = [
        "layer", "digest", "manifest", "config", "index", "blob", "the", "of", "image", "linux", "name", "value", "=",
        "{", "}", "\n",
    ];
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) as usize
    };
    fs::create_dir_all(root.join("etc")).unwrap();
    for file in 0..8 {
        let mut text = String::new();
        while text.len() < 1 << 20 {
            let pick = next();
            text.push_str(WORDS[pick % WORDS.len()]);
            if pick.is_multiple_of(3) {
                text.push_str(&(pick % 1000).to_string());
            }
            text.push(' ');
        }
        fs::write(root.join(format!("etc/text-{file}.conf")), text).unwrap();
    }
    fs::write(root.join("zeros.bin"), vec![0u8; 1 << 20]).unwrap();
    let noise: Vec<u8> = (0..300_000).map(|_| next() as u8).collect();
    fs::write(root.join("noise.bin"), noise).unwrap();
    root
}

/// Exports `root` as an OCI layout with `options`; the layer blob and the diffID the config names.
fn export(work: &Path, root: &Path, name: &str, options: &str) -> (PathBuf, String) {
    let dest = work.join(name);
    ok(export_tree(work, root, &format!("type=oci,tar=false,dest={},{options}", dest.display()), &[]));
    let blob = |digest: &serde_json::Value| dest.join("blobs").join(digest.as_str().unwrap().replace(':', "/"));
    let manifest = read_json(&blob(&read_json(&dest.join("index.json"))["manifests"][0]["digest"]));
    let config = read_json(&blob(&manifest["config"]["digest"]));
    (blob(&manifest["layers"][0]["digest"]), config["rootfs"]["diff_ids"][0].as_str().unwrap().to_string())
}

/// The reference tool's verdict on `blob`, then its decompressed bytes' sha256.
fn check_and_digest(tool: &str, blob: &Path) -> String {
    let test = Command::new(tool).arg("-t").arg(blob).output().unwrap();
    assert!(test.status.success(), "{tool} -t {}: {}", blob.display(), String::from_utf8_lossy(&test.stderr));
    let out = run("sh", &["-c", &format!("{tool} -dc {} | sha256sum", blob.display())]);
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

fn size(path: &Path) -> u64 {
    fs::metadata(path).unwrap().len()
}

/// `root` exported as `NAME-LEVEL` at each of `levels`, with `options` and `compression-level=LEVEL`;
/// every blob decompressed by `tool` to the diffID its config names, and given to `check`. The blob
/// sizes by level.
fn export_levels(
    work: &Path,
    root: &Path,
    name: &str,
    options: &str,
    tool: &str,
    levels: &[u32],
    check: impl Fn(u32, &Path),
) -> Vec<(u32, u64)> {
    let mut sizes = Vec::new();
    for &level in levels {
        let (blob, diff_id) =
            export(work, root, &format!("{name}-{level}"), &format!("{options}compression-level={level}"));
        assert_eq!(check_and_digest(tool, &blob), diff_id, "{name} level {level}");
        check(level, &blob);
        sizes.push((level, size(&blob)));
    }
    eprintln!("{name} sizes by level: {sizes:?}");
    sizes
}

#[test]
fn gzip_levels_round_trip_at_every_strategy_boundary() {
    let work = tempdir().unwrap();
    let root = tree(work.path());
    // zlib-rs's strategies: 0 stored, 1 quick, 2 fast, 3–6 medium, 7–9 slow.
    let sizes = export_levels(work.path(), &root, "gzip", "", "gzip", &[0, 1, 2, 3, 4, 6, 7, 9], |_, _| ());
    let at = |level| sizes.iter().find(|(l, _)| *l == level).unwrap().1;
    assert!(at(0) > at(1) && at(1) > at(6) && at(6) > at(9), "{sizes:?}");
}

#[test]
fn zstd_levels_round_trip_as_one_frame_and_tiers_shrink() {
    let work = tempdir().unwrap();
    let root = tree(work.path());
    let one_frame = |level: u32, blob: &Path| {
        let listing = run("zstd", &["-lv", blob.to_str().unwrap()]);
        assert!(
            listing.lines().any(|l| l.trim() == "# Zstandard Frames: 1"),
            "zstd level {level} is not one frame:\n{listing}"
        );
    };
    let levels = [0, 1, 2, 3, 5, 6, 9, 10, 19, 22];
    let sizes = export_levels(work.path(), &root, "zstd", "compression=zstd,", "zstd", &levels, one_frame);
    let at = |level| sizes.iter().find(|(l, _)| *l == level).unwrap().1;
    // One level per tier (fastest, default, better, best): each strictly smaller than the one below.
    assert!(at(2) > at(3) && at(3) > at(6) && at(6) > at(10), "{sizes:?}");
}

#[test]
fn estargz_levels_round_trip() {
    let work = tempdir().unwrap();
    let root = tree(work.path());
    // Every member in turn, as gzip reads a multi-member file: the layer tar, then the TOC tar.
    export_levels(work.path(), &root, "estargz", "compression=estargz,", "gzip", &[0, 1, 6, 9], |_, _| ());
}
