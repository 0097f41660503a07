//! The local store, in one place. The host keeps the files (blobs by digest, index.json, cache
//! records, the lock); the core decides what goes in and what it means:
//!
//! - `names`: index.json, one entry per image name (`outport images`);
//! - `ingest`: a blob of known digest and size copied in, checked before it gets its name;
//! - `cache`: the compression cache's records (a layer compressed the same way before is reused);
//! - `graph`: what the named images reach, read back and checked against their descriptors;
//! - `verify`, `gc`: `outport store verify` and `outport store gc`;
//! - `push`: `outport push NAME…`, stored images sent to a registry.
//!
//! An OCI layout written as an *output* (type=oci, tar=false) is `export::layout`, not the store.

pub(crate) mod cache;
mod gc;
mod graph;
pub(crate) mod ingest;
mod names;
mod push;
mod verify;

pub use gc::gc;
pub use graph::{descriptors, read_manifest};
pub use names::{list, name_image, remove, ImageRow};
pub use push::{push_request, PushRequest};
pub use verify::verify;
