//! Where the Docker-API engine is, found as the docker CLI finds it: `--docker-host`, else
//! `DOCKER_HOST`, else the current context (`DOCKER_CONTEXT`, else `currentContext` in
//! `$DOCKER_CONFIG/config.json`, its endpoint in `contexts/meta/<sha256 of the name>/meta.json`),
//! else `/var/run/docker.sock`, else Podman's sockets. Hosts pass the environment; the core reads
//! the files through the host's source calls and asks it only to connect.

use crate::digest::sha256;
use crate::error::{Error, Result};
use crate::host::{read_small_file, EntryKind, Host};
use serde_json::Value;
use std::collections::BTreeMap;

/// How to reach an engine: what the host's `engine-connect` takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// unix, tcp, tls or ssh.
    pub scheme: &'static str,
    /// Socket path, `host:port`, or for ssh the `ssh://` URL.
    pub address: String,
    /// tls: the directory holding ca.pem, cert.pem and key.pem, when there is one.
    pub cert_dir: Option<String>,
    /// As users write it (`unix:///var/run/docker.sock`), for messages.
    pub shown: String,
}

const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// The engine to use, and what was looked at when none was found.
pub async fn locate<H: Host>(host: &H, flag: Option<&str>, env: &BTreeMap<String, String>) -> Result<Endpoint> {
    let var = |name: &str| env.get(name).map(String::as_str).filter(|v| !v.is_empty());
    if let Some(address) = flag {
        return parse(address, env, "--docker-host");
    }
    if let Some(address) = var("DOCKER_HOST") {
        return parse(address, env, "DOCKER_HOST");
    }
    let config_dir = var("DOCKER_CONFIG").map(str::to_string);
    let context = match var("DOCKER_CONTEXT") {
        Some(name) => Some(name.to_string()),
        None => current_context(host, config_dir.as_deref()).await?,
    };
    if let Some(name) = context.filter(|n| n != "default") {
        return from_context(host, config_dir.as_deref(), &name, env).await;
    }
    let mut candidates = vec![DEFAULT_SOCKET.to_string()];
    if let Some(runtime) = var("XDG_RUNTIME_DIR") {
        candidates.push(format!("{}/podman/podman.sock", runtime.trim_end_matches('/')));
    }
    candidates.push("/run/podman/podman.sock".into());
    for socket in &candidates {
        if host.source_stat(socket.as_bytes()).await.is_ok_and(|e| e.kind == EntryKind::Socket) {
            return parse(&format!("unix://{socket}"), env, "the default socket");
        }
    }
    Err(Error::output(format!(
        "no Docker engine found: no socket at {}; start Docker or Podman's service, or name the engine with DOCKER_HOST or --docker-host ADDR (unix:///PATH, tcp://HOST:PORT, ssh://USER@HOST)",
        candidates.join(", ")
    )))
}

/// `currentContext` of the docker CLI's config.json, if it names one.
async fn current_context<H: Host>(host: &H, config_dir: Option<&str>) -> Result<Option<String>> {
    let Some(dir) = config_dir else { return Ok(None) };
    let path = format!("{}/config.json", dir.trim_end_matches('/'));
    let Ok(bytes) = read_small_file(host, &path, 1 << 20).await else { return Ok(None) };
    let config: Value = serde_json::from_slice(&bytes).map_err(|e| Error::option(format!("{path}: {e}")))?;
    Ok(config.get("currentContext").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string))
}

/// A named context's docker endpoint (and TLS files), from its meta.json.
async fn from_context<H: Host>(
    host: &H,
    config_dir: Option<&str>,
    name: &str,
    env: &BTreeMap<String, String>,
) -> Result<Endpoint> {
    let dir =
        config_dir.ok_or_else(|| Error::option(format!("docker context {name:?}: no docker config directory")))?;
    let dir = dir.trim_end_matches('/');
    let id = sha256(name.as_bytes()).trim_start_matches("sha256:").to_string();
    let meta_path = format!("{dir}/contexts/meta/{id}/meta.json");
    let bytes = read_small_file(host, &meta_path, 1 << 20)
        .await
        .map_err(|_| Error::option(format!("docker context {name:?} not found (no {meta_path})")))?;
    let meta: Value = serde_json::from_slice(&bytes).map_err(|e| Error::option(format!("{meta_path}: {e}")))?;
    let docker = &meta["Endpoints"]["docker"];
    let address = docker["Host"]
        .as_str()
        .ok_or_else(|| Error::option(format!("docker context {name:?}: {meta_path} names no docker endpoint")))?;
    let mut endpoint = parse(address, env, &format!("docker context {name:?}"))?;
    let tls_dir = format!("{dir}/contexts/tls/{id}/docker");
    if endpoint.scheme == "tcp" && host.source_stat(format!("{tls_dir}/ca.pem").as_bytes()).await.is_ok() {
        endpoint.scheme = "tls";
        endpoint.cert_dir = Some(tls_dir);
    }
    Ok(endpoint)
}

/// An address as DOCKER_HOST takes it; `what` names where it came from.
pub fn parse(address: &str, env: &BTreeMap<String, String>, what: &str) -> Result<Endpoint> {
    let bad = |why: &str| Error::option(format!("{what} {address:?}: {why}"));
    let (scheme, rest) = address.split_once("://").ok_or_else(|| bad("expected unix://, tcp:// or ssh://"))?;
    let shown = address.to_string();
    match scheme {
        "unix" if rest.starts_with('/') => {
            Ok(Endpoint { scheme: "unix", address: rest.to_string(), cert_dir: None, shown })
        }
        "unix" => Err(bad("a unix socket path must be absolute")),
        "tcp" | "http" | "https" => {
            let hostport = rest.trim_end_matches('/');
            if hostport.is_empty() || hostport.contains('/') {
                return Err(bad("expected tcp://HOST:PORT"));
            }
            let tls = scheme == "https" || env.get("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty());
            let hostport = if hostport.rsplit_once(':').is_some_and(|(_, p)| p.chars().all(|c| c.is_ascii_digit())) {
                hostport.to_string()
            } else {
                format!("{hostport}:{}", if tls { 2376 } else { 2375 })
            };
            let cert_dir = tls.then(|| {
                env.get("DOCKER_CERT_PATH")
                    .filter(|p| !p.is_empty())
                    .cloned()
                    .or_else(|| env.get("DOCKER_CONFIG").cloned())
                    .unwrap_or_default()
            });
            Ok(Endpoint { scheme: if tls { "tls" } else { "tcp" }, address: hostport, cert_dir, shown })
        }
        "ssh" if !rest.is_empty() => {
            Ok(Endpoint { scheme: "ssh", address: address.to_string(), cert_dir: None, shown })
        }
        _ => Err(bad("expected unix://, tcp:// or ssh:// (npipe:// and fd:// are not supported)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn addresses_parse_as_the_docker_cli_reads_them() {
        let none = env(&[]);
        assert_eq!(parse("unix:///run/d.sock", &none, "x").unwrap().address, "/run/d.sock");
        let tcp = parse("tcp://10.0.0.1", &none, "x").unwrap();
        assert_eq!((tcp.scheme, tcp.address.as_str()), ("tcp", "10.0.0.1:2375"));
        let tls = parse("tcp://h:1234", &env(&[("DOCKER_TLS_VERIFY", "1"), ("DOCKER_CERT_PATH", "/c")]), "x").unwrap();
        assert_eq!((tls.scheme, tls.address.as_str(), tls.cert_dir.as_deref()), ("tls", "h:1234", Some("/c")));
        assert_eq!(parse("ssh://me@box:2222", &none, "x").unwrap().scheme, "ssh");
        assert!(parse("npipe:////./pipe/docker_engine", &none, "DOCKER_HOST")
            .unwrap_err()
            .message
            .contains("DOCKER_HOST"));
        assert!(parse("/var/run/docker.sock", &none, "x").is_err());
    }
}
