//! The command line of SPEC §8: clap definitions, input loading, output.

pub mod args;
pub mod backtest;
mod collide;
pub mod commands;
pub mod converge;
pub mod devices;
mod fallback;
pub mod import;
pub mod output;
pub mod report;
pub mod serve;
pub mod shard;

pub use args::Cli;
pub use commands::execute;
