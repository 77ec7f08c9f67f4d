#![no_main]
//! libFuzzer target `added_position`: see `tailrisk_fuzz::targets::added_position` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::added_position(data));
