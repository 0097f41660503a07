//! Tar, in one place: the writer (Go's archive/tar PAX output, byte for byte), the header parser
//! (Go's archive/tar reading rules) and a push parser over it that every reader of tars from outside
//! uses (layer tarballs, `oci-archive:` bases, eStargz re-encoding), so the same bytes get the same
//! verdict wherever they come in.

pub mod writer;

pub use writer::{encode, padding, typeflag, Header, BLOCK, TRAILER};
