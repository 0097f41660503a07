//! Runs the embedded core component under wasmtime, with our host imports and a sandboxed WASI
//! (no preopened directories, no environment, no network): the core can only reach the world
//! through the `host` interface.

use crate::bindings::{CoreError, ErrorKind, Exporter};
use crate::compress_pool::Compressor;
use crate::imports::{HostState, State};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

static COMPONENT: &[u8] = include_bytes!(env!("OUTPORT_COMPONENT"));

/// Run one export request (JSON) to completion; the response is JSON too.
pub fn run(host: HostState, request: &str) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_run(&mut store, request).map_err(|e| internal("the core stopped", e))?
}

/// Push a stored image (request and result are JSON).
pub fn push(host: HostState, request: &str) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_push(&mut store, request).map_err(|e| internal("the core stopped", e))?
}

/// The local store's images as JSON.
pub fn images(host: HostState) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_images(&mut store).map_err(|e| internal("the core stopped", e))?
}

pub fn store_verify(host: HostState) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_store_verify(&mut store).map_err(|e| internal("the core stopped", e))?
}

pub fn store_gc(host: HostState) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_store_gc(&mut store).map_err(|e| internal("the core stopped", e))?
}

/// `outport rm`: names out of the store's index (request and result are JSON).
pub fn remove(host: HostState, request: &str) -> Result<String, CoreError> {
    let (mut store, exporter) = instantiate(host)?;
    exporter.call_remove_names(&mut store, request).map_err(|e| internal("the core stopped", e))?
}

/// The command line, parsed by the core (src/cli): the core names the environment variables it
/// reads, then gets them with `args` (without the program name). JSON out; a usage error is an
/// `invalid-option` error. Needs no host: WASI and the host interface stubbed.
pub fn parse_command_line(args: &[String]) -> Result<String, CoreError> {
    let (mut store, exporter) = host_free()?;
    let names = exporter.call_parse_args_env(&mut store).map_err(|e| internal("the core stopped", e))?;
    let env: Vec<(String, String)> = names
        .into_iter()
        .filter_map(|name| std::env::var_os(&name).map(|v| (name, v.to_string_lossy().into_owned())))
        .collect();
    exporter.call_parse_args(&mut store, args, &env).map_err(|e| internal("the core stopped", e))?
}

fn internal(what: &str, e: wasmtime::Error) -> CoreError {
    CoreError { kind: ErrorKind::Internal, message: format!("{what}: {e:#}") }
}

/// The engine and the compiled core, once per process: compression workers instantiate the same.
fn compiled() -> Result<&'static (Engine, Component), CoreError> {
    static COMPILED: std::sync::OnceLock<Result<(Engine, Component), CoreError>> = std::sync::OnceLock::new();
    COMPILED
        .get_or_init(|| {
            let mut config = Config::new();
            config.wasm_component_model(true);
            // For profiling the core with `perf record` (bench/README): wasm functions get names.
            if std::env::var_os("OUTPORT_PERFMAP").is_some() {
                config.profiler(wasmtime::ProfilingStrategy::PerfMap);
            }
            let engine = Engine::new(&config).map_err(|e| internal("starting wasmtime", e))?;
            let component = load_component(&engine).map_err(|e| internal("loading the core component", e))?;
            Ok((engine, component))
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// An instance of the core for compressing pieces on another thread: it never calls the host, so
/// its host imports trap, and its WASI has nothing (stderr only, for a panic message).
pub fn compressor() -> Result<Compressor, CoreError> {
    let (engine, component) = compiled()?;
    let mut linker = Linker::<WasiOnly>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| internal("linking WASI", e))?;
    linker.define_unknown_imports_as_traps(component).map_err(|e| internal("linking the host interface", e))?;
    let state = WasiOnly { wasi: WasiCtx::builder().inherit_stderr().build(), table: ResourceTable::new() };
    let mut store = Store::new(engine, state);
    let exporter =
        Exporter::instantiate(&mut store, component, &linker).map_err(|e| internal("instantiating the core", e))?;
    Ok(Box::new(move |piece| {
        exporter.call_compress_piece(&mut store, piece).map_err(|e| internal("compressing a layer piece", e))
    }))
}

/// An instance whose host interface traps but whose WASI is whole: unlike `compressor`'s
/// `define_unknown_imports_as_traps`, which also stubs WASI interfaces imported at an older minor
/// version than wasmtime-wasi links (std's hash seed, wasi:random/insecure-seed, among them).
fn host_free() -> Result<(Store<WasiOnly>, Exporter), CoreError> {
    use wasmtime::component::types::ComponentItem;
    let (engine, component) = compiled()?;
    let mut linker = Linker::<WasiOnly>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| internal("linking WASI", e))?;
    for (name, item) in component.component_type().imports(engine) {
        let ComponentItem::ComponentInstance(instance) = item.ty else { continue };
        if !name.starts_with("outport:") {
            continue;
        }
        let mut stubs = linker.instance(name).map_err(|e| internal("linking the host interface", e))?;
        for (func, export) in instance.exports(engine) {
            if !matches!(export.ty, ComponentItem::ComponentFunc(_)) {
                continue;
            }
            stubs
                .func_new(func, |_, _, _, _| Err(wasmtime::Error::msg("parse-args called the host")))
                .map_err(|e| internal("linking the host interface", e))?;
        }
    }
    let state = WasiOnly { wasi: WasiCtx::builder().inherit_stderr().build(), table: ResourceTable::new() };
    let mut store = Store::new(engine, state);
    let exporter =
        Exporter::instantiate(&mut store, component, &linker).map_err(|e| internal("instantiating the core", e))?;
    Ok((store, exporter))
}

pub struct WasiOnly {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for WasiOnly {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// A fresh instance of the core with our imports and a sandboxed WASI (nothing preopened).
fn instantiate(host: HostState) -> Result<(Store<State>, Exporter), CoreError> {
    let (engine, component) = compiled()?;
    let mut linker = Linker::<State>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| internal("linking WASI", e))?;
    Exporter::add_to_linker::<State, wasmtime::component::HasSelf<State>>(&mut linker, |s| s)
        .map_err(|e| internal("linking the host interface", e))?;
    let state = State::new(host);
    let mut store = Store::new(engine, state);
    let exporter =
        Exporter::instantiate(&mut store, component, &linker).map_err(|e| internal("instantiating the core", e))?;
    Ok((store, exporter))
}

/// Compiling the component takes about a second; the machine code is cached per (component bytes,
/// engine settings) under the user's cache directory. A cache that cannot be read or written is
/// ignored: it only costs time.
fn load_component(engine: &Engine) -> wasmtime::Result<Component> {
    let Some(path) = cache_path(engine) else {
        return Component::new(engine, COMPONENT);
    };
    if path.is_file() {
        // Safety: the file was produced by `precompile_component` of this same engine configuration
        // (its name carries both hashes) and lives in the user's own cache directory.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &path) } {
            return Ok(component);
        }
    }
    let compiled = engine.precompile_component(COMPONENT)?;
    if let Some(dir) = path.parent() {
        let temp = dir.join(format!(".{}.tmp", std::process::id()));
        let stored = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&temp, &compiled))
            .and_then(|()| std::fs::rename(&temp, &path));
        if stored.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
    }
    // Safety: the bytes were just produced by this engine.
    unsafe { Component::deserialize(engine, &compiled) }
}

fn cache_path(engine: &Engine) -> Option<PathBuf> {
    let dir = std::env::var_os("OUTPORT_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()).map(|d| PathBuf::from(d).join("outport"))
        })
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("outport")))?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    COMPONENT.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    Some(dir.join(format!("core-{:016x}.cwasm", hasher.finish())))
}
