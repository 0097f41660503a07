//! The compression cache in the store: re-exporting an unchanged layer takes the stored blob instead
//! of compressing again (the blob file is not rewritten), per compression and level; a changed tree
//! or a damaged blob is never reused.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Export `root` with `compression` to an OCI layout; the single layer's digest.
fn export_layer(work: &Path, root: &Path, compression: &str, name: &str) -> String {
    let dest = work.join(name);
    let spec = format!("type=oci,dest={},tar=false,{compression}", dest.display());
    ok(export_tree(work, root, &spec, &[]));
    let index = read_json(&dest.join("index.json"));
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().replace(':', "/");
    let manifest = read_json(&dest.join("blobs").join(manifest_digest));
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().to_string();
    // The output's copy is whole whatever the cache did.
    assert_eq!(format!("sha256:{}", sha256_file(&dest.join("blobs").join(layer.replace(':', "/")))), layer);
    layer
}

/// The tree (see [`tree`]) exported once with gzip: the tree, its layer's digest and the layer blob in
/// the store.
fn exported_once(work: &Path) -> (PathBuf, String, PathBuf) {
    let root = tree(work);
    let first = export_layer(work, &root, "compression=gzip", "one");
    let blob = stored_blob(work, &first);
    (root, first, blob)
}

fn stored_blob(work: &Path, digest: &str) -> PathBuf {
    work.join("store/blobs").join(digest.replace(':', "/"))
}

fn inode(path: &Path) -> u64 {
    fs::metadata(path).unwrap().ino()
}

/// Cache records of compressed tars (the store also keeps tree-shape and files records beside them).
fn records(work: &Path) -> usize {
    let Ok(dir) = fs::read_dir(work.join("store/cache")) else { return 0 };
    dir.filter(|entry| read_json(&entry.as_ref().unwrap().path()).get("blob").is_some()).count()
}

fn tree(work: &Path) -> PathBuf {
    let root = work.join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    for i in 0..50 {
        fs::write(root.join(format!("etc/file{i}.conf")), format!("setting {i} = {}\n", "value ".repeat(i + 10)))
            .unwrap();
    }
    root
}

#[test]
fn an_unchanged_layer_is_not_compressed_again() {
    let work = tempdir().unwrap();
    let w = work.path();
    let (root, first, blob) = exported_once(w);
    let inode_before = inode(&blob);
    assert_eq!(records(w), 1);

    let again = export_layer(w, &root, "compression=gzip", "two");
    assert_eq!(again, first);
    assert_eq!(inode(&blob), inode_before, "the stored blob was reused, not written again");
    // Nor copied: the layout's blob is the store's file (a hard link), or a clone of it where the
    // file system makes copy-on-write clones.
    let in_layout = w.join("two/blobs").join(first.replace(':', "/"));
    let probe = w.join("reflink-probe");
    let clones = std::process::Command::new("cp")
        .args(["--reflink=always", blob.to_str().unwrap(), probe.to_str().unwrap()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(clones || inode(&in_layout) == inode_before, "the cached blob was copied into the layout");

    // Another compression or level is another record and another blob; each is reused in turn.
    let zstd3 = export_layer(w, &root, "compression=zstd", "three");
    let zstd19 = export_layer(w, &root, "compression=zstd,compression-level=19", "four");
    assert!(zstd3 != first && zstd19 != zstd3);
    assert_eq!(records(w), 3);
    let zstd3_inode = inode(&stored_blob(w, &zstd3));
    assert_eq!(export_layer(w, &root, "compression=zstd,compression-level=3", "five"), zstd3);
    assert_eq!(inode(&stored_blob(w, &zstd3)), zstd3_inode);

    // A changed tree is a new layer.
    fs::write(root.join("etc/file0.conf"), "changed\n").unwrap();
    let changed = export_layer(w, &root, "compression=gzip", "six");
    assert_ne!(changed, first);
}

#[test]
fn a_damaged_blob_is_compressed_again_not_reused() {
    let work = tempdir().unwrap();
    let w = work.path();
    let (root, first, blob) = exported_once(w);
    let size = fs::metadata(&blob).unwrap().len() as usize;
    fs::write(&blob, vec![0u8; size]).unwrap();

    let again = export_layer(w, &root, "compression=gzip", "two");
    assert_eq!(again, first, "the same bytes again, from a fresh compression");
    assert_eq!(format!("sha256:{}", sha256_file(&blob)), first, "the store's blob is whole again");

    // A cache record that does not parse is ignored the same way.
    for record in fs::read_dir(w.join("store/cache")).unwrap() {
        fs::write(record.unwrap().path(), b"{not json").unwrap();
    }
    assert_eq!(export_layer(w, &root, "compression=gzip", "three"), first);
}

/// A file rewritten with other bytes of the same size and its old mtime leaves every tar header as
/// it was: the cache must still notice the new content (with and without rewrite-timestamp).
#[test]
fn same_headers_with_new_content_is_a_new_layer() {
    let work = tempdir().unwrap();
    let w = work.path();
    let root = tree(w);
    let file = root.join("etc/file3.conf");
    let mtime = fs::metadata(&file).unwrap().modified().unwrap();
    for (i, options) in ["compression=gzip", "compression=zstd,rewrite-timestamp=true"].iter().enumerate() {
        let before = export_layer(w, &root, options, &format!("before{i}"));
        assert_eq!(export_layer(w, &root, options, &format!("again{i}")), before);
        let old = fs::read(&file).unwrap();
        let new: Vec<u8> =
            old.iter().map(|b| if b.is_ascii_lowercase() { b.to_ascii_uppercase() } else { *b }).collect();
        assert_eq!(new.len(), old.len());
        fs::write(&file, &new).unwrap();
        fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        let after = export_layer(w, &root, options, &format!("after{i}"));
        assert_ne!(after, before, "{options}: the old blob was reused for new content");
        let listing = run(
            "sh",
            &[
                "-c",
                &format!(
                    "{} -dc {} | tar -xO etc/file3.conf",
                    if i == 0 { "gzip" } else { "zstd" },
                    stored_blob(w, &after).display()
                ),
            ],
        );
        assert_eq!(listing.as_bytes(), new.as_slice());
        fs::write(&file, &old).unwrap();
        fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
    }
}
