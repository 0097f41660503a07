//! HTTP for the core's registry protocol: each request on a thread of its own (the core overlaps
//! blob uploads), redirects returned (never followed), blob bodies streamed from the store. https is verified against the system's CA bundle
//! (plus `--registry-ca`) unless the core marks the request insecure (`registry.insecure=true`).

use crate::bindings::outport::core::types::{BlobSlice, HttpBody, HttpError, HttpRequest, HttpResponse, TransportKind};
use crate::bindings::{CoreError, ErrorKind};
use crate::errors::io_error;
use crate::store::BlobStore;
use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;
use ureq::http;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

/// Where Debian, Ubuntu and Alpine keep the system CA bundle; `SSL_CERT_FILE` overrides it as in OpenSSL.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

pub struct Http {
    verified: ureq::Agent,
    /// Only for registries the user marked insecure: accepts any certificate.
    unverified: ureq::Agent,
    /// Requests run on their own threads (the core overlaps blob uploads); outcomes come back here.
    finished_tx: Sender<(u32, Outcome)>,
    finished_rx: Receiver<(u32, Outcome)>,
    finished: HashMap<u32, Outcome>,
    running: usize,
    next_handle: u32,
}

type Outcome = Result<HttpResponse, HttpError>;

/// A request body ready to go: the blob file is opened (and a missing blob reported) before the
/// request leaves for its thread.
enum Body {
    Empty,
    Bytes(Vec<u8>),
    File(std::io::Take<File>),
}

impl Http {
    /// `registry_ca`: an extra PEM bundle trusted for registries (self-signed or private CAs).
    pub fn new(registry_ca: Option<&Path>) -> Result<Http, String> {
        let verified = TlsConfig::builder().root_certs(root_certs(registry_ca)?).build();
        let unverified = TlsConfig::builder().disable_verification(true).build();
        let (finished_tx, finished_rx) = mpsc::channel();
        Ok(Http {
            verified: agent(verified),
            unverified: agent(unverified),
            finished_tx,
            finished_rx,
            finished: HashMap::new(),
            running: 0,
            next_handle: 0,
        })
    }

    /// Start `request` on a thread of its own; its outcome is collected by [`Http::take`].
    pub fn start(&mut self, store: &BlobStore, request: HttpRequest, max_body: u32) -> Result<u32, CoreError> {
        let body = match request.body {
            HttpBody::Empty => Body::Empty,
            HttpBody::Bytes(bytes) => Body::Bytes(bytes),
            HttpBody::Blob(BlobSlice { digest, offset, length }) => {
                let path = store.blob_path(&digest)?;
                let mut file = File::open(&path).map_err(|e| io_error(ErrorKind::Store, &path, &e))?;
                file.seek(SeekFrom::Start(offset)).map_err(|e| io_error(ErrorKind::Store, &path, &e))?;
                Body::File(file.take(length))
            }
        };
        let agent = if request.insecure { self.unverified.clone() } else { self.verified.clone() };
        let handle = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1);
        self.running += 1;
        let finished = self.finished_tx.clone();
        std::thread::spawn(move || {
            let outcome = send(&agent, &request.method, &request.url, &request.headers, body, max_body);
            let _ = finished.send((handle, outcome));
        });
        Ok(handle)
    }

    /// The outcome of request `handle` if it has finished.
    pub fn take(&mut self, handle: u32) -> Option<Outcome> {
        while let Ok((done, outcome)) = self.finished_rx.try_recv() {
            self.collect(done, outcome);
        }
        self.finished.remove(&handle)
    }

    /// Block until some request has finished (at once if one has, or if none is running).
    pub fn wait(&mut self) {
        if self.finished.is_empty() && self.running > 0 {
            if let Ok((done, outcome)) = self.finished_rx.recv() {
                self.collect(done, outcome);
            }
        }
    }

    fn collect(&mut self, handle: u32, outcome: Outcome) {
        self.running -= 1;
        self.finished.insert(handle, outcome);
    }
}

fn send(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Body,
    max_body: u32,
) -> Outcome {
    let shown = format!("{method} {}", url.split('?').next().unwrap_or(""));
    let failed =
        |transport: TransportKind, e: &dyn std::fmt::Display| HttpError { transport, message: format!("{shown}: {e}") };
    let fail = |e: &dyn std::fmt::Display| failed(TransportKind::Other, e);
    let mut builder = http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(name, value);
    }
    let response = match body {
        Body::Empty => agent.run(builder.body(()).map_err(|e| fail(&e))?),
        Body::Bytes(bytes) => agent.run(builder.body(bytes).map_err(|e| fail(&e))?),
        Body::File(mut slice) => {
            let body = ureq::SendBody::from_reader(&mut slice);
            agent.run(builder.body(body).map_err(|e| fail(&e))?)
        }
    }
    .map_err(|e| failed(transport(&e), &e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    let mut reader = response.into_body().into_reader().take(max_body as u64);
    reader.read_to_end(&mut body).map_err(|e| failed(io_transport(&e), &e))?;
    Ok(HttpResponse { status, headers, body })
}

/// What kind of failure a ureq error is, for the core's retry and hint decisions (it never reads
/// the wording).
fn transport(e: &ureq::Error) -> TransportKind {
    match e {
        ureq::Error::Timeout(_) => TransportKind::Timeout,
        ureq::Error::HostNotFound => TransportKind::Dns,
        ureq::Error::ConnectionFailed => TransportKind::Connect,
        ureq::Error::Tls(_) | ureq::Error::TlsRequired => TransportKind::Tls,
        ureq::Error::Io(io) => io_transport(io),
        _ => TransportKind::Other,
    }
}

fn io_transport(e: &std::io::Error) -> TransportKind {
    use std::io::ErrorKind as Io;
    // A body reader's error may wrap ureq's own (a timeout while reading).
    if let Some(inner) = e.get_ref().and_then(|inner| inner.downcast_ref::<ureq::Error>()) {
        return transport(inner);
    }
    match e.kind() {
        Io::ConnectionRefused | Io::HostUnreachable | Io::NetworkUnreachable | Io::AddrNotAvailable => {
            TransportKind::Connect
        }
        Io::ConnectionReset | Io::ConnectionAborted | Io::BrokenPipe | Io::UnexpectedEof => TransportKind::Reset,
        Io::TimedOut | Io::WouldBlock => TransportKind::Timeout,
        // rustls reports a failed handshake as InvalidData around its own error (ureq does not
        // re-export rustls's type to match on): a rejected certificate reads "invalid peer
        // certificate: …", the one TLS failure the user fixes with a CA or registry.insecure.
        Io::InvalidData => match e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            Some(rustls::Error::InvalidCertificate(_)) => TransportKind::Certificate,
            // An HTTP answer where a TLS record was expected: a plain-HTTP registry.
            Some(rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType)) => TransportKind::PlainHttp,
            Some(_) => TransportKind::Tls,
            None if e.get_ref().is_some() => TransportKind::Tls,
            None => TransportKind::Other,
        },
        _ => TransportKind::Other,
    }
}

/// How long one exchange may take to connect, send its body, get the answer's head and receive
/// the answer's body, each (a registry that stalls or trickles must not hang the export).
/// `OUTPORT_HTTP_TIMEOUT` (seconds) overrides the default of 300.
fn timeout() -> Duration {
    let seconds = std::env::var("OUTPORT_HTTP_TIMEOUT").ok().and_then(|v| v.trim().parse::<u64>().ok());
    Duration::from_secs(seconds.filter(|&s| s > 0).unwrap_or(300))
}

fn agent(tls: TlsConfig) -> ureq::Agent {
    let timeout = timeout();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_connect(Some(timeout.min(Duration::from_secs(30))))
        .timeout_send_body(Some(timeout))
        .timeout_recv_response(Some(timeout))
        .timeout_recv_body(Some(timeout))
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
