//! Nothing half-written, nothing lost, never hung: outputs written inside their own sources, failed
//! directory exports, stale and foreign store locks, signals, stale temporaries, hostile base
//! layouts, clobbering destinations and registries that state other digests.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

fn digest(out: &std::process::Output) -> String {
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    meta["containerimage.digest"].as_str().unwrap().to_string()
}

fn source(work: &Path) -> std::path::PathBuf {
    let src = work.join("src");
    fs::create_dir_all(src.join("etc")).unwrap();
    fs::write(src.join("etc/app.conf"), "port=80\n").unwrap();
    fs::write(src.join("hello.txt"), "hello\n").unwrap();
    src
}

/// Every kind of output written into its own source gives the image it gives written elsewhere,
/// and terminates (before: type=local nested `out/` until the path was too long).
#[test]
fn outputs_inside_their_source_are_left_out_of_it() {
    let work = tempdir().unwrap();
    let src = source(work.path());
    let s = src.to_str().unwrap();
    let elsewhere = work.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    let reference =
        digest(&ok(export_tree(work.path(), &src, &format!("type=oci,dest={}/ref.tar", elsewhere.display()), &[])));
    let reference_tree = describe_tree(&src);

    // Twice each: the second run meets the first run's output (and a stale layout) in the source.
    for round in 0..2 {
        let out = ok(outport(
            work.path(),
            &[
                "export",
                s,
                "-o",
                &format!("type=oci,dest={s}/image.tar"),
                "-o",
                &format!("type=oci,tar=false,dest={s}/layout"),
                "-o",
                &format!("type=tar,dest={s}/fs.tar"),
                "-o",
                &format!("type=local,dest={s}/out"),
                "--progress",
                "plain",
            ],
        ));
        assert_eq!(digest(&out), reference, "round {round}: the same image as with the output elsewhere");
        assert!(stderr(&out).contains("leave-out"), "said in progress output: {}", stderr(&out));
        let names = run("tar", &["tf", &format!("{s}/fs.tar")]);
        assert_eq!(names.lines().collect::<Vec<_>>(), ["etc/", "etc/app.conf", "hello.txt"], "round {round}");
        let local = describe_tree(&src.join("out"));
        assert_eq!(local, reference_tree, "round {round}: type=local holds the source, not itself");
        let leftovers: Vec<String> = list_files(&src).into_iter().filter(|n| n.contains(".outport-")).collect();
        assert!(leftovers.is_empty(), "no temporary names left: {leftovers:?}");
    }

    // A store inside the source is left out too, and so is --metadata-file (the second run meets
    // the first run's).
    let store = src.join(".store");
    for round in 0..2 {
        let args =
            ["export", s, "--metadata-file", &format!("{s}/meta.json"), "-o", &format!("type=tar,dest={s}/fs2.tar")];
        let out = ok(outport_command(work.path(), &args).env("OUTPORT_STORE", &store).output().unwrap());
        let names = run("tar", &["tf", &format!("{s}/fs2.tar")]);
        assert!(!names.contains(".store") && !names.contains("meta.json"), "round {round}: {names}\n{}", stderr(&out));
    }
}

/// A local export that fails half-way leaves its destination byte-for-byte as it was, and an
/// OCI layout directory never gets blobs without an index.json.
#[test]
fn a_failed_directory_export_leaves_dest_as_it_was() {
    if skipped_unless_root("needs root to run outport as another user with setpriv") {
        return;
    }
    let work = tempdir().unwrap();
    fs::set_permissions(work.path(), fs::Permissions::from_mode(0o777)).unwrap();
    let src = source(work.path());
    // Readable by root only: the export, run as nobody, fails when it reaches it.
    fs::write(src.join("zz-secret"), "root only\n").unwrap();
    fs::set_permissions(src.join("zz-secret"), fs::Permissions::from_mode(0o600)).unwrap();
    let dest = work.path().join("dest");
    fs::create_dir_all(dest.join("etc")).unwrap();
    fs::write(dest.join("hello.txt"), "old hello\n").unwrap();
    fs::write(dest.join("keep.txt"), "mine\n").unwrap();
    let layout = work.path().join("layout");
    let store = work.path().join("store");
    for dir in [&dest, &dest.join("etc"), &src, &src.join("etc")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
    }
    for file in ["hello.txt", "keep.txt"] {
        fs::set_permissions(dest.join(file), fs::Permissions::from_mode(0o666)).unwrap();
    }
    let before = describe_tree(&dest);
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", env!("CARGO_BIN_EXE_outport"), "export"])
        .arg(&src)
        .args(["-o", &format!("type=local,dest={}", dest.display())])
        .args(["-o", &format!("type=oci,tar=false,dest={}", layout.display())])
        .env("OUTPORT_STORE", &store)
        .env("HOME", work.path())
        .output()
        .unwrap();
    assert!(!out.status.success(), "the unreadable file fails the export");
    assert!(stderr(&out).contains("zz-secret"), "{}", stderr(&out));
    assert_eq!(describe_tree(&dest), before, "dest untouched");
    assert!(!layout.exists(), "no partial layout");
    let leftovers: Vec<String> = list_files(work.path()).into_iter().filter(|n| n.contains(".outport-")).collect();
    assert!(leftovers.is_empty(), "staging removed: {leftovers:?}");

    // Without the unreadable file it succeeds: copy mode updates what it exports, keeps the rest.
    fs::remove_file(src.join("zz-secret")).unwrap();
    ok(export_tree(work.path(), &src, &format!("type=local,dest={}", dest.display()), &[]));
    assert_eq!(fs::read_to_string(dest.join("hello.txt")).unwrap(), "hello\n");
    assert_eq!(fs::read_to_string(dest.join("keep.txt")).unwrap(), "mine\n");
    assert_eq!(fs::read_to_string(dest.join("etc/app.conf")).unwrap(), "port=80\n");
}

/// A dest that is a symlink to a directory (a mounted volume) is written through; file outputs
/// and --metadata-file replace a symlink at dest, never write through it.
#[test]
fn symlinked_destinations_follow_one_rule() {
    let work = tempdir().unwrap();
    let src = source(work.path());
    let volume = work.path().join("volume");
    fs::create_dir(&volume).unwrap();
    fs::write(volume.join("existing"), "x").unwrap();
    std::os::unix::fs::symlink(&volume, work.path().join("local")).unwrap();
    std::os::unix::fs::symlink(&volume, work.path().join("layout")).unwrap();
    let victim = work.path().join("victim");
    fs::write(&victim, "do not overwrite").unwrap();
    for name in ["fs.tar", "meta.json"] {
        std::os::unix::fs::symlink(&victim, work.path().join(name)).unwrap();
    }
    let w = work.path().display();
    ok(outport(
        work.path(),
        &[
            "export",
            src.to_str().unwrap(),
            "-o",
            &format!("type=local,dest={w}/local"),
            "-o",
            &format!("type=tar,dest={w}/fs.tar"),
            "--metadata-file",
            &format!("{w}/meta.json"),
        ],
    ));
    assert!(fs::symlink_metadata(work.path().join("local")).unwrap().file_type().is_symlink(), "the link stays");
    assert_eq!(fs::read_to_string(volume.join("hello.txt")).unwrap(), "hello\n", "written through the link");
    assert!(volume.join("existing").exists(), "copy mode keeps what was there");
    assert_eq!(fs::read_to_string(&victim).unwrap(), "do not overwrite");
    for name in ["fs.tar", "meta.json"] {
        assert!(fs::symlink_metadata(work.path().join(name)).unwrap().is_file(), "{name}: the link was replaced");
    }
    ok(export_tree(work.path(), &src, &format!("type=oci,tar=false,dest={w}/layout"), &[]));
    assert!(volume.join("index.json").exists() && volume.join("blobs/sha256").is_dir());
}

/// `expect`: None when the lock must be taken over (the export succeeds), else the error's words.
fn lock_holder_ends_in_time(lock: &str, expect: Option<&str>) {
    let work = tempdir().unwrap();
    let store = work.path().join("store");
    fs::create_dir_all(&store).unwrap();
    if lock == "directory" {
        fs::create_dir(store.join("lock")).unwrap();
    } else {
        fs::write(store.join("lock"), lock).unwrap();
    }
    let started = Instant::now();
    let out = outport_command(work.path(), &["export", example_rootfs().to_str().unwrap(), "-o", "type=cacheonly"])
        .env("OUTPORT_LOCK_TIMEOUT", "2")
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "{lock}: ended in time");
    match expect {
        None => assert!(out.status.success(), "{lock}: taken over: {}", stderr(&out)),
        Some(words) => assert!(!out.status.success() && stderr(&out).contains(words), "{lock}: {}", stderr(&out)),
    }
}

#[test]
fn store_locks_die_with_their_holder_and_never_hang() {
    // A dead process and a garbage lock are taken over at once.
    lock_holder_ends_in_time("999999999 1 -\n", None);
    lock_holder_ends_in_time("not a pid\n", None);
    // PID 1 with another start time: in a container, an earlier run's lock naming PID 1.
    lock_holder_ends_in_time(&format!("1 1 {}\n", hostname()), None);
    // A live process (this test), as an old PID-only lock would name it: waited for, then given up.
    lock_holder_ends_in_time(&format!("{}\n", std::process::id()), Some("OUTPORT_LOCK_TIMEOUT"));
    // A lock written on another machine sharing the directory: waited for, said, then given up.
    lock_holder_ends_in_time(
        "4242 17 other-machine.example\n",
        Some("locked by process 4242 on other-machine.example"),
    );
    lock_holder_ends_in_time("directory", Some("is not a regular file"));
}

fn hostname() -> String {
    // gethostname(2)'s answer, as the lock records it (no `hostname` program needed).
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// As PID 1 (where an unhandled SIGTERM is ignored), SIGTERM ends the export, removes its
/// temporary files and releases the store lock.
#[test]
fn sigterm_ends_a_run_as_pid_1_and_removes_its_temporaries() {
    if skipped_unless_root("unshare --pid needs root") {
        return;
    }
    let work = tempdir().unwrap();
    let src = work.path().join("big");
    fs::create_dir(&src).unwrap();
    // Enough incompressible data to be caught mid-run.
    let mut noise = vec![0u8; 64 << 20];
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for byte in noise.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = b'a' + (x % 16) as u8; // text-like: slower to compress than noise
    }
    fs::write(src.join("noise"), &noise).unwrap();
    let dest = work.path().join("out.tar");
    let mut child = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", env!("CARGO_BIN_EXE_outport"), "export"])
        .arg(&src)
        .args(["-o", &format!("type=oci,compression=zstd,compression-level=19,dest={}", dest.display())])
        .args(["-o", &format!("type=local,dest={}/local", work.path().display())])
        .env("OUTPORT_STORE", work.path().join("store"))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Mid-run: once its output's temporary file exists.
    let waited = Instant::now();
    while !list_files(work.path()).iter().any(|n| n.contains(".out.tar.outport-")) {
        assert!(waited.elapsed() < Duration::from_secs(20), "the export never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // The outport process is unshare's child: PID 1 in its namespace.
    let pid = run("pgrep", &["-P", &child.id().to_string()]).trim().to_string();
    assert!(child.try_wait().unwrap().is_none(), "outport still running");
    run("kill", &["-TERM", &pid]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "SIGTERM did not end the run");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let leftovers: Vec<String> = list_files(work.path())
        .into_iter()
        .filter(|n| n.contains(".outport-") || n.contains("ingest/") || n.ends_with("/lock") || n == "lock")
        .collect();
    assert!(leftovers.is_empty(), "temporary files and the lock removed: {leftovers:?}");
    assert!(!dest.exists());
}

/// Temporary files a killed run left in the store: `store verify` reports them (not as problems)
/// and `store gc` removes them.
#[test]
fn store_gc_removes_stale_temporaries() {
    let work = tempdir().unwrap();
    ok(outport(work.path(), &["export", example_rootfs().to_str().unwrap()]));
    let store = work.path().join("store");
    fs::create_dir_all(store.join("ingest")).unwrap();
    fs::write(store.join("ingest/999999999-1.tmp"), vec![7u8; 4096]).unwrap();
    fs::write(store.join(".index.json.999999999.tmp"), "{").unwrap();
    let live = store.join(format!("ingest/{}-1.tmp", std::process::id()));
    fs::write(&live, "a live writer's").unwrap();
    let report: Value =
        serde_json::from_slice(&ok(outport(work.path(), &["store", "verify", "--json"])).stdout).unwrap();
    assert_eq!(report["problems"], serde_json::json!([]));
    let stale: Vec<&str> = report["stale"].as_array().unwrap().iter().map(|s| s["path"].as_str().unwrap()).collect();
    assert_eq!(stale, [".index.json.999999999.tmp", "ingest/999999999-1.tmp"]);
    let text = String::from_utf8(ok(outport(work.path(), &["store", "verify"])).stdout).unwrap();
    assert!(text.contains("stale: ingest/999999999-1.tmp (4096 bytes)"), "{text}");
    let gc = String::from_utf8(ok(outport(work.path(), &["store", "gc"])).stdout).unwrap();
    assert!(gc.contains("2 temporary files"), "{gc}");
    assert!(!store.join("ingest/999999999-1.tmp").exists() && live.exists(), "only the dead one's");
}

/// A base layout whose blob is a fifo (a read would block for ever) or a symlink out of the layout
/// is refused, naming the blob.
#[test]
fn hostile_base_layout_blobs_are_refused() {
    let work = tempdir().unwrap();
    let layout = work.path().join("layout");
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=oci,tar=false,dest={}", layout.display()), &[]));
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let manifest: Value =
        serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(&manifest_digest)).unwrap()).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap().trim_start_matches("sha256:").to_string();
    let blob = layout.join("blobs/sha256").join(&layer);
    let base = format!("oci:{}", layout.display());
    let app = source(work.path());
    let spec = &format!("type=oci,dest={}/out.tar,compression=zstd,force-compression=true", work.path().display());

    fs::remove_file(&blob).unwrap();
    run("mkfifo", &[blob.to_str().unwrap()]);
    let started = Instant::now();
    let out = outport_command(work.path(), &["export", app.to_str().unwrap(), "--base", &base, "-o", spec])
        .env("OUTPORT_STORE", work.path().join("store2"))
        .output()
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(20), "did not hang");
    assert!(stderr(&out).contains(&layer) && stderr(&out).contains("not a regular file"), "{}", stderr(&out));

    fs::remove_file(&blob).unwrap();
    fs::write(work.path().join("outside"), "x").unwrap();
    std::os::unix::fs::symlink("../../../outside", &blob).unwrap();
    let out = outport_command(work.path(), &["export", app.to_str().unwrap(), "--base", &base, "-o", spec])
        .env("OUTPORT_STORE", work.path().join("store3"))
        .output()
        .unwrap();
    assert!(stderr(&out).contains("symlink out of blobs/sha256"), "{}", stderr(&out));
}

/// Two outputs to one path, or --metadata-file on an output's path, are refused before anything
/// is written (the same path however spelled).
#[test]
fn duplicate_destinations_are_refused_before_writing() {
    let work = tempdir().unwrap();
    let rootfs = example_rootfs();
    let r = rootfs.to_str().unwrap();
    fs::create_dir(work.path().join("d")).unwrap();
    for args in [
        vec!["-o", "type=oci,dest=a.tar", "-o", "type=tar,dest=a.tar"],
        vec!["-o", "type=oci,dest=a.tar", "-o", "type=docker,dest=./d/../a.tar"],
        vec!["-o", "type=oci,dest=a.tar", "--metadata-file", "a.tar"],
        vec!["-o", "type=local,dest=new/x", "-o", "type=oci,tar=false,dest=new/x/"],
    ] {
        let mut full = vec!["export", r];
        full.extend(&args);
        let out = outport_command(work.path(), &full).current_dir(work.path()).output().unwrap();
        assert!(stderr(&out).contains("write the same path"), "{args:?}: {}", stderr(&out));
        assert!(!work.path().join("a.tar").exists() && !work.path().join("new").exists(), "{args:?}: nothing written");
    }
    // Different files in one new directory are fine.
    ok(outport_command(work.path(), &["export", r, "-o", "type=local,dest=n/x", "-o", "type=local,dest=n/y"])
        .current_dir(work.path())
        .output()
        .unwrap());
}

/// A registry answering a manifest PUT, or a pull by tag, with a Docker-Content-Digest that is not
/// the content's is refused, naming the registry.
#[test]
fn digests_a_registry_states_are_checked() {
    let registry = Registry::start();
    let bogus = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    let proxy = FlakyProxy::with_faults(&registry.addr, Faults { manifest_digest: Some(bogus), ..Faults::default() });
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/lying:1,registry.insecure=true", proxy.addr);
    let out = export_tree(work.path(), &example_rootfs(), &spec, &[]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(&proxy.addr) && stderr(&out).contains("stored it as sha256:0000"),
        "{}",
        stderr(&out)
    );

    // Pushed honestly, then pulled by tag through the lying proxy.
    let spec = format!("type=registry,name={}/honest:1,registry.insecure=true", registry.addr);
    ok(export_tree(work.path(), &example_rootfs(), &spec, &[]));
    let base = format!("{}/honest:1", proxy.addr);
    let app = source(work.path());
    let out = export_tree(work.path(), &app, "type=cacheonly", &["--base", &base, "--base-insecure"]);
    assert_failure(&out, "Docker-Content-Digest says sha256:0000");
}

/// A base whose config gives a wrong diffID is refused wherever its layer is decompressed anyway
/// (force-compression, eStargz conversion), naming the layer.
#[test]
fn a_wrong_base_diff_id_is_refused_where_decompressed() {
    let work = tempdir().unwrap();
    let layout = work.path().join("layout");
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=oci,tar=false,dest={}", layout.display()), &[]));
    let blobs = layout.join("blobs/sha256");
    let read = |digest: &str| -> Value {
        serde_json::from_slice(&fs::read(blobs.join(digest.trim_start_matches("sha256:"))).unwrap()).unwrap()
    };
    let write = |value: &Value| -> (String, u64) {
        let bytes = serde_json::to_vec(value).unwrap();
        let path = blobs.join("new");
        fs::write(&path, &bytes).unwrap();
        let hex = sha256_file(&path);
        fs::rename(&path, blobs.join(&hex)).unwrap();
        (format!("sha256:{hex}"), bytes.len() as u64)
    };
    let mut index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let mut config = read(manifest["config"]["digest"].as_str().unwrap());
    config["rootfs"]["diff_ids"][0] = Value::String(format!("sha256:{}", "0".repeat(64)));
    let (config_digest, config_size) = write(&config);
    manifest["config"]["digest"] = config_digest.into();
    manifest["config"]["size"] = config_size.into();
    let (manifest_digest, manifest_size) = write(&manifest);
    index["manifests"][0]["digest"] = manifest_digest.into();
    index["manifests"][0]["size"] = manifest_size.into();
    fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();

    let app = source(work.path());
    let base = format!("oci:{}", layout.display());
    for options in ["compression=zstd,force-compression=true", "compression=estargz,force-compression=true"] {
        let spec = format!("type=oci,dest={}/out.tar,{options}", work.path().display());
        let out = export_tree(work.path(), &app, &spec, &["--base", &base]);
        assert!(!out.status.success(), "{spec}");
        assert!(stderr(&out).contains("not the diffID sha256:0000"), "{spec}: {}", stderr(&out));
    }
}
