//! The local file system as the core sees it: source trees read (symlinks described, never
//! followed), output files and directories written under temporary names and moved into place,
//! and the local exporter's operations.

pub mod local;
pub mod output;
pub mod source;
