//! `outport store verify` and `outport store gc` on a real store: a clean store verifies, damage of
//! every kind is reported by name, gc removes exactly the blobs no image reaches.

mod common;

use common::*;
use serde_json::Value;
use std::fs;

fn store_json(work: &std::path::Path, action: &str) -> (Value, std::process::Output) {
    let out = outport(work, &["store", action, "--json"]);
    (serde_json::from_slice(&out.stdout).unwrap_or(Value::Null), out)
}

fn blob(work: &std::path::Path, digest: &str) -> std::path::PathBuf {
    work.join("store/blobs/sha256").join(digest.trim_start_matches("sha256:"))
}

#[test]
fn verify_reports_damage_and_gc_keeps_what_images_reach() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("a.txt", "a")]);
    ok(outport(work.path(), &["export", "--result", result.to_str().unwrap(), "-t", "multi:1"]));
    let meta: Value = serde_json::from_slice(
        &ok(export_tree(work.path(), &example_rootfs(), "type=image,name=single:1", &[])).stdout,
    )
    .unwrap();
    let (report, out) = store_json(work.path(), "verify");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(report["problems"], serde_json::json!([]));
    assert_eq!(report["images"], 2);

    // An orphan (an export that never named its image) goes at gc; everything else stays.
    let orphan = "sha256:".to_string() + &"0".repeat(64);
    fs::write(blob(work.path(), &orphan), b"not referenced").unwrap();
    let (gc, out) = store_json(work.path(), "gc");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(gc["removed"], 1);
    assert!(!blob(work.path(), &orphan).exists());
    let (report, _) = store_json(work.path(), "verify");
    assert_eq!(report["problems"], serde_json::json!([]), "gc removed nothing that an image needs");
    // …and the image is still whole for its consumers: it exports from the store to an OCI tarball.
    let tar = work.path().join("again.tar");
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=oci,dest={}", tar.display()), &[]));
    run("skopeo", &["inspect", &format!("oci-archive:{}", tar.display())]);

    // Damage: a corrupted blob and a missing one are both named; exit status 1.
    let config = meta["containerimage.config.digest"].as_str().unwrap();
    fs::write(blob(work.path(), config), b"{}").unwrap();
    let layer = first_layer(work.path(), meta["containerimage.digest"].as_str().unwrap());
    fs::remove_file(blob(work.path(), &layer)).unwrap();
    let (report, out) = store_json(work.path(), "verify");
    assert_eq!(out.status.code(), Some(1));
    let problems = report["problems"].to_string();
    assert!(problems.contains(&format!("blob {config} holds content")), "{problems}");
    assert!(problems.contains(&format!("needs blob {layer}, which is missing")), "{problems}");
    // gc removes only the OCI-typed manifest of the tarball export (no stored name reaches it): never
    // the damaged blobs that images still refer to.
    let (gc, _) = store_json(work.path(), "gc");
    assert_eq!(gc["removed"], 1);
    assert!(blob(work.path(), config).exists());
}

#[test]
fn gc_refuses_a_store_whose_index_is_unreadable() {
    let work = tempdir().unwrap();
    ok(export_tree(work.path(), &example_rootfs(), "type=image,name=x:1", &[]));
    fs::write(work.path().join("store/index.json"), b"{not json").unwrap();
    let before = fs::read_dir(work.path().join("store/blobs/sha256")).unwrap().count();
    let out = outport(work.path(), &["store", "gc"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("index.json is not valid JSON"), "{}", stderr(&out));
    assert_eq!(fs::read_dir(work.path().join("store/blobs/sha256")).unwrap().count(), before);
}

fn first_layer(work: &std::path::Path, manifest: &str) -> String {
    let manifest: Value = serde_json::from_slice(&fs::read(blob(work, manifest)).unwrap()).unwrap();
    manifest["layers"][0]["digest"].as_str().unwrap().to_string()
}
