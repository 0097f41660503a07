//! Config settings from flags (`--label`, `--env`, `--entrypoint`, `--cmd`, `--workdir`, `--user`,
//! `--expose`), applied on top of the base or `--config` file, with Docker's key names.

use super::config::ImageConfig;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigSettings {
    /// `--config FILE`: an image config JSON (host path) used as the starting point.
    #[serde(default)]
    pub config_file: Option<String>,
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default)]
    pub env: Vec<String>,
    /// JSON array (exec form) or a string (shell form, run by /bin/sh -c), as in a Dockerfile.
    #[serde(default)]
    pub entrypoint: Option<String>,
    #[serde(default)]
    pub cmd: Option<String>,
    #[serde(default)]
    pub workdir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// `PORT[/PROTO]`, PROTO one of tcp (default), udp, sctp.
    #[serde(default)]
    pub expose: Vec<String>,
}

/// GHCR shows these labels and cuts them at these lengths.
const GHCR_LABEL_LIMITS: [(&str, usize); 2] =
    [("org.opencontainers.image.description", 512), ("org.opencontainers.image.licenses", 256)];

impl ConfigSettings {
    /// Apply the flags to `config["config"]`; warnings go to `warnings`.
    pub fn apply(&self, config: &mut ImageConfig, warnings: &mut Vec<String>) -> Result<()> {
        let inner = config.entry("config".into()).or_insert_with(|| Value::Object(Map::new()));
        if inner.is_null() {
            *inner = Value::Object(Map::new());
        }
        let inner = inner.as_object_mut().expect("checked by parse_config");
        for pair in &self.env {
            let (key, _) = split_pair("--env", pair)?;
            let env = array_field(inner, "Env");
            env.retain(|e| e.as_str().and_then(|s| s.split_once('=')).map(|(k, _)| k) != Some(key));
            env.push(json!(pair));
        }
        for pair in &self.labels {
            let (key, value) = split_pair("--label", pair)?;
            for (label, limit) in GHCR_LABEL_LIMITS {
                if key == label && value.chars().count() > limit {
                    warnings.push(format!(
                        "label {label} has {} characters; GHCR shows at most {limit}",
                        value.chars().count()
                    ));
                }
            }
            object_field(inner, "Labels").insert(key.to_string(), json!(value));
        }
        for port in &self.expose {
            object_field(inner, "ExposedPorts").insert(parse_port(port)?, json!({}));
        }
        if let Some(user) = &self.user {
            inner.insert("User".into(), json!(user));
        }
        if let Some(dir) = &self.workdir {
            if !dir.starts_with('/') {
                return Err(Error::option(format!("--workdir {dir:?} must be an absolute path")));
            }
            inner.insert("WorkingDir".into(), json!(dir));
        }
        if let Some(entrypoint) = &self.entrypoint {
            inner.insert("Entrypoint".into(), command("--entrypoint", entrypoint)?);
            // As with a Dockerfile ENTRYPOINT, a new entrypoint drops the inherited Cmd.
            if self.cmd.is_none() {
                inner.remove("Cmd");
            }
        }
        if let Some(cmd) = &self.cmd {
            inner.insert("Cmd".into(), command("--cmd", cmd)?);
        }
        Ok(())
    }
}

fn split_pair<'a>(flag: &str, pair: &'a str) -> Result<(&'a str, &'a str)> {
    match pair.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k, v)),
        _ => Err(Error::option(format!("{flag} {pair:?}: expected KEY=VALUE"))),
    }
}

fn array_field<'a>(inner: &'a mut Map<String, Value>, key: &str) -> &'a mut Vec<Value> {
    let slot = inner.entry(key).or_insert_with(|| json!([]));
    if !slot.is_array() {
        *slot = json!([]);
    }
    slot.as_array_mut().expect("just made an array")
}

fn object_field<'a>(inner: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    let slot = inner.entry(key).or_insert_with(|| json!({}));
    if !slot.is_object() {
        *slot = json!({});
    }
    slot.as_object_mut().expect("just made an object")
}

fn parse_port(spec: &str) -> Result<String> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let valid_port = port.parse::<u16>().is_ok_and(|p| p > 0);
    let proto = proto.to_ascii_lowercase();
    if !valid_port || !["tcp", "udp", "sctp"].contains(&proto.as_str()) {
        return Err(Error::option(format!("--expose {spec:?}: expected PORT[/tcp|udp|sctp] with PORT 1-65535")));
    }
    Ok(format!("{port}/{proto}"))
}

/// Exec form (a JSON array of strings) or shell form (`/bin/sh -c "…"`), as a Dockerfile reads them.
fn command(flag: &str, text: &str) -> Result<Value> {
    if text.trim_start().starts_with('[') {
        let parsed: Vec<String> = serde_json::from_str(text)
            .map_err(|e| Error::option(format!("{flag} {text:?}: not a JSON array of strings: {e}")))?;
        return Ok(json!(parsed));
    }
    Ok(json!(["/bin/sh", "-c", text]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::config::default_config;

    fn apply(settings: ConfigSettings) -> Result<(Value, Vec<String>)> {
        let mut config = default_config("linux");
        let mut warnings = Vec::new();
        settings.apply(&mut config, &mut warnings)?;
        Ok((config["config"].clone(), warnings))
    }

    #[test]
    fn flags_set_docker_fields() {
        let (inner, warnings) = apply(ConfigSettings {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            labels: vec!["org.opencontainers.image.description=".to_string() + &"d".repeat(600)],
            expose: vec!["80".into(), "53/UDP".into()],
            entrypoint: Some(r#"["node","server.js"]"#.into()),
            workdir: Some("/app".into()),
            user: Some("1000:1000".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(inner["Env"], json!(["PATH=/bin", "A=1"]));
        assert_eq!(inner["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
        assert_eq!(inner["Entrypoint"], json!(["node", "server.js"]));
        assert_eq!((inner["WorkingDir"].as_str(), inner["User"].as_str()), (Some("/app"), Some("1000:1000")));
        assert!(warnings[0].contains("GHCR shows at most 512"));
        let (inner, _) = apply(ConfigSettings { cmd: Some("npm start".into()), ..Default::default() }).unwrap();
        assert_eq!(inner["Cmd"], json!(["/bin/sh", "-c", "npm start"]));
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (settings, needle) in [
            (ConfigSettings { env: vec!["NOVALUE".into()], ..Default::default() }, "--env \"NOVALUE\""),
            (ConfigSettings { labels: vec!["=x".into()], ..Default::default() }, "--label"),
            (ConfigSettings { expose: vec!["70000".into()], ..Default::default() }, "--expose \"70000\""),
            (ConfigSettings { expose: vec!["80/icmp".into()], ..Default::default() }, "--expose"),
            (ConfigSettings { cmd: Some("[\"a\",1]".into()), ..Default::default() }, "--cmd"),
            (ConfigSettings { workdir: Some("app".into()), ..Default::default() }, "--workdir"),
        ] {
            assert!(apply(settings).unwrap_err().message.contains(needle), "{needle}");
        }
    }
}
