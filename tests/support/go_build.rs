//! Building a test's Go program offline, as the tests that compare against Go's own code do: GOPATH
//! mode over Debian's Go sources (/usr/share/gocode), no module proxy. Shared by the root crate's
//! tests and the CLI's (`#[path]`-included: the two are separate test crates).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `go build` `source` into `work/name`. `packages` names the Debian packages the program needs
/// besides golang-go, for the failure message (scripts/setup.sh installs them).
pub fn go_build(source: &Path, work: &Path, name: &str, packages: &str) -> PathBuf {
    let bin = work.join(name);
    let out = Command::new("go")
        .args(["build", "-o", bin.to_str().unwrap(), source.to_str().unwrap()])
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode")
        .env("GOPROXY", "off")
        .env("GOFLAGS", "")
        .env("GOCACHE", work.join("go-cache"))
        .output()
        .unwrap_or_else(|e| panic!("running `go` ({e}): install golang-go and {packages} (scripts/setup.sh)"));
    assert!(
        out.status.success(),
        "building {name} failed (is {packages} installed?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}
