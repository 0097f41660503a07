//! Crash safety: the CLI is killed (SIGKILL) at many points of an export into the store and of a
//! push; afterwards `outport store verify` finds the store whole, a tag in the registry only ever
//! names a complete image, and a re-run completes.

mod common;

use common::*;
use serde_json::Value;
use std::time::Duration;

/// A tree that takes a while to export: 24 MiB of noise in a few files, plus small files.
fn slow_rootfs(work: &std::path::Path) -> std::path::PathBuf {
    use std::io::Read;
    let rootfs = work.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    for i in 0..3 {
        let mut noise = Vec::new();
        std::fs::File::open("/dev/urandom").unwrap().take(8 << 20).read_to_end(&mut noise).unwrap();
        std::fs::write(rootfs.join(format!("blob{i}.bin")), noise).unwrap();
    }
    for i in 0..50 {
        std::fs::write(rootfs.join("etc").join(format!("f{i}")), format!("file {i}\n")).unwrap();
    }
    rootfs
}

/// Start `args`, kill it with SIGKILL after `delay` (if it is still running).
fn kill_after(work: &std::path::Path, args: &[&str], delay: Duration) {
    let mut child = outport_command(work, args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let _ = child.kill(); // SIGKILL on Unix
    let _ = child.wait();
}

fn assert_store_whole(work: &std::path::Path, when: &str) {
    let out = outport(work, &["store", "verify", "--json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert!(out.status.success() && report["problems"] == serde_json::json!([]), "{when}: {report} {}", stderr(&out));
}

#[test]
fn killed_exports_leave_a_store_that_verifies_and_a_rerun_completes() {
    let work = tempdir().unwrap();
    let rootfs = slow_rootfs(work.path());
    let rootfs = rootfs.to_str().unwrap();
    // Kill points spread over the whole run (start-up, tar and compression, blob commits, index write).
    for (round, millis) in (0..16).map(|i| (i, 40 + i * 90)).collect::<Vec<_>>() {
        let name = format!("crash:{}", round % 3);
        kill_after(work.path(), &["export", rootfs, "-t", &name], Duration::from_millis(millis));
        assert_store_whole(work.path(), &format!("after a kill at {millis} ms"));
    }
    let out = ok(outport(work.path(), &["export", rootfs, "-t", "crash:final"]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_store_whole(work.path(), "after the re-run");
    let images = String::from_utf8_lossy(&ok(outport(work.path(), &["images", "--json"])).stdout).into_owned();
    assert!(images.contains(meta["containerimage.digest"].as_str().unwrap()), "{images}");
}

#[test]
fn killed_pushes_never_leave_a_tag_on_an_incomplete_image() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let rootfs = slow_rootfs(work.path());
    let name = format!("{}/crash:1", registry.addr);
    ok(export_tree(work.path(), &rootfs, &format!("type=image,name={name}"), &[]));
    let reference = format!("docker://{name}");
    for millis in (0..10).map(|i| 30 + i * 40) {
        kill_after(work.path(), &["push", &name, "--insecure"], Duration::from_millis(millis));
        // Either no tag yet, or a tag whose every blob is there (skopeo copy re-verifies each digest).
        let inspect = std::process::Command::new("skopeo")
            .args(["inspect", "--tls-verify=false", "--raw", &reference])
            .output()
            .unwrap();
        if inspect.status.success() {
            let copy = work.path().join(format!("copy-{millis}"));
            run("skopeo", &["copy", "--src-tls-verify=false", &reference, &format!("oci:{}:x", copy.display())]);
        }
        assert_store_whole(work.path(), &format!("after a push killed at {millis} ms"));
    }
    let pushed: Value =
        serde_json::from_slice(&ok(outport(work.path(), &["push", &name, "--insecure"])).stdout).unwrap();
    let copy = work.path().join("copy-final");
    run("skopeo", &["copy", "--src-tls-verify=false", &reference, &format!("oci:{}:x", copy.display())]);
    let inspect: Value = serde_json::from_str(&run("skopeo", &["inspect", "--tls-verify=false", &reference])).unwrap();
    assert_eq!(inspect["Digest"], pushed["containerimage.digest"]);
}

#[test]
fn a_writer_waits_for_the_store_lock_and_takes_over_a_dead_one() {
    let work = tempdir().unwrap();
    let store = work.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    // A lock left by a process that no longer exists (killed) is taken over at once.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    let gone_pid = gone.id();
    gone.wait().unwrap();
    std::fs::write(store.join("lock"), format!("{gone_pid}\n")).unwrap();
    ok(export_tree(work.path(), &example_rootfs(), "type=image,name=first:1", &[]));
    assert!(!store.join("lock").exists(), "the lock is released at the end");

    // A lock held by a live process: the export waits until it is released.
    let mut holder = std::process::Command::new("sleep").arg("30").spawn().unwrap();
    std::fs::write(store.join("lock"), format!("{}\n", holder.id())).unwrap();
    let rootfs = example_rootfs();
    let mut waiting = outport_command(work.path(), &["export", rootfs.to_str().unwrap(), "-t", "second:1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(waiting.try_wait().unwrap().is_none(), "the export went ahead while the store was locked");
    let _ = holder.kill();
    let _ = holder.wait();
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("locked by process {}", holder.id())), "{}", stderr(&out));
    assert_store_whole(work.path(), "after waiting for the lock");
}

#[test]
fn concurrent_exports_into_one_store_keep_every_name() {
    let work = tempdir().unwrap();
    let rootfs = example_rootfs();
    let exports: Vec<_> = (0..8)
        .map(|i| {
            outport_command(work.path(), &["export", rootfs.to_str().unwrap(), "-t", &format!("parallel:{i}")])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut export in exports {
        assert!(export.wait().unwrap().success());
    }
    let images = String::from_utf8_lossy(&ok(outport(work.path(), &["images"])).stdout).into_owned();
    for i in 0..8 {
        assert!(images.contains(&format!("parallel:{i}")), "{images}");
    }
    assert_store_whole(work.path(), "after concurrent exports");
}
