//! What can be wrong with a tar. Callers wrap these in their own context; the Display text is the
//! detailed one, [`TarError::go_text`] what Go's archive/tar would say.

use super::header::MAX_META;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarError {
    /// Neither the unsigned nor the signed sum of the block matches its checksum field.
    Checksum,
    /// A numeric header field that is neither octal nor base-256 in range.
    Field(&'static str),
    NegativeSize,
    /// A PAX header or GNU long name bigger than Go reads.
    MetaTooLong(u64),
    /// PAX records that are not well formed.
    Pax,
    /// A PAX record whose value does not parse (its key).
    PaxValue(String),
    /// One zero block and then not a second one.
    ZeroThenData,
    /// A GNU sparse file (old `S` entry or PAX 0.x/1.0 records): not supported.
    Sparse {
        name: Vec<u8>,
        typeflag: u8,
    },
}

impl TarError {
    /// Go's error for the same input (ErrFieldTooLong or ErrHeader), as eStargz reports it.
    pub fn go_text(&self) -> &'static str {
        match self {
            TarError::MetaTooLong(_) => "archive/tar: header field too long",
            _ => "archive/tar: invalid tar header",
        }
    }
}

impl fmt::Display for TarError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            TarError::Checksum => write!(f, "header checksum mismatch (not a tar archive, or a damaged one)"),
            TarError::Field(field) => write!(f, "malformed {field} field"),
            TarError::NegativeSize => write!(f, "negative size"),
            TarError::MetaTooLong(size) => write!(f, "{size}-byte extended header (at most {MAX_META})"),
            TarError::Pax => write!(f, "malformed PAX extended header"),
            TarError::PaxValue(key) if key == "size" => write!(f, "malformed PAX size"),
            TarError::PaxValue(key) => write!(f, "malformed PAX {key} record"),
            TarError::ZeroThenData => write!(f, "a zero block followed by a non-zero block"),
            TarError::Sparse { name, .. } => {
                write!(f, "entry {:?} is a GNU sparse file, which is not supported", String::from_utf8_lossy(name))
            }
        }
    }
}
