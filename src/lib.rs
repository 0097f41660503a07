//! outport's exporter core: turns a build result into container images exactly as BuildKit's
//! exporters would. Pure computation; all I/O goes through [`host::Host`].

pub mod annotate;
pub mod apply;
pub mod attest;
pub mod base;
pub mod build_result;
pub mod cli;
pub mod compress;
pub mod digest;
pub mod engine;
pub mod error;
pub mod export;
#[cfg(test)]
mod export_memory_tests;
pub mod fuzzing;
pub mod gojson;
pub mod host;
pub mod image;
pub mod layer;
#[cfg(test)]
mod memory_host;
pub mod options;
pub mod platform;
pub mod provenance;
pub mod reference;
pub mod registry;
pub mod request;
pub mod sbom;
pub mod store;
pub mod tar;
pub mod timefmt;

mod bindings;

pub use error::{Error, ErrorKind, Result};
pub use request::{ExportRequest, ExportResponse};
/// The path `src/base/` still names ingest by (it moved to `store/`); to go once base/ imports
/// `store::ingest` (left alone while another branch reshapes it).
pub(crate) use store::ingest;

/// Run one export request (JSON in, JSON out): the entry point both bindings call.
pub async fn run_json<H: host::Host>(host: &H, request_json: &str) -> Result<String> {
    let request = ExportRequest::from_json(request_json)?;
    let response = export::run(host, &request).await?;
    Ok(response.to_json())
}

/// Push images from the local store: JSON request {name | names, insecure, byDigest}; back, for
/// `name` its metadata, for `names` {results: [metadata or {image.name, error}]} (see
/// `store::push_request`).
pub async fn push_json<H: host::Host>(host: &H, request_json: &str) -> Result<String> {
    let request: store::PushRequest =
        serde_json::from_str(request_json).map_err(|e| Error::option(format!("invalid push request: {e}")))?;
    Ok(store::push_request(host, &request).await?.to_string())
}

/// The images in the local store, as a JSON array of {name, digest, mediaType, size}.
pub async fn images_json<H: host::Host>(host: &H) -> Result<String> {
    let rows = store::list(host).await?;
    Ok(serde_json::to_string(&rows).expect("rows are plain data"))
}

/// `outport rm NAME…`: JSON request {names}; JSON {removed: [full names]} back.
pub async fn remove_json<H: host::Host>(host: &H, request_json: &str) -> Result<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct RemoveRequest {
        names: Vec<String>,
    }
    let request: RemoveRequest =
        serde_json::from_str(request_json).map_err(|e| Error::option(format!("invalid rm request: {e}")))?;
    let removed = store::remove(host, &request.names).await?;
    Ok(serde_json::json!({ "removed": removed }).to_string())
}

/// `outport store verify`: a JSON report {blobs, bytes, images, problems}.
pub async fn store_verify_json<H: host::Host>(host: &H) -> Result<String> {
    Ok(store::verify(host).await?.to_string())
}

/// `outport store gc`: a JSON report {images, kept, removed, freed}.
pub async fn store_gc_json<H: host::Host>(host: &H) -> Result<String> {
    Ok(store::gc(host).await?.to_string())
}
