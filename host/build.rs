//! Builds the exporter core as a WASI component (wasm32-wasip2) and hands its path to the CLI, which
//! embeds it with include_bytes!: the `outport` binary needs no separate .wasm file or wasmtime CLI.
//! A nested cargo with its own target directory avoids waiting on the outer build's lock.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    let host_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = host_dir.parent().expect("host/ lives inside the workspace").to_path_buf();
    let target_dir = root.join("target").join("component");
    for watched in ["src", "wit", "Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }

    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .current_dir(&root)
        .args(["build", "--package", "outport", "--profile", "wasm", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(&target_dir);
    // Flags meant for the host build must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
    ] {
        build.env_remove(var);
    }
    let status = build.status().expect("running cargo to build the core component");
    if !status.success() {
        panic!("building the core component (cargo build -p outport --profile wasm --target wasm32-wasip2) failed: see the compiler output above (a missing target is added with `rustup target add wasm32-wasip2`)");
    }
    let component = target_dir.join("wasm32-wasip2").join("wasm").join("outport.wasm");
    println!("cargo:rustc-env=OUTPORT_COMPONENT={}", component.display());
}
