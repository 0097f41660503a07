//! Registry credentials, found where docker keeps them: `--creds` / `OUTPORT_REGISTRY_USER` +
//! `OUTPORT_REGISTRY_TOKEN` for the registry being pushed to, else docker's config.json
//! (`$DOCKER_CONFIG/config.json` or `~/.docker/config.json`): `credHelpers`, `credsStore`, `auths`.
//! Secrets never appear in an error message.

use crate::errors::error;
use crate::runtime::outport::core::types::Credential;
use crate::runtime::{CoreError, ErrorKind};
use base64::Engine;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// docker.io's key in config.json and for credential helpers: the v1 index URL, for history's sake.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

pub struct Credentials {
    /// From `--creds` or the environment; used only for the registry an image is pushed to, so that a
    /// CI token for ghcr.io is never offered to docker.io when a base image is pulled from there.
    for_push: Option<Credential>,
    /// From `--base-creds`: used only for pulls (the base image), never for a push.
    for_pull: Option<Credential>,
    docker_config: Option<PathBuf>,
}

impl Credentials {
    /// `creds`: the `--creds USER:SECRET` flag, if given (else the environment is read).
    pub fn new(creds: Option<&str>, base_creds: Option<&str>) -> Result<Credentials, String> {
        let for_push = match creds {
            Some(pair) => {
                Some(parse_pair(pair).ok_or("--creds: expected USER:SECRET (e.g. --creds octocat:$GITHUB_TOKEN)")?)
            }
            None => from_env()?,
        };
        let for_pull = match base_creds {
            Some(pair) => {
                Some(parse_pair(pair).ok_or("--base-creds: expected USER:SECRET (e.g. --base-creds me:$TOKEN)")?)
            }
            None => None,
        };
        Ok(Credentials { for_push, for_pull, docker_config: docker_config_path() })
    }

    pub fn lookup(&self, registry: &str, for_push: bool) -> Result<Option<Credential>, CoreError> {
        match (for_push, &self.for_push, &self.for_pull) {
            (true, Some(credential), _) | (false, _, Some(credential)) => return Ok(Some(credential.clone())),
            _ => {}
        }
        let Some(path) = &self.docker_config else { return Ok(None) };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(auth_error(format!("{}: {e}", path.display()))),
        };
        let config: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| auth_error(format!("{}: not valid JSON ({e})", path.display())))?;
        DockerConfig { path, config: &config }.lookup(registry)
    }
}

struct DockerConfig<'a> {
    path: &'a PathBuf,
    config: &'a serde_json::Value,
}

impl DockerConfig<'_> {
    fn lookup(&self, registry: &str) -> Result<Option<Credential>, CoreError> {
        let key = if registry == "docker.io" { DOCKER_HUB_KEY } else { registry };
        let helper = self.config["credHelpers"]
            .as_object()
            .and_then(|helpers| helpers.iter().find(|(k, _)| normalize(k) == normalize(key)))
            .map(|(_, name)| name)
            .or_else(|| self.config.get("credsStore"))
            .and_then(|name| name.as_str())
            .filter(|name| !name.is_empty());
        match helper {
            Some(helper) => run_helper(helper, key),
            None => self.auths_entry(key),
        }
    }

    /// `auths.<host>`: `auth` (base64 of USER:SECRET), or `username` + `password`, or `identitytoken`.
    fn auths_entry(&self, key: &str) -> Result<Option<Credential>, CoreError> {
        let Some(auths) = self.config["auths"].as_object() else { return Ok(None) };
        let Some((_, entry)) = auths.iter().find(|(k, _)| normalize(k) == normalize(key)) else { return Ok(None) };
        let field = |name: &str| entry[name].as_str().unwrap_or_default().to_string();
        let (mut username, mut password) = (field("username"), field("password"));
        let auth = field("auth");
        if !auth.is_empty() {
            let bad = || {
                auth_error(format!("{}: the `auth` entry for {key} is not base64 of USER:SECRET", self.path.display()))
            };
            let decoded = base64::engine::general_purpose::STANDARD.decode(auth.trim()).map_err(|_| bad())?;
            let pair = parse_pair(std::str::from_utf8(&decoded).map_err(|_| bad())?).ok_or_else(bad)?;
            (username, password) = (pair.username, pair.password);
        }
        let identity_token = field("identitytoken");
        if username.is_empty() && password.is_empty() && identity_token.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credential { username, password, identity_token }))
    }
}

/// `docker-credential-NAME get`, the server URL on stdin, `{"Username", "Secret"}` on stdout.
fn run_helper(name: &str, key: &str) -> Result<Option<Credential>, CoreError> {
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| auth_error(format!("credential helper {program}: {e}")))?;
    // A helper that exits without reading stdin makes this write fail; its exit status tells why.
    let _ = child.stdin.take().expect("stdin is piped").write_all(key.as_bytes());
    let output = child.wait_with_output().map_err(|e| auth_error(format!("credential helper {program}: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // Helpers say "credentials not found in native keychain" when they have nothing for this registry.
        if stdout.contains("credentials not found") {
            return Ok(None);
        }
        return Err(auth_error(format!("credential helper {program} failed for {key} ({})", output.status)));
    }
    let reply: serde_json::Value = serde_json::from_str(&stdout)
        .map_err(|_| auth_error(format!("credential helper {program} answered something other than JSON for {key}")))?;
    let username = reply["Username"].as_str().unwrap_or_default().to_string();
    let secret = reply["Secret"].as_str().unwrap_or_default().to_string();
    Ok(Some(if username == "<token>" {
        Credential { username: String::new(), password: String::new(), identity_token: secret }
    } else {
        Credential { username, password: secret, identity_token: String::new() }
    }))
}

fn from_env() -> Result<Option<Credential>, String> {
    let user = std::env::var("OUTPORT_REGISTRY_USER").ok().filter(|v| !v.is_empty());
    let token = std::env::var("OUTPORT_REGISTRY_TOKEN").ok().filter(|v| !v.is_empty());
    match (user, token) {
        (Some(username), Some(password)) => Ok(Some(Credential { username, password, identity_token: String::new() })),
        (None, None) => Ok(None),
        (Some(_), None) => Err("OUTPORT_REGISTRY_USER is set but OUTPORT_REGISTRY_TOKEN is not".into()),
        (None, Some(_)) => Err("OUTPORT_REGISTRY_TOKEN is set but OUTPORT_REGISTRY_USER is not".into()),
    }
}

fn parse_pair(pair: &str) -> Option<Credential> {
    let (username, password) = pair.split_once(':')?;
    (!username.is_empty()).then(|| Credential {
        username: username.into(),
        password: password.into(),
        identity_token: String::new(),
    })
}

fn docker_config_path() -> Option<PathBuf> {
    match std::env::var_os("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json")),
    }
}

/// config.json keys come as `host`, `https://host` or `https://host/v1/`: compare hosts only.
fn normalize(key: &str) -> &str {
    let key = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    if host == "index.docker.io" || host == "registry-1.docker.io" {
        "docker.io"
    } else {
        host
    }
}

fn auth_error(message: String) -> CoreError {
    error(ErrorKind::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(config: serde_json::Value, registry: &str) -> Option<Credential> {
        DockerConfig { path: &PathBuf::from("config.json"), config: &config }.lookup(registry).unwrap()
    }

    #[test]
    fn auths_entries_match_by_host_whatever_the_key_form() {
        let auth = base64::engine::general_purpose::STANDARD.encode("me:s3cret:with-colon");
        let config = serde_json::json!({"auths": {
            "https://index.docker.io/v1/": {"auth": auth},
            "ghcr.io": {"username": "u", "password": "p"},
            "https://reg.example:5000": {"identitytoken": "refresh"},
        }});
        let hub = lookup(config.clone(), "docker.io").unwrap();
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("me", "s3cret:with-colon"));
        assert_eq!(lookup(config.clone(), "ghcr.io").unwrap().password, "p");
        assert_eq!(lookup(config.clone(), "reg.example:5000").unwrap().identity_token, "refresh");
        assert!(lookup(config, "quay.io").is_none());
    }

    #[test]
    fn a_bad_auth_entry_is_an_error_without_the_secret() {
        let config = serde_json::json!({"auths": {"ghcr.io": {"auth": "bm90LWEtcGFpcg=="}}}); // "not-a-pair"
        let e = DockerConfig { path: &PathBuf::from("c.json"), config: &config }.lookup("ghcr.io").unwrap_err();
        assert!(e.message.contains("ghcr.io") && !e.message.contains("not-a-pair"), "{}", e.message);
    }

    #[test]
    fn creds_flag_needs_a_user_and_a_colon() {
        assert!(parse_pair("user:tok:en").is_some_and(|c| c.password == "tok:en"));
        assert!(parse_pair("user").is_none());
        assert!(parse_pair(":token").is_none());
    }
}
