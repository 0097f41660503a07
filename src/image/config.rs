//! The image config. BuildKit patches it as a `map[string]RawMessage`, so top-level keys come out
//! sorted (a BTreeMap) while nested objects keep their own order (and unknown fields survive).

use super::spec::History;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::timefmt::rfc3339;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Marks history entries the exporter added for layers (BuildKit uses the same comment).
pub const EXPORTER_COMMENT: &str = "buildkit.exporter.image.v0";

pub type ImageConfig = BTreeMap<String, Value>;

/// BuildKit's default config for an image without one: Env PATH (not on Windows), WorkingDir /.
pub fn default_config(os: &str) -> ImageConfig {
    let mut inner = Map::new();
    if os != "windows" {
        inner.insert("Env".into(), json!([DEFAULT_PATH]));
    }
    inner.insert("WorkingDir".into(), json!("/"));
    let mut config = ImageConfig::new();
    config.insert("config".into(), Value::Object(inner));
    config
}

/// Parse a user-supplied image config (`--config FILE`); `what` names it in errors.
pub fn parse_config(what: &str, bytes: &[u8]) -> Result<ImageConfig> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| Error::option(format!("{what}: invalid image config JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::option(format!("{what}: an image config must be a JSON object")));
    };
    if let Some(inner) = map.get("config") {
        if !inner.is_object() && !inner.is_null() {
            return Err(Error::option(format!("{what}: \"config\" must be an object")));
        }
    }
    Ok(map.into_iter().collect())
}

/// The platform a config file names, if it names one.
pub fn config_platform(what: &str, config: &ImageConfig) -> Result<Option<Platform>> {
    let field = |k: &str| config.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
    match (field("os"), field("architecture")) {
        (None, None) => Ok(None),
        (Some(os), Some(arch)) => {
            let id = match field("variant") {
                Some(v) => format!("{os}/{arch}/{v}"),
                None => format!("{os}/{arch}"),
            };
            Platform::parse(&id).map(Some).map_err(|e| Error::option(format!("{what}: {}", e.message)))
        }
        _ => {
            Err(Error::option(format!("{what}: invalid image config: os and architecture must be specified together")))
        }
    }
}

/// What a base image contributed: the bottom `layers` of rootfs, and its history, whose leading
/// entries keep their times under SOURCE_DATE_EPOCH (BuildKit, issue #4614).
#[derive(Debug, Clone, Copy, Default)]
pub struct FromBase<'a> {
    pub layers: usize,
    pub history: &'a [Value],
}

/// Complete a config for export: platform fields, `rootfs.diff_ids`, one history entry per new
/// layer, and `created`. With an epoch, existing history times later than it are clamped (§4.2),
/// except the leading entries equal to the base image's.
pub fn finish(
    mut config: ImageConfig,
    platform: &Platform,
    diff_ids: &[String],
    base: FromBase<'_>,
    created: i64,
    epoch: Option<i64>,
) -> ImageConfig {
    config.insert("architecture".into(), json!(platform.architecture));
    config.insert("os".into(), json!(platform.os));
    match &platform.variant {
        Some(variant) => config.insert("variant".into(), json!(variant)),
        None => config.remove("variant"),
    };
    let created = rfc3339(created);
    let mut history: Vec<Value> = match config.remove("history") {
        Some(Value::Array(entries)) => entries,
        _ => Vec::new(),
    };
    if let Some(epoch) = epoch {
        let kept = history.iter().zip(base.history).take_while(|(ours, theirs)| ours == theirs).count();
        for entry in history.iter_mut().skip(kept).filter_map(Value::as_object_mut) {
            entry.insert("created".into(), json!(clamp_time(entry.get("created"), epoch)));
        }
    }
    history.extend(diff_ids.iter().skip(base.layers).map(|_| {
        let entry =
            History { created: created.clone(), created_by: "outport export".into(), comment: EXPORTER_COMMENT.into() };
        serde_json::to_value(entry).expect("history is plain data")
    }));
    config.insert("history".into(), Value::Array(history));
    // rootfs is replaced wholesale: the new image's layers are what the manifest lists.
    config.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
    config.insert("created".into(), json!(created));
    config
}

/// An RFC 3339 time clamped to the epoch: missing, unreadable or later → the epoch.
fn clamp_time(value: Option<&Value>, epoch: i64) -> String {
    let epoch_text = rfc3339(epoch);
    match value.and_then(Value::as_str) {
        // Same-format UTC strings compare correctly as text; anything else is replaced.
        Some(t) if t.ends_with('Z') && t.len() >= 20 && t[..19] <= epoch_text[..19] => t.to_string(),
        _ => epoch_text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gojson;

    #[test]
    fn matches_buildkit_shape() {
        let platform = Platform::parse("linux/arm64").unwrap();
        let config = finish(
            default_config(&platform.os),
            &platform,
            &["sha256:u".to_string()],
            FromBase::default(),
            1_445_412_480,
            None,
        );
        assert_eq!(
            String::from_utf8(gojson::compact(&config)).unwrap(),
            concat!(
                r#"{"architecture":"arm64","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"},"#,
                r#""created":"2015-10-21T07:28:00Z","history":[{"created":"2015-10-21T07:28:00Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}],"#,
                r#""os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:u"]}}"#
            )
        );
    }

    #[test]
    fn keeps_unknown_fields_and_nested_order_clamps_history() {
        let file = br#"{"os":"linux","architecture":"amd64","docker_version":"20.10","config":{"WorkingDir":"/app","Env":["A=1"]},
            "history":[{"created":"2010-01-01T00:00:00Z","created_by":"old"},{"created":"2030-01-01T00:00:00Z","created_by":"new"}]}"#;
        let config = parse_config("c.json", file).unwrap();
        let platform = config_platform("c.json", &config).unwrap().unwrap();
        let done =
            finish(config, &platform, &["sha256:u".into()], FromBase::default(), 1_900_000_000, Some(1_445_412_480));
        let text = String::from_utf8(gojson::compact(&done)).unwrap();
        assert!(text.contains(r#""config":{"WorkingDir":"/app","Env":["A=1"]}"#), "{text}");
        assert!(text.contains(r#""docker_version":"20.10""#));
        assert!(text.contains(r#"{"created":"2010-01-01T00:00:00Z","created_by":"old"},{"created":"2015-10-21T07:28:00Z","created_by":"new"}"#), "{text}");
    }

    #[test]
    fn base_history_keeps_its_times_and_gets_one_entry_per_new_layer() {
        let file = br#"{"os":"linux","architecture":"amd64","config":{},
            "history":[{"created":"2030-01-01T00:00:00Z","created_by":"base"},{"created":"2031-01-01T00:00:00Z","created_by":"base 2","empty_layer":true}]}"#;
        let config = parse_config("c.json", file).unwrap();
        let history: Vec<Value> = config["history"].as_array().unwrap().clone();
        let platform = config_platform("c.json", &config).unwrap().unwrap();
        let diff_ids = ["sha256:b".to_string(), "sha256:n".to_string()];
        let base = FromBase { layers: 1, history: &history };
        let done = finish(config, &platform, &diff_ids, base, 1_900_000_000, Some(1_445_412_480));
        let text = String::from_utf8(gojson::compact(&done)).unwrap();
        assert!(text.contains(r#""history":[{"created":"2030-01-01T00:00:00Z","created_by":"base"},{"created":"2031-01-01T00:00:00Z","created_by":"base 2","empty_layer":true},{"created":"2030-03-17T17:46:40Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}]"#), "{text}");
        assert!(text.contains(r#""diff_ids":["sha256:b","sha256:n"]"#), "{text}");
        // Without the base, the same entries are clamped.
        let config = parse_config("c.json", file).unwrap();
        let done = finish(config, &platform, &diff_ids, FromBase::default(), 1_900_000_000, Some(1_445_412_480));
        assert!(!String::from_utf8(gojson::compact(&done)).unwrap().contains("2030-01-01"));
    }

    #[test]
    fn rejects_bad_configs() {
        assert!(parse_config("c.json", b"[1]")
            .unwrap_err()
            .message
            .contains("c.json: an image config must be a JSON object"));
        assert!(parse_config("c.json", b"{").unwrap_err().message.starts_with("c.json: invalid image config JSON"));
        let half = parse_config("c.json", br#"{"os":"linux"}"#).unwrap();
        assert!(config_platform("c.json", &half)
            .unwrap_err()
            .message
            .contains("os and architecture must be specified together"));
    }
}
