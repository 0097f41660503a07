//! The component contract (wit/outport.wit) in Rust: wasmtime's bindings for the `exporter` world,
//! and the error aliases every host module answers with. It uses nothing of ours, so every module
//! may use it: the host calls (`imports`), the engine (`runtime`) and the modules they delegate to.

wasmtime::component::bindgen!({ path: "../wit", world: "exporter" });

pub use outport::core::types::{Error as CoreError, ErrorKind};
