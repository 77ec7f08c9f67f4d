//! Typed errors of the library and the exit codes of SPEC §8 they map to.

use std::path::Path;

/// Exit code for bad input data (sysexits `EX_DATAERR`).
pub const EXIT_DATA: u8 = 65;
/// Exit code for an input file that is missing or unreadable (`EX_NOINPUT`).
pub const EXIT_NO_INPUT: u8 = 66;
/// Exit code for a requested backend that is unavailable (`EX_UNAVAILABLE`).
pub const EXIT_UNAVAILABLE: u8 = 69;
/// Exit code for an output that cannot be written (`EX_CANTCREAT`).
pub const EXIT_CANT_CREATE: u8 = 73;
/// Exit code for a usage error (as clap's).
pub const EXIT_USAGE: u8 = 2;
/// Exit code for a verification failure or any other error.
pub const EXIT_FAILURE: u8 = 1;

/// Every failure the library reports. Each input error names the file, the field and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bad input data: exit 65.
    #[error("{file}: {field}: {message} (got {value})")]
    Input {
        /// The file (or `--flag` for a command-line value).
        file: String,
        /// JSON path, CSV line and column, or configuration field.
        field: String,
        /// The offending value as written by the user.
        value: String,
        /// What is wrong with it.
        message: String,
    },
    /// A file that is missing or unreadable: exit 66.
    #[error("cannot read {file}: {source}")]
    Unreadable {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A requested backend that is not available: exit 69.
    #[error("backend unavailable: {0}")]
    BackendUnavailable(String),
    /// GPU and CPU disagree beyond the documented tolerances: exit 1.
    #[error("verification failed: {0}")]
    Verification(String),
    /// A failure of the GPU device or driver during a run: exit 1.
    #[error("GPU error: {0}")]
    Gpu(String),
    /// A flag the command does not take, found after clap parsed the line: exit 2.
    #[error("{0}")]
    Usage(String),
    /// Writing the output failed: exit 73, naming the file (or stdout).
    #[error("cannot write {file}: {source}")]
    Output {
        file: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// An input error; `value` is shown as the user wrote it.
    pub fn input(
        file: impl Into<String>,
        field: impl Into<String>,
        value: impl std::fmt::Display,
        message: impl Into<String>,
    ) -> Self {
        Error::Input {
            file: file.into(),
            field: field.into(),
            value: value.to_string(),
            message: message.into(),
        }
    }

    /// A missing or unreadable file.
    pub fn unreadable(file: &Path, source: std::io::Error) -> Self {
        Error::Unreadable {
            file: file.display().to_string(),
            source,
        }
    }

    /// The process exit code of SPEC §8.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Input { .. } => EXIT_DATA,
            Error::Unreadable { .. } => EXIT_NO_INPUT,
            Error::BackendUnavailable(_) => EXIT_UNAVAILABLE,
            Error::Output { .. } => EXIT_CANT_CREATE,
            Error::Usage(_) => EXIT_USAGE,
            Error::Verification(_) | Error::Gpu(_) => EXIT_FAILURE,
        }
    }

    /// An input error named at another place: `place(file, field)` gives its new file and
    /// field, or `None` to keep them; any other error is returned as it is.
    pub fn relocated(self, place: impl FnOnce(&str, &str) -> Option<(String, String)>) -> Error {
        match self {
            Error::Input {
                file,
                field,
                value,
                message,
            } => {
                let (file, field) = place(&file, &field).unwrap_or((file, field));
                Error::Input {
                    file,
                    field,
                    value,
                    message,
                }
            }
            other => other,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `text` for a terminal: every control character but the newline (an ESC or a NUL from an
/// input file's key or cell, which could otherwise drive the terminal) written as its
/// `\u{…}` escape.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

/// Prints a warning on stderr as `tailrisk: warning: …`, control characters escaped
/// ([`terminal_safe`]): a warning may quote an input file's text.
pub fn warn(message: impl std::fmt::Display) {
    eprintln!("tailrisk: warning: {}", terminal_safe(&message.to_string()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn control_characters_are_escaped_for_the_terminal() {
        assert_eq!(
            super::terminal_safe("a\u{1b}[2Jb\0c\nd"),
            "a\\u{1b}[2Jb\\u{0}c\nd"
        );
    }
}
