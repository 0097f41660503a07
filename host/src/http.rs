//! HTTP for the core's registry protocol: one request per call, redirects returned (never
//! followed), blob bodies streamed from the store. https is verified against the system's CA bundle
//! (plus `--registry-ca`) unless the core marks the request insecure (`registry.insecure=true`).

use crate::errors::{error, io_error};
use crate::runtime::outport::core::types::{BlobSlice, HttpBody, HttpRequest, HttpResponse};
use crate::runtime::{CoreError, ErrorKind};
use crate::store::BlobStore;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::time::Duration;
use ureq::http;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Where Debian, Ubuntu and Alpine keep the system CA bundle; `SSL_CERT_FILE` overrides it as in OpenSSL.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub struct Http {
    verified: ureq::Agent,
    /// Only for registries the user marked insecure: accepts any certificate.
    unverified: ureq::Agent,
}

impl Http {
    /// `registry_ca`: an extra PEM bundle trusted for registries (self-signed or private CAs).
    pub fn new(registry_ca: Option<&Path>) -> Result<Http, String> {
        let verified = TlsConfig::builder().root_certs(root_certs(registry_ca)?).build();
        let unverified = TlsConfig::builder().disable_verification(true).build();
        Ok(Http { verified: agent(verified), unverified: agent(unverified) })
    }
    pub fn send(&self, store: &BlobStore, request: HttpRequest, max_body: u32) -> Result<HttpResponse, CoreError> {
        let shown = format!("{} {}", request.method, request.url.split('?').next().unwrap_or(""));
        let fail = |e: &dyn std::fmt::Display| error(ErrorKind::Registry, format!("{shown}: {e}"));
        let mut builder = http::Request::builder().method(request.method.as_str()).uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        let agent = if request.insecure { &self.unverified } else { &self.verified };
        let response = match request.body {
            HttpBody::Empty => agent.run(builder.body(()).map_err(|e| fail(&e))?),
            HttpBody::Bytes(bytes) => agent.run(builder.body(bytes).map_err(|e| fail(&e))?),
            HttpBody::Blob(BlobSlice { digest, offset, length }) => {
                let path = store.blob_path(&digest)?;
                let mut file = std::fs::File::open(&path).map_err(|e| io_error(ErrorKind::Store, &path, &e))?;
                file.seek(SeekFrom::Start(offset)).map_err(|e| io_error(ErrorKind::Store, &path, &e))?;
                let mut slice = file.take(length);
                let body = ureq::SendBody::from_reader(&mut slice);
                agent.run(builder.body(body).map_err(|e| fail(&e))?)
            }
        }
        .map_err(|e| fail(&e))?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        response.into_body().into_reader().take(max_body as u64).read_to_end(&mut body).map_err(|e| fail(&e))?;
        Ok(HttpResponse { status, headers, body })
    }
}

fn agent(tls: TlsConfig) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(300)))
        .tls_config(tls)
        .build();
    ureq::Agent::new_with_config(config)
}

/// The system bundle plus `registry_ca`. Without either readable file, ureq's bundled Mozilla roots.
fn root_certs(registry_ca: Option<&Path>) -> Result<RootCerts, String> {
    let system: std::path::PathBuf =
        std::env::var_os("SSL_CERT_FILE").map(Into::into).unwrap_or_else(|| SYSTEM_CA_BUNDLE.into());
    let mut certs = std::fs::read(&system).map(|pem| pem_certificates(&pem)).unwrap_or_default();
    if let Some(path) = registry_ca {
        let pem = std::fs::read(path).map_err(|e| format!("--registry-ca {}: {e}", path.display()))?;
        let extra = pem_certificates(&pem);
        if extra.is_empty() {
            return Err(format!("--registry-ca {}: no PEM certificate in the file", path.display()));
        }
        certs.extend(extra);
    }
    Ok(if certs.is_empty() { RootCerts::WebPki } else { RootCerts::new_with_certs(&certs) })
}

fn pem_certificates(pem: &[u8]) -> Vec<Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(PemItem::Certificate(cert)) => Some(cert),
            _ => None,
        })
        .collect()
}
