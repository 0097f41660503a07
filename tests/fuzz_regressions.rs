//! Every input the fuzzer ever crashed on (fuzz/regressions/<target>/*) and every seed
//! (fuzz/seeds/<target>/*), replayed on stable Rust: each must be handled without a panic, and the
//! seeds must keep reaching the checks they were written for.

use std::fs;
use std::path::Path;

fn replay(folder: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(folder);
    let mut replayed = 0;
    for target in outport::fuzzing::TARGETS {
        let Ok(entries) = fs::read_dir(root.join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            outport::fuzzing::run(target, &fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    replayed
}

#[test]
fn fuzz_findings_stay_fixed() {
    println!("replayed {} fuzz findings", replay("regressions"));
}

#[test]
fn fuzz_seeds_pass() {
    let seeds = replay("seeds");
    assert!(seeds > 0, "fuzz/seeds is empty");
    println!("replayed {seeds} fuzz seeds");
}

/// The committed eStargz seed is a blob the reader accepts, so the fuzzer starts from a valid one.
#[test]
fn estargz_seed_is_a_valid_blob() {
    let seed = fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/estargz_toc/layer.estargz")).unwrap();
    let toc = outport::compress::estargz::reader::parse_blob(&seed).unwrap();
    assert!(toc.entries.iter().any(|e| e.name == "d/a.txt" && e.kind == "reg"), "{toc:?}");
}
