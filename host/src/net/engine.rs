//! Byte streams to Docker-API engines for `--load`: a unix socket, TCP, TCP with TLS (client
//! certificates from DOCKER_CERT_PATH or the context), or `ssh … docker system dial-stdio` as the
//! docker CLI runs it. The core speaks HTTP over them (src/engine/).

use crate::bindings::{CoreError, ErrorKind};
use crate::errors::error;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// An engine that accepts no connection within this long is not there.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

enum Connection {
    Unix(UnixStream),
    Tcp(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
    Ssh { child: Child, stdin: Option<ChildStdin>, stdout: ChildStdout },
}

#[derive(Default)]
pub struct Engines {
    open: HashMap<u32, Connection>,
    next: u32,
}

fn failed(what: &str, e: impl std::fmt::Display) -> CoreError {
    error(ErrorKind::Output, format!("{what}: {e}"))
}

impl Engines {
    pub fn connect(&mut self, scheme: &str, address: &str, cert_dir: Option<&str>) -> Result<u32, CoreError> {
        let connection = match scheme {
            "unix" => Connection::Unix(UnixStream::connect(address).map_err(|e| failed(address, e))?),
            "tcp" => Connection::Tcp(tcp(address)?),
            "tls" => Connection::Tls(Box::new(tls(address, cert_dir)?)),
            "ssh" => ssh(address)?,
            other => return Err(error(ErrorKind::Output, format!("unknown engine scheme {other:?}"))),
        };
        self.next += 1;
        self.open.insert(self.next, connection);
        Ok(self.next)
    }

    pub fn write(&mut self, handle: u32, data: &[u8]) -> Result<(), CoreError> {
        let result = match self.get(handle)? {
            Connection::Unix(s) => s.write_all(data),
            Connection::Tcp(s) => s.write_all(data),
            Connection::Tls(s) => s.write_all(data).and_then(|()| s.flush()),
            Connection::Ssh { stdin, .. } => match stdin {
                Some(stdin) => stdin.write_all(data),
                None => Err(std::io::ErrorKind::BrokenPipe.into()),
            },
        };
        result.map_err(|e| failed("sending to the engine", e))
    }

    pub fn read(&mut self, handle: u32, max: u32) -> Result<Vec<u8>, CoreError> {
        let mut buf = vec![0u8; max as usize];
        let result = match self.get(handle)? {
            Connection::Unix(s) => s.read(&mut buf),
            Connection::Tcp(s) => s.read(&mut buf),
            Connection::Tls(s) => match s.read(&mut buf) {
                // An engine that closes without close_notify has still said everything.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
                other => other,
            },
            Connection::Ssh { stdin, stdout, .. } => {
                // The request is complete once we read: let the remote side see its end.
                stdin.take();
                stdout.read(&mut buf)
            }
        };
        let n = result.map_err(|e| failed("reading from the engine", e))?;
        buf.truncate(n);
        Ok(buf)
    }

    pub fn close(&mut self, handle: u32) {
        if let Some(Connection::Ssh { mut child, stdin, .. }) = self.open.remove(&handle) {
            drop(stdin);
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn get(&mut self, handle: u32) -> Result<&mut Connection, CoreError> {
        self.open
            .get_mut(&handle)
            .ok_or_else(|| error(ErrorKind::Internal, format!("engine handle {handle} is not open")))
    }
}

fn tcp(address: &str) -> Result<TcpStream, CoreError> {
    use std::net::ToSocketAddrs;
    let addrs = address.to_socket_addrs().map_err(|e| failed(address, e))?;
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(failed(address, last.map_or("no address".to_string(), |e| e.to_string())))
}

/// TLS as the docker CLI does it with DOCKER_TLS_VERIFY: the engine's certificate checked against
/// `ca.pem`, our `cert.pem`/`key.pem` presented when they exist.
fn tls(
    address: &str,
    cert_dir: Option<&str>,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, CoreError> {
    let dir = std::path::Path::new(cert_dir.unwrap_or(""));
    let read = |name: &str| std::fs::read(dir.join(name)).ok();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match read("ca.pem") {
        Some(pem) => {
            for item in ureq::tls::parse_pem(&pem).flatten() {
                if let ureq::tls::PemItem::Certificate(cert) = item {
                    roots
                        .add(rustls::pki_types::CertificateDer::from(cert.der().to_vec()))
                        .map_err(|e| failed("ca.pem", e))?;
                }
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| failed("TLS", e))?
        .with_root_certificates(roots);
    let config = match (read("cert.pem"), read("key.pem")) {
        (Some(cert), Some(key)) => {
            let certs = ureq::tls::parse_pem(&cert)
                .flatten()
                .filter_map(|item| match item {
                    ureq::tls::PemItem::Certificate(c) => {
                        Some(rustls::pki_types::CertificateDer::from(c.der().to_vec()))
                    }
                    _ => None,
                })
                .collect();
            let key = ureq::tls::parse_pem(&key)
                .flatten()
                .find_map(|item| match item {
                    ureq::tls::PemItem::PrivateKey(k) => {
                        rustls::pki_types::PrivateKeyDer::try_from(k.der().to_vec()).ok()
                    }
                    _ => None,
                })
                .ok_or_else(|| {
                    error(ErrorKind::Output, format!("{}: no private key", dir.join("key.pem").display()))
                })?;
            builder.with_client_auth_cert(certs, key).map_err(|e| failed("cert.pem/key.pem", e))?
        }
        _ => builder.with_no_client_auth(),
    };
    let name = address.rsplit_once(':').map_or(address, |(h, _)| h).trim_matches(['[', ']']).to_string();
    let server = rustls::pki_types::ServerName::try_from(name).map_err(|e| failed(address, e))?;
    let connection = rustls::ClientConnection::new(Arc::new(config), server).map_err(|e| failed(address, e))?;
    Ok(rustls::StreamOwned::new(connection, tcp(address)?))
}

/// `ssh [-p PORT] [USER@]HOST -- docker system dial-stdio`, as the docker CLI's ssh helper runs it.
fn ssh(url: &str) -> Result<Connection, CoreError> {
    let rest = url.strip_prefix("ssh://").unwrap_or(url).trim_end_matches('/');
    let (userhost, port) = match rest.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() => (h, Some(p)),
        _ => (rest, None),
    };
    let mut command = Command::new("ssh");
    if let Some(port) = port {
        command.args(["-p", port]);
    }
    command
        .args(["-o", "ConnectTimeout=30", "-T", "--", userhost, "docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = command.spawn().map_err(|e| failed("ssh", e))?;
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().expect("stdout is piped");
    Ok(Connection::Ssh { child, stdin, stdout })
}
