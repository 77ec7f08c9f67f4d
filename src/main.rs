//! `tailrisk`: thin wrapper that parses the command line, runs it and maps errors to the
//! exit codes of SPEC §8.

use std::process::ExitCode;

use clap::Parser;
use tailrisk::cli::{Cli, execute};

fn main() -> ExitCode {
    quiet_vulkan_loader();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // 2 for usage errors, 0 for --help and --version; help that cannot be written
            // (`--help > /dev/full`) is an output failure as any other (a closed pipe is not).
            return match e.print() {
                Err(io) if e.exit_code() == 0 && io.kind() != std::io::ErrorKind::BrokenPipe => {
                    let err = tailrisk::Error::Output {
                        file: "stdout".into(),
                        source: io,
                    };
                    eprintln!("tailrisk: error: {err}");
                    ExitCode::from(err.exit_code())
                }
                _ => ExitCode::from(e.exit_code() as u8),
            };
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
            // Input values are quoted in messages: no control character reaches the terminal.
            let message = tailrisk::error::terminal_safe(&err.to_string());
            eprintln!("tailrisk: error: {message}");
            ExitCode::from(err.exit_code())
        }
    }
}

/// Mesa's Vulkan drivers print "XDG_RUNTIME_DIR is invalid or not set" on every device
/// open when the variable is missing (headless servers, CI); point it at the temp dir.
fn quiet_vulkan_loader() {
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        // SAFETY: first statement of main, before any thread exists.
        unsafe { std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir()) };
    }
}
