#![no_main]
//! libFuzzer target `deribit_book_summary`: see `tailrisk_fuzz::targets::deribit_book_summary` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::deribit_book_summary(data));
