//! The OCI distribution protocol, client side: blob existence checks, monolithic uploads streamed
//! from the store, manifest PUTs. The protocol lives here once; hosts only send HTTP requests.

pub mod push;
pub mod stored;

use crate::error::{Error, ErrorKind, Result};
use crate::host::{Host, HttpBody, HttpRequest, HttpResponse, ProgressEvent};
use crate::reference::Reference;

/// Registry error bodies and manifests are small; bound what the host hands back.
const MAX_RESPONSE: u32 = 1 << 20;

/// One repository on one registry.
pub struct Repository {
    /// `https://ghcr.io` or, with registry.insecure, `http://127.0.0.1:5000`.
    base: String,
    /// `owner/name` within the registry.
    path: String,
    /// `ghcr.io/owner/name`, for messages.
    display: String,
}

impl Repository {
    pub fn new(name: &Reference, insecure: bool) -> Repository {
        // Docker Hub's API lives on another host than its name (distribution's DefaultRegistryHost).
        let host =
            if name.domain == crate::reference::DEFAULT_DOMAIN { "registry-1.docker.io" } else { name.domain.as_str() };
        let scheme = if insecure { "http" } else { "https" };
        Repository { base: format!("{scheme}://{host}"), path: name.path.clone(), display: name.repository() }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base, self.path)
    }

    /// Send a request, retrying transport failures, 429 and 5xx with bounded exponential backoff
    /// (or the registry's Retry-After); a final status outside `expected` is an error naming the
    /// operation.
    async fn send<H: Host>(
        &self,
        host: &H,
        what: &str,
        request: HttpRequest,
        expected: &[u16],
    ) -> Result<HttpResponse> {
        let url = request.url.clone();
        let mut attempt = 1;
        let response = loop {
            let wait = match host.http_send(request.clone(), MAX_RESPONSE).await {
                Ok(r) if attempt < ATTEMPTS && retryable(r.status) => retry_after(&r).unwrap_or(backoff(attempt)),
                Ok(r) => break r,
                Err(e) if attempt < ATTEMPTS && e.kind == ErrorKind::Registry => backoff(attempt),
                Err(e) => return Err(Error::new(e.kind, format!("push to {}: {what}: {}", self.display, e.message))),
            };
            let id = format!("{what} (attempt {} of {ATTEMPTS})", attempt + 1);
            host.progress(ProgressEvent { phase: "retry".into(), id, current: attempt as u64, total: ATTEMPTS as u64 });
            host.sleep(wait).await;
            attempt += 1;
        };
        if expected.contains(&response.status) {
            return Ok(response);
        }
        let detail = registry_errors(&response.body);
        let (kind, hint) = match response.status {
            401 | 403 => (ErrorKind::Auth, " (this version of outport does not send credentials yet)"),
            _ => (ErrorKind::Registry, ""),
        };
        Err(Error::new(
            kind,
            format!(
                "push to {}: {what}: {} answered HTTP {}{detail}{hint}",
                self.display,
                strip_query(&url),
                response.status
            ),
        ))
    }

    /// Resolve an upload `Location` (absolute, or relative to the registry).
    fn resolve(&self, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_string());
        }
        if location.starts_with('/') {
            return Ok(format!("{}{location}", self.base));
        }
        Err(Error::new(ErrorKind::Registry, format!("push to {}: unusable upload location {location:?}", self.display)))
    }
}

/// Tries per request, the first included.
const ATTEMPTS: u32 = 5;

fn retryable(status: u16) -> bool {
    status == 429 || (500..600).contains(&status)
}

/// 250 ms, 500 ms, 1 s, 2 s, … capped at 8 s.
fn backoff(attempt: u32) -> u32 {
    (250u32 << (attempt - 1).min(5)).min(8_000)
}

/// Retry-After in seconds (the HTTP-date form is treated as absent), capped at a minute.
fn retry_after(response: &HttpResponse) -> Option<u32> {
    let seconds: u32 = response.header("Retry-After")?.trim().parse().ok()?;
    Some(seconds.min(60) * 1000)
}

pub(crate) fn request(method: &str, url: String, headers: Vec<(String, String)>, body: HttpBody) -> HttpRequest {
    HttpRequest { method: method.into(), url, headers, body }
}

/// ": CODE: message" from a distribution error body, if it has one.
fn registry_errors(body: &[u8]) -> String {
    let parsed: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let errors: Vec<String> = parsed["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| format!("{}: {}", e["code"].as_str().unwrap_or("ERROR"), e["message"].as_str().unwrap_or("")))
        .collect();
    if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    }
}

/// Upload URLs carry session state in their query: keep messages short and free of it.
fn strip_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_errors() {
        let r = Repository::new(&Reference::parse_normalized("foo").unwrap(), false);
        assert_eq!(r.url("blobs/x"), "https://registry-1.docker.io/v2/library/foo/blobs/x");
        let r = Repository::new(&Reference::parse_normalized("127.0.0.1:5000/a/b:1").unwrap(), true);
        assert_eq!(r.url("manifests/1"), "http://127.0.0.1:5000/v2/a/b/manifests/1");
        assert_eq!(
            r.resolve("/v2/a/b/blobs/uploads/u?x=1").unwrap(),
            "http://127.0.0.1:5000/v2/a/b/blobs/uploads/u?x=1"
        );
        assert!(r.resolve("ftp://elsewhere/x").is_err());
        assert_eq!(
            registry_errors(br#"{"errors":[{"code":"MANIFEST_INVALID","message":"bad"}]}"#),
            ": MANIFEST_INVALID: bad"
        );
        assert_eq!(registry_errors(b"<html>"), "");
        assert_eq!((backoff(1), backoff(2), backoff(4), backoff(9)), (250, 500, 2000, 8000));
        let with =
            |v: &str| HttpResponse { status: 503, headers: vec![("retry-after".into(), v.into())], body: vec![] };
        assert_eq!(
            (retry_after(&with("2")), retry_after(&with("999")), retry_after(&with("soon"))),
            (Some(2000), Some(60_000), None)
        );
    }
}
