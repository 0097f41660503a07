//! Annotation options: `annotation[-TYPE][\[PLATFORM\]].KEY=VALUE` (BuildKit's
//! `^annotation(?:-([a-z-]+))?(?:\[([A-Za-z0-9_/-]+)\])?\.(\S+)$`) and where each lands.

use crate::error::{Error, Result};
use crate::platform::Platform;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// `annotation.` and `annotation-manifest.`: the image manifest(s).
    Manifest,
    /// The descriptor pointing at a manifest (inside an index, or the root descriptor).
    ManifestDescriptor,
    /// The index itself.
    Index,
    /// The descriptor pointing at the index (the OCI layout's `index.json` entry).
    IndexDescriptor,
}

impl Level {
    fn parse(name: &str) -> Result<Level> {
        match name {
            "" | "manifest" => Ok(Level::Manifest),
            "manifest-descriptor" => Ok(Level::ManifestDescriptor),
            "index" => Ok(Level::Index),
            "index-descriptor" => Ok(Level::IndexDescriptor),
            other => Err(Error::option(format!("unrecognized annotation type {other}"))),
        }
    }

    /// Levels that only OCI media types can carry.
    pub fn needs_oci(self) -> bool {
        self != Level::Manifest
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// The option key as the user wrote it, for error messages.
    pub option: String,
    pub level: Level,
    pub platform: Option<Platform>,
    pub key: String,
    pub value: String,
}

/// Parse an option key as an annotation. `Ok(None)`: not an annotation key at all (BuildKit passes
/// such keys through as metadata; we warn about them as unknown).
pub fn parse(option: &str, value: &str) -> Result<Option<Annotation>> {
    let Some(rest) = option.strip_prefix("annotation") else {
        return Ok(None);
    };
    let (level_name, rest) = match rest.strip_prefix('-') {
        Some(r) => {
            let end = r.find(|c: char| !(c.is_ascii_lowercase() || c == '-')).unwrap_or(r.len());
            if end == 0 {
                return Ok(None);
            }
            (&r[..end], &r[end..])
        }
        None => ("", rest),
    };
    let (platform, rest) = match rest.strip_prefix('[') {
        Some(r) => {
            let Some(end) = r.find(']') else { return Ok(None) };
            let spec = &r[..end];
            if spec.is_empty()
                || !spec.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'/' || c == b'-')
            {
                return Ok(None);
            }
            let platform = Platform::parse(spec)
                .map_err(|e| Error::option(format!("invalid annotation option {option}: {}", e.message)))?;
            (Some(platform), &r[end + 1..])
        }
        None => (None, rest),
    };
    let Some(key) = rest.strip_prefix('.') else {
        return Ok(None);
    };
    if key.is_empty() || key.chars().any(char::is_whitespace) {
        return Ok(None);
    }
    let level = Level::parse(level_name)?;
    Ok(Some(Annotation { option: option.to_string(), level, platform, key: key.to_string(), value: value.to_string() }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(option: &str) -> Annotation {
        parse(option, "v").unwrap().unwrap()
    }

    #[test]
    fn grammar() {
        assert_eq!(one("annotation.org.opencontainers.image.title").level, Level::Manifest);
        assert_eq!(one("annotation.k").key, "k");
        assert_eq!(one("annotation-manifest.k").level, Level::Manifest);
        assert_eq!(one("annotation-manifest-descriptor.k").level, Level::ManifestDescriptor);
        assert_eq!(one("annotation-index.k").level, Level::Index);
        assert_eq!(one("annotation-index-descriptor.k").level, Level::IndexDescriptor);
        let a = one("annotation-manifest[linux/arm64/v8].k");
        assert_eq!(a.platform.unwrap().id(), "linux/arm64");
        assert_eq!(one("annotation[linux/arm].a.b").key, "a.b");
    }

    #[test]
    fn not_annotations() {
        for key in [
            "annotation.",
            "annotation",
            "annotations.x",
            "annotation-.x",
            "annotation[linux/amd64]",
            "annotation[].x",
            "annotation[linux.x].k",
        ] {
            assert_eq!(parse(key, "v").unwrap(), None, "{key}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(parse("annotation-bogus.a", "b").unwrap_err().message, "unrecognized annotation type bogus");
        assert!(parse("annotation[linux/z80].a", "b").unwrap_err().message.contains("annotation[linux/z80].a"));
    }
}
