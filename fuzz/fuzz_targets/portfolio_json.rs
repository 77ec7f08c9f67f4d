#![no_main]
//! libFuzzer target `portfolio_json`: see `tailrisk_fuzz::targets::portfolio_json` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::portfolio_json(data));
