#![no_main]
// The parsers behind this target are listed in src/fuzzing.rs.
libfuzzer_sys::fuzz_target!(|data: &[u8]| outport::fuzzing::run("tar_reader", data));
