//! The registry's state machine driven through the in-memory host's scripted HTTP: every test
//! scripts the registry (and token server, and blob storage) as a closure and asserts on the
//! requests the core sent, the waits it asked for and the error it reported.

use super::auth::Access;
use super::push::{push, PushJob};
use super::{pull, upload, Repository};
use crate::digest::sha256;
use crate::error::{Error, ErrorKind, Result, Transport};
use crate::host::{Credential, HttpResponse};
use crate::image::mediatypes::{OCI_CONFIG, OCI_MANIFEST};
use crate::image::spec::Descriptor;
use crate::memory_host::{header, reply, run, MemoryHost};
use crate::reference::Reference;
use std::cell::Cell;
use std::rc::Rc;

const REGISTRY: &str = "https://reg.example/v2/a/b";
const PULL_CHALLENGE: &str =
    r#"Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull""#;

fn repository(access: Access, insecure: bool) -> Repository {
    Repository::new(&Reference::parse_normalized("reg.example/a/b:1").unwrap(), access, insecure)
}

fn credential() -> Option<Credential> {
    Some(Credential { username: "user".into(), password: "pw".into(), identity_token: None })
}

fn unexpected(request: &crate::host::HttpRequest) -> Result<HttpResponse> {
    panic!("unexpected request {} {}", request.method, request.url)
}

/// The failure a host reports when no connection could be made.
fn refused() -> Error {
    Error::transport(Transport::Connect, "GET https://reg.example/v2/: connection refused")
}

const MANIFEST: &[u8] = br#"{"schemaVersion":2}"#;

#[test]
fn a_401_fetches_a_bearer_token_once_and_retries_with_it() {
    let digest = sha256(MANIFEST);
    let stated = digest.clone();
    let host = MemoryHost::with_responder(move |r| match (r.url.as_str(), header(r, "Authorization")) {
        (u, None) if u == format!("{REGISTRY}/manifests/1") => {
            Ok(reply(401, &[("WWW-Authenticate", PULL_CHALLENGE)], b""))
        }
        (u, None) if u.starts_with("https://auth.example/token?") => Ok(reply(200, &[], br#"{"token":"tok"}"#)),
        (u, Some("Bearer tok")) if u.starts_with(REGISTRY) => {
            Ok(reply(200, &[("Docker-Content-Digest", stated.as_str())], MANIFEST))
        }
        _ => unexpected(r),
    });
    let repo = repository(Access::Pull, false);
    let fetched = run(pull::manifest(&host, &repo, "1")).unwrap();
    assert_eq!(fetched.bytes, MANIFEST);
    // The session keeps the token: a second request goes out with it at once.
    run(pull::manifest(&host, &repo, &digest)).unwrap();
    assert_eq!(
        host.request_lines(),
        [
            format!("GET {REGISTRY}/manifests/1"),
            "GET https://auth.example/token?service=reg.example&scope=repository%3Aa%2Fb%3Apull".into(),
            format!("GET {REGISTRY}/manifests/1"),
            format!("GET {REGISTRY}/manifests/{digest}"),
        ]
    );
    assert_eq!(*host.credential_asks.borrow(), [("reg.example".to_string(), false)]);
}

#[test]
fn a_credential_goes_to_the_token_server_as_basic_auth_with_the_account() {
    let challenge = r#"Bearer realm="https://auth.example/token?x=1",service="reg.example",scope="other:thing:pull""#;
    let mut host = MemoryHost::with_responder(move |r| match (r.url.as_str(), header(r, "Authorization")) {
        (u, None) if u.starts_with(REGISTRY) => Ok(reply(401, &[("WWW-Authenticate", challenge)], b"")),
        (u, Some("Basic dXNlcjpwdw==")) if u.starts_with("https://auth.example/") => {
            Ok(reply(200, &[], br#"{"access_token":"tok"}"#))
        }
        (u, Some("Bearer tok")) if u.starts_with(REGISTRY) => Ok(reply(200, &[], MANIFEST)),
        _ => unexpected(r),
    });
    host.credential = credential();
    run(pull::manifest(&host, &repository(Access::Push, false), "1")).unwrap();
    assert_eq!(
        host.request_lines()[1],
        "GET https://auth.example/token?x=1&service=reg.example&scope=repository%3Aa%2Fb%3Apull%2Cpush\
         &scope=other%3Athing%3Apull&account=user"
    );
    assert_eq!(*host.credential_asks.borrow(), [("reg.example".to_string(), true)]);
}

#[test]
fn an_identity_token_is_exchanged_by_an_oauth2_post() {
    let mut host = MemoryHost::with_responder(move |r| match (r.method.as_str(), header(r, "Authorization")) {
        ("GET", None) => Ok(reply(401, &[("WWW-Authenticate", PULL_CHALLENGE)], b"")),
        ("POST", None) => Ok(reply(200, &[], br#"{"access_token":"tok"}"#)),
        ("GET", Some("Bearer tok")) => Ok(reply(200, &[], MANIFEST)),
        _ => unexpected(r),
    });
    host.credential =
        Some(Credential { username: "<token>".into(), password: String::new(), identity_token: Some("rt".into()) });
    run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap();
    let token_request = host.requests.borrow()[1].clone();
    assert_eq!(token_request.url, "https://auth.example/token");
    let crate::host::HttpBody::Bytes(form) = token_request.body else { panic!("a form body") };
    assert_eq!(
        String::from_utf8(form).unwrap(),
        "grant_type=refresh_token&service=reg.example&client_id=outport&refresh_token=rt\
         &scope=repository%3Aa%2Fb%3Apull"
    );
}

#[test]
fn a_plain_http_token_realm_is_refused_unless_insecure() {
    let challenge = r#"Bearer realm="http://auth.example/token""#;
    let host = MemoryHost::with_responder(move |r| match r.url.as_str() {
        u if u.starts_with(REGISTRY) => Ok(reply(401, &[("WWW-Authenticate", challenge)], b"")),
        _ => unexpected(r),
    });
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(error.message.contains("is not https"), "{error}");
    assert_eq!(host.requests.borrow().len(), 1);
}

#[test]
fn basic_auth_answers_a_basic_challenge() {
    let mut host = MemoryHost::with_responder(move |r| match header(r, "Authorization") {
        None => Ok(reply(401, &[("WWW-Authenticate", r#"Basic realm="Registry""#)], b"")),
        Some("Basic dXNlcjpwdw==") => Ok(reply(200, &[], MANIFEST)),
        _ => unexpected(r),
    });
    host.credential = credential();
    run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap();
    assert_eq!(host.requests.borrow().len(), 2);

    // Without a credential: one 401, then an auth error that says how to log in.
    host.credential = None;
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(error.message.contains("docker login reg.example"), "{error}");
    assert_eq!(host.requests.borrow().len(), 3);
}

#[test]
fn rejected_credentials_are_reported_after_one_retry() {
    let mut host =
        MemoryHost::with_responder(move |_| Ok(reply(401, &[("WWW-Authenticate", r#"Basic realm="Registry""#)], b"")));
    host.credential = credential();
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert!(error.message.contains("the credentials for reg.example were rejected"), "{error}");
    assert_eq!(host.requests.borrow().len(), 2);
}

#[test]
fn a_redirect_to_another_host_carries_no_credentials() {
    let config = br#"{"architecture":"amd64"}"#;
    let descriptor = Descriptor::new(OCI_CONFIG, &sha256(config), config.len() as u64);
    let blob_url = format!("{REGISTRY}/blobs/{}", descriptor.digest);
    let host = MemoryHost::with_responder(move |r| match (r.url.as_str(), header(r, "Authorization")) {
        (u, None) if u == blob_url => Ok(reply(401, &[("WWW-Authenticate", PULL_CHALLENGE)], b"")),
        (u, None) if u.starts_with("https://auth.example/") => Ok(reply(200, &[], br#"{"token":"tok"}"#)),
        (u, Some("Bearer tok")) if u == blob_url => {
            Ok(reply(307, &[("Location", "https://cdn.example/blob?sig=s")], b""))
        }
        ("https://cdn.example/blob?sig=s", None) => Ok(reply(200, &[], config)),
        _ => unexpected(r),
    });
    let bytes = run(pull::small_blob(&host, &repository(Access::Pull, false), &descriptor, 1 << 20)).unwrap();
    assert_eq!(bytes, config);
    assert_eq!(host.request_lines().last().unwrap(), "GET https://cdn.example/blob?sig=s");
}

#[test]
fn endless_redirects_are_cut_off() {
    let host = MemoryHost::with_responder(|r| {
        let next = format!("{}x", r.url);
        Ok(reply(302, &[("Location", next.as_str())], b""))
    });
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert!(error.message.contains("too many or empty redirects"), "{error}");
    assert_eq!(host.requests.borrow().len(), 1 + super::MAX_REDIRECTS as usize);
}

#[test]
fn an_insecure_registry_falls_back_to_plain_http_once() {
    let host = MemoryHost::with_responder(|r| match r.url.as_str() {
        u if u.starts_with("https://") => Err(refused()),
        u if u.starts_with("http://reg.example/v2/a/b/manifests/") => Ok(reply(200, &[], MANIFEST)),
        _ => unexpected(r),
    });
    let repo = repository(Access::Pull, true);
    run(pull::manifest(&host, &repo, "1")).unwrap();
    run(pull::manifest(&host, &repo, "2")).unwrap();
    assert_eq!(
        host.request_lines(),
        [
            "GET https://reg.example/v2/a/b/manifests/1",
            "GET http://reg.example/v2/a/b/manifests/1",
            "GET http://reg.example/v2/a/b/manifests/2",
        ]
    );
    assert!(host.requests.borrow().iter().all(|r| r.insecure), "registry.insecure marks every request");
    assert!(host.sleeps.borrow().is_empty());
}

#[test]
fn a_secure_registry_never_falls_back_to_plain_http() {
    let host = MemoryHost::with_responder(|_| Err(refused()));
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Registry);
    assert!(error.message.contains("connection refused"), "{error}");
    assert!(host.request_lines().iter().all(|l| l.starts_with("GET https://")));
    assert!(host.requests.borrow().iter().all(|r| !r.insecure));
    // Transport failures are retried with backoff: five tries, four waits.
    assert_eq!(*host.sleeps.borrow(), [250, 500, 1000, 2000]);
}

#[test]
fn an_untrusted_certificate_is_not_retried_and_says_how_to_trust_it() {
    let host = MemoryHost::with_responder(|r| {
        Err(Error::transport(Transport::Certificate, format!("GET {}: invalid peer certificate: UnknownIssuer", r.url)))
    });
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Registry);
    assert_eq!(
        error.message,
        "pull from reg.example/a/b: get manifest 1: GET https://reg.example/v2/a/b/manifests/1: invalid peer \
         certificate: UnknownIssuer (trust its CA with --registry-ca FILE (npm: registryCa), or pass \
         --base-insecure (npm: baseInsecure))"
    );
    assert_eq!(host.requests.borrow().len(), 1);
    assert!(host.sleeps.borrow().is_empty());

    // The decision follows the kind the host gave, not the wording: other TLS failures and
    // timeouts are retried like any transport failure, whatever their message says.
    for transport in [Transport::Tls, Transport::Timeout, Transport::Dns, Transport::Other] {
        let host = MemoryHost::with_responder(move |_| Err(Error::transport(transport, "certificate? no")));
        let error = run(pull::manifest(&host, &repository(Access::Push, false), "1")).unwrap_err();
        assert!(!error.message.contains("--registry-ca"), "{error}");
        assert_eq!(host.requests.borrow().len(), super::ATTEMPTS as usize, "{transport:?}");
    }
}

#[test]
fn an_insecure_registry_falls_back_to_http_on_a_certificate_failure() {
    let host = MemoryHost::with_responder(|r| match r.url.as_str() {
        u if u.starts_with("https://") => Err(Error::transport(Transport::Certificate, "bad certificate")),
        _ => Ok(reply(200, &[], MANIFEST)),
    });
    run(pull::manifest(&host, &repository(Access::Pull, true), "1")).unwrap();
    assert_eq!(host.request_lines()[1], "GET http://reg.example/v2/a/b/manifests/1");
}

#[test]
fn once_https_has_answered_a_transport_failure_is_no_reason_to_fall_back() {
    let answered = Rc::new(Cell::new(false));
    let host = MemoryHost::with_responder({
        let answered = answered.clone();
        move |r| match r.url.as_str() {
            "https://reg.example/v2/" if !answered.get() => {
                answered.set(true);
                Ok(reply(200, &[], b""))
            }
            u if u.starts_with("https://") => Err(refused()),
            _ => unexpected(r),
        }
    });
    let repo = repository(Access::Pull, true);
    run(repo.ping(&host)).unwrap();
    run(pull::manifest(&host, &repo, "1")).unwrap_err();
    assert!(host.request_lines().iter().all(|l| l.starts_with("GET https://")), "{:?}", host.request_lines());
    assert_eq!(host.requests.borrow().len(), 1 + super::ATTEMPTS as usize);
}

#[test]
fn a_429_waits_as_long_as_retry_after_says() {
    let tries = Rc::new(Cell::new(0));
    let host = MemoryHost::with_responder({
        let tries = tries.clone();
        move |_| {
            tries.set(tries.get() + 1);
            Ok(match tries.get() {
                1 => reply(429, &[("Retry-After", "3")], b""),
                2 => reply(503, &[("Retry-After", "999")], b""),
                3 => reply(502, &[], b""),
                _ => reply(200, &[], MANIFEST),
            })
        }
    });
    run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap();
    // Retry-After in seconds, capped at a minute; without it the backoff for the third attempt.
    assert_eq!(*host.sleeps.borrow(), [3000, 60_000, 1000]);
    let retries: Vec<_> = host.events.borrow().iter().filter(|e| e.phase == "retry").map(|e| e.current).collect();
    assert_eq!(retries, [1, 2, 3]);
}

#[test]
fn a_registry_that_keeps_failing_is_reported_after_the_last_attempt() {
    let host = MemoryHost::with_responder(|_| {
        Ok(reply(503, &[], br#"{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}"#))
    });
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Registry);
    assert_eq!(
        error.message,
        "pull from reg.example/a/b: get manifest 1: https://reg.example/v2/a/b/manifests/1 answered HTTP 503: \
         UNAVAILABLE: try later"
    );
    assert_eq!(*host.sleeps.borrow(), [250, 500, 1000, 2000]);
}

#[test]
fn a_pull_by_tag_refuses_content_that_is_not_the_stated_digest() {
    let host = MemoryHost::with_responder(|_| {
        Ok(reply(200, &[("Docker-Content-Digest", sha256(b"other").as_str())], MANIFEST))
    });
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), "1")).unwrap_err();
    assert!(error.message.contains("but its Docker-Content-Digest says"), "{error}");
    // By digest, the bytes must have the digest asked for, whatever the header says.
    let asked = sha256(b"other");
    let error = run(pull::manifest(&host, &repository(Access::Pull, false), &asked)).unwrap_err();
    assert!(error.message.contains(&format!("but asked for {asked}")), "{error}");
}

/// A blob bigger than a monolithic upload, so it goes up in chunks.
const BIG: u64 = upload::MONOLITHIC_MAX + (1 << 20);
const BIG_DIGEST: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000b16";

#[test]
fn a_dropped_chunk_resumes_at_the_offset_the_registry_reports() {
    let uploads = "https://reg.example/v2/a/b/blobs/uploads";
    let patches = Rc::new(Cell::new(0));
    let host = MemoryHost::with_responder({
        let patches = patches.clone();
        move |r| match (r.method.as_str(), r.url.as_str()) {
            ("POST", u) if u == format!("{uploads}/") => {
                Ok(reply(202, &[("Location", "/v2/a/b/blobs/uploads/u?s=1")], b""))
            }
            ("PATCH", _) => {
                patches.set(patches.get() + 1);
                match patches.get() {
                    1 => Ok(reply(202, &[("Location", "/v2/a/b/blobs/uploads/u?s=2"), ("Range", "0-16777215")], b"")),
                    2 => Err(Error::transport(Transport::Reset, "PATCH …: connection reset")),
                    _ => Ok(reply(
                        202,
                        &[("Location", "/v2/a/b/blobs/uploads/u?s=4"), ("Range", "bytes=0-34603007")],
                        b"",
                    )),
                }
            }
            ("GET", u) if u == format!("{uploads}/u?s=2") => {
                Ok(reply(204, &[("Location", "/v2/a/b/blobs/uploads/u?s=3"), ("Range", "0-19999999")], b""))
            }
            ("PUT", u) if u.starts_with(&format!("{uploads}/u?s=4&digest=sha256%3A")) => Ok(reply(201, &[], b"")),
            _ => unexpected(r),
        }
    });
    run(upload::upload_blob(&host, &repository(Access::Push, false), BIG_DIGEST, BIG, None)).unwrap();
    let sent: Vec<(String, Option<String>)> = host
        .requests
        .borrow()
        .iter()
        .map(|r| (format!("{} {}", r.method, r.url), header(r, "Content-Range").map(String::from)))
        .collect();
    let at = |line: &str, range: Option<&str>| (line.to_string(), range.map(String::from));
    assert_eq!(
        sent,
        [
            at(&format!("POST {uploads}/"), None),
            at(&format!("PATCH {uploads}/u?s=1"), Some("0-16777215")),
            at(&format!("PATCH {uploads}/u?s=2"), Some("16777216-33554431")),
            at(&format!("GET {uploads}/u?s=2"), None),
            // The registry holds 20000000 bytes: go on from there, not from the chunk's start.
            at(&format!("PATCH {uploads}/u?s=3"), Some("20000000-34603007")),
            at(&format!("PUT {uploads}/u?s=4&digest=sha256%3A{}", &BIG_DIGEST[7..]), None),
        ]
    );
    let bodies: Vec<_> = host.requests.borrow().iter().map(|r| r.body.clone()).collect();
    assert_eq!(
        bodies[4],
        crate::host::HttpBody::Blob { digest: BIG_DIGEST.into(), offset: 20_000_000, length: BIG - 20_000_000 }
    );
    assert_eq!(*host.sleeps.borrow(), [250]);
}

#[test]
fn a_chunk_that_keeps_failing_backs_off_up_to_the_cap_then_gives_up() {
    let host = MemoryHost::with_responder(|r| match r.method.as_str() {
        "POST" => Ok(reply(202, &[("Location", "/v2/a/b/blobs/uploads/u")], b"")),
        "PATCH" => Err(Error::transport(Transport::Reset, "PATCH …: connection reset")),
        // The registry lost the session's bytes: each resume starts over at 0.
        "GET" => Ok(reply(204, &[("Location", "/v2/a/b/blobs/uploads/u"), ("Range", "0-0")], b"")),
        _ => unexpected(r),
    });
    let error = run(upload::upload_blob(&host, &repository(Access::Push, false), BIG_DIGEST, BIG, None)).unwrap_err();
    assert!(error.message.contains("connection reset"), "{error}");
    assert_eq!(*host.sleeps.borrow(), [250, 500, 1000, 2000, 4000, 8000, 8000, 8000]);
}

/// An image in the memory host's store: its manifest (stored), config and one layer (only named:
/// uploads stream stored blobs by digest, which the scripted registry never reads).
fn stored_image(host: &MemoryHost) -> (Descriptor, Vec<(String, u64)>) {
    let digest = host.put_blob(MANIFEST);
    let root = Descriptor::new(OCI_MANIFEST, &digest, MANIFEST.len() as u64);
    let blobs = vec![
        (digest, MANIFEST.len() as u64),
        ("sha256:00000000000000000000000000000000000000000000000000000000000c0f16".into(), 100),
        ("sha256:0000000000000000000000000000000000000000000000000000000000001a7e".into(), 200),
    ];
    (root, blobs)
}

fn scripted_registry(manifest_digest: Rc<std::cell::RefCell<String>>) -> MemoryHost {
    let push_challenge = r#"Bearer realm="https://auth.example/token",service="reg.example""#;
    MemoryHost::with_responder(move |r| match (r.method.as_str(), r.url.as_str(), header(r, "Authorization")) {
        (_, u, None) if u.starts_with("https://reg.example/") => {
            Ok(reply(401, &[("WWW-Authenticate", push_challenge)], b""))
        }
        ("GET", u, _) if u.starts_with("https://auth.example/token?") => Ok(reply(200, &[], br#"{"token":"t"}"#)),
        ("GET", "https://reg.example/v2/", _) => Ok(reply(200, &[], b"")),
        // The config is there already; the layer is not.
        ("HEAD", u, _) => Ok(reply(if u.ends_with("c0f16") { 200 } else { 404 }, &[], b"")),
        ("POST", u, _) if u.ends_with("/blobs/uploads/") => {
            Ok(reply(202, &[("Location", "/v2/a/b/blobs/uploads/u1")], b""))
        }
        ("PUT", u, _) if u.contains("/blobs/uploads/u1?digest=") => Ok(reply(201, &[], b"")),
        ("PUT", u, _) if u.contains("/manifests/") => {
            Ok(reply(201, &[("Docker-Content-Digest", manifest_digest.borrow().as_str())], b""))
        }
        _ => unexpected(r),
    })
}

#[test]
fn a_push_uploads_missing_blobs_then_puts_the_manifest_last() {
    let stated = Rc::new(std::cell::RefCell::new(sha256(MANIFEST)));
    let mut host = scripted_registry(stated);
    host.credential = credential();
    let (root, blobs) = stored_image(&host);
    let job = PushJob { root: &root, manifests: &[], blobs: &blobs, insecure: false, by_digest: false };
    run(push(&host, &Reference::parse_normalized("reg.example/a/b:1").unwrap(), &job, &[])).unwrap();
    let lines = host.request_lines();
    let authorized: Vec<&str> = lines
        .iter()
        .zip(host.requests.borrow().iter())
        .filter(|(_, r)| header(r, "Authorization") == Some("Bearer t"))
        .map(|(l, _)| l.as_str())
        .collect();
    assert_eq!(authorized[0], "GET https://reg.example/v2/");
    assert_eq!(lines.iter().filter(|l| l.starts_with("PUT")).count(), 2, "{lines:?}");
    assert!(lines
        .iter()
        .any(|l| l
            .contains("uploads/u1?digest=sha256%3A0000000000000000000000000000000000000000000000000000000000001a7e")));
    assert!(!lines.iter().any(|l| l.starts_with("PUT") && l.contains("c0f16")), "the config is there: not uploaded");
    assert_eq!(lines.last().unwrap(), "PUT https://reg.example/v2/a/b/manifests/1");
    assert!(
        host.request_lines().iter().all(|l| !l.contains(&format!("blobs/{}", root.digest))),
        "no HEAD for manifests"
    );
    let token = lines.iter().find(|l| l.contains("auth.example")).unwrap();
    assert!(token.contains("scope=repository%3Aa%2Fb%3Apull%2Cpush"), "{token}");
}

#[test]
fn a_manifest_stored_under_another_digest_is_refused() {
    let stated = Rc::new(std::cell::RefCell::new(sha256(b"rewritten")));
    let mut host = scripted_registry(stated);
    host.credential = credential();
    let (root, blobs) = stored_image(&host);
    let job = PushJob { root: &root, manifests: &[], blobs: &blobs, insecure: false, by_digest: true };
    let error = run(push(&host, &Reference::parse_normalized("reg.example/a/b:1").unwrap(), &job, &[])).unwrap_err();
    assert_eq!(error.kind, ErrorKind::Registry);
    assert!(error.message.contains(&format!("the registry stored it as {}", sha256(b"rewritten"))), "{error}");
    assert_eq!(
        host.request_lines().last().unwrap(),
        &format!("PUT https://reg.example/v2/a/b/manifests/{}", root.digest)
    );
}
