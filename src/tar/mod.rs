//! Tar, in one place: the writer (Go's archive/tar PAX output, byte for byte), the header parser
//! (Go's archive/tar reading rules) and a push parser over it that every reader of tars from outside
//! uses (layer tarballs, `oci-archive:` bases, eStargz re-encoding), so the same bytes get the same
//! verdict wherever they come in.

pub mod error;
pub mod header;
pub mod numbers;
pub mod paths;
pub mod pax;
pub mod reader;
pub mod writer;

pub use error::TarError;
pub use header::Entry;
pub use reader::{Event, Reader, Truncation};
pub use writer::{encode, padding, typeflag, Header, BLOCK, TRAILER};

#[cfg(test)]
pub(crate) mod testing;
#[cfg(test)]
mod verdicts;
