//! Issue 19: the outputs that write the final root filesystem (`type=local`, `type=tar`,
//! `unpack=true`) on a base image, checked against `umoci unpack` of the same image; `docker-archive:`
//! bases (our `type=docker`, `podman save`); `--base` with `--config`.
//!
//! The base is hand-made (Python's tarfile): a lower layer and a gzipped upper one with a whiteout,
//! an opaque directory, a file replaced by a directory and the reverse, a hardlink to a lower-layer
//! file, a symlink climbing out of the root with an entry beneath it, an absolute symlink with an
//! entry beneath it, a device and a fifo.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const MAKE_BASE: &str = include_str!("../../tests/support/make_base.py");

/// The base as an OCI layout `<work>/base` tagged `1`. `escape` names the file placed beneath the
/// climbing symlink (it must end up in `<root>/tmp/`, never in the real /tmp); `bad` adds an entry
/// with that name to the upper layer.
fn make_base(work: &Path, escape: &str, bad: Option<&str>) -> PathBuf {
    let layout = work.join("base");
    let mut args = vec!["-c", MAKE_BASE, layout.to_str().unwrap(), escape];
    args.extend(bad);
    run("python3", &args);
    layout
}

/// `rootfs` exported with `args` (a base among them) as the OCI layout `dest`, named
/// example.com/app:1 (so tagged `1`).
fn app_image(work: &Path, rootfs: &Path, dest: &Path, args: &[&str]) {
    let spec = format!("type=oci,tar=false,dest={},name=example.com/app:1", dest.display());
    ok(export_tree(work, rootfs, &spec, args));
}

fn escape_name() -> String {
    format!("outport-escape-{}", std::process::id())
}

/// `describe_tree`, after taking out (and checking) what a local export does not create: fifos
/// (reading one would block) and, from umoci's rootless unpack, the empty file it puts for a device.
fn tree_without_specials(root: &Path, umoci: bool) -> BTreeMap<String, String> {
    let fifo = root.join("fifo");
    if let Ok(meta) = fs::symlink_metadata(&fifo) {
        assert!(meta.file_type().is_fifo(), "{} is a fifo", fifo.display());
        fs::remove_file(&fifo).unwrap();
    }
    let device = root.join("dev/null");
    if umoci && device.exists() {
        fs::remove_file(device).unwrap();
    }
    describe_tree(root)
}

/// umoci's view of `image` (an OCI layout directory and tag).
fn umoci_tree(work: &Path, image: &str) -> BTreeMap<String, String> {
    let bundle = work.join(format!("bundle-{}", image.len()));
    run("umoci", &["unpack", "--rootless", "--image", image, bundle.to_str().unwrap()]);
    tree_without_specials(&bundle.join("rootfs"), true)
}

/// (name, type, link name, uid, gid, mtime, devmajor, devminor) of every member, by Python's tarfile.
fn tar_members(tar: &Path) -> Vec<Value> {
    let script = "import json, sys, tarfile\nprint(json.dumps([[m.name, m.type.decode(), m.linkname, m.uid, m.gid, int(m.mtime), m.devmajor, m.devminor] for m in tarfile.open(sys.argv[1])]))";
    let listed: Value = serde_json::from_str(&run("python3", &["-c", script, tar.to_str().unwrap()])).unwrap();
    listed.as_array().unwrap().clone()
}

#[test]
fn local_tar_and_unpack_give_the_tree_umoci_gives() {
    let work = tempdir().unwrap();
    let w = work.path();
    let escape = escape_name();
    let layout = make_base(w, &escape, None);
    let base = format!("oci:{}:1", layout.display());
    let rootfs = app_rootfs(w);

    // The reference: umoci unpacking the image outport builds on the same base.
    let image = w.join("image");
    app_image(w, &rootfs, &image, &["--base", &base]);
    let expected = umoci_tree(w, &format!("{}:1", image.display()));
    for name in [
        "tmp/".to_string() + &escape,
        "etc/hosts".into(),
        "opaque/new".into(),
        "f2d/inside".into(),
        "app/new.txt".into(),
    ] {
        assert!(expected.contains_key(&name), "umoci has {name}: {expected:?}");
    }

    let local = w.join("local");
    let out = ok(export_tree(w, &rootfs, &format!("type=local,dest={}", local.display()), &["--base", &base]));
    let warnings = stderr(&out);
    assert!(warnings.contains("dev/null") && warnings.contains("fifo"), "devices and fifos are skipped: {warnings}");
    assert_eq!(tree_without_specials(&local, false), expected);
    let inode = |p: &str| fs::metadata(local.join(p)).unwrap().ino();
    assert_eq!(inode("bin/sh"), inode("bin/busybox"), "the cross-layer hardlink stays one");
    assert!(!Path::new("/tmp").join(&escape).exists(), "nothing is written through the climbing symlink");
    assert_eq!(fs::read_link(local.join("evil")).unwrap(), Path::new("../../../../../../../tmp"));

    // type=tar: the same tree (devices and fifos included), BuildKit's order, every time the epoch.
    let tar = w.join("root.tar");
    ok(export_tree(w, &rootfs, &format!("type=tar,dest={}", tar.display()), &["--base", &base]));
    let members = tar_members(&tar);
    let names: Vec<&str> = members.iter().map(|m| m[0].as_str().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.split('/').map(str::to_string).collect::<Vec<_>>());
    assert_eq!(names, sorted, "depth first, byte-sorted");
    assert!(names.iter().all(|n| !n.contains(".wh.")), "{names:?}");
    let find = |name: &str| members.iter().find(|m| m[0] == name).unwrap_or_else(|| panic!("{name} in {names:?}"));
    assert_eq!((find("bin/sh")[1].as_str(), find("bin/sh")[2].as_str()), (Some("1"), Some("bin/busybox")));
    assert_eq!(
        (find("dev/null")[1].as_str(), &find("dev/null")[6], &find("dev/null")[7]),
        (Some("3"), &Value::from(1), &Value::from(3))
    );
    assert_eq!(find("fifo")[1], "6");
    assert!(members.iter().all(|m| m[5] == 1_445_412_480), "SOURCE_DATE_EPOCH is every entry's time");
    let extracted = w.join("extracted");
    fs::create_dir_all(&extracted).unwrap();
    run("tar", &["-xf", tar.to_str().unwrap(), "-C", extracted.to_str().unwrap(), "--exclude=dev/null"]);
    assert_eq!(tree_without_specials(&extracted, false), expected);

    // unpack=true: the same tree in the store, base entries with their own times.
    let out = ok(export_tree(w, &rootfs, "type=image,name=example.com/app:2,unpack=true", &["--base", &base]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest = meta["containerimage.digest"].as_str().unwrap();
    let unpacked = w.join("store/unpacked").join(&digest[7..]);
    assert_eq!(fs::metadata(unpacked.join("etc/passwd")).unwrap().mtime(), 1_600_000_000);
    assert_eq!(tree_without_specials(&unpacked, false), expected);
}

#[test]
fn base_names_leaving_the_root_are_refused_naming_the_layer() {
    let work = tempdir().unwrap();
    let w = work.path();
    let layout = make_base(w, &escape_name(), Some("../outside"));
    let rootfs = app_rootfs(w);
    let local = w.join("local");
    let out = export_tree(
        w,
        &rootfs,
        &format!("type=local,dest={}", local.display()),
        &["--base", &format!("oci:{}:1", layout.display())],
    );
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(message.contains("base layer sha256:") && message.contains("leaves the layer root"), "{message}");
    assert!(!w.join("outside").exists() && !local.exists(), "nothing written");
}

#[test]
fn docker_archive_bases_from_our_docker_output_and_podman_save() {
    let work = tempdir().unwrap();
    let w = work.path();
    let base_rootfs = write_tree(&w.join("base-rootfs"), &[("base.txt", "base\n")]);
    let ours = w.join("base-docker.tar");
    ok(export_tree(
        w,
        &base_rootfs,
        &format!("type=docker,dest={},name=example.com/base:1", ours.display()),
        &["--env", "BASE=1"],
    ));
    let mut archives = vec![
        format!("docker-archive:{}", ours.display()),
        format!("docker-archive:{}:example.com/base:1", ours.display()),
    ];

    // podman save writes the classic layout (<hex>.tar layers, <hex>.json config), when podman runs here.
    let podman = |args: &[&str]| {
        let storage = [
            "--root",
            w.join("podman/root").to_str().unwrap().to_string().leak(),
            "--runroot",
            w.join("podman/run").to_str().unwrap().to_string().leak(),
            "--storage-driver",
            "vfs",
        ];
        std::process::Command::new("podman").args(storage).args(args).output()
    };
    let saved = w.join("base-podman.tar");
    let loaded = podman(&["load", "-i", ours.to_str().unwrap()]).is_ok_and(|o| o.status.success());
    if loaded
        && podman(&["save", "--format", "docker-archive", "-o", saved.to_str().unwrap(), "example.com/base:1"])
            .is_ok_and(|o| o.status.success())
    {
        archives.push(format!("docker-archive:{}", saved.display()));
    } else {
        eprintln!("podman cannot run here: only our own docker tarball is used as a docker-archive base");
    }

    for base in archives {
        let app_work = tempdir().unwrap();
        let a = app_work.path();
        let rootfs = app_rootfs(a);
        let dest = a.join("out");
        app_image(a, &rootfs, &dest, &["--base", &base]);
        let inspect = skopeo(&["inspect", &format!("oci:{}:1", dest.display())]);
        assert_eq!(inspect["Layers"].as_array().unwrap().len(), 2, "{base}: {inspect}");
        assert!(inspect["Env"].as_array().unwrap().iter().any(|e| e == "BASE=1"), "{base}");
        let tree = umoci_tree(a, &format!("{}:1", dest.display()));
        assert!(tree.contains_key("base.txt") && tree.contains_key("app/new.txt"), "{base}: {tree:?}");
        // And its files come out in type=local.
        let local = a.join("local");
        ok(export_tree(a, &rootfs, &format!("type=local,dest={}", local.display()), &["--base", &base]));
        assert_eq!(fs::read_to_string(local.join("base.txt")).unwrap(), "base\n", "{base}");
    }

    let out = export_tree(
        w,
        &base_rootfs,
        "type=cacheonly",
        &["--base", &format!("docker-archive:{}:nope:1", ours.display())],
    );
    assert!(stderr(&out).contains("no image tagged nope:1"), "{}", stderr(&out));
}

#[test]
fn base_with_config_file_merges_as_a_dockerfile_stage() {
    let work = tempdir().unwrap();
    let w = work.path();
    let layout = make_base(w, &escape_name(), None);
    let rootfs = app_rootfs(w);
    let config = w.join("config.json");
    fs::write(&config, r#"{"config":{"Env":["BASE=2","NEW=1"],"WorkingDir":"/app"}}"#).unwrap();
    let dest = w.join("out");
    app_image(
        w,
        &rootfs,
        &dest,
        &["--base", &format!("oci:{}:1", layout.display()), "--config", config.to_str().unwrap()],
    );
    let got = skopeo(&["inspect", "--config", &format!("oci:{}:1", dest.display())]);
    assert_eq!(got["config"]["Env"], serde_json::json!(["PATH=/usr/bin:/bin", "BASE=2", "NEW=1"]));
    assert_eq!(got["config"]["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(got["config"]["WorkingDir"], "/app");
    let history = got["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{history:?}");
    assert_eq!(
        (history[0]["created_by"].as_str(), history[0]["created"].as_str()),
        (Some("lower"), Some("2020-01-01T00:00:00Z"))
    );
    assert_eq!(got["rootfs"]["diff_ids"].as_array().unwrap().len(), 3);
}
