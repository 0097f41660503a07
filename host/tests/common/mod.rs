//! Shared helpers for the CLI's integration tests: run the real binary, check results with real
//! consumers (skopeo, umoci, tar), compare trees.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A fresh directory under the system temp dir, removed when dropped. (Hand-rolled rather than the
/// tempfile crate: its rustix features would force a second wasmtime build for `cargo test`.)
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

pub fn tempdir() -> std::io::Result<TempDir> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "outport-test-{}-{}-{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir(&dir)?;
    Ok(TempDir(dir))
}

pub fn example_rootfs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join("rootfs")
}

/// Run `outport` with a private store under `work`.
pub fn outport(work: &Path, args: &[&str]) -> Output {
    outport_command(work, args).output().expect("running outport")
}

/// The `outport` command [`outport`] runs, for tests that add environment. Hermetic: a private store,
/// a docker config under `work/docker` (none unless the test writes one), no CI credentials.
pub fn outport_command(work: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_outport"));
    command
        .args(args)
        .env("OUTPORT_STORE", work.join("store"))
        .env("SOURCE_DATE_EPOCH", "1445412480")
        .env("DOCKER_CONFIG", work.join("docker"))
        .env_remove("OUTPORT_REGISTRY_USER")
        .env_remove("OUTPORT_REGISTRY_TOKEN");
    command
}

/// `outport export <the example rootfs> <args…>`.
pub fn export_example(work: &Path, args: &[&str]) -> Output {
    let rootfs = example_rootfs();
    let mut all = vec!["export", rootfs.to_str().unwrap()];
    all.extend_from_slice(args);
    outport(work, &all)
}

/// `outport export <rootfs> -o <spec> <extra…>`.
pub fn export_tree(work: &Path, rootfs: &Path, spec: &str, extra: &[&str]) -> Output {
    let mut args = vec!["export", rootfs.to_str().unwrap(), "-o", spec];
    args.extend_from_slice(extra);
    outport(work, &args)
}

/// `dir` holding `files` (path relative to `dir`, content), with their parent directories: a small
/// rootfs, base or app tree. Returns `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    for (name, content) in files {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }
    dir.to_path_buf()
}

/// The one-file app tree (`app/new.txt`) the base-image tests put on their bases.
pub fn app_rootfs(work: &Path) -> PathBuf {
    write_tree(&work.join("app-rootfs"), &[("app/new.txt", "new layer\n")])
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `skopeo ARGS` (an inspect), its JSON output parsed.
pub fn skopeo(args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&run("skopeo", args)).unwrap()
}

/// The layer digests of a `skopeo inspect`.
pub fn layers(inspect: &serde_json::Value) -> Vec<String> {
    inspect["Layers"].as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect()
}

/// `skopeo copy` of `reference` (REPO:TAG) from a plain-HTTP registry into the OCI layout `layout`,
/// tagged `x`: skopeo re-verifies every digest it pulls.
pub fn skopeo_copy(registry: &str, reference: &str, layout: &Path) {
    run(
        "skopeo",
        &[
            "copy",
            "--src-tls-verify=false",
            &format!("docker://{registry}/{reference}"),
            &format!("oci:{}:x", layout.display()),
        ],
    );
}

/// `outport export --result <result> -o <spec> <extra…>`: [`export_tree`] for a build result.
pub fn export_result(work: &Path, result: &Path, spec: &str, extra: &[&str]) -> Output {
    let mut args = vec!["export", "--result", result.to_str().unwrap(), "-o", spec];
    args.extend_from_slice(extra);
    outport(work, &args)
}

/// A `--result` file for linux/amd64 and linux/arm64, each one layer directory named after its
/// architecture holding `files` (name, content; `{arch}` in a name or content is replaced).
pub fn two_platform_result(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for arch in ["amd64", "arm64"] {
        fs::create_dir_all(dir.join(arch)).unwrap();
        for (name, content) in files {
            fs::write(dir.join(arch).join(name.replace("{arch}", arch)), content.replace("{arch}", arch)).unwrap();
        }
    }
    let result = dir.join("result.json");
    fs::write(&result, r#"{"platforms":[{"platform":"linux/amd64","layers":["amd64"]},{"platform":"linux/arm64","layers":["arm64"]}]}"#).unwrap();
    result
}

/// A real CNCF Distribution registry (Debian's docker-registry) on 127.0.0.1, plain HTTP, stopped
/// when dropped.
pub struct Registry {
    child: std::process::Child,
    pub addr: String,
    _dir: TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Registry::start_with("")
    }

    /// With extra top-level configuration (YAML), e.g. a `validation:` section.
    pub fn start_with(extra_config: &str) -> Registry {
        let dir = tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        let data = dir.path().join("data");
        fs::write(&config, format!("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n{extra_config}", data.display())).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starting docker-registry (apt-get install docker-registry)");
        let registry = Registry { child, addr, _dir: dir };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&registry.addr).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("docker-registry did not listen on {}", registry.addr);
    }
}

impl Registry {
    /// Where the registry keeps blob `digest` (filesystem driver layout), for tests that tamper with it.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self._dir.path().join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A registry over TLS (a throwaway CA) with htpasswd or token auth, started by the shared Node test
/// support (tests/support/registry.mjs) so that both hosts' tests run the same setup. Stops when dropped.
pub struct AuthRegistry {
    child: std::process::Child,
    pub addr: String,
    /// PEM of the CA that signed the registry's (and the token server's) certificate.
    pub ca: PathBuf,
    /// A directory with that CA as `ca.crt`, for skopeo's --cert-dir.
    pub cert_dir: PathBuf,
    token_log: PathBuf,
    pub user: String,
    pub password: String,
    pub refresh_token: String,
}

impl AuthRegistry {
    /// `auth`: "basic" (htpasswd) or "token" (Bearer, with a token server).
    pub fn start(auth: &str) -> AuthRegistry {
        use std::io::BufRead;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/registry.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .args(["--tls", "--auth", auth])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("starting node tests/support/registry.mjs");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let info: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("registry.mjs printed {line:?}: {e}"));
        let text = |key: &str| info[key].as_str().unwrap().to_string();
        AuthRegistry {
            child,
            addr: text("addr"),
            ca: text("ca").into(),
            cert_dir: text("certDir").into(),
            token_log: text("tokenLog").into(),
            user: text("user"),
            password: text("password"),
            refresh_token: text("refreshToken"),
        }
    }

    pub fn creds(&self) -> String {
        format!("{}:{}", self.user, self.password)
    }

    /// The token server's requests so far: {method, grant, user, scopes, service}.
    pub fn token_requests(&self) -> Vec<serde_json::Value> {
        let text = fs::read_to_string(&self.token_log).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

impl Drop for AuthRegistry {
    fn drop(&mut self) {
        drop(self.child.stdin.take()); // the script stops the registry when its stdin closes
        let _ = self.child.wait();
    }
}

/// A proxy in front of a registry that injects faults (see [`Faults`]) and otherwise forwards, one
/// request per connection (`Connection: close`). It logs every request line it sees.
pub struct FlakyProxy {
    pub addr: String,
    pub failed: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Blob uploads in flight now, and the most at once.
    uploads: std::sync::Arc<std::sync::Mutex<(usize, usize)>>,
}

#[derive(Clone, Copy, Default)]
pub struct Faults {
    /// Answer the first this many requests with `fail_status` (503 when 0) …
    pub fail_first: usize,
    pub fail_status: u16,
    /// … carrying this Retry-After.
    pub retry_after: Option<u32>,
    /// Drop the connection of the Nth PATCH (1-based) after passing this many of its body bytes
    /// to the registry (0: the registry never sees it), without an answer to the client.
    pub cut_patch: Option<(usize, usize)>,
    /// Hold every blob upload this long before passing it on (to see uploads overlap).
    pub hold_uploads: Option<std::time::Duration>,
    /// Answer every manifest request with this Docker-Content-Digest instead of the registry's
    /// (a registry or proxy that stored or served other bytes).
    pub manifest_digest: Option<&'static str>,
}

impl FlakyProxy {
    pub fn start(upstream: &str, fail_first: usize, retry_after: Option<u32>) -> FlakyProxy {
        FlakyProxy::with_faults(upstream, Faults { fail_first, retry_after, ..Faults::default() })
    }

    pub fn with_faults(upstream: &str, faults: Faults) -> FlakyProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let failed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let uploads = std::sync::Arc::new(std::sync::Mutex::new((0usize, 0usize)));
        let patches = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let proxy = FlakyProxy { addr, failed, requests, uploads };
        let shared = (proxy.failed.clone(), proxy.requests.clone(), proxy.uploads.clone(), patches);
        let upstream = upstream.to_string();
        std::thread::spawn(move || {
            // A thread per connection, so that concurrent requests really overlap.
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let (shared, upstream) = (shared.clone(), upstream.clone());
                std::thread::spawn(move || proxy_one(client, &upstream, faults, shared));
            }
        });
        proxy
    }

    /// The most blob uploads (PUT or PATCH to an upload session) the registry received at once.
    pub fn max_concurrent_uploads(&self) -> usize {
        self.uploads.lock().unwrap().1
    }

    /// The request lines seen so far that start with `prefix` (e.g. "PATCH ").
    pub fn seen(&self, prefix: &str) -> usize {
        self.requests.lock().unwrap().iter().filter(|l| l.starts_with(prefix)).count()
    }
}

type ProxyShared = (
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    std::sync::Arc<std::sync::Mutex<(usize, usize)>>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
);

fn proxy_one(mut client: std::net::TcpStream, upstream: &str, faults: Faults, shared: ProxyShared) {
    use std::io::{Read, Write};
    use std::sync::atomic::Ordering;
    let (counter, log, uploads, patches) = shared;
    let Some(request) = read_request(&mut client) else { return };
    let line = String::from_utf8_lossy(&request).lines().next().unwrap_or_default().to_string();
    log.lock().unwrap().push(line.clone());
    if counter.load(Ordering::SeqCst) < faults.fail_first {
        counter.fetch_add(1, Ordering::SeqCst);
        let extra = faults.retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
        let status = if faults.fail_status == 0 { 503 } else { faults.fail_status };
        let _ = write!(client, "HTTP/1.1 {status} Injected\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n");
        return;
    }
    let mut server = std::net::TcpStream::connect(upstream).unwrap();
    if line.starts_with("PATCH ") {
        let nth = patches.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some((_, passed)) = faults.cut_patch.filter(|(cut, _)| *cut == nth) {
            let head_end = request.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
            if passed > 0 {
                let _ = server.write_all(&request[..head_end + passed.min(request.len() - head_end)]);
            }
            counter.fetch_add(1, Ordering::SeqCst);
            return; // both connections dropped here
        }
    }
    let is_upload = (line.starts_with("PUT ") || line.starts_with("PATCH ")) && line.contains("/blobs/uploads/");
    if is_upload {
        let mut count = uploads.lock().unwrap();
        count.0 += 1;
        count.1 = count.1.max(count.0);
    }
    if let (true, Some(hold)) = (is_upload, faults.hold_uploads) {
        std::thread::sleep(hold);
    }
    server.write_all(&request).unwrap();
    let mut response = Vec::new();
    let _ = server.read_to_end(&mut response);
    if is_upload {
        uploads.lock().unwrap().0 -= 1;
    }
    if let (Some(digest), true) = (faults.manifest_digest, line.contains("/manifests/")) {
        response = with_digest_header(&response, digest);
    }
    let _ = client.write_all(&response);
}

/// An HTTP response with its Docker-Content-Digest header set to `digest`.
fn with_digest_header(response: &[u8], digest: &str) -> Vec<u8> {
    let Some(head_end) = response.windows(4).position(|w| w == b"\r\n\r\n") else { return response.to_vec() };
    let head = String::from_utf8_lossy(&response[..head_end]);
    let mut lines: Vec<String> = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("docker-content-digest:"))
        .map(String::from)
        .collect();
    lines.push(format!("Docker-Content-Digest: {digest}"));
    let mut out = (lines.join("\r\n") + "\r\n\r\n").into_bytes();
    out.extend_from_slice(&response[head_end + 4..]);
    out
}

/// One HTTP/1.1 request with a Content-Length body, rewritten to `Connection: close`.
fn read_request(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut data = Vec::new();
    let mut buf = [0u8; 65536];
    let head_end = loop {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        data.extend_from_slice(&buf[..n]);
        if data[0] == 0x16 {
            return None; // a TLS ClientHello (registry.insecure tries TLS first): refuse it at once
        }
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map(|(_, v)| v.trim().parse().unwrap_or(0))
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok().filter(|&n| n > 0)?;
        data.extend_from_slice(&buf[..n]);
    }
    let head: String = head
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    let head = head.trim_end_matches("\r\n").to_string() + "\r\nConnection: close\r\n\r\n";
    let mut out = head.into_bytes();
    out.extend_from_slice(&data[head_end..]);
    Some(out)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn ok(out: Output) -> Output {
    assert!(out.status.success(), "outport failed: {}", stderr(&out));
    out
}

/// Insist that `outport` failed and that its stderr says `needle`.
pub fn assert_failure(out: &Output, needle: &str) {
    assert!(!out.status.success());
    assert!(stderr(out).contains(needle), "{}", stderr(out));
}

/// Run a peer tool and insist on success.
pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("running {program}: {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// What a tree looks like to a user: per relative path, kind + permission bits + content or target.
pub fn describe_tree(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let meta = fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        let what = if meta.file_type().is_symlink() {
            format!("symlink -> {}", fs::read_link(&path).unwrap().display())
        } else if meta.is_dir() {
            walk(root, &path, out);
            format!("dir {mode:o}")
        } else {
            format!("file {mode:o} {:?}", fs::read(&path).unwrap())
        };
        out.insert(rel, what);
    }
}

/// Every file in a directory, with its mode, recursively (to check nothing stray is left).
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = describe_tree(dir).into_keys().collect();
    names.sort();
    names
}

pub fn sha256_file(path: &Path) -> String {
    run("sha256sum", &[path.to_str().unwrap()]).split_whitespace().next().unwrap().to_string()
}

/// Whether the test is skipped (saying `why`) because it does not run as root.
pub fn skipped_unless_root(why: &str) -> bool {
    let skipped = !is_root();
    if skipped {
        eprintln!("skipped: {why}");
    }
    skipped
}

pub fn is_root() -> bool {
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}
