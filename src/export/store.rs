//! Moved to `crate::store` (`store/names.rs`); this path forwards until `export/mod.rs` names the
//! store directly (left alone while another branch reshapes it).

pub use crate::store::name_image;
