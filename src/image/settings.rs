//! Config settings from flags (`--label`, `--env`, `--entrypoint`, `--cmd`, `--workdir`, `--user`,
//! `--expose`, `--volume`, `--stop-signal`, `--healthcheck-*`), applied on top of the base or
//! `--config` file, with Docker's key names.

use super::config::{docker_config_in_go_order, ImageConfig};
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
    /// Absolute container paths declared as volumes.
    #[serde(default)]
    pub volumes: Vec<String>,
    /// `SIGTERM`-style name or a signal number.
    #[serde(default)]
    pub stop_signal: Option<String>,
    #[serde(default)]
    pub healthcheck: HealthcheckSettings,
}

/// `--healthcheck-*`: a Dockerfile HEALTHCHECK. Durations in Go's syntax (`30s`, `1m30s`, `500ms`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthcheckSettings {
    /// JSON array (exec form, CMD), a string (shell form, CMD-SHELL), or `NONE` (disable the base's).
    #[serde(default)]
    pub cmd: Option<String>,
    #[serde(default)]
    pub interval: Option<String>,
    #[serde(default)]
    pub timeout: Option<String>,
    #[serde(default)]
    pub start_period: Option<String>,
    #[serde(default)]
    pub start_interval: Option<String>,
    #[serde(default)]
    pub retries: Option<u32>,
}

/// GHCR shows these labels and cuts them at these lengths.
const GHCR_LABEL_LIMITS: [(&str, usize); 2] =
    [("org.opencontainers.image.description", 512), ("org.opencontainers.image.licenses", 256)];

impl ConfigSettings {
    /// Whether any flag changes the config (`--config` alone does not).
    fn changes_config(&self) -> bool {
        !(self.labels.is_empty()
            && self.env.is_empty()
            && self.entrypoint.is_none()
            && self.cmd.is_none()
            && self.workdir.is_none()
            && self.user.is_none()
            && self.expose.is_empty()
            && self.volumes.is_empty()
            && self.stop_signal.is_none()
            && self.healthcheck.is_empty())
    }

    /// Apply the flags to `config["config"]`; warnings go to `warnings`. A config a flag changes is
    /// written as Go marshals docker's `DockerOCIImageConfig` (what a Dockerfile frontend hands
    /// BuildKit); without flags it keeps the bytes it was read with.
    pub fn apply(&self, config: &mut ImageConfig, warnings: &mut Vec<String>) -> Result<()> {
        if !self.changes_config() {
            return Ok(());
        }
        let mut inner = match config.get("config") {
            Some(Value::Object(inner)) => docker_config_in_go_order(inner),
            _ => Map::new(),
        };
        self.apply_flags(&mut inner, warnings)?;
        config.insert("config".into(), Value::Object(docker_config_in_go_order(&inner)));
        Ok(())
    }

    fn apply_flags(&self, inner: &mut Map<String, Value>, warnings: &mut Vec<String>) -> Result<()> {
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
        for volume in &self.volumes {
            if !volume.starts_with('/') {
                return Err(Error::option(format!("--volume {volume:?} must be an absolute path")));
            }
            object_field(inner, "Volumes").insert(volume.clone(), json!({}));
        }
        if let Some(signal) = &self.stop_signal {
            inner.insert("StopSignal".into(), json!(stop_signal(signal)?));
        }
        self.healthcheck.apply(inner)
    }
}

impl HealthcheckSettings {
    fn is_empty(&self) -> bool {
        self.cmd.is_none()
            && self.interval.is_none()
            && self.timeout.is_none()
            && self.start_period.is_none()
            && self.start_interval.is_none()
            && self.retries.is_none()
    }

    /// Docker's `Healthcheck`: Test, then the durations in nanoseconds and Retries, zero ones left out.
    /// Options without `--healthcheck-cmd` adjust the base image's healthcheck.
    fn apply(&self, inner: &mut Map<String, Value>) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let mut health = inner.get("Healthcheck").and_then(Value::as_object).cloned().unwrap_or_default();
        if let Some(cmd) = &self.cmd {
            let test = match cmd.trim() {
                "NONE" => json!(["NONE"]),
                text if text.starts_with('[') => {
                    let argv = command("--healthcheck-cmd", text)?;
                    let argv = argv.as_array().expect("exec form is an array");
                    // Docker's own spelling (["CMD", …], ["CMD-SHELL", "…"]) is kept as it is.
                    if matches!(argv.first().and_then(Value::as_str), Some("CMD" | "CMD-SHELL" | "NONE")) {
                        Value::Array(argv.clone())
                    } else {
                        Value::Array([json!("CMD")].into_iter().chain(argv.iter().cloned()).collect())
                    }
                }
                text => json!(["CMD-SHELL", text]),
            };
            health = Map::new();
            health.insert("Test".into(), test);
        }
        if !health.contains_key("Test") {
            return Err(Error::option(
                "--healthcheck-interval/timeout/start-period/start-interval/retries need --healthcheck-cmd (the base image has no healthcheck)",
            ));
        }
        for (flag, key, value) in [
            ("--healthcheck-interval", "Interval", &self.interval),
            ("--healthcheck-timeout", "Timeout", &self.timeout),
            ("--healthcheck-start-period", "StartPeriod", &self.start_period),
            ("--healthcheck-start-interval", "StartInterval", &self.start_interval),
        ] {
            if let Some(text) = value {
                health.insert(key.into(), json!(duration_nanos(flag, text)?));
            }
        }
        if let Some(retries) = self.retries {
            health.insert("Retries".into(), json!(retries));
        }
        // Go's field order, whatever order the base or the flags gave.
        let mut ordered = Map::new();
        for key in ["Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"] {
            if let Some(value) = health.remove(key).filter(|v| v.as_u64() != Some(0)) {
                ordered.insert(key.into(), value);
            }
        }
        ordered.extend(health);
        inner.insert("Healthcheck".into(), Value::Object(ordered));
        Ok(())
    }
}

/// A Go duration (`1h2m3.5s`, `300ms`, `10us`) in nanoseconds; at least 1ms, as Docker requires.
fn duration_nanos(flag: &str, text: &str) -> Result<u64> {
    let bad =
        || Error::option(format!("{flag} {text:?}: expected a duration such as 30s, 1m30s or 500ms (at least 1ms)"));
    let mut rest = text.trim();
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(bad)?;
        let number: f64 = rest[..number_len].parse().map_err(|_| bad())?;
        rest = &rest[number_len..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(bad()),
        };
        total += number * scale;
        rest = &rest[unit_len..];
    }
    if !(1e6..=u64::MAX as f64).contains(&total) {
        return Err(bad());
    }
    Ok(total.round() as u64)
}

/// `SIGTERM`, `SIGRTMIN+3` or a number, as Docker's STOPSIGNAL takes it.
fn stop_signal(signal: &str) -> Result<String> {
    let named = signal.strip_prefix("SIG").is_some_and(|n| {
        !n.is_empty() && n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '+' || c == '-')
    });
    let numbered = signal.parse::<u32>().is_ok_and(|n| (1..=64).contains(&n));
    if named || numbered {
        Ok(signal.to_string())
    } else {
        Err(Error::option(format!("--stop-signal {signal:?}: expected a signal name such as SIGTERM, or a number")))
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
    fn healthcheck_volumes_and_stop_signal_as_docker_writes_them() {
        let healthcheck = HealthcheckSettings {
            cmd: Some(r#"["curl","-f","http://localhost/"]"#.into()),
            interval: Some("1m30s".into()),
            timeout: Some("500ms".into()),
            start_period: Some("0.5s".into()),
            retries: Some(3),
            ..Default::default()
        };
        let settings = ConfigSettings {
            healthcheck,
            volumes: vec!["/data".into()],
            stop_signal: Some("SIGQUIT".into()),
            ..Default::default()
        };
        let (inner, _) = apply(settings).unwrap();
        assert_eq!(
            serde_json::to_string(&inner["Healthcheck"]).unwrap(),
            r#"{"Test":["CMD","curl","-f","http://localhost/"],"Interval":90000000000,"Timeout":500000000,"StartPeriod":500000000,"Retries":3}"#
        );
        assert_eq!(inner["Volumes"], json!({"/data": {}}));
        assert_eq!(inner["StopSignal"], "SIGQUIT");
        let spelled = HealthcheckSettings { cmd: Some(r#"["CMD","true"]"#.into()), ..Default::default() };
        let mut inner = Map::new();
        spelled.apply(&mut inner).unwrap();
        assert_eq!(inner["Healthcheck"], json!({"Test": ["CMD", "true"]}));
        let shell = HealthcheckSettings { cmd: Some("pg_isready".into()), ..Default::default() };
        let (inner, _) = apply(ConfigSettings { healthcheck: shell, ..Default::default() }).unwrap();
        assert_eq!(inner["Healthcheck"], json!({"Test": ["CMD-SHELL", "pg_isready"]}));
    }

    #[test]
    fn healthcheck_options_adjust_a_base_healthcheck_or_need_a_command() {
        let mut config = default_config("linux");
        config.insert("config".into(), json!({"Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 5}}));
        let settings = ConfigSettings {
            healthcheck: HealthcheckSettings { timeout: Some("2s".into()), ..Default::default() },
            ..Default::default()
        };
        settings.apply(&mut config, &mut Vec::new()).unwrap();
        assert_eq!(
            config["config"]["Healthcheck"],
            json!({"Test": ["CMD-SHELL", "true"], "Timeout": 2000000000u64, "Retries": 5})
        );
        assert!(apply(settings).unwrap_err().message.contains("need --healthcheck-cmd"));
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
            (ConfigSettings { volumes: vec!["data".into()], ..Default::default() }, "--volume \"data\""),
            (ConfigSettings { stop_signal: Some("TERM".into()), ..Default::default() }, "--stop-signal"),
            (
                ConfigSettings {
                    healthcheck: HealthcheckSettings {
                        cmd: Some("true".into()),
                        interval: Some("10".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "--healthcheck-interval \"10\"",
            ),
            (
                ConfigSettings {
                    healthcheck: HealthcheckSettings {
                        cmd: Some("true".into()),
                        timeout: Some("10us".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                "at least 1ms",
            ),
        ] {
            assert!(apply(settings).unwrap_err().message.contains(needle), "{needle}");
        }
    }

    /// Expected bytes pinned from Go 1.19 marshalling docker's DockerOCIImageConfig
    /// (tests/go_fidelity.rs checks every flag combination against Go itself).
    #[test]
    fn flags_give_the_bytes_go_marshals() {
        let (inner, _) = apply(ConfigSettings {
            env: vec!["Z=1".into(), "A=<2>".into()],
            labels: vec!["z=1".into(), "a=2".into()],
            expose: vec!["8080".into(), "53/udp".into(), "80".into()],
            volumes: vec!["/v".into(), "/a".into()],
            user: Some("1000".into()),
            workdir: Some("/app".into()),
            entrypoint: Some(r#"["node"]"#.into()),
            cmd: Some("npm start".into()),
            stop_signal: Some("SIGQUIT".into()),
            healthcheck: HealthcheckSettings {
                cmd: Some(r#"["curl"]"#.into()),
                retries: Some(3),
                start_interval: Some("1s".into()),
                interval: Some("90s".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            String::from_utf8(crate::gojson::compact(&inner)).unwrap(),
            concat!(
                r#"{"User":"1000","ExposedPorts":{"53/udp":{},"80/tcp":{},"8080/tcp":{}},"#,
                r#""Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","Z=1","A=\u003c2\u003e"],"#,
                r#""Entrypoint":["node"],"Cmd":["/bin/sh","-c","npm start"],"Volumes":{"/a":{},"/v":{}},"WorkingDir":"/app","#,
                r#""Labels":{"a":"2","z":"1"},"StopSignal":"SIGQUIT","#,
                r#""Healthcheck":{"Test":["CMD","curl"],"Interval":90000000000,"StartInterval":1000000000,"Retries":3}}"#
            )
        );
    }

    #[test]
    fn a_config_file_under_flags_is_decoded_as_go_decodes_it() {
        let file = br#"{"config":{"WorkingDir":"/w","Labels":{"y":"1","b":"\u00e9"},"Env":["K=v"],"Hostname":"x","ExposedPorts":{"9/tcp":{},"10/tcp":{}},"Shell":["/bin/bash","-c"],"OnBuild":["RUN x"],"ArgsEscaped":true,"Healthcheck":{"Retries":2,"Test":["CMD","true"],"Interval":5000000000}}}"#;
        let mut config = crate::image::config::parse_config("--config c.json", file).unwrap();
        // No flag: the file's bytes stay.
        ConfigSettings::default().apply(&mut config, &mut Vec::new()).unwrap();
        assert_eq!(config.raw("config"), Some(&file[10..file.len() - 1]).map(|b| std::str::from_utf8(b).unwrap()));
        // A flag: Go's struct order, unknown fields (Hostname) dropped, maps sorted, escapes decoded.
        let settings = ConfigSettings { labels: vec!["a=0".into()], ..Default::default() };
        settings.apply(&mut config, &mut Vec::new()).unwrap();
        assert_eq!(
            String::from_utf8(crate::gojson::compact(&config)).unwrap(),
            concat!(
                r#"{"config":{"ExposedPorts":{"10/tcp":{},"9/tcp":{}},"Env":["K=v"],"WorkingDir":"/w","Labels":{"a":"0","b":"é","y":"1"},"#,
                r#""ArgsEscaped":true,"Healthcheck":{"Test":["CMD","true"],"Interval":5000000000,"Retries":2},"OnBuild":["RUN x"],"Shell":["/bin/bash","-c"]}}"#
            )
        );
    }
}
