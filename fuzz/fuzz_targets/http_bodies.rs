#![no_main]
//! libFuzzer target `http_bodies`: see `tailrisk_fuzz::targets::http_bodies` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::http_bodies(data));
