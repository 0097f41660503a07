//! The image config. BuildKit patches it as a `map[string]RawMessage`, so top-level keys come out
//! sorted (a BTreeMap) while nested objects keep their own order.

use super::spec::History;
use crate::platform::Platform;
use crate::timefmt::rfc3339;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Marks history entries the exporter added for layers (BuildKit uses the same comment).
pub const EXPORTER_COMMENT: &str = "buildkit.exporter.image.v0";

/// The config for a from-scratch image of one platform: BuildKit's default (Env PATH, WorkingDir /),
/// one history entry per layer, `created` = the build time (or SOURCE_DATE_EPOCH).
pub fn scratch_config(platform: &Platform, diff_ids: &[String], created: i64) -> BTreeMap<String, Value> {
    let created = rfc3339(created);
    let mut config = BTreeMap::new();
    config.insert("architecture".into(), json!(platform.architecture));
    config.insert("os".into(), json!(platform.os));
    if let Some(variant) = &platform.variant {
        config.insert("variant".into(), json!(variant));
    }
    let mut inner = serde_json::Map::new();
    if platform.os != "windows" {
        inner.insert("Env".into(), json!([DEFAULT_PATH]));
    }
    inner.insert("WorkingDir".into(), json!("/"));
    config.insert("config".into(), Value::Object(inner));
    let history: Vec<History> = diff_ids
        .iter()
        .map(|_| History {
            created: created.clone(),
            created_by: "outport export".into(),
            comment: EXPORTER_COMMENT.into(),
        })
        .collect();
    config.insert("history".into(), serde_json::to_value(history).expect("history is plain data"));
    config.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
    config.insert("created".into(), json!(created));
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gojson;

    #[test]
    fn matches_buildkit_shape() {
        let platform = Platform::parse("linux/arm64").unwrap();
        let bytes = gojson::compact(&scratch_config(&platform, &["sha256:u".to_string()], 1_445_412_480));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            concat!(
                r#"{"architecture":"arm64","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"WorkingDir":"/"},"#,
                r#""created":"2015-10-21T07:28:00Z","history":[{"created":"2015-10-21T07:28:00Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}],"#,
                r#""os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:u"]}}"#
            )
        );
    }
}
