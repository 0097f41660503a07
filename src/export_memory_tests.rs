//! `export::run` end to end on the in-memory host, one test per output type: the request as a host
//! sends it, the outputs as the host is left with them. (The cross-host tests in `tests/` compare
//! real hosts byte for byte; these catch a broken driver in a second, without a host build.)

use crate::export::run;
use crate::memory_host::{run as drive, MemoryHost, Output};
use crate::request::ExportRequest;
use serde_json::Value;

fn source() -> MemoryHost {
    MemoryHost::with_files([
        (b"/src/etc/hostname".to_vec(), b"box\n".to_vec()),
        (b"/src/bin/app".to_vec(), b"#!/bin/sh\necho hi\n".to_vec()),
    ])
}

fn request(output: &str) -> ExportRequest {
    let json = serde_json::json!({
        "rootfs": "/src",
        "outputs": [output],
        "hostPlatform": "linux/amd64",
        "now": 1_445_412_480,
        "sourceDateEpoch": "0",
    });
    ExportRequest::from_json(&json.to_string()).unwrap()
}

/// (name, bytes) of every entry of a tar archive.
fn tar_entries(tar: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut entries = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at] != 0 {
        let header = &tar[at..at + 512];
        let name = String::from_utf8_lossy(&header[..100]).trim_end_matches('\0').to_string();
        let size_field = String::from_utf8_lossy(&header[124..136]).trim_end_matches(['\0', ' ']).to_string();
        let size = usize::from_str_radix(size_field.trim(), 8).unwrap();
        entries.push((name, tar[at + 512..at + 512 + size].to_vec()));
        at += 512 + size.div_ceil(512) * 512;
    }
    entries
}

#[test]
fn cacheonly_builds_the_layers_and_writes_no_output() {
    let host = source();
    let response = drive(run(&host, &request("type=cacheonly"))).unwrap();
    assert!(response.warnings.is_empty(), "{:?}", response.warnings);
    assert!(host.outputs.borrow().is_empty());
    assert!(!host.committed.borrow().is_empty(), "the layer went to the store");
    assert!(host.requests.borrow().is_empty());
}

#[test]
fn an_oci_tarball_holds_a_layout_whose_blobs_are_all_there_and_is_reproducible() {
    let export = || {
        let host = source();
        drive(run(&host, &request("type=oci,dest=/out/image.tar"))).unwrap();
        let outputs = host.outputs.borrow();
        assert_eq!(outputs.keys().collect::<Vec<_>>(), ["/out/image.tar"]);
        let Some(Output::File { data: tar, .. }) = outputs.get("/out/image.tar") else { panic!("a file") };
        tar.clone()
    };
    let tar = export();
    assert_eq!(tar, export(), "same input and epoch, same bytes");
    let entries = tar_entries(&tar);
    let file = |name: &str| entries.iter().find(|(n, _)| n == name).map(|(_, b)| b.clone());
    assert_eq!(file("oci-layout").unwrap(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    let index: Value = serde_json::from_slice(&file("index.json").unwrap()).unwrap();
    let manifest_digest = index["manifests"][0]["digest"].as_str().unwrap();
    let blob = |digest: &str| file(&format!("blobs/sha256/{}", &digest[7..])).expect(digest);
    let manifest_bytes = blob(manifest_digest);
    assert_eq!(crate::digest::sha256(&manifest_bytes), manifest_digest);
    let manifest: Value = serde_json::from_slice(&manifest_bytes).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    for descriptor in layers.iter().chain([&manifest["config"]]) {
        let digest = descriptor["digest"].as_str().unwrap();
        let bytes = blob(digest);
        assert_eq!(
            (crate::digest::sha256(&bytes).as_str(), bytes.len() as u64),
            (digest, descriptor["size"].as_u64().unwrap())
        );
    }
}

#[test]
fn a_local_export_writes_the_tree_at_its_destination() {
    let host = source();
    drive(run(&host, &request("type=local,dest=/out/dir"))).unwrap();
    let outputs = host.outputs.borrow();
    let data = |path: &str| match outputs.get(path) {
        Some(Output::File { data, .. }) => Some(data.clone()),
        _ => None,
    };
    assert_eq!(data("/out/dir/etc/hostname").as_deref(), Some(&b"box\n"[..]));
    assert_eq!(data("/out/dir/bin/app").as_deref(), Some(&b"#!/bin/sh\necho hi\n"[..]));
    assert!(host.committed.borrow().is_empty(), "a local export stores nothing");
}

#[test]
fn a_missing_rootfs_fails_before_any_output_is_written() {
    let host = MemoryHost::default();
    let error = drive(run(&host, &request("type=oci,dest=/out/image.tar"))).unwrap_err();
    assert_eq!(error.kind, crate::error::ErrorKind::Source, "{error}");
    assert!(host.outputs.borrow().is_empty());
}
