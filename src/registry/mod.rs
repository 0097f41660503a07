//! The OCI distribution protocol, client side: blob existence checks, monolithic uploads streamed
//! from the store, manifest PUTs, and pulls of base images. The protocol lives here once; hosts only
//! send HTTP requests.

pub mod auth;
pub mod credentials;
pub mod pull;
pub mod push;
#[cfg(test)]
mod scripted_tests;
mod upload;

use crate::error::{Error, ErrorKind, Result, Transport};
use crate::host::{Host, HttpBody, HttpRequest, HttpResponse, ProgressEvent};
use crate::reference::Reference;
use auth::{Access, Login, Session};
use std::cell::{Cell, RefCell};

/// Registry error bodies and manifests are small; bound what the host hands back.
const MAX_RESPONSE: u32 = 1 << 20;

/// Redirects followed for one GET or HEAD (blob storage usually needs one).
const MAX_REDIRECTS: u32 = 5;

/// One repository on one registry, with the authorization its registry granted.
pub struct Repository {
    /// `https://ghcr.io`; with registry.insecure it may become `http://…` (see `send`).
    base: RefCell<String>,
    /// The registry as users name it (`docker.io`, `127.0.0.1:5000`): the credential key.
    registry: String,
    /// `owner/name` within the registry.
    path: String,
    /// `ghcr.io/owner/name`, for messages.
    display: String,
    access: Access,
    /// registry.insecure: any certificate accepted, and plain HTTP if TLS does not answer.
    insecure: bool,
    /// Set once a response came back, so a later transport error is never taken for "no TLS here".
    scheme_settled: Cell<bool>,
    session: RefCell<Session>,
}

impl Repository {
    pub fn new(name: &Reference, access: Access, insecure: bool) -> Repository {
        // Docker Hub's API lives on another host than its name (distribution's DefaultRegistryHost).
        let host =
            if name.domain == crate::reference::DEFAULT_DOMAIN { "registry-1.docker.io" } else { name.domain.as_str() };
        Repository {
            base: RefCell::new(format!("https://{host}")),
            registry: name.domain.clone(),
            path: name.path.clone(),
            display: name.repository(),
            access,
            insecure,
            scheme_settled: Cell::new(false),
            session: RefCell::new(Session::default()),
        }
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/v2/{}/{tail}", self.base.borrow(), self.path)
    }

    fn verb(&self) -> &'static str {
        match self.access {
            Access::Pull => "pull from",
            Access::Push => "push to",
        }
    }

    /// Send a request: with the session's authorization (only to the registry itself, so a redirect
    /// to blob storage never carries it), answering one 401 challenge, following redirects of GET and
    /// HEAD, retrying transport failures, 429 and 5xx with bounded exponential backoff (or the
    /// registry's Retry-After). A final status outside `expected` is an error naming the operation.
    async fn send<H: Host>(
        &self,
        host: &H,
        what: &str,
        request: HttpRequest,
        expected: &[u16],
    ) -> Result<HttpResponse> {
        self.send_with(host, what, request, expected, Sending::RETRIED).await
    }

    /// [`Repository::send`] with other attempts or another bound on the response body (see [`Sending`]).
    async fn send_with<H: Host>(
        &self,
        host: &H,
        what: &str,
        mut request: HttpRequest,
        expected: &[u16],
        sending: Sending,
    ) -> Result<HttpResponse> {
        let Sending { attempts, max_body } = sending;
        let mut attempt = 1;
        let mut reauthenticated = false;
        let mut redirects = 0;
        let response = loop {
            self.follow_scheme_fallback(&mut request);
            let mut outgoing = request.clone();
            outgoing.insecure = self.insecure;
            let to_registry = same_origin(&outgoing.url, &self.base.borrow());
            if let (true, Some(authorization)) = (to_registry, self.session.borrow().authorization.clone()) {
                outgoing.headers.push(("Authorization".into(), authorization));
            }
            let wait = match host.http_send(outgoing, max_body).await {
                Ok(r) if r.status == 401 && to_registry && !reauthenticated => {
                    self.scheme_settled.set(true);
                    reauthenticated = true;
                    self.authenticate(host, &r).await?;
                    continue;
                }
                Ok(r) if is_redirect(r.status) && matches!(request.method.as_str(), "GET" | "HEAD") => {
                    redirects += 1;
                    let location = r.header("Location").filter(|_| redirects <= MAX_REDIRECTS).ok_or_else(|| {
                        self.error(
                            ErrorKind::Registry,
                            what,
                            &format!("too many or empty redirects from {}", strip_query(&request.url)),
                        )
                    })?;
                    request.url = self.resolve_from(&request.url, location)?;
                    continue;
                }
                Ok(r) if attempt < attempts && retryable(r.status) => {
                    self.scheme_settled.set(true);
                    retry_after(&r).unwrap_or(backoff(attempt))
                }
                Ok(r) => {
                    self.scheme_settled.set(true);
                    break r;
                }
                Err(_)
                    if to_registry
                        && self.insecure
                        && !self.scheme_settled.get()
                        && self.base.borrow().starts_with("https://") =>
                {
                    // registry.insecure as BuildKit reads it: TLS first, plain HTTP when TLS fails.
                    let plain = self.base.borrow().replacen("https://", "http://", 1);
                    request.url = request.url.replacen(&*self.base.borrow(), &plain, 1);
                    *self.base.borrow_mut() = plain;
                    continue;
                }
                // A plain-HTTP registry: TLS will not work by retrying either.
                Err(e) if e.transport == Some(Transport::PlainHttp) => {
                    let insecure = match self.access {
                        Access::Pull => "pass --base-insecure (npm: baseInsecure)",
                        Access::Push => "add registry.insecure=true to the output",
                    };
                    let hint = format!("{} speaks plain HTTP, not HTTPS: {insecure}", self.registry);
                    return Err(self.error(e.kind, what, &format!("{} ({hint})", e.message)));
                }
                // An untrusted certificate will not become trusted by retrying.
                Err(e) if e.transport == Some(Transport::Certificate) => {
                    let insecure = match self.access {
                        Access::Pull => "pass --base-insecure (npm: baseInsecure)",
                        Access::Push => "set registry.insecure=true",
                    };
                    let hint = format!("trust its CA with --registry-ca FILE (npm: registryCa), or {insecure}");
                    return Err(self.error(e.kind, what, &format!("{} ({hint})", e.message)));
                }
                Err(e) if attempt < attempts && e.kind == ErrorKind::Registry => backoff(attempt),
                Err(e) => return Err(self.error(e.kind, what, &e.message)),
            };
            let id = format!("{what} (attempt {} of {attempts})", attempt + 1);
            host.progress(ProgressEvent { phase: "retry".into(), id, current: attempt as u64, total: attempts as u64 });
            host.sleep(wait).await;
            attempt += 1;
        };
        if expected.contains(&response.status) {
            return Ok(response);
        }
        let detail = registry_errors(&response.body);
        let answered = format!("{} answered HTTP {}{detail}", strip_query(&request.url), response.status);
        Err(match response.status {
            401 if self.session.borrow().had_credential() => self.error(
                ErrorKind::Auth,
                what,
                &format!("{answered} (the credentials for {} were rejected)", self.registry),
            ),
            401 => self.error(
                ErrorKind::Auth,
                what,
                &format!(
                    "{answered} (no credentials for {}: {})",
                    self.registry,
                    auth::login_advice(&self.registry, self.access)
                ),
            ),
            403 => self.error(ErrorKind::Auth, what, &format!("{answered} (access denied)")),
            _ => self.error(ErrorKind::Registry, what, &answered),
        })
    }

    /// Concurrent requests: when another one has already fallen back to plain HTTP
    /// (registry.insecure), a request still aimed at the https form of the registry follows.
    fn follow_scheme_fallback(&self, request: &mut HttpRequest) {
        let base = self.base.borrow();
        if let Some(rest) = base.strip_prefix("http://") {
            let tls = format!("https://{rest}");
            if request.url.starts_with(&tls) {
                request.url = request.url.replacen(&tls, &base, 1);
            }
        }
    }

    /// `GET /v2/`: settles the scheme (registry.insecure) and logs in once, before requests run
    /// concurrently and would each meet the challenge and fetch a token of their own.
    async fn ping<H: Host>(&self, host: &H) -> Result<()> {
        let url = format!("{}/v2/", self.base.borrow());
        // 404: a registry without the version check still serves the API below it.
        self.send(host, "check the registry API", request("GET", url, vec![], HttpBody::Empty), &[200, 404]).await?;
        Ok(())
    }

    async fn authenticate<H: Host>(&self, host: &H, denied: &HttpResponse) -> Result<()> {
        let login =
            Login { registry: &self.registry, repository: &self.path, access: self.access, insecure: self.insecure };
        // No borrow may live across an await: work on a copy and put it back.
        let mut session = self.session.borrow().clone();
        let result = session.authenticate(host, &login, denied).await;
        *self.session.borrow_mut() = session;
        result
    }

    pub(super) fn error(&self, kind: ErrorKind, what: &str, detail: &str) -> Error {
        Error::new(kind, format!("{} {}: {what}: {detail}", self.verb(), self.display))
    }

    /// Resolve an upload `Location` (absolute, or relative to the registry).
    fn resolve(&self, location: &str) -> Result<String> {
        let base = self.base.borrow().clone();
        self.resolve_from(&base, location)
    }

    /// Resolve a `Location` against the URL it answered; only http(s) targets are followed.
    fn resolve_from(&self, current: &str, location: &str) -> Result<String> {
        if location.starts_with("http://") || location.starts_with("https://") {
            return Ok(location.to_string());
        }
        if location.starts_with('/') && !location.starts_with("//") {
            return Ok(format!("{}{location}", origin(current)));
        }
        Err(Error::new(
            ErrorKind::Registry,
            format!("{} {}: unusable location {location:?}", self.verb(), self.display),
        ))
    }
}

fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// `scheme://authority` of a URL.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    let end = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    &url[..end]
}

fn same_origin(url: &str, base: &str) -> bool {
    origin(url).eq_ignore_ascii_case(origin(base))
}

/// Tries per request, the first included.
const ATTEMPTS: u32 = 5;

/// How [`Repository::send_with`] sends a request: how many attempts at most, and the bound on the
/// response body it reads.
#[derive(Clone, Copy)]
struct Sending {
    attempts: u32,
    max_body: u32,
}

impl Sending {
    /// [`Repository::send`]'s: retried, reading bodies up to the bound for error bodies.
    const RETRIED: Sending = Sending { attempts: ATTEMPTS, max_body: MAX_RESPONSE };
    /// Without retries, for requests whose repetition could do harm (a chunk the registry may have
    /// half-stored: the caller asks the registry where the upload stands).
    const ONCE: Sending = Sending { attempts: 1, max_body: MAX_RESPONSE };

    /// Retried, with a chosen bound on the response body (manifests and blob chunks are bigger than
    /// error bodies).
    const fn bounded(max_body: u32) -> Sending {
        Sending { attempts: ATTEMPTS, max_body }
    }
}

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
    HttpRequest::new(method, url, headers, body)
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
        let r = Repository::new(&Reference::parse_normalized("foo").unwrap(), Access::Push, false);
        assert_eq!(r.url("blobs/x"), "https://registry-1.docker.io/v2/library/foo/blobs/x");
        let r = Repository::new(&Reference::parse_normalized("127.0.0.1:5000/a/b:1").unwrap(), Access::Pull, true);
        assert_eq!(r.url("manifests/1"), "https://127.0.0.1:5000/v2/a/b/manifests/1");
        assert_eq!(
            r.resolve("/v2/a/b/blobs/uploads/u?x=1").unwrap(),
            "https://127.0.0.1:5000/v2/a/b/blobs/uploads/u?x=1"
        );
        assert!(r.resolve("ftp://elsewhere/x").is_err());
        assert!(r.resolve("//elsewhere/x").is_err());
        assert_eq!(r.resolve_from("http://s3.example/a/b?x", "/c").unwrap(), "http://s3.example/c");
        assert!(same_origin("https://Reg:5000/v2/x", "https://reg:5000"));
        assert!(!same_origin("https://reg:5000.evil/v2", "https://reg:5000"));
        assert!(!same_origin("http://reg:5000/v2", "https://reg:5000"));
        assert_eq!(origin("https://a.b"), "https://a.b");
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
