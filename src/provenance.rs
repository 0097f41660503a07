//! `provenance: 'mode=min'` (buildx's `--provenance=mode=min`): a minimal SLSA v0.2 provenance per
//! platform image, attached as BuildKit attaches its own (predicate type
//! `https://slsa.dev/provenance/v0.2` in the attestation manifest). It says who built the image
//! (outport and its version), how (the export's parameters, never credentials: the request holds
//! none), from what (the base image by digest) and when (SOURCE_DATE_EPOCH, else the export time),
//! with every object's keys in a fixed order so the same export gives the same bytes.

use crate::attest::{self, Attestation};
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::reference::Reference;
use crate::request::ExportRequest;
use serde_json::{json, Value};

pub const BUILD_TYPE: &str = "urn:outport:export@v1";

/// The request's `provenance` value: `mode=min` (or `min`, `true`, `1`) asks for one; `false`,
/// `0` or an empty string for none. `mode=max` is refused: outport has no build steps to record.
pub fn wanted(value: Option<&str>) -> Result<bool> {
    let Some(value) = value else { return Ok(false) };
    match value.trim() {
        "" | "false" | "0" => Ok(false),
        "true" | "1" | "min" | "mode=min" => Ok(true),
        other => Err(Error::option(format!(
            "provenance {other:?}: only mode=min is supported (outport exports a build result and records no build steps)"
        ))),
    }
}

/// The builder: this tool at its version, as a purl.
pub fn builder_id() -> String {
    format!("pkg:cargo/outport@{}", env!("CARGO_PKG_VERSION"))
}

/// The export's parameters: what shapes the image, as the request gave it, keys sorted, defaults
/// left out. Output destinations are not parameters of the image.
pub fn parameters(request: &ExportRequest) -> Value {
    let mut value = json!({
        "annotations": request.annotations,
        "base": request.base,
        "config": serde_json::to_value(&request.config).unwrap_or(Value::Null),
        "excludes": request.excludes,
        "keepMtimes": request.keep_mtimes,
        "layers": serde_json::to_value(&request.layers).unwrap_or(Value::Null),
        "nodeApp": request.node_app,
        "owner": request.owner,
        "platform": request.platform,
        "result": request.result,
        "rootfs": request.rootfs,
        "sbom": request.sbom,
        "tags": request.tags,
    });
    prune(&mut value);
    value.sort_all_objects();
    value
}

/// Leave out what is unset: null, false, empty lists and objects, at every level.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Object(o) => {
            o.retain(|_, v| !prune(v));
            o.is_empty()
        }
        Value::Array(a) => a.is_empty(),
        Value::Null | Value::Bool(false) => true,
        _ => false,
    }
}

/// The provenance attestation for one platform's image built on `base` (its reference and the
/// digest it resolved to), at `time` (RFC 3339).
pub fn attestation(
    request: &ExportRequest,
    platform: &Platform,
    base: Option<(&str, &str)>,
    time: &str,
) -> Attestation {
    let materials: Vec<Value> = base
        .map(|(raw, digest)| {
            let uri = match crate::export::registry_base(raw) {
                Some(reference) => attest::purl(&Reference { digest: None, ..reference }, platform),
                None => raw.to_string(),
            };
            json!({"uri": uri, "digest": {"sha256": digest.trim_start_matches("sha256:")}})
        })
        .into_iter()
        .collect();
    let predicate = json!({
        "builder": {"id": builder_id()},
        "buildType": BUILD_TYPE,
        "invocation": {
            "configSource": {},
            "parameters": parameters(request),
            "environment": {"platform": request.host_platform},
        },
        "metadata": {
            "buildStartedOn": time,
            "buildFinishedOn": time,
            "completeness": {"parameters": true, "environment": true, "materials": false},
            "reproducible": false,
        },
        "materials": materials,
    });
    Attestation {
        predicate_type: attest::SLSA_PREDICATE.into(),
        predicate,
        subjects: None,
        file_name: "provenance.json".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes() {
        assert!(wanted(Some("mode=min")).unwrap());
        assert!(wanted(Some("true")).unwrap());
        assert!(!wanted(Some("false")).unwrap());
        assert!(!wanted(None).unwrap());
        assert!(wanted(Some("mode=max")).unwrap_err().message.contains("only mode=min"));
    }

    #[test]
    fn provenance_bytes() {
        let request = ExportRequest::from_json(
            r#"{"hostPlatform":"linux/amd64","now":0,"nodeApp":"app","base":"localhost:5000/node:22",
                "platform":"linux/arm64","tags":["localhost:5000/app:1"],"outputs":["type=image,push=true"],
                "sbom":true,"provenance":"mode=min","config":{"env":["A=1"]}}"#,
        )
        .unwrap();
        let digest = format!("sha256:{}", "c".repeat(64));
        let a = attestation(
            &request,
            &Platform::parse("linux/arm64").unwrap(),
            Some(("localhost:5000/node:22", &digest)),
            "2023-11-14T22:13:20Z",
        );
        assert_eq!(a.predicate_type, "https://slsa.dev/provenance/v0.2");
        let bytes = String::from_utf8(crate::gojson::compact(&a.predicate)).unwrap();
        assert_eq!(
            bytes,
            format!(
                concat!(
                    r#"{{"builder":{{"id":"pkg:cargo/outport@{version}"}},"buildType":"urn:outport:export@v1","#,
                    r#""invocation":{{"configSource":{{}},"parameters":{{"base":"localhost:5000/node:22","config":{{"env":["A=1"]}},"#,
                    r#""nodeApp":"app","platform":"linux/arm64","sbom":true,"tags":["localhost:5000/app:1"]}},"#,
                    r#""environment":{{"platform":"linux/amd64"}}}},"#,
                    r#""metadata":{{"buildStartedOn":"2023-11-14T22:13:20Z","buildFinishedOn":"2023-11-14T22:13:20Z","#,
                    r#""completeness":{{"parameters":true,"environment":true,"materials":false}},"reproducible":false}},"#,
                    r#""materials":[{{"uri":"pkg:docker/localhost%3A5000/node@22?platform=linux%2Farm64","digest":{{"sha256":"{hex}"}}}}]}}"#
                ),
                version = env!("CARGO_PKG_VERSION"),
                hex = "c".repeat(64)
            )
        );
    }
}
