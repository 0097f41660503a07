//! outport's bytes against Go's own, where BuildKit's come from Go: gzip at level 0
//! (compress/flate's stored blocks), configs built from flags (docker's `DockerOCIImageConfig` as
//! Go marshals it) and `--config` files patched as BuildKit's image writer patches
//! `containerimage.config` (RawMessage values, Go's History struct and time format, epoch clamping,
//! history normalization). The Go side (tests/support/go-fidelity/main.go) is built offline in
//! GOPATH mode over Debian's sources: golang-go and golang-github-opencontainers-image-spec-dev
//! (scripts/setup.sh installs both); their absence is a failure.

#[path = "support/go_build.rs"]
mod go_build;

use outport::compress::{gzip::gzip_member, piece::compress_all, Compression};
use outport::gojson;
use outport::image::config::{config_platform, default_config, finish, parse_config, FromBase};
use outport::image::settings::{ConfigSettings, HealthcheckSettings};
use outport::timefmt::GoTime;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn go_tool() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-fidelity");
        std::fs::create_dir_all(&work).unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/go-fidelity/main.go");
        go_build::go_build(&source, &work, "go-fidelity", "golang-github-opencontainers-image-spec-dev")
    })
}

fn go(mode: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(go_tool())
        .arg(mode)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "go-fidelity {mode}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn sample(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + i / 977) as u8).collect()
}

#[test]
fn gzip_level_0_is_go_compress_gzip() {
    let block = 65_535;
    for len in [0, 1, block - 1, block, block + 1, 2 * block, 16 * block - 1, 16 * block, 16 * block + 1, 3 << 20] {
        let data = sample(len);
        let expected = go("gzip0", &data);
        assert_eq!(gzip_member(0, &data), expected, "serial, len {len}");
        for write in [1000, 65_536, 1 << 20] {
            assert_eq!(compress_all(Compression::Gzip { level: 0 }, &data, write), expected, "pieces, len {len}");
        }
    }
}

fn flags() -> Vec<ConfigSettings> {
    let health = |cmd: &str| HealthcheckSettings {
        cmd: Some(cmd.into()),
        interval: Some("1m30s".into()),
        timeout: Some("500ms".into()),
        start_period: Some("2s".into()),
        start_interval: Some("1s".into()),
        retries: Some(3),
    };
    vec![
        ConfigSettings {
            env: vec!["Z=1".into(), "A=<&>".into(), "PATH=/bin".into()],
            user: Some("1000:1000".into()),
            expose: vec!["8080".into(), "53/udp".into(), "443/tcp".into(), "80".into()],
            labels: vec!["z=last".into(), "a=first".into(), "m=é \u{2028}".into()],
            volumes: vec!["/var/lib".into(), "/data".into()],
            workdir: Some("/app".into()),
            entrypoint: Some(r#"["node","server.js"]"#.into()),
            cmd: Some("npm start".into()),
            stop_signal: Some("SIGQUIT".into()),
            healthcheck: health(r#"["curl","-f","http://localhost/"]"#),
            ..Default::default()
        },
        ConfigSettings { cmd: Some(r#"["a","b"]"#.into()), ..Default::default() },
        ConfigSettings { entrypoint: Some("exec run".into()), labels: vec!["b=2".into()], ..Default::default() },
        ConfigSettings { healthcheck: health("NONE"), stop_signal: Some("9".into()), ..Default::default() },
        ConfigSettings { expose: vec!["1/sctp".into()], volumes: vec!["/v".into()], ..Default::default() },
    ]
}

/// Config files the flags go on: unsorted maps, Docker's fields in another order, unknown fields,
/// escapes and a Healthcheck to adjust.
const BASES: &[&str] = &[
    r#"{"architecture":"amd64","os":"linux","config":{"WorkingDir":"/w","Labels":{"y":"1","b":"\u00e9"},"Env":["K=v"],"Hostname":"x","ExposedPorts":{"9/tcp":{},"10/tcp":{}},"Shell":["/bin/bash","-c"],"OnBuild":["RUN x"],"ArgsEscaped":true,"Healthcheck":{"Retries":2,"Test":["CMD","true"],"Interval":5000000000}}}"#,
    r#"{"architecture":"amd64","os":"linux","config":{"env":["lower=case"],"User":"","Volumes":null,"Cmd":[]}}"#,
];

#[test]
fn configs_from_flags_are_what_go_marshals() {
    let mut checked = 0;
    for settings in flags() {
        let mut configs = vec![default_config("linux")];
        configs.extend(BASES.iter().map(|b| parse_config("--config c.json", b.as_bytes()).unwrap()));
        for mut config in configs {
            let Ok(()) = settings.apply(&mut config, &mut Vec::new()) else { continue };
            let inner = gojson::compact(&config["config"]);
            assert_eq!(
                String::from_utf8(go("docker-config", &inner)).unwrap(),
                String::from_utf8(inner).unwrap(),
                "{settings:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 12, "{checked}");
}

const FILES: &[&str] = &[
    // Escapes, numbers and duplicate keys Go keeps as written; spaces it compacts away.
    r#"{ "architecture": "amd64", "os": "linux", "config": { "Env": ["A=\u00e9\/x"], "Labels": {"n": "3e10", "a": "<b>"}, "Env": ["B=2"] , "StopSignal":"SIGTERM"}, "x-number": 3e10, "x-text": "\ud800 & \u2028",
      "created": "2010-01-01T02:00:00+02:00", "history": [{"created": "2009-01-01T00:00:00.500Z", "created_by": "old", "unknown": 1, "empty_layer": false, "comment": "c", "author": "me"}]}"#,
    // No created; history longer than the layers, with empty_layer entries and missing times.
    r#"{"architecture":"amd64","os":"linux","config":{},"history":[{"created_by":"meta","empty_layer":true},{"created":"2012-06-01T10:00:00-07:00","created_by":"a"},{"created_by":"b"},{"created":"2013-01-01T00:00:00Z","created_by":"c"},{"created_by":"d","empty_layer":true}]}"#,
    // A created later than the epoch, offset written; no history.
    r#"{"architecture":"amd64","os":"linux","config":{"Cmd":["x"]},"created":"2030-05-05T05:05:05.123456789+05:30","rootfs":{"type":"layers","diff_ids":[]}}"#,
    // Nulls where Go allows them.
    r#"{"architecture":"amd64","os":"linux","config":null,"created":null,"history":[null,{"created":null,"created_by":"n"}]}"#,
    // Times with fractions and a zero offset spelled +00:00.
    r#"{"architecture":"amd64","os":"linux","created":"2014-02-02T02:02:02.000+00:00","history":[{"created":"2014-02-02T02:02:02.100+00:00","created_by":"z"},{"created":"2016-02-02T02:02:02Z","created_by":"late","empty_layer":true}]}"#,
];

#[test]
fn config_files_are_patched_as_buildkit_patches_them() {
    let now = "2026-12-04T21:00:00.1234Z";
    let platform = outport::platform::Platform::parse("linux/amd64").unwrap();
    let mut checked = 0;
    for file in FILES {
        let config = parse_config("--config c.json", file.as_bytes()).unwrap();
        assert_eq!(config_platform("c", &config).unwrap().as_ref(), Some(&platform));
        let history: Vec<Value> = config["history"].as_array().cloned().unwrap_or_default();
        for layers in [0, 1, 2, 4, 6] {
            for epoch in [None, Some(1_300_000_000), Some(1_400_000_000), Some(2_000_000_000)] {
                for base_entries in [0, 1] {
                    let base = &history[..base_entries.min(history.len())];
                    let diff_ids: Vec<String> = (0..layers).map(|i| format!("sha256:{i:064x}")).collect();
                    let ours = finish(
                        config.clone(),
                        &platform,
                        &diff_ids,
                        FromBase { layers: 0, history: base },
                        GoTime::parse(now).unwrap(),
                        epoch,
                    );
                    let ours = String::from_utf8(gojson::compact(&ours)).unwrap();
                    let request =
                        json!({"config": file, "layers": layers, "now": now, "epoch": epoch, "base_history": base});
                    let theirs = String::from_utf8(go("patch", request.to_string().as_bytes())).unwrap();
                    assert_eq!(ours, theirs, "{file} layers {layers} epoch {epoch:?} base {base_entries}");
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, FILES.len() * 5 * 4 * 2);
}
