//! argv and the environment in, a typed command line out: which command, the request JSON the core
//! runs for it, and the settings the host applies itself (store, progress, threads, credentials).

use super::help::{flag_name, help};
use super::table::{command, Command, Field, Flag, Value, BUILD_FLAGS, COMMANDS};
use crate::error::{Error, ErrorKind, Result};
use serde_json::{json, Map, Value as Json};

/// The environment variables a command line reads (others are ignored).
pub const ENV: &[&str] = &[
    "SOURCE_DATE_EPOCH",
    "OUTPORT_THREADS",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_CONFIG",
    "XDG_RUNTIME_DIR",
    "HOME",
];

/// Parse `args` (without the program name). The result, as JSON:
/// - `{"command": "help", "help": TEXT}` for `-h`/`--help` (print TEXT, exit 0);
/// - `{"command": "version"}` for `-V`/`--version`;
/// - `{"command": "export"|"images"|"push"|"store-verify"|"store-gc", "request": {…}, "host": {…}}`.
///
/// `request` holds the fields the command line gives (for `export`, `ExportRequest` less what only
/// the host knows: cwd, clock, host platform, store path); `host` the settings named by
/// `Field::Host` in the table (`store`, `progress`, `threads`, `creds`, `baseCreds`,
/// `registryCa`, `json`), `threads` falling back to `$OUTPORT_THREADS`. A usage error is an
/// `invalid-option` error of one line naming the flag; CLIs exit 2 on it.
pub fn parse_args(args: &[String], env: &[(String, String)]) -> Result<Json> {
    let env = |name: &str| env.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let Some(first) = args.first() else {
        return Err(usage("a command is required: export, images, push or store (see outport --help)"));
    };
    let (command, rest) = match first.as_str() {
        "-h" | "--help" => return Ok(help_result(None)),
        "-V" | "--version" => return Ok(json!({"command": "version"})),
        // `outport help [COMMAND]`, as clap offered it.
        "help" => {
            let topic = args[1..].join(" ");
            let known = topic == "store" || command(&topic).is_some();
            return Ok(help_result(known.then_some(topic.as_str())));
        }
        "store" => match args.get(1).map(String::as_str) {
            Some("-h" | "--help") => return Ok(help_result(Some("store"))),
            Some(action @ ("verify" | "gc")) => {
                (command(&format!("store {action}")).expect("in the table"), &args[2..])
            }
            _ => return Err(usage("store takes one action: verify or gc")),
        },
        name => match command(name) {
            Some(c) => (c, &args[1..]),
            None if name.starts_with('-') => {
                return Err(usage(&format!("unknown flag {name}: a command comes first (see outport --help)")))
            }
            None => return Err(usage(&format!("unknown command {name:?}: expected one of {}", names()))),
        },
    };
    if command.name == "export" {
        refuse_build_flags(rest)?;
    }
    let mut parsed = Parsed::new(command);
    let mut positionals = Vec::new();
    let mut rest = rest.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            positionals.extend(rest.by_ref().cloned());
            break;
        }
        if arg == "-h" || arg == "--help" {
            return Ok(help_result(Some(command.name)));
        }
        let (flag, inline) = match lookup(command, arg)? {
            Some(found) => found,
            None => {
                positionals.push(arg.clone());
                continue;
            }
        };
        let text = match (flag.value, inline) {
            (Value::Switch, Some(_)) => {
                return Err(usage(&format!("--{} takes no value (it is a switch)", flag.long)));
            }
            (Value::Switch, None) => None,
            (_, Some(value)) => Some(value),
            (value, None) => match rest.next() {
                Some(next) if takes(value, next) => Some(next.clone()),
                _ => return Err(usage(&format!("{} needs a value", flag_name(flag).trim()))),
            },
        };
        parsed.set(flag, text)?;
    }
    parsed.positionals(command, positionals)?;
    let mut result = parsed.finish(command);
    if command.name == "export" {
        let request = &mut result["request"];
        request["sourceDateEpoch"] = env("SOURCE_DATE_EPOCH").into();
        request["engineEnv"] = engine_env(&env).into();
    }
    let host = &mut result["host"];
    if host.get("threads") == Some(&Json::Null) {
        host["threads"] = env("OUTPORT_THREADS").and_then(|v| v.trim().parse::<u64>().ok()).into();
    }
    Ok(result)
}

fn help_result(command: Option<&str>) -> Json {
    json!({"command": "help", "help": help(command)})
}

fn usage(message: &str) -> Error {
    Error::new(ErrorKind::InvalidOption, message)
}

fn names() -> String {
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.name.split(' ').next().unwrap_or(c.name)).collect();
    names.dedup();
    names.join(", ")
}

/// `docker buildx build` flags typed out of habit: one line each saying why not.
fn refuse_build_flags(args: &[String]) -> Result<()> {
    for arg in args.iter().take_while(|a| *a != "--") {
        let name = arg.split_once('=').map_or(arg.as_str(), |(n, _)| n);
        if let Some((flag, why)) = BUILD_FLAGS.iter().find(|(flag, _)| *flag == name) {
            return Err(usage(&format!("{flag} is a docker buildx build flag; {why}")));
        }
    }
    Ok(())
}

/// The flag `arg` names with its `=value` or attached short value, or None for a positional.
fn lookup(command: &'static Command, arg: &str) -> Result<Option<(&'static Flag, Option<String>)>> {
    if let Some(long) = arg.strip_prefix("--") {
        let (name, inline) = match long.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (long, None),
        };
        return match command.flags.iter().find(|f| f.long == name) {
            Some(flag) => Ok(Some((flag, inline))),
            None => Err(unknown(command, &format!("--{name}"))),
        };
    }
    let Some(short) = arg.strip_prefix('-').filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let mut chars = short.chars();
    let letter = chars.next().expect("not empty");
    let Some(flag) = command.flags.iter().find(|f| f.short == Some(letter)) else {
        return Err(unknown(command, &format!("-{letter}")));
    };
    let attached = chars.as_str();
    let inline = (!attached.is_empty()).then(|| attached.strip_prefix('=').unwrap_or(attached).to_string());
    Ok(Some((flag, inline)))
}

fn unknown(command: &Command, flag: &str) -> Error {
    usage(&format!("unknown flag {flag} for outport {} (see outport {} --help)", command.name, command.name))
}

/// Whether the next argument may be a flag's value: not when it looks like a flag itself (unless
/// the flag's values may start with `-`, as command lines and ignore patterns do).
fn takes(value: Value, next: &str) -> bool {
    matches!(value, Value::Hyphen(_)) || next == "-" || !next.starts_with('-')
}

struct Parsed {
    request: Map<String, Json>,
    host: Map<String, Json>,
}

impl Parsed {
    /// Every field the command's flags fill, at its default: `[]`, `false`, `null`, `"auto"`.
    fn new(command: &Command) -> Parsed {
        let mut parsed = Parsed { request: Map::new(), host: Map::new() };
        if let Some(p) = &command.positional {
            *parsed.slot(p.field) = Json::Null;
        }
        if command.name == "export" {
            // Always present, as the hosts have always sent them.
            for key in ["config.configFile", "config.healthcheck.cmd"] {
                *parsed.slot(Field::Request(key)) = Json::Null;
            }
        }
        for flag in command.flags {
            *parsed.slot(flag.field) = match flag.value {
                _ if flag.repeat => json!([]),
                Value::Switch | Value::Bool(_) => false.into(),
                _ => Json::Null,
            };
        }
        parsed
    }

    /// The JSON value a field names (`config.healthcheck.retries` nests).
    fn slot(&mut self, field: Field) -> &mut Json {
        let (map, path) = match field {
            Field::Request(path) => (&mut self.request, path),
            Field::Host(path) => (&mut self.host, path),
        };
        let mut keys = path.split('.');
        let mut slot = map.entry(keys.next().expect("a key")).or_insert(Json::Null);
        for key in keys {
            if !slot.is_object() {
                *slot = Json::Object(Map::new());
            }
            slot = slot.as_object_mut().expect("an object").entry(key).or_insert(Json::Null);
        }
        slot
    }

    fn set(&mut self, flag: &Flag, text: Option<String>) -> Result<()> {
        let name = flag_name(flag);
        let name = name.trim();
        let value: Json = match (flag.value, text) {
            (_, None) => true.into(),
            (Value::Count(_), Some(t)) => match t.parse::<usize>() {
                Ok(n) => n.into(),
                Err(_) => return Err(usage(&format!("{name}: {t:?} is not a whole number"))),
            },
            (Value::Count32(_), Some(t)) => match t.parse::<u32>() {
                Ok(n) => n.into(),
                Err(_) => return Err(usage(&format!("{name}: {t:?} is not a whole number up to {}", u32::MAX))),
            },
            (Value::Bool(_), Some(t)) => match t.as_str() {
                "1" | "t" | "T" | "TRUE" | "true" | "True" => true.into(),
                "0" | "f" | "F" | "FALSE" | "false" | "False" => false.into(),
                _ => return Err(usage(&format!("{name}: {t:?} is not true or false"))),
            },
            (Value::OneOf(_, words), Some(t)) if !words.contains(&t.as_str()) => {
                return Err(usage(&format!("{name}: {t:?} is not one of {}", words.join(", "))));
            }
            (_, Some(t)) => t.into(),
        };
        let slot = self.slot(flag.field);
        match slot {
            Json::Array(values) if flag.repeat => values.push(value),
            Json::Null | Json::Bool(false) => *slot = value,
            _ => return Err(usage(&format!("{name} given more than once (it takes one value)"))),
        }
        Ok(())
    }

    fn positionals(&mut self, command: &Command, mut given: Vec<String>) -> Result<()> {
        let Some(p) = &command.positional else {
            return match given.first() {
                Some(extra) => Err(usage(&format!("outport {} takes no arguments, got {extra:?}", command.name))),
                None => Ok(()),
            };
        };
        if p.many {
            if given.is_empty() && p.required {
                return Err(usage(&format!("outport {} needs a {}", command.name, p.name)));
            }
            *self.slot(p.field) = given.into();
            return Ok(());
        }
        if given.len() > 1 {
            return Err(usage(&format!("outport {} takes one {}, got also {:?}", command.name, p.name, given[1])));
        }
        match given.pop() {
            Some(value) => *self.slot(p.field) = value.into(),
            None if p.required => return Err(usage(&format!("outport {} needs a {}", command.name, p.name))),
            None => {}
        }
        Ok(())
    }

    fn finish(mut self, command: &Command) -> Json {
        if let Some(progress @ Json::Null) = self.host.get_mut("progress") {
            *progress = "auto".into();
        }
        json!({"command": command.name.replace(' ', "-"), "request": self.request, "host": self.host})
    }
}

/// What the core finds the Docker engine by (src/engine/endpoint.rs): the engine variables that
/// are set, and DOCKER_CONFIG resolved to the directory the docker CLI reads.
fn engine_env<'a>(env: &impl Fn(&str) -> Option<&'a str>) -> Map<String, Json> {
    let mut out = Map::new();
    for name in ["DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "XDG_RUNTIME_DIR"] {
        if let Some(value) = env(name).filter(|v| !v.is_empty()) {
            out.insert(name.into(), value.into());
        }
    }
    let config = env("DOCKER_CONFIG").filter(|v| !v.is_empty()).map(str::to_string).or_else(|| {
        env("HOME").map(|home| match home.trim_end_matches('/') {
            "" if home.starts_with('/') => "/.docker".to_string(),
            home => format!("{home}/.docker"),
        })
    });
    if let Some(dir) = config {
        out.insert("DOCKER_CONFIG".into(), dir.into());
    }
    out
}
