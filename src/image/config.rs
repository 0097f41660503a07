//! The image config. BuildKit patches it as a `map[string]json.RawMessage`
//! (exporter/containerimage/writer.go `patchImageConfig`): top-level keys come out sorted, and every
//! value it does not replace (`config`, `docker_version`, anything unknown) keeps the bytes it was
//! written with, only compacted by Go (`\u00e9`, `\/`, `3e10` and duplicate keys survive). It replaces
//! `rootfs`, `history` (re-marshalled through Go's `History` struct) and, under SOURCE_DATE_EPOCH, a
//! later `created`.

use super::spec::History;
use crate::error::{Error, Result};
use crate::platform::Platform;
use crate::timefmt::GoTime;
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::BTreeMap;

pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Marks history entries the exporter added for layers (BuildKit uses the same comment).
pub const EXPORTER_COMMENT: &str = "buildkit.exporter.image.v0";

/// A config's top-level fields, sorted. Values read from a file also keep their bytes (Go-compacted)
/// until something replaces them, and are written back as those bytes.
#[derive(Debug, Clone, Default)]
pub struct ImageConfig {
    values: BTreeMap<String, Value>,
    raw: BTreeMap<String, Box<RawValue>>,
}

impl ImageConfig {
    pub fn new() -> ImageConfig {
        ImageConfig::default()
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.values.get(key)
    }

    /// Set a field; its bytes are then written from `value`.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.raw.remove(&key);
        self.values.insert(key, value)
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.raw.remove(key);
        self.values.remove(key)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }

    /// The bytes a field will be written as, if they are still the ones it was read with.
    pub fn raw(&self, key: &str) -> Option<&str> {
        self.raw.get(key).map(|r| r.get())
    }
}

impl std::ops::Index<&str> for ImageConfig {
    type Output = Value;
    fn index(&self, key: &str) -> &Value {
        self.values.get(key).unwrap_or(&Value::Null)
    }
}

impl Serialize for ImageConfig {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.values.len()))?;
        for (key, value) in &self.values {
            match self.raw.get(key) {
                Some(raw) => map.serialize_entry(key, raw)?,
                None => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

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

/// Parse a user-supplied image config (`--config FILE`, a base image's config); `what` names it in
/// errors. Every field the image-spec (and Docker: Healthcheck, OnBuild, Shell, ArgsEscaped) knows
/// must have its type, as Go's decoder into those structs demands (null is allowed, as Go allows it);
/// a wrong one would make an image other tools cannot read.
pub fn parse_config(what: &str, bytes: &[u8]) -> Result<ImageConfig> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::option(format!("{what}: invalid image config JSON: not UTF-8: {e}")))?;
    // Go decodes a lone UTF-16 surrogate escape to U+FFFD; serde_json refuses it.
    let decodable = replace_lone_surrogates(text);
    let value: Value = serde_json::from_str(&decodable)
        .map_err(|e| Error::option(format!("{what}: invalid image config JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(Error::option(format!("{what}: an image config must be a JSON object")));
    };
    validate(what, &map)?;
    let raw: BTreeMap<String, Box<RawValue>> = match serde_json::from_str(text) {
        Ok(raw) => raw,
        // Only a key with a lone surrogate gets here: its value's bytes are the replaced ones.
        Err(_) => serde_json::from_str(&decodable)
            .map_err(|e| Error::option(format!("{what}: invalid image config JSON: {e}")))?,
    };
    let raw = raw
        .into_iter()
        .map(|(k, v)| {
            let compacted = RawValue::from_string(go_compact(v.get())).expect("compacting keeps JSON valid");
            (k, compacted)
        })
        .collect();
    Ok(ImageConfig { values: map.into_iter().collect(), raw })
}

/// Go's `json.Compact` with HTML escaping, as `json.Marshal` applies it to a `RawMessage`:
/// whitespace between tokens dropped, `<`, `>`, `&`, U+2028 and U+2029 in strings escaped.
pub fn go_compact(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            match c {
                '<' => out.push_str("\\u003c"),
                '>' => out.push_str("\\u003e"),
                '&' => out.push_str("\\u0026"),
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                _ => out.push(c),
            }
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out
}

/// `\ud800`-style escapes that are not half of a surrogate pair, as `\ufffd` (what Go decodes them to).
fn replace_lone_surrogates(text: &str) -> Cow<'_, str> {
    if !text.contains("\\u") {
        return Cow::Borrowed(text);
    }
    let b = text.as_bytes();
    let hex4 = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(b.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok().filter(|_| digits.bytes().all(|d| d.is_ascii_hexdigit()))
    };
    let (mut out, mut copied, mut i, mut in_string) = (String::new(), 0, 0, false);
    while i < b.len() {
        match (in_string, b[i]) {
            (false, b'"') => in_string = true,
            (true, b'"') => in_string = false,
            (true, b'\\') if b.get(i + 1) == Some(&b'u') => match hex4(i + 2) {
                Some(0xD800..=0xDBFF)
                    if b.get(i + 6..i + 8) == Some(b"\\u".as_slice())
                        && hex4(i + 8).is_some_and(|low| (0xDC00..=0xDFFF).contains(&low)) =>
                {
                    i += 12;
                    continue;
                }
                Some(0xD800..=0xDFFF) => {
                    out.push_str(&text[copied..i]);
                    out.push_str("\\ufffd");
                    i += 6;
                    copied = i;
                    continue;
                }
                _ => i += 1,
            },
            (true, b'\\') => i += 1,
            _ => {}
        }
        i += 1;
    }
    if copied == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied..]);
    Cow::Owned(out)
}

/// The value of a struct field as Go's decoder finds it: keys match case-insensitively, the last wins.
pub fn go_field<'a>(object: &'a Map<String, Value>, name: &str) -> Option<(&'a str, &'a Value)> {
    object.iter().rev().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(k, v)| (k.as_str(), v))
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Time,
    Bool,
    Int,
    Strings,
    /// An object whose values are ignored (Go's `map[string]struct{}`): values objects or null.
    Set,
    /// `map[string]string`.
    StringMap,
    Object(&'static [(&'static str, Kind)]),
    Array(&'static [(&'static str, Kind)]),
}

const HEALTHCHECK: &[(&str, Kind)] = &[
    ("Test", Kind::Strings),
    ("Interval", Kind::Int),
    ("Timeout", Kind::Int),
    ("StartPeriod", Kind::Int),
    ("StartInterval", Kind::Int),
    ("Retries", Kind::Int),
];
/// Docker's `DockerOCIImageConfig`, in its field order (the OCI `ImageConfig`, then Docker's own).
const DOCKER_CONFIG: &[(&str, Kind)] = &[
    ("User", Kind::Str),
    ("ExposedPorts", Kind::Set),
    ("Env", Kind::Strings),
    ("Entrypoint", Kind::Strings),
    ("Cmd", Kind::Strings),
    ("Volumes", Kind::Set),
    ("WorkingDir", Kind::Str),
    ("Labels", Kind::StringMap),
    ("StopSignal", Kind::Str),
    ("ArgsEscaped", Kind::Bool),
    ("Healthcheck", Kind::Object(HEALTHCHECK)),
    ("OnBuild", Kind::Strings),
    ("Shell", Kind::Strings),
];
const HISTORY: &[(&str, Kind)] = &[
    ("created", Kind::Time),
    ("created_by", Kind::Str),
    ("author", Kind::Str),
    ("comment", Kind::Str),
    ("empty_layer", Kind::Bool),
];
const IMAGE: &[(&str, Kind)] = &[
    ("created", Kind::Time),
    ("author", Kind::Str),
    ("architecture", Kind::Str),
    ("variant", Kind::Str),
    ("os", Kind::Str),
    ("os.version", Kind::Str),
    ("os.features", Kind::Strings),
    ("config", Kind::Object(DOCKER_CONFIG)),
    ("rootfs", Kind::Object(&[("type", Kind::Str), ("diff_ids", Kind::Strings)])),
    ("history", Kind::Array(HISTORY)),
];

fn validate(what: &str, map: &Map<String, Value>) -> Result<()> {
    check_fields(what, "", map, IMAGE)
}

fn check_fields(what: &str, prefix: &str, object: &Map<String, Value>, fields: &[(&str, Kind)]) -> Result<()> {
    for (key, value) in object {
        if let Some((name, kind)) = fields.iter().find(|(name, _)| key.eq_ignore_ascii_case(name)) {
            let path = if key == name { format!("{prefix}{name}") } else { format!("{prefix}{key} ({name})") };
            check(what, &path, value, *kind)?;
        }
    }
    Ok(())
}

fn check(what: &str, path: &str, value: &Value, kind: Kind) -> Result<()> {
    let bad = |expected: &str| Err(Error::option(format!("{what}: {path} must be {expected}")));
    let strings = |v: &Value| v.as_array().is_some_and(|a| a.iter().all(|s| s.is_string() || s.is_null()));
    match (kind, value) {
        (_, Value::Null) => Ok(()),
        (Kind::Str, Value::String(_)) | (Kind::Bool, Value::Bool(_)) => Ok(()),
        (Kind::Str, _) => bad("a string"),
        (Kind::Bool, _) => bad("true or false"),
        (Kind::Time, Value::String(t)) if GoTime::parse(t).is_some() => Ok(()),
        (Kind::Time, _) => bad("an RFC 3339 time (2006-01-02T15:04:05Z)"),
        (Kind::Int, v) if v.is_i64() => Ok(()),
        (Kind::Int, _) => bad("an integer"),
        (Kind::Strings, v) if strings(v) => Ok(()),
        (Kind::Strings, _) => bad("an array of strings"),
        (Kind::Set, Value::Object(o)) if o.values().all(|v| v.is_object() || v.is_null()) => Ok(()),
        (Kind::Set, _) => bad("an object whose values are objects ({\"80/tcp\": {}})"),
        (Kind::StringMap, Value::Object(o)) if o.values().all(|v| v.is_string() || v.is_null()) => Ok(()),
        (Kind::StringMap, _) => bad("an object of strings"),
        (Kind::Object(fields), Value::Object(o)) => check_fields(what, &format!("{path}."), o, fields),
        (Kind::Object(_), _) => bad("an object"),
        (Kind::Array(fields), Value::Array(entries)) => {
            for (i, entry) in entries.iter().enumerate() {
                match entry {
                    Value::Object(o) => check_fields(what, &format!("{path}[{i}]."), o, fields)?,
                    Value::Null => {}
                    _ => return bad("an array of objects"),
                }
            }
            Ok(())
        }
        (Kind::Array(_), _) => bad("an array of objects"),
    }
}

/// A (validated) `config` object as Go marshals docker's `DockerOCIImageConfig` after decoding it:
/// fields in struct order, empty ones left out, unknown ones dropped, map keys sorted.
pub fn docker_config_in_go_order(inner: &Map<String, Value>) -> Map<String, Value> {
    go_struct(inner, DOCKER_CONFIG)
}

fn go_struct(object: &Map<String, Value>, fields: &[(&str, Kind)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, kind) in fields {
        let Some((_, value)) = go_field(object, name) else { continue };
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let go = match (kind, value) {
            (_, Value::Null) => continue,
            (Kind::Str, Value::String(s)) if !s.is_empty() => json!(s),
            (Kind::Bool, Value::Bool(true)) => json!(true),
            (Kind::Int, v) if v.as_i64().is_some_and(|n| n != 0) => v.clone(),
            (Kind::Strings, Value::Array(items)) if !items.is_empty() => {
                Value::Array(items.iter().map(|v| json!(text(v))).collect())
            }
            (Kind::Set, Value::Object(o)) if !o.is_empty() => {
                let sorted: BTreeMap<&String, Value> = o.keys().map(|k| (k, json!({}))).collect();
                json!(sorted)
            }
            (Kind::StringMap, Value::Object(o)) if !o.is_empty() => {
                let sorted: BTreeMap<&String, String> = o.iter().map(|(k, v)| (k, text(v))).collect();
                json!(sorted)
            }
            // Healthcheck is a pointer in Go: present even when all its fields are empty.
            (Kind::Object(inner), Value::Object(o)) => Value::Object(go_struct(o, inner)),
            _ => continue,
        };
        out.insert(name.to_string(), go);
    }
    out
}

/// A (validated) `history` entry as Go decodes it into `ocispecs.History`.
fn history_entry(value: &Value) -> History {
    let Some(object) = value.as_object() else { return History::default() };
    let text = |name| go_field(object, name).and_then(|(_, v)| v.as_str()).unwrap_or_default().to_string();
    History {
        created: go_field(object, "created").and_then(|(_, v)| v.as_str()).and_then(GoTime::parse),
        created_by: text("created_by"),
        author: text("author"),
        comment: text("comment"),
        empty_layer: go_field(object, "empty_layer").and_then(|(_, v)| v.as_bool()).unwrap_or(false),
    }
}

fn history_of(value: Option<&Value>) -> Vec<History> {
    value.and_then(Value::as_array).map(|entries| entries.iter().map(history_entry).collect()).unwrap_or_default()
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

/// `--base` with `--config FILE`: the file's config is the starting point with the base's
/// underneath, as a Dockerfile stage builds on its FROM image. Top-level fields the file gives win
/// (the base's fill in the rest); the base history comes first, then the file's; `created` goes
/// (the new image's time comes from its history). In `config`, the file's fields replace the
/// base's (a new `Entrypoint` drops the base's `Cmd`), except `Env` (a variable the file sets replaces the base's in place, a new one is
/// appended: BuildKit's `ENV`), and `Labels`, `ExposedPorts` and `Volumes`, which are merged with
/// the file's entries winning.
pub fn over_base(base: &ImageConfig, file: ImageConfig) -> ImageConfig {
    let mut merged = file;
    for (key, value) in &base.values {
        if !merged.contains_key(key) && !matches!(key.as_str(), "created" | "history") {
            merged.values.insert(key.clone(), value.clone());
            if let Some(raw) = base.raw.get(key) {
                merged.raw.insert(key.clone(), raw.clone());
            }
        }
    }
    let list = |c: Option<&Value>| c.and_then(Value::as_array).cloned().unwrap_or_default();
    let base_history = list(base.get("history"));
    if !base_history.is_empty() {
        let history = [base_history, list(merged.get("history"))].concat();
        merged.insert("history".into(), Value::Array(history));
    }
    if let (Some(Value::Object(under)), Some(Value::Object(over))) = (base.get("config"), merged.get("config")) {
        let mut inner = under.clone();
        for (key, value) in over {
            match (key.as_str(), inner.get_mut(key), value) {
                ("Env", Some(Value::Array(env)), Value::Array(added)) => {
                    for pair in added {
                        let name = |v: &Value| v.as_str().map(|s| s.split_once('=').map_or(s, |(k, _)| k).to_string());
                        match env.iter().position(|e| name(e) == name(pair)) {
                            Some(i) => env[i] = pair.clone(),
                            None => env.push(pair.clone()),
                        }
                    }
                }
                ("Labels" | "ExposedPorts" | "Volumes", Some(Value::Object(mine)), Value::Object(added)) => {
                    mine.extend(added.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                _ => {
                    inner.insert(key.clone(), value.clone());
                }
            }
        }
        // As a Dockerfile ENTRYPOINT does: a new entrypoint drops the inherited Cmd.
        if over.contains_key("Entrypoint") && !over.contains_key("Cmd") {
            inner.remove("Cmd");
        }
        merged.insert("config".into(), Value::Object(docker_config_in_go_order(&inner)));
    }
    merged.remove("created");
    merged
}

/// What a base image contributed: the bottom `layers` of rootfs, and its history, whose leading
/// entries keep their times under SOURCE_DATE_EPOCH (BuildKit, issue #4614).
#[derive(Debug, Clone, Copy, Default)]
pub struct FromBase<'a> {
    pub layers: usize,
    pub history: &'a [Value],
}

/// Complete a config for export as BuildKit's image writer does (`normalizeLayersAndHistory`,
/// `patchImageConfig`): platform fields, `rootfs.diff_ids`; history entries for the layers it does
/// not already cover (created `now`), missing times filled in; with an epoch, history times later
/// than it (except the leading entries equal to the base image's) and a later `created` become the
/// epoch; without `created`, the last history time.
pub fn finish(
    mut config: ImageConfig,
    platform: &Platform,
    diff_ids: &[String],
    base: FromBase<'_>,
    now: GoTime,
    epoch: Option<i64>,
) -> ImageConfig {
    let mut set = |key: &str, value: Value| {
        if config.get(key) != Some(&value) {
            config.insert(key.into(), value);
        }
    };
    set("architecture", json!(platform.architecture));
    set("os", json!(platform.os));
    match &platform.variant {
        Some(variant) => set("variant", json!(variant)),
        None => {
            config.remove("variant");
        }
    }
    // Go's nil slice (no history, or null) marshals as null, an empty one as [].
    let had_list = config.get("history").is_some_and(Value::is_array);
    let mut history = history_of(config.get("history"));
    normalize_history(&mut history, diff_ids.len(), now);
    let base_history: Vec<History> = base.history.iter().map(history_entry).collect();
    let kept = history.iter().zip(&base_history).take_while(|(ours, theirs)| ours == theirs).count();
    if let Some(epoch) = epoch {
        let epoch = GoTime { unix: epoch, nanos: 0, offset: 0 };
        for entry in history.iter_mut().skip(kept) {
            if entry.created.is_none_or(|t| t.instant() > epoch.instant()) {
                entry.created = Some(epoch);
            }
        }
        let later = config.get("created").and_then(Value::as_str).and_then(GoTime::parse);
        if later.is_some_and(|t| t.instant() > epoch.instant()) {
            config.insert("created".into(), json!(epoch.to_string()));
        }
    }
    if !config.contains_key("created") {
        let last = history.iter().rev().find_map(|h| h.created);
        config.insert("created".into(), last.map_or(Value::Null, |t| json!(t.to_string())));
    }
    let history = match history.is_empty() && !had_list {
        true => Value::Null,
        false => serde_json::to_value(&history).expect("history is plain data"),
    };
    config.insert("history".into(), history);
    // rootfs is replaced wholesale: the new image's layers are what the manifest lists (Go's nil
    // slice: null when there are none).
    let diff_ids = if diff_ids.is_empty() { Value::Null } else { json!(diff_ids) };
    config.insert("rootfs".into(), json!({"type": "layers", "diff_ids": diff_ids}));
    config
}

/// BuildKit's `normalizeLayersAndHistory`: entries without `empty_layer` are the layers' entries;
/// extra ones become empty, missing ones are added for the top layers; layer entries without a
/// time get the layer's (`now`), the others the first time after the first missing one.
fn normalize_history(history: &mut Vec<History>, layers: usize, now: GoTime) {
    let covered = history.iter().filter(|h| !h.empty_layer).count();
    if covered > layers {
        let mut seen = 0;
        for entry in history.iter_mut() {
            if seen >= layers {
                entry.empty_layer = true;
            }
            if !entry.empty_layer {
                seen += 1;
            }
        }
    }
    for _ in covered..layers {
        history.push(History {
            created: Some(now),
            created_by: "outport export".into(),
            comment: EXPORTER_COMMENT.into(),
            ..History::default()
        });
    }
    for entry in history.iter_mut().filter(|h| !h.empty_layer && h.created.is_none()) {
        entry.created = Some(now);
    }
    let mut fallback = None;
    let mut missing = false;
    for entry in history.iter() {
        match entry.created {
            Some(t) => {
                fallback = Some(t);
                if missing {
                    break;
                }
            }
            None => missing = true,
        }
    }
    missing = false;
    for entry in history.iter_mut() {
        match entry.created {
            Some(t) if missing => fallback = Some(t),
            Some(_) => {}
            None => {
                missing = true;
                entry.created = fallback;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gojson;

    fn secs(unix: i64) -> GoTime {
        GoTime { unix, nanos: 0, offset: 0 }
    }

    #[test]
    fn matches_buildkit_shape() {
        let platform = Platform::parse("linux/arm64").unwrap();
        let config = finish(
            default_config(&platform.os),
            &platform,
            &["sha256:u".to_string()],
            FromBase::default(),
            secs(1_445_412_480),
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
        let done = finish(
            config,
            &platform,
            &["sha256:u".into()],
            FromBase::default(),
            secs(1_900_000_000),
            Some(1_445_412_480),
        );
        let text = String::from_utf8(gojson::compact(&done)).unwrap();
        assert!(text.contains(r#""config":{"WorkingDir":"/app","Env":["A=1"]}"#), "{text}");
        assert!(text.contains(r#""docker_version":"20.10""#));
        // Two entries for one layer: the second is marked empty (BuildKit's normalizeLayersAndHistory)
        // and the layer is already covered, so no entry is added.
        assert!(text.contains(r#""history":[{"created":"2010-01-01T00:00:00Z","created_by":"old"},{"created":"2015-10-21T07:28:00Z","created_by":"new","empty_layer":true}]"#), "{text}");
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
        let done = finish(config, &platform, &diff_ids, base, secs(1_900_000_000), Some(1_445_412_480));
        let text = String::from_utf8(gojson::compact(&done)).unwrap();
        assert!(text.contains(r#""history":[{"created":"2030-01-01T00:00:00Z","created_by":"base"},{"created":"2031-01-01T00:00:00Z","created_by":"base 2","empty_layer":true},{"created":"2015-10-21T07:28:00Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}]"#), "{text}");
        // The new layer's entry (now, 2030) is clamped to the epoch like every entry above the base's.
        assert!(text.contains(r#""diff_ids":["sha256:b","sha256:n"]"#), "{text}");
        // Without the base, the same entries are clamped.
        let config = parse_config("c.json", file).unwrap();
        let done = finish(config, &platform, &diff_ids, FromBase::default(), secs(1_900_000_000), Some(1_445_412_480));
        assert!(!String::from_utf8(gojson::compact(&done)).unwrap().contains("2030-01-01"));
    }

    #[test]
    fn a_config_file_goes_over_the_base_config() {
        let base = parse_config(
            "b",
            br#"{"os":"linux","architecture":"amd64","created":"2020-01-01T00:00:00Z","config":{"Env":["PATH=/bin","A=base"],"Cmd":["sh"],"Labels":{"x":"1","y":"1"}},
            "history":[{"created":"2020-01-01T00:00:00Z","created_by":"base"}],"rootfs":{"type":"layers","diff_ids":["sha256:b"]}}"#,
        )
        .unwrap();
        let file = parse_config(
            "f",
            br#"{"config":{"Env":["A=file","B=new"],"Entrypoint":["/app"],"Labels":{"y":"2"}},"history":[{"created_by":"file"}]}"#,
        )
        .unwrap();
        let merged = over_base(&base, file);
        assert_eq!(
            merged["config"],
            json!({"Env":["PATH=/bin","A=file","B=new"],"Entrypoint":["/app"],"Labels":{"x":"1","y":"2"}})
        );
        assert_eq!(
            merged["history"],
            json!([{"created":"2020-01-01T00:00:00Z","created_by":"base"},{"created_by":"file"}])
        );
        assert_eq!((merged["os"].as_str(), merged.get("created")), (Some("linux"), None));
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

    fn patched(file: &[u8], layers: usize, epoch: Option<i64>) -> String {
        let config = parse_config("--config c.json", file).unwrap();
        let platform = config_platform("c", &config).unwrap().unwrap();
        let diff_ids: Vec<String> = (0..layers).map(|i| format!("sha256:{i:064x}")).collect();
        let now = GoTime::parse("2026-12-04T21:00:00.1234Z").unwrap();
        String::from_utf8(gojson::compact(&finish(config, &platform, &diff_ids, FromBase::default(), now, epoch)))
            .unwrap()
    }

    // Expected bytes below are pinned from Go 1.19 running BuildKit's patchImageConfig and
    // normalizeLayersAndHistory (tests/support/go-fidelity, compared in tests/go_fidelity.rs).
    const DIFF_IDS_2: &str = r#""rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000","sha256:0000000000000000000000000000000000000000000000000000000000000001"]}"#;

    #[test]
    fn config_file_bytes_stay_as_written_and_history_goes_through_go_history() {
        let file = br#"{ "architecture": "amd64", "os": "linux", "config": { "Env": ["A=\u00e9\/x"], "Labels": {"n": "3e10", "a": "<b>"}, "Env": ["B=2"] }, "x": [3e10, "\ud800"],
  "created": "2010-01-01T02:00:00+02:00", "history": [{"created": "2009-01-01T00:00:00.500Z", "created_by": "old", "unknown": 1, "empty_layer": false, "author": "me"}]}"#;
        let head = r#"{"architecture":"amd64","config":{"Env":["A=\u00e9\/x"],"Labels":{"n":"3e10","a":"\u003cb\u003e"},"Env":["B=2"]},"#;
        let tail = format!(r#","os":"linux",{DIFF_IDS_2},"x":[3e10,"\ud800"]}}"#);
        assert_eq!(
            patched(file, 2, None),
            format!(
                r#"{head}"created":"2010-01-01T02:00:00+02:00","history":[{{"created":"2009-01-01T00:00:00.5Z","created_by":"old","author":"me"}},{{"created":"2026-12-04T21:00:00.1234Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}}]{tail}"#
            )
        );
        // 02:00+02:00 is the epoch itself, not later: kept as written; the new entry is clamped.
        assert_eq!(
            patched(file, 2, Some(1_262_304_000)),
            format!(
                r#"{head}"created":"2010-01-01T02:00:00+02:00","history":[{{"created":"2009-01-01T00:00:00.5Z","created_by":"old","author":"me"}},{{"created":"2010-01-01T00:00:00Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}}]{tail}"#
            )
        );
        assert_eq!(
            patched(file, 2, Some(1_262_300_000)),
            format!(
                r#"{head}"created":"2009-12-31T22:53:20Z","history":[{{"created":"2009-01-01T00:00:00.5Z","created_by":"old","author":"me"}},{{"created":"2009-12-31T22:53:20Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}}]{tail}"#
            )
        );
    }

    #[test]
    fn history_covers_layers_as_buildkit_normalizes_it() {
        let file = br#"{"architecture":"amd64","os":"linux","history":[{"created_by":"meta","empty_layer":true},{"created":"2012-06-01T10:00:00-07:00","created_by":"a"},{"created_by":"b"},{"created_by":"d","empty_layer":true}]}"#;
        // Shorter than the layers: one entry added; missing times filled; created from the last.
        assert_eq!(
            patched(file, 3, None),
            concat!(
                r#"{"architecture":"amd64","created":"2026-12-04T21:00:00.1234Z","history":[{"created":"2012-06-01T10:00:00-07:00","created_by":"meta","empty_layer":true},"#,
                r#"{"created":"2012-06-01T10:00:00-07:00","created_by":"a"},{"created":"2026-12-04T21:00:00.1234Z","created_by":"b"},"#,
                r#"{"created":"2026-12-04T21:00:00.1234Z","created_by":"d","empty_layer":true},{"created":"2026-12-04T21:00:00.1234Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}],"#,
                r#""os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000","sha256:0000000000000000000000000000000000000000000000000000000000000001","sha256:0000000000000000000000000000000000000000000000000000000000000002"]}}"#
            )
        );
        // Longer: the extra layer entry becomes empty, nothing is added; all later than the epoch.
        assert_eq!(
            patched(file, 1, Some(1_300_000_000)),
            concat!(
                r#"{"architecture":"amd64","created":"2011-03-13T07:06:40Z","history":[{"created":"2011-03-13T07:06:40Z","created_by":"meta","empty_layer":true},"#,
                r#"{"created":"2011-03-13T07:06:40Z","created_by":"a"},{"created":"2011-03-13T07:06:40Z","created_by":"b","empty_layer":true},"#,
                r#"{"created":"2011-03-13T07:06:40Z","created_by":"d","empty_layer":true}],"os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#
            )
        );
        // A created later than the epoch becomes it; one earlier keeps its offset and fraction.
        let later = br#"{"architecture":"amd64","os":"linux","created":"2030-05-05T05:05:05.5+05:30"}"#;
        let entry = r#""history":[{"created":"2026-12-04T21:00:00.1234Z","created_by":"outport export","comment":"buildkit.exporter.image.v0"}]"#;
        let rootfs = r#""rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}"#;
        assert_eq!(
            patched(later, 1, Some(2_000_000_000)),
            format!(
                r#"{{"architecture":"amd64","created":"2030-05-05T05:05:05.5+05:30",{entry},"os":"linux",{rootfs}}}"#
            )
        );
        assert_eq!(
            patched(later, 1, Some(1_900_000_000)),
            format!(r#"{{"architecture":"amd64","created":"2030-03-17T17:46:40Z",{entry},"os":"linux",{rootfs}}}"#)
        );
    }

    #[test]
    fn wrong_types_are_refused_naming_the_field() {
        for (file, message) in [
            (r#"{"config":{"ExposedPorts":["80"]}}"#, "--config c.json: config.ExposedPorts must be an object"),
            (r#"{"config":{"Cmd":5}}"#, "--config c.json: config.Cmd must be an array of strings"),
            (r#"{"config":{"Env":"x"}}"#, "--config c.json: config.Env must be an array of strings"),
            (r#"{"config":{"Env":["a",1]}}"#, "config.Env must be an array of strings"),
            (r#"{"config":{"Labels":{"n":3e10}}}"#, "config.Labels must be an object of strings"),
            (r#"{"config":{"Volumes":{"/a":1}}}"#, "config.Volumes must be an object whose values are objects"),
            (r#"{"config":{"User":0}}"#, "config.User must be a string"),
            (r#"{"config":{"ArgsEscaped":"yes"}}"#, "config.ArgsEscaped must be true or false"),
            (r#"{"config":{"Healthcheck":{"Interval":"30s"}}}"#, "config.Healthcheck.Interval must be an integer"),
            (r#"{"config":{"Healthcheck":{"Retries":1.5}}}"#, "config.Healthcheck.Retries must be an integer"),
            (r#"{"config":{"Healthcheck":[]}}"#, "config.Healthcheck must be an object"),
            (r#"{"config":{"OnBuild":{}}}"#, "config.OnBuild must be an array of strings"),
            (r#"{"config":{"Shell":"sh"}}"#, "config.Shell must be an array of strings"),
            (r#"{"config":{"cmd":5}}"#, "config.cmd (Cmd) must be an array of strings"),
            (r#"{"config":7}"#, "--config c.json: config must be an object"),
            (r#"{"created":"yesterday"}"#, "created must be an RFC 3339 time"),
            (r#"{"architecture":1}"#, "architecture must be a string"),
            (r#"{"os.features":"x"}"#, "os.features must be an array of strings"),
            (r#"{"rootfs":{"diff_ids":"x"}}"#, "rootfs.diff_ids must be an array of strings"),
            (r#"{"history":{}}"#, "history must be an array of objects"),
            (
                r#"{"history":[{"created_by":"a"},{"empty_layer":"true"}]}"#,
                "history[1].empty_layer must be true or false",
            ),
            (r#"{"history":[{"created":"2010-01-01"}]}"#, "history[0].created must be an RFC 3339 time"),
        ] {
            let message_got = parse_config("--config c.json", file.as_bytes()).unwrap_err().message;
            assert!(message_got.contains(message), "{file}: {message_got}");
        }
        // Null is what Go's decoder allows anywhere; unknown fields are anyone's.
        parse_config(
            "c",
            br#"{"config":{"Env":null,"Healthcheck":null,"x":5},"created":null,"history":[null],"y":[]}"#,
        )
        .unwrap();
    }

    #[test]
    fn a_lone_surrogate_escape_is_read_as_go_reads_it() {
        let config =
            parse_config("c", br#"{"config":{"Env":["A=\ud800","B=\udc00x","C=\ud83d\ude00","D=\\ud800"]}}"#).unwrap();
        assert_eq!(config["config"]["Env"], json!(["A=\u{fffd}", "B=\u{fffd}x", "C=\u{1f600}", "D=\\ud800"]));
        // Its bytes stay as written.
        assert_eq!(config.raw("config"), Some(r#"{"Env":["A=\ud800","B=\udc00x","C=\ud83d\ude00","D=\\ud800"]}"#));
        // In a top-level key too (its values' bytes are then the replaced ones).
        let config = parse_config("c", br#"{"\ud800":"\udc00"}"#).unwrap();
        assert_eq!(config.raw("\u{fffd}"), Some(r#""\ufffd""#));
    }

    #[test]
    fn go_compact_is_json_compact_with_html_escaping() {
        assert_eq!(
            go_compact("{ \"a\" : [ 1 ,\n\t2e3 ] , \"b\":\"x > y \\\" & <\u{2028}\" }"),
            r#"{"a":[1,2e3],"b":"x \u003e y \" \u0026 \u003c\u2028"}"#
        );
    }
}
