//! Source trees that try to trip the exporter: links pointing out of the root, names that are not
//! UTF-8 (kept as bytes in layers and tarballs; the local exporter refuses them by name), a file that
//! grows while it is read, very many entries, fifos and devices. Links are
//! recorded and never followed; a changing file fails the export cleanly with nothing presented as
//! complete; everything else exports as BuildKit would record it.

mod common;

use common::*;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Entry names of a tar file (GNU tar, names as raw bytes).
fn tar_names(tar: &Path) -> Vec<Vec<u8>> {
    let out = std::process::Command::new("tar").args(["--quoting-style=literal", "-tf"]).arg(tar).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect()
}

#[test]
fn links_out_of_the_root_are_recorded_and_never_followed() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir_all(root.join("app")).unwrap();
    fs::write(work.path().join("outside-secret"), "must not be exported").unwrap();
    symlink("/etc", root.join("etc-link")).unwrap();
    symlink("../../outside-secret", root.join("app/up")).unwrap();
    symlink(work.path(), root.join("app/absolute-dir")).unwrap();
    let tar = work.path().join("fs.tar");
    ok(export_tree(work.path(), &root, &format!("type=tar,dest={}", tar.display()), &[]));
    let listing = run("tar", &["-tvf", tar.to_str().unwrap()]);
    assert!(listing.contains("etc-link -> /etc"), "{listing}");
    assert!(listing.contains("app/up -> ../../outside-secret"), "{listing}");
    assert_eq!(tar_names(&tar).len(), 4, "app/, app/absolute-dir, app/up, etc-link only: {listing}");
    assert!(!fs::read(&tar).unwrap().windows(20).any(|w| w == b"must not be exported"));

    // The local exporter writes the links as links, and nothing through them.
    let dest = work.path().join("local");
    ok(export_tree(work.path(), &root, &format!("type=local,dest={}", dest.display()), &[]));
    assert_eq!(fs::read_link(dest.join("app/up")).unwrap(), Path::new("../../outside-secret"));
    assert_eq!(fs::read(work.path().join("outside-secret")).unwrap(), b"must not be exported");
}

#[test]
fn names_that_are_not_utf8_keep_their_bytes() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir(&root).unwrap();
    let latin1 = OsStr::from_bytes(b"caf\xe9.txt");
    fs::write(root.join(latin1), "latin-1 name").unwrap();
    fs::create_dir(root.join(OsStr::from_bytes(b"dir-\xff\xfe"))).unwrap();
    let tar = work.path().join("fs.tar");
    ok(export_tree(work.path(), &root, &format!("type=tar,dest={}", tar.display()), &[]));
    let names = tar_names(&tar);
    assert!(names.contains(&b"caf\xe9.txt".to_vec()), "{names:?}");
    assert!(names.contains(&b"dir-\xff\xfe/".to_vec()), "{names:?}");
    // Output paths cross the host boundary as strings: the local exporter says so rather than
    // writing a mangled name.
    let dest = work.path().join("local");
    let out = export_tree(work.path(), &root, &format!("type=local,dest={}", dest.display()), &[]);
    assert_failure(&out, "cannot write names that are not UTF-8");
}

#[test]
fn a_file_growing_while_read_fails_the_export_cleanly() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir(&root).unwrap();
    let growing = root.join("growing.log");
    fs::write(&growing, vec![b'x'; 8 << 20]).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, growing) = (stop.clone(), growing.clone());
        std::thread::spawn(move || {
            use std::io::Write;
            let mut file = fs::OpenOptions::new().append(true).open(growing).unwrap();
            while !stop.load(Ordering::Relaxed) {
                file.write_all(b"more\n").unwrap();
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
        })
    };
    let dest = work.path().join("out.tar");
    let out =
        outport(work.path(), &["export", root.to_str().unwrap(), "-o", &format!("type=oci,dest={}", dest.display())]);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert!(!out.status.success(), "a file that changed while read was exported");
    let err = stderr(&out);
    assert!(err.contains("growing.log changed size while being read"), "{err}");
    assert!(!dest.exists(), "no output presented as complete");
    let leftovers: Vec<_> = fs::read_dir(work.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(leftovers.iter().all(|n| !n.to_string_lossy().contains("out.tar")), "{leftovers:?}");
}

#[test]
fn very_many_entries_export() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    let wide = root.join("wide");
    fs::create_dir_all(&wide).unwrap();
    for i in 0..30_000 {
        fs::write(wide.join(format!("f{i:05}")), b"").unwrap();
    }
    let mut deep = root.join("deep");
    for i in 0..200 {
        deep = deep.join(format!("level{i}"));
    }
    fs::create_dir_all(&deep).unwrap();
    fs::write(deep.join("bottom"), "deep\n").unwrap();
    let tar = work.path().join("fs.tar");
    ok(export_tree(work.path(), &root, &format!("type=tar,dest={}", tar.display()), &[]));
    let names = tar_names(&tar);
    assert_eq!(names.len(), 1 + 30_000 + 1 + 200 + 1, "wide/, its files, deep/, 200 levels, bottom");
    assert!(names.iter().any(|n| n.ends_with(b"level199/bottom")));
}

#[test]
fn fifos_and_devices_are_recorded_not_read() {
    let work = tempdir().unwrap();
    let root = work.path().join("root");
    fs::create_dir(&root).unwrap();
    run("mkfifo", &[root.join("pipe").to_str().unwrap()]);
    let devices = is_root();
    if devices {
        run("mknod", &[root.join("null").to_str().unwrap(), "c", "1", "3"]);
        run("mknod", &[root.join("loop9").to_str().unwrap(), "b", "7", "9"]);
    }
    // Reading the fifo would block forever: the export finishing at all proves it is not read.
    let tar = work.path().join("fs.tar");
    ok(export_tree(work.path(), &root, &format!("type=tar,dest={}", tar.display()), &[]));
    let listing = run("tar", &["-tvf", tar.to_str().unwrap()]);
    assert!(listing.lines().any(|l| l.starts_with('p') && l.ends_with(" pipe")), "{listing}");
    if devices {
        assert!(listing.lines().any(|l| l.starts_with('c') && l.contains("1,3") && l.ends_with(" null")), "{listing}");
        assert!(listing.lines().any(|l| l.starts_with('b') && l.contains("7,9") && l.ends_with(" loop9")), "{listing}");
    }
}
