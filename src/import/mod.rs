//! Turning exchange API responses into SPEC §2 input files (SPEC §15): [`deribit`].

pub mod deribit;

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `text` to `path` atomically (D14): a temporary file in the same directory,
/// flushed to disk, then renamed over `path`, so no partial file is ever left at `path`.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let failed = |source| Error::Output {
        file: path.display().to_string(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| failed(std::io::Error::other("not a file name")))?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".tmp-{}", std::process::id()));
    let temp = dir.join(temp_name);
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(text.as_bytes())?;
        f.sync_all()
    });
    let renamed = written.and_then(|()| std::fs::rename(&temp, path));
    renamed.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        failed(e)
    })
}
