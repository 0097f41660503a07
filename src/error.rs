//! Errors are values with a kind and a one-line message naming the option, path or URL at fault.

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidOption,
    Source,
    Store,
    Output,
    Registry,
    Auth,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidOption => "invalid-option",
            ErrorKind::Source => "source",
            ErrorKind::Store => "store",
            ErrorKind::Output => "output",
            ErrorKind::Registry => "registry",
            ErrorKind::Auth => "auth",
            ErrorKind::Internal => "internal",
        }
    }

    pub fn parse(s: &str) -> ErrorKind {
        match s {
            "invalid-option" => ErrorKind::InvalidOption,
            "source" => ErrorKind::Source,
            "store" => ErrorKind::Store,
            "output" => ErrorKind::Output,
            "registry" => ErrorKind::Registry,
            "auth" => ErrorKind::Auth,
            _ => ErrorKind::Internal,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
    pub fn option(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::InvalidOption, message)
    }
    pub fn source(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Source, message)
    }
    pub fn store(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Store, message)
    }
    pub fn output(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Output, message)
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error::new(ErrorKind::Internal, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
