#![no_main]
//! libFuzzer target `history`: see `tailrisk_fuzz::targets::history` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::history(data));
