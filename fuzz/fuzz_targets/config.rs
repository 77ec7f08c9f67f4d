#![no_main]
//! libFuzzer target `config`: see `tailrisk_fuzz::targets::config` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::config(data));
