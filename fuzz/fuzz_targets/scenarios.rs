#![no_main]
//! libFuzzer target `scenarios`: see `tailrisk_fuzz::targets::scenarios` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::scenarios(data));
