#![no_main]
//! libFuzzer target `portfolio_csv`: see `tailrisk_fuzz::targets::portfolio_csv` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::portfolio_csv(data));
