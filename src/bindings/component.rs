//! WASI component glue: the `exporter` world of wit/outport.wit. The imports are synchronous, so
//! every future of the core resolves on its first poll.
// wit-bindgen's glue for the compress-piece export flattens the piece record into many arguments.
#![allow(clippy::too_many_arguments)]

use crate::error::{Error as CoreError, ErrorKind, Result, Transport};
use crate::host::{
    Credential, DockerConfig, EntryKind, Handle, HelperReply, Host, HttpBody, HttpRequest, HttpResponse, ProgressEvent,
    SourceEntry,
};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

wit_bindgen::generate!({ path: "wit", world: "exporter" });

use outport::core::host as imports;
use outport::core::types as wit;

struct Component;

impl Guest for Component {
    fn run(request: String) -> std::result::Result<String, wit::Error> {
        block_on(crate::run_json(&ComponentHost, &request)).map_err(to_wit)
    }

    fn push(request: String) -> std::result::Result<String, wit::Error> {
        block_on(crate::push_json(&ComponentHost, &request)).map_err(to_wit)
    }

    fn images() -> std::result::Result<String, wit::Error> {
        block_on(crate::images_json(&ComponentHost)).map_err(to_wit)
    }

    fn store_verify() -> std::result::Result<String, wit::Error> {
        block_on(crate::store_verify_json(&ComponentHost)).map_err(to_wit)
    }

    fn store_gc() -> std::result::Result<String, wit::Error> {
        block_on(crate::store_gc_json(&ComponentHost)).map_err(to_wit)
    }

    fn remove_names(request: String) -> std::result::Result<String, wit::Error> {
        block_on(crate::remove_json(&ComponentHost, &request)).map_err(to_wit)
    }

    fn parse_args(args: Vec<String>, env: Vec<(String, String)>) -> std::result::Result<String, wit::Error> {
        crate::cli::parse_args_json(&args, &env).map_err(to_wit)
    }

    fn parse_args_env() -> Vec<String> {
        crate::cli::ENV.iter().map(|s| s.to_string()).collect()
    }

    fn compress_piece(piece: wit::Piece) -> Vec<u8> {
        let wit::Piece { algorithm, level, input, start, last } = piece;
        match crate::compress::piece::Piece::from_parts(&algorithm, level, input, start as usize, last) {
            Some(piece) => crate::compress::piece::compress_piece(&piece),
            // The host only sends what the core's compress-start gave it.
            None => panic!("unknown piece compression {algorithm} level {level}"),
        }
    }
}

export!(Component);

/// Drive the core's future. Every import completes at once except HTTP requests, which run in the
/// host's background: while the future waits on them, block in `http-wait` instead of spinning.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = future.as_mut().poll(&mut cx) {
            return v;
        }
        imports::http_wait();
    }
}

/// A started HTTP request: ready once the host has its outcome.
struct InFlight(u32);

impl Future for InFlight {
    type Output = Result<wit::HttpResponse>;
    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match imports::http_take(self.0) {
            Some(outcome) => Poll::Ready(outcome.map_err(from_wit_http)),
            None => {
                // No host callback will wake us: ask to be polled again on block_on's next round
                // (after http-wait), or combinators such as FuturesUnordered would never look again.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

fn to_wit(e: CoreError) -> wit::Error {
    wit::Error { kind: kind_to_wit(e.kind), message: e.message }
}

fn kind_to_wit(kind: ErrorKind) -> wit::ErrorKind {
    match kind {
        ErrorKind::InvalidOption => wit::ErrorKind::InvalidOption,
        ErrorKind::Source => wit::ErrorKind::Source,
        ErrorKind::Store => wit::ErrorKind::Store,
        ErrorKind::Output => wit::ErrorKind::Output,
        ErrorKind::Registry => wit::ErrorKind::Registry,
        ErrorKind::Auth => wit::ErrorKind::Auth,
        ErrorKind::Internal => wit::ErrorKind::Internal,
    }
}

fn from_wit(e: wit::Error) -> CoreError {
    let kind = match e.kind {
        wit::ErrorKind::InvalidOption => ErrorKind::InvalidOption,
        wit::ErrorKind::Source => ErrorKind::Source,
        wit::ErrorKind::Store => ErrorKind::Store,
        wit::ErrorKind::Output => ErrorKind::Output,
        wit::ErrorKind::Registry => ErrorKind::Registry,
        wit::ErrorKind::Auth => ErrorKind::Auth,
        wit::ErrorKind::Internal => ErrorKind::Internal,
    };
    CoreError::new(kind, e.message)
}

/// A failed exchange keeps the kind of failure the host's HTTP client saw.
fn from_wit_http(e: wit::HttpError) -> CoreError {
    let transport = match e.transport {
        wit::TransportKind::Dns => Transport::Dns,
        wit::TransportKind::Connect => Transport::Connect,
        wit::TransportKind::Timeout => Transport::Timeout,
        wit::TransportKind::Reset => Transport::Reset,
        wit::TransportKind::Certificate => Transport::Certificate,
        wit::TransportKind::PlainHttp => Transport::PlainHttp,
        wit::TransportKind::Tls => Transport::Tls,
        wit::TransportKind::Other => Transport::Other,
    };
    CoreError::transport(transport, e.message)
}

fn entry(e: wit::SourceEntry) -> SourceEntry {
    let kind = match e.kind {
        wit::EntryKind::Regular => EntryKind::Regular,
        wit::EntryKind::Directory => EntryKind::Directory,
        wit::EntryKind::Symlink => EntryKind::Symlink,
        wit::EntryKind::CharDevice => EntryKind::CharDevice,
        wit::EntryKind::BlockDevice => EntryKind::BlockDevice,
        wit::EntryKind::Fifo => EntryKind::Fifo,
        wit::EntryKind::Socket => EntryKind::Socket,
    };
    SourceEntry {
        name: e.name,
        kind,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        size: e.size,
        mtime: e.mtime,
        link_target: e.link_target,
        dev_major: e.dev_major,
        dev_minor: e.dev_minor,
        device: e.device,
        inode: e.inode,
        nlink: e.nlink,
        change_time_ns: e.change_time_ns,
    }
}

struct ComponentHost;

impl Host for ComponentHost {
    async fn source_stat(&self, path: &[u8]) -> Result<SourceEntry> {
        imports::source_stat(path).map(entry).map_err(from_wit)
    }
    async fn source_read_dir(&self, path: &[u8]) -> Result<Vec<SourceEntry>> {
        imports::source_read_dir(path).map(|v| v.into_iter().map(entry).collect()).map_err(from_wit)
    }
    async fn source_open(&self, path: &[u8]) -> Result<Handle> {
        imports::source_open(path).map_err(from_wit)
    }
    async fn source_read(&self, handle: Handle, max: u32) -> Result<Vec<u8>> {
        imports::source_read(handle, max).map_err(from_wit)
    }
    async fn source_close(&self, handle: Handle) {
        imports::source_close(handle)
    }
    async fn blob_size(&self, digest: &str) -> Result<Option<u64>> {
        imports::blob_size(digest).map_err(from_wit)
    }
    async fn blob_create(&self) -> Result<Handle> {
        imports::blob_create().map_err(from_wit)
    }
    async fn blob_write(&self, handle: Handle, data: &[u8]) -> Result<()> {
        imports::blob_write(handle, data).map_err(from_wit)
    }
    async fn blob_commit(&self, handle: Handle, digest: &str) -> Result<()> {
        imports::blob_commit(handle, digest).map_err(from_wit)
    }
    async fn blob_abort(&self, handle: Handle) {
        imports::blob_abort(handle)
    }
    async fn blob_read(&self, digest: &str, offset: u64, max: u32) -> Result<Vec<u8>> {
        imports::blob_read(digest, offset, max).map_err(from_wit)
    }
    async fn blob_digest(&self, digest: &str) -> Result<Option<String>> {
        imports::blob_digest(digest).map_err(from_wit)
    }
    async fn blob_list(&self) -> Result<Vec<String>> {
        imports::blob_list().map_err(from_wit)
    }
    async fn cache_read(&self, key: &str) -> Result<Option<Vec<u8>>> {
        imports::cache_read(key).map_err(from_wit)
    }
    async fn cache_write(&self, key: &str, data: &[u8]) -> Result<()> {
        imports::cache_write(key, data).map_err(from_wit)
    }
    async fn blob_remove(&self, digest: &str) -> Result<()> {
        imports::blob_remove(digest).map_err(from_wit)
    }
    async fn store_index_read(&self) -> Result<Option<Vec<u8>>> {
        imports::store_index_read().map_err(from_wit)
    }
    async fn store_index_write(&self, data: &[u8]) -> Result<()> {
        imports::store_index_write(data).map_err(from_wit)
    }
    async fn store_unpack_dir(&self, digest: &str) -> Result<String> {
        imports::store_unpack_dir(digest).map_err(from_wit)
    }
    async fn output_open(&self, path: &str) -> Result<Handle> {
        imports::output_open(path).map_err(from_wit)
    }
    async fn output_write(&self, handle: Handle, data: &[u8]) -> Result<()> {
        imports::output_write(handle, data).map_err(from_wit)
    }
    async fn output_write_blob(&self, handle: Handle, digest: &str) -> Result<u64> {
        imports::output_write_blob(handle, digest).map_err(from_wit)
    }
    async fn output_place_blob(&self, path: &str, digest: &str) -> Result<u64> {
        imports::output_place_blob(path, digest).map_err(from_wit)
    }
    async fn output_commit(&self, handle: Handle) -> Result<()> {
        imports::output_commit(handle).map_err(from_wit)
    }
    async fn output_abort(&self, handle: Handle) {
        imports::output_abort(handle)
    }
    async fn output_mkdir(&self, path: &str) -> Result<()> {
        imports::output_mkdir(path).map_err(from_wit)
    }
    async fn output_read(&self, path: &str) -> Result<Option<Vec<u8>>> {
        imports::output_read(path).map_err(from_wit)
    }
    async fn output_create_dir(&self, path: &str) -> Result<()> {
        imports::output_create_dir(path).map_err(from_wit)
    }
    async fn output_symlink(&self, path: &str, target: &[u8]) -> Result<()> {
        imports::output_symlink(path, target).map_err(from_wit)
    }
    async fn output_hardlink(&self, path: &str, target: &str) -> Result<()> {
        imports::output_hardlink(path, target).map_err(from_wit)
    }
    async fn output_list_dir(&self, path: &str) -> Result<Option<Vec<(String, bool)>>> {
        imports::output_list_dir(path).map_err(from_wit)
    }
    async fn output_remove(&self, path: &str) -> Result<()> {
        imports::output_remove(path).map_err(from_wit)
    }
    async fn output_set_attributes(&self, path: &str, mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<()> {
        imports::output_set_attributes(path, mode, uid, gid, mtime).map_err(from_wit)
    }
    async fn engine_connect(&self, scheme: &str, address: &str, cert_dir: Option<&str>) -> Result<Handle> {
        imports::engine_connect(scheme, address, cert_dir).map_err(from_wit)
    }
    async fn engine_write(&self, handle: Handle, data: &[u8]) -> Result<()> {
        imports::engine_write(handle, data).map_err(from_wit)
    }
    async fn engine_read(&self, handle: Handle, max: u32) -> Result<Vec<u8>> {
        imports::engine_read(handle, max).map_err(from_wit)
    }
    async fn engine_close(&self, handle: Handle) {
        imports::engine_close(handle)
    }
    async fn store_temporaries(&self, remove: bool) -> Result<Vec<(String, u64)>> {
        imports::store_temporaries(remove).map_err(from_wit)
    }
    async fn output_stage_dir(&self, path: &str) -> Result<Option<String>> {
        imports::output_stage_dir(path).map(Some).map_err(from_wit)
    }
    async fn output_move(&self, from: &str, to: &str, into_link: bool) -> Result<bool> {
        imports::output_move(from, to, into_link).map_err(from_wit)
    }
    async fn output_identity(&self, path: &str) -> Option<(u64, u64)> {
        imports::output_identity(path)
    }
    async fn http_send(&self, request: HttpRequest, max_body: u32) -> Result<HttpResponse> {
        let body = match request.body {
            HttpBody::Empty => wit::HttpBody::Empty,
            HttpBody::Bytes(b) => wit::HttpBody::Bytes(b),
            HttpBody::Blob { digest, offset, length } => wit::HttpBody::Blob(wit::BlobSlice { digest, offset, length }),
        };
        let request = wit::HttpRequest {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body,
            insecure: request.insecure,
        };
        let handle = imports::http_start(&request, max_body).map_err(from_wit)?;
        let response = InFlight(handle).await?;
        Ok(HttpResponse { status: response.status, headers: response.headers, body: response.body })
    }
    async fn credentials(&self, registry: &str, for_push: bool) -> Result<Option<Credential>> {
        let found = imports::credentials(registry, for_push).map_err(from_wit)?;
        Ok(found.map(|c| Credential {
            username: c.username,
            password: c.password,
            identity_token: Some(c.identity_token).filter(|t| !t.is_empty()),
        }))
    }
    async fn docker_config(&self) -> Result<Option<DockerConfig>> {
        let found = imports::docker_config().map_err(from_wit)?;
        Ok(found.map(|c| DockerConfig { path: c.path, text: c.text }))
    }
    async fn credential_helper(&self, name: &str, server: &str) -> Result<HelperReply> {
        let reply = imports::credential_helper(name, server).map_err(from_wit)?;
        Ok(HelperReply { success: reply.success, status: reply.status, stdout: reply.stdout })
    }
    async fn hash_start(&self) -> Result<Option<Handle>> {
        Ok(Some(imports::hash_start()))
    }
    async fn hash_update(&self, handle: Handle, data: &[u8]) -> Result<()> {
        imports::hash_update(handle, data);
        Ok(())
    }
    async fn hash_finish(&self, handle: Handle) -> Result<String> {
        imports::hash_finish(handle).map_err(from_wit)
    }
    fn compress_threads(&self) -> u32 {
        imports::compress_threads()
    }
    async fn compress_start(&self, piece: crate::compress::piece::Piece) -> Result<Handle> {
        let (algorithm, level) = piece.algorithm();
        let piece = wit::Piece {
            algorithm: algorithm.into(),
            level,
            input: piece.input,
            start: piece.start as u32,
            last: piece.last,
        };
        imports::compress_start(&piece).map_err(from_wit)
    }
    async fn compress_wait(&self, handle: Handle) -> Result<Vec<u8>> {
        imports::compress_wait(handle).map_err(from_wit)
    }
    async fn sleep(&self, milliseconds: u32) {
        imports::sleep(milliseconds)
    }
    fn progress(&self, event: ProgressEvent) {
        imports::progress(&wit::ProgressEvent {
            phase: event.phase,
            id: event.id,
            current: event.current,
            total: event.total,
        })
    }
}
