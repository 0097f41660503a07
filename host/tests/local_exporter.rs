//! type=local (and `-o DIR`): the final root filesystem written into a directory.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{symlink, MetadataExt};
use std::process::Command;

#[test]
fn shorthand_dir_gets_the_tree_with_modes_links_and_epoch_mtimes() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out");
    ok(outport(work.path(), &["export", example_rootfs().to_str().unwrap(), "-o", dest.to_str().unwrap()]));
    assert_eq!(describe_tree(&dest), describe_tree(&example_rootfs()));
    for entry in ["app", "app/hello.txt", "usr/local/bin/hello"] {
        assert_eq!(fs::metadata(dest.join(entry)).unwrap().mtime(), 1_445_412_480, "{entry}");
    }
    assert_eq!(fs::symlink_metadata(dest.join("etc/motd")).unwrap().mtime(), 1_445_412_480);
}

#[test]
fn hardlinks_stay_linked_and_stale_symlinks_are_replaced_not_followed() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::write(root.join("a"), "shared").unwrap();
    fs::hard_link(root.join("a"), root.join("b")).unwrap();
    fs::write(root.join("etc/conf"), "new").unwrap();
    // A previous export left etc as a symlink to somewhere outside: it must not be written through.
    let dest = work.path().join("out");
    let outside = work.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::create_dir_all(&dest).unwrap();
    symlink(&outside, dest.join("etc")).unwrap();
    ok(export_tree(work.path(), &root, &format!("type=local,dest={}", dest.display()), &[]));
    assert_eq!(fs::metadata(dest.join("a")).unwrap().ino(), fs::metadata(dest.join("b")).unwrap().ino());
    assert!(fs::symlink_metadata(dest.join("etc")).unwrap().is_dir());
    assert_eq!(fs::read_to_string(dest.join("etc/conf")).unwrap(), "new");
    assert!(fs::read_dir(&outside).unwrap().next().is_none(), "nothing may be written outside dest");
}

#[test]
fn platforms_split_and_no_split_overwrite_is_an_error() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("hello-{arch}", "{arch}"), ("same", "{arch}")]);
    let dest = work.path().join("split");
    ok(export_result(work.path(), &result, &format!("type=local,dest={}", dest.display()), &[]));
    assert_eq!(fs::read_to_string(dest.join("linux_amd64/hello-amd64")).unwrap(), "amd64");
    assert_eq!(fs::read_to_string(dest.join("linux_arm64/same")).unwrap(), "arm64");

    let merged = work.path().join("merged");
    let out =
        export_result(work.path(), &result, &format!("type=local,dest={},platform-split=false", merged.display()), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot overwrite same from linux/amd64 with linux/arm64 when split option is disabled"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn mode_delete_removes_stale_entries_only_where_allowed() {
    let work = tempdir().unwrap();
    let run_in = |dir: &std::path::Path, spec: &str, extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_outport"))
            .current_dir(dir)
            .args([&["export", example_rootfs().to_str().unwrap(), "-o", spec][..], extra].concat())
            .env("OUTPORT_STORE", work.path().join("store"))
            .output()
            .unwrap()
    };
    let dest = work.path().join("out");
    fs::create_dir_all(dest.join("stale-dir/deep")).unwrap();
    fs::write(dest.join("stale-dir/deep/file"), "old").unwrap();
    fs::write(dest.join("stale"), "old").unwrap();
    fs::create_dir_all(dest.join("app")).unwrap();
    fs::write(dest.join("app/old.txt"), "old").unwrap();

    // mode=copy keeps what was there.
    let out = run_in(work.path(), "type=local,dest=out", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dest.join("stale").exists() && dest.join("app/old.txt").exists());

    // Outside the working directory, delete needs the entitlement.
    let elsewhere = work.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let refused = run_in(&elsewhere, &format!("type=local,dest={},mode=delete", dest.display()), &[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("requires --allow=buildx.local.delete"), "{}", stderr(&refused));
    assert!(dest.join("stale").exists());

    let out = run_in(work.path(), "type=local,dest=out,mode=delete", &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(describe_tree(&dest), describe_tree(&example_rootfs()));
    let allowed = run_in(
        &elsewhere,
        &format!("type=local,dest={},mode=delete", dest.display()),
        &["--allow", "buildx.local.delete"],
    );
    assert!(allowed.status.success(), "{}", stderr(&allowed));
}

#[test]
fn attestation_files_list_every_exported_file() {
    let work = tempdir().unwrap();
    let att = work.path().join("attestation.json");
    fs::write(&att, r#"{"note":"built by a test"}"#).unwrap();
    let attest = format!("type=provenance,path={}", att.display());
    let dest = work.path().join("out");
    let spec = format!("type=local,dest={},attestation-prefix=test.", dest.display());
    ok(export_tree(work.path(), &example_rootfs(), &spec, &["--attest", &attest]));
    let file = dest.join("test.attestation.json");
    assert_eq!(fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
    let statement: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert!(String::from_utf8(fs::read(&file).unwrap()).unwrap().contains("\n  \"subject\": ["), "pretty-printed");
    assert_eq!(statement["predicateType"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(statement["predicate"]["note"], "built by a test");
    let names: Vec<&str> =
        statement["subject"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["app/hello.txt", "etc/os-release", "usr/local/bin/hello"]);
    let hello = &statement["subject"][0]["digest"]["sha256"];
    assert_eq!(hello.as_str().unwrap(), sha256_file(&example_rootfs().join("app/hello.txt")));

    // The tar exporter writes the same file into the stream.
    let tarball = work.path().join("fs.tar");
    ok(export_tree(
        work.path(),
        &example_rootfs(),
        &format!("type=tar,dest={}", tarball.display()),
        &["--attest", &attest],
    ));
    let listing = run("tar", &["-tvf", tarball.to_str().unwrap()]);
    assert!(listing.lines().any(|l| l.starts_with("-rw-------") && l.ends_with(" attestation.json")), "{listing}");
}
