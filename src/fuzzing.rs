//! What each fuzz target (fuzz/) feeds with arbitrary bytes: the parsers that read input from
//! outside — users' `--output`, annotation and reference strings, registries' challenges and JSON.
//! Kept here so that crashes the fuzzer finds replay as plain tests (tests/fuzz_regressions.rs).

pub const TARGETS: &[&str] = &["output_spec", "annotation", "www_authenticate", "image_json", "reference"];

/// Feed `data` to `target`'s parsers. Errors are fine; only a panic (or a hang) is a finding.
pub fn run(target: &str, data: &[u8]) {
    let text = std::str::from_utf8(data).ok();
    match (target, text) {
        ("output_spec", Some(text)) => {
            let _ = crate::export::plan::Plan::parse(text, &mut Vec::new());
        }
        ("annotation", Some(text)) => {
            let (option, value) = text.split_once('=').unwrap_or((text, ""));
            let _ = crate::annotate::parse(option, value);
        }
        ("www_authenticate", Some(text)) => {
            for challenge in crate::registry::auth::parse_challenges(text) {
                let _ = challenge.param("realm");
            }
        }
        ("image_json", _) => {
            if let Ok(config) = crate::image::config::parse_config("fuzz", data) {
                let _ = crate::image::config::config_platform("fuzz", &config);
            }
            if let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) {
                for field in ["manifests", "layers", "config"] {
                    let _ = crate::maintenance::descriptors(&json, field, "fuzz");
                }
            }
        }
        ("reference", Some(text)) => {
            if let Ok(reference) = crate::reference::Reference::parse_normalized(text) {
                let _ = reference.full();
            }
            let _ = crate::platform::Platform::parse(text);
        }
        _ => {}
    }
}
