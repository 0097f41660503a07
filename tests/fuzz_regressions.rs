//! Every input the fuzzer ever crashed on (fuzz/regressions/<target>/*) and every seed
//! (fuzz/seeds/<target>/*), replayed on stable Rust: each must be handled without a panic, every
//! target must have seeds, and the seeds must keep reaching the checks they were written for.

use std::fs;
use std::path::{Path, PathBuf};

fn folder(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(name)
}

/// Replay every input under `fuzz/<name>/<target>/`; how many there were per target. A folder that
/// names no target fails: its inputs would silently never run.
fn replay(name: &str) -> Vec<(&'static str, usize)> {
    let root = folder(name);
    let entries = fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display()));
    for entry in entries {
        let entry = entry.unwrap();
        let file_name = entry.file_name().into_string().unwrap();
        if entry.file_type().unwrap().is_dir() {
            assert!(outport::fuzzing::TARGETS.contains(&file_name.as_str()), "fuzz/{name}/{file_name}: no such target");
        }
    }
    let mut counts = Vec::new();
    for target in outport::fuzzing::TARGETS {
        let mut replayed = 0;
        if let Ok(inputs) = fs::read_dir(root.join(target)) {
            for input in inputs {
                let path = input.unwrap().path();
                if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                    continue;
                }
                outport::fuzzing::run(target, &fs::read(&path).unwrap());
                replayed += 1;
            }
        }
        counts.push((*target, replayed));
    }
    counts
}

#[test]
fn fuzz_findings_stay_fixed() {
    let counts = replay("regressions");
    println!("replayed fuzz findings: {counts:?}");
}

#[test]
fn fuzz_seeds_pass() {
    let counts = replay("seeds");
    let empty: Vec<&str> = counts.iter().filter(|(_, n)| *n == 0).map(|(t, _)| *t).collect();
    assert!(empty.is_empty(), "fuzz targets without seeds in fuzz/seeds/: {empty:?}");
    println!("replayed fuzz seeds: {counts:?}");
}

/// The committed eStargz seed is a blob the reader accepts, so the fuzzer starts from a valid one.
#[test]
fn estargz_seed_is_a_valid_blob() {
    let seed = fs::read(folder("seeds/estargz_toc/layer.estargz")).unwrap();
    let toc = outport::compress::estargz::reader::parse_blob(&seed).unwrap();
    assert!(toc.entries.iter().any(|e| e.name == "d/a.txt" && e.kind == "reg"), "{toc:?}");
}

/// The well-formed layer tarball seeds pass the checks (plain, gzip, zstd), so the fuzzer starts
/// past them; the others are refused.
#[test]
fn layer_tarball_seeds_reach_their_checks() {
    for (name, ok) in [
        ("pax_overrides.tar", true),
        ("pax_overrides.tar.gz", true),
        ("pax_overrides.tar.zst", true),
        ("gnu_long_name_and_link.tar", true),
        ("signed_checksum_non_ascii_name.tar", true),
        ("zero_block_then_header.tar", false),
        ("truncated.tar.gz", false),
    ] {
        let data = fs::read(folder("seeds/layer_tarball").join(name)).unwrap();
        let mut out = Vec::new();
        let mut source = outport::layer::tarball::Chunks { data: &data, chunk: 4096 };
        let verdict = outport::fuzzing::block_on(outport::layer::tarball::copy_stream(&mut source, name, &mut out));
        assert_eq!(verdict.is_ok(), ok, "{name}: {verdict:?}");
    }
}
