//! `outport export … -o type=oci` end to end, checked by skopeo, umoci and tar.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;

#[test]
fn tarball_is_read_by_skopeo_and_unpacks_to_the_same_tree() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out.tar");
    let rootfs = example_rootfs();
    let out = ok(outport(
        work.path(),
        &["export", rootfs.to_str().unwrap(), "-o", &format!("type=oci,dest={}", dest.display())],
    ));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = metadata["containerimage.digest"].as_str().unwrap();

    let inspect: serde_json::Value =
        serde_json::from_str(&run("skopeo", &["inspect", &format!("oci-archive:{}", dest.display())])).unwrap();
    assert_eq!(inspect["Digest"], digest);
    assert_eq!(inspect["Os"], "linux");
    assert_eq!(inspect["Created"], "2015-10-21T07:28:00Z");
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);

    let layout = work.path().join("copied");
    run("skopeo", &["copy", &format!("oci-archive:{}", dest.display()), &format!("oci:{}:latest", layout.display())]);
    let bundle = work.path().join("bundle");
    run(
        "umoci",
        &["unpack", "--rootless", "--image", &format!("{}:latest", layout.display()), bundle.to_str().unwrap()],
    );
    assert_eq!(describe_tree(&bundle.join("rootfs")), describe_tree(&rootfs));
}

#[test]
fn directory_layout_matches_the_tarball() {
    let work = tempdir().unwrap();
    let tarball = work.path().join("out.tar");
    let dir = work.path().join("layout");
    let rootfs = example_rootfs();
    let both = [
        "-o",
        &format!("type=oci,dest={}", tarball.display()),
        "-o",
        &format!("type=oci,dest={},tar=false", dir.display()),
    ];
    ok(outport(work.path(), &[&["export", rootfs.to_str().unwrap()][..], &both[..]].concat()));

    run("skopeo", &["inspect", &format!("oci:{}", dir.display())]);
    let unpacked = work.path().join("unpacked");
    fs::create_dir(&unpacked).unwrap();
    run("tar", &["-xf", tarball.to_str().unwrap(), "-C", unpacked.to_str().unwrap()]);
    // BuildKit's testOCIExporterContentStore: every file but index.json is byte-identical.
    let files = list_files(&dir);
    assert_eq!(files, list_files(&unpacked));
    for f in files.iter().filter(|f| !f.ends_with("index.json") && dir.join(f).is_file()) {
        assert_eq!(fs::read(dir.join(f)).unwrap(), fs::read(unpacked.join(f)).unwrap(), "{f}");
    }
    // tar=false marks the entry as the "latest" image, as BuildKit's client does.
    let index: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest");
}

#[test]
fn same_input_gives_identical_bytes_and_blobs_match_their_names() {
    let work = tempdir().unwrap();
    let rootfs = example_rootfs();
    let (a, b) = (work.path().join("a.tar"), work.path().join("b.tar"));
    ok(outport(work.path(), &["export", rootfs.to_str().unwrap(), "-o", &format!("type=oci,dest={}", a.display())]));
    // A fresh store: nothing may be reused from the first run.
    fs::remove_dir_all(work.path().join("store")).unwrap();
    ok(outport(work.path(), &["export", rootfs.to_str().unwrap(), "-o", &format!("type=oci,dest={}", b.display())]));
    assert_eq!(fs::read(&a).unwrap(), fs::read(&b).unwrap());

    let unpacked = work.path().join("x");
    fs::create_dir(&unpacked).unwrap();
    run("tar", &["-xf", a.to_str().unwrap(), "-C", unpacked.to_str().unwrap()]);
    for entry in fs::read_dir(unpacked.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(sha256_file(&path), path.file_name().unwrap().to_str().unwrap());
    }
}

#[test]
fn layer_tar_records_every_entry_kind_like_buildkit() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir_all(root.join("dir/sub")).unwrap();
    fs::write(root.join("dir/sub/file"), b"content").unwrap();
    fs::hard_link(root.join("dir/sub/file"), root.join("hardlink")).unwrap();
    symlink("/nonexistent/target", root.join("dangling")).unwrap();
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(120));
    fs::create_dir_all(root.join("d".repeat(120))).unwrap();
    fs::write(root.join(&long), b"long").unwrap();
    fs::write(root.join("ünïcode"), b"u").unwrap();
    run("mkfifo", &[root.join("fifo").to_str().unwrap()]);
    let dest = work.path().join("out.tar");
    ok(outport(
        work.path(),
        &[
            "export",
            root.to_str().unwrap(),
            "-o",
            &format!("type=oci,dest={},compression=uncompressed", dest.display()),
        ],
    ));

    let layout = work.path().join("layout");
    fs::create_dir(&layout).unwrap();
    run("tar", &["-xf", dest.to_str().unwrap(), "-C", layout.to_str().unwrap()]);
    let index: serde_json::Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_path = layout.join("blobs/sha256").join(&index["manifests"][0]["digest"].as_str().unwrap()[7..]);
    let manifest: serde_json::Value = serde_json::from_slice(&fs::read(manifest_path).unwrap()).unwrap();
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.oci.image.layer.v1.tar");
    let layer = layout.join("blobs/sha256").join(&manifest["layers"][0]["digest"].as_str().unwrap()[7..]);
    let listing = run("tar", &["--numeric-owner", "--quoting-style=literal", "-tvf", layer.to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().map(|l| l.split_whitespace().nth(5).unwrap()).collect();
    let expected_dir = format!("{}/", "d".repeat(120));
    assert_eq!(
        names,
        ["dangling", &expected_dir, &long, "dir/", "dir/sub/", "dir/sub/file", "fifo", "hardlink", "ünïcode"],
        "{listing}"
    );
    assert!(listing.contains("dangling -> /nonexistent/target"), "{listing}");
    assert!(listing.contains("hardlink link to dir/sub/file"), "{listing}");
    assert!(listing.lines().any(|l| l.starts_with('p') && l.ends_with("fifo")), "{listing}");
}
