//! Turning exchange API responses into SPEC §2 input files (SPEC §15): [`deribit`].

pub mod deribit;
