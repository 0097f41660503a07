//! Registries that misbehave on purpose (a scripted server on 127.0.0.1, plain HTTP): upload
//! Locations with other schemes, endless and oversized answers, replies that trickle (slow-loris),
//! digests shaped like paths. Each must end in a clear error, quickly, with nothing written outside
//! the store.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Serve `handle(request line, stream)` on a fresh 127.0.0.1 port, a thread per connection. TLS
/// ClientHellos (registry.insecure tries TLS first) are dropped at once.
fn serve(handle: impl Fn(&str, &mut TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handle = std::sync::Arc::new(handle);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let handle = handle.clone();
            std::thread::spawn(move || {
                let mut first = [0u8; 1];
                if stream.peek(&mut first).ok() != Some(1) || first[0] == 0x16 {
                    return;
                }
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim_end().is_empty() {
                        break;
                    }
                }
                handle(line.trim_end(), &mut stream);
            });
        }
    });
    addr
}

fn reply(stream: &mut TcpStream, status: &str, headers: &[&str], body: &[u8]) {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let head = format!("HTTP/1.1 {status}\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n", body.len());
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// `outport export` of the example with `args`, with a short HTTP timeout; (output, seconds taken).
fn export(work: &std::path::Path, args: &[&str]) -> (std::process::Output, f64) {
    let mut all = vec!["export", example_rootfs().to_str().unwrap().to_string().leak() as &str];
    all.extend_from_slice(args);
    let started = Instant::now();
    let out = outport_command(work, &all).env("OUTPORT_HTTP_TIMEOUT", "1").output().unwrap();
    (out, started.elapsed().as_secs_f64())
}

/// [`export`] of the example on `REGISTRY/base:1` (plain HTTP) as the OCI archive `work/out.tar`.
fn export_on_base(work: &std::path::Path, registry: &str) -> (std::process::Output, f64) {
    let base = format!("{registry}/base:1");
    let spec = format!("type=oci,dest={}", work.join("out.tar").display());
    export(work, &["--base", &base, "--base-insecure", "-o", &spec])
}

fn assert_fails_with(out: &std::process::Output, expected: &str) {
    assert!(!out.status.success(), "succeeded: {}", stderr(out));
    let err = stderr(out);
    assert!(err.contains(expected), "expected {expected:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn upload_locations_with_other_schemes_are_refused() {
    for location in ["file:///etc/passwd", "ftp://127.0.0.1/upload", "//elsewhere.example/upload"] {
        let registry = serve(move |line, stream| match line.split(' ').next().unwrap() {
            "GET" | "HEAD" if line.contains("/blobs/") => reply(stream, "404 Not Found", &[], b""),
            "GET" => reply(stream, "200 OK", &[], b"{}"),
            "POST" => reply(stream, "202 Accepted", &[&format!("Location: {location}")], b""),
            _ => reply(stream, "500 Unexpected", &[], b""),
        });
        let work = tempdir().unwrap();
        let spec = format!("type=registry,name={registry}/app:1,registry.insecure=true");
        let (out, _) = export(work.path(), &["-o", &spec]);
        assert_fails_with(&out, "unusable location");
        assert!(stderr(&out).contains(&registry), "names the registry: {}", stderr(&out));
    }
}

/// A base image whose manifest never ends (chunked, endless): refused after the manifest limit,
/// without reading on.
#[test]
fn endless_and_oversized_manifests_are_cut_off() {
    let endless = serve(|line, stream| {
        if line.starts_with("GET /v2/ ") {
            return reply(stream, "200 OK", &[], b"{}");
        }
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nTransfer-Encoding: chunked\r\n\r\n";
        let _ = stream.write_all(head.as_bytes());
        let chunk = format!("{:x}\r\n{}\r\n", 65536, " ".repeat(65536));
        while stream.write_all(chunk.as_bytes()).is_ok() {}
    });
    let oversized = serve(|line, stream| {
        if line.starts_with("GET /v2/ ") {
            return reply(stream, "200 OK", &[], b"{}");
        }
        reply(stream, "200 OK", &["Content-Type: application/vnd.oci.image.manifest.v1+json"], &vec![b' '; 5 << 20]);
    });
    for registry in [endless, oversized] {
        let work = tempdir().unwrap();
        let (out, secs) = export_on_base(work.path(), &registry);
        assert_fails_with(&out, "larger than 4194304 bytes");
        assert!(secs < 30.0, "took {secs} s");
        assert!(!work.path().join("out.tar").exists(), "no output left behind");
    }
}

/// Replies that trickle one byte a second (slow-loris): the HTTP timeout ends each attempt, the
/// retries are bounded, and the error says what timed out.
#[test]
fn trickling_replies_time_out() {
    let head_trickle = serve(|_, stream| {
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " {
            if stream.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(400));
        }
        while stream.write_all(b"a").is_ok() {
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    let body_trickle = serve(|line, stream| {
        if line.starts_with("GET /v2/ ") {
            return reply(stream, "200 OK", &[], b"{}");
        }
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 100000\r\n\r\n");
        while stream.write_all(b" ").is_ok() {
            std::thread::sleep(Duration::from_millis(400));
        }
    });
    for registry in [head_trickle, body_trickle] {
        let work = tempdir().unwrap();
        let (out, secs) = export_on_base(work.path(), &registry);
        assert_fails_with(&out, "timeout");
        assert!(stderr(&out).contains(&registry), "names the registry: {}", stderr(&out));
        assert!(secs < 60.0, "bounded retries, took {secs} s");
    }
}

/// Digests from a registry become file names in the store: anything but `sha256:<64 hex>` is refused
/// before it is used.
#[test]
fn digests_shaped_like_paths_are_refused() {
    let config = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:../../../../../tmp/outport-escape","size":{}}},"layers":[]}}"#,
        config.len()
    );
    let registry = serve(move |line, stream| {
        if line.starts_with("GET /v2/ ") {
            reply(stream, "200 OK", &[], b"{}")
        } else if line.contains("/manifests/") {
            reply(stream, "200 OK", &["Content-Type: application/vnd.oci.image.manifest.v1+json"], manifest.as_bytes())
        } else {
            reply(stream, "200 OK", &[], config)
        }
    });
    let work = tempdir().unwrap();
    let (out, _) = export_on_base(work.path(), &registry);
    assert_fails_with(&out, "digest");
    assert!(!std::path::Path::new("/tmp/outport-escape").exists());
}
