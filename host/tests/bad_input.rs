//! Bad input: a clear one-line error naming the culprit, a non-zero exit, and nothing at `dest`.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

/// Run an export that must fail; return its stderr after checking exit code, one line, no dest.
fn fails(work: &Path, dest: &Path, args: &[&str], needle: &str) -> String {
    let out = outport(work, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(!dest.exists(), "{} must not exist after a failed export", dest.display());
    if let Some(parent) = dest.parent().filter(|p| p.is_dir()) {
        let stray: Vec<_> = fs::read_dir(parent)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().contains(".outport-"))
            .collect();
        assert!(stray.is_empty(), "temporary files left behind: {stray:?}");
    }
    err
}

#[test]
fn missing_rootfs_directory() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out.tar");
    let missing = work.path().join("no-such-rootfs");
    let spec = format!("type=oci,dest={}", dest.display());
    fails(
        work.path(),
        &dest,
        &["export", missing.to_str().unwrap(), "-o", &spec],
        "no-such-rootfs: no such file or directory",
    );
}

#[test]
fn rootfs_that_is_a_file() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out.tar");
    let file = work.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let spec = format!("type=oci,dest={}", dest.display());
    fails(work.path(), &dest, &["export", file.to_str().unwrap(), "-o", &spec], "is not a directory");
}

#[test]
fn unknown_type_and_bad_option_values() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out.tar");
    let rootfs = example_rootfs();
    for (spec, needle) in [
        (format!("type=bogus,dest={}", dest.display()), "unknown output type \"bogus\""),
        (format!("type=oci,dest={},compression=lz4", dest.display()), "unsupported compression type lz4"),
        (format!("type=oci,dest={},compression-level=12", dest.display()), "compression-level=12"),
        (format!("type=oci,dest={},tar=maybe", dest.display()), "non-bool value specified for tar"),
        (format!("type=oci,\"dest={}", dest.display()), "extraneous or missing \" in quoted-field"),
    ] {
        fails(work.path(), &dest, &["export", rootfs.to_str().unwrap(), "-o", &spec], needle);
    }
    let bad_platform = format!("type=oci,dest={}", dest.display());
    fails(
        work.path(),
        &dest,
        &["export", rootfs.to_str().unwrap(), "-o", &bad_platform, "--platform", "linux/z80"],
        "linux/z80",
    );
}

#[test]
fn dest_in_a_missing_directory() {
    let work = tempdir().unwrap();
    let dest = work.path().join("missing-dir").join("out.tar");
    let spec = format!("type=oci,dest={}", dest.display());
    fails(work.path(), &dest, &["export", example_rootfs().to_str().unwrap(), "-o", &spec], "missing-dir");
}

#[test]
fn unreadable_file_fails_cleanly() {
    let work = tempdir().unwrap();
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let root = work.path().join("root");
    fs::create_dir(&root).unwrap();
    let secret = root.join("secret");
    fs::write(&secret, b"no").unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let dest = work.path().join("out.tar");
    let spec = format!("type=oci,dest={}", dest.display());
    let args = ["export", root.to_str().unwrap(), "-o", &spec];
    if !is_root() {
        fails(work.path(), &dest, &args, "secret: permission denied");
        return;
    }
    // Root reads everything: drop to nobody for this one (setpriv is util-linux, always present).
    let store = work.path().join("store");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_outport")])
        .args(args)
        .env("OUTPORT_STORE", &store)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.starts_with("error: ") && err.contains("secret: permission denied"), "{err}");
    assert!(!dest.exists());
}

#[test]
fn usage_errors_exit_2() {
    let work = tempdir().unwrap();
    let out = outport(work.path(), &["export", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn strict_turns_warnings_into_errors() {
    let work = tempdir().unwrap();
    let dest = work.path().join("out.tar");
    let spec = format!("type=oci,dest={},compresion=gzip", dest.display());
    fails(
        work.path(),
        &dest,
        &["export", example_rootfs().to_str().unwrap(), "-o", &spec, "--strict"],
        "--strict: unknown option \"compresion\"",
    );
}
