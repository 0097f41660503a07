//! What a host asks the core to do, and what it gets back. Both hosts pass these as JSON, so the
//! CLI and the npm package accept exactly the same requests.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExportRequest {
    /// Root filesystem directory (a host path).
    #[serde(default)]
    pub rootfs: Option<String>,
    /// `--layer SRC[:DEST]` (npm: `{ src, dest }`): each one more layer, in order, above rootfs.
    #[serde(default)]
    pub layers: Vec<crate::layer::source::LayerSpec>,
    /// `--node-app DIR`: node_modules and the rest of the app as two layers at the working directory.
    #[serde(default)]
    pub node_app: Option<String>,
    /// `--owner UID:GID` for every entry of the layers built from sources.
    #[serde(default)]
    pub owner: Option<String>,
    /// `--keep-mtimes`: `--layer`/`--node-app` entries keep their own mtimes instead of
    /// SOURCE_DATE_EPOCH (else 0).
    #[serde(default)]
    pub keep_mtimes: bool,
    /// `--exclude PATTERN` (`.dockerignore` syntax) for every directory source.
    #[serde(default)]
    pub excludes: Vec<String>,
    /// `--result FILE`: a multi-platform build result (see src/build_result.rs), instead of rootfs.
    #[serde(default)]
    pub result: Option<String>,
    /// `--output` values, each one CSV record as buildx takes it.
    #[serde(default)]
    pub outputs: Vec<String>,
    /// `--annotation` values (buildx's syntax), added to every image-producing output.
    #[serde(default)]
    pub annotations: Vec<String>,
    /// The caller must give `dest` to write a tarball on stdout (the npm library: stdout is the
    /// script's own); without it, outputs that default to stdout are refused.
    #[serde(default)]
    pub explicit_stdout: bool,
    /// `-t/--tag` names, replacing `name` of image, oci and docker outputs.
    #[serde(default)]
    pub tags: Vec<String>,
    /// `--push`: push=true on the image outputs (or a new one).
    #[serde(default)]
    pub push: bool,
    /// `--load`: also load the image into the Docker engine (buildx's `type=docker` without dest).
    #[serde(default)]
    pub load: bool,
    /// `--attest type=sbom|provenance,path=FILE` values.
    #[serde(default)]
    pub attestations: Vec<String>,
    /// `--sbom` (npm `sbom: true`): with `--node-app`, an SPDX SBOM of node_modules attached as an
    /// attestation (src/sbom.rs).
    #[serde(default)]
    pub sbom: bool,
    /// `--provenance` (npm `provenance: 'mode=min'`): a minimal SLSA provenance attached as an
    /// attestation (src/provenance.rs).
    #[serde(default)]
    pub provenance: Option<String>,
    /// The host's working directory (mode=delete is allowed only strictly inside it).
    #[serde(default)]
    pub cwd: Option<String>,
    /// `--allow` entitlements, e.g. `buildx.local.delete`.
    #[serde(default)]
    pub allow: Vec<String>,
    /// `--strict`: every warning (unknown option key, …) is an error instead.
    #[serde(default)]
    pub strict: bool,
    /// `--platform`; the host's own platform when absent.
    #[serde(default)]
    pub platform: Option<String>,
    /// The host's platform, e.g. `linux/amd64` (hosts know it, the core does not).
    pub host_platform: String,
    /// The SOURCE_DATE_EPOCH environment value, if set.
    #[serde(default)]
    pub source_date_epoch: Option<String>,
    /// The current time, Unix seconds (the core has no clock).
    pub now: i64,
    /// The nanoseconds within `now`'s second (0 from a host that gives only seconds): config and
    /// history times without an epoch carry them, as Go's time.Time does.
    #[serde(default)]
    pub now_nanos: u32,
    /// `--base REF`: build on this image (`registry/repo:tag`, `…@sha256:…`, `oci:DIR[:TAG]`,
    /// `oci-archive:FILE[:TAG]`).
    #[serde(default)]
    pub base: Option<String>,
    /// `--base-insecure`: plain HTTP or an unverified certificate for the base image's registry.
    #[serde(default)]
    pub base_insecure: bool,
    /// `--docker-host ADDR`: the engine for `--load` (else DOCKER_HOST, the docker context, the
    /// default sockets).
    #[serde(default)]
    pub docker_host: Option<String>,
    /// The environment the engine is found by: DOCKER_HOST, DOCKER_CONTEXT, DOCKER_CONFIG (the
    /// directory, resolved by the host), DOCKER_TLS_VERIFY, DOCKER_CERT_PATH, XDG_RUNTIME_DIR.
    #[serde(default)]
    pub engine_env: std::collections::BTreeMap<String, String>,
    /// `--metadata-file`: the host writes the result metadata there after the run; no output may
    /// write the same path.
    #[serde(default)]
    pub metadata_file: Option<String>,
    /// Host paths the host itself writes during the run (its store): left out
    /// of every source walk, as the outputs' destinations are.
    #[serde(default)]
    pub host_writes: Vec<String>,
    /// Image config settings (`--config`, `--label`, `--env`, …).
    #[serde(default)]
    pub config: crate::image::settings::ConfigSettings,
}

impl ExportRequest {
    pub fn from_json(json: &str) -> Result<ExportRequest> {
        serde_json::from_str(json).map_err(|e| Error::option(format!("invalid export request: {e}")))
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportResponse {
    /// buildx's result metadata keys (`containerimage.digest`, …), merged over all outputs in order.
    pub metadata: Map<String, Value>,
    /// Things the user should know that did not stop the export (e.g. unknown option keys).
    pub warnings: Vec<String>,
}

impl ExportResponse {
    /// Metadata keys sorted at every level, as buildx's metadata file has them (Go marshals maps
    /// sorted), so every host prints the same bytes.
    pub fn to_json(&self) -> String {
        let mut metadata = Value::Object(self.metadata.clone());
        metadata.sort_all_objects();
        serde_json::json!({ "metadata": metadata, "warnings": self.warnings }).to_string()
    }
}

/// Parse a SOURCE_DATE_EPOCH value; `what` names where it came from.
pub fn parse_epoch(what: &str, value: &str) -> Result<i64> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| Error::option(format!("invalid {what}: {value:?} is not a whole number of seconds")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_nanos_is_optional_for_hosts_that_give_seconds() {
        let base = r#""hostPlatform":"linux/amd64","now":1445412480"#;
        assert_eq!(ExportRequest::from_json(&format!("{{{base}}}")).unwrap().now_nanos, 0);
        let request = ExportRequest::from_json(&format!("{{{base},\"nowNanos\":120000000}}")).unwrap();
        assert_eq!((request.now, request.now_nanos), (1_445_412_480, 120_000_000));
    }
}
