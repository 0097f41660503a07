//! Multi-platform results (`--result FILE`): an index of per-platform manifests, annotations at
//! every level placed as BuildKit places them, checked with skopeo.

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

/// Two platforms with different content, one with its own config file; returns the result path.
fn two_platform_result(dir: &Path) -> std::path::PathBuf {
    for arch in ["amd64", "arm64"] {
        fs::create_dir_all(dir.join(arch).join("bin")).unwrap();
        fs::write(dir.join(arch).join("bin/arch"), arch).unwrap();
    }
    fs::create_dir_all(dir.join("shared")).unwrap();
    fs::write(dir.join("shared/README"), "both").unwrap();
    fs::write(
        dir.join("arm64.json"),
        r#"{"os":"linux","architecture":"arm64","config":{"Labels":{"foo":"i am arm64"}}}"#,
    )
    .unwrap();
    let result = json!({"platforms": [
        {"platform": "linux/amd64", "layers": ["shared", "amd64"]},
        {"platform": "linux/arm64", "layers": ["shared", "arm64"], "config": "arm64.json"},
    ]});
    let path = dir.join("result.json");
    fs::write(&path, result.to_string()).unwrap();
    path
}

fn blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap()).unwrap()
}

#[test]
fn oci_index_with_every_annotation_level() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path());
    let dest = work.path().join("multi.tar");
    let spec = format!(
        "type=oci,dest={},name=multi:1,annotation-index.gi=index,annotation-index-descriptor.gid=index-desc,\
         annotation-manifest.gm=manifest,annotation-manifest-descriptor.gmd=manifest-desc,\
         annotation[linux/arm64].m=arm-only,annotation-manifest-descriptor[linux/amd64].md=amd-only",
        dest.display()
    );
    let out = ok(export_result(work.path(), &result, &spec, &[]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(meta.get("containerimage.config.digest").is_none(), "an index has no single config");

    let raw: Value =
        serde_json::from_str(&run("skopeo", &["inspect", "--raw", &format!("oci-archive:{}", dest.display())]))
            .unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(raw["annotations"], json!({"gi": "index"}));
    let manifests = raw["manifests"].as_array().unwrap();
    let platforms: Vec<&str> = manifests.iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    assert_eq!(manifests[0]["annotations"], json!({"gmd": "manifest-desc", "md": "amd-only"}));
    assert_eq!(manifests[1]["annotations"], json!({"gmd": "manifest-desc"}));

    let layout = work.path().join("layout");
    fs::create_dir(&layout).unwrap();
    run("tar", &["-xf", dest.to_str().unwrap(), "-C", layout.to_str().unwrap()]);
    let index_json: Value = serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = &index_json["manifests"][0];
    assert_eq!(entry["digest"], meta["containerimage.digest"]);
    assert_eq!(entry["annotations"]["gid"], "index-desc");
    assert_eq!(entry["annotations"]["org.opencontainers.image.ref.name"], "1");
    let amd = blob(&layout, manifests[0]["digest"].as_str().unwrap());
    let arm = blob(&layout, manifests[1]["digest"].as_str().unwrap());
    assert_eq!(amd["annotations"], json!({"gm": "manifest"}));
    assert_eq!(arm["annotations"], json!({"gm": "manifest", "m": "arm-only"}));
    // The shared bottom layer is the same blob in both manifests; the top layers differ.
    assert_eq!(amd["layers"][0]["digest"], arm["layers"][0]["digest"]);
    assert_ne!(amd["layers"][1]["digest"], arm["layers"][1]["digest"]);
    let arm_config = blob(&layout, arm["config"]["digest"].as_str().unwrap());
    assert_eq!(
        (arm_config["architecture"].as_str(), arm_config["config"]["Labels"]["foo"].as_str()),
        (Some("arm64"), Some("i am arm64"))
    );

    // skopeo can take any one platform out of the index.
    let copied = work.path().join("arm-only");
    run(
        "skopeo",
        &[
            "--override-arch",
            "arm64",
            "copy",
            &format!("oci-archive:{}", dest.display()),
            &format!("oci:{}:x", copied.display()),
        ],
    );
}

#[test]
fn docker_types_make_a_manifest_list_and_the_store_names_the_index() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path());
    let out = ok(export_result(work.path(), &result, "type=image,name=multi:2", &[]));
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        meta["containerimage.descriptor"]["mediaType"],
        "application/vnd.docker.distribution.manifest.list.v2+json"
    );
    let listed: Value = serde_json::from_slice(&ok(outport(work.path(), &["images", "--json"])).stdout).unwrap();
    assert_eq!(listed[0]["digest"], meta["containerimage.digest"]);
}

#[test]
fn multi_platform_errors_name_the_problem() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path());
    let dest = work.path().join("x.tar");
    for (spec, needle) in [
        (
            format!("type=docker,dest={}", dest.display()),
            "docker exporter does not currently support exporting manifest lists",
        ),
        (
            format!("type=oci,dest={},annotation[linux/s390x].a=b", dest.display()),
            "invalid annotation: no platform linux/s390x found in source",
        ),
        (
            format!("type=oci,dest={},oci-mediatypes=false,annotation-index.a=b", dest.display()),
            "cannot export annotations with \"oci-mediatypes=false\"",
        ),
    ] {
        let out = export_result(work.path(), &result, &spec, &[]);
        assert_eq!(out.status.code(), Some(1), "{spec}");
        assert!(stderr(&out).contains(needle), "{spec}: {}", stderr(&out));
        assert!(!dest.exists());
    }
    let both = outport(
        work.path(),
        &["export", example_rootfs().to_str().unwrap(), "--result", result.to_str().unwrap(), "-o", "type=cacheonly"],
    );
    assert!(stderr(&both).contains("not both"), "{}", stderr(&both));
    fs::write(work.path().join("bad.json"), r#"{"platforms":[{"platform":"linux/amd64","layers":[]}]}"#).unwrap();
    let bad = outport(
        work.path(),
        &["export", "--result", work.path().join("bad.json").to_str().unwrap(), "-o", "type=cacheonly"],
    );
    assert!(stderr(&bad).contains("has no layers"), "{}", stderr(&bad));
}
