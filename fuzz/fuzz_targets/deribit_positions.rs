#![no_main]
//! libFuzzer target `deribit_positions`: see `tailrisk_fuzz::targets::deribit_positions` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::deribit_positions(data));
