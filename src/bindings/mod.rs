//! The two glues between the core and its hosts: a WASI component (native CLI) and wasm-bindgen (JS).

#[cfg(target_os = "wasi")]
mod component;
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
mod js;
