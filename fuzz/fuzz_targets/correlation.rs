#![no_main]
//! libFuzzer target `correlation`: see `tailrisk_fuzz::targets::correlation` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::correlation(data));
