#![no_main]
//! libFuzzer target `shard`: see `tailrisk_fuzz::targets::shard` and docs/fuzzing.md.

libfuzzer_sys::fuzz_target!(|data: &[u8]| tailrisk_fuzz::targets::shard(data));
