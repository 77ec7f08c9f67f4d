//! The command line of SPEC §8: clap definitions, input loading, output.

pub mod args;
pub mod commands;
pub mod import;

pub use args::Cli;
pub use commands::execute;
