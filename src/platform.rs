//! Platforms (`os/arch[/variant]`), normalized by containerd's rules so `x86_64` and `amd64` agree.

use crate::error::{Error, Result};
use serde::Serialize;

/// Field order is image-spec's Go order: architecture, os, os.version, os.features, variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    pub architecture: String,
    pub os: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parse and normalize a `--platform` value such as `linux/amd64` or `linux/arm/v7`.
    pub fn parse(spec: &str) -> Result<Platform> {
        let bad = |why: &str| Error::option(format!("invalid platform {spec:?}: {why}"));
        let parts: Vec<&str> = spec.trim().split('/').collect();
        if parts.iter().any(|p| p.is_empty()) {
            return Err(bad("expected OS/ARCH[/VARIANT]"));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(bad("expected OS/ARCH[/VARIANT]")),
        };
        let os = os.to_ascii_lowercase();
        if !KNOWN_OS.contains(&os.as_str()) {
            return Err(bad(&format!("unknown operating system {os:?}")));
        }
        let (architecture, variant) = normalize_arch(&arch.to_ascii_lowercase(), variant.map(str::to_ascii_lowercase));
        if !KNOWN_ARCH.contains(&architecture.as_str()) {
            return Err(bad(&format!("unknown architecture {architecture:?}")));
        }
        Ok(Platform { architecture, os, variant })
    }

    /// A platform no annotation qualifier can name: selects only unqualified annotations.
    pub fn none() -> Platform {
        Platform { architecture: String::new(), os: String::new(), variant: None }
    }

    /// `linux/arm/v7`: the platform ID used for directory names and annotation qualifiers.
    pub fn id(&self) -> String {
        match &self.variant {
            Some(v) => format!("{}/{}/{}", self.os, self.architecture, v),
            None => format!("{}/{}", self.os, self.architecture),
        }
    }
}

const KNOWN_OS: &[&str] = &[
    "aix",
    "android",
    "darwin",
    "dragonfly",
    "freebsd",
    "illumos",
    "ios",
    "js",
    "linux",
    "netbsd",
    "openbsd",
    "plan9",
    "solaris",
    "wasip1",
    "windows",
];

const KNOWN_ARCH: &[&str] = &[
    "386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64",
    "s390x", "wasm",
];

/// containerd's `normalizeArch`.
fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    let (arch, variant) = match (arch, variant.as_deref()) {
        ("i386", _) => ("386", None),
        ("x86_64" | "x86-64" | "amd64", Some("v1")) | ("x86_64" | "x86-64", None) => ("amd64", None),
        ("x86_64" | "x86-64", v) => ("amd64", v.map(str::to_string)),
        ("aarch64" | "arm64", Some("8" | "v8" | "v8.0")) | ("aarch64", None) => ("arm64", None),
        ("aarch64", v) => ("arm64", v.map(str::to_string)),
        ("armhf", _) => ("arm", Some("v7".to_string())),
        ("armel", _) => ("arm", Some("v6".to_string())),
        ("arm", None) => ("arm", Some("v7".to_string())),
        ("arm", Some(v @ ("5" | "6" | "7" | "8"))) => ("arm", Some(format!("v{v}"))),
        (a, v) => (a, v.map(str::to_string)),
    };
    (arch.to_string(), variant)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_containerd() {
        assert_eq!(Platform::parse("linux/x86_64").unwrap().id(), "linux/amd64");
        assert_eq!(Platform::parse("linux/aarch64").unwrap().id(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm64/v8").unwrap().id(), "linux/arm64");
        assert_eq!(Platform::parse("linux/arm").unwrap().id(), "linux/arm/v7");
        assert_eq!(Platform::parse("linux/armhf").unwrap().id(), "linux/arm/v7");
        assert_eq!(Platform::parse("Linux/AMD64").unwrap().id(), "linux/amd64");
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["linux", "linux/", "/amd64", "linux/amd64/v1/x", "plan10/amd64", "linux/z80"] {
            let err = Platform::parse(bad).unwrap_err();
            assert!(err.message.contains(bad), "{err}");
        }
    }
}
