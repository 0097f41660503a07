//! Registry credentials: the ones the user gave this run (`--creds` / `OUTPORT_REGISTRY_USER` +
//! `OUTPORT_REGISTRY_TOKEN` for the registry being pushed to, `--base-creds` for pulls), docker's
//! config.json where the environment puts it (`$DOCKER_CONFIG/config.json` or
//! `~/.docker/config.json`), read but not parsed, and credential helpers run. Which credential a
//! registry gets, and what config.json and a helper's reply mean, is the core's business
//! (src/registry/credentials.rs). Secrets never appear in an error message.

use crate::bindings::outport::core::types::{Credential, DockerConfigFile, HelperReply};
use crate::bindings::{CoreError, ErrorKind};
use crate::errors::error;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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

    /// The credential given for this run: `--creds` (or the environment) only for the registry
    /// pushed to, so that a CI token for ghcr.io is never offered to docker.io when a base image is
    /// pulled from there; `--base-creds` only for pulls.
    pub fn given(&self, for_push: bool) -> Option<Credential> {
        if for_push {
            self.for_push.clone()
        } else {
            self.for_pull.clone()
        }
    }

    /// config.json's path and text; None when there is no such file (or no home to look in).
    pub fn docker_config(&self) -> Result<Option<DockerConfigFile>, CoreError> {
        let Some(path) = &self.docker_config else { return Ok(None) };
        match std::fs::read_to_string(path) {
            Ok(text) => Ok(Some(DockerConfigFile { path: path.display().to_string(), text })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(auth_error(format!("{}: {e}", path.display()))),
        }
    }
}

/// `docker-credential-NAME get`, the server URL on stdin; its exit status and stdout as they are.
pub fn run_helper(name: &str, server: &str) -> Result<HelperReply, CoreError> {
    let mut child = Command::new(format!("docker-credential-{name}"))
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| auth_error(e.to_string()))?;
    // A helper that exits without reading stdin makes this write fail; its exit status tells why.
    let _ = child.stdin.take().expect("stdin is piped").write_all(server.as_bytes());
    let output = child.wait_with_output().map_err(|e| auth_error(e.to_string()))?;
    Ok(HelperReply {
        success: output.status.success(),
        status: output.status.to_string(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
    })
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

fn auth_error(message: String) -> CoreError {
    error(ErrorKind::Auth, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_flag_needs_a_user_and_a_colon() {
        assert!(parse_pair("user:tok:en").is_some_and(|c| c.password == "tok:en"));
        assert!(parse_pair("user").is_none());
        assert!(parse_pair(":token").is_none());
    }
}
