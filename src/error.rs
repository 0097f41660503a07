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

/// Why an HTTP exchange got no answer, as the host's HTTP client classifies it: the core decides
/// on retries and hints by this, never by a message's wording (which differs between hosts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// The name did not resolve.
    Dns,
    /// No connection could be made (refused, unreachable).
    Connect,
    /// No progress within the host's timeout.
    Timeout,
    /// The connection was closed or reset mid-exchange.
    Reset,
    /// The server's certificate is not trusted (unknown CA, expired, wrong name).
    Certificate,
    /// The server answered the TLS handshake in plain HTTP: a plain-HTTP registry.
    PlainHttp,
    /// Another TLS failure (handshake, protocol version).
    Tls,
    /// Anything else (a malformed request or answer, an I/O error on a streamed body).
    Other,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Dns => "dns",
            Transport::Connect => "connect",
            Transport::Timeout => "timeout",
            Transport::Reset => "reset",
            Transport::Certificate => "certificate",
            Transport::PlainHttp => "plain-http",
            Transport::Tls => "tls",
            Transport::Other => "other",
        }
    }

    /// A host's name for a kind; an unknown name is `Other`.
    pub fn parse(s: &str) -> Transport {
        match s {
            "dns" => Transport::Dns,
            "connect" => Transport::Connect,
            "plain-http" => Transport::PlainHttp,
            "timeout" => Transport::Timeout,
            "reset" => Transport::Reset,
            "certificate" => Transport::Certificate,
            "tls" => Transport::Tls,
            _ => Transport::Other,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    /// Set (by the host) when an HTTP exchange failed below HTTP; such errors are of kind Registry.
    pub transport: Option<Transport>,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into(), transport: None }
    }
    /// An HTTP exchange that got no answer (a registry error the core may retry).
    pub fn transport(transport: Transport, message: impl Into<String>) -> Error {
        Error { kind: ErrorKind::Registry, message: message.into(), transport: Some(transport) }
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
