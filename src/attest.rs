//! Attestations (`--attest type=sbom,path=FILE` / `type=provenance,path=FILE`): in-toto statements
//! stored as attestation manifests beside each platform's image, as BuildKit stores them.

use crate::error::{Error, Result};
use crate::host::{read_small_file, Host};
use crate::options::OutputSpec;
use crate::platform::Platform;
use crate::reference::Reference;
use serde::Serialize;
use serde_json::{json, Value};

/// BuildKit's limit on one attestation file.
const MAX_ATTESTATION_BYTES: u64 = 41_943_040;
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const SPDX_PREDICATE: &str = "https://spdx.dev/Document";
pub const SLSA_PREDICATE: &str = "https://slsa.dev/provenance/v0.2";

#[derive(Debug, Clone, PartialEq)]
pub struct Attestation {
    pub predicate_type: String,
    /// The predicate (null for an empty file).
    pub predicate: Value,
    /// Subjects given in the file's own statement; None = "this image" (one per name).
    pub subjects: Option<Vec<Value>>,
    /// The file's base name: the local and tar exporters write the statement under it.
    pub file_name: String,
}

/// An in-toto v1 Statement, fields in the Go struct's order.
#[derive(Serialize)]
struct Statement<'a> {
    #[serde(rename = "_type")]
    statement_type: &'a str,
    subject: Vec<Value>,
    #[serde(rename = "predicateType")]
    predicate_type: &'a str,
    predicate: &'a Value,
}

/// Parse and read one `--attest` value: `type=sbom|provenance,path=FILE`. The file holds a
/// predicate, or a whole in-toto statement whose predicate type and subjects are kept.
pub async fn load<H: Host>(host: &H, spec: &str) -> Result<Attestation> {
    let what = format!("--attest {spec}");
    let parsed = OutputSpec::parse_attrs(spec).map_err(|e| Error::option(format!("{what}: {}", e.message)))?;
    let default_type = match parsed.get("type").map(String::as_str) {
        Some("sbom") => SPDX_PREDICATE,
        Some("provenance") => SLSA_PREDICATE,
        Some(other) => {
            return Err(Error::option(format!("{what}: unknown attestation type {other:?} (sbom or provenance)")))
        }
        None => return Err(Error::option(format!("{what}: type=sbom or type=provenance is required"))),
    };
    if let Some(key) = parsed.keys().find(|k| !["type", "path", "predicate-type"].contains(&k.as_str())) {
        return Err(Error::option(format!("{what}: unknown key {key:?}")));
    }
    let path = parsed.get("path").ok_or_else(|| Error::option(format!("{what}: path=FILE is required")))?;
    let size = host.source_stat(path.as_bytes()).await?.size;
    if size > MAX_ATTESTATION_BYTES {
        return Err(Error::option(format!("{path} exceeds {MAX_ATTESTATION_BYTES} bytes")));
    }
    let bytes = read_small_file(host, path, MAX_ATTESTATION_BYTES).await?;
    let predicate_type = parsed.get("predicate-type").map_or(default_type, String::as_str).to_string();
    let file_name = path.rsplit('/').next().unwrap_or(path).to_string();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Attestation { predicate_type, predicate: Value::Null, subjects: None, file_name });
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| Error::option(format!("{path}: not JSON: {e}")))?;
    let is_statement =
        value.get("_type").and_then(Value::as_str).is_some_and(|t| t.starts_with("https://in-toto.io/Statement"));
    if !is_statement {
        return Ok(Attestation { predicate_type, predicate: value, subjects: None, file_name });
    }
    let subjects = value.get("subject").and_then(Value::as_array).filter(|s| !s.is_empty()).cloned();
    Ok(Attestation {
        predicate_type: value.get("predicateType").and_then(Value::as_str).map_or(predicate_type, str::to_string),
        predicate: value.get("predicate").cloned().unwrap_or(Value::Null),
        subjects,
        file_name,
    })
}

/// The statement bytes for one platform's image (compact JSON, Go escaping): subjects are the
/// output's names as purls with the platform manifest digest, unless the file gave its own.
pub fn statement(
    attestation: &Attestation,
    names: &[Reference],
    platform: &Platform,
    manifest_digest: &str,
) -> Vec<u8> {
    let hex = manifest_digest.trim_start_matches("sha256:");
    let own = names.iter().map(|n| json!({"name": purl(n, platform), "digest": {"sha256": hex}})).collect();
    crate::gojson::compact(&with_subjects(attestation, own))
}

/// The statement as the local and tar exporters write it (2-space indent): subjects are the
/// exported files (relative path, sha256 hex), unless the file gave its own.
pub fn file_statement(attestation: &Attestation, files: Vec<Value>) -> Vec<u8> {
    crate::gojson::pretty(&with_subjects(attestation, files))
}

fn with_subjects(attestation: &Attestation, own: Vec<Value>) -> Statement<'_> {
    Statement {
        statement_type: STATEMENT_TYPE,
        subject: attestation.subjects.clone().unwrap_or(own),
        predicate_type: &attestation.predicate_type,
        predicate: &attestation.predicate,
    }
}

/// `pkg:docker/<namespace>/<name>@<tag>?digest=…&platform=linux%2Famd64` from the familiar name.
pub fn purl(name: &Reference, platform: &Platform) -> String {
    let familiar = Reference { tag: None, digest: None, ..name.clone() }.familiar();
    let path: Vec<String> = familiar.split('/').map(escape).collect();
    let mut out = format!("pkg:docker/{}", path.join("/"));
    if let Some(tag) = &name.tag {
        out.push('@');
        out.push_str(&escape(tag));
    }
    let mut qualifiers = Vec::new();
    if let Some(digest) = &name.digest {
        qualifiers.push(format!("digest={}", escape(digest)));
    }
    qualifiers.push(format!("platform={}", escape(&platform.id())));
    format!("{out}?{}", qualifiers.join("&"))
}

/// Percent-encoding as packageurl-go applies it (unreserved characters stay).
pub(crate) fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(s: &str) -> Reference {
        Reference::parse_normalized(s).unwrap()
    }

    #[test]
    fn purls_like_buildkit() {
        let amd64 = Platform::parse("linux/amd64").unwrap();
        assert_eq!(
            purl(&reference("localhost:5000/buildkit/testattestationsemptysubject"), &amd64),
            "pkg:docker/localhost%3A5000/buildkit/testattestationsemptysubject@latest?platform=linux%2Famd64"
        );
        assert_eq!(
            purl(&reference("foo:1"), &Platform::parse("linux/arm/v7").unwrap()),
            "pkg:docker/foo@1?platform=linux%2Farm%2Fv7"
        );
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            purl(&reference(&format!("ghcr.io/o/r@{digest}")), &amd64),
            format!("pkg:docker/ghcr.io/o/r?digest=sha256%3A{}&platform=linux%2Famd64", "a".repeat(64))
        );
    }

    #[test]
    fn statement_shape() {
        let a = Attestation {
            predicate_type: SPDX_PREDICATE.into(),
            predicate: json!({"b": 1, "a": "<x>"}),
            subjects: None,
            file_name: "sbom.json".into(),
        };
        let digest = format!("sha256:{}", "b".repeat(64));
        let bytes = statement(&a, &[reference("app:1")], &Platform::parse("linux/amd64").unwrap(), &digest);
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            format!(
                r#"{{"_type":"https://in-toto.io/Statement/v1","subject":[{{"name":"pkg:docker/app@1?platform=linux%2Famd64","digest":{{"sha256":"{}"}}}}],"predicateType":"https://spdx.dev/Document","predicate":{{"b":1,"a":"\u003cx\u003e"}}}}"#,
                "b".repeat(64)
            )
        );
    }
}
