//! Multi-arch from one command for apps (issue 20.8): `--platform linux/amd64,linux/arm64` with
//! `--node-app` on a two-platform `--base` puts the same app layers on each platform's base, in one
//! index, read back from a real registry with skopeo; native addons are named in a warning; without
//! a base, or with `--result`, several platforms are refused.

mod common;

use common::*;
use serde_json::Value;

fn raw(reference: &str) -> Value {
    skopeo(&["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")])
}

#[test]
fn node_app_on_a_two_platform_base_gives_one_index_with_shared_app_layers() {
    let registry = Registry::start();
    let work = tempdir().unwrap();
    let w = work.path();
    let result = two_platform_result(&w.join("base"), &[("node-{arch}", "node for {arch}\n")]);
    let base = format!("{}/node:22", registry.addr);
    ok(export_result(w, &result, &format!("type=registry,name={base},registry.insecure=true"), &[]));

    let app = write_tree(
        &w.join("app"),
        &[
            ("node_modules/dep/package.json", r#"{"name":"dep","version":"1.0.0"}"#),
            ("node_modules/dep/index.js", "module.exports = 1;\n"),
            ("node_modules/dep/build/Release/addon.node", "\x7fELF"),
            ("package.json", r#"{"name":"app","scripts":{"start":"node ."}}"#),
            ("index.js", "console.log(1);\n"),
        ],
    );
    let target = format!("{}/app:1", registry.addr);
    let out = ok(outport(
        w,
        &[
            "export",
            "--node-app",
            app.to_str().unwrap(),
            "--base",
            &base,
            "--base-insecure",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            &format!("type=registry,name={target},registry.insecure=true"),
        ],
    ));
    let warnings = stderr(&out);
    assert!(
        warnings.contains("native addons") && warnings.contains("node_modules/dep/build/Release/addon.node"),
        "{warnings}"
    );

    let index = raw(&target);
    let manifests = index["manifests"].as_array().unwrap();
    let platforms: Vec<&str> = manifests.iter().map(|m| m["platform"]["architecture"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["amd64", "arm64"]);
    let layers: Vec<Vec<String>> = manifests
        .iter()
        .map(|m| {
            let manifest = raw(&format!("{}/app@{}", registry.addr, m["digest"].as_str().unwrap()));
            manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
        })
        .collect();
    assert_eq!(layers[0].len(), 3, "the base layer, node_modules, the app");
    assert_ne!(layers[0][0], layers[1][0], "each platform's own base layer");
    assert_eq!(layers[0][1..], layers[1][1..], "the same app layers on both");
    // Each platform's base layer is that platform's.
    for (arch, layers) in ["amd64", "arm64"].iter().zip(&layers) {
        let base_manifest = raw(&base);
        let base_for: Vec<&Value> = base_manifest["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["platform"]["architecture"] == *arch)
            .collect();
        let own = raw(&format!("{}/node@{}", registry.addr, base_for[0]["digest"].as_str().unwrap()));
        assert_eq!(own["layers"][0]["digest"].as_str().unwrap(), layers[0]);
    }
}

#[test]
fn several_platforms_without_a_base_or_with_a_result_are_refused() {
    let work = tempdir().unwrap();
    let w = work.path();
    let app = write_tree(&w.join("app"), &[("package.json", r#"{"name":"app","scripts":{"start":"node ."}}"#)]);
    let out = outport(w, &["export", "--node-app", app.to_str().unwrap(), "--platform", "linux/amd64,linux/arm64"]);
    assert_failure(&out, "several platforms need a multi-platform --base");

    let result = two_platform_result(&w.join("r"), &[("f", "{arch}")]);
    let out = outport(w, &["export", "--result", result.to_str().unwrap(), "--platform", "linux/amd64,linux/arm64"]);
    assert_failure(&out, "--platform does not go with --result");
}
