//! Containerizing an app: `--layer SRC[:DEST]` (directories, files, layer tarballs), `--owner`,
//! `--exclude` and `.outportignore`, and the `--node-app` preset on a base image in a real registry
//! (Debian's docker-registry), checked with skopeo and GNU tar.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

/// The CLI run from `work`, so relative source paths are relative to it.
fn outport_in(work: &Path, args: &[&str]) -> std::process::Output {
    outport_command(work, args).current_dir(work).output().unwrap()
}

/// The manifest and config of the single image in OCI layout `dir`.
fn oci_image(dir: &Path) -> (Value, Value) {
    let read = |digest: &str| -> Value {
        serde_json::from_slice(&fs::read(dir.join("blobs").join(digest.replace(':', "/"))).unwrap()).unwrap()
    };
    let index = read_json(&dir.join("index.json"));
    let manifest = read(index["manifests"][0]["digest"].as_str().unwrap());
    let config = read(manifest["config"]["digest"].as_str().unwrap());
    (manifest, config)
}

fn layer_paths(dir: &Path, manifest: &Value) -> Vec<PathBuf> {
    let layers = manifest["layers"].as_array().unwrap();
    layers.iter().map(|l| dir.join("blobs").join(l["digest"].as_str().unwrap().replace(':', "/"))).collect()
}

/// `tar -tv` of a layer blob (GNU tar recognises gzip and zstd itself), one "uid/gid path[ -> target]"
/// per entry.
fn listing(blob: &Path) -> Vec<String> {
    let text = run("tar", &["--numeric-owner", "-tvf", blob.to_str().unwrap()]);
    text.lines()
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            format!("{} {}", fields[1], fields[5..].join(" "))
        })
        .collect()
}

fn decompressed_sha256(blob: &Path) -> String {
    let out = run("sh", &["-c", &format!("(zstd -dcq {0} 2>/dev/null || zcat -f {0}) | sha256sum", blob.display())]);
    format!("sha256:{}", &out[..64])
}

/// A site directory with an ignore file, a config file and three layer tarballs of one tree.
fn sources(work: &Path) {
    let site = work.join("site");
    fs::create_dir_all(site.join("sub")).unwrap();
    fs::write(site.join("index.html"), "<h1>hi</h1>\n").unwrap();
    fs::write(site.join("a.log"), "noise\n").unwrap();
    fs::write(site.join("keep.log"), "kept\n").unwrap();
    fs::write(site.join("sub/x.map"), "map\n").unwrap();
    fs::write(site.join("sub/y.js"), "js\n").unwrap();
    fs::write(site.join("sub/z.js"), "js\n").unwrap();
    fs::write(site.join(".outportignore"), "# logs\n*.log\n!keep.log\n\n**/*.map\n").unwrap();
    symlink("/nonexistent/target", site.join("dangling")).unwrap();
    symlink("../../../etc/passwd", site.join("outward")).unwrap();
    fs::create_dir_all(work.join("conf")).unwrap();
    fs::write(work.join("conf/app.conf"), "port=80\n").unwrap();
    let tree = work.join("tree");
    fs::create_dir_all(tree.join("opt/tool")).unwrap();
    fs::write(tree.join("opt/tool/run"), "#!/bin/sh\n").unwrap();
    let t = |args: &str| run("sh", &["-c", &format!("cd {} && {args}", work.display())]);
    t("tar -C tree -cf tool.tar opt && gzip -9 -c tool.tar > tool.tar.gz && zstd -q -19 tool.tar -o tool.tar.zst");
}

#[test]
fn layers_go_where_asked_with_owner_and_excludes() {
    let work = tempdir().unwrap();
    let w = work.path();
    sources(w);
    let out_dir = w.join("out");
    ok(outport_in(
        w,
        &[
            "export",
            "--layer",
            "site:/srv/www",
            "--layer",
            "conf/app.conf:/etc/app/",
            "--layer",
            "tool.tar",
            "--layer",
            "tool.tar.gz:/",
            "--layer",
            "tool.tar.zst",
            "--owner",
            "1234:5678",
            "--exclude",
            "sub/y.js",
            "-o",
            &format!("type=oci,dest={},tar=false", out_dir.display()),
        ],
    ));
    let (manifest, config) = oci_image(&out_dir);
    let blobs = layer_paths(&out_dir, &manifest);
    assert_eq!(blobs.len(), 5, "{manifest}");

    assert_eq!(
        listing(&blobs[0]),
        [
            "0/0 srv/",
            "1234/5678 srv/www/",
            "1234/5678 srv/www/dangling -> /nonexistent/target",
            "1234/5678 srv/www/index.html",
            "1234/5678 srv/www/keep.log",
            "1234/5678 srv/www/outward -> ../../../etc/passwd",
            "1234/5678 srv/www/sub/",
            "1234/5678 srv/www/sub/z.js",
        ]
    );
    assert_eq!(listing(&blobs[1]), ["0/0 etc/", "0/0 etc/app/", "1234/5678 etc/app/app.conf"]);
    // Tarballs are taken as is: same bytes (so the same diffID) whatever compression they came in.
    let tar_digest = format!("sha256:{}", sha256_file(&w.join("tool.tar")));
    let diff_ids: Vec<&str> =
        config["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
    assert_eq!(diff_ids[2..], [tar_digest.as_str(); 3], "{config}");
    for (blob, diff_id) in blobs.iter().zip(&diff_ids) {
        assert_eq!(decompressed_sha256(blob), *diff_id, "{}", blob.display());
    }
    let me = run("id", &["-u"]).trim().to_string();
    assert!(listing(&blobs[2]).contains(&format!("{me}/{} opt/tool/run", run("id", &["-g"]).trim())));

    let inspect = run("skopeo", &["inspect", &format!("oci:{}", out_dir.display())]);
    assert!(inspect.contains("\"Layers\""), "{inspect}");
}

/// BuildKit's COPY sees a build context that buildx and BuildKit's client sent with every uid/gid
/// reset to 0: `--layer` entries are root's unless `--owner` says otherwise, and a socket becomes an
/// empty regular file with mode 0755. ROOTFS, a root filesystem, keeps its owners and skips sockets
/// as BuildKit's differ does.
#[test]
fn copied_sources_are_roots_and_rootfs_keeps_its_owners() {
    let work = tempdir().unwrap();
    let w = work.path();
    let src = write_tree(&w.join("src"), &[("f", "x")]);
    let _socket = std::os::unix::net::UnixListener::bind(src.join("sock")).unwrap();
    let out_dir = w.join("out");
    let spec = format!("type=oci,dest={},tar=false", out_dir.display());
    ok(outport_in(w, &["export", "src", "--layer", "src:/app", "-o", &spec]));
    let (manifest, _) = oci_image(&out_dir);
    let blobs = layer_paths(&out_dir, &manifest);
    let me = format!("{}/{}", run("id", &["-u"]).trim(), run("id", &["-g"]).trim());
    assert_eq!(listing(&blobs[0]), [format!("{me} f")]);
    assert_eq!(listing(&blobs[1]), ["0/0 app/", "0/0 app/f", "0/0 app/sock"]);
    let verbose = run("tar", &["--numeric-owner", "-tvf", blobs[1].to_str().unwrap()]);
    let sock: Vec<&str> = verbose.lines().find(|l| l.ends_with(" app/sock")).unwrap().split_whitespace().collect();
    assert_eq!((sock[0], sock[2]), ("-rwxr-xr-x", "0"), "{verbose}");

    let owned = w.join("owned");
    let spec = format!("type=oci,dest={},tar=false", owned.display());
    ok(outport_in(w, &["export", "--layer", "src:/app", "--owner", "7:8", "-o", &spec]));
    let (manifest, _) = oci_image(&owned);
    assert_eq!(listing(&layer_paths(&owned, &manifest)[0]), ["7/8 app/", "7/8 app/f", "7/8 app/sock"]);
}

#[test]
fn bad_layer_inputs_are_named() {
    let work = tempdir().unwrap();
    let w = work.path();
    sources(w);
    let evil = "import io, tarfile\nwith tarfile.open('up.tar', 'w') as t:\n    i = tarfile.TarInfo('../escape')\n    i.size = 1\n    t.addfile(i, io.BytesIO(b'x'))\n";
    run("sh", &["-c", &format!("cd {} && python3 -c \"$0\"", w.display()), evil]);
    let spec = format!("type=oci,dest={}", w.join("out.tar").display());
    let cases: [(&[&str], &str); 8] = [
        (&["--layer", "missing-dir"], "--layer missing-dir"),
        (&["--layer", "site:srv"], "not an absolute path"),
        (&["--layer", "site:/srv/../etc"], "must not contain '..'"),
        (&["--layer", "tool.tar:/opt"], "its destination can only be /"),
        (&["--layer", "site", "--owner", "root"], "--owner root: expected UID:GID"),
        (&["--layer", "site", "--exclude", "[oops"], "[oops"),
        (&["--layer", "site", "--result", "r.json"], "give either --layer or --result FILE"),
        (&["--layer", "up.tar"], ".."),
    ];
    for (args, expected) in cases {
        let mut all = vec!["export", "-o", &spec];
        all.extend_from_slice(args);
        let out = outport_in(w, &all);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: expected {expected:?} in: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let out = outport_in(w, &["export", "-o", &spec]);
    assert!(stderr(&out).contains("nothing to export"), "{}", stderr(&out));
}

#[test]
fn layer_tarballs_are_unpacked_into_filesystem_outputs() {
    // They used to be refused ("cannot go into this output"); they are applied like base layers now.
    let work = tempdir().unwrap();
    let w = work.path();
    sources(w);
    ok(outport_in(w, &["export", "--layer", "tool.tar.gz", "--layer", "conf:/etc", "-o", "type=tar,dest=t.tar"]));
    let listing = run("tar", &["-tf", w.join("t.tar").to_str().unwrap()]);
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names, ["etc/", "etc/app.conf", "opt/", "opt/tool/", "opt/tool/run"], "{listing}");
    ok(outport_in(w, &["export", "--layer", "tool.tar.zst", "-o", "type=local,dest=l"]));
    assert_eq!(fs::read_to_string(w.join("l/opt/tool/run")).unwrap(), "#!/bin/sh\n");
}

/// A small Node app: dependencies, code, and files that must stay out of the image.
fn node_app(work: &Path) -> PathBuf {
    let left_pad = "module.exports = (s) => s;\n".repeat(2000);
    write_tree(
        &work.join("app"),
        &[
            ("node_modules/left-pad/index.js", &left_pad),
            ("package.json", r#"{"name":"app","scripts":{"start":"node server.js"}}"#),
            ("server.js", "console.log('v1');\n"),
            (".npmrc", "//registry.npmjs.org/:_authToken=secret\n"),
            (".git/HEAD", "ref: refs/heads/main\n"),
            ("notes.tmp", "scratch\n"),
            (".outportignore", "*.tmp\n"),
        ],
    )
}

/// Blobs the registry received in full (the PUT that completes an upload), by digest.
fn uploaded(proxy: &FlakyProxy) -> Vec<String> {
    let requests = proxy.requests.lock().unwrap();
    let puts = requests.iter().filter(|l| l.starts_with("PUT ") && l.contains("/blobs/uploads/"));
    puts.filter_map(|l| l.split("digest=").nth(1))
        .map(|d| d.split([' ', '&']).next().unwrap().replace("%3A", ":"))
        .collect()
}

#[test]
fn node_app_on_a_registry_base_reuploads_only_the_app_layer() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let w = work.path();
    let base_root = write_tree(&w.join("base-rootfs"), &[("usr/local/bin/node", "#!/bin/sh\n")]);
    let base = format!("{}/node:20", registry.addr);
    let base_spec = format!("type=registry,name={base},registry.insecure=true");
    ok(export_tree(w, &base_root, &base_spec, &["--cmd", r#"["node"]"#]));
    let base_layers = 1;

    let app = node_app(w);
    let proxy = FlakyProxy::with_faults(&registry.addr, Faults::default());
    let target = format!("{}/app:1", proxy.addr);
    let push = |w: &Path| {
        ok(outport_in(
            w,
            &[
                "export",
                "--node-app",
                app.to_str().unwrap(),
                "--base",
                &base,
                "--base-insecure",
                "--healthcheck-cmd",
                r#"["CMD","node","-e","process.exit(0)"]"#,
                "--healthcheck-interval",
                "30s",
                "-o",
                &format!("type=registry,name={target},registry.insecure=true"),
            ],
        ))
    };
    push(w);
    let inspect = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{target}")]);
    let layers = layers(&inspect);
    assert_eq!(layers.len(), base_layers + 2, "{inspect}");
    let config = skopeo(&["inspect", "--config", "--raw", "--tls-verify=false", &format!("docker://{target}")]);
    let c = &config["config"];
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["Entrypoint"], serde_json::json!(["npm", "start"]));
    assert_eq!(c["User"], "1000");
    assert!(c.get("Cmd").is_none_or(Value::is_null), "a new entrypoint drops the base's Cmd: {c}");
    assert_eq!(c["Healthcheck"]["Test"], serde_json::json!(["CMD", "node", "-e", "process.exit(0)"]));
    assert_eq!(c["Healthcheck"]["Interval"], 30_000_000_000u64);

    // What went into the two layers.
    let copy = w.join("copy");
    run(
        "skopeo",
        &["copy", "-q", "--src-tls-verify=false", &format!("docker://{target}"), &format!("oci:{}", copy.display())],
    );
    let (manifest, _) = oci_image(&copy);
    let blobs = layer_paths(&copy, &manifest);
    let deps = listing(&blobs[base_layers]);
    assert!(deps.iter().any(|l| l.ends_with(" app/node_modules/left-pad/index.js")), "{deps:?}");
    assert!(!deps.iter().any(|l| l.ends_with("server.js")), "{deps:?}");
    let code: Vec<String> =
        listing(&blobs[base_layers + 1]).into_iter().map(|l| l.split_once(' ').unwrap().1.to_string()).collect();
    assert_eq!(code, ["app/", "app/package.json", "app/server.js"], ".npmrc, .git, node_modules, *.tmp left out");

    // A code-only change: only the app layer and the config go up again.
    fs::write(app.join("server.js"), "console.log('v2');\n").unwrap();
    proxy.requests.lock().unwrap().clear();
    push(w);
    let inspect2 = skopeo(&["inspect", "--tls-verify=false", &format!("docker://{target}")]);
    let layers2 = common::layers(&inspect2);
    assert_eq!(layers2[..base_layers + 1], layers[..base_layers + 1], "base and dependencies layers unchanged");
    assert_ne!(layers2[base_layers + 1], layers[base_layers + 1]);
    let manifest2 = skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{target}")]);
    let mut sent = uploaded(&proxy);
    sent.sort();
    let mut expected =
        vec![layers2[base_layers + 1].clone(), manifest2["config"]["digest"].as_str().unwrap().to_string()];
    expected.sort();
    assert_eq!(sent, expected, "only the app layer and the config are uploaded again");
}
