//! Exporter options end to end: names, the docker tarball, annotations, cacheonly,
//! rewrite-timestamp and --metadata-file, checked with skopeo and by reading the JSON written.

mod common;

use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

/// Unpack an OCI-layout tarball and return (index.json, root manifest, layout dir).
fn unpack_layout(tarball: &Path, into: &Path) -> (Value, Value) {
    fs::create_dir_all(into).unwrap();
    run("tar", &["-xf", tarball.to_str().unwrap(), "-C", into.to_str().unwrap()]);
    let index = read_json(&into.join("index.json"));
    let digest = index["manifests"][0]["digest"].as_str().unwrap().to_string();
    let manifest = read_json(&into.join("blobs/sha256").join(&digest[7..]));
    (index, manifest)
}

fn export(work: &Path, rootfs: &Path, spec: &str) -> Value {
    serde_json::from_slice(&ok(export_tree(work, rootfs, spec, &[])).stdout).unwrap()
}

#[test]
fn docker_tarball_loads_with_repo_tags_and_docker_media_types() {
    let work = tempdir().unwrap();
    let dest = work.path().join("docker.tar");
    let meta = export(
        work.path(),
        &example_rootfs(),
        &format!("type=docker,dest={},\"name=foo,example.com/buildkit/testoci:v2\"", dest.display()),
    );
    assert_eq!(meta["image.name"], "docker.io/library/foo:latest,example.com/buildkit/testoci:v2");

    let inspect = skopeo(&["inspect", &format!("docker-archive:{}", dest.display())]);
    assert_eq!(inspect["Layers"].as_array().unwrap().len(), 1);
    let dir = work.path().join("x");
    let (index, manifest) = unpack_layout(&dest, &dir);
    assert_eq!(manifest["mediaType"], "application/vnd.docker.distribution.manifest.v2+json");
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.docker.container.image.v1+json");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.docker.image.rootfs.diff.tar.gzip");
    // index.json stays an OCI index, one entry per name.
    assert_eq!(index["mediaType"], "application/vnd.oci.image.index.v1+json");
    let names: Vec<&str> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["annotations"]["io.containerd.image.name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["docker.io/library/foo:latest", "example.com/buildkit/testoci:v2"]);
    let manifest_json = read_json(&dir.join("manifest.json"));
    assert_eq!(manifest_json[0]["RepoTags"], serde_json::json!(["foo:latest", "example.com/buildkit/testoci:v2"]));
    assert!(dir.join(manifest_json[0]["Config"].as_str().unwrap()).is_file());
    assert!(dir.join(manifest_json[0]["Layers"][0].as_str().unwrap()).is_file());
}

#[test]
fn oci_names_are_addressable_by_tag() {
    let work = tempdir().unwrap();
    let dest = work.path().join("oci.tar");
    let meta = export(
        work.path(),
        &example_rootfs(),
        &format!("type=oci,dest={},\"name=foo:v1,ghcr.io/o/bar:v2\"", dest.display()),
    );
    for tag in ["v1", "v2"] {
        let inspect = skopeo(&["inspect", &format!("oci-archive:{}:{tag}", dest.display())]);
        assert_eq!(inspect["Digest"], meta["containerimage.digest"]);
    }
}

#[test]
fn annotations_land_where_buildkit_puts_them() {
    let work = tempdir().unwrap();
    let dest = work.path().join("a.tar");
    let spec = format!(
        "type=oci,dest={},annotation.org.opencontainers.image.title=hello,annotation-manifest-descriptor.d=desc,annotation[linux/arm64].ignored=x,annotation-manifest-descriptor.org.opencontainers.image.created=2022-01-23T12:34:56Z",
        dest.display()
    );
    let meta = export(work.path(), &example_rootfs(), &spec);
    let (index, manifest) = unpack_layout(&dest, &work.path().join("x"));
    assert_eq!(manifest["annotations"], serde_json::json!({"org.opencontainers.image.title": "hello"}));
    let entry = &index["manifests"][0]["annotations"];
    assert_eq!(entry["d"], "desc");
    // A user-given created annotation overrides the automatic one.
    assert_eq!(entry["org.opencontainers.image.created"], "2022-01-23T12:34:56Z");
    assert_eq!(meta["containerimage.descriptor"]["annotations"], *entry);

    let out = outport(
        work.path(),
        &[
            "export",
            example_rootfs().to_str().unwrap(),
            "-o",
            &format!("type=oci,dest={},annotation-index.k=v", dest.display()),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("index annotations not supported for single platform export"), "{}", stderr(&out));
}

#[test]
fn cacheonly_reports_digests_and_writes_nothing() {
    let work = tempdir().unwrap();
    let before = list_files(work.path());
    let out = ok(outport(work.path(), &["export", example_rootfs().to_str().unwrap(), "-o", "type=cacheonly"]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(meta["containerimage.digest"].as_str().unwrap().starts_with("sha256:"));
    let after: Vec<String> = list_files(work.path()).into_iter().filter(|f| !f.starts_with("store")).collect();
    assert_eq!(after, before);
}

#[test]
fn rewrite_timestamp_makes_digests_independent_of_file_mtimes() {
    let work = tempdir().unwrap();
    let mut digests = Vec::new();
    for (i, stamp) in ["2020-01-01T00:00:00Z", "2024-06-30T12:00:00Z"].iter().enumerate() {
        let root = work.path().join(format!("root{i}"));
        fs::create_dir_all(root.join("dir")).unwrap();
        fs::write(root.join("dir/file"), b"same content").unwrap();
        for p in ["dir/file", "dir"] {
            run("touch", &["-d", stamp, root.join(p).to_str().unwrap()]);
        }
        let dest = work.path().join(format!("out{i}.tar"));
        // SOURCE_DATE_EPOCH (2015) is older than both trees: every mtime is clamped to it.
        let meta = export(work.path(), &root, &format!("type=oci,dest={},rewrite-timestamp=true", dest.display()));
        let (_, manifest) = unpack_layout(&dest, &work.path().join(format!("x{i}")));
        assert_eq!(manifest["layers"][0]["annotations"]["buildkit/rewritten-timestamp"], "1445412480");
        digests.push(meta["containerimage.digest"].as_str().unwrap().to_string());
    }
    assert_eq!(digests[0], digests[1]);
}

#[test]
fn metadata_file_matches_stdout() {
    let work = tempdir().unwrap();
    let file = work.path().join("meta.json");
    let dest = work.path().join("o.tar");
    let spec = format!("type=oci,dest={}", dest.display());
    let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--metadata-file", file.to_str().unwrap()]));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(read_json(&file), printed);
    assert_eq!(printed["containerimage.descriptor"]["digest"], printed["containerimage.digest"]);
}

#[test]
fn unknown_keys_warn_with_the_nearest_known_key() {
    let work = tempdir().unwrap();
    let dest = work.path().join("o.tar");
    let out = ok(export_tree(
        work.path(),
        &example_rootfs(),
        &format!("type=oci,dest={},compresion=zstd", dest.display()),
        &[],
    ));
    assert!(
        stderr(&out)
            .contains("warning: unknown option \"compresion\" for type=oci ignored; did you mean \"compression\"?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_file_and_flags_shape_the_image_config() {
    let work = tempdir().unwrap();
    let config_file = work.path().join("config.json");
    fs::write(&config_file, br#"{"architecture":"arm64","os":"linux","config":{"Env":["PATH=/bin","KEEP=1"],"Cmd":["sh"]},"custom":"kept"}"#).unwrap();
    let dest = work.path().join("c.tar");
    let spec = format!("type=oci,dest={}", dest.display());
    let out = ok(export_tree(
        work.path(),
        &example_rootfs(),
        &spec,
        &[
            "--config",
            config_file.to_str().unwrap(),
            "--label",
            "org.opencontainers.image.source=https://example.com/repo",
            "--env",
            "PATH=/usr/bin",
            "--entrypoint",
            r#"["/usr/local/bin/hello"]"#,
            "--workdir",
            "/app",
            "--user",
            "1000",
            "--expose",
            "8080",
        ],
    ));
    assert!(out.status.success());
    let inspect: Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--config", "--raw", &format!("oci-archive:{}", dest.display())],
    ))
    .unwrap();
    assert_eq!(inspect["architecture"], "arm64");
    assert_eq!(inspect["custom"], "kept");
    let c = &inspect["config"];
    assert_eq!(c["Env"], serde_json::json!(["KEEP=1", "PATH=/usr/bin"]));
    assert_eq!(c["Entrypoint"], serde_json::json!(["/usr/local/bin/hello"]));
    assert_eq!(c["Cmd"], Value::Null, "a new entrypoint drops the inherited Cmd");
    assert_eq!((c["WorkingDir"].as_str(), c["User"].as_str()), (Some("/app"), Some("1000")));
    assert_eq!(c["ExposedPorts"], serde_json::json!({"8080/tcp": {}}));
    assert_eq!(c["Labels"]["org.opencontainers.image.source"], "https://example.com/repo");

    let conflict = export_tree(
        work.path(),
        &example_rootfs(),
        &spec,
        &["--config", config_file.to_str().unwrap(), "--platform", "linux/amd64"],
    );
    assert_eq!(conflict.status.code(), Some(1));
    assert!(stderr(&conflict).contains("is for linux/arm64 but the platform is linux/amd64"), "{}", stderr(&conflict));
}

#[test]
fn podman_loads_the_docker_tarball() {
    let work = tempdir().unwrap();
    let dest = work.path().join("img.tar");
    export(work.path(), &example_rootfs(), &format!("type=docker,dest={},name=outport-example:1", dest.display()));
    let root = work.path().join("podman-root");
    let runroot = work.path().join("podman-runroot");
    let storage = ["--storage-driver", "vfs", "--root", root.to_str().unwrap(), "--runroot", runroot.to_str().unwrap()];
    let loaded = run("podman", &[&storage[..], &["load", "-i", dest.to_str().unwrap()]].concat());
    assert!(loaded.contains("Loaded image: docker.io/library/outport-example:1"), "{loaded}");
    let listed = run("podman", &[&storage[..], &["images", "--format", "{{.Repository}}:{{.Tag}}"]].concat());
    assert_eq!(listed.trim(), "docker.io/library/outport-example:1");
}
