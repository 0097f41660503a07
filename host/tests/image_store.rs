//! type=image: the local store (an OCI layout) with names, `outport images`, -t and --push.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

fn images(work: &Path) -> Vec<Value> {
    let out = ok(outport(work, &["images", "--json"]));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn names(rows: &[Value]) -> Vec<String> {
    rows.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect()
}

#[test]
fn default_output_stores_tagged_image_and_replaces_older_ones() {
    let work = tempdir().unwrap();
    let first = ok(export_example(work.path(), &["-t", "foo", "-t", "ghcr.io/o/r:v1", "--label", "n=1"]));
    let first: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(first["image.name"], "foo,ghcr.io/o/r:v1");
    assert_eq!(first["containerimage.descriptor"]["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    let rows = images(work.path());
    assert_eq!(names(&rows), ["docker.io/library/foo:latest", "ghcr.io/o/r:v1"]);
    assert!(rows.iter().all(|r| r["digest"] == first["containerimage.digest"]));

    // A different image under one of the names takes that name over; the other name stays.
    let second = ok(export_example(work.path(), &["-t", "foo", "--label", "n=2"]));
    let second: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_ne!(second["containerimage.digest"], first["containerimage.digest"]);
    let rows = images(work.path());
    assert_eq!(names(&rows), ["docker.io/library/foo:latest", "ghcr.io/o/r:v1"]);
    assert_eq!(rows[0]["digest"], second["containerimage.digest"]);
    assert_eq!(rows[1]["digest"], first["containerimage.digest"]);

    // The store is an OCI layout that skopeo reads (skopeo 1.9 only lists OCI-typed manifests there).
    ok(export_example(work.path(), &["-o", "type=image,name=oci/img:v9,oci-mediatypes=true"]));
    let store = work.path().join("store");
    run("skopeo", &["inspect", &format!("oci:{}:v9", store.display())]);
}

#[test]
fn dangling_and_canonical_names_and_store_false() {
    let work = tempdir().unwrap();
    let out =
        ok(export_example(work.path(), &["-o", "type=image,name=bar,dangling-name-prefix=dang,name-canonical=true"]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = meta["containerimage.digest"].as_str().unwrap();
    assert_eq!(meta["image.name"], format!("bar,dang@{digest}"));
    assert_eq!(
        names(&images(work.path())),
        [
            "docker.io/library/bar:latest".to_string(),
            format!("docker.io/library/bar@{digest}"),
            format!("docker.io/library/dang@{digest}")
        ]
    );

    let other = tempdir().unwrap();
    ok(export_example(other.path(), &["-o", "type=image,name=quiet,store=false"]));
    assert!(images(other.path()).is_empty());
}

#[test]
fn push_needs_a_name_and_a_reachable_registry() {
    let work = tempdir().unwrap();
    let out = export_example(work.path(), &["-o", "type=image,push=true"]);
    assert!(stderr(&out).contains("tag is needed when pushing to registry"), "{}", stderr(&out));
    // Nothing listens on port 9 of 127.0.0.1: the error names the registry and the URL.
    let out = export_example(work.path(), &["--push", "-t", "127.0.0.1:9/x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("push to 127.0.0.1:9/x") && stderr(&out).contains("https://127.0.0.1:9/v2/"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn unpack_extracts_the_root_filesystem_into_the_store() {
    let work = tempdir().unwrap();
    let out = ok(export_example(work.path(), &["-o", "type=image,name=unpacked:1,unpack=true"]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = meta["containerimage.digest"].as_str().unwrap();
    let dir = work.path().join("store/unpacked").join(&digest[7..]);
    assert_eq!(describe_tree(&dir), describe_tree(&example_rootfs()));
    let conflict = export_example(work.path(), &["-o", "type=image,name=x,unpack=true,rewrite-timestamp=true"]);
    assert!(
        stderr(&conflict).contains("exporter option \"rewrite-timestamp\" conflicts with \"unpack\""),
        "{}",
        stderr(&conflict)
    );
}
