//! Runs the embedded core component under wasmtime, with our host imports and a sandboxed WASI
//! (no preopened directories, no environment, no network): the core can only reach the world
//! through the `host` interface.

use crate::imports::HostState;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

wasmtime::component::bindgen!({ path: "../wit", world: "exporter" });

pub use outport::core::types::{Error as CoreError, ErrorKind};

static COMPONENT: &[u8] = include_bytes!(env!("OUTPORT_COMPONENT"));

pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    pub host: HostState,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl outport::core::types::Host for State {}

/// Run one export request (JSON) to completion; the response is JSON too.
pub fn run(host: HostState, request: &str) -> Result<String, CoreError> {
    let internal = |what: &str, e: wasmtime::Error| CoreError {
        kind: ErrorKind::Internal,
        message: format!("{what}: {e:#}"),
    };
    let mut config = Config::new();
    config.wasm_component_model(true);
    let engine = Engine::new(&config).map_err(|e| internal("starting wasmtime", e))?;
    let component = Component::new(&engine, COMPONENT).map_err(|e| internal("loading the core component", e))?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| internal("linking WASI", e))?;
    Exporter::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |s| s)
        .map_err(|e| internal("linking the host interface", e))?;
    let state = State {
        wasi: WasiCtx::builder().inherit_stderr().build(),
        table: ResourceTable::new(),
        host,
    };
    let mut store = Store::new(&engine, state);
    let exporter =
        Exporter::instantiate(&mut store, &component, &linker).map_err(|e| internal("instantiating the core", e))?;
    exporter
        .call_run(&mut store, request)
        .map_err(|e| internal("the core stopped", e))?
}
