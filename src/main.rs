//! `tailrisk`: thin wrapper that parses the command line, runs it and maps errors to the
//! exit codes of SPEC §8.

use std::process::ExitCode;

use clap::Parser;
use tailrisk::cli::{Cli, execute};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // 2 for usage errors, 0 for --help and --version.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match execute(cli) {
        Ok(code) => code,
        Err(err) => {
            if let tailrisk::Error::Output { source, .. } = &err
                && source.kind() == std::io::ErrorKind::BrokenPipe
            {
                return ExitCode::SUCCESS;
            }
            eprintln!("tailrisk: error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
