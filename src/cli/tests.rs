//! The table, flag by flag: each lands in the field it names, and bad values get one clear line.

use super::parse_args;
use super::table::{Field, Value, COMMANDS};
use serde_json::Value as Json;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn parse(list: &[&str]) -> Json {
    parse_args(&args(list), &[]).unwrap_or_else(|e| panic!("{list:?}: {}", e.message))
}

fn error(list: &[&str]) -> String {
    let e = parse_args(&args(list), &[]).expect_err(&format!("{list:?} should fail"));
    assert_eq!(e.kind, crate::error::ErrorKind::InvalidOption);
    assert!(!e.message.contains('\n'), "{}", e.message);
    e.message
}

fn field(result: &Json, field: Field) -> &Json {
    let (root, path) = match field {
        Field::Request(p) => (&result["request"], p),
        Field::Host(p) => (&result["host"], p),
    };
    path.split('.').fold(root, |v, k| &v[k])
}

/// A value each kind of flag accepts.
fn sample(value: Value) -> (&'static str, Json) {
    match value {
        Value::Switch => ("", Json::Bool(true)),
        Value::Count(_) | Value::Count32(_) => ("7", 7.into()),
        Value::OneOf(_, words) => (words[1], words[1].into()),
        Value::Text(_) | Value::Hyphen(_) => ("v=1", "v=1".into()),
        Value::Bool(_) => ("TRUE", Json::Bool(true)),
    }
}

#[test]
fn every_flag_fills_its_field_in_every_form() {
    for command in COMMANDS {
        let mut base: Vec<&str> = command.name.split(' ').collect();
        if command.name == "push" || command.name == "rm" {
            base.push("app:1");
        }
        for flag in command.flags {
            let (text, expected) = sample(flag.value);
            let expected = if flag.repeat { Json::Array(vec![expected.clone(), expected]) } else { expected };
            let long = format!("--{}", flag.long);
            let mut forms: Vec<Vec<String>> = Vec::new();
            if flag.value == Value::Switch {
                forms.push(vec![long.clone()]);
            } else {
                forms.push(vec![long.clone(), text.into()]);
                forms.push(vec![format!("{long}={text}")]);
                if let Some(s) = flag.short {
                    forms.push(vec![format!("-{s}"), text.into()]);
                    forms.push(vec![format!("-{s}{text}")]);
                }
            }
            for form in forms {
                let mut line: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                line.extend(form.iter().cloned());
                if flag.repeat {
                    line.extend(form.iter().cloned());
                }
                let result = parse_args(&line, &[]).unwrap_or_else(|e| panic!("{line:?}: {}", e.message));
                assert_eq!(result["command"], command.name.replace(' ', "-"), "{line:?}");
                assert_eq!(field(&result, flag.field), &expected, "{line:?}");
            }
            if !flag.repeat && flag.value != Value::Switch {
                let mut twice: Vec<String> = base.iter().map(|s| s.to_string()).collect();
                twice.extend([format!("{long}={text}"), format!("{long}={text}")]);
                let e = parse_args(&twice, &[]).expect_err("twice");
                assert!(e.message.contains(&long), "{}", e.message);
            }
        }
    }
}

#[test]
fn export_request_has_every_field_the_hosts_sent() {
    // A second positional, even after `--`, is one too many.
    let e = error(&["export", "root", "--", "--not-a-flag"]);
    assert!(e.contains("--not-a-flag"), "{e}");
    let r = parse(&["export", "--", "-root"]);
    assert_eq!(r["request"]["rootfs"], "-root");
    let r = parse(&["export"]);
    let request = &r["request"];
    for key in ["rootfs", "result", "nodeApp", "owner", "platform", "base", "dockerHost", "metadataFile"] {
        assert_eq!(request[key], Json::Null, "{key}");
    }
    for key in ["layers", "excludes", "annotations", "outputs", "tags", "allow", "attestations"] {
        assert_eq!(request[key], serde_json::json!([]), "{key}");
    }
    for key in ["keepMtimes", "push", "load", "strict", "baseInsecure"] {
        assert_eq!(request[key], false, "{key}");
    }
    assert_eq!(request["config"]["configFile"], Json::Null);
    assert_eq!(request["config"]["healthcheck"]["retries"], Json::Null);
    assert_eq!(r["host"]["progress"], "auto");
    // With what only the host knows, it is the core's request.
    let mut request = request.clone();
    request["hostPlatform"] = "linux/amd64".into();
    request["now"] = 0.into();
    serde_json::from_value::<crate::request::ExportRequest>(request).expect("an ExportRequest");
}

#[test]
fn environment_fills_epoch_threads_and_engine() {
    let env = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    let r = parse_args(
        &args(&["export"]),
        &env(&[("SOURCE_DATE_EPOCH", "5"), ("OUTPORT_THREADS", " 3 "), ("HOME", "/h"), ("DOCKER_HOST", "")]),
    )
    .unwrap();
    assert_eq!(r["request"]["sourceDateEpoch"], "5");
    assert_eq!(r["host"]["threads"], 3);
    assert_eq!(r["request"]["engineEnv"], serde_json::json!({"DOCKER_CONFIG": "/h/.docker"}));
    let r = parse_args(&args(&["export", "--threads", "0"]), &env(&[("OUTPORT_THREADS", "3")])).unwrap();
    assert_eq!(r["host"]["threads"], 0);
    let r = parse_args(&args(&["export"]), &env(&[("OUTPORT_THREADS", "many")])).unwrap();
    assert_eq!(r["host"]["threads"], Json::Null);
}

#[test]
fn bad_command_lines_get_one_clear_line() {
    for (line, says) in [
        (&["export", "--no-such-flag"][..], "--no-such-flag"),
        (&["export", "--threads", "x"], "--threads"),
        (&["export", "--healthcheck-retries=-1"], "--healthcheck-retries"),
        (&["export", "--progress", "loud"], "--progress"),
        (&["export", "--push=true"], "--push"),
        (&["export", "--store"], "--store"),
        (&["export", "--platform", "--push"], "--platform"),
        (&["export", "a", "b"], "\"b\""),
        (&["export", "--build-arg=A=1"], "--build-arg is a docker buildx build flag"),
        (&["export", "-f", "x"], "-f is a docker buildx build flag"),
        (&["export", "-x"], "-x"),
        (&["push"], "NAME"),
        (&["push", "a", "--json"], "--json"),
        (&["images", "x"], "\"x\""),
        (&["store"], "verify or gc"),
        (&["store", "prune"], "verify or gc"),
        (&["build"], "\"build\""),
        (&[], "command"),
        (&["export", "--version"], "--version"),
    ] {
        let message = error(line);
        assert!(message.contains(says), "{line:?}: {message}");
    }
    // After `--`, build flags are file names.
    assert_eq!(parse(&["export", "--", "--target"])["request"]["rootfs"], "--target");
}

#[test]
fn push_and_rm_take_several_names() {
    for command in ["push", "rm"] {
        let r = parse(&[command, "a:1", "--store", "s", "b:2"]);
        assert_eq!(r["request"]["names"], serde_json::json!(["a:1", "b:2"]), "{command}");
    }
}

#[test]
fn hyphen_values_where_the_table_allows_them() {
    let r = parse(&["export", "--exclude", "-x", "--cmd", "-c", "-o", "-"]);
    assert_eq!(r["request"]["excludes"], serde_json::json!(["-x"]));
    assert_eq!(r["request"]["config"]["cmd"], "-c");
    assert_eq!(r["request"]["outputs"], serde_json::json!(["-"]));
}

#[test]
fn help_and_version() {
    for line in [&["--help"][..], &["-h"]] {
        let text = parse(line)["help"].as_str().unwrap().to_string();
        assert!(text.contains("Usage: outport <COMMAND>") && text.contains("  store "), "{text}");
    }
    let text = parse(&["export", "--output", "x", "--help"])["help"].as_str().unwrap().to_string();
    for flag in super::table::EXPORT_FLAGS {
        assert!(text.contains(&format!("--{}", flag.long)), "{}", flag.long);
    }
    assert!(text.contains("--healthcheck-start-interval <DURATION>"), "{text}");
    assert!(text.lines().all(|l| l.chars().count() <= 100 || !l.contains(' ')), "{text}");
    assert!(parse(&["store", "gc", "-h"])["help"].as_str().unwrap().contains("Usage: outport store gc"));
    assert!(parse(&["store", "--help"])["help"].as_str().unwrap().contains("verify"));
    assert_eq!(parse(&["-V"])["command"], "version");
    assert_eq!(parse(&["help", "store", "gc"])["help"], parse(&["store", "gc", "--help"])["help"]);
    assert_eq!(parse(&["help"])["help"], parse(&["--help"])["help"]);
}
