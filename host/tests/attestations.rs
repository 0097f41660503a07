//! `--attest`: attestation manifests in the index, as BuildKit stores them (reference §3.3).

mod common;

use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;

fn blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap()).unwrap()
}

/// Export the example with an SBOM and a provenance attestation; return (metadata, unpacked layout, index).
fn export_attested(work: &Path, extra: &str) -> (Value, std::path::PathBuf, Value) {
    fs::write(work.join("sbom.json"), r#"{"spdxVersion":"SPDX-2.3","name":"example"}"#).unwrap();
    fs::write(work.join("prov.json"), "").unwrap();
    let dest = work.join("att.tar");
    let spec = format!("type=oci,dest={},name=localhost:5000/buildkit/app:1{extra}", dest.display());
    let sbom = format!("type=sbom,path={}", work.join("sbom.json").display());
    let prov = format!("type=provenance,path={}", work.join("prov.json").display());
    let out = ok(export_tree(
        work,
        &example_rootfs(),
        &spec,
        &["--attest", &sbom, "--attest", &prov, "--platform", "linux/amd64"],
    ));
    run("skopeo", &["inspect", "--raw", &format!("oci-archive:{}", dest.display())]);
    let layout = work.join("layout");
    fs::create_dir_all(&layout).unwrap();
    run("tar", &["-xf", dest.to_str().unwrap(), "-C", layout.to_str().unwrap()]);
    let meta: Value = serde_json::from_slice(&out.stdout).unwrap();
    let index = blob(&layout, meta["containerimage.digest"].as_str().unwrap());
    (meta, layout, index)
}

#[test]
fn single_platform_with_attestations_becomes_an_index() {
    let work = tempdir().unwrap();
    let (meta, layout, index) = export_attested(work.path(), "");
    assert!(meta.get("containerimage.config.digest").is_none());
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 2);
    let image = &manifests[0];
    let att = &manifests[1];
    assert_eq!(att["platform"], json!({"architecture": "unknown", "os": "unknown"}));
    assert_eq!(
        att["annotations"],
        json!({"vnd.docker.reference.digest": image["digest"], "vnd.docker.reference.type": "attestation-manifest"})
    );
    let att_manifest = blob(&layout, att["digest"].as_str().unwrap());
    // Legacy form (oci-artifact=false, our default): an unknown/unknown config over the statements.
    assert!(att_manifest.get("subject").is_none() && att_manifest.get("artifactType").is_none());
    let config = blob(&layout, att_manifest["config"]["digest"].as_str().unwrap());
    assert_eq!((config["architecture"].as_str(), config["os"].as_str()), (Some("unknown"), Some("unknown")));
    let layers = att_manifest["layers"].as_array().unwrap();
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), layers.len());
    assert_eq!(layers[0]["mediaType"], "application/vnd.in-toto+json");
    assert_eq!(layers[0]["annotations"]["in-toto.io/predicate-type"], "https://spdx.dev/Document");

    let sbom = blob(&layout, layers[0]["digest"].as_str().unwrap());
    assert_eq!(sbom["_type"], "https://in-toto.io/Statement/v1");
    assert_eq!(sbom["predicate"]["spdxVersion"], "SPDX-2.3");
    assert_eq!(sbom["subject"][0]["name"], "pkg:docker/localhost%3A5000/buildkit/app@1?platform=linux%2Famd64");
    assert_eq!(sbom["subject"][0]["digest"]["sha256"], image["digest"].as_str().unwrap()[7..]);
    let provenance = blob(&layout, layers[1]["digest"].as_str().unwrap());
    assert_eq!(provenance["predicateType"], "https://slsa.dev/provenance/v0.2");
    assert_eq!(provenance["predicate"], Value::Null, "an empty file gives a null predicate");
}

#[test]
fn oci_artifact_form_has_subject_and_empty_config() {
    let work = tempdir().unwrap();
    let (_, layout, index) = export_attested(work.path(), ",oci-artifact=true");
    let image = &index["manifests"][0];
    let att = blob(&layout, index["manifests"][1]["digest"].as_str().unwrap());
    assert_eq!(att["artifactType"], "application/vnd.docker.attestation.manifest.v1+json");
    assert_eq!(
        att["subject"],
        json!({"mediaType": image["mediaType"], "digest": image["digest"], "size": image["size"]})
    );
    assert_eq!(
        att["config"],
        json!({"mediaType": "application/vnd.oci.empty.v1+json", "digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a", "size": 2, "data": "e30="})
    );
    assert_eq!(
        fs::read(layout.join("blobs/sha256/44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a")).unwrap(),
        b"{}"
    );
}

#[test]
fn attestation_errors() {
    let work = tempdir().unwrap();
    fs::write(work.path().join("p.json"), "{}").unwrap();
    let attest = format!("type=provenance,path={}", work.path().join("p.json").display());
    let dest = work.path().join("x.tar");
    for (spec, extra, needle) in [
        (format!("type=docker,dest={}", dest.display()), attest.clone(), "manifest lists"),
        (
            format!("type=oci,dest={},oci-mediatypes=false", dest.display()),
            attest.clone(),
            "cannot export attestations with \"oci-mediatypes=false\"",
        ),
        (
            format!("type=oci,dest={}", dest.display()),
            "type=vex,path=x".to_string(),
            "unknown attestation type \"vex\"",
        ),
        (format!("type=oci,dest={}", dest.display()), "type=sbom".to_string(), "path=FILE is required"),
        (
            format!("type=oci,dest={}", dest.display()),
            format!("type=sbom,path={}", work.path().join("missing").display()),
            "missing: no such file or directory",
        ),
    ] {
        let out = export_tree(work.path(), &example_rootfs(), &spec, &["--attest", &extra]);
        assert_eq!(out.status.code(), Some(1), "{spec} {extra}");
        assert!(stderr(&out).contains(needle), "{spec} {extra}: {}", stderr(&out));
        assert!(!dest.exists());
    }
}

#[test]
fn multi_platform_with_attestations_lists_attestation_manifests_last() {
    let work = tempdir().unwrap();
    let result = two_platform_result(work.path(), &[("arch", "{arch}")]);
    fs::write(work.path().join("sbom.json"), "{}").unwrap();
    let dest = work.path().join("all.tar");
    let sbom = format!("type=sbom,path={}", work.path().join("sbom.json").display());
    let out = export_result(
        work.path(),
        &result,
        &format!("type=oci,dest={},name=app:1", dest.display()),
        &["--attest", &sbom],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let raw: Value =
        serde_json::from_str(&run("skopeo", &["inspect", "--raw", &format!("oci-archive:{}", dest.display())]))
            .unwrap();
    let manifests = raw["manifests"].as_array().unwrap();
    let platforms: Vec<String> = manifests
        .iter()
        .map(|m| {
            format!("{}/{}", m["platform"]["os"].as_str().unwrap(), m["platform"]["architecture"].as_str().unwrap())
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64", "unknown/unknown", "unknown/unknown"]);
    assert_eq!(manifests[2]["annotations"]["vnd.docker.reference.digest"], manifests[0]["digest"]);
    assert_eq!(manifests[3]["annotations"]["vnd.docker.reference.digest"], manifests[1]["digest"]);
    // Copying every manifest re-verifies every digest.
    let copy = work.path().join("copy");
    run(
        "skopeo",
        &["copy", "--all", &format!("oci-archive:{}", dest.display()), &format!("oci:{}:all", copy.display())],
    );
}
