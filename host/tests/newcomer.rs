//! What a newcomer from buildx, ko or containerify trips over: app layers that change on every
//! `npm ci`, `.dockerignore`, buildx flags typed out of habit, `--annotation`, `--node-app` that
//! cannot run.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn app(work: &Path) -> PathBuf {
    write_tree(
        &work.join("app"),
        &[
            ("node_modules/dep/index.js", "module.exports = 1;\n"),
            ("package.json", r#"{"name":"app","scripts":{"start":"node server.js"}}"#),
            ("server.js", "console.log('hi');\n"),
        ],
    )
}

fn layer_digests(out: &std::process::Output, layout: &Path) -> Vec<String> {
    assert!(out.status.success(), "{}", stderr(out));
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap().replace(':', "/");
    let manifest: Value = serde_json::from_slice(&fs::read(layout.join("blobs").join(digest)).unwrap()).unwrap();
    manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

/// `rm -rf node_modules && npm ci` gives every file new mtimes: the layers stay the same (and so a
/// push uploads nothing again), unless --keep-mtimes.
#[test]
fn app_layers_do_not_change_when_nothing_in_them_changed() {
    let work = tempdir().unwrap();
    let app = app(work.path());
    let a = app.to_str().unwrap();
    let export = |name: &str, extra: &[&str]| {
        let layout = work.path().join(name);
        let mut args = vec!["export", "--node-app", a, "--layer", a, "-o"];
        let spec = format!("type=oci,tar=false,dest={}", layout.display());
        args.push(&spec);
        args.extend_from_slice(extra);
        let out = outport_command(work.path(), &args).env_remove("SOURCE_DATE_EPOCH").output().unwrap();
        layer_digests(&out, &layout)
    };
    let first = export("one", &[]);
    let kept = export("kept-one", &["--keep-mtimes"]);
    // A reinstall: same bytes, new files, new mtimes.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    fs::remove_dir_all(app.join("node_modules")).unwrap();
    fs::create_dir_all(app.join("node_modules/dep")).unwrap();
    fs::write(app.join("node_modules/dep/index.js"), "module.exports = 1;\n").unwrap();
    fs::write(app.join("server.js"), "console.log('hi');\n").unwrap();
    assert_eq!(export("two", &[]), first, "the same layers after a reinstall");
    assert_ne!(export("kept-two", &["--keep-mtimes"]), kept, "--keep-mtimes keeps the new mtimes");
    // The entries carry time 0 without an epoch.
    let listing = run(
        "tar",
        &[
            "--numeric-owner",
            "--full-time",
            "-tvzf",
            &work.path().join("one/blobs").join(first[0].replace(':', "/")).to_string_lossy(),
        ],
    );
    assert!(listing.lines().all(|l| l.contains("1970-01-01")), "{listing}");
}

/// A buildx user's `.dockerignore` keeps secrets out; `.outportignore` wins when both exist;
/// neither file goes into the image; progress says which one was used.
#[test]
fn dockerignore_is_read_and_outportignore_wins() {
    let work = tempdir().unwrap();
    let src = write_tree(
        &work.path().join("ctx"),
        &[
            ("secret.txt", "hunter2\n"),
            ("debug.log", "noise\n"),
            ("app.js", "ok\n"),
            (".dockerignore", "secret.txt\n*.log\n"),
        ],
    );
    let tar = work.path().join("fs.tar");
    let spec = format!("type=tar,dest={}", tar.display());
    let layer = format!("{}:/srv", src.display());
    let out = ok(outport(work.path(), &["export", "--layer", &layer, "-o", &spec, "--progress", "plain"]));
    let names = run("tar", &["tf", tar.to_str().unwrap()]);
    assert_eq!(names.lines().collect::<Vec<_>>(), ["srv/", "srv/app.js"], "{names}");
    assert!(
        stderr(&out).contains("#progress ignore-file") && stderr(&out).contains(".dockerignore"),
        "{}",
        stderr(&out)
    );

    fs::write(src.join(".outportignore"), "*.log\n").unwrap();
    let out = ok(outport(work.path(), &["export", "--layer", &layer, "-o", &spec, "--progress", "plain"]));
    let names = run("tar", &["tf", tar.to_str().unwrap()]);
    assert_eq!(names.lines().collect::<Vec<_>>(), ["srv/", "srv/app.js", "srv/secret.txt"], "{names}");
    assert!(stderr(&out).contains(".outportignore"), "{}", stderr(&out));
}

/// buildx flags that only make sense when building get one line, not clap's tip.
#[test]
fn build_flags_are_refused_in_one_line() {
    let work = tempdir().unwrap();
    let r = example_rootfs();
    for flag in ["--build-arg=A=1", "--cache-to", "-f", "--target", "--secret", "--ssh", "--cache-from"] {
        let out = outport(work.path(), &["export", r.to_str().unwrap(), flag, "x"]);
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let message = stderr(&out);
        assert_eq!(message.lines().count(), 1, "{flag}: {message}");
        assert!(message.contains("docker buildx build flag"), "{flag}: {message}");
    }
}

/// `--annotation` in buildx's syntax lands where buildx puts it, on every image output.
#[test]
fn annotation_flags_land_on_manifest_and_index() {
    let work = tempdir().unwrap();
    let read = |path: PathBuf| -> Value { serde_json::from_slice(&fs::read(path).unwrap()).unwrap() };
    let blob = |layout: &Path, digest: &Value| layout.join("blobs").join(digest.as_str().unwrap().replace(':', "/"));
    let layout = work.path().join("layout");
    let spec = format!("type=oci,tar=false,dest={}", layout.display());
    let r = example_rootfs();
    ok(outport(work.path(), &["export", r.to_str().unwrap(), "-o", &spec, "--annotation", "org.example.plain=1"]));
    let index = read(layout.join("index.json"));
    let manifest = read(blob(&layout, &index["manifests"][0]["digest"]));
    assert_eq!(manifest["annotations"]["org.example.plain"], "1", "{manifest}");

    // Several platforms: an index, annotated where the types say.
    let result = two_platform_result(work.path(), &[("a.txt", "{arch}")]);
    let multi = work.path().join("multi");
    let spec = format!("type=oci,tar=false,dest={}", multi.display());
    ok(export_result(work.path(), &result, &spec, &["--annotation", "index,manifest[linux/arm64]:org.example.both=2"]));
    let top = read(multi.join("index.json"));
    let index = read(blob(&multi, &top["manifests"][0]["digest"]));
    assert_eq!(index["annotations"]["org.example.both"], "2", "{index}");
    for entry in index["manifests"].as_array().unwrap() {
        let manifest = read(blob(&multi, &entry["digest"]));
        let expected = if entry["platform"]["architecture"] == "arm64" { Value::from("2") } else { Value::Null };
        assert_eq!(manifest["annotations"]["org.example.both"], expected, "{entry}");
    }
    let out = outport(work.path(), &["export", r.to_str().unwrap(), "--annotation", "layer:k=v"]);
    assert!(stderr(&out).contains(r#"unknown annotation type "layer""#), "{}", stderr(&out));
}

/// A --node-app image that would not run says why before it is built.
#[test]
fn node_app_warns_what_would_fail_at_run_time() {
    let work = tempdir().unwrap();
    let app = work.path().join("bare");
    fs::create_dir_all(&app).unwrap();
    fs::write(app.join("package.json"), r#"{"name":"bare"}"#).unwrap();
    fs::write(app.join("index.js"), "\n").unwrap();
    let out = ok(outport(work.path(), &["export", "--node-app", app.to_str().unwrap(), "-o", "type=cacheonly"]));
    let message = stderr(&out);
    assert!(message.contains("no node_modules (run `npm ci` first)"), "{message}");
    assert!(message.contains(r#"package.json has no "start" script"#), "{message}");
    assert!(message.contains("without --base"), "{message}");
    // An explicit entrypoint needs no start script.
    let out = ok(outport(
        work.path(),
        &[
            "export",
            "--node-app",
            app.to_str().unwrap(),
            "--entrypoint",
            r#"["node","index.js"]"#,
            "-o",
            "type=cacheonly",
        ],
    ));
    assert!(!stderr(&out).contains("start"), "{}", stderr(&out));
}

/// A plain-HTTP registry reached without registry.insecure / --base-insecure: the error says what
/// it is and what to add, not "received corrupt message of type InvalidContentType".
#[test]
fn a_plain_http_registry_is_recognised() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/plain:1", registry.addr);
    let out = export_tree(work.path(), &example_rootfs(), &spec, &[]);
    let message = stderr(&out);
    assert!(message.contains("speaks plain HTTP") && message.contains("registry.insecure=true"), "{message}");

    let pushed = format!("type=registry,name={}/plain:1,registry.insecure=true", registry.addr);
    ok(export_tree(work.path(), &example_rootfs(), &pushed, &[]));
    let base = format!("{}/plain:1", registry.addr);
    let out = export_tree(work.path(), &example_rootfs(), "type=cacheonly", &["--base", &base]);
    let message = stderr(&out);
    assert!(message.contains("speaks plain HTTP") && message.contains("--base-insecure"), "{message}");
}

/// A base image in a private registry: --base-creds logs in for the pull; --creds (for pushes)
/// never goes there, and the error names what works.
#[test]
fn base_creds_log_in_for_the_base_image() {
    let registry = AuthRegistry::start("basic");
    let ca = registry.ca.to_str().unwrap().to_string();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/private:1", registry.addr);
    ok(export_tree(work.path(), &example_rootfs(), &spec, &["--creds", &registry.creds(), "--registry-ca", &ca]));
    let base = format!("{}/private:1", registry.addr);
    let args = |extra: &[&str]| {
        let mut args = vec!["--base", base.as_str(), "--registry-ca", ca.as_str()];
        args.extend_from_slice(extra);
        export_tree(work.path(), &example_rootfs(), "type=cacheonly", &args)
    };
    for extra in [vec![], vec!["--creds", "nobody:wrong"]] {
        let out = args(&extra);
        let message = stderr(&out);
        assert!(!out.status.success(), "{extra:?}");
        assert!(message.contains("--base-creds") && message.contains("docker login"), "{extra:?}: {message}");
    }
    let creds = registry.creds();
    let out = ok(args(&["--base-creds", &creds]));
    assert!(!stderr(&out).contains(&registry.password), "the secret is never printed");
}

/// A local layout given to --base without `oci:` gets the prefix it needs, not a registry error.
#[test]
fn a_local_base_without_its_prefix_is_named() {
    let work = tempdir().unwrap();
    let layout = work.path().join("layout");
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=oci,tar=false,dest={}", layout.display()), &[]));
    let tarball = work.path().join("image.tar");
    ok(export_tree(work.path(), &example_rootfs(), &format!("type=oci,dest={}", tarball.display()), &[]));
    for (base, prefix) in [(&layout, "--base oci:"), (&tarball, "--base oci-archive:")] {
        let out = export_tree(work.path(), &example_rootfs(), "type=cacheonly", &["--base", base.to_str().unwrap()]);
        assert!(stderr(&out).contains(prefix), "{}", stderr(&out));
    }
}

/// Blobs the registry already has are reported as `exists` (nothing sent), not as a transfer.
#[test]
fn blobs_already_in_the_registry_show_as_existing() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={}/again:1,registry.insecure=true", registry.addr);
    ok(export_tree(work.path(), &example_rootfs(), &spec, &["--progress", "plain"]));
    let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--progress", "plain"]));
    let progress = stderr(&out);
    let lines: Vec<&str> = progress.lines().filter(|l| l.contains(" sha256:")).collect();
    assert!(lines.iter().any(|l| l.starts_with("#progress exists sha256:")), "{lines:?}");
    assert!(!lines.iter().any(|l| l.starts_with("#progress push sha256:")), "nothing pushed again: {lines:?}");
}

/// `outport rm NAME…` forgets names (all or nothing) so `store gc` reclaims their blobs.
#[test]
fn rm_forgets_names_and_gc_reclaims() {
    let work = tempdir().unwrap();
    ok(outport(work.path(), &["export", example_rootfs().to_str().unwrap(), "-t", "one:1", "-t", "two:1"]));
    let out = outport(work.path(), &["rm", "one:1", "missing:1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no image named docker.io/library/missing:1"), "{}", stderr(&out));
    let out = ok(outport(work.path(), &["rm", "one:1", "docker.io/library/two:1"]));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "removed docker.io/library/one:1\nremoved docker.io/library/two:1\n"
    );
    let images = String::from_utf8_lossy(&ok(outport(work.path(), &["images", "--json"])).stdout).into_owned();
    assert_eq!(images.trim(), "[]");
    let gc = String::from_utf8_lossy(&ok(outport(work.path(), &["store", "gc"])).stdout).into_owned();
    assert!(gc.contains("kept 0"), "{gc}");
    let out = outport(work.path(), &["rm"]);
    assert_eq!(out.status.code(), Some(2), "a name is needed");
}

/// buildx's `--sbom=true` and `--provenance=mode=min` on the command line attach the attestations.
#[test]
fn sbom_and_provenance_flags_attach_attestations() {
    let work = tempdir().unwrap();
    let app = app(work.path());
    let layout = work.path().join("layout");
    let spec = format!("type=oci,tar=false,dest={}", layout.display());
    ok(outport(
        work.path(),
        &["export", "--node-app", app.to_str().unwrap(), "--sbom=true", "--provenance=mode=min", "-o", &spec],
    ));
    let index: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let root = layout.join("blobs").join(index["manifests"][0]["digest"].as_str().unwrap().replace(':', "/"));
    let root: Value = serde_json::from_slice(&fs::read(root).unwrap()).unwrap();
    let kinds: Vec<&str> = root["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["annotations"]["vnd.docker.reference.type"].as_str())
        .collect();
    assert_eq!(kinds, ["attestation-manifest"], "{root}");
    let out = outport(work.path(), &["export", "--node-app", app.to_str().unwrap(), "--sbom=maybe"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--sbom"), "{}", stderr(&out));
}
