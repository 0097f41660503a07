//! type=tar (and `-o -`): the final root filesystem as a tar stream, as BuildKit's tar exporter
//! writes it: files at the top level, every mtime the epoch, layers stacked, platforms split.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

fn listing(tarball: &Path) -> Vec<String> {
    run("tar", &["--numeric-owner", "--quoting-style=literal", "--full-time", "-tvf", tarball.to_str().unwrap()])
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn stdout_tar_unpacks_to_the_tree_with_epoch_mtimes() {
    let work = tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_outport"))
        .args(["export", example_rootfs().to_str().unwrap(), "-o", "-"])
        .env("OUTPORT_STORE", work.path().join("store"))
        .env("SOURCE_DATE_EPOCH", "1445412480")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let tarball = work.path().join("fs.tar");
    fs::write(&tarball, &out.stdout).unwrap();
    let lines = listing(&tarball);
    assert!(lines.iter().all(|l| l.contains("2015-10-21 07:28:00")), "every mtime is the epoch: {lines:?}");
    assert!(lines.iter().any(|l| l.ends_with("etc/motd -> ../app/hello.txt")), "{lines:?}");
    let unpacked = work.path().join("x");
    fs::create_dir(&unpacked).unwrap();
    run("tar", &["-xf", tarball.to_str().unwrap(), "-C", unpacked.to_str().unwrap()]);
    assert_eq!(describe_tree(&unpacked), describe_tree(&example_rootfs()));
}

#[test]
fn layers_stack_with_upper_layers_winning() {
    let work = tempdir().unwrap();
    let (lower, upper) = (work.path().join("lower"), work.path().join("upper"));
    fs::create_dir_all(lower.join("a")).unwrap();
    fs::write(lower.join("a/x"), "lower x").unwrap();
    fs::write(lower.join("a/y"), "lower y").unwrap();
    fs::write(lower.join("f"), "lower file").unwrap();
    fs::create_dir_all(upper.join("a")).unwrap();
    fs::write(upper.join("a/y"), "upper y").unwrap();
    fs::create_dir_all(upper.join("f")).unwrap();
    fs::write(upper.join("f/inner"), "inner").unwrap();
    symlink("a/x", upper.join("link")).unwrap();
    let result = work.path().join("result.json");
    fs::write(&result, r#"{"platforms":[{"platform":"linux/amd64","layers":["lower","upper"]}]}"#).unwrap();
    let dest = work.path().join("fs.tar");
    ok(export_result(work.path(), &result, &format!("type=tar,dest={}", dest.display()), &[]));
    let unpacked = work.path().join("x");
    fs::create_dir(&unpacked).unwrap();
    run("tar", &["-xf", dest.to_str().unwrap(), "-C", unpacked.to_str().unwrap()]);
    assert_eq!(fs::read_to_string(unpacked.join("a/x")).unwrap(), "lower x");
    assert_eq!(fs::read_to_string(unpacked.join("a/y")).unwrap(), "upper y");
    assert_eq!(fs::read_to_string(unpacked.join("f/inner")).unwrap(), "inner");
    assert_eq!(fs::read_link(unpacked.join("link")).unwrap().to_str(), Some("a/x"));
    let names: Vec<String> = listing(&dest).iter().map(|l| l.split_whitespace().nth(5).unwrap().to_string()).collect();
    assert_eq!(names, ["a/", "a/x", "a/y", "f/", "f/inner", "link"]);
}

#[test]
fn several_platforms_go_to_their_own_directories() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("hello", "{arch}")]);
    let dest = work.path().join("fs.tar");
    ok(export_result(work.path(), &result, &format!("type=tar,dest={}", dest.display()), &[]));
    let names: Vec<String> = listing(&dest).iter().map(|l| l.split_whitespace().nth(5).unwrap().to_string()).collect();
    assert_eq!(names, ["linux_amd64/", "linux_amd64/hello", "linux_arm64/", "linux_arm64/hello"]);
}

#[test]
fn sockets_are_skipped_without_failing() {
    let work = tempdir().unwrap();
    let root = write_tree(&work.path().join("root"), &[("foo", "foo")]);
    symlink("foo", root.join("bar")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(root.join("sock")).unwrap();
    let dest = work.path().join("fs.tar");
    ok(export_tree(work.path(), &root, &format!("type=tar,dest={}", dest.display()), &[]));
    let lines = listing(&dest);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with('l') && lines[0].ends_with("bar -> foo"));
    assert!(lines[1].starts_with('-') && lines[1].ends_with(" foo"));
}
