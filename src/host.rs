//! The one boundary between the core and the world. The core never does I/O itself: it asks its host.
//!
//! The trait is async so the JS host can hand back Promises; the component host answers synchronously
//! and its futures are ready at once. Methods take `&self`: hosts keep their handle tables behind
//! interior mutability, which keeps the core free to interleave calls later (parallel layers).
//! Mirrors `wit/outport.wit` one to one.
#![allow(async_fn_in_trait)]

use crate::error::Result;

pub type Handle = u32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    Regular,
    Directory,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
    Socket,
}

/// One file-system entry as `lstat` reports it (symlinks are never followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    pub name: Vec<u8>,
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Whole seconds since the Unix epoch.
    pub mtime: i64,
    pub link_target: Vec<u8>,
    pub dev_major: u32,
    pub dev_minor: u32,
    pub device: u64,
    pub inode: u64,
    pub nlink: u64,
    /// ctime in nanoseconds; 0 when unknown (see wit/outport.wit).
    pub change_time_ns: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgressEvent {
    pub phase: String,
    pub id: String,
    pub current: u64,
    pub total: u64,
}

/// A request body: nothing, bytes from the core, or a stored blob the host streams itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpBody {
    Empty,
    Bytes(Vec<u8>),
    /// `length` bytes of a stored blob from `offset` (a chunk, or the whole blob).
    Blob {
        digest: String,
        offset: u64,
        length: u64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: HttpBody,
    /// registry.insecure: accept any certificate for this request (plain http needs no flag).
    pub insecure: bool,
}

impl HttpRequest {
    pub fn new(method: &str, url: String, headers: Vec<(String, String)>, body: HttpBody) -> HttpRequest {
        HttpRequest { method: method.into(), url, headers, body, insecure: false }
    }
}

/// A registry credential as docker's config keeps it: user name and password (or token), or an
/// identity token (an OAuth2 refresh token) in place of the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
    pub identity_token: Option<String>,
}

/// Never print secrets, not even in a debug dump.
impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential").field("username", &self.username).finish_non_exhaustive()
    }
}

/// docker's config.json as the host found it: its path (for messages) and its text, unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DockerConfig {
    pub path: String,
    pub text: String,
}

/// What `docker-credential-NAME get` did, unparsed: whether it succeeded, its exit status as the
/// host words it (e.g. "exit status: 1"), and its standard output.
#[derive(Clone, PartialEq, Eq)]
pub struct HelperReply {
    pub success: bool,
    pub status: String,
    pub stdout: String,
}

/// A helper's output holds a secret: never in a debug dump.
impl std::fmt::Debug for HelperReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HelperReply")
            .field("success", &self.success)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub trait Host {
    // Source tree. Paths are raw bytes: the root path joined with entry names by '/'.
    async fn source_stat(&self, path: &[u8]) -> Result<SourceEntry>;
    async fn source_read_dir(&self, path: &[u8]) -> Result<Vec<SourceEntry>>;
    async fn source_open(&self, path: &[u8]) -> Result<Handle>;
    /// Up to `max` bytes; empty at end of file.
    async fn source_read(&self, handle: Handle, max: u32) -> Result<Vec<u8>>;
    async fn source_close(&self, handle: Handle);

    // Content-addressed blob store.
    async fn blob_size(&self, digest: &str) -> Result<Option<u64>>;
    async fn blob_create(&self) -> Result<Handle>;
    async fn blob_write(&self, handle: Handle, data: &[u8]) -> Result<()>;
    async fn blob_commit(&self, handle: Handle, digest: &str) -> Result<()>;
    async fn blob_abort(&self, handle: Handle);
    async fn blob_read(&self, digest: &str, offset: u64, max: u32) -> Result<Vec<u8>>;
    /// sha256 of a stored blob's bytes as they are now; None if absent. Hosts hash natively; this
    /// default reads the blob through `blob_read`.
    async fn blob_digest(&self, digest: &str) -> Result<Option<String>> {
        hash_stored_blob(self, digest).await
    }
    /// Every blob in the store, by digest.
    async fn blob_list(&self) -> Result<Vec<String>>;
    /// Delete a blob (`outport store gc`).
    async fn blob_remove(&self, digest: &str) -> Result<()>;
    /// The compression cache's record under `key` (64 hex digits).
    async fn cache_read(&self, key: &str) -> Result<Option<Vec<u8>>>;
    async fn cache_write(&self, key: &str, data: &[u8]) -> Result<()>;
    /// The store's index.json, None if it has none yet.
    async fn store_index_read(&self) -> Result<Option<Vec<u8>>>;
    /// Replace the store's index.json atomically.
    async fn store_index_write(&self, data: &[u8]) -> Result<()>;
    /// Where the store keeps the unpacked root filesystem of image `digest` (its parent exists).
    async fn store_unpack_dir(&self, digest: &str) -> Result<String>;

    // Outputs: temp name while writing, renamed on commit.
    /// Temporary files in the store no running process owns, (path, size); removed when `remove`.
    async fn store_temporaries(&self, _remove: bool) -> Result<Vec<(String, u64)>> {
        Ok(Vec::new())
    }
    async fn output_open(&self, path: &str) -> Result<Handle>;
    async fn output_write(&self, handle: Handle, data: &[u8]) -> Result<()>;
    async fn output_write_blob(&self, handle: Handle, digest: &str) -> Result<u64>;
    /// Put a stored blob at `path` as a whole file, digest verified (an OCI layout's blobs/).
    /// Hosts link or clone the store's file where they can; this default copies it.
    async fn output_place_blob(&self, path: &str, digest: &str) -> Result<u64> {
        copy_stored_blob(self, path, digest).await
    }
    async fn output_commit(&self, handle: Handle) -> Result<()>;
    async fn output_abort(&self, handle: Handle);
    async fn output_mkdir(&self, path: &str) -> Result<()>;
    async fn output_read(&self, path: &str) -> Result<Option<Vec<u8>>>;
    /// Create a directory, replacing a non-directory (never following a symlink).
    async fn output_create_dir(&self, path: &str) -> Result<()>;
    async fn output_symlink(&self, path: &str, target: &[u8]) -> Result<()>;
    async fn output_hardlink(&self, path: &str, target: &str) -> Result<()>;
    /// Names in an output directory with whether each is a real directory; None if not a directory.
    async fn output_list_dir(&self, path: &str) -> Result<Option<Vec<(String, bool)>>>;
    /// Remove a file, symlink or whole directory (never following links).
    async fn output_remove(&self, path: &str) -> Result<()>;
    /// Permission bits, owner (where allowed) and mtime; symlinks get only the mtime.
    async fn output_set_attributes(&self, path: &str, mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<()>;

    /// A new hidden directory beside `path` to build a directory output in (see the WIT); None
    /// from a host that cannot stage: the output is then written in place.
    async fn output_stage_dir(&self, _path: &str) -> Result<Option<String>> {
        Ok(None)
    }
    /// rename(2) `from` to `to`; false when both are directories and the caller must merge.
    async fn output_move(&self, from: &str, to: &str, _into_link: bool) -> Result<bool> {
        Err(crate::error::Error::internal(format!("this host cannot move {from} to {to}")))
    }
    /// (device, inode) of `path`, symlinks followed; None if absent or not in the sources' file system.
    async fn output_identity(&self, _path: &str) -> Option<(u64, u64)> {
        None
    }

    /// A byte stream to a Docker-API engine (see `engine-connect` in the WIT).
    async fn engine_connect(&self, scheme: &str, _address: &str, _cert_dir: Option<&str>) -> Result<Handle> {
        Err(crate::error::Error::output(format!("this host cannot connect to engines ({scheme})")))
    }
    async fn engine_write(&self, _handle: Handle, _data: &[u8]) -> Result<()> {
        Err(crate::error::Error::internal("this host cannot connect to engines"))
    }
    /// Up to `max` bytes, waiting for at least one; empty at the end of the stream.
    async fn engine_read(&self, _handle: Handle, _max: u32) -> Result<Vec<u8>> {
        Err(crate::error::Error::internal("this host cannot connect to engines"))
    }
    async fn engine_close(&self, _handle: Handle) {}

    /// One HTTP exchange; redirects are returned, not followed; at most `max_body` bytes of body.
    async fn http_send(&self, request: HttpRequest, max_body: u32) -> Result<HttpResponse>;
    /// The credential the user gave this run for `registry` (as users name it: `docker.io`,
    /// `ghcr.io`, `host:port`), if any; `for_push` tells whether the image is being pushed there
    /// (explicit push credentials apply only then) or pulled from it. Without one the core reads
    /// docker's config (`registry::credentials`).
    async fn credentials(&self, registry: &str, for_push: bool) -> Result<Option<Credential>>;
    /// docker's config.json where the host's environment puts it (`$DOCKER_CONFIG`, `~/.docker`);
    /// None when there is none.
    async fn docker_config(&self) -> Result<Option<DockerConfig>> {
        Ok(None)
    }
    /// Run `docker-credential-NAME get` with `server` on its standard input; an error only when it
    /// could not be run at all.
    async fn credential_helper(&self, _name: &str, _server: &str) -> Result<HelperReply> {
        Err(crate::error::Error::new(crate::error::ErrorKind::Auth, "this host cannot run credential helpers"))
    }
    /// Start a sha256 the host computes natively (much faster than in wasm); None: this host has
    /// none, the core hashes. Used for layer streams (`digest::StreamHasher`).
    async fn hash_start(&self) -> Result<Option<Handle>> {
        Ok(None)
    }
    async fn hash_update(&self, _handle: Handle, _data: &[u8]) -> Result<()> {
        Err(crate::error::Error::internal("this host does not hash"))
    }
    /// `sha256:<hex>` of everything given to a started hash; its handle is gone.
    async fn hash_finish(&self, _handle: Handle) -> Result<String> {
        Err(crate::error::Error::internal("this host does not hash"))
    }
    /// How many layer pieces the host compresses at once (0: the core compresses them itself).
    fn compress_threads(&self) -> u32;
    /// Start compressing `piece` on another thread (only when `compress_threads` is not 0).
    /// The piece is the host's: its bytes are moved across, not copied first.
    async fn compress_start(&self, piece: crate::compress::piece::Piece) -> Result<Handle>;
    /// The compressed bytes of a started piece.
    async fn compress_wait(&self, handle: Handle) -> Result<Vec<u8>>;
    /// Wait before a retry (the core has no clock).
    async fn sleep(&self, milliseconds: u32);

    fn progress(&self, event: ProgressEvent);
}

/// Read a whole small file through the host (e.g. `--config FILE`), refusing anything over `limit`
/// bytes so a wrong path cannot exhaust memory.
pub async fn read_small_file<H: Host>(host: &H, path: &str, limit: u64) -> Result<Vec<u8>> {
    let too_big = || crate::error::Error::source(format!("{path}: larger than {limit} bytes"));
    let entry = host.source_stat(path.as_bytes()).await?;
    if !matches!(entry.kind, EntryKind::Regular | EntryKind::Symlink) {
        // A fifo would block the read for ever; a device or directory is no file to read.
        return Err(crate::error::Error::source(format!("{path}: not a regular file")));
    }
    if entry.size > limit {
        return Err(too_big());
    }
    let handle = host.source_open(path.as_bytes()).await?;
    let mut data = Vec::new();
    let result = loop {
        match host.source_read(handle, 1 << 20).await {
            Ok(chunk) if chunk.is_empty() => break Ok(data),
            Ok(chunk) if data.len() as u64 + chunk.len() as u64 > limit => break Err(too_big()),
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(e) => break Err(e),
        }
    };
    host.source_close(handle).await;
    result
}

/// The stored blob `digest` hashed in the core, read a few MiB at a time; None if absent.
pub async fn hash_stored_blob<H: Host + ?Sized>(host: &H, digest: &str) -> Result<Option<String>> {
    const CHUNK: u32 = 4 << 20;
    let Some(size) = host.blob_size(digest).await? else {
        return Ok(None);
    };
    let mut hasher = crate::digest::Hasher::new();
    let mut offset = 0u64;
    while offset < size {
        let chunk = host.blob_read(digest, offset, CHUNK).await?;
        if chunk.is_empty() {
            break;
        }
        offset += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some(hasher.finish()))
}

/// A stored blob copied into a new output file at `path` (the host verifies its digest while
/// copying); returns its size. Nothing is left at `path` on failure.
pub async fn copy_stored_blob<H: Host + ?Sized>(host: &H, path: &str, digest: &str) -> Result<u64> {
    let handle = host.output_open(path).await?;
    match host.output_write_blob(handle, digest).await {
        Ok(size) => host.output_commit(handle).await.map(|()| size),
        Err(e) => {
            host.output_abort(handle).await;
            Err(e)
        }
    }
}
