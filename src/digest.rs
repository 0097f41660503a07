//! sha256 digests in the `sha256:<hex>` form used by OCI.

use sha2::{Digest as _, Sha256};

#[derive(Clone, Default)]
pub struct Hasher(Sha256);

impl Hasher {
    pub fn new() -> Hasher {
        Hasher(Sha256::new())
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub fn finish(self) -> String {
        format!("sha256:{}", hex(&self.0.finalize()))
    }
}

/// sha256 over a stream, by the host natively where it offers to (`Host::hash_start`), else here.
pub enum StreamHasher {
    Core(Hasher),
    Host(crate::host::Handle),
}

impl StreamHasher {
    pub async fn new<H: crate::host::Host>(host: &H) -> crate::error::Result<StreamHasher> {
        Ok(match host.hash_start().await? {
            Some(handle) => StreamHasher::Host(handle),
            None => StreamHasher::Core(Hasher::new()),
        })
    }

    pub async fn update<H: crate::host::Host>(&mut self, host: &H, data: &[u8]) -> crate::error::Result<()> {
        match self {
            StreamHasher::Core(hasher) => {
                hasher.update(data);
                Ok(())
            }
            StreamHasher::Host(handle) => host.hash_update(*handle, data).await,
        }
    }

    /// `sha256:<hex>`; also what ends a host's hash that is no longer wanted.
    pub async fn finish<H: crate::host::Host>(self, host: &H) -> crate::error::Result<String> {
        match self {
            StreamHasher::Core(hasher) => Ok(hasher.finish()),
            StreamHasher::Host(handle) => host.hash_finish(handle).await,
        }
    }
}

pub fn sha256(data: &[u8]) -> String {
    let mut h = Hasher::new();
    h.update(data);
    h.finish()
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

/// The hex part of a validated `sha256:<64 hex>` digest; None for anything else. Digests become
/// file names, so nothing unchecked may pass.
pub fn hex_part(digest: &str) -> Option<&str> {
    let hex = digest.strip_prefix("sha256:")?;
    let ok = hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    ok.then_some(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(sha256(b"{}"), "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
    }

    #[test]
    fn hex_part_rejects_paths() {
        assert!(hex_part("sha256:../../etc/passwd").is_none());
        assert!(hex_part("sha512:00").is_none());
        assert!(hex_part(&sha256(b"")).is_some());
        assert!(hex_part("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855").is_none());
    }
}
