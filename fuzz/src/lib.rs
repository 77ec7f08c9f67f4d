//! The fuzz targets' bodies ([`targets`]), shared with `tests/fuzz_regressions.rs`.

pub mod targets;
