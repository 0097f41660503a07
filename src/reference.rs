//! Image references (`[domain/]path[:tag][@digest]`) normalized by Docker's rules
//! (distribution/reference `ParseNormalizedNamed` + `TagNameOnly`): `foo` → `docker.io/library/foo:latest`.

use crate::error::{Error, Result};

pub const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
const OFFICIAL_REPO_PREFIX: &str = "library/";
const NAME_TOTAL_LENGTH_MAX: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// Registry host, e.g. `docker.io`, `localhost:5000`, `ghcr.io`.
    pub domain: String,
    /// Repository path within the registry, e.g. `library/alpine`.
    pub path: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parse and normalize; a reference with neither tag nor digest gets `:latest`.
    pub fn parse_normalized(raw: &str) -> Result<Reference> {
        let mut reference = Reference::parse_name(raw)?;
        if reference.tag.is_none() && reference.digest.is_none() {
            reference.tag = Some("latest".to_string());
        }
        Ok(reference)
    }

    /// Parse and normalize without adding a tag (`foo` → `docker.io/library/foo`).
    pub fn parse_name(raw: &str) -> Result<Reference> {
        let fail = |why: &str| Error::option(format!("failed to parse {raw}: invalid reference format{why}"));
        if raw.is_empty() {
            return Err(fail(""));
        }
        let (rest, digest) = match raw.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(fail(""));
                }
                (r, Some(d.to_string()))
            }
            None => (raw, None),
        };
        // A tag is the part after the last ':' if no '/' follows it (a ':' before a '/' is a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(rest[i + 1..].to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag {
            if !valid_tag(t) {
                return Err(fail(""));
            }
        }
        let (domain, path) = split_domain(name);
        if path.to_ascii_lowercase() != path {
            return Err(fail(&format!(": repository name ({path}) must be lowercase")));
        }
        if !valid_domain(&domain) || !path.split('/').all(valid_path_component) {
            return Err(fail(""));
        }
        if domain.len() + 1 + path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(fail(&format!(": repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters")));
        }
        Ok(Reference { domain, path, tag, digest })
    }

    /// `domain/path` without tag or digest.
    pub fn repository(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The full normalized string, e.g. `docker.io/library/foo:latest`.
    pub fn full(&self) -> String {
        let mut s = self.repository();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d);
        }
        s
    }

    /// Docker's familiar form: `docker.io/library/foo:latest` → `foo:latest`.
    pub fn familiar(&self) -> String {
        let full = self.full();
        if self.domain != DEFAULT_DOMAIN {
            return full;
        }
        let short = &full[DEFAULT_DOMAIN.len() + 1..];
        match short.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !self.path[OFFICIAL_REPO_PREFIX.len()..].contains('/') => rest.to_string(),
            _ => short.to_string(),
        }
    }

    /// `org.opencontainers.image.ref.name` in an OCI layout: the tag, or the full reference for a
    /// digest-only name.
    pub fn layout_ref_name(&self) -> String {
        match &self.tag {
            Some(t) => t.clone(),
            None => self.full(),
        }
    }
}

fn split_domain(name: &str) -> (String, String) {
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':']) || first == "localhost" || first.to_ascii_lowercase() != first =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
    };
    let domain = if domain == LEGACY_DEFAULT_DOMAIN { DEFAULT_DOMAIN.to_string() } else { domain };
    let path =
        if domain == DEFAULT_DOMAIN && !path.contains('/') { format!("{OFFICIAL_REPO_PREFIX}{path}") } else { path };
    (domain, path)
}

fn is_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_path_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum(b[0]) || !is_alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// Host names (labels of `[a-zA-Z0-9-]`, not starting or ending with '-'), or `[ipv6]`, plus `:port`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = if let Some(rest) = d.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if !ip.is_empty() && ip.bytes().all(|c| c.is_ascii_hexdigit() || c == b':') => {
                ("ok", tail.strip_prefix(':'))
            }
            _ => return false,
        }
    } else {
        match d.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (d, None),
        }
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    host == "ok"
        || (!host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }))
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let b = t.as_bytes();
    !b.is_empty() && b.len() <= 128 && word(b[0]) && b.iter().all(|&c| word(c) || c == b'.' || c == b'-')
}

fn valid_digest(d: &str) -> bool {
    crate::digest::hex_part(d).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        let cases = [
            ("foo", "docker.io/library/foo:latest", "foo:latest", "latest"),
            ("foo/bar:1.0", "docker.io/foo/bar:1.0", "foo/bar:1.0", "1.0"),
            ("index.docker.io/library/foo", "docker.io/library/foo:latest", "foo:latest", "latest"),
            ("localhost:5000/a/b", "localhost:5000/a/b:latest", "localhost:5000/a/b:latest", "latest"),
            ("localhost/x", "localhost/x:latest", "localhost/x:latest", "latest"),
            (
                "example.com/buildkit/testoci:latest",
                "example.com/buildkit/testoci:latest",
                "example.com/buildkit/testoci:latest",
                "latest",
            ),
            ("ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "ghcr.io/o/r:v1", "v1"),
            ("[::1]:5000/img", "[::1]:5000/img:latest", "[::1]:5000/img:latest", "latest"),
        ];
        for (raw, full, familiar, ref_name) in cases {
            let r = Reference::parse_normalized(raw).unwrap();
            assert_eq!(
                (r.full().as_str(), r.familiar().as_str(), r.layout_ref_name().as_str()),
                (full, familiar, ref_name),
                "{raw}"
            );
        }
        let digest = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse_normalized(&format!("foo@{digest}")).unwrap();
        assert_eq!(r.full(), format!("docker.io/library/foo@{digest}"));
        assert_eq!(r.tag, None);
        assert_eq!(r.layout_ref_name(), r.full());
    }

    #[test]
    fn rejects_bad_references() {
        assert_eq!(
            Reference::parse_normalized("Foo").unwrap_err().message,
            "failed to parse Foo: invalid reference format: repository name (library/Foo) must be lowercase"
        );
        for bad in
            ["", "foo:", "foo:-x", "foo@sha256:abc", "a//b", "-a/b", "foo/bar_", "UPPER.io:x/y", "host:port/x", "a b"]
        {
            assert!(Reference::parse_normalized(bad).is_err(), "{bad:?} should fail");
        }
    }
}
