//! An in-memory [`Host`] for the core's unit tests: a source tree (files by path, directories
//! implied), a blob store and store index, outputs (files with mode, owner, time and hardlink origin,
//! directories, symlinks by path), compress
//! "threads" that keep a piece when it is started and compress it when it is waited for (so several
//! are in flight at once), and scripted HTTP: a test gives a responder (a closure from request to
//! response or transport error), and every request, sleep and progress event is recorded, so the
//! registry's state machine runs without sockets (as quinn-proto's `Pair` and rustls's unbuffered
//! tests drive their protocols in memory). A call no test needs panics.

use crate::compress::piece::{compress_piece, Piece};
use crate::error::{Error, Result};
use crate::host::{
    Credential, DockerConfig, EntryKind, Handle, HelperReply, Host, HttpRequest, HttpResponse, ProgressEvent,
    SourceEntry,
};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

type OpenFile = (Vec<u8>, usize);
/// An output being written: its path and bytes so far.
type OpenOutput = (String, Vec<u8>);

/// One output path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Dir {
        mode: u32,
        owner: (u32, u32),
        mtime: i64,
    },
    /// `link`: made as a hardlink to that path.
    File {
        data: Vec<u8>,
        mode: u32,
        owner: (u32, u32),
        mtime: i64,
        link: Option<String>,
    },
    Symlink(Vec<u8>),
}

/// A test's registry (and token server, and blob storage): one answer per request, or the
/// transport failure the host would report.
pub type Responder = Box<dyn FnMut(&HttpRequest) -> Result<HttpResponse>>;

#[derive(Default)]
pub struct MemoryHost {
    /// Source files by path; the directories above them exist implicitly.
    pub files: HashMap<Vec<u8>, Vec<u8>>,
    /// Per handle: the file's bytes and how far it has been read; None once closed.
    pub open: RefCell<Vec<Option<OpenFile>>>,
    /// What `compress_threads` answers (0: the core compresses on its own thread).
    pub threads: u32,
    /// Blobs being written, by handle, and the committed ones in order.
    pub blobs: RefCell<Vec<Vec<u8>>>,
    pub committed: RefCell<Vec<(String, Vec<u8>)>>,
    /// The compression cache's records.
    pub cache: RefCell<HashMap<String, Vec<u8>>>,
    pub started: RefCell<Vec<Option<Piece>>>,
    pub algorithms: RefCell<Vec<&'static str>>,
    pub in_flight: Cell<usize>,
    /// Hash streams for the core (`hash_start`), by handle, when `hashes` is on (as the real hosts
    /// do natively); off, the core hashes itself.
    pub hashes: bool,
    pub hashing: RefCell<Vec<Option<crate::digest::Hasher>>>,
    pub most_in_flight: Cell<usize>,
    /// Answers `http_send`; None: a test that sends nothing.
    pub responder: RefCell<Option<Responder>>,
    /// Every request sent, in order, as the host got it (headers included).
    pub requests: RefCell<Vec<HttpRequest>>,
    /// What `credentials` answers, for any registry; and the registries asked, with `for_push`.
    pub credential: Option<Credential>,
    pub credential_asks: RefCell<Vec<(String, bool)>>,
    /// What `docker_config` answers.
    pub docker_config: Option<DockerConfig>,
    /// Credential helpers by name (`docker-credential-NAME`): their replies; a name not here
    /// cannot be run. And every helper run, as (name, server).
    pub helpers: HashMap<String, HelperReply>,
    pub helper_runs: RefCell<Vec<(String, String)>>,
    /// Every `sleep`, in milliseconds (the core's retry waits).
    pub sleeps: RefCell<Vec<u32>>,
    pub events: RefCell<Vec<ProgressEvent>>,
    /// The store's index.json.
    pub store_index: RefCell<Option<Vec<u8>>>,
    /// Committed outputs by path, and the ones being written, by handle.
    pub outputs: RefCell<BTreeMap<String, Output>>,
    pub writing: RefCell<Vec<Option<OpenOutput>>>,
}

impl MemoryHost {
    pub fn with_files(files: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> MemoryHost {
        MemoryHost { files: files.into_iter().collect(), ..Default::default() }
    }
}

impl MemoryHost {
    /// A host whose HTTP requests `responder` answers.
    pub fn with_responder(responder: impl FnMut(&HttpRequest) -> Result<HttpResponse> + 'static) -> MemoryHost {
        MemoryHost { responder: RefCell::new(Some(Box::new(responder))), ..Default::default() }
    }

    /// Put `data` in the blob store as if it had been written and committed; its digest.
    pub fn put_blob(&self, data: &[u8]) -> String {
        let digest = crate::digest::sha256(data);
        self.committed.borrow_mut().push((digest.clone(), data.to_vec()));
        digest
    }

    /// The requests sent so far as `METHOD URL` lines (for asserting on the order).
    pub fn request_lines(&self) -> Vec<String> {
        self.requests.borrow().iter().map(|r| format!("{} {}", r.method, r.url)).collect()
    }

    /// A committed blob's bytes.
    fn blob(&self, digest: &str) -> Option<Vec<u8>> {
        self.committed.borrow().iter().find(|(d, _)| d == digest).map(|(_, b)| b.clone())
    }
}

fn show(path: &[u8]) -> String {
    String::from_utf8_lossy(path).into_owned()
}

impl Host for MemoryHost {
    async fn hash_start(&self) -> Result<Option<Handle>> {
        if !self.hashes {
            return Ok(None);
        }
        let mut hashing = self.hashing.borrow_mut();
        hashing.push(Some(crate::digest::Hasher::new()));
        Ok(Some((hashing.len() - 1) as Handle))
    }
    async fn hash_update(&self, handle: Handle, data: &[u8]) -> Result<()> {
        let mut hashing = self.hashing.borrow_mut();
        let hash = hashing.get_mut(handle as usize).and_then(Option::as_mut);
        hash.ok_or_else(|| crate::error::Error::internal(format!("hash {handle} is not open")))?.update(data);
        Ok(())
    }
    async fn hash_finish(&self, handle: Handle) -> Result<String> {
        let mut hashing = self.hashing.borrow_mut();
        let hash = hashing.get_mut(handle as usize).and_then(Option::take);
        Ok(hash.ok_or_else(|| crate::error::Error::internal(format!("hash {handle} is not open")))?.finish())
    }
    fn compress_threads(&self) -> u32 {
        self.threads
    }
    async fn compress_start(&self, piece: Piece) -> Result<Handle> {
        assert!(self.threads > 0, "pieces started on a host without compress threads");
        self.algorithms.borrow_mut().push(piece.algorithm().0);
        self.in_flight.set(self.in_flight.get() + 1);
        self.most_in_flight.set(self.most_in_flight.get().max(self.in_flight.get()));
        let mut started = self.started.borrow_mut();
        started.push(Some(piece));
        Ok(started.len() as Handle - 1)
    }
    async fn compress_wait(&self, handle: Handle) -> Result<Vec<u8>> {
        let piece = self.started.borrow_mut()[handle as usize].take().expect("a piece waited for once");
        self.in_flight.set(self.in_flight.get() - 1);
        Ok(compress_piece(&piece))
    }
    async fn blob_create(&self) -> Result<Handle> {
        let mut blobs = self.blobs.borrow_mut();
        blobs.push(Vec::new());
        Ok(blobs.len() as Handle - 1)
    }
    async fn blob_write(&self, handle: Handle, data: &[u8]) -> Result<()> {
        self.blobs.borrow_mut()[handle as usize].extend_from_slice(data);
        Ok(())
    }
    async fn blob_commit(&self, handle: Handle, digest: &str) -> Result<()> {
        let blob = std::mem::take(&mut self.blobs.borrow_mut()[handle as usize]);
        assert_eq!(crate::digest::sha256(&blob), digest);
        self.committed.borrow_mut().push((digest.to_string(), blob));
        Ok(())
    }
    async fn blob_abort(&self, _: Handle) {}
    async fn source_stat(&self, path: &[u8]) -> Result<SourceEntry> {
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        if let Some(data) = self.files.get(path) {
            return Ok(source_entry(name, EntryKind::Regular, data.len() as u64, inode(path)));
        }
        let prefix = [path, b"/"].concat();
        if path == b"/" || self.files.keys().any(|f| f.starts_with(&prefix)) {
            return Ok(source_entry(name, EntryKind::Directory, 0, inode(path)));
        }
        Err(Error::source(format!("{}: no such file or directory", show(path))))
    }
    async fn source_read_dir(&self, path: &[u8]) -> Result<Vec<SourceEntry>> {
        let prefix = if path.ends_with(b"/") { path.to_vec() } else { [path, b"/"].concat() };
        let mut names: Vec<&[u8]> = self
            .files
            .keys()
            .filter_map(|f| f.strip_prefix(prefix.as_slice()))
            .map(|rest| rest.split(|&b| b == b'/').next().unwrap_or(rest))
            .collect();
        names.sort();
        names.dedup();
        let mut entries = Vec::new();
        for name in names {
            entries.push(self.source_stat(&[prefix.as_slice(), name].concat()).await?);
        }
        Ok(entries)
    }
    async fn source_open(&self, path: &[u8]) -> Result<Handle> {
        let data = self.files.get(path).ok_or_else(|| Error::source(format!("{}: not found", show(path))))?;
        let mut open = self.open.borrow_mut();
        open.push(Some((data.clone(), 0)));
        Ok(open.len() as Handle - 1)
    }
    async fn source_read(&self, handle: Handle, max: u32) -> Result<Vec<u8>> {
        let mut open = self.open.borrow_mut();
        let (data, pos) = open[handle as usize].as_mut().expect("open handle");
        let n = (max as usize).min(data.len() - *pos);
        *pos += n;
        Ok(data[*pos - n..*pos].to_vec())
    }
    async fn source_close(&self, handle: Handle) {
        self.open.borrow_mut()[handle as usize] = None;
    }
    async fn blob_size(&self, digest: &str) -> Result<Option<u64>> {
        Ok(self.blob(digest).map(|b| b.len() as u64))
    }
    async fn blob_read(&self, digest: &str, offset: u64, max: u32) -> Result<Vec<u8>> {
        let blob = self.blob(digest).ok_or_else(|| Error::store(format!("{digest}: no such blob")))?;
        let start = (offset as usize).min(blob.len());
        Ok(blob[start..(start + max as usize).min(blob.len())].to_vec())
    }
    async fn blob_list(&self) -> Result<Vec<String>> {
        unimplemented!()
    }
    async fn blob_remove(&self, digest: &str) -> Result<()> {
        self.committed.borrow_mut().retain(|(d, _)| d != digest);
        Ok(())
    }
    async fn cache_read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.cache.borrow().get(key).cloned())
    }
    async fn cache_write(&self, key: &str, data: &[u8]) -> Result<()> {
        self.cache.borrow_mut().insert(key.to_string(), data.to_vec());
        Ok(())
    }
    async fn store_index_read(&self) -> Result<Option<Vec<u8>>> {
        Ok(self.store_index.borrow().clone())
    }
    async fn store_index_write(&self, data: &[u8]) -> Result<()> {
        *self.store_index.borrow_mut() = Some(data.to_vec());
        Ok(())
    }
    async fn store_unpack_dir(&self, _: &str) -> Result<String> {
        unimplemented!()
    }
    async fn output_open(&self, path: &str) -> Result<Handle> {
        let mut writing = self.writing.borrow_mut();
        writing.push(Some((path.to_string(), Vec::new())));
        Ok(writing.len() as Handle - 1)
    }
    async fn output_write(&self, handle: Handle, data: &[u8]) -> Result<()> {
        self.writing.borrow_mut()[handle as usize].as_mut().expect("an open output").1.extend_from_slice(data);
        Ok(())
    }
    async fn output_write_blob(&self, handle: Handle, digest: &str) -> Result<u64> {
        let blob = self.blob(digest).ok_or_else(|| Error::store(format!("{digest}: no such blob")))?;
        self.output_write(handle, &blob).await?;
        Ok(blob.len() as u64)
    }
    async fn output_commit(&self, handle: Handle) -> Result<()> {
        let (path, data) = self.writing.borrow_mut()[handle as usize].take().expect("open output");
        let file = Output::File { data, mode: 0o644, owner: (0, 0), mtime: 0, link: None };
        self.outputs.borrow_mut().insert(path, file);
        Ok(())
    }
    async fn output_abort(&self, handle: Handle) {
        self.writing.borrow_mut()[handle as usize] = None;
    }
    async fn output_mkdir(&self, path: &str) -> Result<()> {
        self.output_create_dir(path).await
    }
    async fn output_read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(match self.outputs.borrow().get(path) {
            Some(Output::File { data, .. }) => Some(data.clone()),
            _ => None,
        })
    }
    async fn output_create_dir(&self, path: &str) -> Result<()> {
        let dir = Output::Dir { mode: 0o755, owner: (0, 0), mtime: 0 };
        self.outputs.borrow_mut().entry(path.to_string()).or_insert(dir);
        Ok(())
    }
    async fn output_symlink(&self, path: &str, target: &[u8]) -> Result<()> {
        self.outputs.borrow_mut().insert(path.to_string(), Output::Symlink(target.to_vec()));
        Ok(())
    }
    async fn output_hardlink(&self, path: &str, target: &str) -> Result<()> {
        let mut outputs = self.outputs.borrow_mut();
        let Some(Output::File { data, mode, owner, mtime, .. }) = outputs.get(target).cloned() else {
            return Err(Error::output(format!("{path}: hardlink to {target}, which is not a file")));
        };
        outputs.insert(path.to_string(), Output::File { data, mode, owner, mtime, link: Some(target.to_string()) });
        Ok(())
    }
    async fn output_list_dir(&self, path: &str) -> Result<Option<Vec<(String, bool)>>> {
        let below = format!("{path}/");
        let outputs = self.outputs.borrow();
        if !matches!(outputs.get(path), Some(Output::Dir { .. })) {
            return Ok(None);
        }
        let children = outputs
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(&below)?;
                (!name.contains('/')).then(|| (name.to_string(), matches!(v, Output::Dir { .. })))
            })
            .collect();
        Ok(Some(children))
    }
    async fn output_remove(&self, path: &str) -> Result<()> {
        let below = format!("{path}/");
        self.outputs.borrow_mut().retain(|k, _| k != path && !k.starts_with(&below));
        Ok(())
    }
    async fn output_set_attributes(&self, path: &str, new_mode: u32, uid: u32, gid: u32, time: i64) -> Result<()> {
        match self.outputs.borrow_mut().get_mut(path) {
            Some(Output::Dir { mode, owner, mtime } | Output::File { mode, owner, mtime, .. }) => {
                (*mode, *owner, *mtime) = (new_mode, (uid, gid), time);
                Ok(())
            }
            // A symlink's own attributes are not kept here.
            Some(Output::Symlink(_)) => Ok(()),
            None => Err(Error::output(format!("{path}: attributes of what is not there"))),
        }
    }
    async fn http_send(&self, request: HttpRequest, max_body: u32) -> Result<HttpResponse> {
        self.requests.borrow_mut().push(request.clone());
        let mut responder = self.responder.borrow_mut();
        let responder = responder.as_mut().expect("an HTTP request on a host without a responder");
        let mut response = responder(&request)?;
        response.body.truncate(max_body as usize);
        Ok(response)
    }
    async fn credentials(&self, registry: &str, for_push: bool) -> Result<Option<Credential>> {
        self.credential_asks.borrow_mut().push((registry.to_string(), for_push));
        Ok(self.credential.clone())
    }
    async fn docker_config(&self) -> Result<Option<DockerConfig>> {
        Ok(self.docker_config.clone())
    }
    async fn credential_helper(&self, name: &str, server: &str) -> Result<HelperReply> {
        self.helper_runs.borrow_mut().push((name.to_string(), server.to_string()));
        let reply = self.helpers.get(name).cloned();
        reply.ok_or_else(|| Error::new(crate::error::ErrorKind::Auth, "No such file or directory (os error 2)"))
    }
    async fn sleep(&self, milliseconds: u32) {
        self.sleeps.borrow_mut().push(milliseconds);
    }
    fn progress(&self, event: ProgressEvent) {
        self.events.borrow_mut().push(event);
    }
}

/// A stable inode number per source path (the walk tells hard links apart by it).
fn inode(path: &[u8]) -> u64 {
    path.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

fn source_entry(name: &[u8], kind: EntryKind, size: u64, inode: u64) -> SourceEntry {
    let mode = if kind == EntryKind::Directory { 0o755 } else { 0o644 };
    SourceEntry {
        name: name.to_vec(),
        kind,
        mode,
        uid: 0,
        gid: 0,
        size,
        mtime: 1000,
        link_target: Vec::new(),
        dev_major: 0,
        dev_minor: 0,
        device: 1,
        inode,
        nlink: 1,
        change_time_ns: 0,
    }
}

/// A response with these headers and body.
pub fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> HttpResponse {
    let headers = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    HttpResponse { status, headers, body: body.to_vec() }
}

/// A request's first header of that name (case-insensitive).
pub fn header<'a>(request: &'a HttpRequest, name: &str) -> Option<&'a str> {
    request.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Drive a future on the memory host to its end. Its awaits complete at once, but combinators
/// (`try_for_each_concurrent`) may still ask to be polled again before they finish.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..10_000 {
        if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
    panic!("an in-memory future did not finish")
}
