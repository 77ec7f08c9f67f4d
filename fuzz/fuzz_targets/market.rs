#![no_main]
//! libFuzzer target `market`: see `tailrisk_fuzz::targets::market` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::market(data));
