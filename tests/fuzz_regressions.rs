//! Every input the fuzzer ever crashed on (fuzz/regressions/<target>/*), replayed on stable Rust:
//! each must now be handled without a panic.

use std::fs;
use std::path::Path;

#[test]
fn fuzz_findings_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let mut replayed = 0;
    for target in outport::fuzzing::TARGETS {
        let Ok(entries) = fs::read_dir(root.join(target)) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            outport::fuzzing::run(target, &fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    println!("replayed {replayed} fuzz findings");
}
