//! The command line of SPEC §8: clap definitions, input loading, output.

pub mod args;
pub mod backtest;
pub mod commands;
pub mod devices;
pub mod import;
pub mod output;
pub mod shard;
pub mod report;

pub use args::Cli;
pub use commands::execute;
