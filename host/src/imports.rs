//! The `host` interface of wit/outport.wit, implemented on the local machine by delegating to
//! the source, store, output and progress modules.

use crate::bindings::outport::core::host::Host;
use crate::bindings::outport::core::types::{
    Credential, DockerConfigFile, Error, HelperReply, HttpError, HttpRequest, HttpResponse, Piece, ProgressEvent,
    SourceEntry,
};
use crate::fs::output::Outputs;
use crate::fs::source::SourceFiles;
use crate::progress::Progress;
use crate::store::BlobStore;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

pub struct HostState {
    pub source: SourceFiles,
    pub store: BlobStore,
    pub engines: crate::net::engine::Engines,
    pub outputs: Outputs,
    pub progress: Progress,
    pub http: crate::net::http::Http,
    pub credentials: crate::net::credentials::Credentials,
    pub compress: crate::compress_pool::CompressPool,
    pub hashes: Hashes,
    /// Held while the core writes to (or collects) the store; released when the state is dropped.
    pub _store_lock: Option<crate::store::lock::StoreLock>,
}

/// One instance's state: its WASI (sandboxed: nothing preopened, stderr only, for a panic
/// message) and our host.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub host: HostState,
}

impl State {
    pub fn new(host: HostState) -> State {
        State { wasi: WasiCtx::builder().inherit_stderr().build(), table: ResourceTable::new(), host }
    }
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl crate::bindings::outport::core::types::Host for State {}

impl Host for State {
    fn source_stat(&mut self, path: Vec<u8>) -> Result<SourceEntry, Error> {
        crate::fs::source::stat(&path)
    }
    fn source_read_dir(&mut self, path: Vec<u8>) -> Result<Vec<SourceEntry>, Error> {
        crate::fs::source::read_dir(&path)
    }
    fn source_open(&mut self, path: Vec<u8>) -> Result<u32, Error> {
        self.host.source.open(&path)
    }
    fn source_read(&mut self, handle: u32, max: u32) -> Result<Vec<u8>, Error> {
        self.host.source.read(handle, max)
    }
    fn source_close(&mut self, handle: u32) {
        self.host.source.close(handle)
    }

    fn blob_size(&mut self, digest: String) -> Result<Option<u64>, Error> {
        self.host.store.size(&digest)
    }
    fn blob_create(&mut self) -> Result<u32, Error> {
        self.host.store.create()
    }
    fn blob_write(&mut self, handle: u32, data: Vec<u8>) -> Result<(), Error> {
        self.host.store.write(handle, &data)
    }
    fn blob_commit(&mut self, handle: u32, digest: String) -> Result<(), Error> {
        self.host.store.commit(handle, &digest)
    }
    fn blob_abort(&mut self, handle: u32) {
        self.host.store.abort(handle)
    }
    fn blob_read(&mut self, digest: String, offset: u64, max: u32) -> Result<Vec<u8>, Error> {
        self.host.store.read(&digest, offset, max)
    }
    fn blob_digest(&mut self, digest: String) -> Result<Option<String>, Error> {
        self.host.store.digest(&digest)
    }

    fn blob_list(&mut self) -> Result<Vec<String>, Error> {
        self.host.store.list()
    }
    fn blob_remove(&mut self, digest: String) -> Result<(), Error> {
        self.host.store.remove(&digest)
    }
    fn cache_read(&mut self, key: String) -> Result<Option<Vec<u8>>, Error> {
        self.host.store.read_cache(&key)
    }
    fn cache_write(&mut self, key: String, data: Vec<u8>) -> Result<(), Error> {
        self.host.store.write_cache(&key, &data)
    }

    fn store_index_read(&mut self) -> Result<Option<Vec<u8>>, Error> {
        self.host.store.read_index()
    }
    fn store_index_write(&mut self, data: Vec<u8>) -> Result<(), Error> {
        self.host.store.write_index(&data)
    }

    fn store_unpack_dir(&mut self, digest: String) -> Result<String, Error> {
        self.host.store.unpack_dir(&digest)
    }

    fn output_open(&mut self, path: String) -> Result<u32, Error> {
        self.host.outputs.open(&path)
    }
    fn output_write(&mut self, handle: u32, data: Vec<u8>) -> Result<(), Error> {
        self.host.outputs.write(handle, &data)
    }
    fn output_write_blob(&mut self, handle: u32, digest: String) -> Result<u64, Error> {
        let HostState { outputs, store, .. } = &mut self.host;
        outputs.write_blob(handle, store, &digest)
    }
    fn output_place_blob(&mut self, path: String, digest: String) -> Result<u64, Error> {
        let HostState { outputs, store, .. } = &mut self.host;
        outputs.place_blob(&path, store, &digest)
    }
    fn output_commit(&mut self, handle: u32) -> Result<(), Error> {
        self.host.outputs.commit(handle)
    }
    fn output_abort(&mut self, handle: u32) {
        self.host.outputs.abort(handle)
    }
    fn output_mkdir(&mut self, path: String) -> Result<(), Error> {
        crate::fs::output::mkdir(&path)
    }
    fn output_read(&mut self, path: String) -> Result<Option<Vec<u8>>, Error> {
        crate::fs::output::read(&path)
    }

    fn output_create_dir(&mut self, path: String) -> Result<(), Error> {
        crate::fs::local::create_dir(&path)
    }
    fn output_symlink(&mut self, path: String, target: Vec<u8>) -> Result<(), Error> {
        crate::fs::local::symlink(&path, &target)
    }
    fn output_hardlink(&mut self, path: String, target: String) -> Result<(), Error> {
        crate::fs::local::hardlink(&path, &target)
    }
    fn output_list_dir(&mut self, path: String) -> Result<Option<Vec<(String, bool)>>, Error> {
        crate::fs::local::list_dir(&path)
    }
    fn output_remove(&mut self, path: String) -> Result<(), Error> {
        crate::fs::local::remove(&path)
    }
    fn output_set_attributes(&mut self, path: String, mode: u32, uid: u32, gid: u32, mtime: i64) -> Result<(), Error> {
        crate::fs::local::set_attributes(&path, mode, uid, gid, mtime)
    }

    fn engine_connect(&mut self, scheme: String, address: String, cert_dir: Option<String>) -> Result<u32, Error> {
        self.host.engines.connect(&scheme, &address, cert_dir.as_deref())
    }
    fn engine_write(&mut self, handle: u32, data: Vec<u8>) -> Result<(), Error> {
        self.host.engines.write(handle, &data)
    }
    fn engine_read(&mut self, handle: u32, max: u32) -> Result<Vec<u8>, Error> {
        self.host.engines.read(handle, max)
    }
    fn engine_close(&mut self, handle: u32) {
        self.host.engines.close(handle)
    }
    fn store_temporaries(&mut self, remove: bool) -> Result<Vec<(String, u64)>, Error> {
        self.host.store.temporaries(remove)
    }
    fn output_stage_dir(&mut self, path: String) -> Result<String, Error> {
        self.host.outputs.stage_dir(&path)
    }
    fn output_move(&mut self, from: String, to: String, into_link: bool) -> Result<bool, Error> {
        crate::fs::local::move_entry(&from, &to, into_link)
    }
    fn output_identity(&mut self, path: String) -> Option<(u64, u64)> {
        crate::fs::output::identity(&path)
    }

    fn http_start(&mut self, request: HttpRequest, max_body: u32) -> Result<u32, Error> {
        let HostState { http, store, .. } = &mut self.host;
        http.start(store, request, max_body)
    }
    fn http_take(&mut self, handle: u32) -> Option<Result<HttpResponse, HttpError>> {
        self.host.http.take(handle)
    }
    fn http_wait(&mut self) {
        self.host.http.wait()
    }

    fn credentials(&mut self, _registry: String, for_push: bool) -> Result<Option<Credential>, Error> {
        Ok(self.host.credentials.given(for_push))
    }
    fn docker_config(&mut self) -> Result<Option<DockerConfigFile>, Error> {
        self.host.credentials.docker_config()
    }
    fn credential_helper(&mut self, name: String, server: String) -> Result<HelperReply, Error> {
        crate::net::credentials::run_helper(&name, &server)
    }

    fn hash_start(&mut self) -> u32 {
        self.host.hashes.start()
    }
    fn hash_update(&mut self, handle: u32, data: Vec<u8>) {
        self.host.hashes.update(handle, &data)
    }
    fn hash_finish(&mut self, handle: u32) -> Result<String, Error> {
        self.host.hashes.finish(handle)
    }
    fn compress_threads(&mut self) -> u32 {
        self.host.compress.threads()
    }
    fn compress_start(&mut self, piece: Piece) -> Result<u32, Error> {
        self.host.compress.start(piece)
    }
    fn compress_wait(&mut self, handle: u32) -> Result<Vec<u8>, Error> {
        self.host.compress.wait(handle)
    }

    fn sleep(&mut self, milliseconds: u32) {
        std::thread::sleep(std::time::Duration::from_millis(milliseconds as u64))
    }

    fn progress(&mut self, event: ProgressEvent) {
        self.host.progress.report(&event)
    }
}

/// sha256 of layer streams, computed natively (SHA instructions where the CPU has them) for the core.
#[derive(Default)]
pub struct Hashes {
    open: std::collections::HashMap<u32, sha2::Sha256>,
    next: u32,
}

impl Hashes {
    fn start(&mut self) -> u32 {
        self.next += 1;
        self.open.insert(self.next, Default::default());
        self.next
    }

    fn update(&mut self, handle: u32, data: &[u8]) {
        use sha2::Digest as _;
        // The core never names a handle it did not start; one that is gone hashes nothing.
        if let Some(hasher) = self.open.get_mut(&handle) {
            hasher.update(data);
        }
    }

    fn finish(&mut self, handle: u32) -> Result<String, Error> {
        use sha2::Digest as _;
        let hasher = self
            .open
            .remove(&handle)
            .ok_or_else(|| crate::errors::error(crate::bindings::ErrorKind::Internal, format!("no hash {handle}")))?;
        Ok(format!("sha256:{:x}", hasher.finalize()))
    }
}
