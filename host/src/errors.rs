//! Host-side errors in the WIT shape, with messages that name the path at fault.

use crate::bindings::{CoreError, ErrorKind};
use std::io;
use std::path::Path;

/// "PATH: no such file or directory" — the OS reason in plain lowercase words.
pub fn io_error(kind: ErrorKind, path: &Path, e: &io::Error) -> CoreError {
    CoreError { kind, message: format!("{}: {}", path.display(), reason(e)) }
}

pub fn error(kind: ErrorKind, message: impl Into<String>) -> CoreError {
    CoreError { kind, message: message.into() }
}

fn reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::NotADirectory => "not a directory".into(),
        io::ErrorKind::IsADirectory => "is a directory".into(),
        io::ErrorKind::AlreadyExists => "file exists".into(),
        _ => {
            // Drop Rust's " (os error N)" suffix.
            let text = e.to_string();
            text.split(" (os error").next().unwrap_or(&text).to_lowercase()
        }
    }
}
