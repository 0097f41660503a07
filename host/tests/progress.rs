//! `--progress`: bars on a terminal (a pseudo-terminal from util-linux's `script`), nothing for
//! `auto` without one, and `json` events with the npm package's fields, compression counted in bytes.

mod common;

use common::*;
use std::fs;
use std::process::Command;

fn tree(work: &std::path::Path) -> std::path::PathBuf {
    let root = work.join("rootfs");
    fs::create_dir_all(root.join("data")).unwrap();
    for i in 0..6u8 {
        // Incompressible enough that several 4 MiB progress steps pass.
        let bytes: Vec<u8> = (0..3_000_000u32).map(|n| (n.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i).collect();
        fs::write(root.join(format!("data/blob{i}")), bytes).unwrap();
    }
    root
}

#[test]
fn a_terminal_gets_bars_with_bytes_and_rate() {
    let work = tempdir().unwrap();
    let root = tree(work.path());
    let dest = work.path().join("out.tar");
    let command = format!(
        "OUTPORT_STORE={} {} export {} --output type=oci,dest={}",
        work.path().join("store").display(),
        env!("CARGO_BIN_EXE_outport"),
        root.display(),
        dest.display()
    );
    let out = Command::new("script").args(["-qec", &command, "/dev/null"]).output().unwrap();
    assert!(out.status.success());
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("\x1b[J"), "redrawn in place: {screen}");
    let finished =
        screen.lines().find(|l| l.contains("compress") && l.contains("done")).unwrap_or_else(|| panic!("{screen}"));
    assert!(finished.contains(&format!("[{}]", "=".repeat(24))), "{finished}");
    assert!(finished.contains("MiB/s") && finished.contains("17.2 MiB / 17.2 MiB"), "{finished}");
    assert!(screen.contains("write") && screen.contains("containerimage.digest"));
}

#[test]
fn json_events_count_bytes_and_auto_without_a_terminal_is_silent() {
    let work = tempdir().unwrap();
    let root = tree(work.path());
    let spec = format!("type=oci,dest={}", work.path().join("a.tar").display());
    let out = ok(outport(work.path(), &["export", root.to_str().unwrap(), "--output", &spec, "--progress", "json"]));
    let events: Vec<serde_json::Value> =
        stderr(&out).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"))).collect();
    for event in &events {
        let mut keys: Vec<_> = event.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["current", "id", "phase", "total"], "{event}");
    }
    let compress: Vec<(u64, u64)> = events
        .iter()
        .filter(|e| e["phase"] == "compress")
        .map(|e| (e["current"].as_u64().unwrap(), e["total"].as_u64().unwrap()))
        .collect();
    assert!(compress.len() >= 4, "{compress:?}");
    assert!(compress.windows(2).all(|w| w[0].0 <= w[1].0), "bytes only grow: {compress:?}");
    let (last, total) = *compress.last().unwrap();
    assert_eq!(last, total, "the last event is complete");
    assert_eq!(total, compress[0].1, "the first event knew the tar's length");
    assert_eq!(events.last().unwrap()["phase"], "done");

    let spec = format!("type=oci,dest={}", work.path().join("b.tar").display());
    let quiet = ok(outport(work.path(), &["export", root.to_str().unwrap(), "--output", &spec]));
    assert_eq!(stderr(&quiet), "", "auto without a terminal prints nothing");
}
