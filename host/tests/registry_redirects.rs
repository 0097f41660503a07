//! Credentials stay with the registry: a registry that redirects blob requests to another host (as
//! registries fronting S3 or a CDN do) must not see its Authorization header forwarded there.
//! A scripted registry on 127.0.0.1 (plain HTTP, Basic auth) redirects every blob HEAD to a second
//! listener, which records the headers it receives.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

const SECRET: &str = "redirect-secret-never-forwarded";

/// Request line and headers of one HTTP/1.1 request; the body (Content-Length) is read and dropped.
fn read_head(stream: &mut TcpStream) -> Option<(String, Vec<String>)> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end().to_string();
        if header.is_empty() {
            break;
        }
        headers.push(header);
    }
    let length = headers
        .iter()
        .find_map(|h| h.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0)))
        .unwrap_or(0u64);
    std::io::copy(&mut reader.take(length), &mut std::io::sink()).ok()?;
    Some((line.trim_end().to_string(), headers))
}

fn answer(stream: &mut TcpStream, status: &str, headers: &[String]) {
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    let _ = write!(stream, "HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
}

/// Serve `handle` on a fresh 127.0.0.1 port, one request per connection.
fn serve(handle: impl Fn(&str, &[String]) -> (String, Vec<String>) + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if let Some((line, headers)) = read_head(&mut stream) {
                let (status, reply) = handle(&line, &headers);
                answer(&mut stream, &status, &reply);
            }
        }
    });
    addr
}

#[test]
fn authorization_is_not_forwarded_to_another_host_on_a_redirect() {
    let elsewhere_seen = Arc::new(Mutex::new(Vec::<Vec<String>>::new()));
    let seen = elsewhere_seen.clone();
    let elsewhere = serve(move |_, headers| {
        seen.lock().unwrap().push(headers.to_vec());
        ("404 Not Found".into(), vec![])
    });
    let registry_log = Arc::new(Mutex::new(Vec::<String>::new()));
    let log = registry_log.clone();
    let registry = serve(move |line, headers| {
        log.lock().unwrap().push(line.to_string());
        let authorized = headers.iter().any(|h| h.to_ascii_lowercase().starts_with("authorization: basic "));
        if !authorized {
            return ("401 Unauthorized".into(), vec!["WWW-Authenticate: Basic realm=\"test\"".into()]);
        }
        let path = line.split(' ').nth(1).unwrap_or_default();
        match line.split(' ').next().unwrap_or_default() {
            "GET" if path == "/v2/" => ("200 OK".into(), vec![]),
            "HEAD" => ("307 Temporary Redirect".into(), vec![format!("Location: http://{elsewhere}/storage{path}")]),
            "POST" => ("202 Accepted".into(), vec!["Location: /v2/app/blobs/uploads/session".into()]),
            "PUT" if path.contains("/blobs/uploads/") => ("201 Created".into(), vec![]),
            "PUT" => ("201 Created".into(), vec![]),
            _ => ("404 Not Found".into(), vec![]),
        }
    });

    let work = tempdir().unwrap();
    let spec = format!("type=registry,name={registry}/app:1,registry.insecure=true");
    let creds = format!("user:{SECRET}");
    let out = ok(export_tree(work.path(), &example_rootfs(), &spec, &["--creds", &creds, "--progress", "plain"]));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(SECRET) && !stderr(&out).contains(SECRET));

    let elsewhere_seen = elsewhere_seen.lock().unwrap();
    assert!(!elsewhere_seen.is_empty(), "the blob checks were redirected: {:?}", registry_log.lock().unwrap());
    for headers in elsewhere_seen.iter() {
        assert!(
            !headers.iter().any(|h| h.to_ascii_lowercase().starts_with("authorization")),
            "Authorization forwarded to another host: {headers:?}"
        );
    }
    assert!(registry_log.lock().unwrap().iter().any(|l| l.starts_with("PUT /v2/app/manifests/1")));
}
